//! Per-thread staging of recorded events (as compact records, `chunk.rs`), so that recording touches no memory shared with other
//! threads except once per [`CHUNK`](super::queue::CHUNK) events.
//!
//! Each recording thread appends to its own [`Staging`] buffer and hands full buffers to the
//! dispatch as one chunk. Memory is bounded by a budget of events reserved from the dispatch a few
//! at a time, so the decision to drop is taken when an event is recorded, never later: a dropped
//! event never becomes the parent of another.
//!
//! # Who locks a buffer, and how
//!
//! Its owner, for every event ([`Staging::lock_own`]), and other threads now and then: the
//! delivery thread collecting what quiet threads staged ([`collect`]), a thread that took over a
//! task whose last event waits here ([`Staging::hand_over_elsewhere`]). The owner's side is a
//! plain store and a plain load; the other side pays for the fence (see `fence.rs`).
//!
//! # Why the server still gets parents before children
//!
//! Chunks reach the exporter in the order they were handed over. An event can only become the
//! parent of an event recorded on *another* thread through a hand-over point: a task state leaving
//! the thread (end of a poll, end of a `std` task, a `Context` captured, a spawn). Each of these
//! publishes the thread's staged events first ([`Outbox::publish`](super::outbox::Outbox::publish)),
//! so an event's cross-thread parents are always in an earlier chunk. Events still staged have no
//! children elsewhere, which is why the delivery thread may collect them at any time.

use super::chunk::Chunk;
use super::fence;
use super::queue::Queue;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One thread's events not yet handed to the exporter. Shared with the dispatch's registry so the
/// exporter can collect them when the thread goes quiet.
pub(crate) struct Staging {
    /// Which handshake this buffer uses (`fence.rs`): fixed when it is created, so both sides of
    /// every lock agree.
    asymmetric: bool,
    /// The owner is inside (asymmetric mode), or anyone is (symmetric mode: an ordinary lock).
    busy: AtomicBool,
    /// Another thread holds the buffer, or is taking it (asymmetric mode only).
    claimed: AtomicBool,
    /// Serialises the threads other than the owner.
    others: Mutex<()>,
    /// Something may be staged: lets other threads pass an empty buffer without claiming it.
    /// Set by the owner before the first record of a chunk, so a thread that learns of an event
    /// staged here (through any synchronisation) sees it set.
    pending: AtomicBool,
    events: UnsafeCell<Chunk>,
}

// SAFETY: `events` is only accessed through a `StagingGuard`, which holds the buffer by the
// handshake described at `lock_own` and `claim`.
unsafe impl Sync for Staging {}

impl Staging {
    pub(crate) fn new() -> Self {
        fence::init();
        Self::with_handshake(fence::asymmetric())
    }

    /// A buffer using the ordinary atomic lock on both sides, as where `membarrier` is missing
    /// (for tests of that mode on machines that have it).
    #[cfg(test)]
    fn symmetric() -> Self {
        Self::with_handshake(false)
    }

    fn with_handshake(asymmetric: bool) -> Self {
        Staging {
            asymmetric,
            busy: AtomicBool::new(false),
            claimed: AtomicBool::new(false),
            others: Mutex::new(()),
            pending: AtomicBool::new(false),
            events: UnsafeCell::new(Chunk::default()),
        }
    }

