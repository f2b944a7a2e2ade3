//! What a recording thread stages: compact records, expanded into [`Event`]s by the delivery
//! thread before any sink sees them.
//!
//! Most of an event's header is the same for every event a task records in a row: its task id,
//! trace, span ids and the inherited part of its vector clock. Writing (and, for the clock,
//! reference-counting) all of it per event was a large part of the hot path's cost (BENCHMARKS.md,
//! issue 17), so a chunk keeps those in a [`Header`] written once per run of records of one task
//! context, and each [`Staged`] record keeps only what changes per event: its id (from the
//! thread's [`IdSeq`](crate::event::id::IdSeq), no random draw), parent, timestamp, duration, the
//! task's own clock count, and the kind. [`Chunk::expand_into`] rebuilds exactly the `Event` the
//! recording thread used to stage, so the sinks, the wire format and the analyzer are unchanged.
//!
//! A chunk is self-contained: its first record always has a header in the same chunk (a new
//! chunk starts with none, so the first record staged into it writes one). Chunks can therefore
//! be expanded in any grouping, and a header's clock base is kept alive by the chunk (no record
//! refers to a base that could have been freed and its address reused).

use crate::event::clock::Clock;
use crate::event::compact::Access;
use crate::event::function::{FnCall, FnExit};
use crate::event::id::{SpanId, TaskId, Uuid};
use crate::event::{Event, EventKind};

/// One staged event: the per-event part of an [`Event`]. The rest is in the chunk's [`Header`]
/// in force at its position.
pub(crate) struct Staged {
    pub(crate) id: Uuid,
    pub(crate) parent_id: Option<Uuid>,
    pub(crate) timestamp_ns: u64,
    pub(crate) duration_ns: Option<u64>,
    /// The task's own clock component after this event.
    pub(crate) count: u64,
    /// [`Event::breaks_run`]: the task's position was handed out just before this event.
    pub(crate) breaks_run: bool,
    pub(crate) kind: StagedKind,
}

/// A staged record's kind: the hot kinds in their compact form, the rest in full.
pub(crate) enum StagedKind {
    Access(Access),
    /// A `#[traced]` function's call (`event/function.rs`).
    Call(FnCall),
    /// A `#[traced]` function's end.
    Exit(FnExit),
    Full(EventKind),
}

impl StagedKind {
    fn expand(self) -> EventKind {
        match self {
            StagedKind::Access(a) => a.expand(),
            StagedKind::Call(c) => c.expand(),
            StagedKind::Exit(e) => e.expand(),
            StagedKind::Full(k) => k,
        }
    }
}

/// The task context of the records from `from` on (up to the next header).
pub(crate) struct Header {
    from: usize,
    task: TaskId,
    trace_id: Uuid,
    span_id: Option<SpanId>,
    upstream_span_id: Option<SpanId>,
    /// The task's clock when the header was written: its base (shared, immutable) is what the
    /// records use; their own count replaces its count.
    clock: Clock,
}

/// The recording task's context, as the recording thread passes it to [`Chunk::note_context`].
pub(crate) struct Context<'a> {
    pub(crate) task: TaskId,
    pub(crate) trace_id: Uuid,
    pub(crate) span_id: Option<SpanId>,
    pub(crate) upstream_span_id: Option<SpanId>,
    pub(crate) clock: &'a Clock,
}

/// A run of one thread's staged records and the headers they need.
#[derive(Default)]
pub(crate) struct Chunk {
    pub(crate) records: Vec<Staged>,
    headers: Vec<Header>,
}

