//! Lock-order inversions: task A takes L1 then L2 while task B takes L2 then L1.
//!
//! Every acquisition of a lock while others are held adds an edge "held → taken" to a graph of
//! lock pairs, remembered once per pair of code sites (so memory follows the code, not the
//! number of acquisitions). When a task adds an edge whose reverse another task added, the two
//! could each hold one lock and wait for the other: a potential deadlock, reported whether or not
//! it happened this time. These cases cannot deadlock and are not reported:
//! - the same task took both orders (it cannot wait for itself across the two);
//! - the earlier pair happened before the later task took its first lock (spawn/join order);
//! - both tasks also held a common *gate* lock, which serialises the two sections;
//! - one of the two locks is only ever shared (two read sides of an `RwLock` never block).

use super::lockset::{Hold, LockId, Locks};
use super::shadow::happened_before;
use crate::clock::Clock;
use crate::id::{TaskId, Uuid};
use crate::location::Location;
use std::collections::HashMap;

/// "`task` held `from` (taken at `from_at`) when it took `to` at `to_at`".
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    pub task: TaskId,
    /// The task's counter when it took `to`.
    pub count: u64,
    pub trace_id: Uuid,
    pub from_at: Location,
    pub to_at: Location,
    pub from_exclusive: bool,
    pub to_exclusive: bool,
    /// The other locks the task held at that moment.
    pub gates: Vec<Hold>,
}

/// A found inversion: `first` was recorded before `second`, on `(a, b)` and `(b, a)`.
#[derive(Clone, Debug)]
pub(crate) struct Inversion {
    pub first: (LockId, LockId, Edge),
    pub second: (LockId, LockId, Edge),
}

/// Most edges remembered per ordered lock pair (distinct code sites); bounds memory when lock
/// names are generated per object.
const MAX_SITES_PER_PAIR: usize = 16;

/// The lock-order graph.
#[derive(Debug, Default)]
pub(crate) struct LockOrder {
    edges: HashMap<(LockId, LockId), Vec<Edge>>,
}

impl LockOrder {
    /// `task` (now at `clock`) takes `to` exclusively or not, holding `held` (acquisition order,
    /// `to` not included). Returns the inversions this acquisition completes.
    pub(crate) fn acquire(
        &mut self,
        task: TaskId,
        trace_id: Uuid,
        clock: &Clock,
        to: (LockId, bool, Location),
        held: &[super::lockset::Held],
    ) -> Vec<Inversion> {
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
                task,
                count: clock.own_count(),
                trace_id,
                from_at: h.location,
                to_at,
                from_exclusive: h.kind.is_exclusive(),
                to_exclusive,
                gates,
            };
            if let Some(reverse) = self.edges.get(&(to_lock, h.lock)) {
                for r in reverse {
                    if inverts(r, &edge, &h.clock) {
                        found.push(Inversion {
                            first: (to_lock, h.lock, r.clone()),
                            second: (h.lock, to_lock, edge.clone()),
                        });
                    }
                }
            }
            let sites = self.edges.entry((h.lock, to_lock)).or_default();
            let same =
                sites.iter().position(|s| s.from_at == edge.from_at && s.to_at == edge.to_at && s.task == edge.task);
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
        found
    }

    /// Edges remembered (for footprint checks).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.edges.values().map(Vec::len).sum()
    }
}

/// Whether the earlier edge `r` (L2 → L1 in task R) and the new edge `e` (L1 → L2 in task T,
/// whose L1 was taken at `first_taken`) can deadlock.
fn inverts(r: &Edge, e: &Edge, first_taken: &Clock) -> bool {
    if r.task == e.task || happened_before(r.task, r.count, first_taken) {
        return false;
    }
    // T holds L1 (e.from) and R wants it (r.to); R holds L2 (r.from) and T wants it (e.to).
    let l1_blocks = e.from_exclusive || r.to_exclusive;
    let l2_blocks = r.from_exclusive || e.to_exclusive;
    if !(l1_blocks && l2_blocks) {
        return false;
    }
    let gated = r.gates.iter().any(|g| e.gates.iter().any(|h| h.lock == g.lock && (h.exclusive || g.exclusive)));
    !gated
}

/// The lock names of an inversion, for the report.
pub(crate) fn lock_names(locks: &Locks, inv: &Inversion) -> (String, String) {
    (locks.name(inv.first.0).to_owned(), locks.name(inv.first.1).to_owned())
}
