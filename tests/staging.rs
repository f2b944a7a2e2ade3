//! Recording threads stage events locally and hand them to the exporter in chunks. These tests
//! pin down what that must not change: every event reaches the server exactly once, parents
//! before children, including events of threads that went quiet and of tasks that hop between
//! worker threads; and the queue cap still bounds memory.

mod support;

use raceway::Config;
use std::time::Duration;
use support::assert_parents_first_and_no_duplicates;
use support::collector::Collector;
use support::serial;

fn config(c: &Collector) -> Config {
    Config::default()
        .server_url(c.url())
        .service_name("staging-test")
        .batch_size(50)
        .flush_interval(Duration::from_millis(50))
        // These tests count every recorded event on the wire: they test delivery, not coalescing.
        .coalesce_accesses(false)
}

#[test]
fn flush_delivers_the_events_of_a_thread_that_went_quiet() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c).flush_interval(Duration::from_secs(3600))).unwrap();
    let (recorded_tx, recorded_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let quiet = std::thread::spawn(move || {
        for i in 0..3 {
            raceway::track_write("x", &i, &(i + 1));
        }
        recorded_tx.send(()).unwrap();
        // Alive and recording nothing: its three events sit in its staging buffer (fewer than a
        // chunk), and only the exporter can fetch them.
        release_rx.recv().unwrap();
    });
    recorded_rx.recv().unwrap();
    assert!(raceway::flush(), "flush completes");
    assert_eq!(c.accepted_events().len(), 3, "flush reached the quiet thread's staged events");
    release_tx.send(()).unwrap();
    quiet.join().unwrap();
    drop(guard);
    assert_eq!(c.accepted_events().len(), 3, "and nothing was sent twice");
}

#[test]
fn the_flush_interval_delivers_a_quiet_threads_events_without_a_flush() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c)).unwrap();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let quiet = std::thread::spawn(move || {
        raceway::track_write("y", &0, &1);
        release_rx.recv().unwrap();
    });
    assert!(c.wait_for(Duration::from_secs(5), |e| e.len() == 1), "delivered within a few flush intervals");
    release_tx.send(()).unwrap();
    quiet.join().unwrap();
    drop(guard);
}

#[test]
fn parents_arrive_first_when_tasks_hop_between_worker_threads() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    const TASKS: usize = 24;
    const STEPS: usize = 40;
    rt.block_on(async {
        let mut handles = Vec::new();
        for t in 0..TASKS {
            handles.push(raceway::spawn(async move {
                for i in 0..STEPS {
                    raceway::track_write("shared", &i, &(i + t));
                    // Every yield may resume the task on another worker, after other tasks ran.
                    tokio::task::yield_now().await;
                    if i % 10 == 0 {
                        // A nested task starting from this task's last event, and a context
                        // continued on a plain thread.
                        let child = raceway::spawn(async move { raceway::track_read("shared", &i) });
                        child.await.unwrap();
                        let ctx = raceway::Context::current().unwrap();
                        std::thread::spawn(move || ctx.in_scope(|| raceway::track_read("shared", &t))).join().unwrap();
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    drop(rt);
    drop(guard);
    let events = c.accepted_events();
    // Per task: STEPS writes, 4 × (spawn + child's read + join + a read on a plain thread), plus
    // the top-level spawn and join recorded by the block_on task.
    assert_eq!(events.len(), TASKS * (STEPS + 4 * 4) + TASKS * 2, "{:?}", raceway::stats());
    assert_parents_first_and_no_duplicates(&events);
    assert_eq!(raceway::stats().dropped_queue_full, 0);
}

#[test]
fn the_queue_cap_bounds_many_threads_and_every_event_is_accounted_for() {
    let _s = serial();
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let guard = raceway::init(
        Config::default()
            .server_url(format!("http://{addr}"))
            .queue_capacity(2_000)
            .coalesce_accesses(false)
            .shutdown_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    const THREADS: u64 = 16;
    const EACH: u64 = 5_000;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..EACH {
                    raceway::track_write("x", &t, &i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(guard);
    let s = raceway::stats();
    assert_eq!(s.dropped_queue_full + s.undeliverable + s.delivered, THREADS * EACH, "{s:?}");
    // Nothing was delivered, so everything not dropped was held in memory at once: the queue's
    // capacity plus the one round the exporter holds while it retries.
    assert!(s.undeliverable <= 2_000 + 4_096, "at most the queue and one round were ever held: {s:?}");
    assert!(s.dropped_queue_full >= THREADS * EACH - 2_000 - 4_096, "{s:?}");
}

#[test]
fn a_supervisor_recording_faster_than_the_flush_interval_is_drained_before_its_budget_runs_out() {
    // A long-lived thread spawning and joining short jobs, many times the queue's capacity in
    // all, with a flush interval far longer than the run: the supervisor's own spawn and join
    // events stay staged in its buffer, counted against the budget, until collected. Past half
    // the budget the recording threads ask the delivery thread to collect, so nothing waits for
    // the interval and nothing is dropped.
    let _s = serial();
    let c = Collector::start();
    let guard =
        raceway::init(config(&c).queue_capacity(1_024).batch_size(100).flush_interval(Duration::from_secs(3600)))
            .unwrap();
    let jobs = 3_000u64;
    for job in 0..jobs {
        raceway::thread::spawn(move || raceway::track_write("x", &job, &(job + 1))).join().unwrap();
        // A supervisor's pace, not a burst: the delivery thread keeps up once it is asked to.
        if job % 10 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(raceway::flush());
    let stats = raceway::stats();
    drop(guard);
    assert_eq!(stats.dropped_queue_full, 0, "{stats:?}");
    assert!(stats.delivered >= jobs * 3, "a spawn, a write and a join per job: {stats:?}");
}
