//! The recording hot path: stamp an event with the running task's identity, parent and clock,
//! and hand it to the dispatch (or to a test capture).

use crate::context::{borrow_slot, Local, TaskState};
use crate::event::clock::{Clock, Component};
use crate::event::compact::Access;
use crate::event::function::{FnCall, FnExit};
use crate::event::id::{TaskId, Uuid};
use crate::event::timestamp::now_nanos;
use crate::event::{Event, EventKind};
use crate::stage::chunk::{Context, Staged, StagedKind};
use crate::stage::outbox::Outbox;
use crate::stage::switch;

/// Most joined-child ids a task keeps for its next children (a task that joins more children
/// than it will spawn again keeps only this many).
const MAX_REUSABLE: usize = 4096;

/// How the new event attaches to the running task's chain, when not simply after the task's
/// previous event (the common case, which needs no `Link`).
pub(crate) enum Link {
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
    record_on_this_thread(kind, duration_ns.into(), None).map(|(id, _)| id)
}

/// Records a shared variable's access on the running task (creating a new trace if there is
/// none), staged in its compact form. For callers that have just checked [`switch::enabled`]: an
/// atomic load cannot be merged with the caller's, so checking here would pay it twice.
#[inline(always)]
pub(crate) fn record_access(access: impl FnOnce() -> Access) {
    record_on_this_thread(Lazy(access), Elapsed::Given(None), None);
}

/// A kind built only once its staging slot is open, by a closure over references (no drop glue):
/// see `instrument/track.rs::access_at` for why. Only for kinds that never order tasks.
pub(crate) struct Lazy<F>(pub(crate) F);

/// Records a compact kind (`event/function.rs`) on the running task (creating a new trace if there
/// is none). Returns the new event's id and timestamp when it was staged.
#[inline]
pub(crate) fn record_kind<K: Kind>(kind: K, duration: Elapsed) -> Option<(Uuid, u64)> {
    if !switch::enabled() {
        return None;
    }
    record_on_this_thread(kind, duration, None)
}

/// What can be recorded: a full [`EventKind`], or a compact form of one (`event/compact.rs`)
/// that is staged as is and expanded by the delivery thread.
/// The compact kinds never order tasks and never join one: only a full `EventKind` overrides the
/// first two methods.
pub(crate) trait Kind {
    /// See [`EventKind::carries_order`].
    #[inline(always)]
    fn carries_order(&self) -> bool {
        false
    }
    /// The joined task, for an `AsyncAwait`.
    #[inline(always)]
    fn awaited_child(&self) -> Option<TaskId> {
        None
    }
    /// The full kind (a test capture takes events whole).
    fn into_event_kind(self) -> EventKind;
    /// What the staged record holds.
    fn into_staged(self) -> StagedKind;
}

impl Kind for EventKind {
    #[inline(always)]
    fn carries_order(&self) -> bool {
        EventKind::carries_order(self)
    }
    #[inline(always)]
    fn awaited_child(&self) -> Option<TaskId> {
        match self {
            EventKind::AsyncAwait { child, .. } => Some(*child),
            _ => None,
        }
    }
    #[inline(always)]
    fn into_event_kind(self) -> EventKind {
        self
    }
    #[inline(always)]
    fn into_staged(self) -> StagedKind {
        StagedKind::Full(self)
    }
}

impl<K: Kind, F: FnOnce() -> K> Kind for Lazy<F> {
    #[inline(always)]
    fn into_event_kind(self) -> EventKind {
        (self.0)().into_event_kind()
    }
    #[inline(always)]
    fn into_staged(self) -> StagedKind {
        (self.0)().into_staged()
    }
}

/// The compact kinds (`event/compact.rs`, `event/function.rs`): staged as they are, expanded by
/// the delivery thread.
macro_rules! compact_kind {
    ($ty:ty, $staged:ident) => {
        impl Kind for $ty {
            #[inline(always)]
            fn into_event_kind(self) -> EventKind {
                self.expand()
            }
            #[inline(always)]
            fn into_staged(self) -> StagedKind {
                StagedKind::$staged(self)
            }
        }
    };
}
compact_kind!(Access, Access);
compact_kind!(FnCall, Call);
compact_kind!(FnExit, Exit);

/// Records `kind` and returns its timestamp (a fresh clock reading when nothing was recorded), so
/// a later event can carry the time since. For callers that have just checked
/// [`switch::enabled`] (see [`record_access`]).
#[inline(always)]
pub(crate) fn record_timed(kind: impl Kind) -> u64 {
    match record_on_this_thread(kind, Elapsed::Given(None), None) {
        Some((_, ts)) => ts,
        None => now_nanos(),
    }
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
    record_on_this_thread(kind, duration, Some(link)).map(|(id, _)| id)
}

