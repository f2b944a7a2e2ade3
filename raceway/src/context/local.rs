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

    /// The tokio task running on this thread that the SDK did not see start, when it (rather than
    /// the task in the slot) is the running task: see [`with_local`].
    #[inline(always)]
    pub(crate) fn adopted_key(&self) -> Option<Key> {
        if matches!(&self.task, Some(t) if t.scoped) {
            return None;
        }
        adopted::current()
    }

    /// Runs `f` with the tokio task `key` (one the SDK did not see start) as the running task:
    /// its state is taken from the registry into the slot and put back afterwards.
    #[cold]
    #[inline(never)]
    pub(crate) fn as_adopted<R>(&mut self, key: Key, f: impl FnOnce(&mut Local) -> R) -> R {
        let visit = self.enter_adopted(key);
        let r = f(self);
        self.leave_adopted(visit);
        r
    }

    /// Makes the tokio task `key` the running task: its state moves from the registry into the
    /// slot until [`Local::leave_adopted`]. In two halves, not a closure, so that the recording
    /// hot path never hands the event it records to a function that is not inlined (which would
    /// force the event into memory, see `record.rs`).
    #[cold]
    #[inline(never)]
    pub(crate) fn enter_adopted(&mut self, key: Key) -> AdoptedVisit {
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
        AdoptedVisit { entry, own }
    }

    /// Puts the adopted task's state back in the registry and the thread's own task back in the
    /// slot.
    #[cold]
    #[inline(never)]
    pub(crate) fn leave_adopted(&mut self, visit: AdoptedVisit) {
        let state = std::mem::replace(&mut self.task, visit.own);
        if let Some(state) = state {
            visit.entry.put(state, self.out.as_ref().map(Outbox::staging));
        }
    }
}

/// An adopted task running in a thread's slot ([`Local::enter_adopted`]): what to put back.
#[must_use = "the adopted task's state must be put back with `Local::leave_adopted`"]
pub(crate) struct AdoptedVisit {
    entry: Arc<Adopted>,
    own: Option<TaskState>,
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
    with_slot(|l| match l.adopted_key() {
        Some(key) => l.as_adopted(key, f),
        None => f(l),
    })
}

/// The slot as it is, without resolving the running task (for installing and restoring tasks,
/// and for the recording hot path, which resolves it itself: see `record.rs`).
#[inline(always)]
pub(crate) fn with_slot<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    LOCAL.try_with(|l| l.try_borrow_mut().ok().map(|mut l| f(&mut l))).ok().flatten()
}

/// The slot, borrowed: [`with_slot`] without a closure, for the recording hot path (`record.rs`).
/// An event moved into a closure is copied whole at each layer of `LocalKey::try_with` and
/// `RefCell::try_borrow_mut` (the compiler keeps such closures in memory), which the hot path
/// cannot afford; with the guard in hand the event goes straight into its staging slot.
///
/// # Safety
///
/// The guard must be dropped before the calling function returns, and never leave the thread:
/// its `'static` stands for "while this thread's locals are alive", which holds only for as long
/// as the caller keeps running on this thread.
#[inline(always)]
pub(crate) unsafe fn borrow_slot() -> Option<std::cell::RefMut<'static, Local>> {
    let cell: *const RefCell<Local> = LOCAL.try_with(|l| l as *const RefCell<Local>).ok()?;
    // SAFETY: a thread-local lives until this thread's destructors run, which cannot happen while
    // the caller runs on it; the caller keeps the guard no longer than that (this function's
    // contract), and `try_with` refused above if the destructors had started.
    unsafe { &*cell }.try_borrow_mut().ok()
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