    /// The owner's lock (only ever called on the thread whose outbox holds this buffer).
    #[inline(always)]
    pub(super) fn lock_own(&self) -> StagingGuard<'_> {
        if !self.asymmetric {
            lock_symmetric(&self.busy);
            return StagingGuard { staging: self, own: true };
        }
        loop {
            // Announce, then look for a claim: a claimer runs the heavy fence between its claim
            // and its look at `busy`, so one of the two sees the other (`fence.rs`).
            self.busy.store(true, Ordering::Relaxed);
            fence::light();
            if !self.claimed.load(Ordering::Acquire) {
                return StagingGuard { staging: self, own: true };
            }
            self.busy.store(false, Ordering::Release);
            self.wait_unclaimed();
        }
    }

    #[cold]
    #[inline(never)]
    fn wait_unclaimed(&self) {
        let mut spins = 0u32;
        while self.claimed.load(Ordering::Acquire) {
            backoff(&mut spins);
        }
    }

    /// Marks the buffer as holding something (the owner, under its lock, before staging into an
    /// empty chunk).
    #[inline(always)]
    pub(super) fn note_pending(&self) {
        self.pending.store(true, Ordering::Relaxed);
    }

    /// Another thread's side, first half: announces the claim (asymmetric mode) or takes the lock
    /// (symmetric mode). The buffer is held once [`Claim::wait`] returns, after the heavy fence.
    fn claim(&self) -> Claim<'_> {
        let serial = self.others.lock().unwrap_or_else(|e| e.into_inner());
        if self.asymmetric {
            self.claimed.store(true, Ordering::Relaxed);
        } else {
            lock_symmetric(&self.busy);
        }
        Claim { staging: self, _serial: serial }
    }

    /// Hands whatever is staged to `queue` as one chunk: the owner's side (a hand-over point).
    pub(crate) fn hand_over_own(&self, queue: &Queue) {
        let mut events = self.lock_own();
        events.hand_over(queue);
    }

    /// Hands whatever is staged to `queue` as one chunk, from a thread other than the owner (one
    /// that took over a task whose last event waits here).
    pub(crate) fn hand_over_elsewhere(self: &Arc<Self>, queue: &Queue) {
        collect(std::slice::from_ref(self), queue);
    }
}

/// Queues what the `stagings` hold, from a thread that owns none of them: one heavy fence for all.
pub(crate) fn collect(stagings: &[Arc<Staging>], queue: &Queue) {
    let claims: Vec<Claim<'_>> =
        stagings.iter().filter(|s| s.pending.load(Ordering::Acquire)).map(|s| s.claim()).collect();
    if claims.is_empty() {
        return;
    }
    if claims.iter().any(|c| c.staging.asymmetric) {
        fence::heavy();
    }
    for claim in claims {
        claim.wait().hand_over(queue);
    }
}

/// A claim on another thread's buffer, not yet held ([`Staging::claim`]).
struct Claim<'a> {
    staging: &'a Staging,
    _serial: MutexGuard<'a, ()>,
}

impl<'a> Claim<'a> {
    /// Waits for the owner to leave (after the heavy fence, in asymmetric mode) and holds the
    /// buffer until the guard drops.
    fn wait(self) -> ClaimedGuard<'a> {
        if self.staging.asymmetric {
            let mut spins = 0u32;
            while self.staging.busy.load(Ordering::Acquire) {
                backoff(&mut spins);
            }
        }
        ClaimedGuard { guard: StagingGuard { staging: self.staging, own: !self.staging.asymmetric }, _claim: self }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if self.staging.asymmetric {
            self.staging.claimed.store(false, Ordering::Release);
        }
    }
}

/// Another thread's hold on a buffer: the guard, then the claim (dropped in that order).
struct ClaimedGuard<'a> {
    guard: StagingGuard<'a>,
    _claim: Claim<'a>,
}

impl ClaimedGuard<'_> {
    fn hand_over(mut self, queue: &Queue) {
        self.guard.hand_over(queue);
    }
}

/// Exclusive access to a [`Staging`] buffer until dropped.
pub(super) struct StagingGuard<'a> {
    staging: &'a Staging,
    /// Whether dropping releases `busy` (the owner's hold, or any hold in symmetric mode); a
    /// claimer's hold is released by dropping its claim.
    own: bool,
}

impl StagingGuard<'_> {
    /// Queues the staged events as one chunk, under the hold, so that nothing staged later can
    /// overtake them.
    fn hand_over(&mut self, queue: &Queue) {
        self.staging.pending.store(false, Ordering::Relaxed);
        if !self.is_empty() {
            let chunk = std::mem::replace(&mut **self, queue.spare_chunk(0));
            queue.enqueue(chunk);
        }
    }
}

impl std::ops::Deref for StagingGuard<'_> {
    type Target = Chunk;
    #[inline(always)]
    fn deref(&self) -> &Chunk {
        // SAFETY: the guard holds the buffer (see `Staging::lock_own` and `Claim::wait`).
        unsafe { &*self.staging.events.get() }
    }
}

impl std::ops::DerefMut for StagingGuard<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Chunk {
        // SAFETY: as above.
        unsafe { &mut *self.staging.events.get() }
    }
}

