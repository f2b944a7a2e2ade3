//! Hot loops don't flood the server: consecutive accesses of one task to one variable, with
//! nothing else of that task in between, go out as one `StateChange` carrying their count.
//!
//! Why this loses no race (contract §3): inside such a run the task records no other event — no
//! lock, spawn, join or handoff — so its clock only counts up its own component and its lock set
//! (recomputed by the server from the task's own lock events) is the same for every member. Any
//! other task's access is therefore ordered or unordered with *all* members alike, and protected
//! by a common lock from all alike: it races with the run exactly when it races with one member.
//! Reads and writes of one run merge into one `Write` when the run wrote (a read elsewhere races
//! with it exactly when it races with the write member); atomic accesses merge only with the same
//! atomic kind, and never with plain ones (two atomics never race; the server still compares
//! `AtomicRMW` pairs, so a kind must not change).
//!
//! The merged event keeps the *last* member's id and clock (the id the task's next event, or a
//! join of the finished task, names as parent) and the *first* member's parent, timestamp,
//! location and value before (for a run that starts with a read, the value read); its value
//! after is the last member's. The members in between are named by no one: their only child is
//! the next member. The run is sent when it ends — at the task's next event that does not extend
//! it (just before that event), at an event of another task whose parent is the run's last
//! member (a join), at the task's next event when it `breaks_run`, or when a round is due (flush,
//! interval, shutdown: [`Coalescer::drain`]) — so every event still reaches the server after its
//! parent.
//!
//! A position handed out without an event (`Context::current()`, a request's or response's
//! `raceway-clock`) may be named later by someone the exporter cannot see. The recording side
//! marks it (`TaskState::handed_out`, moved into the task's next event as `Event::breaks_run`,
//! with no clock tick), and that event then does not extend the run: the run goes out ending at
//! the handed-out access, under its id. (A request's header also adds to the task's clock outside
//! its own component, so ending the run there keeps the argument above true too.)
//!
//! The embedded analyzer is a separate sink and sees every access: this is the server path only.

use crate::event::id::{IdHasher, TaskId, Uuid};
use crate::event::{AccessType, Event, EventKind};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

type Map<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Most runs held at once (tasks in the middle of a run). Past this, all are sent: memory stays
/// bounded by this many events, whatever the number of tasks.
const MAX_HELD: usize = 1024;

/// A run being extended: the merged event so far, and how many accesses it stands for.
struct Run {
    event: Event,
    count: u64,
}

/// The per-task runs of the exporter thread. See the module documentation.
#[derive(Default)]
pub(crate) struct Coalescer {
    runs: Map<TaskId, Run>,
    /// The id of each held run's last member, to end the run before an event names it as parent.
    by_last: Map<Uuid, TaskId>,
}

impl Coalescer {
    /// Takes the next event in recording order; hands what can be sent now to `emit`, in order,
    /// each with the number of accesses it stands for (1 for an event as recorded).
    pub(crate) fn push(&mut self, e: &Event, emit: &mut impl FnMut(&Event, u64)) {
        if !self.runs.is_empty() {
            if let Some((parent, task)) = e.parent_id.and_then(|p| Some((p, *self.by_last.get(&p)?))) {
                // `breaks_run`: the parent was handed out (`Context::current`, a clock header), so
                // someone may name it: the run ends there, with the parent's id, not merged away.
                if task == e.task && !e.breaks_run && self.runs.get_mut(&task).is_some_and(|run| run.absorb(e)) {
                    self.by_last.remove(&parent);
                    self.by_last.insert(e.id, task);
                    return;
                }
                // The run's last member is this event's parent: the run goes out first.
                self.end(task, emit);
            }
            // The task went on from somewhere else (never expected: its run's last member is
            // always its previous event); end the run rather than hold a stale one.
            if self.runs.contains_key(&e.task) {
                self.end(e.task, emit);
            }
        }
        if matches!(e.kind, EventKind::StateChange { .. }) {
            if self.runs.len() >= MAX_HELD {
                self.drain(emit);
            }
            self.by_last.insert(e.id, e.task);
            self.runs.insert(e.task, Run { event: e.clone(), count: 1 });
            return;
        }
        emit(e, 1);
    }

    /// Sends every held run (oldest first, for a stable order).
    pub(crate) fn drain(&mut self, emit: &mut impl FnMut(&Event, u64)) {
        self.by_last.clear();
        let mut runs: Vec<Run> = self.runs.drain().map(|(_, r)| r).collect();
        runs.sort_by_key(|r| (r.event.timestamp_ns, r.event.task));
        for r in runs {
            emit(&r.event, r.count);
        }
    }

    fn end(&mut self, task: TaskId, emit: &mut impl FnMut(&Event, u64)) {
        if let Some(run) = self.runs.remove(&task) {
            self.by_last.remove(&run.event.id);
            emit(&run.event, run.count);
        }
    }
}

impl Run {
    /// Adds `e` (the task's next event) to the run when it continues it; returns whether it did.
    fn absorb(&mut self, e: &Event) -> bool {
        let (
            EventKind::StateChange { variable: v, old_value: old, new_value: new, access_type: kind, .. },
            EventKind::StateChange { variable, new_value, access_type, .. },
        ) = (&mut self.event.kind, &e.kind)
        else {
            return false;
        };
        let merged = match (*kind, *access_type) {
            (a, b) if a == b => a,
            (AccessType::Read | AccessType::Write, AccessType::Read | AccessType::Write) => AccessType::Write,
            _ => return false,
        };
        if v != variable || self.event.trace_id != e.trace_id || self.event.span_id != e.span_id {
            return false;
        }
        if self.count == 1 && *kind == AccessType::Read {
            // The run's value before is what its first read saw.
            *old = new.clone();
        }
        *kind = merged;
        *new = new_value.clone();
        self.event.id = e.id;
        self.event.clock = e.clock.clone();
        self.count += 1;
        true
    }
}
