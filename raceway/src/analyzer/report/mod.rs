//! The race report: what the analyzer found, grouped by code location, as data, text and JSON.
//!
//! A race that a loop hits a thousand times is one entry with a count: races are grouped by the
//! pair of code locations of the two accesses and whether each wrote (the variables seen there
//! are listed), deadlocks by
//! their four acquisition sites. The number of groups is capped so that a program generating
//! endless distinct sites cannot grow the report without bound; what is past the cap is counted.

mod builder;
#[cfg(raceway_on)]
mod files;
#[cfg(raceway_on)]
mod html;
#[cfg(raceway_on)]
mod json;
#[cfg(raceway_on)]
mod sarif;
pub(crate) mod suppress;
mod text;

pub(crate) use builder::Builder;
#[cfg(raceway_on)]
pub(crate) use files::{write_files, write_test_files};
pub use suppress::Suppressions;

use crate::event::id::{TaskId, Uuid};
use crate::event::location::Location;
use crate::event::value::Value;
use crate::event::{AccessType, LockKind};
use text::plural;

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
    /// The service the task belongs to (`metadata.service_name`): the process's, or the
    /// `RacewayLayer::service_name` of the request it serves or descends from.
    pub service: String,
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
    /// The name the task was spawned with (`raceway::spawn_named`, `raceway::thread::Builder`),
    /// shown instead of `thread_id` in the text report.
    pub task_name: Option<String>,
    /// The logical call stack at the access, innermost first: the `#[traced]` (or
    /// `start_function`, `track_function`) functions active in the task.
    ///
    /// ```
    /// #[raceway::traced]
    /// fn deposit() { raceway::track_write("balance", &0, &1); }
    /// #[raceway::traced]
    /// fn transfer() { deposit(); }
    /// let report = raceway::testing::capture(|| {
    ///     let h = raceway::thread::spawn(transfer);
    ///     deposit();
    ///     h.join().unwrap();
    /// }).report;
    /// let spawned = [&report.races[0].first, &report.races[0].second].into_iter()
    ///     .find(|a| !a.origin.is_empty()).unwrap();
    /// let names: Vec<&str> = spawned.stack.iter().map(|f| f.function.as_str()).collect();
    /// assert_eq!(names, ["deposit", "transfer"]);
    /// ```
    pub stack: Vec<StackFrame>,
    /// Where the task came from: its own spawn first, then its spawner's, up to a root task
    /// (empty for a root task: the thread that started recording, a request's task).
    ///
    /// ```
    /// let report = raceway::testing::capture(|| {
    ///     let h = raceway::thread::spawn_named("worker", || raceway::track_write("x", &0, &1));
    ///     raceway::track_write("x", &0, &2);
    ///     h.join().unwrap();
    /// }).report;
    /// let worker = [&report.races[0].first, &report.races[0].second].into_iter()
    ///     .find(|a| a.task_name.as_deref() == Some("worker")).unwrap();
    /// assert_eq!(worker.origin.len(), 1);
    /// assert_eq!(worker.origin[0].spawned_at.file, file!());
    /// ```
    pub origin: Vec<Spawned>,
}

impl RaceAccess {
    /// The task's name if it has one, else its `thread_id`.
    ///
    /// ```
    /// let report = raceway::testing::capture(|| {
    ///     let h = raceway::thread::spawn_named("w", || raceway::track_write("x", &0, &1));
    ///     raceway::track_write("x", &0, &2);
    ///     h.join().unwrap();
    /// }).report;
    /// assert!(report.races[0].first.task_label() == "w" || report.races[0].second.task_label() == "w");
    /// ```
    pub fn task_label(&self) -> &str {
        self.task_name.as_deref().unwrap_or(&self.thread_id)
    }
}

