//! Stale read-modify-writes: the atomicity violations a lock does not prevent.
//!
//! ```text
//! let free = { let _g = lock!(m, "seats"); seats.get() };          // A: read, release
//! sleep().await;
//! if free > 0 { let _g = lock!(m, "seats"); seats.set(free - 1) }  // B: write, in another section
//! ```
//!
//! Every access holds the lock, so no two accesses race; yet two tasks running this both see one
//! free seat and both book it. The pattern (Atomizer, Velodrome, AVIO's "read, remote write,
//! local write" interleaving): task T reads a variable at A, leaves the critical section, and
//! writes the variable at B in a later one, while another task's write W to it can fall between
//! A and B — W is ordered neither before A nor after B (spawn/join/handoff, the vector clocks),
//! nor between them (A → W → B, which the program always does and is no schedule's accident).
//!
//! Where W is recorded relative to the pair decides how it is found, so that the verdict does not
//! depend on the schedule:
//! - before A: at A, the variable's remembered writes (`shadow.rs`) are scanned for one of
//!   another task that did not happen before A;
//! - between A and B: each write marks the *pending* reads of other tasks; at B the mark counts
//!   unless W happened after A and before B;
//! - after B: the finished pair is kept (one per task) until it is found, and a later write of
//!   another task counts unless B happened before it.
//!
//! Each (read, write) pair is reported at most once, with the first conflicting write found.
//!
//! Not reported: A and B in one critical section (a lock acquisition held from A to B, which is
//! what `Tracked::update` does); no other task writes; the other write ordered; and a pair where
//! neither A nor B is protected (no lock held, not atomic), because the conflicting write then
//! races with it and the race is reported already. Whether the value read at A flows into B
//! cannot be seen from events: any write after a read of the same variable by the same task, in
//! another section, is a candidate. Memory: per variable, at most [`MAX_TASKS`] pending reads and
//! finished pairs, each with a bounded number of marks; nothing grows with the number of events.

use super::lockset::{Locks, EMPTY};
use super::shadow::{happened_before, Access};
use crate::event::clock::Clock;
use crate::event::AccessType;

/// Most tasks per variable whose pending read (and, separately, finished pair) is remembered;
/// past it, the oldest is forgotten (a violation with it can then be missed).
pub(crate) const MAX_TASKS: usize = 16;
/// Most writes recorded between a read and its write that are kept to check against the write.
const MAX_MARKS: usize = 4;

/// A read whose task has not yet written the variable since.
#[derive(Debug)]
struct Pending {
    read: Access,
    /// The outermost critical section the read was in (0: none).
    section: u64,
    /// A write of another task, unordered with the read: it can fall between the read and the
    /// task's write whatever comes later.
    conflict: Option<Access>,
    /// Writes of other tasks recorded after the read that happened after it: they conflict
    /// unless they also happened before the task's write.
    after_read: Vec<Access>,
}

/// A read and the later write of the same task, in different critical sections.
#[derive(Debug)]
struct Pair {
    read: Access,
    write: Access,
}

/// The atomicity state of one variable.
#[derive(Debug, Default)]
pub(crate) struct Var {
    pending: Vec<Pending>,
    pairs: Vec<Pair>,
}

/// A stale read-modify-write found: `read` and `write` by one task, `other` by another.
pub(crate) struct Found<'a> {
    pub read: &'a Access,
    pub write: &'a Access,
    pub other: &'a Access,
}

fn protected(a: &Access) -> bool {
    a.lockset != EMPTY || a.access.is_atomic()
}

impl Var {
    /// Observes access `e` (made at `clock`), before it enters the shadow state `writes` (the
    /// variable's remembered writes). Calls `found` with each violation it completes.
    pub(crate) fn observe<'w>(
        &mut self,
        e: &Access,
        clock: &Clock,
        locks: &Locks,
        writes: impl Iterator<Item = &'w Access>,
        mut found: impl FnMut(Found<'_>),
    ) {
        if !e.is_write() {
            self.read(e, clock, locks, writes);
            return;
        }
        // `e` as the other task's write: against the pending reads and finished pairs of others.
        for p in self.pending.iter_mut().filter(|p| p.read.task != e.task) {
            if p.conflict.is_some() {
                continue;
            }
            if !happened_before(p.read.task, p.read.count, clock) {
                p.conflict = Some(e.clone());
            } else if p.after_read.len() < MAX_MARKS {
                p.after_read.push(e.clone());
            }
        }
        // A pair is reported once, by the first write found to conflict with it, and then
        // forgotten: later conflicting writes would only repeat it (and cost a report lookup each).
        self.pairs.retain(|q| {
            let stale = q.write.task != e.task && !happened_before(q.write.task, q.write.count, clock);
            if stale {
                found(Found { read: &q.read, write: &q.write, other: e });
            }
            !stale
        });
        // `e` as the task's own write: does it finish a read-modify-write?
        let Some(i) = self.pending.iter().position(|p| p.read.task == e.task) else { return };
        let p = self.pending.remove(i);
        // An atomic read-modify-write re-reads the value itself; one critical section (or
        // `update`) keeps the value from going stale; unprotected pairs are races already.
        let own_rmw = e.access == AccessType::AtomicRMW;
        if own_rmw || locks.in_section(e.task, p.section) || !(protected(&p.read) || protected(e)) {
            return;
        }
        let other =
            p.conflict.as_ref().or_else(|| p.after_read.iter().find(|w| !happened_before(w.task, w.count, clock)));
        self.pairs.retain(|q| q.write.task != e.task);
        if let Some(other) = other {
            // Reported now: no need to keep the pair for later writes.
            found(Found { read: &p.read, write: e, other });
            return;
        }
        if self.pairs.len() >= MAX_TASKS {
            self.pairs.remove(0);
        }
        self.pairs.push(Pair { read: p.read, write: e.clone() });
    }

    fn read<'w>(&mut self, e: &Access, clock: &Clock, locks: &Locks, writes: impl Iterator<Item = &'w Access>) {
        let mut writes = writes;
        let conflict = writes.find(|w| w.task != e.task && !happened_before(w.task, w.count, clock));
        // No lock held (the lock set says so without a lookup): in no critical section.
        let section = if e.lockset == EMPTY { 0 } else { locks.outer_section(e.task) };
        match self.pending.iter_mut().find(|p| p.read.task == e.task) {
            // The latest read is the one a later write can be computed from. Updated in place:
            // this runs for every read, and most reads replace their task's previous one.
            Some(p) => {
                p.read.clone_from(e);
                p.section = section;
                match (conflict, &mut p.conflict) {
                    (Some(w), Some(c)) => c.clone_from(w),
                    (w, c) => *c = w.cloned(),
                }
                p.after_read.clear();
            }
            None => {
                let pending = Pending { read: e.clone(), section, conflict: conflict.cloned(), after_read: Vec::new() };
                if self.pending.len() >= MAX_TASKS {
                    self.pending.remove(0);
                }
                self.pending.push(pending);
            }
        }
    }

    /// Pending reads and finished pairs remembered (for footprint checks).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.len() + self.pairs.len()
    }
}
