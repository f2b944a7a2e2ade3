//! Happens-before through synchronisation objects other than locks.
//!
//! A *releasing* operation (a channel send, a notify, a `Release` store, a permit given back, a
//! once-cell set, a barrier arrival) records an event and captures the running task's position
//! as a [`Handoff`]; the object carries it. An *acquiring* operation that observes it (the
//! matching receive, the wake-up, an `Acquire` load of that value, a permit taken, a once-cell
//! read, the barrier's release) records an event that continues from it: its clock merges the
//! releaser's and, within one trace, its parent is the releasing event — exactly what a join does
//! for a child task (contract §3). So what the releaser did before is ordered before what the
//! acquirer does after, in the embedded analyzer (clocks) and on the server (parent links within
//! a trace, clocks across traces; a server event has one parent, see contract §5).
//!
//! Lock release → acquire is deliberately *not* a handoff (see `analyzer/mod.rs`): a common lock
//! protects, whatever order the tasks took it in. A handoff is an order the program itself
//! establishes, so every run of the same program gets the same edges.

use crate::context::with_local;
use crate::event::clock::Clock;
use crate::event::id::Uuid;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::value::Value;
use crate::event::{EventKind, Ordering};
use crate::record::{record_linked, Link};
use crate::stage::switch::enabled;
use std::sync::Mutex;

/// A task's position captured by a releasing operation, for the acquiring task to continue from.
#[derive(Clone, Debug)]
pub struct Handoff {
    trace: Uuid,
    /// The releasing event (the acquirer's parent when both are in one trace).
    event: Option<Uuid>,
    clock: Clock,
}

impl Handoff {
    /// Joins `other` into `self`: an acquirer of the result is ordered after both releasers.
    /// The parent link keeps `other`'s event (the later release), since an event has one parent.
    pub(crate) fn merge(&mut self, other: &Handoff) {
        self.clock.merge(&other.clock);
        if other.trace == self.trace {
            self.event = other.event.or(self.event);
        } else {
            *self = Handoff { clock: self.clock.clone(), ..other.clone() };
        }
    }
}

/// The `data` of a handoff event: the object, where, and (for atomics) the memory ordering, which
/// the server's `StateChange` has no field for.
fn data(object: &Name, location: Location, ordering: Option<Ordering>) -> Value {
    #[cfg(raceway_on)]
    return match ordering {
        Some(o) => serde_json::json!({
            "object": object.as_str(), "location": location.to_string(), "ordering": o.as_str()
        }),
        None => serde_json::json!({ "object": object.as_str(), "location": location.to_string() }),
    };
    #[cfg(not(raceway_on))]
    {
        let _ = (object, location, ordering);
        Value::Null
    }
}

/// Records the releasing operation `op` (e.g. `"mpsc.send"`) on `object` and captures the running
/// task's position right after it. `None` when nothing records.
pub(crate) fn release(op: &'static str, object: &Name, location: Location) -> Option<Handoff> {
    release_ordered(op, object, location, None)
}

/// [`release`], naming the memory ordering of the operation in the event (atomics).
pub(crate) fn release_ordered(
    op: &'static str,
    object: &Name,
    location: Location,
    ordering: Option<Ordering>,
) -> Option<Handoff> {
    if !enabled() {
        return None;
    }
    let kind = EventKind::Custom { name: Name::from_static(op), data: data(object, location, ordering) };
    record_linked(kind, None.into(), Link::Release);
    with_local(|l| {
        // The acquirer may run on another thread: the releasing event must be queued first.
        l.publish();
        let task = l.task();
        Handoff { trace: task.trace.id, event: task.last, clock: task.clock.clone() }
    })
}

/// Records the acquiring operation `op` on `object`, continuing from `from` when the operation
/// observed a release (a receive that got a message, an `Acquire` load of a released value).
pub(crate) fn acquire(op: &'static str, object: &Name, location: Location, from: Option<&Handoff>) {
    acquire_ordered(op, object, location, None, from);
}

/// [`acquire`], naming the memory ordering of the operation in the event (atomics).
pub(crate) fn acquire_ordered(
    op: &'static str,
    object: &Name,
    location: Location,
    ordering: Option<Ordering>,
    from: Option<&Handoff>,
) {
    if !enabled() {
        return;
    }
    let kind = EventKind::Custom { name: Name::from_static(op), data: data(object, location, ordering) };
    let Some(from) = from else {
        record_linked(kind, None.into(), Link::Release);
        return;
    };
    let same_trace = with_local(|l| l.task().trace.id == from.trace).unwrap_or(false);
    let link =
        Link::Join { child_last: if same_trace { from.event } else { None }, child_clock: Some(from.clock.clone()) };
    record_linked(kind, None.into(), link);
}

/// The release side of an object that several tasks release into and acquire from (a `Notify`,
/// a semaphore, a barrier, a once-cell, an atomic): the join of every release so far.
#[derive(Debug, Default)]
pub(crate) struct SyncPoint(Mutex<Option<Handoff>>);

impl SyncPoint {
    /// Nothing released yet. `const` so that a tracked atomic can be built in a `static`.
    pub(crate) const fn new() -> Self {
        SyncPoint(Mutex::new(None))
    }

    /// Adds the running task's position (after recording `op`) to what acquirers observe.
    pub(crate) fn release(&self, op: &'static str, object: &Name, location: Location) {
        if let Some(h) = release(op, object, location) {
            let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_mut() {
                Some(joined) => joined.merge(&h),
                None => *slot = Some(h),
            }
        }
    }

    /// Replaces what acquirers observe with the running task's position (a `Release` store that
    /// starts a new release sequence), or with nothing (`None`: a `Relaxed` store ends it).
    pub(crate) fn set(&self, handoff: Option<Handoff>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = handoff;
    }

    /// Records `op` and continues from every release so far.
    pub(crate) fn acquire(&self, op: &'static str, object: &Name, location: Location) {
        if !enabled() {
            return;
        }
        let from = self.snapshot();
        acquire(op, object, location, from.as_ref());
    }

    /// What an acquirer would continue from now.
    pub(crate) fn snapshot(&self) -> Option<Handoff> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `f` with the slot locked, so that an operation on the real object and the update of
    /// what it carries happen as one step (an atomic's store and its clock).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Option<Handoff>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
