//! Request bodies: a batch's events rendered into one buffer, cut into parts only when the server
//! refuses the whole.

use super::event::write_event;
use super::metadata::Metadata;
use crate::event::Event;
use std::ops::Range;

/// How a request body begins and ends (contract §2: `POST /events` takes `{"events":[..]}`).
const BODY_HEAD: &[u8] = b"{\"events\":[";
const BODY_TAIL: &[u8] = b"]}";

/// One request body under construction: every event of a batch rendered straight into a single
/// buffer, with each event's byte range kept so that a refused body can be cut into parts
/// without serializing anything again.
pub(crate) struct Body {
    buf: Vec<u8>,
    spans: Vec<Range<usize>>,
}

// Without the exporter only the benchmark hook builds bodies (whole, never split).
#[cfg_attr(not(all(raceway_on, feature = "exporter")), allow(dead_code))]
impl Body {
    /// An empty body reusing `buf`'s allocation.
    pub(crate) fn with_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.extend_from_slice(BODY_HEAD);
        Body { buf, spans: Vec::new() }
    }

    /// How many events it holds.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Appends `e`; an event longer than `room` bytes is rendered again with its values omitted.
    /// Returns the event's length, or `None` (and adds nothing) when it is too long even then.
    pub(crate) fn push(&mut self, e: &Event, p: &Metadata, room: usize) -> Option<usize> {
        self.push_counted(e, p, room, 1)
    }

    /// [`Body::push`] of an event that stands for `count` coalesced accesses (see
    /// `exporter/coalesce.rs`; the count goes in its tags when above 1).
    pub(crate) fn push_counted(&mut self, e: &Event, p: &Metadata, room: usize, count: u64) -> Option<usize> {
        let mark = self.buf.len();
        if !self.spans.is_empty() {
            self.buf.push(b',');
        }
        let start = self.buf.len();
        write_event(&mut self.buf, e, p, false, count);
        if self.buf.len() - start > room {
            self.buf.truncate(start);
            write_event(&mut self.buf, e, p, true, count);
        }
        if self.buf.len() - start > room {
            self.buf.truncate(mark);
            return None;
        }
        self.spans.push(start..self.buf.len());
        Some(self.buf.len() - start)
    }

    /// Moves the last event out into a new body written in `buf` (the event that did not fit
    /// under the caps starts the next request).
    pub(crate) fn split_last(&mut self, buf: Vec<u8>) -> Body {
        let mut next = Body::with_buffer(buf);
        if let Some(last) = self.spans.pop() {
            next.buf.extend_from_slice(&self.buf[last.clone()]);
            next.spans.push(BODY_HEAD.len()..next.buf.len());
            // Drop the event and the comma before it, if any.
            self.buf.truncate(if self.spans.is_empty() { last.start } else { last.start - 1 });
        }
        next
    }

    /// The finished body and each event's byte range in it.
    pub(crate) fn finish(mut self) -> (Vec<u8>, Vec<Range<usize>>) {
        self.buf.extend_from_slice(BODY_TAIL);
        (self.buf, self.spans)
    }
}

/// A body holding the events at `spans` of the finished body `src` (to resend part of a batch).
#[cfg_attr(not(all(raceway_on, feature = "exporter")), allow(dead_code))]
pub(crate) fn body_of(src: &[u8], spans: &[Range<usize>]) -> Vec<u8> {
    let len = spans.iter().map(|s| s.len() + 1).sum::<usize>() + BODY_HEAD.len() + BODY_TAIL.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(BODY_HEAD);
    for (i, s) in spans.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&src[s.clone()]);
    }
    out.extend_from_slice(BODY_TAIL);
    out
}

/// Renders `events` into one request body in `out`, as the HTTP sink does with the default byte
/// cap (benchmark hook). Returns how many events the body holds.
pub(crate) fn render_body(events: &[Event], p: &Metadata, out: &mut Vec<u8>) -> usize {
    let room = crate::config::Config::default().max_batch_bytes.saturating_sub(32);
    let mut body = Body::with_buffer(std::mem::take(out));
    for e in events {
        let _ = body.push(e, p, room);
    }
    let (buf, spans) = body.finish();
    *out = buf;
    spans.len()
}
