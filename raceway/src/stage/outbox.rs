//! A recording thread's side of the stage: its staging buffer and its unspent budget, refreshed
//! when the installed dispatch changes.

use super::dispatch::{self, Dispatch};
use super::queue::CHUNK;
use super::staging::Staging;
use crate::event::id::Uuid;
use crate::event::Event;
use std::sync::Arc;

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
    /// `carries_order`: the event orders tasks (spawn, join, lock, handoff) and may use the
    /// queue's reserve rather than be dropped.
    #[inline(always)]
    pub(crate) fn take_credit(&mut self, carries_order: bool) -> bool {
        if self.credit == 0 {
            self.credit = self.dispatch.queue.reserve();
            if self.credit == 0 {
                self.credit = self.out_of_budget(carries_order);
                if self.credit == 0 {
                    self.dispatch.queue.count_dropped();
                    return false;
                }
            }
        }
        self.credit -= 1;
        true
    }

    /// The queue is full. A lossless dispatch (the embedded analyzer as the only sink) waits for
    /// the delivery thread to make room, so that the analysis sees every event; otherwise an
    /// event that carries order takes from the reserve, and any other event is dropped.
    #[cold]
    #[inline(never)]
    fn out_of_budget(&mut self, carries_order: bool) -> usize {
        if self.dispatch.lossless {
            return self.wait_for_budget();
        }
        if carries_order {
            return self.dispatch.queue.reserve_for_order();
        }
        0
    }

    /// Back-pressure for the lossless dispatch: hands this thread's staged events over, asks the
    /// delivery thread to collect every thread's, and waits until it has analysed enough to free
    /// budget. Analysis is CPU work on the delivery thread (never I/O), so the wait is bounded by
    /// the analyzer's speed; it gives up (and the event is dropped and counted) only once the
    /// pipeline is shutting down or after [`MAX_WAIT`], so a stuck delivery thread cannot hang
    /// the program.
    fn wait_for_budget(&mut self) -> usize {
        self.dirty = true;
        self.publish();
        let deadline = std::time::Instant::now() + MAX_WAIT;
        let mut spins = 0u32;
        loop {
            self.dispatch.request_collection();
            let n = self.dispatch.queue.reserve();
            if n > 0 {
                return n;
            }
            if self.dispatch.stopping.load(std::sync::atomic::Ordering::Acquire)
                || std::time::Instant::now() >= deadline
            {
                return 0;
            }
            spins += 1;
            if spins < 16 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
    }

    /// Stages the event `fill` writes (paid for by [`Outbox::take_credit`]) directly into the
    /// buffer's free slot; a full buffer goes to the exporter. Returns the event's id and
    /// timestamp.
    ///
    /// `fill` must initialise every field of the slot (see `record::stamp_into`): it gets the
    /// slot rather than returning an `Event` because a returned event is built in a stack
    /// temporary and then copied into the slot whole (~270 bytes, ~40 instructions and the
    /// cache lines of both), which the compiler does not elide.
    #[inline(always)]
    pub(crate) fn stage(&mut self, fill: impl FnOnce(&mut std::mem::MaybeUninit<Event>)) -> (Uuid, u64) {
        let mut events = self.staging.lock();
        if events.len() == events.capacity() {
            // A few slots first (a quiet thread stays small), then room for the whole chunk at
            // once rather than by doubling, which would copy the events staged so far each time.
            let more = if events.capacity() == 0 { 8 } else { CHUNK.saturating_sub(events.len()).max(1) };
            events.reserve_exact(more);
        }
        let len = events.len();
        let staged = match events.spare_capacity_mut().first_mut() {
            Some(slot) => {
                fill(slot);
                // SAFETY: `fill` initialised every field of the slot (its contract above).
                let event = unsafe { slot.assume_init_ref() };
                let staged = (event.id, event.timestamp_ns);
                // SAFETY: the slot at `len` was just initialised, and is within the capacity.
                unsafe { events.set_len(len + 1) };
                staged
            }
            None => return (Uuid::from_u128(0), 0), // unreachable: capacity reserved above
        };
        if events.len() >= CHUNK {
            let chunk = std::mem::replace(&mut *events, self.dispatch.queue.spare_chunk(CHUNK));
            self.dispatch.queue.enqueue(chunk);
        }
        self.dirty = true;
        staged
    }

    /// Where this thread stages its events, and for which dispatch (its generation).
    pub(crate) fn staging(&self) -> (u64, &Arc<Staging>) {
        (self.generation, &self.staging)
    }

    /// Hands every staged event to the exporter and returns the unspent budget. Called wherever
    /// an event id or a task state may leave this thread (see the module docs).
    pub(crate) fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.staging.hand_over(&self.dispatch.queue);
        if self.credit > 0 {
            self.dispatch.queue.release(self.credit);
            self.credit = 0;
        }
    }
}

/// Longest a recording thread waits for room in a lossless dispatch.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Queues what `staging` holds (a buffer registered with the dispatch of `generation`), so that
/// an event staged there reaches the exporter before any event staged elsewhere from now on.
/// Used when a task's state moved to another thread without a hand-over point (a tokio task the
/// SDK did not see start, resumed on another worker): its last event may still wait in the
/// buffer of the thread it left.
pub(crate) fn hand_over_staged(generation: u64, staging: &Staging) {
    if dispatch::generation() != generation {
        return; // that dispatch is gone: its events were delivered or counted at shutdown
    }
    if let Some(d) = dispatch::current() {
        staging.hand_over(&d.queue);
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.dirty = true;
        self.publish();
    }
}
