//! The report's findings as `tracing` events (feature `tracing`): one `tracing::warn!` per
//! finding, target `raceway`, so that races land in the logs a program already reads.
//!
//! Each event carries `kind` (`race`, `deadlock`, `atomicity`, `held_across_await`), `severity`,
//! `variable` (for a deadlock: its locks), `locations` and `tasks` (comma-separated, a task by its name when it has one, in the order
//! of the text report), `count`, and a one-line summary as its message. They are emitted where a
//! report is produced for the program (`shutdown` and [`crate::analyzer::analyze`]), never while
//! recording; Raceway's own `tracing` layer ignores target `raceway`, so they are not recorded back.

use super::report::{Race, RaceAccess, Report};

/// Emits every finding of `report` as a `tracing::warn!` event (nothing when no subscriber is
/// interested: `tracing` checks that first, at the cost of one load).
pub(crate) fn emit(report: &Report) {
    if !tracing::enabled!(target: "raceway", tracing::Level::WARN) {
        return;
    }
    for r in &report.races {
        let kinds = match (r.first.access_type.is_write(), r.second.access_type.is_write()) {
            (true, true) => "write/write",
            (true, false) => "write/read",
            _ => "read/write",
        };
        warn(
            "race",
            r.severity.as_str(),
            &r.variable,
            &locations(r),
            &format!("{}, {}", r.first.task_label(), r.second.task_label()),
            r.count,
            &format!(
                "{} {kinds} race on `{}`: {} and {}, unordered",
                r.severity.as_str(),
                r.variable,
                r.first.location,
                r.second.location
            ),
        );
    }
    for d in &report.deadlocks {
        let locks = d.locks.join(", ");
        let sites: Vec<String> = d.steps.iter().map(|s| format!("{} -> {}", s.held_at, s.acquired_at)).collect();
        let tasks: Vec<&str> = d.steps.iter().map(|s| s.thread_id.as_str()).collect();
        warn(
            "deadlock",
            "CRITICAL",
            &locks,
            &sites.join(", "),
            &tasks.join(", "),
            d.count,
            &format!("lock-order inversion between {locks}: taken in opposite orders by {}", tasks.join(" and ")),
        );
    }
    for v in &report.atomicity {
        let sides = [&v.read, &v.write, &v.other];
        warn(
            "atomicity",
            v.severity.as_str(),
            &v.variable,
            &join(sides.iter().map(|a| a.location.to_string())),
            &join(sides.iter().map(|a: &&RaceAccess| a.task_label().to_owned())),
            v.count,
            &format!(
                "{} stale read-modify-write on `{}`: read at {}, written at {}, overwritten by {} meanwhile",
                v.severity.as_str(),
                v.variable,
                v.read.location,
                v.write.location,
                v.other.location
            ),
        );
    }
    for h in &report.held_across_await {
        warn(
            "held_across_await",
            "WARNING",
            &h.lock,
            &format!("{}, {}", h.acquired_at, h.function_at),
            &h.thread_id,
            h.count,
            &format!("`{}` held across an .await in `{}` (acquired at {})", h.lock, h.function, h.acquired_at),
        );
    }
}

fn locations(r: &Race) -> String {
    format!("{}, {}", r.first.location, r.second.location)
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn warn(kind: &str, severity: &str, variable: &str, locations: &str, tasks: &str, count: u64, summary: &str) {
    tracing::warn!(target: "raceway", kind, severity, variable, locations, tasks, count, "{summary}");
}