/// One function of a logical call stack ([`RaceAccess::stack`]).
///
/// ```
/// let f = raceway::StackFrame { function: "transfer".into(), location: raceway::Location::new("src/bank.rs", 17, 1) };
/// assert_eq!(f.to_string(), "transfer src/bank.rs:17");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackFrame {
    /// The function's name.
    pub function: String,
    /// Where the function is (its definition, for `#[traced]`; the call, for `start_function`).
    pub location: Location,
}

impl std::fmt::Display for StackFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.function, self.location)
    }
}

/// One spawn of a task's origin ([`RaceAccess::origin`]): `task` was spawned at `spawned_at` by
/// `by`.
///
/// ```
/// let s = &raceway::testing::capture(|| {
///     let h = raceway::thread::spawn_named("w", || raceway::track_write("x", &0, &1));
///     raceway::track_write("x", &0, &2);
///     h.join().unwrap();
/// }).report.races[0];
/// let side = if s.first.origin.is_empty() { &s.second } else { &s.first };
/// assert_eq!(side.origin[0].to_string(), format!("task w spawned at {} by {}", side.origin[0].spawned_at, side.origin[0].by));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Spawned {
    /// The spawned task.
    pub task: TaskId,
    /// Its name, else its `thread_id`.
    pub label: String,
    /// Where it was spawned.
    pub spawned_at: Location,
    /// The spawning task's name, else its `thread_id`.
    pub by: String,
}

impl std::fmt::Display for Spawned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "task {} spawned at {} by {}", self.label, self.spawned_at, self.by)
    }
}

/// What a [`TimelineStep`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum StepKind {
    /// A read of a shared variable.
    Read,
    /// A write of a shared variable.
    Write,
    /// A lock acquired.
    Acquire,
    /// A lock released.
    Release,
    /// A task spawned (`other_lane`: the child, when shown).
    Spawn,
    /// A task joined (`other_lane`: the child, when shown).
    Join,
    /// A function entered.
    Call,
}

/// A lane of a [`Timeline`]: one task.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Lane {
    /// The task.
    pub task: TaskId,
    /// Its name, else its `thread_id`.
    pub label: String,
}

/// One event of a [`Timeline`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TimelineStep {
    /// The lane (index into [`Timeline::lanes`]).
    pub lane: usize,
    /// What happened.
    pub kind: StepKind,
    /// The variable, lock, function or task it concerns.
    pub subject: String,
    /// Where.
    pub location: Location,
    /// 1 for the race's first access, 2 for its second, 0 otherwise.
    pub mark: u8,
    /// For a spawn or a join: the lane of the other task, when it is shown.
    pub other_lane: Option<usize>,
}

/// The recent events of the tasks of a race, in recording order, for the HTML report's picture:
/// the last events (at most 32 per task) of each racing task and of the tasks that spawned them,
/// up to the second access.
///
/// ```
/// let report = raceway::testing::capture(|| {
///     let h = raceway::thread::spawn(|| raceway::track_write("x", &0, &1));
///     raceway::track_write("x", &0, &2);
///     h.join().unwrap();
/// }).report;
/// let t = &report.races[0].timeline;
/// assert_eq!(t.steps.iter().filter(|s| s.mark != 0).count(), 2);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Timeline {
    /// One lane per task shown.
    pub lanes: Vec<Lane>,
    /// The events, oldest first.
    pub steps: Vec<TimelineStep>,
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
    /// The tasks' recent events when the race was first found (the HTML report's picture).
    pub timeline: Timeline,
}

impl Race {
    /// The race in one line, for the places that show it without the text report around it (a
    /// SARIF result's message, a GitHub annotation).
    pub(crate) fn one_line(&self) -> String {
        format!(
            "{} data race on `{}`: {} at {} (task {}) and {} at {} (task {}) are not ordered by any spawn/join and share no lock (seen {} times)",
            self.severity.as_str(),
            self.variable,
            self.second.access_type.as_str(),
            self.second.location,
            self.second.task_label(),
            self.first.access_type.as_str(),
            self.first.location,
            self.first.task_label(),
            self.count
        )
    }
}

