//! Capturing events in tests: run code under a private trace and get back what it recorded,
//! and the embedded analyzer's race report over it.
//!
//! Captures need no `init` and no server, and tests running in parallel in one process do not see
//! each other's events: each capture is its own trace, inherited by the tasks it spawns.
//!
//! ```
//! use raceway::{assert_no_races, assert_race};
//!
//! let racy = raceway::testing::capture(|| {
//!     let h = raceway::thread::spawn(|| raceway::track_write("balance", &100, &50));
//!     raceway::track_write("balance", &100, &70);
//!     h.join().unwrap();
//! });
//! assert_race!(racy, on = "balance", severity = Critical);
//!
//! let fixed = raceway::testing::capture(|| {
//!     let h = raceway::thread::spawn(|| raceway::track_write("balance", &100, &50));
//!     h.join().unwrap(); // the join orders the child's write before the parent's
//!     raceway::track_write("balance", &50, &20);
//! });
//! assert_no_races!(fixed);
//! ```

mod attr;

#[doc(hidden)]
pub use attr::{run_test, run_test_async, TestOptions, TestOutput};

use crate::analyzer::{Report, Severity};
use crate::context::adopted::claim_home;
use crate::context::{Capture, Context, Trace};
use crate::event::id::Uuid;
use crate::event::Event;
use std::future::Future;
use std::sync::Arc;

/// What a capture returns: the closure's output and the events recorded under it, in order.
#[derive(Debug)]
#[non_exhaustive]
pub struct Captured<R> {
    /// The closure's (or future's) output.
    pub output: R,
    /// Every event recorded by the captured code and the tasks it spawned, in recording order.
    pub events: Vec<Event>,
    /// The embedded analyzer's findings over `events`: races and lock-order inversions.
    pub report: Report,
}

impl<R> Captured<R> {
    fn new(output: R, events: Vec<Event>) -> Self {
        let report = crate::analyzer::analyze(&events);
        Captured { output, events, report }
    }
}

/// A new trace (a new "request") whose events still go to the running capture, to test races
/// between concurrent requests. Outside a capture it is [`Context::new`].
///
/// ```
/// use raceway::assert_race;
/// let captured = raceway::testing::capture(|| {
///     let a = raceway::testing::new_trace();
///     let b = raceway::testing::new_trace();
///     assert_ne!(a.trace_id(), b.trace_id());
///     a.in_scope(|| raceway::track_write("cache", &0, &1));
///     b.in_scope(|| raceway::track_write("cache", &0, &2));
/// });
/// assert_race!(captured, on = "cache");
/// ```
pub fn new_trace() -> Context {
    match Context::current() {
        Some(current) if current.trace.capture.is_some() => Context {
            trace: Arc::new(Trace {
                id: Uuid::new_v4(),
                span: None,
                capture: current.trace.capture.clone(),
                service: current.trace.service,
            }),
            parent: None,
            clock: None,
        },
        _ => Context::new(),
    }
}

/// Anything holding a race report: a [`Captured`] or a [`Report`]. What the assertion macros take.
pub trait HasReport {
    /// The report.
    fn race_report(&self) -> &Report;
}

impl HasReport for Report {
    fn race_report(&self) -> &Report {
        self
    }
}

impl<R> HasReport for Captured<R> {
    fn race_report(&self) -> &Report {
        &self.report
    }
}

impl<T: HasReport + ?Sized> HasReport for &T {
    fn race_report(&self) -> &Report {
        (**self).race_report()
    }
}

#[doc(hidden)]
#[track_caller]
pub fn __assert_no_races(captured: &dyn HasReport) {
    let report = captured.race_report();
    if !report.races.is_empty() || report.unlisted > 0 {
        panic!("expected no races, found:\n{report}");
    }
}

#[doc(hidden)]
#[track_caller]
pub fn __assert_race(captured: &dyn HasReport, variable: &str, severity: Option<Severity>) {
    let report = captured.race_report();
    let found = report.races_on(variable).any(|r| severity.map_or(true, |s| r.severity == s));
    if !found {
        let what = severity.map_or(String::new(), |s| format!("{} ", s.as_str()));
        panic!("expected a {what}race on `{variable}`, found:\n{report}");
    }
}

#[doc(hidden)]
#[track_caller]
pub fn __assert_deadlock(captured: &dyn HasReport, locks: Option<(&str, &str)>) {
    let report = captured.race_report();
    let found = report
        .deadlocks
        .iter()
        .any(|d| locks.map_or(true, |(a, b)| d.locks.iter().any(|l| l == a) && d.locks.iter().any(|l| l == b)));
    if !found {
        panic!(
            "expected a lock-order inversion{}, found:\n{report}",
            locks.map_or(String::new(), |(a, b)| format!(" between `{a}` and `{b}`"))
        );
    }
}

