//! Hot loops don't flood the server: a task's consecutive accesses to one variable go out as one
//! `StateChange` carrying their count (`metadata.tags["raceway.count"]`), the server's race rule
//! (contract §3) still finds the race between the loops, and the embedded analyzer still sees
//! every access. With `coalesce_accesses(false)` every access is sent. A position handed out in
//! the middle of a run (`Context::current`, a request's `raceway-clock`) ends the run there, so
//! the other side's parent (or the clock it continues from) is an event on the wire.

mod support;

use raceway::{Config, Context, Tracked};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

const THREADS: usize = 4;
const INCREMENTS: u64 = 2_500;

/// 4 tasks × 2,500 unprotected increments (a `get` and a `set` each) of one `Tracked`, sent to a
/// loopback collector; returns what the collector accepted and the embedded analyzer's report.
fn lost_update_program(coalesce: bool) -> (Vec<Value>, raceway::Report, raceway::Stats) {
    let collector = support::collector::Collector::start();
    let guard = raceway::init(
        Config::default()
            .server_url(collector.url())
            .service_name("hot-loop")
            .analyze(true)
            // Room for every access, so that what is sent depends on coalescing only.
            .queue_capacity(100_000)
            .coalesce_accesses(coalesce),
    )
    .unwrap();
    let counter = Arc::new(Tracked::new(raceway::VarName::exact("hot.counter"), 0u64));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let counter = counter.clone();
            raceway::thread::spawn(move || {
                for _ in 0..INCREMENTS {
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
    assert!(raceway::flush());
    drop(guard);
    let stats = raceway::stats();
    assert_eq!(stats.dropped_queue_full, 0);
    (collector.accepted_events(), report, stats)
}

fn state_changes(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["kind"].get("StateChange").is_some()).collect()
}

/// How many accesses a sent event stands for.
fn count(e: &Value) -> u64 {
    e["metadata"]["tags"]["raceway.count"].as_str().map_or(1, |n| n.parse().unwrap())
}

/// The ids of `e`'s ancestors through `parent_id` (the server's happens-before within a trace).
fn ancestors<'a>(e: &'a Value, by_id: &HashMap<&'a str, &'a Value>) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    let mut at = e["parent_id"].as_str();
    while let Some(p) = at {
        if !seen.insert(p) {
            break;
        }
        at = by_id.get(p).and_then(|e| e["parent_id"].as_str());
    }
    seen
}

/// The server's rule (contract §3) over what it accepted: a pair of accesses to `variable`, not
/// both reads, from different tasks, neither an ancestor of the other. (No lock events are sent
/// by this program, so every lock set is empty.)
fn server_finds_a_race_on(events: &[Value], variable: &str) -> bool {
    assert!(events.iter().all(|e| e["kind"].get("LockAcquire").is_none()));
    let by_id: HashMap<&str, &Value> = events.iter().map(|e| (e["id"].as_str().unwrap(), e)).collect();
    let accesses: Vec<&Value> =
        state_changes(events).into_iter().filter(|e| e["kind"]["StateChange"]["variable"] == variable).collect();
    let is_write = |e: &Value| e["kind"]["StateChange"]["access_type"] != "Read";
    let ancestry: Vec<HashSet<&str>> = accesses.iter().map(|e| ancestors(e, &by_id)).collect();
    (0..accesses.len()).any(|i| {
        (i + 1..accesses.len()).any(|j| {
            let (a, b) = (accesses[i], accesses[j]);
            (is_write(a) || is_write(b))
                && a["metadata"]["thread_id"] != b["metadata"]["thread_id"]
                && !ancestry[i].contains(b["id"].as_str().unwrap())
                && !ancestry[j].contains(a["id"].as_str().unwrap())
        })
    })
}

#[test]
fn a_hot_loop_reaches_the_server_as_a_handful_of_counted_events_that_still_race() {
    let _serial = support::serial();
    for round in 0..20 {
        // A fresh thread per round: the test thread's task would go on from the last round's
        // events, which the last round's collector got.
        let (events, report, stats) = std::thread::spawn(|| lost_update_program(true)).join().unwrap();
        for e in &events {
            support::server_types::parse_event(e); // the strict mirror accepts every event
        }
        support::assert_parents_first_and_no_duplicates(&events);
        let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert!(events.iter().filter_map(|e| e["parent_id"].as_str()).all(|p| ids.contains(p)), "no dangling parent");
        let sent = state_changes(&events);
        assert!(sent.len() < 100, "round {round}: {} StateChange events sent", sent.len());
        let accesses: u64 = sent.iter().map(|e| count(e)).sum();
        assert_eq!(accesses, THREADS as u64 * INCREMENTS * 2, "round {round}: every get and set is counted once");
        // Each recorded event is accounted for once: sent, or sent inside another one.
        assert_eq!(stats.coalesced, accesses - sent.len() as u64, "round {round}: {stats:?}");
        assert_eq!(stats.delivered, events.len() as u64, "round {round}: {stats:?}");
        assert!(server_finds_a_race_on(&events, "hot.counter"), "round {round}: the server's rule still sees the race");
        // The analyzer is not behind the coalescing: it saw (and counted) every access.
        assert_eq!(report.accesses, THREADS as u64 * INCREMENTS * 2);
        let race = report.races_on("hot.counter").next().expect("the lost update is found");
        assert!(race.count > 1, "round {round}: seen many times: {}", race.count);
    }
}