impl Drop for StagingGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.own {
            self.staging.busy.store(false, Ordering::Release);
        }
    }
}

/// The ordinary lock, for symmetric mode.
#[inline(always)]
fn lock_symmetric(busy: &AtomicBool) {
    let mut spins = 0u32;
    while busy.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
        backoff(&mut spins);
    }
}

/// Waiting for a hold that lasts a few instructions: spin, then yield (the holder was preempted).
#[inline]
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

#[cfg(all(test, raceway_on))]
mod tests {
    use super::*;
    use crate::event::clock::Clock;
    use crate::event::id::{IdSeq, TaskId, Uuid};
    use crate::stage::chunk::{Context, Staged, StagedKind};

    /// The owner stages as fast as it can, handing over now and then, while another thread
    /// collects the same buffer in a loop: every record must come out exactly once, in the order
    /// staged. A broken handshake shows up as a lost, repeated or reordered id, or a crash.
    #[test]
    fn collecting_while_the_owner_stages_loses_repeats_and_reorders_nothing() {
        // The handshake this machine uses (asymmetric where `membarrier` works)...
        owner_against_collector(Staging::new());
    }

    #[test]
    fn the_ordinary_lock_where_membarrier_is_missing_loses_repeats_and_reorders_nothing() {
        // ...and the fallback, whatever this machine has.
        owner_against_collector(Staging::symmetric());
    }

    fn owner_against_collector(staging: Staging) {
        /// At least this many records, and at least `ROUNDS` collections while they are staged
        /// (on a loaded 2-core machine the collector may not get a core before `N` are done).
        const N: u64 = 200_000;
        const ROUNDS: u64 = 50;
        let queue = Arc::new(Queue::new(1 << 22, 1 << 22));
        let staging = Arc::new(staging);
        let done = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let owner = {
            let (queue, staging, rounds) = (queue.clone(), staging.clone(), rounds.clone());
            std::thread::spawn(move || {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                let task = TaskId::next();
                let (trace, mut clock, mut ids) = (Uuid::new_v4(), Clock::new(task), IdSeq::new());
                let mut staged = Vec::with_capacity(N as usize);
                let mut n = 0u64;
                while n < N || (rounds.load(Ordering::Relaxed) < ROUNDS && std::time::Instant::now() < deadline) {
                    n += 1;
                    clock.tick();
                    let id = ids.next();
                    let mut chunk = staging.lock_own();
                    if chunk.is_empty() {
                        staging.note_pending();
                    }
                    chunk.note_context(Context {
                        task,
                        trace_id: trace,
                        span_id: None,
                        upstream_span_id: None,
                        clock: &clock,
                    });
                    chunk.records.push(Staged {
                        id,
                        parent_id: None,
                        timestamp_ns: n,
                        duration_ns: None,
                        count: clock.own_count(),
                        breaks_run: false,
                        kind: StagedKind::Full(crate::event::EventKind::Custom {
                            name: "n".into(),
                            data: crate::event::value::Value::Null,
                        }),
                    });
                    drop(chunk);
                    staged.push(id);
                    if n % 9_973 == 0 {
                        staging.hand_over_own(&queue);
                    }
                }
                staging.hand_over_own(&queue);
                staged
            })
        };
        let collector = {
            let (queue, staging, done, rounds) = (queue.clone(), staging.clone(), done.clone(), rounds.clone());
            std::thread::spawn(move || {
                let mut round = 0u64;
                while !done.load(Ordering::Acquire) {
                    if round % 2 == 0 {
                        collect(std::slice::from_ref(&staging), &queue);
                    } else {
                        staging.hand_over_elsewhere(&queue);
                    }
                    round += 1;
                    rounds.store(round, Ordering::Relaxed);
                }
                round
            })
        };
        let staged = owner.join().unwrap();
        done.store(true, Ordering::Release);
        let rounds = collector.join().unwrap();
        let mut out = Vec::new();
        while queue.pop_into(&mut out, usize::MAX) > 0 {}
        let got: Vec<Uuid> = out.iter().map(|e| e.id).collect();
        assert_eq!(got.len(), staged.len(), "every record once ({rounds} collections ran alongside)");
        assert!(got == staged, "in the order staged");
        assert!(rounds >= ROUNDS, "the collector ran alongside the owner ({rounds} rounds)");
    }
}