impl Chunk {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Chunk { records: Vec::with_capacity(n), headers: Vec::new() }
    }

    /// Staged events (headers are not events and are not counted anywhere).
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Makes `cx` the context of the next record: writes a header unless the last one already
    /// says the same (the common case: a few compares, no reference count touched).
    #[inline(always)]
    pub(crate) fn note_context(&mut self, cx: Context<'_>) {
        if let Some(h) = self.headers.last() {
            if h.task == cx.task
                && h.trace_id == cx.trace_id
                && h.span_id == cx.span_id
                && h.upstream_span_id == cx.upstream_span_id
                && h.clock.same_base(cx.clock)
            {
                return;
            }
        }
        self.new_header(cx);
    }

    #[cold]
    #[inline(never)]
    fn new_header(&mut self, cx: Context<'_>) {
        self.headers.push(Header {
            from: self.records.len(),
            task: cx.task,
            trace_id: cx.trace_id,
            span_id: cx.span_id,
            upstream_span_id: cx.upstream_span_id,
            clock: cx.clock.clone(),
        });
    }

    /// Appends this chunk's events, expanded, to `out`, and leaves the chunk empty (its
    /// allocations kept for reuse).
    pub(crate) fn expand_into(&mut self, out: &mut Vec<Event>) {
        out.reserve(self.records.len());
        let mut headers = self.headers.iter().peekable();
        let mut current: Option<&Header> = None;
        for (i, r) in self.records.drain(..).enumerate() {
            while let Some(h) = headers.next_if(|h| h.from <= i) {
                current = Some(h);
            }
            // Every record has a header before it (`note_context` runs before each record is
            // staged): a record without one would be a bug in the stage, and is skipped rather
            // than sent with an invented identity.
            let Some(h) = current else { continue };
            out.push(Event {
                id: r.id,
                trace_id: h.trace_id,
                parent_id: r.parent_id,
                timestamp_ns: r.timestamp_ns,
                task: h.task,
                kind: r.kind.expand(),
                duration_ns: r.duration_ns,
                clock: h.clock.with_count(r.count),
                span_id: h.span_id,
                upstream_span_id: h.upstream_span_id,
                breaks_run: r.breaks_run,
            });
        }
        self.headers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::clock::Component;
    use crate::event::id::IdSeq;

    fn custom(n: u64) -> EventKind {
        EventKind::Custom { name: "e".into(), data: crate::event::value::capture(&n) }
    }

    fn stage(chunk: &mut Chunk, ids: &mut IdSeq, cx: Context<'_>, parent: Option<Uuid>) -> Uuid {
        let count = cx.clock.own_count();
        chunk.note_context(cx);
        let id = ids.next();
        chunk.records.push(Staged {
            id,
            parent_id: parent,
            timestamp_ns: count * 10,
            duration_ns: None,
            count,
            breaks_run: count % 3 == 0,
            kind: StagedKind::Full(custom(count)),
        });
        id
    }

    fn cx(task: TaskId, trace_id: Uuid, span_id: Option<SpanId>, clock: &Clock) -> Context<'_> {
        Context { task, trace_id, span_id, upstream_span_id: None, clock }
    }

    /// `Staged`'s size before `#[traced]`'s compact kinds were added (measured at `33bec75`).
    const STAGED_BYTES: usize = 200;

    #[test]
    fn a_staged_record_is_no_larger_than_before_the_compact_function_kinds() {
        // 80 bytes of per-event fields and 120 of kind (the largest full `EventKind`). The
        // compact call/exit of `#[traced]` (`event/function.rs`) must fit in that room: a larger
        // record would cost every staged event, accesses included, more memory traffic on the hot
        // path and more queue memory per event.
        assert_eq!(std::mem::size_of::<Staged>(), STAGED_BYTES);
    }

    #[test]
    fn expanded_records_carry_the_context_they_were_staged_in() {
        let (a, b) = (TaskId::next(), TaskId::next());
        let (trace, other_trace) = (Uuid::new_v4(), Uuid::new_v4());
        let span = SpanId::random();
        let mut ids = IdSeq::new();
        let mut chunk = Chunk::default();
        let mut ca = Clock::new(a);
        let mut cb = Clock::with_base(b, vec![(Component::Task(a), 1)]);
        ca.tick();
        let a1 = stage(&mut chunk, &mut ids, cx(a, trace, None, &ca), None);
        ca.tick();
        let a2 = stage(&mut chunk, &mut ids, cx(a, trace, None, &ca), Some(a1));
        cb.tick();
        stage(&mut chunk, &mut ids, cx(b, other_trace, Some(span), &cb), None);
        ca.tick();
        ca.merge_components(vec![(Component::Task(b), 1)]);
        stage(&mut chunk, &mut ids, cx(a, trace, None, &ca), Some(a2));
        assert_eq!(chunk.headers.len(), 3, "the second record reuses the first header; a new base writes one");

        let mut out = Vec::new();
        chunk.expand_into(&mut out);
        assert!(chunk.is_empty() && chunk.headers.is_empty());
        let got: Vec<_> =
            out.iter().map(|e| (e.task, e.trace_id, e.span_id, e.clock.own_count(), e.parent_id)).collect();
        assert_eq!(
            got,
            vec![
                (a, trace, None, 1, None),
                (a, trace, None, 2, Some(a1)),
                (b, other_trace, Some(span), 1, None),
                (a, trace, None, 3, Some(a2)),
            ]
        );
        assert_eq!(out[2].clock.get_task(a), 1, "the inherited base comes from the header");
        assert_eq!(out[3].clock.get_task(b), 1, "the merged base is the later header's");
        assert_eq!(out[1].clock.get_task(b), 0, "earlier records keep the base they were staged with");
        assert!(out[0].clock.le(&out[1].clock) && out[1].clock.le(&out[3].clock));
        for e in &out {
            assert_eq!(e.breaks_run, e.clock.own_count() % 3 == 0, "the run-break bit survives staging");
        }
    }
}
