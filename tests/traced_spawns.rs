//! Plain `tokio::spawn` / `thread::spawn` written inside `#[traced]` bodies are ordered: the
//! parent's work before the spawn happens before the child, the child's work happens before what
//! the parent does after `handle.await` / `handle.join()`, and children that are not ordered
//! still race. Every scenario runs 20 times and must give the same verdict every time; several
//! run on a multi-threaded runtime, so children and parents move between worker threads.
//!
//! "No race" alone would also hold if the child's accesses were never captured, so those
//! scenarios also check that both accesses were recorded, by two different logical tasks.

use raceway::testing::{capture, capture_async};
use raceway::{assert_no_races, assert_race, traced, track_read, track_write, Event, EventKind, TaskId};
use std::collections::BTreeSet;
use std::thread;
use tokio::task::{self, JoinSet};

const RUNS: usize = 20;

/// The logical tasks that accessed `variable`.
fn tasks_touching(events: &[Event], variable: &str) -> BTreeSet<TaskId> {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::StateChange { variable: v, .. } if v.as_str() == variable))
        .map(|e| e.task)
        .collect()
}

fn count(events: &[Event], want: fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| want(&e.kind)).count()
}

fn is_spawn(k: &EventKind) -> bool {
    matches!(k, EventKind::AsyncSpawn { .. })
}

fn is_join(k: &EventKind) -> bool {
    matches!(k, EventKind::AsyncAwait { .. })
}

// ---- tokio::spawn ----------------------------------------------------------------------------

