//! The recording hot path: stamp an event with the running task's identity, parent and clock,
//! and hand it to the dispatch (or to a test capture).

use crate::context::{with_local, Local, TaskState};
use crate::event::clock::{Clock, Component};
use crate::event::id::Uuid;
use crate::event::timestamp::now_nanos;
use crate::event::{Event, EventKind};
use crate::stage::outbox::Outbox;
use crate::stage::switch;

/// Most joined-child ids a task keeps for its next children (a task that joins more children
/// than it will spawn again keeps only this many).
const MAX_REUSABLE: usize = 4096;

/// How the new event attaches to the running task's chain.
pub(crate) enum Link {
    /// After the task's previous event (the common case).
    Chain,
    /// After a joined child's last event, merging its clock (`AsyncAwait`, a handoff's acquire).
    Join { child_last: Option<Uuid>, child_clock: Option<Clock> },
    /// After the task's previous event, releasing order to another task (a handoff's release).
    Release,
    /// After the task's previous event, merging clock components received from elsewhere (the
    /// callee's clock in a response): what they count happened before this event.
    Merge(Vec<(Component, u64)>),
}

/// The duration an event carries (`Event::duration_ns`).
#[derive(Clone, Copy)]
pub(crate) enum Elapsed {
    /// Known up front (or none).
    Given(Option<u64>),
    /// From this timestamp to the event's own, so ending something costs no extra clock read.
    Since(u64),
}

impl From<Option<u64>> for Elapsed {
    fn from(d: Option<u64>) -> Self {
        Elapsed::Given(d)
    }
}

/// Records `kind` on the running task (creating a new trace if there is none).
/// Returns the new event's id when it was queued.
#[inline]
pub(crate) fn record(kind: EventKind, duration_ns: impl Into<Elapsed>) -> Option<Uuid> {
    if !switch::enabled() {
        return None;
    }
    record_linked(kind, duration_ns.into(), Link::Chain)
}

/// Records `kind` and returns its timestamp (a fresh clock reading when nothing was recorded), so
/// a later event can carry the time since.
#[inline]
pub(crate) fn record_timed(kind: EventKind) -> u64 {
    if switch::enabled() {
        if let Some((_, ts)) = record_on_this_thread(kind, Elapsed::Given(None), Link::Chain) {
            return ts;
        }
    }
    now_nanos()
}

/// Records `kind` after merging `components` into the running task's clock (creating a new
/// trace if there is none). Returns the new event's id when it was queued.
pub(crate) fn record_merged(
    kind: EventKind,
    duration_ns: impl Into<Elapsed>,
    components: Vec<(Component, u64)>,
) -> Option<Uuid> {
    if !switch::enabled() {
        return None;
    }
    record_linked(kind, duration_ns.into(), Link::Merge(components))
}

#[inline]
pub(crate) fn record_linked(kind: EventKind, duration: Elapsed, link: Link) -> Option<Uuid> {
    record_on_this_thread(kind, duration, link).map(|(id, _)| id)
}

#[inline(always)]
fn record_on_this_thread(kind: EventKind, duration: Elapsed, link: Link) -> Option<(Uuid, u64)> {
    // The closure borrows the arguments instead of owning them: the thread-local accessors move
    // their closure a few times, and an owned event kind would be copied (~200 bytes) each time.
    let mut args = Some((kind, duration, link));
    with_local(|local| {
        let (kind, duration, link) = args.take()?;
        record_in(local, kind, duration, link)
    })
    .flatten()
}

// Inlined into `record` so the event is built in place rather than copied through each call.
#[inline(always)]
fn record_in(local: &mut Local, kind: EventKind, duration: Elapsed, link: Link) -> Option<(Uuid, u64)> {
    let task = local.task.get_or_insert_with(TaskState::root);
    let carries_order = kind.carries_order() || !matches!(link, Link::Chain);
    match link {
        Link::Chain | Link::Release => {}
        Link::Join { child_last, child_clock } => {
            if let Some(c) = child_clock {
                task.clock.merge(&c);
                if let EventKind::AsyncAwait { child, .. } = &kind {
                    if task.joined.len() < MAX_REUSABLE && !child.is_unordered() {
                        task.joined.push(*child);
                    }
                }
            }
            if child_last.is_some() {
                task.last = child_last;
            }
        }
        Link::Merge(components) => task.clock.merge_components(components),
    }
    if task.trace.capture.is_some() {
        let event = stamp(task, kind, duration);
        let (id, ts) = (event.id, event.timestamp_ns);
        if let Some(capture) = &task.trace.capture {
            capture.events.lock().unwrap_or_else(|e| e.into_inner()).push(event);
        }
        task.last = Some(id);
        return Some((id, ts));
    }
    let out = Outbox::current(&mut local.out)?;
    // Budget first: a dropped event must not advance the clock or become a parent.
    if !out.take_credit(carries_order) {
        if carries_order {
            lost_order(task);
        }
        return None;
    }
    let (id, ts) = out.stage(|| stamp(task, kind, duration));
    task.last = Some(id);
    Some((id, ts))
}

/// An event that orders tasks was lost (the queue's reserve for them was spent too): what the
/// task records from now on goes out as a new task, marked unordered and descending from
/// nothing, so that no edge the lost event would have created, or cut, is presented as known.
#[cold]
fn lost_order(task: &mut TaskState) {
    let fresh = TaskState::adopted(Some(task.trace.clone()));
    *task = TaskState { scoped: task.scoped, ..fresh };
}

#[inline(always)]
fn stamp(task: &mut TaskState, kind: EventKind, duration: Elapsed) -> Event {
    task.clock.tick();
    let timestamp_ns = now_nanos();
    let duration_ns = match duration {
        Elapsed::Given(d) => d,
        Elapsed::Since(start) => Some(timestamp_ns.saturating_sub(start)),
    };
    Event {
        id: Uuid::new_v4(),
        trace_id: task.trace.id,
        parent_id: task.last,
        timestamp_ns,
        task: task.task,
        kind,
        duration_ns,
        clock: task.clock.clone(),
        span_id: task.trace.span.as_ref().and_then(|s| s.span_id),
        upstream_span_id: task.trace.span.as_ref().and_then(|s| s.upstream_span_id),
        // The flag sits in the task state already borrowed here: no extra cost on the hot path.
        breaks_run: std::mem::take(&mut task.handed_out),
    }
}
