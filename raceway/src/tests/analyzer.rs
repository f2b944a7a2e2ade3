//! The analyzer's own properties: bounded memory, no lost races after compaction, the refinements
//! over the server, and lock-order edge cases. Scenario verdicts live in `tests/analyzer_scenarios.rs`.

use crate::analyzer::shadow;
use crate::analyzer::*;
use crate::event::clock::{Clock, Component};
use crate::event::id::TaskId;
use crate::event::LockKind;
use crate::testing::capture;
use crate::{thread, track_lock_acquire as acquire, track_lock_release as release, track_read, track_write};

#[track_caller]
fn locked(lock: &'static str, f: impl FnOnce()) {
    acquire(lock, LockKind::Mutex);
    f();
    release(lock, LockKind::Mutex);
}

#[test]
fn memory_stays_flat_over_many_accesses() {
    const ROUNDS: u64 = 5_000;
    let captured = capture(|| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                thread::spawn(move || {
                    for i in 0..ROUNDS {
                        // A racy counter, a protected one, and a per-worker variable.
                        track_read("racy", &i);
                        track_write("racy", &i, &(i + 1));
                        locked("guard", || {
                            track_read("guarded", &i);
                            track_write("guarded", &i, &(i + 1));
                        });
                        track_write(format!("own-{w}"), &i, &(i + 1));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
    let events = &captured.events;
    assert!(events.len() as u64 > 4 * ROUNDS * 7, "{} events", events.len());

    // Sample the state every 500 events: the largest state over the first tenth of the run must
    // be the largest over the whole run.
    let mut analyzer = Analyzer::new();
    let tenth = events.len() / 10;
    let (mut early, mut whole) = (0, 0);
    for (i, e) in events.iter().enumerate() {
        analyzer.observe(e);
        if i % 500 == 0 {
            let kept = analyzer.footprint().accesses_kept;
            whole = whole.max(kept);
            if i < tenth {
                early = early.max(kept);
            }
        }
    }
    // At most a read and a write per task for each shared variable, one write per own variable.
    let bound = 2 * (4 * 2) + 4;
    assert!(whole <= bound && early <= bound, "kept {early} early, {whole} overall, bound {bound}");
    let end = analyzer.footprint();
    assert_eq!(end.variables, 6);
    assert_eq!(end.locksets, 2, "the empty set and {{guard}}");
    assert_eq!(end.tasks_holding_locks, 0, "joined tasks are forgotten");
    assert_eq!(end.lock_edges, 0);

    let report = analyzer.report();
    assert!(report.races_on("racy").count() > 0);
    assert_eq!(report.races_on("guarded").count(), 0);
    assert!(report.races.iter().all(|r| r.variable == "racy"));
    let total: u64 = report.races.iter().map(|r| r.count).sum();
    assert!(total >= ROUNDS, "a race hit in every round is counted, not listed: {total}");
    assert!(report.races.len() <= 4, "grouped by location pair: {}", report.races.len());
}

#[test]
fn a_joined_child_happens_before_the_parent_and_state_is_compacted() {
    let captured = capture(|| {
        for i in 0..50 {
            let h = thread::spawn(move || track_write("x", &i, &(i + 1)));
            h.join().unwrap();
            track_read("x", &(i + 1));
        }
    });
    assert!(captured.report.is_clean(), "{}", captured.report);
    let mut a = Analyzer::new();
    captured.events.iter().for_each(|e| a.observe(e));
    // Each parent read after a join overtakes the joined child's write.
    assert!(a.footprint().accesses_kept <= 2, "{:?}", a.footprint());
}

#[test]
fn compaction_keeps_an_unprotected_write_that_a_locked_write_follows() {
    // A writes x without the lock, then with it; B writes x with the lock. The locked write of A
    // must not hide the unlocked one (the server reports that pair too).
    let captured = capture(|| {
        let a = thread::spawn(|| {
            track_write("x", &0, &1);
            locked("m", || track_write("x", &1, &2));
        });
        let b = thread::spawn(|| locked("m", || track_write("x", &2, &3)));
        a.join().unwrap();
        b.join().unwrap();
    });
    let races: Vec<_> = captured.report.races_on("x").collect();
    assert_eq!(races.len(), 1, "{}", captured.report);
    let unlocked = [&races[0].first, &races[0].second].into_iter().find(|s| s.locks.is_empty());
    assert!(unlocked.is_some(), "the unprotected write is the one reported: {}", captured.report);
}

#[test]
fn read_sides_of_one_rwlock_do_not_protect_a_write() {
    let captured = capture(|| {
        let reader = |v: u32| {
            move || {
                acquire("table", LockKind::RwLockRead);
                track_write("table.hits", &v, &(v + 1));
                release("table", LockKind::RwLockRead);
            }
        };
        let a = thread::spawn(reader(0));
        let b = thread::spawn(reader(1));
        a.join().unwrap();
        b.join().unwrap();
    });
    crate::assert_race!(captured, on = "table.hits", severity = Critical);
}

#[test]
fn two_reads_never_race_even_atomic_and_plain() {
    let captured = capture(|| {
        let h = thread::spawn(|| track_read("x", &1));
        crate::track_state_change("x", &(), &1, crate::AccessType::AtomicRead);
        h.join().unwrap();
    });
    crate::assert_no_races!(captured);
}

#[test]
fn a_local_task_named_in_a_propagated_clock_is_ordered() {
    let (p, e) = (TaskId::next(), TaskId::next());
    let via_header = Clock::with_base(e, vec![(Component::Remote(p.thread_id().into()), 7)]);
    assert!(shadow::happened_before(p, 7, &via_header));
    assert!(!shadow::happened_before(p, 8, &via_header));
    assert!(!shadow::happened_before(TaskId::next(), 1, &via_header));
}

#[test]
fn a_gate_lock_prevents_an_inversion_report() {
    let captured = capture(|| {
        let order = |first: &'static str, second: &'static str| {
            move || locked("gate", || locked(first, || locked(second, || {})))
        };
        let a = thread::spawn(order("l1", "l2"));
        let b = thread::spawn(order("l2", "l1"));
        a.join().unwrap();
        b.join().unwrap();
    });
    crate::assert_no_deadlocks!(captured);
}

#[test]
fn opposite_orders_in_sequential_phases_are_not_a_deadlock() {
    let captured = capture(|| {
        thread::spawn(|| locked("l1", || locked("l2", || {}))).join().unwrap();
        thread::spawn(|| locked("l2", || locked("l1", || {}))).join().unwrap();
    });
    crate::assert_no_deadlocks!(captured);
}

#[test]
fn two_readers_in_opposite_orders_cannot_deadlock() {
    let captured = capture(|| {
        let order = |first: &'static str, second: &'static str| {
            move || {
                acquire(first, LockKind::RwLockRead);
                acquire(second, LockKind::RwLockRead);
                release(second, LockKind::RwLockRead);
                release(first, LockKind::RwLockRead);
            }
        };
        let a = thread::spawn(order("r1", "r2"));
        let b = thread::spawn(order("r2", "r1"));
        a.join().unwrap();
        b.join().unwrap();
    });
    crate::assert_no_deadlocks!(captured);
}

#[test]
fn a_repeated_inversion_is_one_entry_with_a_count() {
    let captured = capture(|| {
        for _ in 0..3 {
            let a = thread::spawn(|| locked("l1", || locked("l2", || {})));
            let b = thread::spawn(|| locked("l2", || locked("l1", || {})));
            a.join().unwrap();
            b.join().unwrap();
        }
    });
    let d = &captured.report.deadlocks;
    assert_eq!(d.len(), 1, "{}", captured.report);
    assert_eq!(d[0].count, 3);
    assert_ne!(d[0].steps[0].held_at, d[0].steps[1].held_at, "both acquisition sites are shown");
}

#[test]
fn the_text_report_names_both_sides_and_the_summary() {
    let captured = capture(|| {
        let h = thread::spawn(|| track_write("alice.balance", &100, &50));
        track_write("alice.balance", &100, &70);
        h.join().unwrap();
    });
    let text = captured.report.to_string();
    assert!(text.contains("race #1: CRITICAL write/write on `alice.balance`"), "{text}");
    assert!(text.contains("no lock held, 100 -> 50") && text.contains("no lock held, 100 -> 70"), "{text}");
    assert!(text.contains(&format!("{}:", file!())), "{text}");
    assert!(text.contains("-task-"), "{text}");
    assert!(
        text.trim_end()
            .ends_with("1 race (1 critical, 0 warning), 0 potential deadlocks in 4 events (2 accesses to 1 variable)"),
        "{text}"
    );
}

#[cfg(raceway_on)]
#[test]
fn the_json_report_carries_every_field() {
    let captured = capture(|| {
        let h = thread::spawn(|| track_read("flag", &false));
        locked("m", || track_write("flag", &false, &true));
        h.join().unwrap();
    });
    let v: serde_json::Value = serde_json::from_str(&captured.report.to_json()).unwrap();
    let race = &v["races"][0];
    assert_eq!(race["severity"], "WARNING");
    assert_eq!(race["variable"], "flag");
    assert_eq!(race["count"], 1);
    let sides = [&race["first"], &race["second"]];
    assert!(sides.iter().any(|s| s["access_type"] == "Read" && s["new_value"] == false));
    assert!(sides.iter().any(|s| s["locks"] == serde_json::json!(["m"]) && s["old_value"] == false));
    assert!(sides.iter().all(|s| s["location"]["line"].as_u64().unwrap() > 0 && s["trace_id"].is_string()));
    assert_eq!(v["clean"], false);
}

#[test]
fn reads_from_many_unjoined_tasks_stay_bounded_and_are_counted() {
    let tasks = shadow::MAX_KEPT + 72;
    let captured = capture(|| {
        track_write("setting", &0, &1);
        // Never joined (an untracked channel waits for them): nothing orders these readers before
        // anything that follows.
        let (done, wait) = std::sync::mpsc::channel();
        for _ in 0..tasks {
            let done = done.clone();
            drop(thread::spawn(move || {
                track_read("setting", &1);
                done.send(()).unwrap();
            }));
        }
        (0..tasks).for_each(|_| wait.recv().unwrap());
    });
    let mut a = Analyzer::new();
    captured.events.iter().for_each(|e| a.observe(e));
    assert!(a.footprint().accesses_kept <= shadow::MAX_KEPT + 1, "{:?}", a.footprint());
    let report = a.report();
    assert_eq!(report.forgotten, 72);
    assert!(report.is_clean(), "reads after the write, forgetting loses nothing here: {report}");
    assert!(report.summary().contains("72 accesses forgotten"), "{}", report.summary());
}

#[test]
fn stale_read_modify_writes_from_many_unjoined_tasks_stay_bounded_and_are_one_finding() {
    let tasks = 200;
    let captured = capture(|| {
        let (done, wait) = std::sync::mpsc::channel();
        for _ in 0..tasks {
            let done = done.clone();
            drop(thread::spawn(move || {
                locked("m", || track_read("seats", &1));
                locked("m", || track_write("seats", &1, &0));
                done.send(()).unwrap();
            }));
        }
        (0..tasks).for_each(|_| wait.recv().unwrap());
    });
    let mut a = Analyzer::new();
    captured.events.iter().for_each(|e| a.observe(e));
    let kept = a.footprint().atomicity_kept;
    assert!(kept <= 2 * crate::analyzer::atomicity::MAX_TASKS, "{:?}", a.footprint());
    let report = a.report();
    assert_eq!(report.atomicity.len(), 1, "one pair of sites: {report}");
    assert!(report.atomicity[0].count > 1);
    assert!(report.races.is_empty(), "{report}");
}

#[test]
fn a_request_propagated_inside_the_process_is_ordered_after_what_the_caller_did_before_calling() {
    let captured = capture(|| {
        track_write("stock", &0, &1);
        let headers = crate::propagation_headers(std::iter::empty::<(&str, &str)>()).unwrap();
        let capture = crate::Context::current().and_then(|c| c.trace.capture.clone()).unwrap();
        // The callee side, as the HTTP middleware builds it, recording into this capture.
        let callee = crate::Context::from_headers(&headers).capturing(capture);
        track_write("audit", &0, &1); // after the call was sent: concurrent with the callee
        std::thread::spawn(move || {
            callee.in_scope(|| {
                track_read("stock", &1);
                track_write("audit", &1, &2);
            })
        })
        .join()
        .unwrap();
    });
    assert_eq!(captured.report.races_on("stock").count(), 0, "{}", captured.report);
    crate::assert_race!(captured, on = "audit", severity = Critical);
}

#[test]
fn unbalanced_lock_events_are_tolerated_and_leave_no_state_behind() {
    let captured = capture(|| {
        release("never-taken", LockKind::Mutex);
        acquire("rw", LockKind::RwLockRead);
        release("rw", LockKind::RwLockWrite); // the wrong side: not a release of what is held
        release("rw", LockKind::RwLockRead);
        release("rw", LockKind::RwLockRead); // once too often
        let h = thread::spawn(|| acquire("leaked", LockKind::Mutex)); // ends holding it
        h.join().unwrap();
        track_write("x", &0, &1);
    });
    let mut a = Analyzer::new();
    captured.events.iter().for_each(|e| a.observe(e));
    assert_eq!(a.footprint().tasks_holding_locks, 0, "the joined task's leaked lock is forgotten");
    assert!(a.report().is_clean(), "{}", a.report());
}

#[test]
fn a_cycle_through_three_locks_and_three_tasks_is_a_potential_deadlock() {
    let captured = capture(|| {
        // Each philosopher takes its left fork, then its right one; an untracked channel runs them
        // one at a time so this run cannot hang, without ordering them for the analyzer.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let forks = [("fork-1", "fork-2"), ("fork-2", "fork-3"), ("fork-3", "fork-1")];
        let philosophers: Vec<_> = forks
            .into_iter()
            .enumerate()
            .map(|(i, (left, right))| {
                let (tx, rx) = (tx.clone(), rx.clone());
                thread::spawn(move || {
                    if i > 0 {
                        rx.lock().unwrap().recv().unwrap();
                    }
                    locked(left, || locked(right, || {}));
                    tx.send(()).unwrap();
                })
            })
            .collect();
        philosophers.into_iter().for_each(|p| p.join().unwrap());
    });
    let d = &captured.report.deadlocks;
    assert_eq!(d.len(), 1, "{}", captured.report);
    assert_eq!(d[0].steps.len(), 3);
    for (i, step) in d[0].steps.iter().enumerate() {
        let next = &d[0].steps[(i + 1) % 3];
        assert_eq!(step.acquired, next.held, "each waits on the next one's fork: {}", captured.report);
    }
    let mut locks = d[0].locks.clone();
    locks.sort();
    assert_eq!(locks, ["fork-1", "fork-2", "fork-3"]);
    assert!(captured.report.to_string().contains("lock-order cycle through `fork-"), "{}", captured.report);
}

#[test]
fn a_three_lock_cycle_with_a_consistent_order_somewhere_is_not_reported() {
    let captured = capture(|| {
        // 1→2, 2→3 and 1→3: an order exists (1 < 2 < 3), so there is no cycle.
        let orders = [("o-1", "o-2"), ("o-2", "o-3"), ("o-1", "o-3")];
        let hs: Vec<_> =
            orders.into_iter().map(|(a, b)| thread::spawn(move || locked(a, || locked(b, || {})))).collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    crate::assert_no_deadlocks!(captured);
}
