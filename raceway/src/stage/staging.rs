//! Per-thread staging of recorded events (as compact records, `chunk.rs`), so that recording touches no memory shared with other
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
//! is why the delivery thread may collect them at any time ([`super::dispatch::Dispatch::collect_staged`]).

use super::chunk::Chunk;
use super::queue::Queue;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

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
    events: UnsafeCell<Chunk>,
}

// SAFETY: `events` is only accessed through a `StagingGuard`, which holds the `busy` flag.
unsafe impl Sync for Staging {}

impl Staging {
    #[inline(always)]
    pub(super) fn lock(&self) -> StagingGuard<'_> {
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

    /// Hands whatever is staged to `queue` as one chunk (the delivery thread's side).
    pub(crate) fn hand_over(&self, queue: &Queue) {
        let mut events = self.lock();
        if !events.is_empty() {
            // Queued under the flag, so nothing the owner stages later can overtake it.
            let chunk = std::mem::replace(&mut *events, queue.spare_chunk(0));
            queue.enqueue(chunk);
        }
    }
}

/// Exclusive access to a [`Staging`] buffer until dropped.
pub(super) struct StagingGuard<'a>(&'a Staging);

impl std::ops::Deref for StagingGuard<'_> {
    type Target = Chunk;
    #[inline(always)]
    fn deref(&self) -> &Chunk {
        // SAFETY: the guard holds the `busy` flag, which gives exclusive access.
        unsafe { &*self.0.events.get() }
    }
}

impl std::ops::DerefMut for StagingGuard<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Chunk {
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
