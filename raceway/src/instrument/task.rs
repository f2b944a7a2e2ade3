//! Spawning and joining logical tasks so that the server can order them.
//!
//! A spawn records `AsyncSpawn` in the parent; the child gets a new task identity whose first
//! event descends from that spawn event. A join records `AsyncAwait` in the parent *descending
//! from the child's last event* and merges the child's clock, so the server orders everything the
//! child did before what the parent does after the join (contract §3).

use crate::context::{with_local, EndSlot, Instrumented, TaskState};
use crate::event::id::TaskId;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::EventKind;
use crate::record::{record, record_linked, Link};
use crate::stage::switch::enabled;
use std::future::Future;
use std::sync::Arc;

/// Records the spawn and builds the child's state (`None` when the SDK is off).
pub(super) fn fork_state(location: Location, name: Option<Name>) -> Option<(TaskState, Arc<EndSlot>)> {
    if !enabled() {
        return None;
    }
    // A child this task joined has ended: its id (and clock component) can go on as the new
    // child, which starts after everything it did (see `TaskState::joined`). Otherwise a new id,
    // carrying the parent's service (a layer's `service_name`): the joined child had it too.
    let (reusable, service) = with_local(|l| {
        let parent = l.task();
        (parent.joined.pop(), parent.trace.service)
    })?;
    let child = reusable.unwrap_or_else(|| TaskId::next_in(service));
    record(EventKind::AsyncSpawn { child, location, name }, None);
    let state = with_local(|l| {
        let parent = l.task();
        let clock = parent.clock.fork(child);
        let state = TaskState {
            trace: parent.trace.clone(),
            task: child,
            last: parent.last,
            clock,
            scoped: true,
            joined: Vec::new(),
            handed_out: false,
        };
        // The child may run on another thread: the spawn event must be queued before its events.
        l.publish();
        state
    })?;
    Some((state, Arc::new(EndSlot::default())))
}

/// Records the join of `child` on the running task.
pub(super) fn record_join(child: TaskId, end: &EndSlot, location: Location) {
    if !enabled() {
        return;
    }
    let (child_last, child_clock) = match end.take() {
        Some((last, clock)) => (last, Some(clock)),
        None => (None, None),
    };
    record_linked(EventKind::AsyncAwait { child, location }, None.into(), Link::Join { child_last, child_clock });
}

/// Remembers what to record when a forked task is joined. See [`fork`].
#[derive(Debug)]
pub struct Joiner {
    child: Option<(TaskId, Arc<EndSlot>)>,
    /// Where the task was forked: the join location `JoinHandle` records, since a `poll` cannot
    /// know its caller (only used with the `tokio` feature).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    location: Location,
}

impl Joiner {
    /// Records the join (`AsyncAwait`) on the running task. Call it after the forked future has
    /// completed, e.g. right after awaiting the handle your executor returned.
    #[track_caller]
    pub fn joined(self) {
        if let Some((child, end)) = &self.child {
            record_join(*child, end, Location::caller());
        }
    }

    /// The forked task's identity (`None` when the SDK is off).
    pub fn task(&self) -> Option<TaskId> {
        self.child.as_ref().map(|(t, _)| *t)
    }
}

/// Makes `future` a new logical task for any executor: records `AsyncSpawn` now and returns the
/// instrumented future plus a [`Joiner`] to record the join.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (task, joiner) = raceway::fork(async { 1 + 1 });
/// let handle = tokio::task::spawn(task); // or smol::spawn, a JoinSet, ...
/// let two = handle.await.unwrap();
/// joiner.joined();
/// assert_eq!(two, 2);
/// # }
/// ```
#[track_caller]
pub fn fork<F: Future>(future: F) -> (Forked<F>, Joiner) {
    fork_with(future, None)
}

#[track_caller]
fn fork_with<F: Future>(future: F, name: Option<Name>) -> (Forked<F>, Joiner) {
    let location = Location::caller();
    match fork_state(location, name) {
        Some((state, end)) => {
            let child = state.task;
            (
                Forked(Inner::On(Instrumented::new(future, state, Some(end.clone())))),
                Joiner { child: Some((child, end)), location },
            )
        }
        None => (Forked(Inner::Off(future)), Joiner { child: None, location }),
    }
}

