//! The embedded analyzer's verdicts on a corpus of small concurrent programs, each written with
//! the manual API and run under `raceway::testing::capture`. Every test states its expected
//! verdict in its name; together they pin down what counts as a race (contract §3 of the server,
//! with vector-clock happens-before) and what counts as a potential deadlock.

use raceway::testing::{capture, capture_async, new_trace};
use raceway::{
    assert_deadlock, assert_no_deadlocks, assert_no_races, assert_race, track_lock_acquire, track_lock_release,
    track_read, track_state_change, track_write, with_lock, with_rw_read, with_rw_write, AccessType, Context, LockKind,
    Severity,
};
use std::sync::{Arc, Mutex, RwLock};

/// Reads `var` and writes it back incremented: the read-modify-write of a lost update.
#[track_caller]
fn increment(var: &str, seen: u64) {
    track_read(var.to_owned(), &seen);
    track_write(var.to_owned(), &seen, &(seen + 1));
}

// ---- plain races -------------------------------------------------------------------------

#[test]
fn lost_update_between_two_threads_is_a_critical_race() {
    let c = capture(|| {
        let a = raceway::thread::spawn(|| increment("counter", 0));
        let b = raceway::thread::spawn(|| increment("counter", 0));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_race!(c, on = "counter", severity = Critical);
    assert_race!(c, on = "counter", severity = Warning);
}

#[test]
fn check_then_act_is_a_race_between_the_check_and_the_other_act() {
    let c = capture(|| {
        let buyer = |_: u8| {
            move || {
                track_read("stock", &1);
                track_write("stock", &1, &0);
            }
        };
        let a = raceway::thread::spawn(buyer(1));
        let b = raceway::thread::spawn(buyer(2));
        a.join().unwrap();
        b.join().unwrap();
    });
    let stock: Vec<_> = c.report.races_on("stock").collect();
    assert!(stock.iter().any(|r| r.severity == Severity::Warning), "the check races with the other write");
    assert!(stock.iter().any(|r| r.severity == Severity::Critical), "the two writes race");
}

#[test]
fn write_write_is_critical_and_names_both_values() {
    let c = capture(|| {
        let h = raceway::thread::spawn(|| track_write("config.mode", &"a", &"b"));
        track_write("config.mode", &"a", &"c");
        h.join().unwrap();
    });
    assert_race!(c, on = "config.mode", severity = Critical);
    let r = &c.report.races[0];
    let values = [r.first.new_value.to_string(), r.second.new_value.to_string()];
    assert!(values.contains(&"\"b\"".to_owned()) && values.contains(&"\"c\"".to_owned()), "{values:?}");
    assert_ne!(r.first.thread_id, r.second.thread_id);
}

#[test]
fn read_read_is_not_a_race() {
    let c = capture(|| {
        let h = raceway::thread::spawn(|| track_read("limits", &10));
        track_read("limits", &10);
        h.join().unwrap();
    });
    assert_no_races!(c);
}

#[test]
fn one_task_never_races_with_itself() {
    let c = capture(|| {
        for i in 0..10 {
            increment("local", i);
        }
    });
    assert_no_races!(c);
}

#[test]
fn atomic_read_modify_writes_never_race_with_each_other() {
    let c = capture(|| {
        let rmw = || track_state_change("hits", &1, &2, AccessType::AtomicRMW);
        let h = raceway::thread::spawn(rmw);
        rmw();
        h.join().unwrap();
    });
    assert_no_races!(c);
}

#[test]
fn an_atomic_read_modify_write_races_with_a_plain_write_as_a_write() {
    let c = capture(|| {
        let h = raceway::thread::spawn(|| track_state_change("hits", &1, &2, AccessType::AtomicRMW));
        track_write("hits", &1, &5);
        h.join().unwrap();
    });
    assert_race!(c, on = "hits", severity = Critical);
}

#[test]
fn a_later_atomic_access_does_not_hide_an_earlier_plain_one() {
    // The parent's plain write is followed (in its own order) by an atomic store; the child's
    // atomic store is concurrent with both. It races with the plain write, not with the store.
    let c = capture(|| {
        let (go, wait) = std::sync::mpsc::channel::<()>(); // untracked: orders nothing
        let h = raceway::thread::spawn(move || {
            wait.recv().unwrap();
            track_state_change("flag", &0, &2, AccessType::AtomicWrite);
        });
        track_write("flag", &0, &1);
        track_state_change("flag", &1, &3, AccessType::AtomicWrite);
        go.send(()).unwrap();
        h.join().unwrap();
    });
    assert_race!(c, on = "flag", severity = Critical);
    assert_eq!(c.report.races.len(), 1, "only the plain write races: {}", c.report);
}

// ---- locks -------------------------------------------------------------------------------

#[test]
fn the_same_lock_around_both_updates_prevents_the_race() {
    let balance = Arc::new(Mutex::new(100u64));
    let c = capture(|| {
        let spawn_withdraw = |amount: u64| {
            let balance = balance.clone();
            raceway::thread::spawn(move || {
                with_lock(&balance, "accounts", |b| {
                    track_read("alice.balance", &*b);
                    track_write("alice.balance", &*b, &(*b - amount));
                    *b -= amount;
                })
            })
        };
        let (a, b) = (spawn_withdraw(30), spawn_withdraw(50));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_no_races!(c);
    assert_eq!(*balance.lock().unwrap(), 20);
}

#[test]
fn different_locks_do_not_protect_each_other() {
    let (m1, m2) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
    let c = capture(|| {
        let a = raceway::thread::spawn(move || with_lock(&m1, "lock-a", |_| increment("shared", 0)));
        let b = raceway::thread::spawn(move || with_lock(&m2, "lock-b", |_| increment("shared", 0)));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_race!(c, on = "shared", severity = Critical);
    let r = c.report.races_on("shared").next().unwrap();
    let mut held = [r.first.locks.clone(), r.second.locks.clone()];
    held.sort();
    assert_eq!(held, [vec!["lock-a".to_owned()], vec!["lock-b".to_owned()]], "the report shows which lock each held");
}

#[test]
fn a_lock_released_before_the_write_does_not_protect_it() {
    let m = Arc::new(Mutex::new(()));
    let c = capture(|| {
        let reserve = |m: Arc<Mutex<()>>| {
            move || {
                let seen = with_lock(&m, "seats", |_| {
                    track_read("seats.free", &1);
                    1
                });
                // The decision was taken under the lock, the write is made after releasing it.
                track_write("seats.free", &seen, &(seen - 1));
            }
        };
        let a = raceway::thread::spawn(reserve(m.clone()));
        let b = raceway::thread::spawn(reserve(m.clone()));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_race!(c, on = "seats.free", severity = Critical);
    assert_race!(c, on = "seats.free", severity = Warning);
}

#[test]
fn update_pairs_under_one_manually_tracked_lock_are_safe() {
    let c = capture(|| {
        let update = || {
            track_lock_acquire("cache", LockKind::Mutex);
            track_read("cache.size", &3);
            track_write("cache.size", &3, &4);
            track_lock_release("cache", LockKind::Mutex);
        };
        let h = raceway::thread::spawn(update);
        update();
        h.join().unwrap();
    });
    assert_no_races!(c);
}

#[test]
fn an_rwlock_write_side_protects_against_its_readers() {
    let table = Arc::new(RwLock::new(0u32));
    let c = capture(|| {
        let t = table.clone();
        let reader = raceway::thread::spawn(move || with_rw_read(&t, "table", |v| track_read("table.rows", v)));
        with_rw_write(&table, "table", |v| {
            track_write("table.rows", &*v, &(*v + 1));
            *v += 1;
        });
        reader.join().unwrap();
    });
    assert_no_races!(c);
}

// ---- spawn and join ----------------------------------------------------------------------

#[test]
fn a_write_before_the_spawn_is_ordered_before_the_child() {
    let c = capture(|| {
        track_write("settings", &0, &1);
        raceway::thread::spawn(|| track_read("settings", &1)).join().unwrap();
    });
    assert_no_races!(c);
}

#[test]
fn a_write_after_the_spawn_races_with_the_child() {
    let c = capture(|| {
        let h = raceway::thread::spawn(|| track_read("settings", &0));
        track_write("settings", &0, &1);
        h.join().unwrap();
    });
    assert_race!(c, on = "settings", severity = Warning);
}

#[test]
fn a_read_after_the_join_is_ordered_after_the_child() {
    let c = capture(|| {
        raceway::thread::spawn(|| track_write("result", &0, &42)).join().unwrap();
        track_read("result", &42);
    });
    assert_no_races!(c);
}

#[test]
fn a_read_before_the_join_races_with_the_child() {
    let c = capture(|| {
        let h = raceway::thread::spawn(|| track_write("result", &0, &42));
        track_read("result", &0);
        h.join().unwrap();
    });
    assert_race!(c, on = "result", severity = Warning);
}

#[test]
fn nested_spawns_inherit_order_and_siblings_still_race() {
    let c = capture(|| {
        track_write("root.config", &0, &1);
        raceway::thread::spawn(|| {
            let a = raceway::thread::spawn(|| {
                track_read("root.config", &1);
                track_write("grandchildren.total", &0, &1);
            });
            let b = raceway::thread::spawn(|| {
                track_read("root.config", &1);
                track_write("grandchildren.total", &0, &2);
            });
            a.join().unwrap();
            b.join().unwrap();
        })
        .join()
        .unwrap();
        track_read("grandchildren.total", &2);
    });
    assert_eq!(c.report.races_on("root.config").count(), 0, "written before any spawn: {}", c.report);
    assert_race!(c, on = "grandchildren.total", severity = Critical);
    assert_eq!(c.report.races.len(), 1, "the final read is after both joins: {}", c.report);
}

#[test]
fn std_scoped_threads_entering_a_context_are_separate_tasks() {
    let c = capture(|| {
        let ctx = Context::current_or_new();
        std::thread::scope(|s| {
            for i in 0..2u64 {
                let ctx = ctx.clone();
                s.spawn(move || ctx.in_scope(|| increment("scoped", i)));
            }
        });
    });
    assert_race!(c, on = "scoped", severity = Critical);
}

// ---- instances and requests --------------------------------------------------------------

#[test]
fn two_instances_with_distinct_names_do_not_race() {
    let c = capture(|| {
        let a = raceway::thread::spawn(|| increment("Account#1.balance", 10));
        let b = raceway::thread::spawn(|| increment("Account#2.balance", 20));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_no_races!(c);
}

#[test]
fn two_concurrent_requests_in_different_traces_race() {
    let c = capture(|| {
        let (r1, r2) = (new_trace(), new_trace());
        let (t1, t2) = (r1.trace_id(), r2.trace_id());
        std::thread::scope(|s| {
            s.spawn(move || r1.in_scope(|| increment("inventory.widgets", 5)));
            s.spawn(move || r2.in_scope(|| increment("inventory.widgets", 5)));
        });
        (t1, t2)
    });
    assert_race!(c, on = "inventory.widgets", severity = Critical);
    let r = c.report.races_on("inventory.widgets").next().unwrap();
    let mut traces = [r.first.trace_id, r.second.trace_id];
    traces.sort();
    let mut expected = [c.output.0, c.output.1];
    expected.sort();
    assert_eq!(traces, expected, "each side names its own request's trace");
}

#[test]
fn two_requests_serialized_by_one_lock_do_not_race() {
    let m = Mutex::new(5u64);
    let c = capture(|| {
        let (r1, r2) = (new_trace(), new_trace());
        std::thread::scope(|s| {
            for r in [r1, r2] {
                let m = &m;
                s.spawn(move || {
                    r.in_scope(|| {
                        with_lock(m, "inventory", |n| {
                            increment("inventory.widgets", *n);
                            *n += 1;
                        })
                    })
                });
            }
        });
    });
    assert_no_races!(c);
}

#[test]
fn a_race_hit_many_times_is_one_entry_with_a_count() {
    let c = capture(|| {
        let a = raceway::thread::spawn(|| (0..100).for_each(|i| track_write("ticks", &i, &(i + 1))));
        let b = raceway::thread::spawn(|| (0..100).for_each(|i| track_write("ticks", &i, &(i + 1))));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_eq!(c.report.races.len(), 1, "{}", c.report);
    assert!(c.report.races[0].count >= 100, "count {}", c.report.races[0].count);
}

// ---- deadlocks ---------------------------------------------------------------------------

#[test]
fn opposite_lock_orders_in_concurrent_tasks_are_a_potential_deadlock_with_both_sites() {
    let (accounts, audit) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
    let c = capture(|| {
        // An untracked channel makes the run itself safe (the second task starts its locking after
        // the first is done) without ordering the tasks for the analyzer: another schedule deadlocks.
        let (done, wait) = std::sync::mpsc::channel();
        let (a1, a2) = (accounts.clone(), audit.clone());
        let transfer = raceway::thread::spawn(move || {
            with_lock(&a1, "accounts", |_| with_lock(&a2, "audit", |_| ()));
            done.send(()).unwrap();
        });
        let (b1, b2) = (accounts.clone(), audit.clone());
        let report = raceway::thread::spawn(move || {
            wait.recv().unwrap();
            with_lock(&b2, "audit", |_| with_lock(&b1, "accounts", |_| ()));
        });
        transfer.join().unwrap();
        report.join().unwrap();
    });
    assert_deadlock!(c, between = ("accounts", "audit"));
    let d = &c.report.deadlocks[0];
    let [first, second] = &d.steps[..] else { panic!("two steps: {}", c.report) };
    let sites = [first.held_at, first.acquired_at, second.held_at, second.acquired_at];
    for (i, a) in sites.iter().enumerate() {
        assert!(a.file.ends_with("analyzer_scenarios.rs"), "{a}");
        assert!(sites[i + 1..].iter().all(|b| b != a), "four distinct acquisition sites: {sites:?}");
    }
    assert_eq!((first.held.as_str(), first.acquired.as_str()), ("accounts", "audit"));
    assert_eq!((second.held.as_str(), second.acquired.as_str()), ("audit", "accounts"));
    assert_ne!(first.thread_id, second.thread_id);
    assert_no_races!(c);
}

#[test]
fn opposite_lock_orders_in_joined_phases_are_not_a_deadlock() {
    let (accounts, audit) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
    let c = capture(|| {
        let (a1, a2) = (accounts.clone(), audit.clone());
        raceway::thread::spawn(move || with_lock(&a1, "accounts", |_| with_lock(&a2, "audit", |_| ()))).join().unwrap();
        // Spawned after the join: it can never run while the first task holds a lock.
        let (b1, b2) = (accounts.clone(), audit.clone());
        raceway::thread::spawn(move || with_lock(&b2, "audit", |_| with_lock(&b1, "accounts", |_| ()))).join().unwrap();
    });
    assert_no_deadlocks!(c);
}

#[test]
fn a_consistent_lock_order_is_not_a_deadlock() {
    let c = capture(|| {
        let nested = || {
            track_lock_acquire("first", LockKind::Mutex);
            track_lock_acquire("second", LockKind::Mutex);
            track_lock_release("second", LockKind::Mutex);
            track_lock_release("first", LockKind::Mutex);
        };
        let h = raceway::thread::spawn(nested);
        nested();
        h.join().unwrap();
    });
    assert_no_deadlocks!(c);
}

// ---- async tasks -------------------------------------------------------------------------

#[tokio::test]
async fn tokio_tasks_updating_shared_state_race() {
    let c = capture_async(async {
        let a = raceway::spawn(async { increment("orders.count", 0) });
        let b = raceway::spawn(async { increment("orders.count", 0) });
        a.await.unwrap();
        b.await.unwrap();
    })
    .await;
    assert_race!(c, on = "orders.count", severity = Critical);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaiting_a_tokio_task_orders_it_before_the_parent() {
    let c = capture_async(async {
        raceway::spawn(async { track_write("orders.last", &0, &7) }).await.unwrap();
        track_read("orders.last", &7);
        let h = raceway::spawn(async { track_read("orders.last", &7) });
        h.await.unwrap();
    })
    .await;
    assert_no_races!(c);
}

#[test]
fn parallel_captures_do_not_see_each_other() {
    // Both captures race on the same name internally only if they saw each other's events.
    let run = || {
        capture(|| {
            for i in 0..200 {
                track_write("same.name", &i, &(i + 1));
            }
        })
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(run);
        let b = s.spawn(run);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!((a.events.len(), b.events.len()), (200, 200));
    assert_no_races!(a);
    assert_no_races!(b);
}
