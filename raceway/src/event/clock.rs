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
        let own = (self.count > 0).then_some((&self.own, self.count));
        c.merge_sorted(sorted_with(self.base(), own));
        c
    }

    /// Pointwise maximum with `other` (a join, or a clock received over the wire).
    ///
    /// Linear in the two clocks' sizes, one allocation at most: both bases are sorted, so this
    /// is a merge, not a sort (a task joining a wave of 1,000 children does this 1,000 times, on
    /// clocks of ~1,000 components each). When `other` adds nothing, the base is kept as it is.
    pub(crate) fn merge(&mut self, other: &Clock) {
        // A task that recorded nothing adds nothing: a joined child that did not record must
        // not cost a new base. (A zero component listed explicitly, as an incoming request's
        // own service component is, is kept: `merge_components`.)
        let own = (other.count > 0).then_some((&other.own, other.count));
        self.merge_sorted(sorted_with(other.base(), own));
    }

    /// Pointwise maximum with `incoming`, which must be sorted by component, each at most once.
    fn merge_sorted<'a>(&mut self, incoming: impl Iterator<Item = (&'a Component, u64)>) {
        let base = self.base.as_deref().unwrap_or(&[]);
        let mut count = self.count;
        let mut out: Vec<(Component, u64)> = Vec::new();
        // Entries of `base` before `kept` are known to be in the result unchanged; they are
        // copied only once something changes (so a merge that adds nothing allocates nothing).
        let (mut i, mut changed) = (0, false);
        for (c, v) in incoming {
            if *c == self.own {
                count = count.max(v);
                continue;
            }
            while i < base.len() && base[i].0 < *c {
                if changed {
                    out.push(base[i].clone());
                }
                i += 1;
            }
            let present = i < base.len() && base[i].0 == *c;
            if present && base[i].1 >= v {
                if changed {
                    out.push(base[i].clone());
                }
                i += 1;
                continue;
            }
            if !changed {
                changed = true;
                out.reserve(base.len() + 1);
                out.extend_from_slice(&base[..i]);
            }
            out.push((c.clone(), v));
            if present {
                i += 1;
            }
        }
        self.count = count;
        if changed {
            out.extend_from_slice(&base[i..]);
            self.base = Some(out.into());
        }
    }

    /// Pointwise maximum with a list of components (in any order, e.g. from a header).
    pub(crate) fn merge_components(&mut self, mut incoming: Vec<(Component, u64)>) {
        incoming.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        incoming.dedup_by(|later, earlier| later.0 == earlier.0);
        self.merge_sorted(incoming.iter().map(|(c, v)| (c, *v)));
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

    /// The counter of the remote component named `name` (0 when absent); a binary search, with
    /// no allocation.
    pub(crate) fn get_remote(&self, name: &str) -> u64 {
        let base = self.base();
        // `Task` components sort before every `Remote` one.
        base.binary_search_by(|(c, _)| match c {
            Component::Task(_) => std::cmp::Ordering::Less,
            Component::Remote(s) => (**s).cmp(name),
        })
        .map(|i| base[i].1)
        .unwrap_or(0)
    }

    /// Whether any component came from another process.
    pub(crate) fn has_remote(&self) -> bool {
        // Sorted, and `Remote` sorts last: only the last entry needs looking at.
        matches!(self.base().last(), Some((Component::Remote(_), _)))
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

/// `base` (sorted) with `extra` in its sorted place; `extra` is not in `base`.
fn sorted_with<'a>(
    base: &'a [(Component, u64)],
    extra: Option<(&'a Component, u64)>,
) -> impl Iterator<Item = (&'a Component, u64)> + 'a {
    let at = extra.map_or(base.len(), |(e, _)| base.partition_point(|(c, _)| c < e));
    let entry = |(c, v): &'a (Component, u64)| (c, *v);
    base[..at].iter().map(entry).chain(extra).chain(base[at..].iter().map(entry))
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

    /// The pointwise maximum, computed the slow way: what a linear merge must agree with.
    fn naive_max(a: &Clock, b: &Clock) -> Vec<(Component, u64)> {
        let mut all: std::collections::BTreeMap<Component, u64> = Default::default();
        for (c, v) in a.components().chain(b.components()) {
            let e = all.entry(c.clone()).or_default();
            *e = (*e).max(v);
        }
        all.into_iter().collect()
    }

    #[test]
    fn a_merge_equals_the_componentwise_maximum_of_sorted_clocks() {
        let ids: Vec<TaskId> = (0..12).map(|_| TaskId::next()).collect();
        let remote = |i: u64| Component::Remote(format!("svc#{i}").into());
        // A small deterministic generator: the same cases on every run.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        fn pick_seed(seed: &mut u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        }
        for _ in 0..500 {
            let pick = |own: TaskId, seed: &mut u64| {
                let mut next = || pick_seed(seed);
                let comps: Vec<_> = (0..next() % 10)
                    .map(|_| {
                        let r = next();
                        let c = if r % 4 == 0 { remote(r % 3) } else { Component::Task(ids[(r % 12) as usize]) };
                        (c, next() % 5)
                    })
                    .collect();
                let mut c = Clock::with_base(own, comps);
                for _ in 0..next() % 3 {
                    c.tick();
                }
                c
            };
            let (a_task, b_task) =
                (ids[(pick_seed(&mut seed) % 12) as usize], ids[(pick_seed(&mut seed) % 12) as usize]);
            let (mut a, b) = (pick(a_task, &mut seed), pick(b_task, &mut seed));
            let want = naive_max(&a, &b);
            a.merge(&b);
            let mut got: Vec<_> = a.components().map(|(c, v)| (c.clone(), v)).collect();
            got.sort();
            // A zero component and an absent one are the same clock.
            let nonzero = |v: Vec<(Component, u64)>| v.into_iter().filter(|(_, n)| *n > 0).collect::<Vec<_>>();
            assert_eq!(nonzero(got), nonzero(want));
            let base = a.base();
            assert!(base.windows(2).all(|w| w[0].0 < w[1].0), "the base stays sorted and unique");
            assert!(base.iter().all(|(c, _)| *c != a.own), "the own component is never in the base");
        }
    }

    #[test]
    fn a_merge_that_adds_nothing_keeps_the_shared_base() {
        let (p, c) = (TaskId::next(), TaskId::next());
        let mut parent = Clock::with_base(p, vec![(Component::Remote("svc#1".into()), 4)]);
        parent.tick();
        let child = parent.fork(c);
        parent.tick();
        let before = parent.base.clone().unwrap();
        parent.merge(&Clock::new(c)); // a child that recorded nothing
        parent.merge(&parent.fork(c)); // everything it knows, known already
        assert!(Arc::ptr_eq(&before, parent.base.as_ref().unwrap()), "no new base was built");
        parent.merge(&child);
        assert_eq!(parent.get_task(p), 2, "the own counter is not lowered");
    }

    #[test]
    fn a_remote_component_is_found_by_name() {
        let t = TaskId::next();
        let mut a = Clock::new(t);
        assert!(!a.has_remote());
        a.merge_components(vec![(Component::Task(TaskId::next()), 3), (Component::Remote("b#1".into()), 5)]);
        a.merge_components(vec![(Component::Remote("a#1".into()), 2)]);
        assert!(a.has_remote());
        assert_eq!((a.get_remote("a#1"), a.get_remote("b#1"), a.get_remote("c#1")), (2, 5, 0));
    }
}
