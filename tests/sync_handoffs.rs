//! `raceway::sync`: each tracked primitive's handoff orders the releasing task's accesses before
//! the acquiring task's, and the same program without the handoff has the race. Every scenario
//! runs [`RUNS`] times in one test and must give the same verdict every time: a verdict that
//! depended on the schedule would be worth nothing.

mod support;

use raceway::testing::{capture, Captured};
use raceway::{assert_no_races, assert_race, track_read, track_write};
use std::collections::BTreeSet;
use support::server_types::{parse_batch, Kind};

const RUNS: usize = 20;

/// The variables with a race, as a verdict to compare between runs.
fn verdict<R>(c: &Captured<R>) -> BTreeSet<String> {
    c.report.races.iter().map(|r| r.variable.clone()).collect()
}

/// Runs `scenario` [`RUNS`] times; fails unless every run has the same verdict. Returns the last.
fn every_run<R>(scenario: impl Fn() -> Captured<R>) -> Captured<R> {
    let first = scenario();
    for run in 1..RUNS {
        let again = scenario();
        assert_eq!(verdict(&again), verdict(&first), "run {run} disagrees with run 0:\n{}", again.report);
    }
    first
}

/// [`every_run`] for async scenarios, each run on a fresh two-worker runtime.
fn every_run_async<R, F: std::future::Future<Output = R>>(scenario: impl Fn() -> F) -> Captured<R> {
    every_run(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(raceway::testing::capture_async(scenario()))
    })
}

/// The producer's side of every scenario: a write the consumer must see ordered before its read.
#[track_caller]
fn produce() {
    track_write("data", &0, &1);
}

#[track_caller]
fn consume() {
    track_read("data", &1);
}

// ---- std::sync::mpsc ---------------------------------------------------------------------

#[test]
fn std_mpsc_send_orders_the_senders_writes_before_the_receivers_reads() {
    let c = every_run(|| {
        capture(|| {
            let (tx, rx) = raceway::sync::std_mpsc::channel();
            let h = raceway::thread::spawn(move || {
                produce();
                tx.send(1).unwrap();
            });
            assert_eq!(rx.recv(), Ok(1));
            consume();
            h.join().unwrap();
        })
    });
    assert_no_races!(c);
}

#[test]
fn std_mpsc_reading_before_the_receive_is_a_race() {
    let c = every_run(|| {
        capture(|| {
            let (tx, rx) = raceway::sync::std_mpsc::channel();
            let h = raceway::thread::spawn(move || {
                produce();
                tx.send(1).unwrap();
            });
            consume();
            assert_eq!(rx.recv(), Ok(1));
            h.join().unwrap();
        })
    });
    assert_race!(c, on = "data", severity = Warning);
}

#[test]
fn std_sync_channel_and_its_iterator_order_each_message() {
    let c = every_run(|| {
        capture(|| {
            let (tx, rx) = raceway::sync::std_mpsc::named_sync_channel("jobs", 1);
            let h = raceway::thread::spawn(move || {
                for i in 0..3 {
                    track_write(format!("job{i}"), &0, &i);
                    tx.send(i).unwrap();
                }
            });
            for i in rx.iter() {
                track_read(format!("job{i}"), &i);
            }
            h.join().unwrap();
        })
    });
    assert_no_races!(c);
}

#[test]
fn std_mpsc_a_message_on_an_unrelated_channel_orders_nothing() {
    let c = every_run(|| {
        capture(|| {
            let (tx, _rx) = raceway::sync::std_mpsc::channel();
            let (other_tx, other_rx) = raceway::sync::std_mpsc::channel();
            other_tx.send(0).unwrap(); // sent by the reader itself: no edge from the writer
            let h = raceway::thread::spawn(move || {
                produce();
                tx.send(1).unwrap();
            });
            other_rx.recv().unwrap();
            consume();
            h.join().unwrap();
        })
    });
    assert_race!(c, on = "data");
}

// ---- OnceLock ----------------------------------------------------------------------------

#[test]
fn once_lock_initialisation_is_ordered_before_every_read_of_it() {
    let c = every_run(|| {
        capture(|| {
            let cell = std::sync::Arc::new(raceway::sync::OnceLock::named("config"));
            let init = cell.clone();
            let h = raceway::thread::spawn(move || {
                init.get_or_init(|| {
                    produce();
                    7
                });
            });
            while cell.get().is_none() {
                std::thread::yield_now();
            }
            consume();
            h.join().unwrap();
        })
    });
    assert_no_races!(c);
}

