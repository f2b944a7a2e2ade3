//! `init`, `flush`, `shutdown` and the guard in every setting a program can be in: no runtime,
//! each tokio flavour, `Drop` during a panic, disabled by configuration.

mod support;

use raceway::Config;
use std::collections::HashSet;
use std::time::Duration;
use support::collector::Collector;
use support::serial;

/// Each access its own event (no coalescing of hot loops): these tests count events sent.
fn config(c: &Collector) -> Config {
    Config::default()
        .server_url(c.url())
        .service_name("lifecycle")
        .flush_interval(Duration::from_secs(60))
        .coalesce_accesses(false)
}

#[test]
fn works_without_any_tokio_runtime() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c)).unwrap();
    raceway::track_write("x", &0, &1);
    assert!(raceway::flush(), "flush waits for delivery");
    assert_eq!(c.accepted_events().len(), 1);
    raceway::track_write("x", &1, &2);
    drop(guard);
    assert_eq!(c.accepted_events().len(), 2);
}

#[test]
fn works_inside_a_current_thread_runtime_including_drop_of_the_guard() {
    let _s = serial();
    let c = Collector::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let guard = raceway::init(config(&c)).unwrap();
        raceway::spawn(async { raceway::track_write("x", &0, &1) }).await.unwrap();
        assert!(raceway::flush());
        drop(guard); // inside the runtime's only thread: must not deadlock
    });
    assert_eq!(c.accepted_events().len(), 3);
}

#[test]
fn works_inside_a_multi_thread_runtime_and_from_spawn_blocking() {
    let _s = serial();
    let c = Collector::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let guard = raceway::init(config(&c)).unwrap();
        tokio::task::spawn_blocking(|| {
            raceway::track_write("x", &0, &1);
            raceway::flush()
        })
        .await
        .unwrap();
        raceway::track_write("y", &0, &1);
        tokio::task::spawn_blocking(move || drop(guard)).await.unwrap();
    });
    assert_eq!(c.accepted_events().len(), 2);
}

#[tokio::test]
async fn works_in_a_tokio_test() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c)).unwrap();
    raceway::track_write("x", &0, &1);
    assert!(raceway::flush());
    drop(guard);
    assert_eq!(c.accepted_events().len(), 1);
}

#[test]
fn a_runtime_dropped_with_events_queued_loses_nothing() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c)).unwrap();
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            for i in 0..50 {
                raceway::spawn(async move { raceway::track_write("x", &i, &(i + 1)) }).await.unwrap();
            }
        });
    } // the application's runtime is gone; the exporter has its own
    drop(guard);
    assert_eq!(c.accepted_events().len(), 150);
}

#[test]
fn the_guard_dropped_while_panicking_still_delivers() {
    let _s = serial();
    let c = Collector::start();
    let url = c.url();
    let r = std::thread::spawn(move || {
        let _guard = raceway::init(Config::default().server_url(url).flush_interval(Duration::from_secs(60))).unwrap();
        raceway::track_write("x", &0, &1);
        panic!("the host program fails");
    })
    .join();
    assert!(r.is_err());
    assert_eq!(c.accepted_events().len(), 1);
}

#[test]
fn init_twice_is_an_error_and_shutdown_twice_is_harmless() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c)).unwrap();
    let err = raceway::init(config(&c)).unwrap_err();
    assert!(matches!(err, raceway::Error::AlreadyInitialized), "{err}");
    assert!(err.to_string().contains("drop the first `Guard`"));
    assert!(raceway::shutdown());
    assert!(raceway::shutdown());
    drop(guard);
    // And it can be started again.
    let again = raceway::init(config(&c)).unwrap();
    raceway::track_write("x", &0, &1);
    drop(again);
    assert_eq!(c.accepted_events().len(), 1);
}

#[test]
fn disabled_by_configuration_records_nothing() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c).enabled(false)).unwrap();
    assert!(!guard.is_active());
    raceway::track_write("x", &0, &1);
    assert!(raceway::flush());
    drop(guard);
    assert!(c.requests().is_empty());
}

#[test]
fn without_init_tracking_is_a_no_op() {
    let _s = serial();
    raceway::track_write("x", &0, &1);
    assert!(raceway::Context::current().is_none(), "no trace was even started");
    assert!(raceway::flush());
}

#[test]
fn tracking_outside_any_trace_starts_a_new_trace_per_thread() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c)).unwrap();
    let threads: Vec<_> = (0..3)
        .map(|i| {
            std::thread::spawn(move || {
                raceway::track_write("x", &i, &(i + 1));
                raceway::track_write("x", &(i + 1), &(i + 2));
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    drop(guard);
    let events = c.accepted_events();
    assert_eq!(events.len(), 6);
    let traces: HashSet<_> = events.iter().map(|e| e["trace_id"].as_str().unwrap().to_string()).collect();
    let tasks: HashSet<_> = events.iter().map(|e| e["metadata"]["thread_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(traces.len(), 3, "one new trace per plain thread");
    assert_eq!(tasks.len(), 3);
    // Unrelated threads' vectors name only themselves: the server sees them as concurrent.
    for e in &events {
        let v = e["causality_vector"].as_array().unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0][0], e["metadata"]["thread_id"]);
    }
}
