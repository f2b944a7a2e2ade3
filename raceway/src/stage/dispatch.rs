//! The installed pipeline: the queue, every thread's staging buffer, and the flush and shutdown
//! requests the delivery thread answers.
//!
//! The hot path never takes a lock here: each thread caches an `Arc` of the current [`Dispatch`]
//! in its outbox and revalidates it with a relaxed load of [`GENERATION`], which changes only at
//! `init` and `shutdown`.

use super::queue::Queue;
use super::staging::Staging;
use super::switch::{add_listener, remove_listener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bumped whenever the installed dispatch changes, so per-thread caches know to refresh.
static GENERATION: AtomicU64 = AtomicU64::new(0);
static CURRENT: Mutex<Option<Arc<Dispatch>>> = Mutex::new(None);

#[inline(always)]
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

/// The link between recording threads and the delivery thread.
pub(crate) struct Dispatch {
    pub queue: Queue,
    /// Every live thread's staging buffer, for collecting events of threads that went quiet.
    stagings: Mutex<Vec<Arc<Staging>>>,
    /// Flush requests: (requested, completed) generations.
    flush: Mutex<(u64, u64)>,
    flushed: std::sync::Condvar,
    /// How long [`super::flush`] waits.
    pub flush_timeout: Duration,
    pub stopping: AtomicBool,
    shutdown_deadline: Mutex<Option<std::time::Instant>>,
    /// Nothing is dropped: a full queue makes recording threads wait for the delivery thread
    /// (set when the embedded analyzer is the only sink; see `Outbox::take_credit`).
    pub lossless: bool,
    /// A recording thread waits for room: collect every thread's staged events now.
    collect_requested: AtomicBool,
}

impl Dispatch {
    pub(crate) fn new(capacity: usize, wake_at: usize, flush_timeout: Duration, lossless: bool) -> Self {
        Dispatch {
            queue: Queue::new(capacity, wake_at),
            stagings: Mutex::new(Vec::new()),
            flush: Mutex::new((0, 0)),
            flushed: std::sync::Condvar::new(),
            flush_timeout,
            stopping: AtomicBool::new(false),
            shutdown_deadline: Mutex::new(None),
            lossless,
            collect_requested: AtomicBool::new(false),
        }
    }

    /// Asks the delivery thread to collect every thread's staged events and deliver them now
    /// (a recording thread waits for room in a lossless dispatch).
    pub(crate) fn request_collection(&self) {
        if !self.collect_requested.swap(true, Ordering::AcqRel) {
            self.queue.wake();
        }
    }

    /// Whether a collection was requested since the last call (the delivery thread's side).
    pub(crate) fn take_collection_request(&self) -> bool {
        self.collect_requested.swap(false, Ordering::AcqRel)
    }

    /// Registers a thread's staging buffer (once per thread and dispatch).
    pub(crate) fn register(&self, staging: Arc<Staging>) {
        self.stagings.lock().unwrap_or_else(|e| e.into_inner()).push(staging);
    }

    /// Queues what every thread has staged (threads that went quiet keep events staged), and
    /// forgets the buffers of threads that ended.
    pub(crate) fn collect_staged(&self) {
        let mut stagings = self.stagings.lock().unwrap_or_else(|e| e.into_inner());
        super::staging::collect(&stagings, &self.queue);
        stagings.retain(|s| Arc::strong_count(s) > 1);
    }

    /// Asks the worker to deliver everything queued now and waits up to `timeout`.
    /// Returns whether it finished in time.
    pub(crate) fn flush_and_wait(&self, timeout: std::time::Duration) -> bool {
        if !self.queue.has_worker() {
            return true;
        }
        let target = {
            let mut f = self.flush.lock().unwrap_or_else(|e| e.into_inner());
            f.0 += 1;
            f.0
        };
        self.queue.wake();
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

    /// The flush generation completed so far.
    pub(crate) fn flush_completed(&self) -> u64 {
        self.flush.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}
