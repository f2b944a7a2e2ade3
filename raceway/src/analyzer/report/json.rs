//! The report as JSON (for CI, and the `RACEWAY_REPORT_JSON` file).

use super::text::HELD_WHY;
use super::{LockStep, RaceAccess, Report};
use crate::event::location::Location;

impl Report {
    /// The report as JSON (for CI; also written to `RACEWAY_REPORT_JSON` at shutdown).
    ///
    /// ```
    /// let json = raceway::Report::default().to_json();
    /// assert!(json.contains("\"races\":[]"));
    /// ```
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }

    /// The report as a `serde_json::Value`.
    pub fn to_json_value(&self) -> serde_json::Value {
        use serde_json::json;
        let loc = |l: &Location| json!({"file": l.file, "line": l.line, "column": l.column, "display": l.to_string()});
        let access = |a: &RaceAccess| {
            json!({
                "location": loc(&a.location),
                "thread_id": a.thread_id,
                "service": a.service,
                "access_type": a.access_type.as_str(),
                "old_value": a.old_value,
                "new_value": a.new_value,
                "locks": a.locks,
                "trace_id": a.trace_id.to_string(),
                "event_id": a.event_id.to_string(),
                "task_name": a.task_name,
                "stack": a.stack.iter().map(|s| json!({"function": s.function, "location": loc(&s.location)})).collect::<Vec<_>>(),
                "origin": a.origin.iter().map(|o| json!({
                    "task": o.label,
                    "thread_id": o.task.thread_id(),
                    "spawned_at": loc(&o.spawned_at),
                    "by": o.by,
                })).collect::<Vec<_>>(),
            })
        };
        let step = |s: &LockStep| {
            json!({
                "thread_id": s.thread_id,
                "service": s.service,
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
            "variables_forgotten": self.variables_forgotten,
            "races": self.races.iter().map(|r| json!({
                "variable": r.variable,
                "variables": r.variables,
                "severity": r.severity.as_str(),
                "count": r.count,
                "first": access(&r.first),
                "second": access(&r.second),
                "note": r.unordered_hint(),
            })).collect::<Vec<_>>(),
            "atomicity": self.atomicity.iter().map(|v| json!({
                "kind": "stale_read_modify_write",
                "variable": v.variable,
                "severity": v.severity.as_str(),
                "count": v.count,
                "read": access(&v.read),
                "write": access(&v.write),
                "other": access(&v.other),
                "why": v.why(),
            })).collect::<Vec<_>>(),
            "held_across_await": self.held_across_await.iter().map(|h| json!({
                "kind": "lock_held_across_await",
                "severity": "WARNING",
                "lock": h.lock,
                "lock_type": h.lock_type.as_str(),
                "acquired_at": loc(&h.acquired_at),
                "function": h.function,
                "function_at": loc(&h.function_at),
                "thread_id": h.thread_id,
                "task_name": h.task_name,
                "trace_id": h.trace_id.to_string(),
                "count": h.count,
                "why": HELD_WHY,
            })).collect::<Vec<_>>(),
            "deadlocks": self.deadlocks.iter().map(|d| json!({
                "locks": d.locks,
                "count": d.count,
                "steps": d.steps.iter().map(step).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}
