//! [`Barrier`]: `tokio::sync::Barrier` that orders everything before it before everything after.

use super::LazyName;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::{acquire, release, Handoff};
use std::collections::VecDeque;
use std::sync::Mutex;

pub use tokio::sync::BarrierWaitResult;

/// Generations kept at most, against waits that are cancelled and never leave their generation.
const MAX_OPEN: usize = 64;

/// A tracked [`tokio::sync::Barrier`]: the same API. Each `wait` releases on arrival and, once
/// the barrier opens, acquires the join of every arrival *of its generation*, so what each task
/// did before the barrier is ordered before what every task does after it, and a fast task's
/// arrival at the next generation orders nothing for a slow task still leaving this one.
///
/// Generations are counted by arrival, `n` per generation: this matches tokio's as long as no
/// `wait` is cancelled (a cancelled wait leaves its generation one short).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let barrier = std::sync::Arc::new(raceway::sync::Barrier::new(2));
/// let other = barrier.clone();
/// let h = raceway::spawn(async move { other.wait().await });
/// let leaders = [barrier.wait().await.is_leader(), h.await.unwrap().is_leader()];
/// assert_eq!(leaders.iter().filter(|l| **l).count(), 1);
/// # }
/// ```
pub struct Barrier {
    inner: tokio::sync::Barrier,
    n: u64,
    name: LazyName,
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    arrived: u64,
    /// (generation, join of its arrivals, how many have left).
    open: VecDeque<(u64, Option<Handoff>, u64)>,
}

impl Barrier {
    /// A barrier for `n` tasks (0 behaves as 1, like tokio's), named `barrier#N` on first use.
    pub fn new(n: usize) -> Self {
        Self::make(n, LazyName::new("barrier"))
    }

    /// A barrier whose events carry `name` as their object.
    pub fn named(name: impl Into<Name>, n: usize) -> Self {
        Self::make(n, LazyName::named(name.into(), "barrier"))
    }

    fn make(n: usize, name: LazyName) -> Self {
        let generations = Mutex::new(Generations::default());
        Barrier { inner: tokio::sync::Barrier::new(n), n: n.max(1) as u64, name, generations }
    }

    /// Waits until `n` tasks wait (records `barrier.arrive` and `barrier.leave`).
    #[track_caller]
    pub fn wait(&self) -> impl std::future::Future<Output = BarrierWaitResult> + '_ {
        let location = Location::caller();
        self.wait_at(location)
    }

    async fn wait_at(&self, location: Location) -> BarrierWaitResult {
        if !cfg!(raceway_on) {
            return self.inner.wait().await;
        }
        // Arrivals are counted even when nothing records, so generations stay right when a
        // recording starts while the barrier is in use.
        let generation = {
            let mine = release("barrier.arrive", self.name.get(), location);
            let mut g = self.generations.lock().unwrap_or_else(|e| e.into_inner());
            let generation = g.arrived / self.n;
            g.arrived += 1;
            match g.open.iter_mut().find(|(gen, ..)| *gen == generation) {
                Some((_, joined, _)) => match (joined.as_mut(), mine) {
                    (Some(j), Some(m)) => j.merge(&m),
                    (None, m) => *joined = m,
                    (Some(_), None) => {}
                },
                None => {
                    g.open.push_back((generation, mine, 0));
                    if g.open.len() > MAX_OPEN {
                        g.open.pop_front();
                    }
                }
            }
            generation
        };
        let result = self.inner.wait().await;
        let from = {
            let mut g = self.generations.lock().unwrap_or_else(|e| e.into_inner());
            let n = self.n;
            let at = g.open.iter().position(|(gen, ..)| *gen == generation);
            at.and_then(|i| {
                let slot = &mut g.open[i];
                slot.2 += 1;
                let from = slot.1.clone();
                if slot.2 == n {
                    g.open.remove(i);
                }
                from
            })
        };
        acquire("barrier.leave", self.name.get(), location, from.as_ref());
        result
    }
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier").field("name", &self.name).field("n", &self.n).finish_non_exhaustive()
    }
}
