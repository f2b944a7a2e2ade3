//! Which locks each task holds, and interned lock sets to compare accesses by.
//!
//! The server stamps every access with the set of locks its task holds and calls two accesses
//! protected when the sets share a lock (contract §3). Here the same rule is kept with one
//! refinement: two holders of the *read* side of one `RwLock` do not exclude each other, so that
//! lock protects a pair only when at least one of the two holds it exclusively.
//!
//! Lock sets are interned to small numbers: an access stores 4 bytes, and the empty set (the
//! common case) is `0` and needs no lookup. Only tasks that currently hold a lock have an entry.

use super::HashMap;
use crate::event::clock::Clock;
use crate::event::id::TaskId;
use crate::event::location::Location;
use crate::event::LockKind;
use std::sync::Arc;

/// A lock, numbered in order of first appearance.
pub(crate) type LockId = u32;
/// An interned lock set; [`EMPTY`] is the set of no locks.
pub(crate) type LocksetId = u32;
/// The empty lock set.
pub(crate) const EMPTY: LocksetId = 0;

/// One lock of a lock set and whether it is held exclusively.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(crate) struct Hold {
    pub lock: LockId,
    pub exclusive: bool,
}

/// One lock a task holds, in acquisition order.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub lock: LockId,
    pub kind: LockKind,
    pub location: Location,
    /// The task's clock when it took the lock (orders lock-order edges, see `order.rs`).
    pub clock: Clock,
    /// Re-entrant acquisitions of the same lock by the same task.
    pub depth: u32,
    /// Which critical section this is: a number no other acquisition shares (see
    /// `atomicity.rs`, which asks whether a read and a later write are in one section).
    pub section: u64,
}

#[derive(Debug, Default)]
struct TaskLocks {
    held: Vec<Held>,
    lockset: LocksetId,
}

/// Lock names, interned lock sets and the locks each task holds.
#[derive(Debug)]
pub(crate) struct Locks {
    ids: HashMap<Arc<str>, LockId>,
    names: Vec<Arc<str>>,
    sets: Vec<Box<[Hold]>>,
    set_ids: HashMap<Box<[Hold]>, LocksetId>,
    tasks: HashMap<TaskId, TaskLocks>,
    /// The last critical-section number given out (0 means "no section").
    sections: u64,
}

impl Default for Locks {
    fn default() -> Self {
        let empty: Box<[Hold]> = Box::new([]);
        Locks {
            ids: HashMap::default(),
            names: Vec::new(),
            sets: vec![empty.clone()],
            set_ids: [(empty, EMPTY)].into_iter().collect(),
            tasks: HashMap::default(),
            sections: 0,
        }
    }
}

impl Locks {
    /// The number of a lock name (keyed by the text: a `'static` and an owned name are one lock).
    pub(crate) fn lock_id(&mut self, name: &str) -> LockId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as LockId;
        let name: Arc<str> = name.into();
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    /// The name of lock `id`.
    pub(crate) fn name(&self, id: LockId) -> &str {
        self.names.get(id as usize).map_or("?", |n| n)
    }

    /// The lock set `task` holds now.
    #[inline]
    pub(crate) fn current(&self, task: TaskId) -> LocksetId {
        if self.tasks.is_empty() {
            return EMPTY;
        }
        self.tasks.get(&task).map_or(EMPTY, |t| t.lockset)
    }

    /// The locks `task` holds, in acquisition order.
    pub(crate) fn held(&self, task: TaskId) -> &[Held] {
        self.tasks.get(&task).map_or(&[], |t| &t.held)
    }

    /// The critical section `task` entered first among those it is still in (0 when it holds no
    /// lock): a later access in the same section still holds this very acquisition.
    #[inline]
    pub(crate) fn outer_section(&self, task: TaskId) -> u64 {
        if self.tasks.is_empty() {
            return 0;
        }
        self.tasks.get(&task).and_then(|t| t.held.first()).map_or(0, |h| h.section)
    }

    /// Whether `task` is still inside critical section `section`.
    pub(crate) fn in_section(&self, task: TaskId, section: u64) -> bool {
        section != 0 && self.held(task).iter().any(|h| h.section == section)
    }

    /// Records that `task` took `lock`. Returns false for a re-entrant acquisition (the task
    /// already held it), which adds no lock-order edge.
    pub(crate) fn acquire(
        &mut self,
        task: TaskId,
        lock: LockId,
        kind: LockKind,
        location: Location,
        clock: &Clock,
    ) -> bool {
        // Numbered before the lookup (a re-entrant acquisition wastes one number: harmless).
        self.sections += 1;
        let section = self.sections;
        let t = self.tasks.entry(task).or_default();
        if let Some(h) = t.held.iter_mut().find(|h| h.lock == lock && h.kind == kind) {
            h.depth += 1;
            return false;
        }
        t.held.push(Held { lock, kind, location, clock: clock.clone(), depth: 1, section });
        self.refresh(task);
        true
    }

    /// Records that `task` released `lock`. A release without an acquire (the acquire happened
    /// before recording began) is ignored.
    pub(crate) fn release(&mut self, task: TaskId, lock: LockId, kind: LockKind) {
        let Some(t) = self.tasks.get_mut(&task) else { return };
        let Some(i) = t.held.iter().rposition(|h| h.lock == lock && h.kind == kind) else { return };
        if t.held[i].depth > 1 {
            t.held[i].depth -= 1;
            return;
        }
        t.held.remove(i);
        if t.held.is_empty() {
            // Memory follows the tasks holding locks now, not every task ever seen.
            self.tasks.remove(&task);
        } else {
            self.refresh(task);
        }
    }