#[test]
fn with_coalescing_off_every_access_is_sent_as_its_own_event() {
    let _serial = support::serial();
    let (events, _, stats) = lost_update_program(false);
    assert_eq!(stats.coalesced, 0);
    let sent = state_changes(&events);
    assert_eq!(sent.len() as u64, THREADS as u64 * INCREMENTS * 2);
    assert!(sent.iter().all(|e| e["metadata"]["tags"].get("raceway.count").is_none()));
}

#[test]
fn coalescing_is_on_by_default_and_switched_off_from_the_environment() {
    assert!(Config::default().coalesce_accesses);
    let env = |k: &str| (k == "RACEWAY_COALESCE_ACCESSES").then(|| "off".to_string());
    assert!(!Config::from_lookup(env).unwrap().coalesce_accesses);
}

const LOOP: u64 = 100;
/// Where the loop hands its position out: after these accesses (counted from 1).
const CURRENT_AT: u64 = 41;
const HEADERS_AT: u64 = 71;

/// With the default config (coalescing on): a task writes `handed.out` `LOOP` times, taking
/// `Context::current()` after `CURRENT_AT` writes (a thread records under it after the loop), and
/// sending a request's headers (`propagation_headers`, served in-process by
/// `Context::from_headers`) after `HEADERS_AT`. Returns what the collector accepted.
fn hand_out_mid_run() -> Vec<Value> {
    let collector = support::collector::Collector::start();
    let guard = raceway::init(Config::default().server_url(collector.url()).service_name("hand-out")).unwrap();
    let handed = Context::new().in_scope(|| {
        let mut handed = None;
        for i in 1..=LOOP {
            raceway::track_write("handed.out", &(i - 1), &i);
            if i == CURRENT_AT {
                handed = Context::current();
            }
            if i == HEADERS_AT {
                let headers = raceway::propagation_headers([("x-call", "1")]).unwrap();
                std::thread::spawn(move || {
                    Context::from_headers(&headers).in_scope(|| raceway::track_write("served", &0, &1))
                })
                .join()
                .unwrap();
            }
        }
        handed.unwrap()
    });
    // Used once the loop has gone on past it (background work that outlives the request): only
    // the hand-out itself can keep the run from merging the parent away.
    std::thread::spawn(move || handed.in_scope(|| raceway::track_write("received", &0, &1))).join().unwrap();
    assert!(raceway::flush());
    drop(guard);
    collector.accepted_events()
}

fn writes_to<'a>(events: &'a [Value], variable: &str) -> Vec<&'a Value> {
    state_changes(events).into_iter().filter(|e| e["kind"]["StateChange"]["variable"] == variable).collect()
}

fn thread_of(e: &Value) -> &str {
    e["metadata"]["thread_id"].as_str().unwrap()
}

/// The value of `e`'s causality vector for the task named `thread`.
fn component_of(e: &Value, thread: &str) -> Option<u64> {
    e["causality_vector"].as_array().unwrap().iter().find(|c| c[0] == thread).map(|c| c[1].as_u64().unwrap())
}

#[test]
fn a_position_handed_out_mid_run_is_an_event_on_the_wire_so_no_parent_is_orphaned() {
    let _serial = support::serial();
    for round in 0..20 {
        let events = std::thread::spawn(hand_out_mid_run).join().unwrap();
        for e in &events {
            support::server_types::parse_event(e); // the strict mirror accepts every event
        }
        support::assert_parents_first_and_no_duplicates(&events);
        let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert!(
            events.iter().filter_map(|e| e["parent_id"].as_str()).all(|p| ids.contains(p)),
            "round {round}: orphan"
        );

        // The loop still goes out coalesced, but in three runs that end at the hand-outs.
        let runs: Vec<u64> = writes_to(&events, "handed.out").iter().map(|e| count(e)).collect();
        assert_eq!(runs, [CURRENT_AT, HEADERS_AT - CURRENT_AT, LOOP - HEADERS_AT], "round {round}");

        // `Context::current()`: the other side's first event descends from the handed-out write.
        let received = writes_to(&events, "received");
        let parent = received[0]["parent_id"].as_str().expect("the context's parent");
        let first_run = writes_to(&events, "handed.out")[0];
        assert_eq!(parent, first_run["id"].as_str().unwrap(), "round {round}: the parent is the run's end");

        // The request's clock: the callee is ordered after exactly a write that was sent.
        let caller = thread_of(first_run);
        let served = writes_to(&events, "served");
        let seen = component_of(served[0], caller).expect("the callee's clock names the caller");
        let second_run = writes_to(&events, "handed.out")[1];
        assert_eq!(component_of(second_run, caller), Some(seen), "round {round}: the header's position was sent");
    }
}