#[test]
fn once_lock_read_before_it_is_observed_is_a_race() {
    let c = every_run(|| {
        capture(|| {
            let cell = std::sync::Arc::new(raceway::sync::OnceLock::new());
            let init = cell.clone();
            let h = raceway::thread::spawn(move || {
                produce();
                init.set(7).unwrap();
            });
            consume();
            while cell.get().is_none() {
                std::thread::yield_now();
            }
            h.join().unwrap();
        })
    });
    assert_race!(c, on = "data");
}

// ---- atomics -----------------------------------------------------------------------------

use raceway::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A flag published with `store(true, store)` and waited for with `load(load)`.
fn flag_scenario(store: Ordering, load: Ordering) -> Captured<()> {
    capture(|| {
        let ready = std::sync::Arc::new(AtomicBool::named("ready", false));
        let setter = ready.clone();
        let h = raceway::thread::spawn(move || {
            produce();
            setter.store(true, store);
        });
        while !ready.load(load) {
            std::thread::yield_now();
        }
        consume();
        h.join().unwrap();
    })
}

#[test]
fn atomic_flag_release_store_acquire_load_orders_the_data() {
    assert_no_races!(every_run(|| flag_scenario(Ordering::Release, Ordering::Acquire)));
    assert_no_races!(every_run(|| flag_scenario(Ordering::SeqCst, Ordering::SeqCst)));
}

#[test]
fn atomic_flag_relaxed_store_orders_nothing() {
    let c = every_run(|| flag_scenario(Ordering::Relaxed, Ordering::Acquire));
    assert_race!(c, on = "data", severity = Warning);
    assert_eq!(verdict(&c), BTreeSet::from(["data".to_owned()]), "the flag itself never races");
}

#[test]
fn atomic_flag_relaxed_load_orders_nothing() {
    let c = every_run(|| flag_scenario(Ordering::Release, Ordering::Relaxed));
    assert_race!(c, on = "data", severity = Warning);
}

#[test]
fn atomic_relaxed_store_after_a_release_store_ends_the_release_sequence() {
    let c = every_run(|| {
        capture(|| {
            let state = std::sync::Arc::new(AtomicUsize::new(0));
            let writer = state.clone();
            // Untracked: lets the reader wait for the second store without ordering anything (a
            // load that happened to read 1 would rightly synchronise with the release store).
            let (done, wait) = std::sync::mpsc::channel();
            let h = raceway::thread::spawn(move || {
                produce();
                writer.store(1, Ordering::Release);
                writer.store(2, Ordering::Relaxed);
                done.send(()).unwrap();
            });
            wait.recv().unwrap();
            assert_eq!(state.load(Ordering::Acquire), 2);
            consume();
            h.join().unwrap();
        })
    });
    assert_race!(c, on = "data");
}

#[test]
fn atomic_relaxed_read_modify_write_continues_the_release_sequence() {
    let c = every_run(|| {
        capture(|| {
            let state = std::sync::Arc::new(AtomicUsize::new(0));
            let (writer, bumper) = (state.clone(), state.clone());
            let w = raceway::thread::spawn(move || {
                produce();
                writer.store(1, Ordering::Release);
            });
            let b = raceway::thread::spawn(move || {
                while bumper.compare_exchange(1, 2, Ordering::Relaxed, Ordering::Relaxed).is_err() {
                    std::thread::yield_now();
                }
            });
            while state.load(Ordering::Acquire) != 2 {
                std::thread::yield_now();
            }
            consume(); // ordered after the writer through the bumper's RMW, not after the bumper
            w.join().unwrap();
            b.join().unwrap();
        })
    });
    assert_no_races!(c);
}

