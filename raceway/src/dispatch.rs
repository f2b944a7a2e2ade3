//! Where recorded events go: the process-wide switch and the bounded queue to the exporter.
//!
//! The hot path is: one relaxed load of [`LISTENERS`], one thread-local access, one append to the
//! thread's own staging buffer ([`crate::staging`]). No global lock is taken: each thread caches an
//! `Arc` of the current [`Dispatch`] and revalidates it with a relaxed load of [`GENERATION`], which
//! changes only at `init` and `shutdown`.

use crate::event::Event;
use crate::staging::Staging;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Number of reasons to record: an installed client plus active test captures. Zero means every
/// tracking call returns after this one relaxed load.
static LISTENERS: AtomicU32 = AtomicU32::new(0);
/// Bumped whenever the installed dispatch changes, so per-thread caches know to refresh.
static GENERATION: AtomicU64 = AtomicU64::new(0);
static CURRENT: Mutex<Option<Arc<Dispatch>>> = Mutex::new(None);

/// Whether anything records: compile-time false without the `enabled` feature.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    cfg!(feature = "enabled") && LISTENERS.load(Ordering::Relaxed) != 0
}

pub(crate) fn add_listener() {
    LISTENERS.fetch_add(1, Ordering::AcqRel);
}

pub(crate) fn remove_listener() {
    LISTENERS.fetch_sub(1, Ordering::AcqRel);
}

#[inline]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// The installed dispatch, if any (slow path: used to refresh per-thread caches).
pub(crate) fn current() -> Option<Arc<Dispatch>> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Installs `d`; fails if one is installed.
pub(crate) fn install(d: Arc<Dispatch>) -> bool {
    let mut cur = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    if cur.is_some() {
        return false;
    }
    *cur = Some(d);
    GENERATION.fetch_add(1, Ordering::AcqRel);
    add_listener();
    true
}

/// Uninstalls and returns the current dispatch.
pub(crate) fn uninstall() -> Option<Arc<Dispatch>> {
    let mut cur = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    let d = cur.take();
    if d.is_some() {
        GENERATION.fetch_add(1, Ordering::AcqRel);
        remove_listener();
    }
    d
}

/// Counters of what happened to events, readable with [`crate::stats`].
#[derive(Default, Debug)]
pub(crate) struct Counters {
    pub dropped_queue_full: AtomicU64,
    pub delivered: AtomicU64,
    pub rejected: AtomicU64,
    pub undeliverable: AtomicU64,
    pub server_dropped: AtomicU64,
    pub retries: AtomicU64,
    pub batches: AtomicU64,
}

/// A snapshot of the exporter's counters.
///
/// ```
/// let s = raceway::stats();
/// assert_eq!(s.dropped_queue_full, 0);
/// ```
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Events dropped at recording time because the queue was full.
    pub dropped_queue_full: u64,
    /// Events accepted by every sink (the server answered 200 or 206).
    pub delivered: u64,
    /// Events the server refused (4xx other than 429, or 500) and that were not retried.
    pub rejected: u64,
    /// Events whose fate is unknown or that could not be delivered before shutdown (timeout after
    /// sending, connection lost mid-request, shutdown deadline).
    pub undeliverable: u64,
    /// Events the server reported dropping from its own queue (206 answers).
    pub server_dropped: u64,
    /// Requests retried (connection refused, 429, 502, 503, 504).
    pub retries: u64,
    /// Requests that reached the server.
    pub batches: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            dropped_queue_full: l(&self.dropped_queue_full),
            delivered: l(&self.delivered),
            rejected: l(&self.rejected),
            undeliverable: l(&self.undeliverable),
            server_dropped: l(&self.server_dropped),
            retries: l(&self.retries),
            batches: l(&self.batches),
        }
    }
}

/// The link between recording threads and the exporter worker.
///
/// Recording threads stage events in their own buffers ([`crate::staging`]) and queue them here
/// in chunks; `held` bounds everything recorded and not yet taken by the exporter.
pub(crate) struct Dispatch {
    /// Chunks of events in hand-over order.
    #[cfg(feature = "enabled")]
    chunks: crossbeam_queue::SegQueue<Vec<Event>>,
    /// Emptied chunk buffers, reused so that staging does not allocate per chunk.
    #[cfg(feature = "enabled")]
    spares: crossbeam_queue::ArrayQueue<Vec<Event>>,
    /// Events in `chunks`.
    queued: AtomicUsize,
    /// Events staged or queued (plus budget threads reserved but have not spent): at most `capacity`.
    held: AtomicUsize,
    capacity: usize,
    /// Budget a thread reserves at a time: large enough to keep threads off the shared counter,
    /// small enough that a few idle threads cannot hoard a small queue.
    credit_step: usize,
    /// Every live thread's staging buffer, for collecting events of threads that went quiet.
    stagings: Mutex<Vec<Arc<Staging>>>,
    pub counters: Counters,
    /// Queue length at which recorders wake the worker instead of letting it sleep out the interval.
    wake_at: usize,
    wake_pending: AtomicBool,
    worker: std::sync::OnceLock<std::thread::Thread>,
    /// Flush requests: (requested, completed) generations.
    pub flush: Mutex<(u64, u64)>,
    pub flushed: std::sync::Condvar,
    pub stopping: AtomicBool,
    shutdown_deadline: Mutex<Option<std::time::Instant>>,
}

