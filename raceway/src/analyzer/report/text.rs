//! The report as text: the block per finding printed at shutdown, and the one-line summary.

use super::{AtomicityViolation, Race, RaceAccess, Report};
use crate::event::value::Value;
use std::fmt;

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(raceway_on)]
fn show(v: &Value) -> String {
    v.to_string()
}

#[cfg(not(raceway_on))]
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
    write!(f, "          task {} of {}, {locks}, {value}", a.task_label(), a.service)?;
    if with_trace {
        write!(f, ", trace {}", a.trace_id)?;
    }
    writeln!(f)?;
    locate(f, a)
}

/// The access's logical stack (innermost first, as a sanitizer prints frames) and its task's
/// origin, one spawn per line up to the root.
fn locate(f: &mut fmt::Formatter<'_>, a: &RaceAccess) -> fmt::Result {
    for (i, frame) in a.stack.iter().enumerate() {
        writeln!(f, "            #{i} {frame}")?;
    }
    for spawn in &a.origin {
        writeln!(f, "          {spawn}")?;
    }
    Ok(())
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
                // Tasks the SDK did not see start are in traces of their own: not requests.
                if same_trace || r.unordered_hint().is_some() { "" } else { " (two traces: concurrent requests)" }
            )?;
            if let Some(hint) = r.unordered_hint() {
                writeln!(f, "  note:   {hint}")?;
            }
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
                    "  {label:<8}task {} of {} took `{}` at {held_at}, then `{}` at {acquired_at}",
                    s.thread_id, s.service, s.held, s.acquired
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
        for (i, v) in self.atomicity.iter().enumerate() {
            writeln!(f)?;
            let times = if v.count == 1 { "once".to_owned() } else { format!("{} times", v.count) };
            writeln!(
                f,
                "atomicity #{}: {} stale read-modify-write on `{}` (seen {times})",
                i + 1,
                v.severity.as_str(),
                v.variable
            )?;
            let same_trace = v.read.trace_id == v.other.trace_id;
            describe(f, "read:", &v.read, !same_trace)?;
            describe(f, "write:", &v.write, !same_trace)?;
            describe(f, "other:", &v.other, !same_trace)?;
            if same_trace {
                writeln!(f, "  trace:  {}", v.read.trace_id)?;
            }
            writeln!(f, "  why:    {}", v.why())?;
        }
        for (i, h) in self.held_across_await.iter().enumerate() {
            writeln!(f)?;
            let times = if h.count == 1 { "once".to_owned() } else { format!("{} times", h.count) };
            writeln!(f, "lock across await #{}: WARNING `{}` held across an .await (seen {times})", i + 1, h.lock)?;
            writeln!(
                f,
                "  acquired: {} at {}, task {}",
                h.lock_type.as_str(),
                h.acquired_at,
                h.task_name.as_deref().unwrap_or(&h.thread_id)
            )?;
            writeln!(
                f,
                "  awaited:  in `{}` ({}), which returned Pending with the guard held",
                h.function, h.function_at
            )?;
            writeln!(f, "  trace:    {}", h.trace_id)?;
            writeln!(f, "  why:      {HELD_WHY}")?;
        }
        writeln!(f)?;
        writeln!(f, "[raceway] {}", self.summary())
    }
}

/// The explanation of a lock held across an await (text and JSON).
pub(super) const HELD_WHY: &str = "a blocking guard held over .await blocks the worker thread for every task waiting on the lock (and can deadlock a single-threaded runtime); drop it before the await, or use tokio::sync::Mutex";

impl AtomicityViolation {
    /// The one-line explanation printed under the finding (and in the JSON report).
    ///
    /// ```
    /// # use raceway::{track_lock_acquire as acq, track_lock_release as rel, LockKind::Mutex};
    /// # let book = || {
    /// #     acq("m", Mutex); raceway::track_read("seats", &1); rel("m", Mutex);
    /// #     acq("m", Mutex); raceway::track_write("seats", &1, &0); rel("m", Mutex);
    /// # };
    /// # let report = raceway::testing::capture(|| {
    /// #     let h = raceway::thread::spawn(book);
    /// #     book();
    /// #     h.join().unwrap();
    /// # }).report;
    /// assert!(report.atomicity[0].why().starts_with("the value read at "));
    /// ```
    pub fn why(&self) -> String {
        format!(
            "the value read at {} may be stale by the time it is written at {}; hold the lock from {} to {} or use `update`",
            self.read.location, self.write.location, self.read.location, self.write.location
        )
    }
}
