//! The race report: what the analyzer found, grouped by code location, as data, text and JSON.
//!
//! A race that a loop hits a thousand times is one entry with a count: races are grouped by the
//! pair of code locations of the two accesses and whether each wrote (the variables seen there
//! are listed), deadlocks by
//! their four acquisition sites. The number of groups is capped so that a program generating
//! endless distinct sites cannot grow the report without bound; what is past the cap is counted.

use super::lockset::Locks;
use super::order::Cycle;
use super::shadow;
use crate::event::AccessType;
use crate::id::{TaskId, Uuid};
use crate::location::Location;
use crate::value::Value;
use std::collections::HashMap;
use std::fmt;

/// How serious a race is (the server's scale).
///
/// ```
/// assert!(raceway::Severity::Critical < raceway::Severity::Warning); // sorts first
/// assert_eq!(raceway::Severity::Warning.as_str(), "WARNING");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Severity {
    /// Both accesses write (Write, AtomicWrite or AtomicRMW): an update can be lost.
    Critical,
    /// One reads, the other writes: the read may see either value.
    Warning,
}

impl Severity {
    /// `"CRITICAL"` or `"WARNING"`, as the server spells them.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::Warning => "WARNING",
        }
    }

    fn of(a: AccessType, b: AccessType) -> Self {
        if a.is_write() && b.is_write() {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }
}

/// One side of a race.
///
/// ```
/// let report = raceway::testing::capture(|| {
///     let h = raceway::thread::spawn(|| raceway::track_write("x", &0, &1));
///     raceway::track_write("x", &0, &2);
///     h.join().unwrap();
/// }).report;
/// let race = &report.races[0];
/// assert_eq!(race.first.access_type, raceway::AccessType::Write);
/// assert!(race.first.thread_id.contains("-task-"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RaceAccess {
    /// Where the access is in the source.
    pub location: Location,
    /// The logical task that made it.
    pub task: TaskId,
    /// That task's `thread_id`, as the server would show it.
    pub thread_id: String,
    /// Read, write, atomic...
    pub access_type: AccessType,
    /// Value before (null for reads).
    pub old_value: Value,
    /// Value after (the value seen, for reads).
    pub new_value: Value,
    /// Locks the task held at the access.
    pub locks: Vec<String>,
    /// The trace (request) the access belongs to.
    pub trace_id: Uuid,
    /// The access's event id.
    pub event_id: Uuid,
}

/// A race: two accesses to one variable, from different tasks, at least one a write, with no
/// happens-before between them and no lock protecting both.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Race {
    /// The variable of the first occurrence.
    pub variable: String,
    /// Every variable this pair of code locations raced on (at most 16 listed).
    pub variables: Vec<String>,
    /// Critical for write/write, warning for read/write.
    pub severity: Severity,
    /// The access recorded first.
    pub first: RaceAccess,
    /// The access recorded second.
    pub second: RaceAccess,
    /// How many racing pairs were found at this pair of locations.
    pub count: u64,
}

/// One task's step in a lock-order cycle: it held `held` and then took `acquired`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LockStep {
    /// The task.
    pub task: TaskId,
    /// Its `thread_id`.
    pub thread_id: String,
    /// Its trace.
    pub trace_id: Uuid,
    /// The lock it already held.
    pub held: String,
    /// Where it took that lock.
    pub held_at: Location,
    /// The lock it then took.
    pub acquired: String,
    /// Where it took it.
    pub acquired_at: Location,
}

/// A potential deadlock: concurrent tasks took locks in orders that form a cycle. Most often two
/// tasks took the same two locks in opposite orders (an inversion); cycles through up to four
/// locks and tasks are found.
///
/// ```
/// let captured = raceway::testing::capture(|| {
///     use raceway::{track_lock_acquire as acq, track_lock_release as rel, LockKind::Mutex};
///     let h = raceway::thread::spawn(|| { acq("a", Mutex); acq("b", Mutex); rel("b", Mutex); rel("a", Mutex); });
///     acq("b", Mutex); acq("a", Mutex); rel("a", Mutex); rel("b", Mutex);
///     h.join().unwrap();
/// });
/// let d = &captured.report.deadlocks[0];
/// assert_eq!(d.steps.len(), 2);
/// assert_eq!(d.steps[0].acquired, d.steps[1].held, "each step waits on the next one's lock");
/// assert_eq!(d.steps[1].acquired, d.steps[0].held);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Deadlock {
    /// The locks of the cycle, in order: step `i` holds `locks[i]` and takes `locks[i + 1]`.
    pub locks: Vec<String>,
    /// One step per task, in cycle order (for an inversion: the order recorded first, then the
    /// opposite one).
    pub steps: Vec<LockStep>,
    /// How many times this cycle of code sites was seen.
    pub count: u64,
}

