//! The embedded analyzer: race and deadlock detection inside the process, without a server.
//!
//! It reads events in recording order and keeps only what later events must be compared with:
//! - per variable, the accesses not yet overtaken by a later one (see `shadow.rs`, a FastTrack
//!   variant whose epochs carry a lock set);
//! - per task *holding locks*, the locks it holds (see `lockset.rs`);
//! - per pair of locks taken nested, the code sites of each order (see `order.rs`);
//! - per variable, each task's last read not yet followed by its write, and its last
//!   read-then-write pair, to find stale read-modify-writes across critical sections (see
//!   `atomicity.rs`).
//!
//! - at most [`crate::Config::analyzer_max_variables`] variables: past it, the least recently
//!   used are forgotten and counted (see [`Analyzer::observe`]); a forgotten variable's next
//!   access starts it afresh, which can miss a race with what was forgotten but never invent one.
//!
//! Two accesses race when the server would say so (contract §3) — same variable, at least one
//! write, different tasks, no happens-before, no common lock — with happens-before taken from the
//! events' vector clocks (spawn, join, and propagated requests, across traces), and two
//! refinements where the server is imprecise: two reads never race (the server compares
//! `Read`/`AtomicRead` pairs), and the read sides of one `RwLock` do not protect each other.
//!
//! Lock release→acquire edges are deliberately *not* added to happens-before: like the server, a
//! common lock protects a pair of accesses, whatever order the tasks happened to take it in. With
//! release→acquire edges, an unprotected access that merely ran after another task's critical
//! section would look ordered, and whether a test saw a race would depend on the schedule.

#[cfg(feature = "tracing")]
mod as_tracing;
pub(crate) mod atomicity;
mod lockset;
mod order;
mod report;
pub(crate) mod shadow;
mod sink;
mod tasks;

pub use report::{
    AtomicityViolation, Deadlock, HeldAcrossAwait, Lane, LockStep, Race, RaceAccess, Report, Severity, Spawned,
    StackFrame, StepKind, Suppressions, Timeline, TimelineStep,
};
pub(crate) use sink::AnalyzerSink;

use crate::event::{Event, EventKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An incremental race and lock-order analyzer over recorded events.
///
/// The process-wide client feeds one automatically when there is no server (or when
/// [`crate::Config::analyze`] is on), and [`crate::testing::capture`] runs one over its events.
/// Use it directly to analyse events you hold:
///
/// ```
/// let captured = raceway::testing::capture(|| {
///     let h = raceway::thread::spawn(|| raceway::track_write("x", &0, &1));
///     raceway::track_write("x", &0, &2);
///     h.join().unwrap();
/// });
/// let mut analyzer = raceway::Analyzer::new();
/// for event in &captured.events {
///     analyzer.observe(event);
/// }
/// assert_eq!(analyzer.report().races.len(), 1);
/// ```
#[derive(Debug)]
pub struct Analyzer {
    locks: lockset::Locks,
    /// Boxed: the table then holds two pointers per variable, and at the load factor the
    /// table keeps, that is most of what a variable costs beyond its one access.
    vars: HashMap<Box<str>, Box<VarState>>,
    order: order::LockOrder,
    findings: report::Builder,
    tasks: tasks::Tasks,
    events: u64,
    accesses: u64,
    forgotten: u64,
    /// Most variables remembered; past it the least recently used are forgotten.
    max_variables: usize,
    variables_forgotten: u64,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer {
            locks: Default::default(),
            vars: HashMap::new(),
            order: Default::default(),
            findings: Default::default(),
            tasks: Default::default(),
            events: 0,
            accesses: 0,
            forgotten: 0,
            max_variables: crate::config::DEFAULT_ANALYZER_MAX_VARIABLES,
            variables_forgotten: 0,
        }
    }
}

/// What the analyzer remembers of one variable.
#[derive(Debug, Default)]
struct VarState {
    shadow: shadow::Var,
    atomicity: atomicity::Var,
    /// The analyzer's access count at the variable's last access: its place in the LRU order
    /// (distinct for every variable, as each access has its own count).
    used: u64,
}

/// Sizes of the analyzer's state, to show that memory follows variables and tasks, not events.
#[cfg(test)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Footprint {
    pub variables: usize,
    pub accesses_kept: usize,
    pub atomicity_kept: usize,
    pub tasks_holding_locks: usize,
    pub locksets: usize,
    pub lock_edges: usize,
    pub report_groups: usize,
    pub tasks_followed: usize,
}