/// Spare chunk buffers kept for reuse.
#[cfg(feature = "enabled")]
const SPARES: usize = 64;

impl Dispatch {
    pub(crate) fn new(capacity: usize, wake_at: usize) -> Self {
        let capacity = capacity.max(1);
        Dispatch {
            #[cfg(feature = "enabled")]
            chunks: crossbeam_queue::SegQueue::new(),
            #[cfg(feature = "enabled")]
            spares: crossbeam_queue::ArrayQueue::new(SPARES),
            queued: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            capacity,
            credit_step: (capacity / 64).clamp(1, crate::staging::CHUNK),
            stagings: Mutex::new(Vec::new()),
            counters: Counters::default(),
            wake_at: wake_at.max(1),
            wake_pending: AtomicBool::new(false),
            worker: std::sync::OnceLock::new(),
            flush: Mutex::new((0, 0)),
            flushed: std::sync::Condvar::new(),
            stopping: AtomicBool::new(false),
            shutdown_deadline: Mutex::new(None),
        }
    }

    pub(crate) fn set_worker(&self, t: std::thread::Thread) {
        let _ = self.worker.set(t);
    }

    /// Registers a thread's staging buffer (once per thread and dispatch).
    pub(crate) fn register(&self, staging: Arc<Staging>) {
        self.stagings.lock().unwrap_or_else(|e| e.into_inner()).push(staging);
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
    pub(crate) fn spare_chunk(&self, capacity: usize) -> Vec<Event> {
        #[cfg(feature = "enabled")]
        if let Some(v) = self.spares.pop() {
            return v;
        }
        Vec::with_capacity(capacity)
    }

    /// Queues a chunk of events, waking the worker when a batch is ready.
    pub(crate) fn enqueue(&self, chunk: Vec<Event>) {
        let n = chunk.len();
        #[cfg(feature = "enabled")]
        self.chunks.push(chunk);
        #[cfg(not(feature = "enabled"))]
        drop(chunk);
        let queued = self.queued.fetch_add(n, Ordering::AcqRel) + n;
        if queued >= self.wake_at
            && !self.wake_pending.load(Ordering::Relaxed)
            && !self.wake_pending.swap(true, Ordering::AcqRel)
        {
            self.wake();
        }
    }

    /// Queues what every thread has staged (threads that went quiet keep events staged), and
    /// forgets the buffers of threads that ended.
    pub(crate) fn collect_staged(&self) {
        let mut stagings = self.stagings.lock().unwrap_or_else(|e| e.into_inner());
        stagings.retain(|s| {
            s.hand_over(self);
            Arc::strong_count(s) > 1
        });
    }

    /// Takes queued events, oldest first, whole chunks at a time until at least `max` (or none
    /// are left).
    pub(crate) fn pop_into(&self, out: &mut Vec<Event>, max: usize) -> usize {
        self.wake_pending.store(false, Ordering::Release);
        #[cfg(feature = "enabled")]
        {
            let before = out.len();
            while out.len() - before < max {
                let Some(mut chunk) = self.chunks.pop() else { break };
                out.append(&mut chunk);
                let _ = self.spares.push(chunk);
            }
            let n = out.len() - before;
            self.queued.fetch_sub(n, Ordering::AcqRel);
            self.held.fetch_sub(n, Ordering::Relaxed);
            n
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = (out, max);
            0
        }
    }

    /// Events queued for the exporter (not counting those still staged by recording threads).
    pub(crate) fn len(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    pub(crate) fn wake(&self) {
        if let Some(t) = self.worker.get() {
            t.unpark();
        }
    }

    /// Asks the worker to deliver everything queued now and waits up to `timeout`.
    /// Returns whether it finished in time.
    pub(crate) fn flush_and_wait(&self, timeout: std::time::Duration) -> bool {
        if self.worker.get().is_none() {
            return true;
        }
        let target = {
            let mut f = self.flush.lock().unwrap_or_else(|e| e.into_inner());
            f.0 += 1;
            f.0
        };
        self.wake();
        let deadline = std::time::Instant::now() + timeout;
        let mut f = self.flush.lock().unwrap_or_else(|e| e.into_inner());
        while f.1 < target {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            f = self.flushed.wait_timeout(f, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// Called by the worker after handling everything queued up to the flush request it read.
    pub(crate) fn flush_done(&self, upto: u64) {
        let mut f = self.flush.lock().unwrap_or_else(|e| e.into_inner());
        if upto > f.1 {
            f.1 = upto;
        }
        drop(f);
        self.flushed.notify_all();
    }

    /// Tells the worker to deliver what is queued by `deadline` and stop.
    pub(crate) fn begin_shutdown(&self, deadline: std::time::Instant) {
        *self.shutdown_deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(deadline);
        self.stopping.store(true, Ordering::Release);
    }

    /// The time by which shutdown must be done, once it has begun.
    pub(crate) fn shutdown_deadline(&self) -> Option<std::time::Instant> {
        if !self.stopping.load(Ordering::Acquire) {
            return None;
        }
        *self.shutdown_deadline.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The flush generation requested so far.
    pub(crate) fn flush_requested(&self) -> u64 {
        self.flush.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_reservations_never_exceed_the_capacity() {
        let d = Arc::new(Dispatch::new(1000, 100));
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