/// One task's step in a lock-order cycle: it held `held` and then took `acquired`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LockStep {
    /// The task.
    pub task: TaskId,
    /// Its `thread_id`.
    pub thread_id: String,
    /// Its service (`metadata.service_name`).
    pub service: String,
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

/// A stale read-modify-write: a task read `variable` at `read`, left the critical section (or
/// held none), and wrote it at `write` in a later one, while `other`, a write of another task, is
/// ordered neither before the read nor after the write: it can fall between them, and then the
/// value written was computed from a stale read. No lock fixes this; holding one lock from the
/// read to the write (or [`crate::Tracked::update`]) does.
///
/// Severity: always [`Severity::Critical`], because when it happens an update is lost (two
/// tasks book the last seat), the harm of a write/write race. The analyzer cannot see whether the
/// value read flows into the value written: a task that reads a variable for logging and later
/// overwrites it blindly in another critical section is reported too (see the README).
///
/// ```
/// use raceway::{track_lock_acquire as acq, track_lock_release as rel, LockKind::Mutex};
/// let book = || {
///     acq("m", Mutex); raceway::track_read("seats", &1); rel("m", Mutex);
///     acq("m", Mutex); raceway::track_write("seats", &1, &0); rel("m", Mutex);
/// };
/// let captured = raceway::testing::capture(|| {
///     let h = raceway::thread::spawn(book);
///     book();
///     h.join().unwrap();
/// });
/// let report = &captured.report;
/// assert!(report.races.is_empty(), "every access holds `m`");
/// let v = &report.atomicity[0];
/// assert_eq!(v.variable, "seats");
/// assert_eq!(v.read.locks, ["m"]);
/// assert_ne!(v.other.task, v.write.task);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AtomicityViolation {
    /// The variable of the first occurrence.
    pub variable: String,
    /// Always critical (see the type's documentation).
    pub severity: Severity,
    /// The read the write may have been computed from.
    pub read: RaceAccess,
    /// The same task's later write, in another critical section.
    pub write: RaceAccess,
    /// Another task's write that can fall between the two.
    pub other: RaceAccess,
    /// How many of one task's (read, write) pairs at these two sites were found stale (each pair
    /// is counted once, however many writes conflict with it).
    pub count: u64,
}

/// A blocking lock guard (`std`, `parking_lot`, [`crate::TrackedMutex`]) held across an
/// `.await`: the `#[traced]` function `function` returned `Pending` while its task held the guard
/// taken at `acquired_at`. The worker thread is then blocked for every other task that waits on
/// the lock, and a single-threaded runtime can deadlock. A warning: the program may still work,
/// slowly. `tokio` guards are never reported (they are made to be held across awaits).
///
/// The await is named by the `#[traced]` function whose body awaited (the innermost one that
/// took or held the guard since its poll began); the exact `.await` expression is not seen.
///
/// ```
/// #[raceway::traced]
/// async fn refresh(cache: &std::sync::Mutex<u32>) {
///     let mut g = raceway::lock!(cache, "cache");
///     tokio::task::yield_now().await; // the guard is still held here
///     *g += 1;
/// }
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let cache = std::sync::Mutex::new(0);
/// let captured = rt.block_on(raceway::testing::capture_async(refresh(&cache)));
/// let h = &captured.report.held_across_await[0];
/// assert_eq!(h.function, "refresh");
/// assert!(h.lock.starts_with("cache@"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HeldAcrossAwait {
    /// The lock's id.
    pub lock: String,
    /// Mutex or a side of an RwLock.
    pub lock_type: LockKind,
    /// Where the guard was taken.
    pub acquired_at: Location,
    /// The `#[traced]` function that awaited with the guard held.
    pub function: String,
    /// Where that function is.
    pub function_at: Location,
    /// The task.
    pub task: TaskId,
    /// Its `thread_id`.
    pub thread_id: String,
    /// Its name (`spawn_named`), if it has one.
    pub task_name: Option<String>,
    /// Its trace.
    pub trace_id: Uuid,
    /// How many times a guard taken here was held across an await in this function.
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
    /// Stale read-modify-writes across critical sections (atomicity violations).
    pub atomicity: Vec<AtomicityViolation>,
    /// Blocking lock guards held across an `.await` (warnings).
    pub held_across_await: Vec<HeldAcrossAwait>,
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
    /// Findings taken out of the report by suppressions ([`Suppressions::apply`]).
    pub suppressed: u64,
    /// Variables forgotten, least recently used first, to stay within
    /// [`crate::Config::analyzer_max_variables`]; a race on a forgotten variable can be missed
    /// (never invented: its next access starts it afresh).
    pub variables_forgotten: u64,
}

