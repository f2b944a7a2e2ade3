//! Where recorded events go: the process-wide switch and the bounded queue to the exporter.
//!
//! The hot path is: one relaxed load of [`LISTENERS`], one thread-local access, one lock-free push.
//! No global lock is taken: each thread caches an `Arc` of the current [`Dispatch`] and revalidates
//! it with a relaxed load of [`GENERATION`], which changes only at `init` and `shutdown`.

use crate::event::Event;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
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
pub(crate) struct Dispatch {
    #[cfg(feature = "enabled")]
    queue: crossbeam_queue::ArrayQueue<Event>,
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

impl Dispatch {
    pub(crate) fn new(capacity: usize, wake_at: usize) -> Self {
        #[cfg(not(feature = "enabled"))]
        let _ = capacity;
        Dispatch {
            #[cfg(feature = "enabled")]
            queue: crossbeam_queue::ArrayQueue::new(capacity.max(1)),
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

    /// Queues `event`; on a full queue drops it, counts it, and returns false. With `check_wake`,
    /// wakes the worker if a batch is ready (callers ask every few pushes: reading the queue's
    /// length touches both of its contended ends).
    #[inline(always)]
    pub(crate) fn push(&self, event: Event, check_wake: bool) -> bool {
        #[cfg(feature = "enabled")]
        {
            if self.queue.push(event).is_err() {
                self.counters.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            if check_wake
                && !self.wake_pending.load(Ordering::Relaxed)
                && self.queue.len() >= self.wake_at
                && !self.wake_pending.swap(true, Ordering::AcqRel)
            {
                self.wake();
            }
            true
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = (event, check_wake);
            false
        }
    }

    /// Takes up to `max` queued events, oldest first.
    pub(crate) fn pop_into(&self, out: &mut Vec<Event>, max: usize) -> usize {
        self.wake_pending.store(false, Ordering::Release);
        #[cfg(feature = "enabled")]
        {
            let before = out.len();
            out.extend(std::iter::from_fn(|| self.queue.pop()).take(max));
            out.len() - before
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = (out, max);
            0
        }
    }

    /// Events currently queued.
    pub(crate) fn len(&self) -> usize {
        #[cfg(feature = "enabled")]
        return self.queue.len();
        #[cfg(not(feature = "enabled"))]
        0
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
