//! The trace context: which logical task is running, in which trace, after which event.
//!
//! Each logical task owns a [`TaskState`]. While a task runs, its state sits in this thread's
//! [`Local`] slot; an instrumented future moves its state in at every poll and back out when the
//! poll ends, so the state follows the task across `.await` and across worker threads, and two
//! tasks sharing a worker thread never share an identity. A plain thread that records without any
//! context gets its own task and a new trace, kept for the thread's life.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Context`], the public handle on a trace position, and [`EnterGuard`] |
//! | `state.rs` | [`TaskState`] (task id, last event, vector clock) and [`Trace`] |
//! | `local.rs` | the per-thread slot ([`Local`]) and how a task state moves in and out of it |
//! | `instrumented.rs` | [`Instrumented`] futures and closures run as a task; the join slot |
//! | `adopted.rs` | tasks the SDK did not see start (plain `tokio::spawn`): an identity each, kept in a bounded registry |
//! | `process.rs` | the process identity (service, instance, pid): thread ids and clock components |

pub(crate) mod adopted;
mod instrumented;
mod local;
pub(crate) mod process;
mod state;

pub use instrumented::Instrumented;
pub(crate) use instrumented::{run_as_task, with_task, EndSlot};
pub(crate) use local::{borrow_slot, with_local, AdoptedVisit, Local};
pub(crate) use state::{Capture, TaskState, Trace};

use crate::event::clock::{Clock, Component};
use crate::event::id::{TaskId, Uuid};
use crate::event::service::ServiceId;
use crate::event::Span;
use local::{current_capture, current_service, swap_task};
use std::future::Future;
use std::sync::Arc;

/// A captured trace position, to continue a trace elsewhere: another task, a thread, a background
/// job that outlives the request. The Rust form of the Go SDK's `RacewayContext`.
///
/// Entering a `Context` (with [`Context::scope`], [`Context::in_scope`] or [`Context::enter`])
/// starts a **new logical task** in the same trace, whose first event descends from the point
/// where the context was captured, so the server orders what happened before the capture before
/// everything the new task does.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // Go: raceway.GetRacewayContext(ctx) ... raceway.WithRacewayContext(bg, raceCtx)
/// let ctx = raceway::Context::current_or_new();
/// let background = tokio::spawn(ctx.clone().scope(async move {
///     raceway::track_custom("cleanup", &"started");
/// }));
/// background.await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    pub(crate) trace: Arc<Trace>,
    pub(crate) parent: Option<Uuid>,
    pub(crate) clock: Option<Clock>,
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

impl Context {
    /// A context for a new trace with a random id (Go: `NewRacewayContext`).
    pub fn new() -> Self {
        Self::with_trace_id(Uuid::new_v4())
    }

    /// A context for the trace `trace_id` (e.g. an id received from elsewhere). Started inside a
    /// request of a named service (`RacewayLayer::service_name`), it is that service's work too.
    pub fn with_trace_id(trace_id: Uuid) -> Self {
        let service = current_service();
        Context {
            trace: Arc::new(Trace { id: trace_id, span: None, capture: current_capture(), service }),
            parent: None,
            clock: None,
        }
    }

    /// A context from the parts of an incoming request to `service` (used by the HTTP
    /// integrations).
    pub(crate) fn from_parts(
        trace_id: Uuid,
        span: Option<Span>,
        clock: Vec<(Component, u64)>,
        service: ServiceId,
    ) -> Self {
        let trace = Arc::new(Trace { id: trace_id, span, capture: current_capture(), service });
        let clock = (!clock.is_empty()).then(|| Clock::with_base(TaskId::next_in(service), clock));
        Context { trace, parent: None, clock }
    }

    /// The running task's position (Go: `GetRacewayContext`); `None` outside any trace.
    pub fn current() -> Option<Self> {
        with_local(|l| {
            // The context may be entered on another thread: its parent must be queued first.
            l.publish();
            l.task.as_mut().map(TaskState::snapshot)
        })
        .flatten()
    }

    /// The running task's position, or a new trace when there is none.
    pub fn current_or_new() -> Self {
        Self::current().unwrap_or_default()
    }

    /// The running logical task, if any.
    pub fn current_task() -> Option<TaskId> {
        with_local(|l| l.task.as_ref().map(|t| t.task)).flatten()
    }

    /// This context's trace id.
    pub fn trace_id(&self) -> Uuid {
        self.trace.id
    }

    /// The distributed span data of the request this context belongs to, if any.
    pub fn span(&self) -> Option<&Span> {
        self.trace.span.as_ref()
    }

    /// Same trace position, but events recorded under it go to `capture` (test harness).
    pub(crate) fn capturing(&self, capture: Arc<Capture>) -> Self {
        let trace = Arc::new(Trace {
            id: self.trace.id,
            span: self.trace.span.clone(),
            capture: Some(capture),
            service: self.trace.service,
        });
        Context { trace, parent: self.parent, clock: self.clock.clone() }
    }

    pub(crate) fn into_task(self) -> TaskState {
        TaskState::fork(self.trace, self.parent, self.clock.as_ref())
    }

    /// Runs `future` as a new logical task of this context (Go: `WithRacewayContext`).
    pub fn scope<F: Future>(self, future: F) -> Instrumented<F> {
        Instrumented::new(future, self.into_task(), None)
    }

    /// Runs `f` on this thread as a new logical task of this context.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let _g = self.enter();
        f()
    }

    /// Makes this thread run a new logical task of this context until the guard drops.
    ///
    /// Prefer [`Context::scope`] in async code: a guard held across `.await` would lend the task
    /// to whatever else runs on the thread.
    pub fn enter(self) -> EnterGuard {
        let prev = swap_task(Some(self.into_task())).unwrap_or(None);
        EnterGuard { prev: Some(prev), _not_send: std::marker::PhantomData }
    }
}

/// Restores the previously running task when dropped. See [`Context::enter`].
///
/// ```
/// let ctx = raceway::Context::new();
/// let trace = ctx.trace_id();
/// let guard = ctx.enter();
/// assert_eq!(raceway::Context::current().map(|c| c.trace_id()), Some(trace));
/// drop(guard);
/// ```
#[must_use = "the context is left as soon as the guard is dropped"]
pub struct EnterGuard {
    prev: Option<Option<TaskState>>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        if let Some(prev) = self.prev.take() {
            let _ = swap_task(prev);
        }
    }
}
