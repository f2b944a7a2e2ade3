//! Which task did what, and in which order: task identities, parent chains, spawn/join links and
//! vector clocks, checked on captured events (no server, no `init`).

use raceway::testing::{capture, capture_async};
use raceway::{Context, Event, EventKind, TaskId};
use std::collections::HashMap;

fn by_id(events: &[Event]) -> HashMap<raceway::Uuid, &Event> {
    events.iter().map(|e| (e.id, e)).collect()
}

/// Every event's parent is the previous event of the same task, except a task's first event (its
/// spawn) and an `AsyncAwait` (the joined child's last event).
fn assert_chains(events: &[Event]) {
    let mut last: HashMap<TaskId, raceway::Uuid> = HashMap::new();
    let ids = by_id(events);
    for e in events {
        match (&e.kind, last.get(&e.task)) {
            (EventKind::AsyncAwait { .. }, _) => {}
            (_, Some(prev)) => assert_eq!(e.parent_id, Some(*prev), "{:?} chains to its task's previous event", e.kind),
            (_, None) => {
                if let Some(p) = e.parent_id {
                    assert!(
                        matches!(ids[&p].kind, EventKind::AsyncSpawn { child, .. } if child == e.task),
                        "a task's first event descends from its spawn"
                    );
                }
            }
        }
        last.insert(e.task, e.id);
    }
}

#[test]
fn one_task_chains_its_events_by_parent_id() {
    let c = capture(|| {
        raceway::track_write("x", &0, &1);
        raceway::track_read("x", &1);
        raceway::track_write("x", &1, &2);
    });
    let e = &c.events;
    assert_eq!(e.len(), 3);
    assert_eq!(e[0].parent_id, None, "the first event of a trace is its root");
    assert_eq!(e[1].parent_id, Some(e[0].id));
    assert_eq!(e[2].parent_id, Some(e[1].id));
    assert!(e.iter().all(|x| x.task == e[0].task && x.trace_id == e[0].trace_id));
    assert_eq!(e[2].clock.own_count(), 3, "the task's own component counts its events");
}

#[tokio::test(flavor = "current_thread")]
async fn two_tokio_tasks_on_one_thread_get_different_thread_ids() {
    let c = capture_async(async {
        let a = raceway::spawn(async {
            raceway::track_write("x", &0, &1);
            tokio::task::yield_now().await;
            raceway::track_write("x", &1, &2);
        });
        let b = raceway::spawn(async {
            raceway::track_write("x", &5, &6);
            tokio::task::yield_now().await;
            raceway::track_write("x", &6, &7);
        });
        a.await.unwrap();
        b.await.unwrap();
    })
    .await;
    let writes: Vec<&Event> = c.events.iter().filter(|e| matches!(e.kind, EventKind::StateChange { .. })).collect();
    assert_eq!(writes.len(), 4);
    let tasks: std::collections::HashSet<_> = writes.iter().map(|e| e.task).collect();
    assert_eq!(tasks.len(), 2, "two logical tasks on one OS thread: two thread ids");
    let ids: std::collections::HashSet<_> = tasks.iter().map(|t| t.thread_id()).collect();
    assert_eq!(ids.len(), 2);
    assert_chains(&c.events);
}

#[test]
fn a_task_keeps_its_id_when_it_migrates_between_worker_threads() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let c = rt.block_on(capture_async(async {
        let mut handles = Vec::new();
        for _ in 0..16 {
            handles.push(raceway::spawn(async {
                let mut os_threads = std::collections::HashSet::new();
                for i in 0..200 {
                    os_threads.insert(std::thread::current().id());
                    raceway::track_write("x", &i, &(i + 1));
                    tokio::task::yield_now().await;
                }
                os_threads.len()
            }));
        }
        let mut migrated = 0;
        for h in handles {
            migrated += (h.await.unwrap() > 1) as usize;
        }
        migrated
    }));
    let mut per_task: HashMap<TaskId, usize> = HashMap::new();
    for e in &c.events {
        if matches!(e.kind, EventKind::StateChange { .. }) {
            *per_task.entry(e.task).or_default() += 1;
        }
    }
    assert_eq!(per_task.len(), 16, "one id per task, whatever threads it ran on");
    assert!(per_task.values().all(|&n| n == 200));
    assert_chains(&c.events);
    eprintln!("{} of 16 tasks ran on more than one OS thread", c.output);
}