/// A future made a logical task by [`fork`] or [`spawn`].
#[must_use = "futures do nothing unless polled"]
pub struct Forked<F>(Inner<F>);

enum Inner<F> {
    On(Instrumented<F>),
    Off(F),
}

impl<F: Future> Future for Forked<F> {
    type Output = F::Output;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        // SAFETY: structural pinning of the only field; nothing is moved out.
        unsafe {
            match &mut self.get_unchecked_mut().0 {
                Inner::On(f) => std::pin::Pin::new_unchecked(f).poll(cx),
                Inner::Off(f) => std::pin::Pin::new_unchecked(f).poll(cx),
            }
        }
    }
}

/// Spawns `future` on the current tokio runtime as a new logical task (records `AsyncSpawn`).
/// Awaiting the handle records `AsyncAwait` after the child's last event.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let handle = raceway::spawn(async { raceway::track_write("x", &0, &1) });
/// handle.await.unwrap();
/// # }
/// ```
///
/// # Panics
/// Like `tokio::spawn`, when called outside a tokio runtime.
#[cfg(feature = "tokio")]
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (task, joiner) = fork_with(future, None);
    JoinHandle { inner: tokio::spawn(task), joiner: Some(joiner) }
}

/// [`spawn`] with a name for reports: a race report then says `task worker-3` instead of the
/// generated `thread_id` (which stays the task's identity on the wire, see the README's "Task
/// names"). With instrumentation off this is `tokio::spawn`, and the name is dropped (tokio
/// names tasks only under `tokio_unstable`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let c = raceway::testing::capture_async(async {
///     let h = raceway::spawn_named("worker-3", async { raceway::track_write("x", &0, &1) });
///     raceway::track_write("x", &0, &2);
///     h.await.unwrap();
/// }).await;
/// let race = &c.report.races[0];
/// assert!([&race.first, &race.second].iter().any(|a| a.task_name.as_deref() == Some("worker-3")));
/// # }
/// ```
///
/// # Panics
/// Like `tokio::spawn`, when called outside a tokio runtime.
#[cfg(feature = "tokio")]
#[track_caller]
pub fn spawn_named<F>(name: impl Into<Name>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (task, joiner) = fork_with(future, Some(name.into()));
    JoinHandle { inner: tokio::spawn(task), joiner: Some(joiner) }
}

/// The handle of a task started by [`spawn`]: a `tokio::task::JoinHandle` that records the join.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct JoinHandle<T> {
    inner: tokio::task::JoinHandle<T>,
    joiner: Option<Joiner>,
}

#[cfg(feature = "tokio")]
impl<T> JoinHandle<T> {
    /// Aborts the task (see `tokio::task::JoinHandle::abort`).
    pub fn abort(&self) {
        self.inner.abort();
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The child's logical task (`None` when the SDK is off).
    pub fn task(&self) -> Option<TaskId> {
        self.joiner.as_ref().and_then(Joiner::task)
    }
}

#[cfg(feature = "tokio")]
impl<T> Future for JoinHandle<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let out = std::pin::Pin::new(&mut self.inner).poll(cx);
        if out.is_ready() {
            if let Some(j) = self.joiner.take() {
                if let Some((child, end)) = &j.child {
                    record_join(*child, end, j.location);
                }
            }
        }
        out
    }
}

/// `std::thread` with task tracking: [`thread::spawn`](crate::thread::spawn) records the spawn,
/// and [`JoinHandle::join`](crate::thread::JoinHandle::join) the join.
pub mod thread {
    use super::*;

