//! What happened to events: counted where it happens, read with [`crate::stats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// Spawned children forgotten before anyone joined them, process-wide: the registry that lets a
/// join through a tokio or std handle find its child is bounded (`instrument/spawned.rs`).
pub(crate) static FORGOTTEN_CHILDREN: AtomicU64 = AtomicU64::new(0);

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
    pub coalesced: AtomicU64,
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
    /// Access events sent inside another one: a hot loop's run of accesses goes out as one event
    /// carrying its count (`Config::coalesce_accesses`), which is counted where it went
    /// (`delivered`, ...) and the rest of its run here, so each recorded event is counted once.
    pub coalesced: u64,
    /// Children spawned in `#[traced]` bodies whose join could no longer be recorded because
    /// more children were waiting for it than the registry keeps (4096; the oldest finished ones
    /// go first). Counted for the whole process.
    pub forgotten_children: u64,
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
            coalesced: l(&self.coalesced),
            forgotten_children: l(&FORGOTTEN_CHILDREN),
        }
    }
}
