//! The per-thread slot: which task runs on this thread now, and the thread's outbox.

use super::adopted::{self, Adopted, Home, Key};
use super::state::{Capture, TaskState};
use crate::event::service::ServiceId;
use crate::stage::outbox::Outbox;
use std::cell::RefCell;
use std::sync::Arc;

/// Per-thread slot: the running task and this thread's outbox to the dispatch.
pub(crate) struct Local {
    /// The task installed on this thread (scoped), or the thread's own root task.
    pub task: Option<TaskState>,
    pub out: Option<Outbox>,
    /// The registry entry of the last tokio task the SDK did not see start that recorded here.
    adopted: Option<(Key, Arc<Adopted>)>,
    /// The test capture that tasks first seen on this thread belong to, if any.
    home: Option<Home>,
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

    /// Runs `f` with the tokio task `key` (one the SDK did not see start) as the running task:
    /// its state is taken from the registry into the slot and put back afterwards.
    #[cold]
    #[inline(never)]
    fn as_adopted<R>(&mut self, key: Key, f: impl FnOnce(&mut Local) -> R) -> R {
        let entry = match &self.adopted {
            Some((k, e)) if *k == key => e.clone(),
            _ => {
                let e = adopted::entry(key);
                self.adopted = Some((key, e.clone()));
                e
            }
        };
        let (state, staged_in) = entry.take(self.home.as_ref());
        // The task's last event may wait in another thread's buffer (it moved here between two
        // polls, with no hand-over point the SDK could see): queue that buffer first, so that
        // parents still reach the server before children.
        if let Some((generation, staging)) = &staged_in {
            let here = self.out.as_ref().map(|o| o.staging());
            if !here.is_some_and(|(g, s)| g == *generation && Arc::ptr_eq(s, staging)) {
                crate::stage::outbox::hand_over_staged(*generation, staging);
            }
        }
        let own = self.task.replace(state);
        let r = f(self);
        let state = std::mem::replace(&mut self.task, own);
        if let Some(state) = state {
            entry.put(state, self.out.as_ref().map(Outbox::staging));
        }
        r
    }
}

thread_local! {
    static LOCAL: RefCell<Local> =
        const { RefCell::new(Local { task: None, out: None, adopted: None, home: None }) };
}

/// Runs `f` on this thread's slot, with the running task in `task`: the scoped task installed
/// here, else the tokio task running here if the SDK did not see it start, else the thread's own
/// task. Returns `None` (and does nothing) when the slot is in use (re-entrant recording, e.g.
/// from a `Serialize` impl) or the thread is being torn down: instrumentation must never panic
/// the host.
#[inline(always)]
pub(crate) fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    with_slot(|l| {
        if !matches!(&l.task, Some(t) if t.scoped) {
            if let Some(key) = adopted::current() {
                return l.as_adopted(key, f);
            }
        }
        f(l)
    })
}

/// The slot as it is, without resolving the running task (for installing and restoring tasks).
#[inline(always)]
fn with_slot<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    LOCAL.try_with(|l| l.try_borrow_mut().ok().map(|mut l| f(&mut l))).ok().flatten()
}

/// Makes `home` this thread's home capture (see `adopted.rs`).
pub(super) fn set_home(home: Home) {
    with_slot(|l| l.home = Some(home));
}

/// The test capture of the running task, inherited by contexts created under it so that a capture
/// also sees the requests and new traces its code starts.
pub(super) fn current_capture() -> Option<Arc<Capture>> {
    with_local(|l| l.task.as_ref().and_then(|t| t.trace.capture.clone())).flatten()
}

/// The running task's service: a trace started from a service's code stays that service's.
pub(super) fn current_service() -> ServiceId {
    with_local(|l| l.task.as_ref().map(|t| t.trace.service)).flatten().unwrap_or(ServiceId::PROCESS)
}

/// Installs `state` as the running task, returning what was running before.
pub(super) fn swap_task(state: Option<TaskState>) -> Result<Option<TaskState>, Option<TaskState>> {
    let mut state = Some(state);
    let prev = with_slot(|l| {
        // The outgoing state may continue on another thread.
        l.publish();
        std::mem::replace(&mut l.task, state.take().flatten())
    });
    match prev {
        Some(prev) => Ok(prev),
        None => Err(state.flatten()),
    }
}