impl Analyzer {
    /// An analyzer that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// An analyzer remembering at most `max` variables (at least 1): past it, the least recently
    /// used are forgotten, counted in [`Report::variables_forgotten`], and start afresh if they
    /// come back (a race with what was forgotten can be missed, never invented).
    ///
    /// ```
    /// let mut analyzer = raceway::Analyzer::with_max_variables(1_000);
    /// let captured = raceway::testing::capture(|| {
    ///     for i in 0..2_000 {
    ///         raceway::track_write(format!("acct[{i}]"), &0, &1);
    ///     }
    /// });
    /// for event in &captured.events {
    ///     analyzer.observe(event);
    /// }
    /// let report = analyzer.report();
    /// assert_eq!(report.variables, 2_000);
    /// assert!(report.variables_forgotten >= 1_000);
    /// ```
    pub fn with_max_variables(max: usize) -> Self {
        Analyzer { max_variables: max.max(1), ..Self::default() }
    }

    /// Analyses one event. Events must come in recording order (the order of a capture, or of
    /// the exporter's queue). Costs O(1) amortized for an access in the common case: one map
    /// lookup and a scan of the few accesses the variable still remembers.
    pub fn observe(&mut self, event: &Event) {
        self.events += 1;
        // Stacks, origins and windows first: an access's own event is in its task's window.
        let context = self.tasks.observe(self.events, event);
        match &event.kind {
            EventKind::StateChange { variable, old_value, new_value, location, access_type } => {
                self.accesses += 1;
                let access = shadow::Access {
                    task: event.task,
                    count: event.clock.own_count(),
                    access: *access_type,
                    lockset: self.locks.current(event.task),
                    location: *location,
                    old_value: old_value.clone(),
                    new_value: new_value.clone(),
                    trace_id: event.trace_id,
                    event_id: event.id,
                    context,
                };
                let name = variable.as_str();
                let var = match self.vars.get_mut(name) {
                    Some(v) => v,
                    None => {
                        if self.vars.len() >= self.max_variables {
                            self.variables_forgotten += forget_least_recently_used(&mut self.vars);
                        }
                        self.vars.entry(name.into()).or_default()
                    }
                };
                var.used = self.accesses;
                let (locks, findings, tasks) = (&self.locks, &mut self.findings, &self.tasks);
                var.shadow
                    .check(&access, &event.clock, locks, |earlier| findings.race(name, earlier, &access, locks, tasks));
                // Before the insert: a read is compared with the writes remembered so far.
                var.atomicity.observe(&access, &event.clock, locks, var.shadow.writes(), |found| {
                    findings.atomicity(name, &found, locks, tasks)
                });
                self.forgotten += var.shadow.insert(access, &event.clock, locks);
            }
            EventKind::LockAcquire { lock_id, lock_type, location } => {
                let lock = self.locks.lock_id(lock_id.as_str());
                let held = self.locks.held(event.task);
                let reentrant = held.iter().any(|h| h.lock == lock && h.kind == *lock_type);
                if !reentrant && !held.is_empty() {
                    let found = self.order.acquire(
                        event.task,
                        event.trace_id,
                        &event.clock,
                        (lock, lock_type.is_exclusive(), *location),
                        held,
                    );
                    for inversion in &found {
                        self.findings.deadlock(inversion, &self.locks);
                    }
                }
                self.locks.acquire(event.task, lock, *lock_type, *location, &event.clock);
            }
            EventKind::LockRelease { lock_id, lock_type, .. } => {
                let lock = self.locks.lock_id(lock_id.as_str());
                self.locks.release(event.task, lock, *lock_type);
            }
            EventKind::AsyncAwait { child, .. } => self.locks.task_ended(*child),
            EventKind::LockHeldAcrossAwait { lock_id, lock_type, acquired_at, function_name, location } => {
                self.findings.held_across_await(HeldAcrossAwait {
                    lock: lock_id.as_str().to_owned(),
                    lock_type: *lock_type,
                    acquired_at: *acquired_at,
                    function: function_name.as_str().to_owned(),
                    function_at: *location,
                    task: event.task,
                    thread_id: event.task.thread_id(),
                    task_name: self.tasks.name(event.task).map(|n| n.as_str().to_owned()),
                    trace_id: event.trace_id,
                    count: 1,
                });
            }
            _ => {}
        }
    }

    /// What has been found so far.
    pub fn report(&self) -> Report {
        // A forgotten variable was seen: it counts (once more if it came back after).
        let variables = self.vars.len() as u64 + self.variables_forgotten;
        let mut report = self.findings.build(self.events, self.accesses, variables);
        report.forgotten = self.forgotten;
        report.variables_forgotten = self.variables_forgotten;
        report
    }

