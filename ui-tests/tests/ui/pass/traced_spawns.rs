// #[traced] bodies that spawn and join with tokio's and std's own functions keep compiling, and
// warning-free, whatever the rewrite does: handles stored under their own types, `?` and `.await`
// chains, scoped threads, generic spawns, and user functions and types that are merely named like
// spawners and joiners. `tests/compile_off.rs` also builds this file with `raceway`'s default
// features off.
#![deny(warnings)]

use std::cell::Cell;
use std::thread;
use tokio::task::{self, JoinHandle, JoinSet};

struct Worker {
    task: JoinHandle<()>,
    thread: Option<thread::JoinHandle<u32>>,
}

#[raceway::traced]
async fn start() -> Worker {
    let task = tokio::spawn(async {});
    Worker { task, thread: Some(thread::spawn(|| 1)) }
}

#[raceway::traced]
async fn stop(worker: Worker) -> Result<u32, Box<dyn std::error::Error>> {
    worker.task.await?;
    let n = worker.thread.map(|t| t.join().unwrap()).unwrap_or(0);
    let doubled = tokio::task::spawn_blocking(move || n * 2).await.unwrap();
    Ok(doubled)
}

#[raceway::traced]
async fn join_set() -> usize {
    let mut set = JoinSet::new();
    set.spawn(async { 1 });
    set.spawn_blocking(|| 2);
    let mut total = 0;
    while let Some(r) = set.join_next().await {
        total += r.unwrap();
    }
    total
}

#[raceway::traced]
async fn local() -> u8 {
    task::spawn_local(async { 7 }).await.unwrap()
}

// Awaiting a `!Sync` future inside a future that must stay `Send`.
#[raceway::traced]
async fn not_sync_awaited() -> u32 {
    let counter = async {
        let c = Cell::new(1);
        c.set(c.get() + 1);
        c.get()
    };
    counter.await
}

#[raceway::traced]
fn scoped(data: &[u32]) -> u32 {
    thread::scope(|s| {
        let handles: Vec<thread::ScopedJoinHandle<'_, u32>> = data.iter().map(|&x| s.spawn(move || x * 10)).collect();
        let first = s.spawn(|| data.len() as u32).join().unwrap();
        first + handles.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
    })
}

#[raceway::traced]
fn generic<F: FnOnce() -> u32 + Send + 'static>(f: F) -> u32 {
    thread::spawn(f).join().unwrap()
}

// A user's own spawn function and a `task` module of their own, taking boxed jobs.
fn spawn(job: Box<dyn FnOnce() + Send>) {
    job()
}

mod user {
    pub mod task {
        pub fn spawn(job: Box<dyn FnOnce() -> u32 + Send>) -> u32 {
            job()
        }
    }
}

struct Group(u32);

impl Group {
    fn join(self) -> u32 {
        self.0
    }
}

struct Pool;

impl Pool {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>) {
        job()
    }
}

#[raceway::traced]
fn named_like_spawners(pool: &Pool) -> u32 {
    spawn(Box::new(|| {}));
    pool.spawn(Box::new(|| {}));
    let from_user_task = {
        use user::task;
        task::spawn(Box::new(|| 3))
    };
    let group = Group(4);
    group.join() + Group(5).join() + from_user_task
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let worker = rt.block_on(assert_send(start()));
    assert_eq!(rt.block_on(assert_send(stop(worker))).unwrap(), 2);
    assert_eq!(rt.block_on(assert_send(join_set())), 3);
    assert_eq!(rt.block_on(task::LocalSet::new().run_until(local())), 7);
    assert_eq!(rt.block_on(assert_send(not_sync_awaited())), 2);
    assert_eq!(scoped(&[1, 2]), 32);
    assert_eq!(generic(|| 5), 5);
    assert_eq!(named_like_spawners(&Pool), 12);
}