    /// Forgets a task that ended (it was joined).
    pub(crate) fn task_ended(&mut self, task: TaskId) {
        self.tasks.remove(&task);
    }

    fn refresh(&mut self, task: TaskId) {
        let Some(t) = self.tasks.get(&task) else { return };
        let mut set: Vec<Hold> =
            t.held.iter().map(|h| Hold { lock: h.lock, exclusive: h.kind.is_exclusive() }).collect();
        set.sort_unstable();
        // One entry per lock, exclusive if any side of it is held exclusively.
        set.dedup_by(|later, earlier| {
            if later.lock == earlier.lock {
                earlier.exclusive |= later.exclusive;
                true
            } else {
                false
            }
        });
        let id = self.intern(set.into_boxed_slice());
        if let Some(t) = self.tasks.get_mut(&task) {
            t.lockset = id;
        }
    }

    fn intern(&mut self, set: Box<[Hold]>) -> LocksetId {
        if let Some(id) = self.set_ids.get(&set) {
            return *id;
        }
        let id = self.sets.len() as LocksetId;
        self.sets.push(set.clone());
        self.set_ids.insert(set, id);
        id
    }

    /// The locks of set `id`.
    pub(crate) fn set(&self, id: LocksetId) -> &[Hold] {
        self.sets.get(id as usize).map_or(&[], |s| s)
    }

    /// Whether two accesses holding `a` and `b` exclude each other: they share a lock that at
    /// least one of them holds exclusively.
    pub(crate) fn protects(&self, a: LocksetId, b: LocksetId) -> bool {
        if a == EMPTY || b == EMPTY {
            return false;
        }
        let (a, b) = (self.set(a), self.set(b));
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].lock.cmp(&b[j].lock) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    if a[i].exclusive || b[j].exclusive {
                        return true;
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        false
    }

    /// Whether `wide` protects against everything `narrow` protects against: every lock of
    /// `narrow` is in `wide`, held at least as exclusively.
    pub(crate) fn covers(&self, wide: LocksetId, narrow: LocksetId) -> bool {
        if narrow == EMPTY || wide == narrow {
            return true;
        }
        let wide = self.set(wide);
        self.set(narrow)
            .iter()
            .all(|n| wide.binary_search_by(|w| w.lock.cmp(&n.lock)).is_ok_and(|i| wide[i].exclusive || !n.exclusive))
    }

    /// Names of the locks of set `id`.
    pub(crate) fn names_of(&self, id: LocksetId) -> Vec<String> {
        self.set(id).iter().map(|h| self.name(h.lock).to_owned()).collect()
    }

    /// Tasks currently holding at least one lock (for footprint checks).
    #[cfg(test)]
    pub(crate) fn tasks_holding(&self) -> usize {
        self.tasks.len()
    }

    /// Distinct lock sets seen.
    #[cfg(test)]
    pub(crate) fn lockset_count(&self) -> usize {
        self.sets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        Clock::new(TaskId::next())
    }

    #[test]
    fn a_shared_mutex_protects_and_two_read_sides_do_not() {
        let mut l = Locks::default();
        let (a, b, c) = (TaskId::next(), TaskId::next(), TaskId::next());
        let m = l.lock_id("m");
        let rw = l.lock_id("rw");
        let here = Location::new("x.rs", 1, 1);
        l.acquire(a, m, LockKind::Mutex, here, &clock());
        l.acquire(b, m, LockKind::Mutex, here, &clock());
        assert!(l.protects(l.current(a), l.current(b)));
        l.release(a, m, LockKind::Mutex);
        l.release(b, m, LockKind::Mutex);
        l.acquire(a, rw, LockKind::RwLockRead, here, &clock());
        l.acquire(b, rw, LockKind::RwLockRead, here, &clock());
        l.acquire(c, rw, LockKind::RwLockWrite, here, &clock());
        assert!(!l.protects(l.current(a), l.current(b)), "readers do not exclude readers");
        assert!(l.protects(l.current(a), l.current(c)), "the writer excludes readers");
        assert!(!l.covers(l.current(a), l.current(c)), "a read hold is narrower than a write hold");
        assert!(l.covers(l.current(c), l.current(a)));
    }

    #[test]
    fn a_task_that_releases_everything_is_forgotten() {
        let mut l = Locks::default();
        let t = TaskId::next();
        let m = l.lock_id("m");
        let here = Location::new("x.rs", 1, 1);
        assert!(l.acquire(t, m, LockKind::Mutex, here, &clock()));
        assert!(!l.acquire(t, m, LockKind::Mutex, here, &clock()), "re-entrant");
        l.release(t, m, LockKind::Mutex);
        assert_eq!(l.tasks_holding(), 1, "still held once");
        l.release(t, m, LockKind::Mutex);
        assert_eq!(l.tasks_holding(), 0);
        assert_eq!(l.current(t), EMPTY);
    }

    #[test]
    fn static_and_owned_names_are_one_lock() {
        let mut l = Locks::default();
        assert_eq!(l.lock_id("accounts"), l.lock_id(&String::from("accounts")));
    }
}
