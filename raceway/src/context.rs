//! The trace context: which logical task is running, in which trace, after which event.
//!
//! Each logical task owns a [`TaskState`]. While a task runs, its state sits in this thread's
//! [`Local`] slot; an instrumented future moves its state in at every poll and back out when the
//! poll ends, so the state follows the task across `.await` and across worker threads, and two
//! tasks sharing a worker thread never share an identity. A plain thread that records without any
//! context gets its own task and a new trace, kept for the thread's life.

use crate::clock::{Clock, Component};
use crate::event::Span;
use crate::id::{TaskId, Uuid};
use crate::staging::Outbox;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

/// Data shared by all tasks of one trace context (one request, one `Context::new()`).
#[derive(Debug)]
pub(crate) struct Trace {
    pub id: Uuid,
    pub span: Option<Span>,
    /// When set (by `raceway::testing`), events go to this buffer instead of the exporter.
    pub capture: Option<Arc<Capture>>,
}

/// A scoped buffer of events (test captures).
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub events: Mutex<Vec<crate::event::Event>>,
}

/// The state of one running logical task.
#[derive(Debug)]
pub(crate) struct TaskState {
    pub trace: Arc<Trace>,
    pub task: TaskId,
    /// The last event this task recorded: the parent of its next one.
    pub last: Option<Uuid>,
    pub clock: Clock,
}

impl TaskState {
    /// A new task in `trace`, whose first event descends from `parent`, inheriting `clock`.
    pub(crate) fn fork(trace: Arc<Trace>, parent: Option<Uuid>, clock: Option<&Clock>) -> Self {
        let task = TaskId::next();
        let clock = match clock {
            Some(c) => c.fork(task),
            None => Clock::new(task),
        };
        TaskState { trace, task, last: parent, clock }
    }

    /// A new task in a new trace.
    pub(crate) fn root() -> Self {
        let trace = Arc::new(Trace { id: Uuid::new_v4(), span: None, capture: None });
        Self::fork(trace, None, None)
    }

    pub(crate) fn snapshot(&self) -> Context {
        Context { trace: self.trace.clone(), parent: self.last, clock: Some(self.clock.clone()) }
    }
}

/// Per-thread slot: the running task and this thread's outbox to the dispatch.
pub(crate) struct Local {
    pub task: Option<TaskState>,
    pub out: Option<Outbox>,
}

impl Local {
    /// The running task, creating a root task (new trace) when there is none.
    #[inline]
    pub(crate) fn task(&mut self) -> &mut TaskState {
        self.task.get_or_insert_with(TaskState::root)
    }

    /// Hands this thread's staged events to the exporter: called wherever an event id or a task
    /// state may leave the thread, so that parents reach the server before children.
    #[inline]
    pub(crate) fn publish(&mut self) {
        if let Some(out) = &mut self.out {
            out.publish();
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = const { RefCell::new(Local { task: None, out: None }) };
}

/// Runs `f` on this thread's slot. Returns `None` (and does nothing) when the slot is in use
/// (re-entrant recording, e.g. from a `Serialize` impl) or the thread is being torn down:
/// instrumentation must never panic the host.
#[inline(always)]
pub(crate) fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    LOCAL.try_with(|l| l.try_borrow_mut().ok().map(|mut l| f(&mut l))).ok().flatten()
}

/// The test capture of the running task, inherited by contexts created under it so that a capture
/// also sees the requests and new traces its code starts.
fn current_capture() -> Option<Arc<Capture>> {
    with_local(|l| l.task.as_ref().and_then(|t| t.trace.capture.clone())).flatten()
}

/// Installs `state` as the running task, returning what was running before.
fn swap_task(state: Option<TaskState>) -> Result<Option<TaskState>, Option<TaskState>> {
    let mut state = Some(state);
    let prev = with_local(|l| {
        // The outgoing state may continue on another thread.
        l.publish();
        std::mem::replace(&mut l.task, state.take().flatten())
    });
    match prev {
        Some(prev) => Ok(prev),
        None => Err(state.flatten()),
    }
}

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

    /// A context for the trace `trace_id` (e.g. an id received from elsewhere).
    pub fn with_trace_id(trace_id: Uuid) -> Self {
        Context {
            trace: Arc::new(Trace { id: trace_id, span: None, capture: current_capture() }),
            parent: None,
            clock: None,
        }
    }