/// Records `kind` on the running task, after `link` (`None`: after the task's previous event).
#[inline(always)]
fn record_on_this_thread<K: Kind>(kind: K, duration: Elapsed, link: Option<Link>) -> Option<(Uuid, u64)> {
    // The event never goes into a closure, or to a function that is not inlined (nor does
    // anything with drop glue on the common path, such as a `Link`: an early return dropping it
    // calls its drop glue with its address). Any of these keeps the event in stack memory,
    // copied whole at each step, and those copies, written field by field and read back in wider
    // words, stalled every event on store forwarding (a quarter of `track_write`'s samples,
    // BENCHMARKS.md issue 17). For the same reason a tokio task the SDK did not see start is
    // swapped into the slot before and out after, by two cold calls that never see the event.
    // SAFETY: the guard is dropped before this function returns, on this thread.
    let mut slot = unsafe { borrow_slot() }?;
    let local: *mut Local = &mut *slot;
    // SAFETY (each `&mut *local` here): it points into the slot borrowed above, which outlives
    // this function's body, and no two of these references are used at once.
    let _restore = unsafe { &mut *local }
        .adopted_key()
        .map(|key| AdoptedRestore { local, visit: Some(unsafe { &mut *local }.enter_adopted(key)) });
    let local = unsafe { &mut *local };
    let linked = match link {
        None => false,
        Some(link) => link_to(local.task(), link, kind.awaited_child()),
    };
    record_in(local, kind, duration, linked)
}

/// Puts an adopted task back (`Local::leave_adopted`) when dropped, also when a value's
/// `Serialize` or `Debug` (run while the event is staged) panics: the thread's own task must not
/// be left holding the adopted task's identity.
struct AdoptedRestore {
    local: *mut Local,
    visit: Option<crate::context::AdoptedVisit>,
}

impl Drop for AdoptedRestore {
    fn drop(&mut self) {
        if let Some(visit) = self.visit.take() {
            // SAFETY: `local` points into the slot `record_on_this_thread` holds borrowed for
            // longer than this guard lives, and the reference it made for recording is no longer
            // used once this runs.
            unsafe { &mut *self.local }.leave_adopted(visit);
        }
    }
}

/// Attaches the task's next event as `link` says. Returns true: the event orders tasks (it may
/// take from the queue's reserve rather than be dropped).
#[cold]
#[inline(never)]
fn link_to(task: &mut TaskState, link: Link, awaited_child: Option<TaskId>) -> bool {
    match link {
        Link::Release => {}
        Link::Join { child_last, child_clock } => {
            if let Some(c) = child_clock {
                task.clock.merge(&c);
                if let Some(child) = awaited_child {
                    if task.joined.len() < MAX_REUSABLE && !child.is_unordered() {
                        task.joined.push(child);
                    }
                }
            }
            if child_last.is_some() {
                task.last = child_last;
            }
        }
        Link::Merge(components) => task.clock.merge_components(components),
    }
    true
}

