//! Vector clocks with one component per logical task.
//!
//! The server's cross-trace analysis orders events by `causality_vector`; it needs a component per
//! task (`[thread_id, that task's event count]`), inherited by a spawned child, merged at a join
//! and merged from an incoming `raceway-clock` (contract §3). Recording an event must stay O(1),
//! so a clock is split: the task's own counter, bumped per event, and a shared, immutable `base`
//! of everything inherited, rebuilt only at spawn, join and request boundaries.

use crate::event::id::TaskId;
use std::sync::Arc;

/// One component of a vector clock.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Component {
    /// A task of this process (serialized as its `thread_id`).
    Task(TaskId),
    /// A component received from another process (`"<service>#<instance>"`, or another SDK's task).
    Remote(Arc<str>),
}

/// A vector clock: `own` task's counter plus an inherited, sorted `base`.
///
/// ```
/// let c = raceway::testing::capture(|| {
///     raceway::track_write("x", &0, &1);
///     raceway::thread::spawn(|| raceway::track_write("x", &1, &2)).join().unwrap();
/// });
/// let (first, child) = (&c.events[0].clock, &c.events[2].clock);
/// assert!(first.le(child), "what the parent did before the spawn happened before the child");
/// assert_eq!(child.get_task(first.task()), 2); // the write and the spawn
/// ```
#[derive(Clone, Debug)]
pub struct Clock {
    task: TaskId,
    /// `Component::Task(task)`, kept so iteration can lend a reference to it.
    own: Component,
    count: u64,
    /// `None` when nothing is inherited (every root task): copying a clock then touches no shared
    /// reference count, which matters because the exporter thread drops the copies.
    base: Option<Arc<[(Component, u64)]>>,
}

impl Clock {
    /// A fresh clock for `task`, with nothing inherited.
    pub(crate) fn new(task: TaskId) -> Self {
        Clock { task, own: Component::Task(task), count: 0, base: None }
    }

    /// A fresh clock for `task` that inherits `components` (e.g. from an incoming header).
    pub(crate) fn with_base(task: TaskId, components: Vec<(Component, u64)>) -> Self {
        let mut c = Clock::new(task);
        c.merge_components(components);
        c
    }

    /// The task this clock belongs to.
    pub fn task(&self) -> TaskId {
        self.task
    }

    /// The owning task's own counter (its number of recorded events).
    pub fn own_count(&self) -> u64 {
        self.count
    }

    fn base(&self) -> &[(Component, u64)] {
        self.base.as_deref().unwrap_or(&[])
    }

    /// Advances the owning task's component; O(1), no allocation.
    #[inline]
    pub(crate) fn tick(&mut self) {
        self.count += 1;
    }

    /// Whether `other` shares this clock's inherited part (the same allocation, or none for
    /// both): then the two differ at most in the owning task's count. A pointer compare, so the
    /// stage can tell cheaply whether a record needs a new header (`stage/chunk.rs`).
    #[inline(always)]
    pub(crate) fn same_base(&self, other: &Clock) -> bool {
        match (&self.base, &other.base) {
            (None, None) => true,
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// This clock with the owning task's counter set to `count` (rebuilding a staged event's
    /// clock from its header's base and its own count).
    pub(crate) fn with_count(&self, count: u64) -> Clock {
        Clock { count, ..self.clone() }
    }

    /// The clock a child task starts from: everything this task knows, and its own counter 0.
    pub(crate) fn fork(&self, child: TaskId) -> Clock {
        let mut c = Clock::new(child);
        // A parent that recorded nothing (e.g. the placeholder task of a context built from an
        // incoming request) passes on what it inherited, not a zero component of its own.
        let own = (self.count > 0).then(|| (self.own.clone(), self.count));
        c.merge_components(self.base().iter().cloned().chain(own).collect());
        c
    }

    /// Pointwise maximum with `other` (a join, or a clock received over the wire).
    pub(crate) fn merge(&mut self, other: &Clock) {
        self.merge_components(other.components().map(|(c, v)| (c.clone(), v)).collect());
    }

    /// Pointwise maximum with a list of components.
    pub(crate) fn merge_components(&mut self, mut incoming: Vec<(Component, u64)>) {
        incoming.retain(|(c, v)| {
            if *c == self.own {
                self.count = self.count.max(*v);
                false
            } else {
                true
            }
        });
        if incoming.is_empty() {
            return;
        }
        incoming.extend(self.base().iter().cloned());
        incoming.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        incoming.dedup_by(|later, earlier| later.0 == earlier.0);
        self.base = Some(incoming.into());
    }

    /// Every component, inherited ones first (sorted), then the owning task's.
    pub fn components(&self) -> impl Iterator<Item = (&Component, u64)> + '_ {
        self.base().iter().map(|(c, v)| (c, *v)).chain(std::iter::once((&self.own, self.count)))
    }

    /// The counter of `component` (0 when absent).
    pub fn get(&self, component: &Component) -> u64 {
        if *component == self.own {
            return self.count;
        }
        let base = self.base();
        base.binary_search_by(|(c, _)| c.cmp(component)).map(|i| base[i].1).unwrap_or(0)
    }

    /// The counter this clock knows for `task` (0 when absent).
    pub fn get_task(&self, task: TaskId) -> u64 {
        self.get(&Component::Task(task))
    }

    /// Whether this clock is ≤ `other` in every component (happened-before-or-equal).
    pub fn le(&self, other: &Clock) -> bool {
        self.components().all(|(c, v)| v <= other.get(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_inherits_the_parent_and_a_join_merges_back() {
        let (p, c) = (TaskId::next(), TaskId::next());
        let mut parent = Clock::new(p);
        parent.tick();
        parent.tick();
        let mut child = parent.fork(c);
        assert_eq!(child.get_task(p), 2);
        assert_eq!(child.own_count(), 0);
        child.tick();
        parent.tick();
        assert!(!child.le(&parent) && !parent.le(&child), "concurrent after the fork");
        parent.merge(&child);
        assert_eq!(parent.get_task(c), 1);
        assert!(child.le(&parent), "the child happened before the join");
        assert_eq!(parent.own_count(), 3);
    }

    #[test]
    fn merging_keeps_the_maximum_and_a_sorted_unique_base() {
        let t = TaskId::next();
        let mut a = Clock::with_base(t, vec![(Component::Remote("svc#1".into()), 4)]);
        a.merge_components(vec![
            (Component::Remote("svc#1".into()), 2),
            (Component::Remote("svc#0".into()), 7),
            (Component::Task(t), 9),
        ]);
        let got: Vec<_> = a.components().map(|(c, v)| (c.clone(), v)).collect();
        assert_eq!(
            got,
            vec![
                (Component::Remote("svc#0".into()), 7),
                (Component::Remote("svc#1".into()), 4),
                (Component::Task(t), 9),
            ]
        );
    }
}