    /// Spawns a thread running `f` as a new logical task.
    ///
    /// ```
    /// let h = raceway::thread::spawn(|| raceway::track_write("x", &0, &1));
    /// h.join().unwrap();
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_with(std::thread::Builder::new(), None, Location::caller(), f).expect("failed to spawn thread")
    }

    /// [`spawn`] with a name: the OS thread's name (as `std::thread::Builder::name`) and the
    /// task's name in reports (`task worker-3` instead of the generated `thread_id`, which
    /// stays the identity on the wire). Panics like `std::thread::spawn` if the thread cannot
    /// be created.
    ///
    /// ```
    /// let c = raceway::testing::capture(|| {
    ///     let h = raceway::thread::spawn_named("worker-3", || raceway::track_write("x", &0, &1));
    ///     raceway::track_write("x", &0, &2);
    ///     h.join().unwrap();
    /// });
    /// let race = &c.report.races[0];
    /// assert!([&race.first, &race.second].iter().any(|a| a.task_name.as_deref() == Some("worker-3")));
    /// ```
    #[track_caller]
    pub fn spawn_named<F, T>(name: impl Into<String>, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Builder::new().name(name.into()).spawn(f).expect("failed to spawn thread")
    }

    /// `std::thread::Builder` with task tracking: a name given with [`Builder::name`] names the
    /// OS thread and the task in reports.
    ///
    /// ```
    /// let h = raceway::thread::Builder::new().name("flusher".into()).stack_size(256 * 1024)
    ///     .spawn(|| std::thread::current().name().map(str::to_owned))?;
    /// assert_eq!(h.join().unwrap().as_deref(), Some("flusher"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[derive(Debug, Default)]
    pub struct Builder {
        name: Option<String>,
        stack_size: Option<usize>,
    }

    impl Builder {
        /// A builder with no name and the default stack size.
        pub fn new() -> Self {
            Self::default()
        }

        /// Names the thread and its task (see `std::thread::Builder::name`).
        pub fn name(mut self, name: String) -> Self {
            self.name = Some(name);
            self
        }

        /// The thread's stack size (see `std::thread::Builder::stack_size`).
        pub fn stack_size(mut self, size: usize) -> Self {
            self.stack_size = Some(size);
            self
        }

        /// Spawns the thread as a new logical task; an error when the OS refuses the thread.
        #[track_caller]
        pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
        where
            F: FnOnce() -> T + Send + 'static,
            T: Send + 'static,
        {
            let mut inner = std::thread::Builder::new();
            if let Some(n) = &self.name {
                inner = inner.name(n.clone());
            }
            if let Some(size) = self.stack_size {
                inner = inner.stack_size(size);
            }
            let task_name = self.name.map(Name::from);
            spawn_with(inner, task_name, Location::caller(), f)
        }
    }

    fn spawn_with<F, T>(
        builder: std::thread::Builder,
        name: Option<Name>,
        at: Location,
        f: F,
    ) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let forked = fork_state(at, name);
        let (child, end) = match &forked {
            Some((state, end)) => (Some(state.task), Some(end.clone())),
            None => (None, None),
        };
        let inner = builder.spawn(move || match forked {
            // Marked, so that a closure `#[traced]` already made a task (`thread::spawn(|| ..)`
            // with this module imported as `thread`) runs as this thread's task, not a second one.
            Some((state, end)) => {
                crate::context::run_as_task(state, Some(end), || crate::instrument::spawned::adopted(f))
            }
            None => f(),
        })?;
        Ok(JoinHandle { inner, child, end })
    }

    /// The handle of a thread started by [`spawn`].
    #[derive(Debug)]
    pub struct JoinHandle<T> {
        inner: std::thread::JoinHandle<T>,
        child: Option<TaskId>,
        end: Option<Arc<EndSlot>>,
    }

    impl<T> JoinHandle<T> {
        /// Waits for the thread and records the join (`AsyncAwait`), also when it panicked.
        #[track_caller]
        pub fn join(self) -> std::thread::Result<T> {
            let location = Location::caller();
            let r = self.inner.join();
            if let (Some(child), Some(end)) = (self.child, &self.end) {
                record_join(child, end, location);
            }
            r
        }

        /// The underlying thread.
        pub fn thread(&self) -> &std::thread::Thread {
            self.inner.thread()
        }
    }
}