#[test]
fn atomic_operations_on_one_atomic_never_race_with_each_other() {
    let c = every_run(|| {
        capture(|| {
            let hits = std::sync::Arc::new(AtomicUsize::named("hits", 0));
            let hs: Vec<_> = (0..3)
                .map(|_| {
                    let hits = hits.clone();
                    raceway::thread::spawn(move || {
                        hits.fetch_add(1, Ordering::Relaxed);
                        hits.store(hits.load(Ordering::Relaxed), Ordering::Relaxed);
                        let _ = hits.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v + 1));
                    })
                })
                .collect();
            hits.swap(0, Ordering::Relaxed);
            for h in hs {
                h.join().unwrap();
            }
        })
    });
    assert_no_races!(c);
    let kinds: BTreeSet<_> = c
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            raceway::EventKind::StateChange { access_type, variable, .. } if variable.as_str() == "hits" => {
                Some(access_type.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(kinds, BTreeSet::from(["AtomicRMW", "AtomicRead", "AtomicWrite"]));
}

#[test]
fn atomic_statics_keep_std_const_constructors() {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    static READY: AtomicBool = AtomicBool::new(false);
    COUNTER.fetch_add(2, Ordering::SeqCst);
    READY.store(true, Ordering::Release);
    assert!(COUNTER.load(Ordering::SeqCst) >= 2 && READY.load(Ordering::Acquire));
}

// ---- tokio primitives --------------------------------------------------------------------
//
// Each scenario: a spawned producer writes `data`, then releases through the primitive; the
// consumer reads `data` after acquiring through it (`handoff = true`: no race) or before
// (`handoff = false`: the same program with the handoff removed, a race).

/// Asserts the primitive's two verdicts, each over [`RUNS`] runs.
fn handoff_orders_and_its_absence_races<F: std::future::Future<Output = ()>>(scenario: impl Fn(bool) -> F) {
    assert_no_races!(every_run_async(|| scenario(true)));
    let racy = every_run_async(|| scenario(false));
    assert_race!(racy, on = "data", severity = Warning);
}

/// Reads `data` before or after `acquire`, as the scenario asks.
async fn consume_around(handoff: bool, acquire: impl std::future::Future<Output = ()>) {
    if handoff {
        acquire.await;
        consume();
    } else {
        consume();
        acquire.await;
    }
}

#[test]
fn tokio_mpsc_send_happens_before_the_receive_and_without_it_the_read_races() {
    handoff_orders_and_its_absence_races(|handoff| async move {
        let (tx, mut rx) = raceway::sync::mpsc::channel(1);
        let p = raceway::spawn(async move {
            produce();
            tx.send(1).await.unwrap();
        });
        consume_around(handoff, async { assert_eq!(rx.recv().await, Some(1)) }).await;
        p.await.unwrap();
    });
}

#[test]
fn tokio_unbounded_mpsc_send_happens_before_the_receive_and_without_it_the_read_races() {
    handoff_orders_and_its_absence_races(|handoff| async move {
        let (tx, mut rx) = raceway::sync::mpsc::unbounded_channel();
        let p = raceway::spawn(async move {
            produce();
            tx.send(1).unwrap();
        });
        consume_around(handoff, async { assert_eq!(rx.recv().await, Some(1)) }).await;
        p.await.unwrap();
    });
}

#[test]
fn tokio_mpsc_reserved_permit_send_happens_before_the_receive() {
    assert_no_races!(every_run_async(|| async {
        let (tx, mut rx) = raceway::sync::mpsc::named_channel("jobs", 1);
        let p = raceway::spawn(async move {
            produce();
            tx.reserve().await.unwrap().send(1);
        });
        let mut got = Vec::new();
        assert_eq!(rx.recv_many(&mut got, 4).await, 1);
        consume();
        p.await.unwrap();
    }));
}

#[test]
fn oneshot_send_happens_before_the_receive_and_without_it_the_read_races() {
    handoff_orders_and_its_absence_races(|handoff| async move {
        let (tx, rx) = raceway::sync::oneshot::channel();
        let p = raceway::spawn(async move {
            produce();
            tx.send(1).unwrap();
        });
        consume_around(handoff, async { assert_eq!(rx.await, Ok(1)) }).await;
        p.await.unwrap();
    });
}

#[test]
fn broadcast_send_happens_before_each_receive_and_without_it_the_read_races() {
    handoff_orders_and_its_absence_races(|handoff| async move {
        let (tx, mut rx) = raceway::sync::broadcast::channel(4);
        let mut rx2 = tx.subscribe();
        let p = raceway::spawn(async move {
            produce();
            tx.send(1).unwrap();
        });
        let second = raceway::spawn(async move {
            assert_eq!(rx2.recv().await, Ok(1));
            track_read("data", &1); // ordered through its own receive
        });
        consume_around(handoff, async { assert_eq!(rx.recv().await, Ok(1)) }).await;
        p.await.unwrap();
        second.await.unwrap();
    });
}

#[test]
fn watch_send_happens_before_the_change_seen_and_without_it_the_read_races() {
    handoff_orders_and_its_absence_races(|handoff| async move {
        let (tx, mut rx) = raceway::sync::watch::channel(0);
        let p = raceway::spawn(async move {
            produce();
            tx.send_modify(|v| *v = 1);
            tx.closed().await;
        });
        consume_around(handoff, async {
            rx.changed().await.unwrap();
            assert_eq!(*rx.borrow_and_update(), 1);
        })
        .await;
        drop(rx);
        p.await.unwrap();
    });
}

#[test]
fn notify_one_happens_before_the_wake_up_and_without_it_the_read_races() {
    handoff_orders_and_its_absence_races(|handoff| async move {
        let notify = std::sync::Arc::new(raceway::sync::Notify::new());
        let n = notify.clone();
        let p = raceway::spawn(async move {
            produce();
            n.notify_one();
        });
        consume_around(handoff, notify.notified()).await;
        p.await.unwrap();
    });
}

#[test]
fn barrier_orders_every_arrival_before_every_departure_and_without_it_the_read_races() {
    handoff_orders_and_its_absence_races(|handoff| async move {
        let barrier = std::sync::Arc::new(raceway::sync::Barrier::new(2));
        let b = barrier.clone();
        let p = raceway::spawn(async move {
            produce();
            b.wait().await;
        });
        consume_around(handoff, async {
            barrier.wait().await;
        })
        .await;
        p.await.unwrap();
    });
}

#[test]
fn semaphore_permit_given_happens_before_the_permit_taken_and_without_it_the_read_races() {
    handoff_orders_and_its_absence_races(|handoff| async move {
        let sem = std::sync::Arc::new(raceway::sync::Semaphore::new(0));
        let s = sem.clone();
        let p = raceway::spawn(async move {
            produce();
            s.add_permits(1);
        });
        consume_around(handoff, async { sem.acquire().await.unwrap().forget() }).await;
        p.await.unwrap();
    });
}

#[test]
fn semaphore_owned_permit_dropped_happens_before_the_next_acquire() {
    assert_no_races!(every_run_async(|| async {
        let sem = std::sync::Arc::new(raceway::sync::Semaphore::named("slots", 1));
        let permit = sem.clone().acquire_owned().await.unwrap();
        let p = raceway::spawn(async move {
            produce();
            drop(permit);
        });
        let _permit = sem.acquire().await.unwrap(); // waits for the producer's drop
        consume();
        p.await.unwrap();
    }));
}

#[test]
fn once_cell_initialisation_happens_before_every_get_and_without_it_the_read_races() {
    handoff_orders_and_its_absence_races(|handoff| async move {
        let cell = std::sync::Arc::new(raceway::sync::OnceCell::new());
        let c = cell.clone();
        let p = raceway::spawn(async move {
            c.get_or_init(|| async {
                produce();
                1
            })
            .await;
        });
        consume_around(handoff, async {
            while cell.get().is_none() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        p.await.unwrap();
    });
}

// ---- what goes to the server -------------------------------------------------------------

#[test]
fn handoff_events_pass_the_strict_server_mirror_and_link_the_receiver_to_the_sender() {
    let c = capture(|| {
        let (tx, rx) = raceway::sync::std_mpsc::named_channel("jobs");
        let flag = std::sync::Arc::new(AtomicBool::named("flag", false));
        let f = flag.clone();
        let h = raceway::thread::spawn(move || {
            produce();
            tx.send(()).unwrap();
            f.store(true, Ordering::Release);
        });
        rx.recv().unwrap();
        while !flag.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        consume();
        h.join().unwrap();
    });
    let body = format!("{{\"events\":[{}]}}", raceway::wire_json(&c.events).join(","));
    let events = parse_batch(body.as_bytes()).events;
    let custom = |name: &str| {
        events
            .iter()
            .find(|e| matches!(&e.kind, Kind::Custom { name: n, .. } if n == name))
            .unwrap_or_else(|| panic!("no {name} event"))
    };
    let (send, recv) = (custom("mpsc.send"), custom("mpsc.recv"));
    assert_eq!(recv.parent_id.as_ref(), Some(&send.id), "the receive descends from the send");
    let Kind::Custom { data, .. } = &send.kind else { unreachable!() };
    assert_eq!(data["object"], "jobs");
    let (release, acquire) = (custom("atomic.release"), custom("atomic.acquire"));
    assert_eq!(acquire.parent_id.as_ref(), Some(&release.id), "the acquire descends from the release");
    let Kind::Custom { data, .. } = &release.kind else { unreachable!() };
    assert_eq!((data["object"].as_str(), data["ordering"].as_str()), (Some("flag"), Some("Release")));
    let Kind::Custom { data, .. } = &acquire.kind else { unreachable!() };
    assert_eq!(data["ordering"], "Acquire");
}
