//! The exporter's coalescing of hot loops (`exporter/coalesce.rs`) over recorded events: one
//! event per run with its count, parents still sent before children.

use crate::event::id::Uuid;
use crate::event::{AccessType, Event, EventKind};
use crate::exporter::coalesce::Coalescer;
use std::collections::HashSet;

fn run(events: &[Event]) -> Vec<(Event, u64)> {
    let mut c = Coalescer::default();
    let mut out = Vec::new();
    let mut emit = |e: &Event, n: u64| out.push((e.clone(), n));
    for e in events {
        c.push(e, &mut emit);
    }
    c.drain(&mut emit);
    out
}

fn access(e: &Event) -> Option<(&str, AccessType)> {
    match &e.kind {
        EventKind::StateChange { variable, access_type, .. } => Some((variable.as_str(), *access_type)),
        _ => None,
    }
}

/// Every parent is sent before its child, and no event names a parent that was not sent.
fn assert_parents_first(sent: &[(Event, u64)], recorded: &[Event]) {
    let recorded_ids: HashSet<Uuid> = recorded.iter().map(|e| e.id).collect();
    let mut seen = HashSet::new();
    for (e, _) in sent {
        if let Some(p) = e.parent_id.filter(|p| recorded_ids.contains(p)) {
            assert!(seen.contains(&p), "{:?} sent before its parent", e.kind);
        }
        assert!(seen.insert(e.id), "sent twice");
    }
}

#[test]
fn a_hot_loop_goes_out_as_one_event_with_its_count_and_first_and_last_values() {
    let c = crate::testing::capture(|| {
        for i in 0..1_000u64 {
            crate::instrument::track::track_read("x", &i);
            crate::instrument::track::track_write("x", &i, &(i + 1));
        }
    });
    let sent = run(&c.events);
    assert_eq!(sent.len(), 1);
    let (e, n) = &sent[0];
    assert_eq!(*n, 2_000);
    assert_eq!(access(e), Some(("x", AccessType::Write)));
    let EventKind::StateChange { old_value, new_value, .. } = &e.kind else { unreachable!() };
    assert_eq!((old_value.clone(), new_value.clone()), (serde_json::json!(0), serde_json::json!(1_000)));
    assert_eq!(e.id, c.events.last().unwrap().id, "the id the task's next event names");
    assert_eq!(e.parent_id, c.events[0].parent_id);
}

#[test]
fn any_other_event_of_the_task_ends_the_run_and_follows_it() {
    let c = crate::testing::capture(|| {
        crate::instrument::track::track_write("x", &0, &1);
        crate::instrument::track::track_write("x", &1, &2);
        crate::instrument::track::track_write("y", &0, &1);
        crate::instrument::track::track_custom("checkpoint", &1);
        crate::instrument::track::track_write("y", &1, &2);
        crate::instrument::track::track_write("y", &2, &3);
    });
    let sent = run(&c.events);
    let shape: Vec<_> = sent.iter().map(|(e, n)| (access(e).map(|a| a.0), *n)).collect();
    assert_eq!(shape, [(Some("x"), 2), (Some("y"), 1), (None, 1), (Some("y"), 2)]);
    assert_parents_first(&sent, &c.events);
    // The chain stays whole: each sent event's parent is the one sent before it.
    for w in sent.windows(2) {
        assert_eq!(w[1].0.parent_id, Some(w[0].0.id));
    }
}

#[test]
fn interleaved_tasks_keep_their_own_runs_and_a_join_comes_after_the_childs_run() {
    let c = crate::testing::capture(|| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                crate::instrument::task::thread::spawn(|| {
                    for i in 0..500u64 {
                        crate::instrument::track::track_write("shared", &i, &(i + 1));
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        crate::instrument::track::track_write("shared", &0, &1);
    });
    let sent = run(&c.events);
    assert_parents_first(&sent, &c.events);
    let counted: u64 = sent.iter().filter(|(e, _)| access(e).is_some()).map(|(_, n)| n).sum();
    assert_eq!(counted, 1_501, "every access counted once");
    let runs = sent.iter().filter(|(e, _)| access(e).is_some()).count();
    assert!(runs < 20, "{runs} events for 1,501 accesses");
}

#[test]
fn reads_and_atomic_accesses_do_not_merge_with_each_other() {
    let c = crate::testing::capture(|| {
        crate::instrument::track::track_read("x", &0);
        crate::instrument::track::track_read("x", &0);
        crate::instrument::track::track_state_change("x", &0, &1, AccessType::AtomicRMW);
        crate::instrument::track::track_state_change("x", &1, &2, AccessType::AtomicWrite);
    });
    let sent = run(&c.events);
    let shape: Vec<_> = sent.iter().map(|(e, n)| (access(e).unwrap().1, *n)).collect();
    assert_eq!(shape, [(AccessType::Read, 2), (AccessType::AtomicRMW, 1), (AccessType::AtomicWrite, 1)]);
}

#[test]
fn a_position_handed_out_mid_run_ends_the_run_there_and_keeps_its_id() {
    let c = crate::testing::capture(|| {
        for i in 0..10u64 {
            crate::instrument::track::track_write("x", &i, &(i + 1));
        }
        let ctx = crate::context::Context::current().expect("inside the capture's trace");
        for i in 10..20u64 {
            crate::instrument::track::track_write("x", &i, &(i + 1));
        }
        // The request's clock is a hand-out too: the callee is ordered after exactly this point.
        crate::propagation::propagation_headers(std::iter::empty::<(String, String)>()).unwrap();
        for i in 20..30u64 {
            crate::instrument::track::track_write("x", &i, &(i + 1));
        }
        ctx.in_scope(|| crate::instrument::track::track_custom("continued", &1));
    });
    let handed = [c.events[9].id, c.events[19].id];
    let sent = run(&c.events);
    assert_parents_first(&sent, &c.events);
    let runs: Vec<_> = sent.iter().filter(|(e, _)| access(e).is_some()).map(|(e, n)| (e.id, *n)).collect();
    assert_eq!(runs, [(handed[0], 10), (handed[1], 10), (c.events[29].id, 10)], "each run ends at a hand-out");
    let continued = sent.iter().find(|(e, _)| access(e).is_none()).unwrap();
    assert_eq!(continued.0.parent_id, Some(handed[0]), "the other side's parent is on the wire");
}