    #[cfg(test)]
    pub(crate) fn footprint(&self) -> Footprint {
        Footprint {
            variables: self.vars.len(),
            accesses_kept: self.vars.values().map(|v| v.shadow.len()).sum(),
            atomicity_kept: self.vars.values().map(|v| v.atomicity.len()).sum(),
            tasks_holding_locks: self.locks.tasks_holding(),
            locksets: self.locks.lockset_count(),
            lock_edges: self.order.len(),
            report_groups: self.findings.groups(),
            tasks_followed: self.tasks.len(),
        }
    }
}

/// Forgets the eighth of the remembered variables used least recently and returns how many. One
/// pass over the map (a selection of the oldest stamps, then a retain) per `max / 8` new
/// variables: O(1) amortized per access, no per-access bookkeeping beyond one stamp, and exact
/// LRU order (each variable's stamp is the count of its last access, distinct for each).
#[cold]
fn forget_least_recently_used(vars: &mut HashMap<Box<str>, Box<VarState>>) -> u64 {
    let forget = (vars.len() / 8).max(1);
    let mut stamps: Vec<u64> = vars.values().map(|v| v.used).collect();
    let (_, &mut newest_forgotten, _) = stamps.select_nth_unstable(forget - 1);
    vars.retain(|_, v| v.used > newest_forgotten);
    forget as u64
}

/// Analyses `events` (in recording order) and returns the report.
///
/// ```
/// let captured = raceway::testing::capture(|| raceway::track_write("x", &0, &1));
/// assert!(raceway::analyze(&captured.events).is_clean());
/// ```
pub fn analyze<'a>(events: impl IntoIterator<Item = &'a Event>) -> Report {
    let mut a = Analyzer::new();
    for e in events {
        a.observe(e);
    }
    let report = a.report();
    #[cfg(feature = "tracing")]
    as_tracing::emit(&report);
    report
}

/// The analyzer of the current (or last) `init`, when it had one.
struct Run {
    analyzer: Arc<Mutex<Analyzer>>,
    /// Until shutdown has printed its report.
    live: bool,
}

static RUN: Mutex<Option<Run>> = Mutex::new(None);

/// A fresh analyzer for a new `init`, shared between the exporter's sink and [`report`].
pub(crate) fn start_run(max_variables: usize) -> Arc<Mutex<Analyzer>> {
    let analyzer = Arc::new(Mutex::new(Analyzer::with_max_variables(max_variables)));
    *RUN.lock().unwrap_or_else(|e| e.into_inner()) = Some(Run { analyzer: analyzer.clone(), live: true });
    analyzer
}

/// Called by `shutdown` after the exporter stopped: takes out what `suppressions` hide, prints
/// the report to stderr (in full when something was found, as one summary line otherwise), names
/// the suppression lines that matched nothing, writes the JSON, SARIF and HTML files configured
/// (`RACEWAY_REPORT_*`), and under GitHub Actions prints annotations. Returns whether findings remain (for the exit status).
pub(crate) fn finish_run(suppressions: &Suppressions) -> bool {
    let analyzer = {
        let mut run = RUN.lock().unwrap_or_else(|e| e.into_inner());
        match run.as_mut() {
            Some(r) if r.live => {
                r.live = false;
                r.analyzer.clone()
            }
            _ => return false,
        }
    };
    let mut report = analyzer.lock().unwrap_or_else(|e| e.into_inner()).report();
    suppressions.apply(&mut report);
    eprint!("{report}");
    // Once per run: a stale line hides nothing and should be deleted (TSan prints the same).
    for line in suppressions.unmatched() {
        eprintln!("[raceway] suppression `{line}` matched nothing");
    }
    #[cfg(feature = "tracing")]
    as_tracing::emit(&report);
    #[cfg(raceway_on)]
    report::write_files(&report, &crate::config::report_files());
    !report.is_clean()
}

/// The embedded analyzer's findings so far (after delivering what is queued), or, after
/// shutdown or under a server-only configuration, those of the last run that had an analyzer.
/// Empty when no analyzer ever ran in this process.
///
/// While a client is installed this first waits (at most the configured `shutdown_timeout`) for
/// the exporter to hand everything recorded so far to the analyzer, like [`crate::flush`].
///
/// ```
/// let guard = raceway::init(raceway::Config::default().service_name("docs"))?;
/// raceway::track_write("x", &0, &1);
/// let report = raceway::report();
/// assert!(report.is_clean());
/// assert_eq!(report.accesses, 1);
/// # drop(guard);
/// # Ok::<(), raceway::Error>(())
/// ```
pub fn report() -> Report {
    crate::stage::flush();
    let analyzer = RUN.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|r| r.analyzer.clone());
    match analyzer {
        Some(a) => a.lock().unwrap_or_else(|e| e.into_inner()).report(),
        None => Report::default(),
    }
}
