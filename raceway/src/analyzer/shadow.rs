//! Per-variable shadow state: the accesses a later access must still be compared with.
//!
//! FastTrack (Flanagan & Freund, PLDI 2009) keeps, per variable, the last write as an *epoch*
//! (task, that task's counter) and the reads as an epoch or a vector clock, because with lock
//! release→acquire edges in happens-before, race-free writes are totally ordered. This analyzer
//! follows the server's rule instead (contract §3): a common lock *protects* a pair, it does not
//! order it. That makes verdicts independent of the schedule (a test finds the same races however
//! its threads interleave), but protected writes are no longer totally ordered, so one epoch is
//! not enough.
//!
//! The generalisation: an access is kept as an epoch plus its lock set, and an older access `p`
//! is dropped as soon as a newer one `e` *dominates* it: `p` happened before `e`, `e` is a write
//! if `p` was, and `e`'s lock set protects against nothing `p`'s did not. Every future access
//! that races with `p` then also races with `e`, so no racy variable goes unreported. What
//! remains is at most one access per (task, kind, lock set) that nothing later has overtaken:
//! memory follows variables and live tasks, never the number of events, and in the common case
//! (one or two tasks touch a variable, with one lock discipline) a check scans a few entries.
//! Reads and writes are kept apart so that a read scans only the writes, and each list is capped
//! ([`MAX_KEPT`]) against tasks that are never joined.
//!
//! Atomic accesses (`AtomicRead`/`AtomicWrite`/`AtomicRMW`) never race with each other, only
//! with plain accesses to the same name; so an atomic access dominates only atomic ones.

use super::lockset::{Locks, LocksetId};
use crate::event::clock::Clock;
use crate::event::id::{TaskId, Uuid};
use crate::event::location::Location;
use crate::event::value::Value;
use crate::event::AccessType;

/// One remembered access.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    pub task: TaskId,
    /// The task's own clock component at the access: with `task`, its epoch.
    pub count: u64,
    pub access: AccessType,
    pub lockset: LocksetId,
    pub location: Location,
    pub old_value: Value,
    pub new_value: Value,
    pub trace_id: Uuid,
    pub event_id: Uuid,
    /// The task's stack and origin at the access, for the report.
    pub context: super::tasks::Context,
}

impl Access {
    pub(crate) fn is_write(&self) -> bool {
        self.access.is_write()
    }
}

/// Whether the access of `task` at its counter `count` happened before the point `clock`.
///
/// The event clocks carry spawn/join and request propagation (contract §3), so this is one
/// lookup. A task of this process can also come back through a propagated header, where it is
/// named by its `thread_id` string; that slower check runs only when the fast one fails.
pub(crate) fn happened_before(task: TaskId, count: u64, clock: &Clock) -> bool {
    if clock.task() == task || clock.get_task(task) >= count {
        return true;
    }
    // Most clocks hold no remote component at all: then there is nothing to name (the string
    // costs an allocation), and a clock of 1,000 concurrent tasks is not scanned per check.
    clock.has_remote() && clock.get_remote(&task.thread_id()) >= count
}

/// Most reads (and, separately, writes) remembered per variable. Only accesses from tasks that
/// are concurrent with each other and never joined accumulate (e.g. one detached task per
/// request all reading one setting); past this many, the oldest is forgotten and counted, so
/// memory stays bounded at the price of possibly missing a race with a forgotten access.
pub(crate) const MAX_KEPT: usize = 128;

/// The shadow state of one variable: reads and writes kept apart, so that a read (the common
/// access) is only compared with the writes.
#[derive(Debug, Default)]
pub(crate) struct Var {
    writes: Vec<Access>,
    reads: Vec<Access>,
}

impl Var {
    /// Calls `race` with every remembered access that races with `e` (made at `clock`):
    /// another task, at least one write, no happens-before, no protecting lock.
    pub(crate) fn check(&self, e: &Access, clock: &Clock, locks: &Locks, mut race: impl FnMut(&Access)) {
        let reads: &[Access] = if e.is_write() { &self.reads } else { &[] };
        for p in self.writes.iter().chain(reads) {
            // Two atomic operations on one atomic never race: that is what atomic means. Whether
            // they *order* anything is the handoff's business (`instrument/sync/atomic.rs`).
            let both_atomic = p.access.is_atomic() && e.access.is_atomic();
            if p.task != e.task
                && !both_atomic
                && !locks.protects(p.lockset, e.lockset)
                && !happened_before(p.task, p.count, clock)
            {
                race(p);
            }
        }
    }

    /// Remembers `e`, dropping the accesses it dominates. Returns how many accesses had to be
    /// forgotten to stay within [`MAX_KEPT`] (0 in the common case).
    pub(crate) fn insert(&mut self, e: Access, clock: &Clock, locks: &Locks) -> u64 {
        // An atomic access cannot stand in for a plain one: a later atomic access would race with
        // the plain one but not with it.
        let stands_in = |p: &Access| p.access.is_atomic() || !e.access.is_atomic();
        let dominated =
            |p: &Access| stands_in(p) && locks.covers(p.lockset, e.lockset) && happened_before(p.task, p.count, clock);
        // A write overtakes earlier reads and writes; a read only earlier reads.
        self.reads.retain(|p| !dominated(p));
        let list = if e.is_write() {
            self.writes.retain(|p| !dominated(p));
            &mut self.writes
        } else {
            &mut self.reads
        };
        if list.capacity() == 0 {
            // Most variables only ever keep one access: room for one, not the four a first
            // push reserves (~430 bytes a variable saved over a million variables).
            list.reserve_exact(1);
        }
        list.push(e);
        if list.len() > MAX_KEPT {
            list.remove(0);
            1
        } else {
            0
        }
    }

    /// The writes remembered (those no later write has overtaken).
    pub(crate) fn writes(&self) -> impl Iterator<Item = &Access> {
        self.writes.iter()
    }

    /// Accesses remembered for this variable.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.writes.len() + self.reads.len()
    }
}