/// What the embedded analyzer found. Printed at shutdown, returned by [`crate::report`] and by
/// test captures.
///
/// ```
/// let captured = raceway::testing::capture(|| {
///     let h = raceway::thread::spawn(|| raceway::track_write("counter", &0, &1));
///     raceway::track_read("counter", &0);
///     h.join().unwrap();
/// });
/// let report = &captured.report;
/// assert_eq!(report.races.len(), 1);
/// assert_eq!(report.races[0].severity, raceway::Severity::Warning);
/// assert!(report.summary().contains("1 race"));
/// println!("{report}"); // the text printed at shutdown
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// Races, critical first, then in order of discovery.
    pub races: Vec<Race>,
    /// Lock-order inversions.
    pub deadlocks: Vec<Deadlock>,
    /// Events analysed.
    pub events: u64,
    /// Shared-variable accesses analysed.
    pub accesses: u64,
    /// Distinct variables seen.
    pub variables: u64,
    /// Racing pairs not listed because the report reached its cap of distinct location pairs.
    pub unlisted: u64,
    /// Accesses forgotten because more than 128 concurrent, never-joined tasks read (or wrote)
    /// one variable; a race with a forgotten access can be missed.
    pub forgotten: u64,
}

impl Report {
    /// True when no race and no lock-order inversion was found.
    pub fn is_clean(&self) -> bool {
        self.races.is_empty() && self.deadlocks.is_empty() && self.unlisted == 0
    }