#[doc(hidden)]
#[track_caller]
pub fn __assert_no_deadlocks(captured: &dyn HasReport) {
    let report = captured.race_report();
    if !report.deadlocks.is_empty() {
        panic!("expected no lock-order inversions, found:\n{report}");
    }
}

/// Fails the test, printing the report, when a capture (or a [`Report`]) contains a race.
///
/// ```
/// let captured = raceway::testing::capture(|| {
///     let lock = std::sync::Mutex::new(0);
///     std::thread::scope(|s| {
///         let ctx = raceway::Context::current_or_new();
///         for _ in 0..2 {
///             let (ctx, lock) = (ctx.clone(), &lock);
///             s.spawn(move || ctx.in_scope(|| raceway::with_lock(lock, "counter", |n| {
///                 raceway::track_write("counter", &*n, &(*n + 1));
///                 *n += 1;
///             })));
///         }
///     });
/// });
/// raceway::assert_no_races!(captured);
/// ```
#[macro_export]
macro_rules! assert_no_races {
    ($captured:expr $(,)?) => {
        $crate::testing::__assert_no_races(&$captured)
    };
}

/// Fails the test, printing the report, unless a capture (or a [`Report`]) has a race on the
/// variable `on`, optionally of a given `severity` (`Critical` or `Warning`).
///
/// ```
/// let captured = raceway::testing::capture(|| {
///     let h = raceway::thread::spawn(|| raceway::track_read("flag", &false));
///     raceway::track_write("flag", &false, &true);
///     h.join().unwrap();
/// });
/// raceway::assert_race!(captured, on = "flag");
/// raceway::assert_race!(captured, on = "flag", severity = Warning);
/// ```
#[macro_export]
macro_rules! assert_race {
    ($captured:expr, on = $variable:expr $(,)?) => {
        $crate::testing::__assert_race(&$captured, $variable, ::core::option::Option::None)
    };
    ($captured:expr, on = $variable:expr, severity = $severity:ident $(,)?) => {
        $crate::testing::__assert_race(&$captured, $variable, ::core::option::Option::Some($crate::Severity::$severity))
    };
}

/// Fails the test unless a capture (or a [`Report`]) has a lock-order inversion, optionally
/// `between` two given locks.
///
/// ```
/// let captured = raceway::testing::capture(|| {
///     use raceway::{track_lock_acquire as acq, track_lock_release as rel, LockKind::Mutex};
///     let h = raceway::thread::spawn(|| { acq("a", Mutex); acq("b", Mutex); rel("b", Mutex); rel("a", Mutex); });
///     acq("b", Mutex); acq("a", Mutex); rel("a", Mutex); rel("b", Mutex);
///     h.join().unwrap();
/// });
/// raceway::assert_deadlock!(captured, between = ("a", "b"));
/// ```
#[macro_export]
macro_rules! assert_deadlock {
    ($captured:expr $(,)?) => {
        $crate::testing::__assert_deadlock(&$captured, ::core::option::Option::None)
    };
    ($captured:expr, between = ($a:expr, $b:expr) $(,)?) => {
        $crate::testing::__assert_deadlock(&$captured, ::core::option::Option::Some(($a, $b)))
    };
}

/// Fails the test, printing the report, when a capture (or a [`Report`]) has a lock-order
/// inversion.
///
/// ```
/// let captured = raceway::testing::capture(|| raceway::track_write("x", &0, &1));
/// raceway::assert_no_deadlocks!(captured);
/// ```
#[macro_export]
macro_rules! assert_no_deadlocks {
    ($captured:expr $(,)?) => {
        $crate::testing::__assert_no_deadlocks(&$captured)
    };
}

#[doc(hidden)]
#[track_caller]
pub fn __assert_no_atomicity_violations(captured: &dyn HasReport) {
    let report = captured.race_report();
    if !report.atomicity.is_empty() {
        panic!("expected no atomicity violations, found:\n{report}");
    }
}

#[doc(hidden)]
#[track_caller]
pub fn __assert_atomicity_violation(captured: &dyn HasReport, variable: Option<&str>) {
    let report = captured.race_report();
    let found = match variable {
        Some(v) => report.atomicity_on(v).next().is_some(),
        None => !report.atomicity.is_empty(),
    };
    if !found {
        let on = variable.map_or(String::new(), |v| format!(" on `{v}`"));
        panic!("expected a stale read-modify-write{on}, found:\n{report}");
    }
}