#[tokio::test]
async fn spawn_and_join_link_the_child_between_the_parents_events() {
    let c = capture_async(async {
        raceway::track_write("before", &0, &1);
        let h = raceway::spawn(async {
            raceway::track_write("child", &0, &1);
            raceway::track_write("child", &1, &2);
        });
        h.await.unwrap();
        raceway::track_write("after", &0, &1);
    })
    .await;
    let e = &c.events;
    let kinds: Vec<&str> = e
        .iter()
        .map(|e| match &e.kind {
            EventKind::AsyncSpawn { .. } => "spawn",
            EventKind::AsyncAwait { .. } => "join",
            EventKind::StateChange { .. } => "write",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["write", "spawn", "write", "write", "join", "write"]);
    let (before, spawn, c1, c2, join, after) = (&e[0], &e[1], &e[2], &e[3], &e[4], &e[5]);
    assert_eq!(spawn.parent_id, Some(before.id));
    assert_eq!(c1.parent_id, Some(spawn.id), "the child's first event descends from the spawn");
    assert_ne!(c1.task, spawn.task);
    assert_eq!(c2.parent_id, Some(c1.id));
    assert_eq!(join.parent_id, Some(c2.id), "the join descends from the child's last event");
    assert_eq!(join.task, spawn.task, "the join is the parent's event");
    assert_eq!(after.parent_id, Some(join.id));
    // Vector clocks: the child inherits the parent's component, the join merges the child's.
    assert_eq!(c1.clock.get_task(spawn.task), spawn.clock.own_count());
    assert_eq!(join.clock.get_task(c2.task), c2.clock.own_count());
    assert!(c2.clock.le(&after.clock), "the child happened before what follows the join");
    assert!(before.clock.le(&c1.clock), "what preceded the spawn happened before the child");
}

#[test]
fn std_threads_spawned_and_joined_are_linked_like_tasks() {
    let c = capture(|| {
        let h = raceway::thread::spawn(|| raceway::track_write("t", &0, &1));
        h.join().unwrap();
        raceway::track_read("t", &1);
    });
    let e = &c.events;
    assert!(matches!(e[0].kind, EventKind::AsyncSpawn { .. }));
    assert_eq!(e[1].parent_id, Some(e[0].id));
    assert_ne!(e[1].task, e[0].task);
    assert!(matches!(e[2].kind, EventKind::AsyncAwait { .. }));
    assert_eq!(e[2].parent_id, Some(e[1].id));
    assert_eq!(e[3].parent_id, Some(e[2].id));
}

#[test]
fn a_panicking_thread_still_links_its_join() {
    let c = capture(|| {
        let h = raceway::thread::spawn(|| {
            raceway::track_write("t", &0, &1);
            panic!("boom");
        });
        assert!(h.join().is_err());
    });
    let e = &c.events;
    assert!(matches!(e[2].kind, EventKind::AsyncAwait { .. }));
    assert_eq!(e[2].parent_id, Some(e[1].id));
}

#[tokio::test]
async fn a_captured_context_carries_the_trace_into_a_background_task() {
    let c = capture_async(async {
        raceway::track_write("request", &0, &1);
        let ctx = Context::current().expect("inside a trace");
        // A background job that outlives the request, spawned with plain tokio.
        tokio::spawn(ctx.scope(async {
            raceway::track_write("background", &0, &1);
        }))
        .await
        .unwrap();
    })
    .await;
    let e = &c.events;
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].trace_id, e[1].trace_id, "same trace");
    assert_ne!(e[0].task, e[1].task, "a task of its own");
    assert_eq!(e[1].parent_id, Some(e[0].id), "ordered after what the request did before");
}

#[test]
fn parallel_captures_do_not_see_each_others_events() {
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                capture(|| {
                    for n in 0..100 {
                        raceway::track_write(format!("v{i}"), &n, &(n + 1));
                    }
                })
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let c = t.join().unwrap();
        assert_eq!(c.events.len(), 100);
        let want = format!("v{i}");
        assert!(c
            .events
            .iter()
            .all(|e| matches!(&e.kind, EventKind::StateChange { variable, .. } if variable.as_str() == want)));
    }
}

#[test]
fn fork_works_with_any_executor() {
    let c = capture(|| {
        let (fut, joiner) = raceway::fork(async { raceway::track_write("x", &0, &1) });
        // A toy executor: poll on another thread.
        std::thread::spawn(move || futures_lite_block_on(fut)).join().unwrap();
        joiner.joined();
    });
    let e = &c.events;
    assert_eq!(e.len(), 3);
    assert_eq!(e[1].parent_id, Some(e[0].id));
    assert_eq!(e[2].parent_id, Some(e[1].id));
}

fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}
