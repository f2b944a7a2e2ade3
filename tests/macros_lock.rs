//! `raceway::lock!` on std, parking_lot and tokio locks, and `TrackedMutex`/`TrackedRwLock`:
//! acquire/release events, lock ids, locations, panics and poisoning, and protection in the
//! race analysis.

use raceway::testing::{capture, capture_async};
use raceway::{lock, Event, EventKind, LockKind, Tracked, TrackedMutex, TrackedRwLock};
use std::sync::{Arc, Mutex, RwLock};

/// ("acquire"/"release", lock id, kind, line) of every lock event, in order.
fn lock_events(events: &[Event]) -> Vec<(&'static str, String, LockKind, u32)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LockAcquire { lock_id, lock_type, location } => {
                Some(("acquire", lock_id.to_string(), *lock_type, location.line))
            }
            EventKind::LockRelease { lock_id, lock_type, location } => {
                Some(("release", lock_id.to_string(), *lock_type, location.line))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn lock_on_a_std_mutex_records_acquire_and_release_at_the_call_site() {
    let m = Mutex::new(1);
    let c = capture(|| {
        let line = line!() + 1;
        let mut g = lock!(m);
        *g += 1;
        drop(g);
        line
    });
    let line = c.output;
    let id = format!("m@{:p}", &m);
    assert_eq!(
        lock_events(&c.events),
        vec![("acquire", id.clone(), LockKind::Mutex, line), ("release", id, LockKind::Mutex, line)]
    );
    match &c.events[0].kind {
        EventKind::LockAcquire { location, .. } => assert_eq!(location.file, file!()),
        other => panic!("{other:?}"),
    }
    assert_eq!(*m.lock().unwrap(), 2);
}

#[test]
fn lock_ids_are_stable_per_object_distinct_between_objects_and_optionally_named() {
    let a = Arc::new(Mutex::new(0));
    let b = Mutex::new(0);
    let a2 = a.clone();
    let c = capture(|| {
        drop(lock!(a, "accounts"));
        drop(lock!(a2, "accounts")); // same object through another Arc handle
        drop(lock!(b, "accounts")); // another object with the same name
    });
    let ids: Vec<String> = lock_events(&c.events).into_iter().filter(|e| e.0 == "acquire").map(|e| e.1).collect();
    assert!(ids[0].starts_with("accounts@"), "{ids:?}");
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
}

#[test]
fn read_and_write_forms_lock_std_and_parking_lot_rwlocks() {
    let std_rw = RwLock::new(vec![1]);
    let pl_rw = parking_lot::RwLock::new(0);
    let pl_m = parking_lot::Mutex::new(0);
    let c = capture(|| {
        lock!(write std_rw).push(2);
        let n = lock!(read std_rw).len();
        *lock!(write pl_rw, "pl") += n;
        *lock!(pl_m) += *lock!(read pl_rw, "pl");
    });
    let kinds: Vec<(&str, LockKind)> = lock_events(&c.events).into_iter().map(|e| (e.0, e.2)).collect();
    use LockKind::*;
    assert_eq!(
        kinds,
        [
            ("acquire", RwLockWrite),
            ("release", RwLockWrite),
            ("acquire", RwLockRead),
            ("release", RwLockRead),
            ("acquire", RwLockWrite),
            ("release", RwLockWrite),
            // The read guard is a temporary of the statement: taken first, released last.
            ("acquire", RwLockRead),
            ("acquire", Mutex),
            ("release", Mutex),
            ("release", RwLockRead),
        ]
    );
    assert_eq!(*pl_m.lock(), 2);
}

#[tokio::test]
async fn lock_await_on_tokio_mutexes_and_rwlocks() {
    let m = tokio::sync::Mutex::new(1);
    let rw = tokio::sync::RwLock::new(1);
    let c = capture_async(async {
        *lock!(m).await += 1;
        *lock!(write rw, "config").await += 1;
        let seen = *lock!(read rw, "config").await;
        seen
    })
    .await;
    assert_eq!(c.output, 2);
    let ev = lock_events(&c.events);
    assert_eq!(ev.len(), 6);
    assert_eq!((ev[0].2, ev[2].2, ev[4].2), (LockKind::Mutex, LockKind::RwLockWrite, LockKind::RwLockRead));
    assert!(ev[2].1.starts_with("config@") && ev[2].1 == ev[4].1);
}

#[test]
fn the_release_is_recorded_when_the_holder_panics_and_a_poisoned_std_mutex_still_locks() {
    let m = Mutex::new(5);
    let c = capture(|| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut g = lock!(m, "poisonable");
            *g = 6;
            panic!("while holding the lock");
        }));
        assert!(r.is_err());
        assert!(m.is_poisoned());
        *lock!(m, "poisonable") // entered anyway, with the value the panic left
    });
    assert_eq!(c.output, 6);
    let ev: Vec<&str> = lock_events(&c.events).into_iter().map(|e| e.0).collect();
    assert_eq!(ev, ["acquire", "release", "acquire", "release"]);
}

#[test]
fn the_release_is_recorded_before_another_task_can_acquire() {
    // With two threads hammering one lock, acquisitions and releases must strictly alternate in
    // recording order: a release recorded after the real unlock would let the next acquire in
    // first.
    let m = Arc::new(Mutex::new(0u32));
    let c = capture(|| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                raceway::thread::spawn(move || {
                    for _ in 0..200 {
                        *lock!(m) += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    let ev: Vec<&str> = lock_events(&c.events).into_iter().map(|e| e.0).collect();
    assert_eq!(ev.len(), 800);
    assert!(ev.chunks(2).all(|p| p == ["acquire", "release"]), "interleaved acquire/release");
    assert_eq!(*m.lock().unwrap(), 400);
}

#[test]
fn tracked_mutex_and_rwlock_carry_their_own_ids_across_moves() {
    let m = TrackedMutex::named("macros_lock::ledger", 0);
    let rw = TrackedRwLock::new(String::new());
    let moved = Box::new(m); // a move keeps the id
    let c = capture(|| {
        *moved.lock() += 1;
        *lock!(moved) += 1;
        rw.write().push('x');
        rw.read().len()
    });
    assert_eq!(c.output, 1);
    let ev = lock_events(&c.events);
    assert!(ev[..4].iter().all(|e| e.1 == "macros_lock::ledger"), "{ev:?}");
    assert!(rw.id().starts_with("rwlock#"));
    assert_eq!(ev[4].1, rw.id());
    assert_eq!((ev[4].2, ev[6].2), (LockKind::RwLockWrite, LockKind::RwLockRead));
    let other = TrackedMutex::named("macros_lock::ledger", 0);
    assert_eq!(other.id(), "macros_lock::ledger#2", "two objects never share an id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accesses_under_one_lock_are_not_races_and_the_same_accesses_without_it_are() {
    async fn run(locked: bool) -> raceway::Report {
        let c = capture_async(async move {
            let balance = Arc::new(Tracked::new("macros_lock::balance", 100));
            let m = Arc::new(tokio::sync::Mutex::new(()));
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let (balance, m) = (balance.clone(), m.clone());
                    raceway::spawn(async move {
                        let guard = if locked { Some(lock!(m, "balance_lock").await) } else { None };
                        let b = balance.get();
                        tokio::task::yield_now().await;
                        balance.set(b - 10);
                        drop(guard);
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
        .await;
        raceway::analyze(&c.events)
    }
    let racy = run(false).await;
    assert!(!racy.races.is_empty(), "unprotected get/set in two tasks must race");
    let locked = run(true).await;
    assert!(locked.is_clean(), "{locked}");
}
