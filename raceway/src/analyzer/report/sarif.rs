//! The report as SARIF 2.1.0, the format GitHub code scanning reads.
//!
//! One rule per kind of finding; one result per finding, located at the second (later) access,
//! with the first access as a related location and each access's logical stack as a `stacks`
//! entry and a `codeFlows` thread flow, so that a viewer can walk both sides.

use super::{RaceAccess, Report, Severity};
use crate::event::location::Location;
use serde_json::{json, Value};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn physical(l: &Location) -> Value {
    json!({
        "artifactLocation": {"uri": l.file},
        "region": {"startLine": l.line.max(1), "startColumn": l.column.max(1)},
    })
}

fn location(l: &Location, message: String) -> Value {
    json!({"physicalLocation": physical(l), "message": {"text": message}})
}

fn related(id: usize, l: &Location, message: String) -> Value {
    json!({"id": id, "physicalLocation": physical(l), "message": {"text": message}})
}

/// An access's logical stack, innermost first (its own site, then the active functions).
fn stack(a: &RaceAccess, label: &str) -> Value {
    let mut frames = vec![json!({"location": location(&a.location, format!("{} {}", a.access_type.as_str(), label))})];
    frames.extend(a.stack.iter().map(|f| json!({"location": location(&f.location, f.function.clone())})));
    json!({"message": {"text": format!("{label}: task {}", a.task_label())}, "frames": frames})
}

fn flow(sides: &[(&RaceAccess, &str)]) -> Value {
    json!([{"threadFlows": sides.iter().map(|(a, label)| json!({
        "message": {"text": format!("task {}", a.task_label())},
        "locations": [{"location": location(&a.location, format!("{label}: {} by task {}", a.access_type.as_str(), a.task_label()))}],
    })).collect::<Vec<_>>()}])
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "error",
        Severity::Warning => "warning",
    }
}

impl Report {
    /// The report as SARIF 2.1.0 (for GitHub code scanning; also written to
    /// `RACEWAY_REPORT_SARIF` at shutdown).
    ///
    /// ```
    /// let sarif: serde_json::Value = serde_json::from_str(&raceway::Report::default().to_sarif()).unwrap();
    /// assert_eq!(sarif["version"], "2.1.0");
    /// assert_eq!(sarif["runs"][0]["tool"]["driver"]["name"], "raceway");
    /// ```
    pub fn to_sarif(&self) -> String {
        self.to_sarif_value().to_string()
    }

    /// The report as a SARIF `serde_json::Value`.
    pub fn to_sarif_value(&self) -> Value {
        let mut results = Vec::new();
        for r in &self.races {
            let message = r.one_line();
            results.push(json!({
                "ruleId": "raceway/data-race",
                "level": level(r.severity),
                "message": {"text": message},
                "locations": [location(&r.second.location, format!("second access: {}", r.second.access_type.as_str()))],
                "relatedLocations": [related(1, &r.first.location, format!("first access: {} by task {}", r.first.access_type.as_str(), r.first.task_label()))],
                "stacks": [stack(&r.second, "second access"), stack(&r.first, "first access")],
                "codeFlows": flow(&[(&r.first, "first access"), (&r.second, "second access")]),
                "properties": {"variable": r.variable, "variables": r.variables, "count": r.count},
            }));
        }
        for v in &self.atomicity {
            results.push(json!({
                "ruleId": "raceway/stale-read-modify-write",
                "level": "error",
                "message": {"text": format!("stale read-modify-write on `{}`: {}", v.variable, v.why())},
                "locations": [location(&v.write.location, "the write".to_owned())],
                "relatedLocations": [
                    related(1, &v.read.location, "the read it may be computed from".to_owned()),
                    related(2, &v.other.location, format!("another task's write (task {})", v.other.task_label())),
                ],
                "stacks": [stack(&v.write, "write"), stack(&v.read, "read"), stack(&v.other, "other write")],
                "codeFlows": flow(&[(&v.read, "read"), (&v.other, "other write"), (&v.write, "write")]),
            }));
        }
        for d in &self.deadlocks {
            let Some(first) = d.steps.first() else { continue };
            results.push(json!({
                "ruleId": "raceway/lock-order-inversion",
                "level": "error",
                "message": {"text": format!("potential deadlock: tasks took {} in orders that form a cycle", d.locks.join(", "))},
                "locations": [location(&first.acquired_at, format!("took `{}` holding `{}`", first.acquired, first.held))],
                "relatedLocations": d.steps.iter().enumerate().skip(1).map(|(i, s)| related(
                    i,
                    &s.acquired_at,
                    format!("task {} took `{}` holding `{}`", s.thread_id, s.acquired, s.held),
                )).collect::<Vec<_>>(),
            }));
        }
        for h in &self.held_across_await {
            results.push(json!({
                "ruleId": "raceway/lock-held-across-await",
                "level": "warning",
                "message": {"text": format!("`{}` held across an .await in `{}`: {}", h.lock, h.function, super::text::HELD_WHY)},
                "locations": [location(&h.acquired_at, "guard taken here".to_owned())],
                "relatedLocations": [related(1, &h.function_at, format!("`{}` awaited with the guard held", h.function))],
            }));
        }
        let rule = |id: &str, name: &str, text: &str| json!({"id": id, "name": name, "shortDescription": {"text": text}, "helpUri": "https://github.com/mode7labs/raceway"});
        json!({
            "$schema": SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "raceway",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "rules": [
                        rule("raceway/data-race", "DataRace", "Two accesses to a shared variable, at least one a write, not ordered and not protected by a common lock"),
                        rule("raceway/stale-read-modify-write", "StaleReadModifyWrite", "A value read in one critical section and written in another may be stale"),
                        rule("raceway/lock-order-inversion", "LockOrderInversion", "Locks taken in orders that form a cycle: a potential deadlock"),
                        rule("raceway/lock-held-across-await", "LockHeldAcrossAwait", "A blocking lock guard held across an .await"),
                    ],
                }},
                "results": results,
            }],
        })
    }
}
