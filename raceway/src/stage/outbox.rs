//! A recording thread's side of the stage: its staging buffer and its unspent budget, refreshed
//! when the installed dispatch changes.

use super::chunk::{Context, Staged};
use super::dispatch::{self, Dispatch};
use super::queue::Queue;
use super::queue::CHUNK;
use super::staging::{Staging, StagingGuard};
use crate::event::id::{IdSeq, Uuid};
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
    /// This thread's event ids.
    ids: IdSeq,
}

impl Outbox {
    /// This thread's outbox for the installed dispatch, refreshed after `init`/`shutdown`.
    #[inline(always)]
    pub(crate) fn current(slot: &mut Option<Outbox>) -> Option<&mut Outbox> {
        let generation = dispatch::generation();
        if !matches!(slot, Some(o) if o.generation == generation) {
            Self::refresh(slot, generation);
        }
        slot.as_mut()
    }

    /// After `init`/`shutdown` (or on the thread's first event): dropping the old outbox hands
    /// its events and budget back to the old dispatch.
    #[cold]
    #[inline(never)]
    fn refresh(slot: &mut Option<Outbox>, generation: u64) {
        *slot = dispatch::current().map(|d| Outbox::new(generation, d));
    }

    fn new(generation: u64, dispatch: Arc<Dispatch>) -> Self {
        let staging = Arc::new(Staging::new());
        dispatch.register(staging.clone());
        Outbox { generation, dispatch, staging, credit: 0, dirty: false, ids: IdSeq::new() }
    }

    /// Takes one event's worth of budget; false (and the drop counted) when the dispatch is full.
    /// `carries_order`: the event orders tasks (spawn, join, lock, handoff) and may use the
    /// queue's reserve rather than be dropped.
    #[inline(always)]
    pub(crate) fn take_credit(&mut self, carries_order: bool) -> bool {
        if self.credit == 0 {
            self.credit = self.dispatch.queue.reserve();
            // Once per refill, not per event: past half the budget, staged events (in every
            // thread's buffer, counted against the budget) are collected now. Waiting for the
            // flush interval let a program recording 100 k events/s drop most of them while the
            // delivery thread slept (BENCHMARKS.md, issue 13's "off" runs).
            if self.dispatch.queue.half_held() {
                self.dispatch.request_collection();
            }
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

    /// Opens the staging buffer's free slot for the next record (paid for by
    /// [`Outbox::take_credit`]), in the task context `cx`. The caller writes the record at
    /// [`Slot::as_mut_ptr`] and [`Slot::commit`]s it; a slot dropped uncommitted stages nothing.
    ///
    /// A slot rather than a closure that fills it, or a returned record: a closure moves the
    /// event kind it captures (and a returned value is built in a stack temporary), and the
    /// compiler copies either whole into the slot (BENCHMARKS.md, issue 17).
    #[inline(always)]
    pub(crate) fn slot(&mut self, cx: Context<'_>) -> Slot<'_> {
        let id = self.ids.next();
        let mut chunk = self.staging.lock_own();
        if chunk.is_empty() {
            self.staging.note_pending();
        }
        chunk.note_context(cx);
        let records = &mut chunk.records;
        if records.len() == records.capacity() {
            // A few slots first (a quiet thread stays small), then room for the whole chunk at
            // once rather than by doubling, which would copy the records staged so far each time.
            let more = if records.capacity() == 0 { 8 } else { CHUNK.saturating_sub(records.len()).max(1) };
            records.reserve_exact(more);
        }
        // The first spare slot: there is one, reserved above.
        let at = records.spare_capacity_mut().as_mut_ptr().cast::<Staged>();
        self.dirty = true;
        Slot { chunk, queue: &self.dispatch.queue, at, id }
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
        self.staging.hand_over_own(&self.dispatch.queue);
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
pub(crate) fn hand_over_staged(generation: u64, staging: &Arc<Staging>) {
    if dispatch::generation() != generation {
        return; // that dispatch is gone: its events were delivered or counted at shutdown
    }
    if let Some(d) = dispatch::current() {
        staging.hand_over_elsewhere(&d.queue);
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.dirty = true;
        self.publish();
    }
}

/// The staging buffer's next slot, held locked until committed or dropped ([`Outbox::slot`]).
pub(crate) struct Slot<'a> {
    chunk: StagingGuard<'a>,
    queue: &'a Queue,
    at: *mut Staged,
    id: Uuid,
}

impl Slot<'_> {
    /// The id of the event to be written here (from the thread's sequence).
    #[inline(always)]
    pub(crate) fn id(&self) -> Uuid {
        self.id
    }

    /// Where to write the record: valid for writes of one `Staged`, uninitialised.
    #[inline(always)]
    pub(crate) fn as_mut_ptr(&mut self) -> *mut Staged {
        self.at
    }

    /// Stages the record written at [`Slot::as_mut_ptr`]; a full buffer goes to the exporter.
    /// Returns the event's id and timestamp.
    ///
    /// # Safety
    ///
    /// Every field of the record at [`Slot::as_mut_ptr`] must have been initialised.
    #[inline(always)]
    pub(crate) unsafe fn commit(mut self) -> (Uuid, u64) {
        // SAFETY: the caller initialised the record (this function's contract).
        let timestamp_ns = unsafe { (*self.at).timestamp_ns };
        let records = &mut self.chunk.records;
        let len = records.len();
        // SAFETY: the slot at `len` (`at`) is initialised and within the capacity reserved by
        // `Outbox::slot`, and the buffer has stayed locked since.
        unsafe { records.set_len(len + 1) };
        if self.chunk.len() >= CHUNK {
            let full = std::mem::replace(&mut *self.chunk, self.queue.spare_chunk(CHUNK));
            self.queue.enqueue(full);
        }
        (self.id, timestamp_ns)
    }
}
