//! Accumulating findings while the analyzer runs: races grouped by the pair of code locations,
//! deadlocks by their acquisition sites, both capped.

use super::{AtomicityViolation, Deadlock, HeldAcrossAwait, LockStep, Race, RaceAccess, Report, Severity};
use crate::analyzer::atomicity::Found;
use crate::analyzer::lockset::Locks;
use crate::analyzer::order::Cycle;
use crate::analyzer::shadow;
use crate::event::location::Location;
use std::collections::HashMap;

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
    atomicity: Vec<AtomicityViolation>,
    atomicity_index: HashMap<(LocKey, LocKey), usize>,
    held: Vec<HeldAcrossAwait>,
    held_index: HashMap<(LocKey, LocKey), usize>,
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

    /// Records a stale read-modify-write on `variable`, grouped by its read and write sites.
    pub(crate) fn atomicity(&mut self, variable: &str, found: &Found<'_>, locks: &Locks) {
        let k = (key(&found.read.location), key(&found.write.location));
        if let Some(&i) = self.atomicity_index.get(&k) {
            self.atomicity[i].count += 1;
            return;
        }
        if self.atomicity.len() >= MAX_GROUPS {
            self.unlisted += 1;
            return;
        }
        self.atomicity_index.insert(k, self.atomicity.len());
        self.atomicity.push(AtomicityViolation {
            variable: variable.to_owned(),
            severity: Severity::Critical,
            read: side(found.read, locks),
            write: side(found.write, locks),
            other: side(found.other, locks),
            count: 1,
        });
    }

    /// Records a blocking guard held across an await, grouped by acquire site and function.
    pub(crate) fn held_across_await(&mut self, found: HeldAcrossAwait) {
        let k = (key(&found.acquired_at), key(&found.function_at));
        if let Some(&i) = self.held_index.get(&k) {
            self.held[i].count += 1;
            return;
        }
        if self.held.len() >= MAX_GROUPS {
            self.unlisted += 1;
            return;
        }
        self.held_index.insert(k, self.held.len());
        self.held.push(found);
    }

    /// Records a lock-order cycle.
    pub(crate) fn deadlock(&mut self, cycle: &Cycle, locks: &Locks) {
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
                service: e.task.service_name(),
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
            atomicity: self.atomicity.clone(),
            held_across_await: self.held.clone(),
            events,
            accesses,
            variables,
            unlisted: self.unlisted,
            forgotten: 0,
            suppressed: 0,
            variables_forgotten: 0,
        }
    }

    /// Distinct groups kept (for footprint checks).
    #[cfg(test)]
    pub(crate) fn groups(&self) -> usize {
        self.races.len() + self.deadlocks.len() + self.atomicity.len() + self.held.len()
    }
}

fn side(a: &shadow::Access, locks: &Locks) -> RaceAccess {
    RaceAccess {
        location: a.location,
        task: a.task,
        thread_id: a.task.thread_id(),
        service: a.task.service_name(),
        access_type: a.access,
        old_value: a.old_value.clone(),
        new_value: a.new_value.clone(),
        locks: locks.names_of(a.lockset),
        trace_id: a.trace_id,
        event_id: a.event_id,
    }
}
