//! The bounded hand-over queue between recording threads and the delivery thread.
//!
//! Recording threads stage events in their own buffers ([`super::staging`]) and queue them here
//! in chunks. The bound is a budget: `held` counts everything recorded and not yet taken by the
//! worker (staged, queued, or reserved by a thread and not yet spent), and a thread reserves a
//! few events' worth at a time so that the shared counter is touched once per few events.

use super::chunk::Chunk;
use super::stats::Counters;
use crate::event::Event;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Events per chunk handed to the queue.
pub(crate) const CHUNK: usize = 64;

/// Spare chunk buffers kept for reuse.
#[cfg(raceway_on)]
const SPARES: usize = 64;

pub(crate) struct Queue {
    /// Chunks of events in hand-over order.
    #[cfg(raceway_on)]
    chunks: crossbeam_queue::SegQueue<Chunk>,
    /// Emptied chunk buffers, reused so that staging does not allocate per chunk.
    #[cfg(raceway_on)]
    spares: crossbeam_queue::ArrayQueue<Chunk>,
    /// Events in `chunks`.
    queued: AtomicUsize,
    /// Events staged or queued (plus budget threads reserved but have not spent): at most `capacity`.
    held: AtomicUsize,
    capacity: usize,
    /// Budget a thread reserves at a time: large enough to keep threads off the shared counter,
    /// small enough that a few idle threads cannot hoard a small queue.
    credit_step: usize,
    pub counters: Counters,
    /// Queue length at which recorders wake the worker instead of letting it sleep out the interval.
    wake_at: usize,
    wake_pending: AtomicBool,
    worker: std::sync::OnceLock<std::thread::Thread>,
}

impl Queue {
    pub(crate) fn new(capacity: usize, wake_at: usize) -> Self {
        let capacity = capacity.max(1);
        Queue {
            #[cfg(raceway_on)]
            chunks: crossbeam_queue::SegQueue::new(),
            #[cfg(raceway_on)]
            spares: crossbeam_queue::ArrayQueue::new(SPARES),
            queued: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            capacity,
            credit_step: (capacity / 64).clamp(1, CHUNK),
            counters: Counters::default(),
            wake_at: wake_at.max(1),
            wake_pending: AtomicBool::new(false),
            worker: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn set_worker(&self, t: std::thread::Thread) {
        let _ = self.worker.set(t);
    }

    /// Reserves budget for a few events; 0 when the queue is full.
    #[inline]
    pub(crate) fn reserve(&self) -> usize {
        if self.held.load(Ordering::Relaxed) >= self.capacity {
            return 0;
        }
        let want = self.credit_step;
        let before = self.held.fetch_add(want, Ordering::Relaxed);
        // `before` counts every earlier reservation, refunded or not, so grants never add up to
        // more than the capacity.
        let grant = want.min(self.capacity.saturating_sub(before));
        if grant < want {
            self.held.fetch_sub(want - grant, Ordering::Relaxed);
        }
        grant
    }

    /// Whether more than half the budget is held: staged events should be collected now rather
    /// than at the next flush interval, or a fast recorder runs out of budget and drops.
    #[inline]
    pub(crate) fn half_held(&self) -> bool {
        self.held.load(Ordering::Relaxed) > self.capacity / 2
    }

    /// One event's worth of budget beyond the capacity, for an event that carries order (a spawn,
    /// a join, a lock acquire or release, a handoff): dropping one of those would invent or hide
    /// races, so they may use a reserve as large as the capacity that access events never touch
    /// (access events are the bulk of what a program records; the queue's memory bound doubles).
    /// 0 when the reserve is spent too.
    #[cold]
    pub(crate) fn reserve_for_order(&self) -> usize {
        let limit = 2 * self.capacity;
        let before = self.held.fetch_add(1, Ordering::Relaxed);
        if before >= limit {
            self.held.fetch_sub(1, Ordering::Relaxed);
            return 0;
        }
        1
    }

    /// Returns unspent budget.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::Relaxed);
    }

    #[cold]
    pub(crate) fn count_dropped(&self) {
        self.counters.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
    }

    /// An empty buffer for the next chunk: a recycled one, else a new one with room for
    /// `capacity` events (a thread that just filled a chunk gets a whole one; a thread handing
    /// over a few events gets one that allocates only when used, so quiet threads stay small).
    pub(crate) fn spare_chunk(&self, capacity: usize) -> Chunk {
        #[cfg(raceway_on)]
        if let Some(v) = self.spares.pop() {
            return v;
        }
        Chunk::with_capacity(capacity)
    }

    /// Queues a chunk of events, waking the worker when a batch is ready.
    pub(crate) fn enqueue(&self, chunk: Chunk) {
        let n = chunk.len();
        #[cfg(raceway_on)]
        self.chunks.push(chunk);
        #[cfg(not(raceway_on))]
        drop(chunk);
        let queued = self.queued.fetch_add(n, Ordering::AcqRel) + n;
        if queued >= self.wake_at
            && !self.wake_pending.load(Ordering::Relaxed)
            && !self.wake_pending.swap(true, Ordering::AcqRel)
        {
            self.wake();
        }
    }

    /// Takes queued events, oldest first, whole chunks at a time until at least `max` (or none
    /// are left).
    pub(crate) fn pop_into(&self, out: &mut Vec<Event>, max: usize) -> usize {
        self.wake_pending.store(false, Ordering::Release);
        #[cfg(raceway_on)]
        {
            let mut n = 0;
            while n < max {
                let Some(mut chunk) = self.chunks.pop() else { break };
                // Counted as staged (what the budget was taken for), then expanded here, on the
                // delivery thread: the recording thread staged only compact records (`chunk.rs`).
                n += chunk.len();
                chunk.expand_into(out);
                let _ = self.spares.push(chunk);
            }
            self.queued.fetch_sub(n, Ordering::AcqRel);
            self.held.fetch_sub(n, Ordering::Relaxed);
            n
        }
        #[cfg(not(raceway_on))]
        {
            let _ = (out, max);
            0
        }
    }

    /// Events queued for the exporter (not counting those still staged by recording threads).
    pub(crate) fn len(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Whether a delivery thread is attached (flushing without one has nothing to wait for).
    pub(crate) fn has_worker(&self) -> bool {
        self.worker.get().is_some()
    }

    pub(crate) fn wake(&self) {
        if let Some(t) = self.worker.get() {
            t.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_reservations_never_exceed_the_capacity() {
        let d = Arc::new(Queue::new(1000, 100));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let d = d.clone();
                std::thread::spawn(move || {
                    let mut granted = 0;
                    loop {
                        match d.reserve() {
                            0 => break granted,
                            n => granted += n,
                        }
                    }
                })
            })
            .collect();
        let mut granted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert!(granted <= 1000, "{granted} granted");
        // Whatever over-reservations were refunded meanwhile can still be had, up to the cap.
        while let n @ 1.. = d.reserve() {
            granted += n;
        }
        assert_eq!(granted, 1000);
        d.release(10);
        assert_eq!(d.reserve(), 10, "released budget is granted again, no more");
        assert_eq!(d.reserve(), 0);
    }
}
