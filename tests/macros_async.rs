//! `#[raceway::traced]` on `async fn`, `impl Future`/`Box::pin` shapes and `async fn` in traits:
//! the whole future is the call, on the task that awaits it.

use raceway::testing::capture_async;
use raceway::{Context, Event, EventKind};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

fn kinds(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match &e.kind {
            EventKind::FunctionCall { function_name, .. } => format!("call {function_name}"),
            EventKind::FunctionExit { function_name, .. } => format!("exit {function_name}"),
            EventKind::StateChange { variable, .. } => format!("write {variable}"),
            EventKind::AsyncSpawn { .. } => "spawn".into(),
            EventKind::AsyncAwait { .. } => "join".into(),
            EventKind::Error { message, .. } => format!("error {message}"),
            other => format!("{other:?}"),
        })
        .collect()
}

const FETCH_LINE: u32 = line!() + 2;
#[raceway::traced(ret)]
async fn fetch(user: &str, delay_ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    raceway::track_write("cache", &(), &user);
    format!("hello {user}")
}

#[tokio::test]
async fn an_async_fn_is_one_call_spanning_its_awaits_on_the_awaiting_task() {
    let c = capture_async(async {
        let me = Context::current_task();
        (fetch("alice", 5).await, me)
    })
    .await;
    let (out, me) = c.output;
    assert_eq!(out, "hello alice");
    assert_eq!(kinds(&c.events), ["call fetch", "write cache", "exit fetch"]);
    assert!(c.events.iter().all(|e| Some(e.task) == me), "runs in the caller's task");
    for pair in c.events.windows(2) {
        assert_eq!(pair[1].parent_id, Some(pair[0].id));
    }
    match &c.events[0].kind {
        EventKind::FunctionCall { args, location, module, .. } => {
            assert_eq!(args, &json!({"user": "alice", "delay_ms": 5}));
            assert_eq!((location.file, location.line), (file!(), FETCH_LINE));
            assert_eq!(*module, module_path!());
        }
        other => panic!("{other:?}"),
    }
    match &c.events[2].kind {
        EventKind::FunctionExit { return_value, panicked, .. } => {
            assert_eq!(return_value, &json!("hello alice"));
            assert!(!panicked);
        }
        other => panic!("{other:?}"),
    }
    assert!(c.events[2].duration_ns.unwrap() >= 5_000_000, "the duration covers the awaits");
}

#[derive(Debug)]
struct NotFound(String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} not found", self.0)
    }
}

async fn lookup(key: &str) -> Result<u32, NotFound> {
    tokio::task::yield_now().await;
    if key == "a" {
        Ok(1)
    } else {
        Err(NotFound(key.into()))
    }
}

#[raceway::traced(err)]
async fn load(key: String) -> Result<u32, NotFound> {
    let v = lookup(&key).await?;
    Ok(v + 1)
}

#[tokio::test]
async fn err_in_an_async_fn_records_the_error_through_question_mark() {
    let c = capture_async(async { (load("a".into()).await.unwrap(), load("zz".into()).await.is_err()) }).await;
    assert_eq!(c.output, (2, true));
    assert_eq!(kinds(&c.events), ["call load", "exit load", "call load", "error zz not found", "exit load"]);
}

#[raceway::traced]
async fn child_work(n: u32) -> u32 {
    raceway::track_write("child.n", &(), &n);
    n + 1
}

#[tokio::test]
async fn a_traced_async_fn_spawned_with_raceway_spawn_runs_in_the_child_task() {
    let c = capture_async(async {
        let h = raceway::spawn(child_work(41));
        let child = h.task();
        (h.await.unwrap(), child, Context::current_task())
    })
    .await;
    let (out, child, parent) = c.output;
    assert_eq!(out, 42);
    assert_eq!(kinds(&c.events), ["spawn", "call child_work", "write child.n", "exit child_work", "join"]);
    assert_eq!(c.events[0].task, parent.unwrap());
    assert_eq!(c.events[1].parent_id, Some(c.events[0].id), "the call descends from the spawn");
    assert!(c.events[1..4].iter().all(|e| Some(e.task) == child));
    assert_eq!(c.events[4].parent_id, Some(c.events[3].id), "the join descends from the child's end");
    assert_eq!(c.events[4].task, parent.unwrap());
}

#[raceway::traced]
async fn whoami() -> (Option<raceway::TaskId>, Option<raceway::Uuid>) {
    tokio::task::yield_now().await;
    (Context::current_task(), Context::current().map(|c| c.trace_id()))
}

#[test]
fn an_async_fn_polled_outside_any_task_starts_its_own_trace_and_leaves_the_thread_clean() {
    // Make the SDK listen (a capture on this thread), then poll futures on a plain thread that
    // has no task: each traced future must become its own task in its own trace.
    let listening = raceway::testing::capture(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (a, b) = rt.block_on(async { tokio::join!(whoami(), whoami()) });
            (a, b, Context::current_task())
        })
        .join()
        .unwrap()
    });
    let ((task_a, trace_a), (task_b, trace_b), left_behind) = listening.output;
    assert!(task_a.is_some() && task_b.is_some());
    assert_ne!(task_a, task_b, "two futures sharing a thread are two tasks");
    assert_ne!(trace_a, trace_b, "each starts its own trace");
    assert_eq!(left_behind, None, "no task is left installed on the executor thread");
}

struct Store;

impl Store {
    #[raceway::traced(ret)]
    fn get(&self, key: u32) -> impl Future<Output = u32> + '_ {
        async move {
            tokio::task::yield_now().await;
            key * 10
        }
    }

    #[allow(clippy::manual_async_fn)]
    #[raceway::traced(err)]
    fn put(&self, key: u32) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            if key == 0 {
                Err("key 0 is reserved".to_string())
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test]
async fn impl_future_and_boxed_future_shapes_record_the_inner_future_as_the_call() {
    let c = capture_async(async {
        let s = Store;
        let v = s.get(4).await;
        let r = s.put(0).await;
        (v, r)
    })
    .await;
    assert_eq!(c.output.0, 40);
    assert!(c.output.1.is_err());
    assert_eq!(kinds(&c.events), ["call get", "exit get", "call put", "error key 0 is reserved", "exit put"]);
    match &c.events[1].kind {
        EventKind::FunctionExit { return_value, .. } => assert_eq!(return_value, &json!(40)),
        other => panic!("{other:?}"),
    }
}

trait Repo {
    async fn count(&self, table: &str) -> usize;
}

struct Pg;

impl Repo for Pg {
    #[raceway::traced]
    async fn count(&self, table: &str) -> usize {
        tokio::task::yield_now().await;
        table.len()
    }
}

#[tokio::test]
async fn async_fn_in_a_trait_impl_is_traced() {
    let c = capture_async(async { Pg.count("users").await }).await;
    assert_eq!(c.output, 5);
    assert_eq!(kinds(&c.events), ["call count", "exit count"]);
}

#[tokio::test]
async fn a_cancelled_async_call_records_its_end_on_its_task() {
    let c = capture_async(async {
        let slow = fetch("bob", 10_000);
        tokio::time::timeout(Duration::from_millis(5), slow).await.is_err()
    })
    .await;
    assert!(c.output, "timed out");
    assert_eq!(kinds(&c.events), ["call fetch", "exit fetch"]);
    assert_eq!(c.events[0].task, c.events[1].task);
}