/// Stages `kind` for the running task. `linked`: the event was attached by a [`Link`]
/// ([`link_to`]). Inlined into `record` so the event is built in place rather than copied through
/// each call.
#[inline(always)]
fn record_in<K: Kind>(local: &mut Local, kind: K, duration: Elapsed, linked: bool) -> Option<(Uuid, u64)> {
    let task = local.task.get_or_insert_with(TaskState::root);
    let carries_order = kind.carries_order() || linked;
    if task.trace.capture.is_some() {
        let event = stamp(task, kind.into_event_kind(), duration);
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
    task.clock.tick();
    let span = task.trace.span.as_ref();
    let cx = Context {
        task: task.task,
        trace_id: task.trace.id,
        span_id: span.and_then(|s| s.span_id),
        upstream_span_id: span.and_then(|s| s.upstream_span_id),
        clock: &task.clock,
    };
    let (parent_id, count) = (task.last.as_ref().map(Uuid::read_halves), task.clock.own_count());
    // A position handed out since the last event ends a coalesced run here (exporter/coalesce.rs).
    let breaks_run = std::mem::take(&mut task.handed_out);
    let mut slot = out.slot(cx);
    // SAFETY: the slot is valid for writes of a `Staged`, and `stage_into` initialises every
    // field of it before `commit`.
    let (id, ts) = unsafe {
        stage_into(slot.as_mut_ptr(), slot.id(), parent_id, count, breaks_run, kind, duration);
        slot.commit()
    };
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
    let mut event = std::mem::MaybeUninit::uninit();
    // SAFETY: `stamp_into` initialises every field of `event`.
    unsafe {
        stamp_into(event.as_mut_ptr(), task, kind, duration);
        event.assume_init()
    }
}

/// Writes the compact record of an event (the task's context is the chunk's header, see
/// `stage/chunk.rs`) field by field at `out`, for the reason given at [`stamp_into`].
///
/// # Safety
///
/// `out` must be valid for writes of a `Staged`; every field is initialised on return.
#[inline(always)]
unsafe fn stage_into(
    out: *mut Staged,
    id: Uuid,
    parent_id: Option<Uuid>,
    count: u64,
    breaks_run: bool,
    kind: impl Kind,
    duration: Elapsed,
) {
    use std::ptr::addr_of_mut;
    let timestamp_ns = now_nanos();
    let duration_ns = match duration {
        Elapsed::Given(d) => d,
        Elapsed::Since(start) => Some(timestamp_ns.saturating_sub(start)),
    };
    // SAFETY: the caller guarantees `out` is valid for writes; each write initialises one field.
    unsafe {
        addr_of_mut!((*out).id).write(id);
        addr_of_mut!((*out).parent_id).write(parent_id);
        addr_of_mut!((*out).timestamp_ns).write(timestamp_ns);
        addr_of_mut!((*out).duration_ns).write(duration_ns);
        addr_of_mut!((*out).count).write(count);
        addr_of_mut!((*out).breaks_run).write(breaks_run);
        addr_of_mut!((*out).kind).write(kind.into_staged());
    }
    // Does not compile when `Staged` gains a field, which would have to be written above too.
    let _every_field_written = |s: Staged| {
        let Staged { id: _, parent_id: _, timestamp_ns: _, duration_ns: _, count: _, breaks_run: _, kind: _ } = s;
    };
}

/// Stamps `kind` for `task` (ticking its clock) and writes the event field by field at `out`.
///
/// Field by field because building an `Event` value and then writing it makes the compiler build
/// it in a stack temporary and copy it whole into the staging buffer: this is the hot path's
/// largest avoidable copy (see BENCHMARKS.md, issue 17).
///
/// # Safety
///
/// `out` must be valid for writes of an `Event`; every field is initialised on return (nothing
/// here can unwind in between: a panic would leave the slot uninitialised, which the caller never
/// marks as used, leaking only what was moved in).
#[inline(always)]
unsafe fn stamp_into(out: *mut Event, task: &mut TaskState, kind: EventKind, duration: Elapsed) {
    use std::ptr::addr_of_mut;
    task.clock.tick();
    let timestamp_ns = now_nanos();
    let duration_ns = match duration {
        Elapsed::Given(d) => d,
        Elapsed::Since(start) => Some(timestamp_ns.saturating_sub(start)),
    };
    let span = task.trace.span.as_ref();
    // SAFETY: the caller guarantees `out` is valid for writes; each write initialises one field.
    unsafe {
        addr_of_mut!((*out).id).write(Uuid::new_v4());
        addr_of_mut!((*out).trace_id).write(task.trace.id);
        addr_of_mut!((*out).parent_id).write(task.last);
        addr_of_mut!((*out).timestamp_ns).write(timestamp_ns);
        addr_of_mut!((*out).task).write(task.task);
        addr_of_mut!((*out).kind).write(kind);
        addr_of_mut!((*out).duration_ns).write(duration_ns);
        addr_of_mut!((*out).clock).write(task.clock.clone());
        addr_of_mut!((*out).span_id).write(span.and_then(|s| s.span_id));
        addr_of_mut!((*out).upstream_span_id).write(span.and_then(|s| s.upstream_span_id));
        // The flag sits in the task state already borrowed here: no extra cost on the hot path.
        addr_of_mut!((*out).breaks_run).write(std::mem::take(&mut task.handed_out));
    }
    // Does not compile when `Event` gains a field, which would have to be written above too.
    let _every_field_written = |e: Event| {
        let Event {
            id: _,
            trace_id: _,
            parent_id: _,
            timestamp_ns: _,
            task: _,
            kind: _,
            duration_ns: _,
            clock: _,
            span_id: _,
            upstream_span_id: _,
            breaks_run: _,
        } = e;
    };
}