#[traced]
async fn configure_then_spawn_reader() {
    track_write("config", &0, &1);
    let reader = tokio::spawn(async {
        track_read("config", &1);
    });
    reader.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_before_a_plain_tokio_spawn_happens_before_the_childs_read() {
    for _ in 0..RUNS {
        let c = capture_async(configure_then_spawn_reader()).await;
        assert_no_races!(c);
        assert_eq!(tasks_touching(&c.events, "config").len(), 2, "write and read on two tasks");
        assert_eq!(count(&c.events, is_spawn), 1);
    }
}

#[traced]
async fn spawn_writer_then_await_and_read() -> Result<u32, task::JoinError> {
    let writer = tokio::spawn(async {
        tokio::task::yield_now().await;
        track_write("total", &0, &7);
        7
    });
    let total = writer.await?;
    track_read("total", &total);
    Ok(total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_childs_write_happens_before_what_the_parent_reads_after_awaiting_its_plain_join_handle() {
    for _ in 0..RUNS {
        let c = capture_async(spawn_writer_then_await_and_read()).await;
        assert_eq!(c.output.as_ref().ok(), Some(&7));
        assert_no_races!(c);
        assert_eq!(tasks_touching(&c.events, "total").len(), 2);
        assert_eq!(count(&c.events, is_join), 1, "the await of the JoinHandle is the join");
    }
}

#[traced]
async fn read_without_awaiting_the_writer() {
    let writer = tokio::spawn(async { track_write("flag", &false, &true) });
    // The handle is awaited only after the read: nothing orders the write before it.
    track_read("flag", &false);
    let _ = writer.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_before_awaiting_the_childs_handle_still_races_with_the_childs_write() {
    for _ in 0..RUNS {
        let c = capture_async(read_without_awaiting_the_writer()).await;
        assert_race!(c, on = "flag");
    }
}

#[traced]
async fn two_plain_spawns_increment() {
    let a = tokio::spawn(async { track_write("hits", &0, &1) });
    let b = task::spawn(async { track_write("hits", &0, &1) });
    let _ = (a.await, b.await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_children_of_plain_tokio_spawns_race() {
    for _ in 0..RUNS {
        let c = capture_async(two_plain_spawns_increment()).await;
        assert_race!(c, on = "hits", severity = Critical);
        assert_eq!(count(&c.events, is_spawn), 2);
        assert_eq!(count(&c.events, is_join), 2);
    }
}

// ---- JoinSet, spawn_blocking -----------------------------------------------------------------

#[traced]
async fn join_set_children_write() -> usize {
    let mut set = JoinSet::new();
    for i in 0..2u32 {
        set.spawn(async move { track_write("slot", &0, &i) });
    }
    let mut done = 0;
    while let Some(r) = set.join_next().await {
        r.unwrap();
        done += 1;
    }
    done
}

#[tokio::test]
async fn children_spawned_on_a_join_set_race() {
    for _ in 0..RUNS {
        let c = capture_async(join_set_children_write()).await;
        assert_eq!(c.output, 2);
        assert_race!(c, on = "slot", severity = Critical);
        assert_eq!(count(&c.events, is_spawn), 2, "each JoinSet::spawn is a spawn");
    }
}

#[traced]
async fn blocking_children_write() {
    let a = tokio::task::spawn_blocking(|| track_write("file", &0, &1));
    let b = task::spawn_blocking(|| track_write("file", &0, &2));
    a.await.unwrap();
    b.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_blocking_children_race() {
    for _ in 0..RUNS {
        let c = capture_async(blocking_children_write()).await;
        assert_race!(c, on = "file", severity = Critical);
        assert_eq!(count(&c.events, is_spawn), 2);
    }
}

#[traced]
async fn blocking_writer_then_read() {
    let writer = task::spawn_blocking(|| track_write("file", &0, &1));
    writer.await.unwrap();
    track_read("file", &1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawn_blocking_childs_write_happens_before_the_read_after_awaiting_it() {
    for _ in 0..RUNS {
        let c = capture_async(blocking_writer_then_read()).await;
        assert_no_races!(c);
        assert_eq!(tasks_touching(&c.events, "file").len(), 2);
        assert_eq!(count(&c.events, is_join), 1);
    }
}

// ---- std threads -----------------------------------------------------------------------------

#[traced]
fn scoped_threads_write() {
    thread::scope(|s| {
        s.spawn(|| track_write("matrix", &0, &1));
        s.spawn(|| track_write("matrix", &0, &2));
    });
}

#[test]
fn scoped_threads_race() {
    for _ in 0..RUNS {
        let c = capture(scoped_threads_write);
        assert_race!(c, on = "matrix", severity = Critical);
        assert_eq!(count(&c.events, is_spawn), 2);
    }
}

#[traced]
fn scoped_thread_joined_then_read() -> u32 {
    let mut cell = 0;
    thread::scope(|s| {
        let h = s.spawn(|| {
            track_write("cell", &0, &5);
            5
        });
        cell = h.join().unwrap();
        track_read("cell", &cell);
    });
    cell
}

#[test]
fn a_scoped_threads_write_happens_before_the_read_after_joining_it() {
    for _ in 0..RUNS {
        let c = capture(scoped_thread_joined_then_read);
        assert_eq!(c.output, 5);
        assert_no_races!(c);
        assert_eq!(tasks_touching(&c.events, "cell").len(), 2);
        assert_eq!(count(&c.events, is_join), 1);
    }
}

#[traced]
fn thread_joined_then_read() {
    let writer = thread::spawn(|| track_write("log", &0, &1));
    writer.join().unwrap();
    track_read("log", &1);
    // Straight on the spawn call, too.
    std::thread::spawn(|| track_write("log", &1, &2)).join().unwrap();
    track_read("log", &2);
}

#[test]
fn a_threads_write_happens_before_the_read_after_joining_it() {
    for _ in 0..RUNS {
        let c = capture(thread_joined_then_read);
        assert_no_races!(c);
        // The second child starts after the first was joined, so it continues the first one's
        // identity (one clock component for both, see `TaskState::joined`): two tasks, not three.
        assert_eq!(tasks_touching(&c.events, "log").len(), 2);
        assert_eq!(count(&c.events, is_join), 2);
    }
}

#[traced]
fn raceway_thread_spawn_under_its_short_name() {
    use raceway::thread;
    let writer = thread::spawn(|| track_write("shared", &0, &1));
    writer.join().unwrap();
    track_read("shared", &1);
}

#[test]
fn raceways_own_thread_spawn_imported_as_thread_is_not_made_a_task_twice() {
    for _ in 0..RUNS {
        let c = capture(raceway_thread_spawn_under_its_short_name);
        assert_no_races!(c);
        assert_eq!(tasks_touching(&c.events, "shared").len(), 2);
    }
}

// ---- what is left alone ----------------------------------------------------------------------

struct Pool;

impl Pool {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>) {
        job();
    }
}

struct Barrier(u32);

impl Barrier {
    fn join(&self) -> u32 {
        self.0
    }
}

#[traced]
fn user_types_named_like_spawners(pool: &Pool) -> u32 {
    pool.spawn(Box::new(|| track_write("job", &0, &1)));
    let b = Barrier(3);
    b.join() + Barrier(4).join()
}

#[test]
fn a_users_own_spawn_and_join_methods_are_left_alone() {
    let c = capture(|| user_types_named_like_spawners(&Pool));
    assert_eq!(c.output, 7);
    assert_eq!(count(&c.events, is_spawn), 0);
    assert_eq!(count(&c.events, is_join), 0);
}

#[traced]
async fn awaits_other_futures() -> u32 {
    let ready = std::future::ready(2).await;
    let boxed: std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>> = Box::pin(async { 3 });
    ready + boxed.await
}

#[tokio::test]
async fn awaiting_something_other_than_a_join_handle_records_no_join() {
    let c = capture_async(awaits_other_futures()).await;
    assert_eq!(c.output, 5);
    assert_eq!(count(&c.events, is_join), 0);
}

// ---- the registry is bounded -----------------------------------------------------------------

#[traced]
async fn detach_many(n: usize) {
    let mut last = None;
    for _ in 0..n {
        last = Some(tokio::spawn(async {}));
    }
    // Let them all finish without joining any (detached children).
    while !last.as_ref().is_some_and(|h| h.is_finished()) {
        tokio::task::yield_now().await;
    }
    drop(last);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_children_are_forgotten_beyond_the_registrys_capacity_and_counted() {
    let extra = 100;
    let before = raceway::stats().forgotten_children;
    let _ = capture_async(detach_many(raceway::__private::CAPACITY + extra)).await;
    assert!(raceway::__private::registered_children() <= raceway::__private::CAPACITY);
    let forgotten = raceway::stats().forgotten_children - before;
    assert!(forgotten >= extra as u64, "{forgotten} forgotten");
}
