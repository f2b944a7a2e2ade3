//! Capturing events in tests: run code under a private trace and get back what it recorded.
//!
//! Captures need no `init` and no server, and tests running in parallel in one process do not see
//! each other's events: each capture is its own trace, inherited by the tasks it spawns.

use crate::context::{Capture, Context};
use crate::event::Event;
use std::future::Future;
use std::sync::Arc;

/// What a capture returns: the closure's output and the events recorded under it, in order.
#[derive(Debug)]
#[non_exhaustive]
pub struct Captured<R> {
    /// The closure's (or future's) output.
    pub output: R,
    /// Every event recorded by the captured code and the tasks it spawned, in recording order.
    pub events: Vec<Event>,
}

struct Listening;

impl Listening {
    fn new() -> Self {
        crate::dispatch::add_listener();
        Listening
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        crate::dispatch::remove_listener();
    }
}

fn take(buf: &Capture) -> Vec<Event> {
    std::mem::take(&mut *buf.events.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Runs `f` in a new trace and returns the events it recorded.
///
/// ```
/// let captured = raceway::testing::capture(|| {
///     raceway::track_write("x", &0, &1);
///     7
/// });
/// assert_eq!(captured.output, 7);
/// assert_eq!(captured.events.len(), 1);
/// ```
pub fn capture<R>(f: impl FnOnce() -> R) -> Captured<R> {
    let _on = Listening::new();
    let buf = Arc::new(Capture::default());
    let output = Context::new().capturing(buf.clone()).in_scope(f);
    Captured { output, events: take(&buf) }
}

/// Runs `future` as a new task in a new trace and returns the events it recorded (including those
/// of tasks it spawned and joined).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let captured = raceway::testing::capture_async(async {
///     raceway::spawn(async { raceway::track_write("x", &0, &1) }).await.unwrap();
/// }).await;
/// assert_eq!(captured.events.len(), 3); // spawn, write, join
/// # }
/// ```
pub async fn capture_async<F: Future>(future: F) -> Captured<F::Output> {
    let _on = Listening::new();
    let buf = Arc::new(Capture::default());
    let output = Context::new().capturing(buf.clone()).scope(future).await;
    Captured { output, events: take(&buf) }
}