    /// The races involving `variable`.
    ///
    /// ```
    /// let report = raceway::Report::default();
    /// assert_eq!(report.races_on("x").count(), 0);
    /// ```
    pub fn races_on<'a>(&'a self, variable: &'a str) -> impl Iterator<Item = &'a Race> + 'a {
        self.races.iter().filter(move |r| r.variable == variable || r.variables.iter().any(|v| v == variable))
    }

    /// One line: what was found, in how many events.
    ///
    /// ```
    /// assert!(raceway::Report::default().summary().starts_with("no races"));
    /// ```
    pub fn summary(&self) -> String {
        let scope = format!(
            "{} events ({} accesses to {} variable{})",
            self.events,
            self.accesses,
            self.variables,
            plural(self.variables as usize)
        );
        let forgotten = if self.forgotten > 0 {
            format!(
                "; {} accesses forgotten to bound memory (more than 128 unjoined tasks on one variable)",
                self.forgotten
            )
        } else {
            String::new()
        };
        if self.is_clean() {
            return format!("no races or lock-order inversions found in {scope}{forgotten}");
        }
        let critical = self.races.iter().filter(|r| r.severity == Severity::Critical).count();
        let warning = self.races.len() - critical;
        let races = if self.races.is_empty() {
            "no races".to_owned()
        } else {
            format!("{} race{} ({critical} critical, {warning} warning)", self.races.len(), plural(self.races.len()))
        };
        let mut s =
            format!("{races}, {} potential deadlock{} in {scope}", self.deadlocks.len(), plural(self.deadlocks.len()),);
        if self.unlisted > 0 {
            s.push_str(&format!("; {} more racing pairs not listed", self.unlisted));
        }
        s + &forgotten
    }

    /// The report as JSON (for CI; also written to `RACEWAY_REPORT_JSON` at shutdown).
    ///
    /// ```
    /// let json = raceway::Report::default().to_json();
    /// assert!(json.contains("\"races\":[]"));
    /// ```
    #[cfg(feature = "enabled")]
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }

    /// The report as a `serde_json::Value`.
    #[cfg(feature = "enabled")]
    pub fn to_json_value(&self) -> serde_json::Value {
        use serde_json::json;
        let loc = |l: &Location| json!({"file": l.file, "line": l.line, "column": l.column, "display": l.to_string()});
        let access = |a: &RaceAccess| {
            json!({
                "location": loc(&a.location),
                "thread_id": a.thread_id,
                "access_type": a.access_type.as_str(),
                "old_value": a.old_value,
                "new_value": a.new_value,
                "locks": a.locks,
                "trace_id": a.trace_id.to_string(),
                "event_id": a.event_id.to_string(),
            })
        };
        let step = |s: &LockStep| {
            json!({
                "thread_id": s.thread_id,
                "trace_id": s.trace_id.to_string(),
                "held": s.held,
                "held_at": loc(&s.held_at),
                "acquired": s.acquired,
                "acquired_at": loc(&s.acquired_at),
            })
        };
        json!({
            "summary": self.summary(),
            "clean": self.is_clean(),
            "events": self.events,
            "accesses": self.accesses,
            "variables": self.variables,
            "unlisted": self.unlisted,
            "forgotten": self.forgotten,
            "races": self.races.iter().map(|r| json!({
                "variable": r.variable,
                "variables": r.variables,
                "severity": r.severity.as_str(),
                "count": r.count,
                "first": access(&r.first),
                "second": access(&r.second),
            })).collect::<Vec<_>>(),
            "deadlocks": self.deadlocks.iter().map(|d| json!({
                "locks": d.locks,
                "count": d.count,
                "steps": d.steps.iter().map(step).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(feature = "enabled")]
fn show(v: &Value) -> String {
    v.to_string()
}

#[cfg(not(feature = "enabled"))]
fn show(_: &Value) -> String {
    String::new()
}

fn kinds(r: &Race) -> &'static str {
    match (r.first.access_type.is_write(), r.second.access_type.is_write()) {
        (true, true) => "write/write",
        (true, false) => "write/read",
        _ => "read/write",
    }
}

/// Two lines for one side of a race: what and where, then who, under which locks, with which value.
fn describe(f: &mut fmt::Formatter<'_>, label: &str, a: &RaceAccess, with_trace: bool) -> fmt::Result {
    let value = if a.access_type.is_write() {
        match show(&a.old_value).as_str() {
            "" | "null" => format!("wrote {}", show(&a.new_value)),
            old => format!("{old} -> {}", show(&a.new_value)),
        }
    } else {
        format!("read {}", show(&a.new_value))
    };
    let locks = if a.locks.is_empty() { "no lock held".to_owned() } else { format!("holding {}", a.locks.join(", ")) };
    writeln!(f, "  {label:<8}{} at {}", a.access_type.as_str(), a.location)?;
    write!(f, "          task {}, {locks}, {value}", a.thread_id)?;
    if with_trace {
        write!(f, ", trace {}", a.trace_id)?;
    }
    writeln!(f)
}

/// The full text printed at shutdown: one block per race and per deadlock, then the summary.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return writeln!(f, "[raceway] {}", self.summary());
        }
        writeln!(f, "[raceway] race report")?;
        for (i, r) in self.races.iter().enumerate() {
            writeln!(f)?;
            let times = if r.count == 1 { "once".to_owned() } else { format!("{} times", r.count) };
            writeln!(f, "race #{}: {} {} on `{}` (seen {times})", i + 1, r.severity.as_str(), kinds(r), r.variable)?;
            let same_trace = r.first.trace_id == r.second.trace_id;
            describe(f, "first:", &r.first, !same_trace)?;
            describe(f, "second:", &r.second, !same_trace)?;
            if same_trace {
                writeln!(f, "  trace:  {}", r.first.trace_id)?;
            }
            writeln!(
                f,
                "  why:    no spawn/join orders the two tasks{}, and no common lock protects both accesses",
                if same_trace { "" } else { " (two traces: concurrent requests)" }
            )?;
            if r.variables.len() > 1 {
                writeln!(f, "  also on: {}", r.variables[1..].join(", "))?;
            }
        }
        for (i, d) in self.deadlocks.iter().enumerate() {
            writeln!(f)?;
            let times = if d.count == 1 { "once".to_owned() } else { format!("{} times", d.count) };
            let names: Vec<String> = d.locks.iter().map(|l| format!("`{l}`")).collect();
            let what = match names.as_slice() {
                [a, b] => format!("lock-order inversion between {a} and {b}"),
                [init @ .., last] => format!("lock-order cycle through {} and {last}", init.join(", ")),
                [] => "lock-order cycle".to_owned(),
            };
            writeln!(f, "deadlock #{}: {what} (seen {times})", i + 1)?;
            let same_trace = d.steps.iter().all(|s| s.trace_id == d.steps[0].trace_id);
            const LABELS: [&str; 4] = ["first:", "second:", "third:", "fourth:"];
            for (n, s) in d.steps.iter().enumerate() {
                // Nested lock calls often share a line: then the columns tell the two sites apart.
                let (held_at, acquired_at) =
                    if s.held_at.file == s.acquired_at.file && s.held_at.line == s.acquired_at.line {
                        (
                            format!("{}:{}", s.held_at, s.held_at.column),
                            format!("{}:{}", s.acquired_at, s.acquired_at.column),
                        )
                    } else {
                        (s.held_at.to_string(), s.acquired_at.to_string())
                    };
                let label = LABELS.get(n).copied().unwrap_or("next:");
                write!(
                    f,
                    "  {label:<8}task {} took `{}` at {held_at}, then `{}` at {acquired_at}",
                    s.thread_id, s.held, s.acquired
                )?;
                if !same_trace {
                    write!(f, ", trace {}", s.trace_id)?;
                }
                writeln!(f)?;
            }
            if let (true, Some(s)) = (same_trace, d.steps.first()) {
                writeln!(f, "  trace:  {}", s.trace_id)?;
            }
            let other = if d.steps.len() == 2 { "the other's" } else { "the next task's" };
            writeln!(f, "  why:    each task can hold its first lock while waiting for {other}")?;
        }
        writeln!(f)?;
        writeln!(f, "[raceway] {}", self.summary())
    }
}

/// Most distinct race groups and deadlock groups kept.
const MAX_GROUPS: usize = 1024;
/// Most variable names listed per race group.
const MAX_VARIABLES: usize = 16;

type LocKey = (&'static str, u32, u32);

fn key(l: &Location) -> LocKey {
    (l.file, l.line, l.column)
}

/// A side of a race group: where, and whether it wrote (so that a read and a write made at one
/// location, e.g. through a `#[track_caller]` helper, stay two entries with their severities).
type SideKey = (LocKey, bool);

/// Accumulates findings while the analyzer runs.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    races: Vec<Race>,
    race_index: HashMap<(SideKey, SideKey), usize>,
    deadlocks: Vec<Deadlock>,
    deadlock_index: HashMap<Vec<LocKey>, usize>,
    unlisted: u64,
}

impl Builder {
    /// Records that `second` (just made) races with the remembered `first` on `variable`.
    pub(crate) fn race(&mut self, variable: &str, first: &shadow::Access, second: &shadow::Access, locks: &Locks) {
        let (a, b) = ((key(&first.location), first.is_write()), (key(&second.location), second.is_write()));
        let k = if a <= b { (a, b) } else { (b, a) };
        let severity = Severity::of(first.access, second.access);
        if let Some(&i) = self.race_index.get(&k) {
            let r = &mut self.races[i];
            r.count += 1;
            if r.variables.len() < MAX_VARIABLES && !r.variables.iter().any(|v| v == variable) {
                r.variables.push(variable.to_owned());
            }
            if severity < r.severity {
                // Show the example that justifies the severity.
                r.severity = severity;
                r.first = side(first, locks);
                r.second = side(second, locks);
            }
            return;
        }
        if self.races.len() >= MAX_GROUPS {
            self.unlisted += 1;
            return;
        }
        self.race_index.insert(k, self.races.len());
        self.races.push(Race {
            variable: variable.to_owned(),
            variables: vec![variable.to_owned()],
            severity,
            first: side(first, locks),
            second: side(second, locks),
            count: 1,
        });
    }

    /// Records a lock-order cycle.
    pub(crate) fn deadlock(&mut self, cycle: &Cycle, locks: &super::lockset::Locks) {
        // The same sites found from any of the cycle's edges are the same deadlock.
        let mut sites: Vec<LocKey> = cycle.steps.iter().flat_map(|e| [key(&e.from_at), key(&e.to_at)]).collect();
        sites.sort_unstable();
        if let Some(&i) = self.deadlock_index.get(&sites) {
            self.deadlocks[i].count += 1;
            return;
        }
        if self.deadlocks.len() >= MAX_GROUPS {
            return;
        }
        let steps: Vec<LockStep> = cycle
            .steps
            .iter()
            .map(|e| LockStep {
                task: e.task,
                thread_id: e.task.thread_id(),
                trace_id: e.trace_id,
                held: locks.name(e.from).to_owned(),
                held_at: e.from_at,
                acquired: locks.name(e.to).to_owned(),
                acquired_at: e.to_at,
            })
            .collect();
        self.deadlock_index.insert(sites, self.deadlocks.len());
        self.deadlocks.push(Deadlock { locks: steps.iter().map(|s| s.held.clone()).collect(), steps, count: 1 });
    }

    /// The report so far.
    pub(crate) fn build(&self, events: u64, accesses: u64, variables: u64) -> Report {
        let mut races = self.races.clone();
        races.sort_by_key(|r| r.severity);
        Report {
            races,
            deadlocks: self.deadlocks.clone(),
            events,
            accesses,
            variables,
            unlisted: self.unlisted,
            forgotten: 0,
        }
    }

    /// Distinct groups kept (for footprint checks).
    #[cfg(test)]
    pub(crate) fn groups(&self) -> usize {
        self.races.len() + self.deadlocks.len()
    }
}

fn side(a: &shadow::Access, locks: &Locks) -> RaceAccess {
    RaceAccess {
        location: a.location,
        task: a.task,
        thread_id: a.task.thread_id(),
        access_type: a.access,
        old_value: a.old_value.clone(),
        new_value: a.new_value.clone(),
        locks: locks.names_of(a.lockset),
        trace_id: a.trace_id,
        event_id: a.event_id,
    }
}
