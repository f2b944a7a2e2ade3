//! The recording hot path: stamp an event with the running task's identity, parent and clock,
//! and hand it to the dispatch (or to a test capture).

use crate::clock::Clock;
use crate::context::{with_local, Local, TaskState};
use crate::dispatch;
use crate::event::{Event, EventKind};
use crate::id::Uuid;
use crate::staging::Outbox;
use crate::timestamp::now_nanos;

/// How the new event attaches to the running task's chain.
pub(crate) enum Link {
    /// After the task's previous event (the common case).
    Chain,
    /// After a joined child's last event, merging its clock (`AsyncAwait`).
    Join { child_last: Option<Uuid>, child_clock: Option<Clock> },
}

/// Records `kind` on the running task (creating a new trace if there is none).
/// Returns the new event's id when it was queued.
#[inline]
pub(crate) fn record(kind: EventKind, duration_ns: Option<u64>) -> Option<Uuid> {
    if !dispatch::enabled() {
        return None;
    }
    record_linked(kind, duration_ns, Link::Chain)
}

#[inline]
pub(crate) fn record_linked(kind: EventKind, duration_ns: Option<u64>, link: Link) -> Option<Uuid> {
    with_local(|local| record_in(local, kind, duration_ns, link)).flatten()
}

// Inlined into `record` so the event is built in place rather than copied through each call.
#[inline(always)]
fn record_in(local: &mut Local, kind: EventKind, duration_ns: Option<u64>, link: Link) -> Option<Uuid> {
    let task = local.task.get_or_insert_with(TaskState::root);
    if let Link::Join { child_last, child_clock } = link {
        if let Some(c) = child_clock {
            task.clock.merge(&c);
        }
        if child_last.is_some() {
            task.last = child_last;
        }
    }
    if task.trace.capture.is_some() {
        let event = stamp(task, kind, duration_ns);
        let id = event.id;
        if let Some(capture) = &task.trace.capture {
            capture.events.lock().unwrap_or_else(|e| e.into_inner()).push(event);
        }
        task.last = Some(id);
        return Some(id);
    }
    let out = Outbox::current(&mut local.out)?;
    // Budget first: a dropped event must not advance the clock or become a parent.
    if !out.take_credit() {
        return None;
    }
    let event = stamp(task, kind, duration_ns);
    let id = event.id;
    out.stage(event);
    task.last = Some(id);
    Some(id)
}

#[inline(always)]
fn stamp(task: &mut TaskState, kind: EventKind, duration_ns: Option<u64>) -> Event {
    task.clock.tick();
    Event {
        id: Uuid::new_v4(),
        trace_id: task.trace.id,
        parent_id: task.last,
        timestamp_ns: now_nanos(),
        task: task.task,
        kind,
        duration_ns,
        clock: task.clock.clone(),
        span: task.trace.span.clone(),
    }
}
