//! Tasks the SDK did not see start: futures spawned with plain `tokio::spawn`, a `JoinSet`,
//! `spawn_local`, or any executor API the SDK does not wrap, that record something.
//!
//! Without a wrapper, a task's state cannot travel with it, and before this every such task
//! recorded as whatever owned the worker thread: two tasks on one worker shared an identity (their
//! races were hidden) and a task that moved between workers split into several (its events landed
//! in several traces). Now each gets a logical task of its own, keyed by tokio's task id
//! (`tokio::task::try_id()`), kept in a registry: the thread that runs the task takes its state
//! into the thread's slot for each recording call and puts it back afterwards.
//!
//! What cannot be known stays unordered: the SDK saw neither the spawn nor the join, so such a
//! task starts with a fresh clock in a trace of its own. Inside a test capture on a
//! `current_thread` runtime (`#[tokio::test]`'s default), tasks first seen on the capture's thread
//! join the capture's trace so that the capture sees them (see [`Home`]). `raceway::spawn`, and
//! `#[traced]` bodies, which rewrite spawn calls, give the order.
//!
//! The registry is bounded ([`MAX_TASKS`]): the SDK cannot see such a task end, so the least
//! recently active ones are forgotten first; one that records again after being forgotten
//! continues as a new task.

use super::state::{TaskState, Trace};
use crate::stage::staging::Staging;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The key of a running task the SDK did not see start.
#[cfg(raceway_tokio)]
pub(crate) type Key = tokio::task::Id;
#[cfg(not(raceway_tokio))]
pub(crate) type Key = std::convert::Infallible;

/// The task running on this thread that the SDK did not see start, if any.
#[inline]
pub(crate) fn current() -> Option<Key> {
    #[cfg(raceway_tokio)]
    return tokio::task::try_id();
    #[cfg(not(raceway_tokio))]
    None
}

/// Most tasks remembered at once.
pub(crate) const MAX_TASKS: usize = 1 << 16;

/// One adopted task: its state while no thread runs it, and where its last event is staged.
#[derive(Default)]
pub(crate) struct Adopted {
    state: Mutex<Parked>,
    last_used: AtomicU64,
}

#[derive(Default)]
struct Parked {
    state: Option<TaskState>,
    /// The staging buffer (and its dispatch's generation) holding the task's last event, which
    /// must be queued before the task's next event is staged on another thread.
    staged_in: Option<(u64, Arc<Staging>)>,
}

impl Adopted {
    /// Takes the state out (a new task in `home`'s trace, or a new trace, the first time).
    pub(crate) fn take(&self, home: Option<&Home>) -> (TaskState, Option<(u64, Arc<Staging>)>) {
        self.last_used.store(CLOCK.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        let mut p = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = p.state.take().unwrap_or_else(|| TaskState::adopted(home.and_then(Home::trace)));
        (state, p.staged_in.clone())
    }

    /// Puts the state back, with where its last event now waits.
    pub(crate) fn put(&self, state: TaskState, staged_in: Option<(u64, &Arc<Staging>)>) {
        let mut p = self.state.lock().unwrap_or_else(|e| e.into_inner());
        p.state = Some(state);
        if let Some((generation, staging)) = staged_in {
            let same = matches!(&p.staged_in, Some((g, s)) if *g == generation && Arc::ptr_eq(s, staging));
            if !same {
                p.staged_in = Some((generation, staging.clone()));
            }
        }
    }
}

/// Orders uses for the least-recently-used eviction.
static CLOCK: AtomicU64 = AtomicU64::new(0);
static REGISTRY: Mutex<Option<HashMap<Key, Arc<Adopted>>>> = Mutex::new(None);
static FORGOTTEN: AtomicU64 = AtomicU64::new(0);

/// The registry entry of `key`, created when new.
pub(crate) fn entry(key: Key) -> Arc<Adopted> {
    let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let map = reg.get_or_insert_with(HashMap::new);
    if let Some(a) = map.get(&key) {
        return a.clone();
    }
    if map.len() >= MAX_TASKS {
        forget_least_recent(map);
    }
    let a = Arc::new(Adopted::default());
    map.insert(key, a.clone());
    a
}

/// Drops the least recently active eighth of the registry (amortised: one sort per many tasks).
fn forget_least_recent(map: &mut HashMap<Key, Arc<Adopted>>) {
    let mut ages: Vec<u64> = map.values().map(|a| a.last_used.load(Ordering::Relaxed)).collect();
    let cut = ages.len() / 8;
    let (_, threshold, _) = ages.select_nth_unstable(cut);
    let threshold = *threshold;
    let before = map.len();
    map.retain(|_, a| a.last_used.load(Ordering::Relaxed) > threshold);
    FORGOTTEN.fetch_add((before - map.len()) as u64, Ordering::Relaxed);
}

/// How many adopted tasks were forgotten to keep the registry bounded.
#[allow(dead_code)]
pub(crate) fn forgotten() -> u64 {
    FORGOTTEN.load(Ordering::Relaxed)
}

/// A test capture's claim on its thread: tasks the SDK did not see start that first record on
/// this thread while the capture runs belong to its trace.
#[derive(Clone)]
pub(crate) struct Home {
    trace: Arc<Trace>,
    active: Arc<AtomicBool>,
}

impl Home {
    fn trace(&self) -> Option<Arc<Trace>> {
        self.active.load(Ordering::Acquire).then(|| self.trace.clone())
    }
}

/// Ends a [`Home`] claim when dropped (from any thread).
pub(crate) struct HomeGuard(Arc<AtomicBool>);

impl Drop for HomeGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Makes this thread the home of `trace` until the guard drops.
pub(crate) fn claim_home(trace: Arc<Trace>) -> HomeGuard {
    let active = Arc::new(AtomicBool::new(true));
    let home = Home { trace, active: active.clone() };
    super::local::set_home(home);
    HomeGuard(active)
}
