//! Per-thread staging of recorded events, so that recording touches no memory shared with other
//! threads except once per [`CHUNK`] events.
//!
//! Each recording thread appends to its own [`Staging`] buffer (an uncontended lock: the exporter
//! takes it only to collect idle threads' events) and hands full buffers to the dispatch as one
//! chunk. Memory is bounded by a budget of events reserved from the dispatch a few at a time, so
//! the decision to drop is taken when an event is recorded, never later: a dropped event never
//! becomes the parent of another.
//!
//! # Why the server still gets parents before children
//!
//! Chunks reach the exporter in the order they were handed over. An event can only become the
//! parent of an event recorded on *another* thread through a hand-over point: a task state leaving
//! the thread (end of a poll, end of a `std` task, a `Context` captured, a spawn). Each of these
//! publishes the thread's staged events first ([`Outbox::publish`]), so an event's cross-thread
//! parents are always in an earlier chunk. Events still staged have no children elsewhere, which
//! is why the exporter may collect them at any time ([`crate::dispatch::Dispatch::collect_staged`]).

use crate::dispatch::{self, Dispatch};
use crate::event::Event;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Events per chunk handed to the exporter.
pub(crate) const CHUNK: usize = 64;

/// One thread's events not yet handed to the exporter. Shared with the dispatch's registry so the
/// exporter can collect them when the thread goes quiet.
///
/// Guarded by a spin flag rather than a `Mutex`: the owner is almost always alone, and releasing
/// with a plain store (a `Mutex` release is an atomic swap) lets the CPU retire the event's stores
/// in the background instead of waiting for them at every event. The exporter holds the flag only
/// to swap the buffer out and queue it.
#[derive(Default)]
pub(crate) struct Staging {
    busy: AtomicBool,
    events: UnsafeCell<Vec<Event>>,
}

// SAFETY: `events` is only accessed through a `StagingGuard`, which holds the `busy` flag.
unsafe impl Sync for Staging {}

impl Staging {
    #[inline(always)]
    fn lock(&self) -> StagingGuard<'_> {
        let mut spins = 0u32;
        while self.busy.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                // The other side was preempted inside its (tiny) critical section.
                std::thread::yield_now();
            }
        }
        StagingGuard(self)
    }

    /// Hands whatever is staged to `dispatch` as one chunk (the exporter's side).
    pub(crate) fn hand_over(&self, dispatch: &Dispatch) {
        let mut events = self.lock();
        if !events.is_empty() {
            // Queued under the flag, so nothing the owner stages later can overtake it.
            let chunk = std::mem::replace(&mut *events, dispatch.spare_chunk(0));
            dispatch.enqueue(chunk);
        }
    }
}

/// Exclusive access to a [`Staging`] buffer until dropped.
struct StagingGuard<'a>(&'a Staging);

impl std::ops::Deref for StagingGuard<'_> {
    type Target = Vec<Event>;
    #[inline(always)]
    fn deref(&self) -> &Vec<Event> {
        // SAFETY: the guard holds the `busy` flag, which gives exclusive access.
        unsafe { &*self.0.events.get() }
    }
}

impl std::ops::DerefMut for StagingGuard<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Vec<Event> {
        // SAFETY: as above.
        unsafe { &mut *self.0.events.get() }
    }
}

impl Drop for StagingGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

/// A thread's link to the installed dispatch: its staging buffer and its unspent budget.
pub(crate) struct Outbox {
    generation: u64,
    dispatch: Arc<Dispatch>,
    staging: Arc<Staging>,
    /// Events this thread may still stage without asking the dispatch.
    credit: usize,
    /// Whether something may be staged (saves taking the lock at hand-over points when not).
    dirty: bool,
}

impl Outbox {
    /// This thread's outbox for the installed dispatch, refreshed after `init`/`shutdown`.
    #[inline]
    pub(crate) fn current(slot: &mut Option<Outbox>) -> Option<&mut Outbox> {
        let generation = dispatch::generation();
        if !matches!(slot, Some(o) if o.generation == generation) {
            // Dropping the old outbox hands its events and budget back to the old dispatch.
            *slot = dispatch::current().map(|d| Outbox::new(generation, d));
        }
        slot.as_mut()
    }

    fn new(generation: u64, dispatch: Arc<Dispatch>) -> Self {
        let staging = Arc::new(Staging::default());
        dispatch.register(staging.clone());
        Outbox { generation, dispatch, staging, credit: 0, dirty: false }
    }

    /// Takes one event's worth of budget; false (and the drop counted) when the dispatch is full.
    #[inline(always)]
    pub(crate) fn take_credit(&mut self) -> bool {
        if self.credit == 0 {
            self.credit = self.dispatch.reserve();
            if self.credit == 0 {
                self.dispatch.count_dropped();
                return false;
            }
        }
        self.credit -= 1;
        true
    }

    /// Stages the event `make` builds (paid for by [`Outbox::take_credit`]), built directly in
    /// the buffer; a full buffer goes to the exporter. Returns the event's id and timestamp.
    #[inline(always)]
    pub(crate) fn stage(&mut self, make: impl FnOnce() -> Event) -> (crate::id::Uuid, u64) {
        let mut events = self.staging.lock();
        if events.len() == events.capacity() {
            // A few slots first (a quiet thread stays small), then room for the whole chunk at
            // once rather than by doubling, which would copy the events staged so far each time.
            let more = if events.capacity() == 0 { 8 } else { CHUNK.saturating_sub(events.len()).max(1) };
            events.reserve_exact(more);
        }
        // Written straight into the buffer's free slot: `push(make())` would build the ~260-byte
        // event on the stack first and copy it.
        let len = events.len();
        let staged = match events.spare_capacity_mut().first_mut() {
            Some(slot) => {
                let event = slot.write(make());
                let staged = (event.id, event.timestamp_ns);
                // SAFETY: the slot at `len` was just initialised, and is within the capacity.
                unsafe { events.set_len(len + 1) };
                staged
            }
            None => return (crate::id::Uuid::from_u128(0), 0), // unreachable: capacity reserved above
        };
        if events.len() >= CHUNK {
            let chunk = std::mem::replace(&mut *events, self.dispatch.spare_chunk(CHUNK));
            self.dispatch.enqueue(chunk);
        }
        self.dirty = true;
        staged
    }

    /// Hands every staged event to the exporter and returns the unspent budget. Called wherever
    /// an event id or a task state may leave this thread (see the module docs).
    pub(crate) fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.staging.hand_over(&self.dispatch);
        if self.credit > 0 {
            self.dispatch.release(self.credit);
            self.credit = 0;
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.dirty = true;
        self.publish();
    }
}