impl Race {
    /// Why the race may be one the SDK could not rule out, when a side ran in a task the SDK did
    /// not see start (a future spawned with plain `tokio::spawn`, a `JoinSet`, ...): its start is
    /// not ordered after its spawner and its end not before a join.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let c = rt.block_on(raceway::testing::capture_async(async {
    ///     let a = tokio::spawn(async { raceway::track_write("x", &0, &1) });
    ///     let b = tokio::spawn(async { raceway::track_write("x", &0, &2) });
    ///     a.await.unwrap();
    ///     b.await.unwrap();
    /// }));
    /// let note = c.report.races[0].unordered_hint().unwrap();
    /// assert!(note.contains("spawned outside raceway"));
    /// ```
    pub fn unordered_hint(&self) -> Option<String> {
        let unordered: Vec<&str> = [&self.first, &self.second]
            .into_iter()
            .filter(|a| a.task.is_unordered())
            .map(|a| a.thread_id.as_str())
            .collect();
        (!unordered.is_empty()).then(|| {
            let whose = if unordered.len() == 1 { "its" } else { "their" };
            format!(
                "{} spawned outside raceway: {whose} start and join are not ordered; use raceway::spawn, or spawn inside a #[traced] function",
                unordered.join(" and ")
            )
        })
    }
}

impl Report {
    /// True when no race, lock-order inversion, atomicity violation or lock held across an
    /// `.await` was found.
    pub fn is_clean(&self) -> bool {
        self.races.is_empty()
            && self.deadlocks.is_empty()
            && self.atomicity.is_empty()
            && self.held_across_await.is_empty()
            && self.unlisted == 0
    }

    /// The atomicity violations (stale read-modify-writes) on `variable`.
    ///
    /// ```
    /// let report = raceway::Report::default();
    /// assert_eq!(report.atomicity_on("seats").count(), 0);
    /// ```
    pub fn atomicity_on<'a>(&'a self, variable: &'a str) -> impl Iterator<Item = &'a AtomicityViolation> + 'a {
        self.atomicity.iter().filter(move |v| v.variable == variable)
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
        let suppressed = if self.suppressed > 0 {
            format!("; {} finding{} suppressed", self.suppressed, plural(self.suppressed as usize))
        } else {
            String::new()
        };
        let forgotten = forgotten + &suppressed;
        let forgotten = if self.variables_forgotten > 0 {
            format!("{forgotten}; {} variables forgotten (LRU); races on them may be missed", self.variables_forgotten)
        } else {
            forgotten
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
        let atomicity = if self.atomicity.is_empty() {
            String::new()
        } else {
            format!(", {} stale read-modify-write{}", self.atomicity.len(), plural(self.atomicity.len()))
        };
        let held = if self.held_across_await.is_empty() {
            String::new()
        } else {
            let n = self.held_across_await.len();
            format!(", {n} lock{} held across .await", plural(n))
        };
        let mut s = format!(
            "{races}, {} potential deadlock{}{atomicity}{held} in {scope}",
            self.deadlocks.len(),
            plural(self.deadlocks.len()),
        );
        if self.unlisted > 0 {
            s.push_str(&format!("; {} more racing pairs not listed", self.unlisted));
        }
        s + &forgotten
    }
}
