//! Nothing lost where losing breaks the verdict: with the embedded analyzer as the only sink no
//! event is dropped, however fast the program records (recording waits for the analysis instead);
//! with a server, a full queue drops access events but never the events that order tasks
//! (spawn, join, lock acquire and release, handoffs).

mod support;

use raceway::{Config, Tracked};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn the_embedded_analyzer_sees_every_access_of_a_hot_loop_even_with_a_small_queue() {
    let _serial = support::serial();
    // A queue far smaller than what the loop records: without back-pressure most would be dropped.
    let guard = raceway::init(Config::default().service_name("lossless").queue_capacity(256)).unwrap();
    let counter = Arc::new(Tracked::new(raceway::VarName::exact("hot.counter"), 0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let counter = counter.clone();
            raceway::thread::spawn(move || {
                for _ in 0..2_500 {
                    let v = counter.get();
                    counter.set(v + 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = raceway::report();
    let stats = raceway::stats();
    assert_eq!(stats.dropped_queue_full, 0, "{stats:?}");
    assert_eq!(report.accesses, 20_000, "every get and set reached the analyzer");
    let race = report.races_on("hot.counter").next().expect("the lost update is found");
    assert!(race.count > 1, "seen many times: {}", race.count);
    drop(guard);
}

#[test]
fn the_embedded_analyzer_counts_every_one_of_many_distinct_variables() {
    let _serial = support::serial();
    let guard = raceway::init(Config::default().service_name("lossless-vars").queue_capacity(512)).unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            raceway::thread::spawn(move || {
                for i in 0..25_000u64 {
                    raceway::track_write(format!("acct[{}].balance", t * 25_000 + i), &0, &1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = raceway::report();
    assert_eq!(raceway::stats().dropped_queue_full, 0);
    assert_eq!(report.accesses, 100_000);
    assert_eq!(report.variables, 100_000, "every variable is in the summary");
    assert!(report.is_clean());
    drop(guard);
}

/// With a server that cannot keep up, the queue fills and access events are dropped (and counted);
/// the spawns, joins and lock events still all arrive, so no parent link and no lock set is wrong.
#[test]
fn a_full_queue_never_drops_the_events_that_order_tasks() {
    let _serial = support::serial();
    let collector = support::collector::Collector::with(|_, _| {
        support::collector::Reply::Delayed(Duration::from_millis(200), 200, "{}".into())
    });
    let guard = raceway::init(
        Config::default()
            .server_url(collector.url())
            .service_name("order-kept")
            // Each access its own event, so that every drop shows in what arrives.
            .coalesce_accesses(false)
            .queue_capacity(1_000)
            .batch_size(100)
            .shutdown_timeout(Duration::from_secs(60)),
    )
    .unwrap();
    let lock = Arc::new(std::sync::Mutex::new(()));
    let mut children = Vec::new();
    for c in 0..20 {
        let lock = lock.clone();
        children.push(raceway::thread::spawn(move || {
            for round in 0..10u64 {
                let _g = raceway::lock!(lock, "ledger");
                for i in 0..100u64 {
                    raceway::track_write(format!("flood.{c}"), &(round * 100 + i), &(round * 100 + i + 1));
                }
            }
        }));
    }
    for c in children {
        c.join().unwrap();
    }
    assert!(raceway::flush());
    drop(guard);
    let stats = raceway::stats();
    assert!(stats.dropped_queue_full > 0, "the test must overflow the queue: {stats:?}");

    let events: Vec<serde_json::Value> = collector.requests().iter().flat_map(|(r, _)| r.events()).collect();
    support::assert_parents_first_and_no_duplicates(&events);
    let kind = |e: &serde_json::Value| e["kind"].as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_default();
    let count = |k: &str| events.iter().filter(|e| kind(e) == k).count();
    assert_eq!(count("AsyncSpawn"), 20, "every spawn arrived");
    assert_eq!(count("AsyncAwait"), 20, "every join arrived");
    assert_eq!(count("LockAcquire"), 20 * 10, "every acquire arrived");
    assert_eq!(count("LockRelease"), 20 * 10, "every release arrived");
    assert!(count("StateChange") < 20 * 1_000, "accesses were the ones dropped");
    assert_eq!(count("StateChange") as u64 + stats.dropped_queue_full, 20 * 1_000, "and every drop is counted");
    // Every parent an event names arrived (before it, checked above): no chain is cut, and each
    // join descends from its child's last event.
    let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(events.iter().filter_map(|e| e["parent_id"].as_str()).all(|p| ids.contains(p)));
}
