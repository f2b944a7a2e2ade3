//! Running a future or a closure as a logical task: the task state moves into this thread's slot
//! for each poll (or for the closure) and back out afterwards, also when it unwinds.

use super::local::swap_task;
use super::state::TaskState;
use crate::event::clock::Clock;
use crate::event::id::Uuid;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

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
