//! Accumulating findings while the analyzer runs: races grouped by the pair of code locations,
//! deadlocks by their acquisition sites, both capped.

use super::{
    AtomicityViolation, Deadlock, HeldAcrossAwait, Lane, LockStep, Race, RaceAccess, Report, Severity, Spawned,
    StackFrame, StepKind, Timeline, TimelineStep,
};
use crate::analyzer::atomicity::Found;
use crate::analyzer::lockset::Locks;
use crate::analyzer::order::Cycle;
use crate::analyzer::shadow;
use crate::analyzer::tasks::{frames, origins, Step, Tasks};
use crate::event::id::TaskId;
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
    pub(crate) fn race(
        &mut self,
        variable: &str,
        first: &shadow::Access,
        second: &shadow::Access,
        locks: &Locks,
        tasks: &Tasks,
    ) {
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
                r.first = side(first, locks, tasks);
                r.second = side(second, locks, tasks);
                r.timeline = timeline(first, second, tasks);
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
            first: side(first, locks, tasks),
            second: side(second, locks, tasks),
            count: 1,
            // Only for a new group (at most `MAX_GROUPS`): the common case, a race seen again,
            // costs nothing more.
            timeline: timeline(first, second, tasks),
        });
    }

    /// Records a stale read-modify-write on `variable`, grouped by its read and write sites.
    pub(crate) fn atomicity(&mut self, variable: &str, found: &Found<'_>, locks: &Locks, tasks: &Tasks) {
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
            read: side(found.read, locks, tasks),
            write: side(found.write, locks, tasks),
            other: side(found.other, locks, tasks),
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

/// A task's name if it has one, else its `thread_id`.
fn label(task: TaskId, tasks: &Tasks) -> String {
    tasks.name(task).map_or_else(|| task.thread_id(), |n| n.as_str().to_owned())
}

fn side(a: &shadow::Access, locks: &Locks, tasks: &Tasks) -> RaceAccess {
    let ctx = &a.context;
    let origin: Vec<Spawned> = origins(&ctx.origin)
        .map(|o| Spawned {
            task: o.task,
            label: o.name.as_ref().map_or_else(|| o.task.thread_id(), |n| n.as_str().to_owned()),
            spawned_at: o.spawned_at,
            // The spawner's name is on the next link; past the chain's cap, ask the live tasks.
            by: match &o.parent {
                Some(p) if p.task == o.by => {
                    p.name.as_ref().map_or_else(|| o.by.thread_id(), |n| n.as_str().to_owned())
                }
                _ => label(o.by, tasks),
            },
        })
        .collect();
    RaceAccess {
        task_name: ctx.origin.as_ref().and_then(|o| o.name.as_ref()).map(|n| n.as_str().to_owned()),
        stack: frames(&ctx.stack)
            .map(|f| StackFrame { function: f.function.as_str().to_owned(), location: f.location })
            .collect(),
        origin,
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

/// The picture of a race: the recent events of both tasks and of their spawners, up to the
/// second access, with the two accesses marked (the first is added when it has left its task's
/// window, or its task was joined since).
fn timeline(first: &shadow::Access, second: &shadow::Access, tasks: &Tasks) -> Timeline {
    let mut lanes: Vec<TaskId> = vec![first.task, second.task];
    for a in [first, second] {
        if let Some(o) = &a.context.origin {
            if !lanes.contains(&o.by) {
                lanes.push(o.by);
            }
        }
    }
    let lane_of = |t: TaskId, lanes: &[TaskId]| lanes.iter().position(|&l| l == t);
    let (s1, s2) = (first.context.seq, second.context.seq);
    let mut steps: Vec<(u64, TimelineStep)> = Vec::new();
    for (i, &task) in lanes.iter().enumerate() {
        for r in tasks.window(task).filter(|r| r.seq <= s2) {
            let (kind, subject, other) = match &r.step {
                Step::Read(v) => (StepKind::Read, v.as_str().to_owned(), None),
                Step::Write(v) => (StepKind::Write, v.as_str().to_owned(), None),
                Step::Acquire(l) => (StepKind::Acquire, l.as_str().to_owned(), None),
                Step::Release(l) => (StepKind::Release, l.as_str().to_owned(), None),
                Step::Call(f) => (StepKind::Call, f.as_str().to_owned(), None),
                Step::Spawn(c) => (StepKind::Spawn, label(*c, tasks), lane_of(*c, &lanes)),
                Step::Join(c) => (StepKind::Join, label(*c, tasks), lane_of(*c, &lanes)),
            };
            let mark = if r.seq == s1 {
                1
            } else if r.seq == s2 {
                2
            } else {
                0
            };
            steps.push((r.seq, TimelineStep { lane: i, kind, subject, location: r.location, mark, other_lane: other }));
        }
    }
    if !steps.iter().any(|(_, s)| s.mark == 1) {
        let kind = if first.is_write() { StepKind::Write } else { StepKind::Read };
        let subject = steps.iter().find(|(_, s)| s.mark == 2).map(|(_, s)| s.subject.clone()).unwrap_or_default();
        steps.push((s1, TimelineStep { lane: 0, kind, subject, location: first.location, mark: 1, other_lane: None }));
    }
    steps.sort_by_key(|(seq, _)| *seq);
    // Spawns of a lane shown before its first event: keep lanes that have events.
    Timeline {
        lanes: lanes
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                // The racing tasks' names come with their accesses: a joined task is no longer followed.
                let own = [first, second].get(i).and_then(|a| a.context.origin.as_ref()).and_then(|o| o.name.as_ref());
                Lane { task: t, label: own.map_or_else(|| label(t, tasks), |n| n.as_str().to_owned()) }
            })
            .collect(),
        steps: steps.into_iter().map(|(_, s)| s).collect(),
    }
}
