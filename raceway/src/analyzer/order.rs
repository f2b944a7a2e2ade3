//! Lock-order cycles: task A takes L1 then L2 while task B takes L2 then L1 (or, longer, A takes
//! L1→L2, B L2→L3, C L3→L1).
//!
//! Every acquisition of a lock while others are held adds an edge "held → taken" to a graph of
//! lock pairs, remembered once per task and pair of code sites, at most [`MAX_SITES_PER_PAIR`]
//! per lock pair (so memory follows the code, not the number of acquisitions). When a new edge
//! closes a cycle of edges from distinct tasks, each task could hold its first lock and wait for
//! the next task's: a potential deadlock, reported whether or not it happened this time. Cycles
//! of up to [`MAX_CYCLE`] locks are searched. A cycle that cannot deadlock is not reported:
//! - one task took two of its orders (it cannot wait for itself);
//! - two of its steps are ordered by spawn/join (one ended before the other began);
//! - two of its tasks also held a common *gate* lock, which serialises their sections;
//! - a lock of the cycle is only ever shared where it would have to block (two read sides of an
//!   `RwLock` never wait for each other).

use super::lockset::{Held, Hold, LockId};
use super::shadow::happened_before;
use super::HashMap;
use crate::event::clock::Clock;
use crate::event::id::{TaskId, Uuid};
use crate::event::location::Location;

/// "`task` held `from` (taken at `from_at`) when it took `to` at `to_at`".
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    pub from: LockId,
    pub to: LockId,
    pub task: TaskId,
    /// The task's counter when it took `to`.
    pub count: u64,
    /// The task's clock when it took `from`: where its section began.
    pub from_clock: Clock,
    pub trace_id: Uuid,
    pub from_at: Location,
    pub to_at: Location,
    pub from_exclusive: bool,
    pub to_exclusive: bool,
    /// The other locks the task held at that moment.
    pub gates: Vec<Hold>,
}

/// A found cycle: its edges in cycle order (each one's `to` is the next one's `from`), the new
/// edge that closed it last.
#[derive(Clone, Debug)]
pub(crate) struct Cycle {
    pub steps: Vec<Edge>,
}

/// Most edges remembered per ordered lock pair; bounds memory when lock names are made per object.
const MAX_SITES_PER_PAIR: usize = 16;
/// Longest cycle searched, in locks.
pub(crate) const MAX_CYCLE: usize = 4;
/// Most edges examined per search: bounds the cost of one acquisition on a dense graph.
const MAX_SEARCH: usize = 4096;

/// The lock-order graph.
#[derive(Debug, Default)]
pub(crate) struct LockOrder {
    edges: HashMap<(LockId, LockId), Vec<Edge>>,
    /// Lock → the locks taken while holding it, to walk the graph forward.
    next: HashMap<LockId, Vec<LockId>>,
}

impl LockOrder {
    /// `task` (now at `clock`) takes `to` exclusively or not, holding `held` (acquisition order,
    /// `to` not included). Returns the cycles this acquisition closes.
    pub(crate) fn acquire(
        &mut self,
        task: TaskId,
        trace_id: Uuid,
        clock: &Clock,
        to: (LockId, bool, Location),
        held: &[Held],
    ) -> Vec<Cycle> {
        let mut found = Vec::new();
        let (to_lock, to_exclusive, to_at) = to;
        for (i, h) in held.iter().enumerate() {
            if h.lock == to_lock {
                continue;
            }
            let gates: Vec<Hold> = held
                .iter()
                .enumerate()
                .filter(|(j, g)| *j != i && g.lock != to_lock)
                .map(|(_, g)| Hold { lock: g.lock, exclusive: g.kind.is_exclusive() })
                .collect();
            let edge = Edge {
                from: h.lock,
                to: to_lock,
                task,
                count: clock.own_count(),
                from_clock: h.clock.clone(),
                trace_id,
                from_at: h.location,
                to_at,
                from_exclusive: h.kind.is_exclusive(),
                to_exclusive,
                gates,
            };
            let mut path = Vec::new();
            let mut budget = MAX_SEARCH;
            self.search(&edge, to_lock, &mut path, &mut budget, &mut found);
            self.remember(edge);
        }
        found
    }

    /// Extends `path` (edges from `edge.to` onwards) until it returns to `edge.from`.
    fn search<'a>(
        &'a self,
        edge: &Edge,
        at: LockId,
        path: &mut Vec<&'a Edge>,
        budget: &mut usize,
        found: &mut Vec<Cycle>,
    ) {
        let Some(nexts) = self.next.get(&at) else { return };
        for &n in nexts {
            let closes = n == edge.from;
            // A lock appears once in a cycle, and a cycle has at most MAX_CYCLE locks.
            if !closes && (n == edge.to || path.iter().any(|p| p.from == n) || path.len() + 2 >= MAX_CYCLE) {
                continue;
            }
            for candidate in self.edges.get(&(at, n)).into_iter().flatten() {
                if *budget == 0 {
                    return;
                }
                *budget -= 1;
                let previous = path.last().copied().unwrap_or(edge);
                if !fits(previous, candidate, edge, path) {
                    continue;
                }
                if closes {
                    // The last step waits on the new edge's first lock.
                    if blocks(candidate, edge) {
                        let mut steps: Vec<Edge> = path.iter().map(|e| (*e).clone()).collect();
                        steps.push(candidate.clone());
                        steps.push(edge.clone());
                        found.push(Cycle { steps });
                    }
                } else {
                    path.push(candidate);
                    self.search(edge, n, path, budget, found);
                    path.pop();
                }
            }
        }
    }

    fn remember(&mut self, edge: Edge) {
        let (from, to) = (edge.from, edge.to);
        let sites = self.edges.entry((from, to)).or_default();
        if sites.is_empty() {
            self.next.entry(from).or_default().push(to);
        }
        let same = sites.iter().position(|s| s.from_at == edge.from_at && s.to_at == edge.to_at && s.task == edge.task);
        match same {
            Some(i) => sites[i] = edge,
            None if sites.len() < MAX_SITES_PER_PAIR => sites.push(edge),
            None => {
                // Keep the newest: it is the one most likely concurrent with what comes next.
                sites.remove(0);
                sites.push(edge);
            }
        }
    }

    /// Edges remembered (for footprint checks).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.edges.values().map(Vec::len).sum()
    }
}

/// Whether `candidate` can follow `previous` in a cycle closed by `new` with `path` so far: a
/// task not yet in it, whose wait blocks on `previous`, concurrent with every step and not gated
/// against any.
fn fits(previous: &Edge, candidate: &Edge, new: &Edge, path: &[&Edge]) -> bool {
    blocks(previous, candidate)
        && std::iter::once(new)
            .chain(path.iter().copied())
            .all(|other| other.task != candidate.task && concurrent(other, candidate) && !gated(other, candidate))
}

/// Whether the task of `a`, holding `a.from` and wanting `a.to`, can be blocked by the task of
/// `b`, which holds `b.from == a.to`: one of the two holds or wants that lock exclusively.
fn blocks(a: &Edge, b: &Edge) -> bool {
    a.to_exclusive || b.from_exclusive
}

/// Whether neither section happened before the other began.
fn concurrent(a: &Edge, b: &Edge) -> bool {
    !happened_before(a.task, a.count, &b.from_clock) && !happened_before(b.task, b.count, &a.from_clock)
}

/// Whether the two sections were both inside a common lock that excludes one from the other.
fn gated(a: &Edge, b: &Edge) -> bool {
    a.gates.iter().any(|g| b.gates.iter().any(|h| h.lock == g.lock && (h.exclusive || g.exclusive)))
}