    /// A context from the parts of an incoming request (used by the HTTP integrations).
    pub(crate) fn from_parts(trace_id: Uuid, span: Option<Span>, clock: Vec<(Component, u64)>) -> Self {
        let trace = Arc::new(Trace { id: trace_id, span, capture: current_capture() });
        let clock = (!clock.is_empty()).then(|| Clock::with_base(TaskId::next(), clock));
        Context { trace, parent: None, clock }
    }

    /// The running task's position (Go: `GetRacewayContext`); `None` outside any trace.
    pub fn current() -> Option<Self> {
        with_local(|l| {
            // The context may be entered on another thread: its parent must be queued first.
            l.publish();
            l.task.as_ref().map(TaskState::snapshot)
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
        let trace = Arc::new(Trace { id: self.trace.id, span: self.trace.span.clone(), capture: Some(capture) });
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

/// Where an instrumented task leaves its final position, for whoever joins it.
#[derive(Debug, Default)]
pub(crate) struct EndSlot(pub Mutex<Option<(Option<Uuid>, Clock)>>);

impl EndSlot {
    fn store(&self, state: &TaskState) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some((state.last, state.clock.clone()));
    }

    pub(crate) fn take(&self) -> Option<(Option<Uuid>, Clock)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A future running as its own logical task: it carries its task state across `.await`s and
/// worker threads. Made by [`Context::scope`], [`crate::spawn`], [`crate::fork`] and the macros.
#[must_use = "futures do nothing unless polled"]
pub struct Instrumented<F> {
    inner: F,
    state: Option<TaskState>,
    end: Option<Arc<EndSlot>>,
}

impl<F> Instrumented<F> {
    pub(crate) fn new(inner: F, state: TaskState, end: Option<Arc<EndSlot>>) -> Self {
        Instrumented { inner, state: Some(state), end }
    }
}

/// Puts the task state back into the future when a poll ends, even by unwinding.
struct PollGuard<'a> {
    slot: &'a mut Option<TaskState>,
    prev: Option<Option<TaskState>>,
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        if let Some(prev) = self.prev.take() {
            if let Ok(mine) = swap_task(prev) {
                *self.slot = mine;
            }
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self` and is dropped
        // in place. The other fields are not pinned and are only accessed by `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let guard = match swap_task(this.state.take()) {
            Ok(prev) => Some(PollGuard { slot: &mut this.state, prev: Some(prev) }),
            Err(state) => {
                // Slot unavailable (thread teardown): run uninstrumented rather than fail.
                this.state = state;
                None
            }
        };
        let out = inner.poll(cx);
        drop(guard);
        if out.is_ready() {
            if let (Some(end), Some(state)) = (&this.end, &this.state) {
                end.store(state);
            }
        }
        out
    }
}

impl<F> Drop for Instrumented<F> {
    fn drop(&mut self) {
        // A cancelled or panicked task still reports where it got to.
        if let (Some(end), Some(state)) = (&self.end, &self.state) {
            end.store(state);
        }
    }
}

/// Runs `f` with this thread's running task installed as `state` (for `std::thread` children).
pub(crate) fn run_as_task<R>(state: TaskState, end: Option<Arc<EndSlot>>, f: impl FnOnce() -> R) -> R {
    struct Restore {
        prev: Option<Option<TaskState>>,
        end: Option<Arc<EndSlot>>,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(prev) = self.prev.take() {
                if let Ok(Some(mine)) = swap_task(prev) {
                    if let Some(end) = &self.end {
                        end.store(&mine);
                    }
                }
            }
        }
    }
    let _restore = Restore { prev: swap_task(Some(state)).ok(), end };
    f()
}

/// Runs `f` with `state` (when `Some`) installed as the running task, and puts the task's
/// updated state back into `state` afterwards, also when `f` unwinds. Used by `#[traced]` futures
/// that had to start their own task because nothing was running when they were first polled.
pub(crate) fn with_task<R>(state: &mut Option<TaskState>, f: impl FnOnce() -> R) -> R {
    if state.is_none() {
        return f();
    }
    let guard = match swap_task(state.take()) {
        Ok(prev) => Some(PollGuard { slot: state, prev: Some(prev) }),
        Err(back) => {
            *state = back;
            None
        }
    };
    let r = f();
    drop(guard);
    r
}