/// Fails the test, printing the report, when a capture (or a [`Report`]) has an atomicity
/// violation (a stale read-modify-write across critical sections).
///
/// ```
/// use raceway::{track_lock_acquire as acq, track_lock_release as rel, LockKind::Mutex};
/// // Check and act in one critical section: nothing can come between them.
/// let book = || {
///     acq("m", Mutex);
///     raceway::track_read("seats", &1);
///     raceway::track_write("seats", &1, &0);
///     rel("m", Mutex);
/// };
/// let captured = raceway::testing::capture(|| {
///     let h = raceway::thread::spawn(book);
///     book();
///     h.join().unwrap();
/// });
/// raceway::assert_no_atomicity_violations!(captured);
/// ```
#[macro_export]
macro_rules! assert_no_atomicity_violations {
    ($captured:expr $(,)?) => {
        $crate::testing::__assert_no_atomicity_violations(&$captured)
    };
}

/// Fails the test, printing the report, unless a capture (or a [`Report`]) has a stale
/// read-modify-write, optionally `on` a given variable.
///
/// ```
/// use raceway::{track_lock_acquire as acq, track_lock_release as rel, LockKind::Mutex};
/// // The check and the act are two critical sections: another booking can come between.
/// let book = || {
///     acq("m", Mutex); raceway::track_read("seats", &1); rel("m", Mutex);
///     acq("m", Mutex); raceway::track_write("seats", &1, &0); rel("m", Mutex);
/// };
/// let captured = raceway::testing::capture(|| {
///     let h = raceway::thread::spawn(book);
///     book();
///     h.join().unwrap();
/// });
/// raceway::assert_no_races!(captured); // every access holds `m`
/// raceway::assert_atomicity_violation!(captured);
/// raceway::assert_atomicity_violation!(captured, on = "seats");
/// ```
#[macro_export]
macro_rules! assert_atomicity_violation {
    ($captured:expr $(,)?) => {
        $crate::testing::__assert_atomicity_violation(&$captured, ::core::option::Option::None)
    };
    ($captured:expr, on = $variable:expr $(,)?) => {
        $crate::testing::__assert_atomicity_violation(&$captured, ::core::option::Option::Some($variable))
    };
}

struct Listening;

impl Listening {
    fn new() -> Self {
        crate::stage::switch::add_listener();
        Listening
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        crate::stage::switch::remove_listener();
    }
}

fn take(buf: &Capture) -> Vec<Event> {
    std::mem::take(&mut *buf.events.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Runs `f` in a new trace and returns the events it recorded.
///
/// ```
/// let captured = raceway::testing::capture(|| {
///     raceway::track_write("x", &0, &1);
///     7
/// });
/// assert_eq!(captured.output, 7);
/// assert_eq!(captured.events.len(), 1);
/// ```
pub fn capture<R>(f: impl FnOnce() -> R) -> Captured<R> {
    let _on = Listening::new();
    let buf = Arc::new(Capture::default());
    let ctx = Context::new().capturing(buf.clone());
    // Tokio tasks the SDK did not see start, run on this thread meanwhile, are captured too.
    let _home = claim_home(ctx.trace.clone());
    let output = ctx.in_scope(f);
    Captured::new(output, take(&buf))
}

/// Runs `future` as a new task in a new trace and returns the events it recorded (including those
/// of tasks it spawned and joined).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let captured = raceway::testing::capture_async(async {
///     raceway::spawn(async { raceway::track_write("x", &0, &1) }).await.unwrap();
/// }).await;
/// assert_eq!(captured.events.len(), 3); // spawn, write, join
/// # }
/// ```
pub async fn capture_async<F: Future>(future: F) -> Captured<F::Output> {
    let _on = Listening::new();
    let buf = Arc::new(Capture::default());
    let ctx = Context::new().capturing(buf.clone());
    // Tokio tasks the SDK did not see start, run on this thread meanwhile (all of them on a
    // `current_thread` runtime), are captured too.
    let _home = claim_home(ctx.trace.clone());
    let output = ctx.scope(future).await;
    Captured::new(output, take(&buf))
}

/// Renders events as the server's JSON objects (one string each), with this process's identity,
/// for tests and debugging. Empty when instrumentation is compiled out (nothing is recorded).
///
/// ```
/// let captured = raceway::testing::capture(|| raceway::track_write("x", &1, &2));
/// let json = raceway::wire_json(&captured.events);
/// assert!(json[0].contains("\"StateChange\""));
/// ```
pub fn wire_json(events: &[Event]) -> Vec<String> {
    #[cfg(raceway_on)]
    return crate::exporter::wire::to_json(events, &wire_metadata());
    #[cfg(not(raceway_on))]
    {
        let _ = events;
        Vec::new()
    }
}

/// The wire metadata of this process's current identity, as the exporter renders it.
#[cfg(raceway_on)]
pub(crate) fn wire_metadata() -> crate::exporter::wire::Metadata {
    let p = crate::context::process::current();
    crate::exporter::wire::Metadata::new(&p.service, &p.instance_id, &p.environment, &p.tags, p.pid)
}
