//! The per-thread slot: which task runs on this thread now, and the thread's outbox.

use super::state::{Capture, TaskState};
use crate::stage::outbox::Outbox;
use std::cell::RefCell;
use std::sync::Arc;

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
pub(super) fn current_capture() -> Option<Arc<Capture>> {
    with_local(|l| l.task.as_ref().and_then(|t| t.trace.capture.clone())).flatten()
}

/// Installs `state` as the running task, returning what was running before.
pub(super) fn swap_task(state: Option<TaskState>) -> Result<Option<TaskState>, Option<TaskState>> {
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
