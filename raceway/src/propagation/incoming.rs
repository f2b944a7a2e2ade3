//! Reading the propagation headers of an incoming request.

use super::raceway_clock::parse_raceway_clock;
use super::traceparent::parse_traceparent;
use super::{MAX_HEADER_BYTES, RACEWAY_CLOCK, TRACEPARENT, TRACESTATE};
use crate::context::process;
use crate::context::{with_local, Context};
use crate::event::clock::Component;
use crate::event::id::{SpanId, Uuid};
use crate::event::service::ServiceId;
use crate::event::Span;

/// What the incoming headers said, after validation. Every field is optional: an invalid header
/// contributes nothing.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Incoming {
    pub trace_id: Option<Uuid>,
    /// This service's span id (the span the caller made for this call).
    pub span_id: Option<SpanId>,
    /// The caller's own span id.
    pub upstream_span_id: Option<SpanId>,
    pub tracestate: Option<String>,
    pub clock: Vec<(String, u64)>,
    /// A valid `raceway-clock` arrived: the caller is a Raceway SDK, which reads this service's
    /// clock back from the response (see `response.rs`).
    pub raceway_caller: bool,
}

/// A header value as text: visible ASCII (plus spaces and tabs) within the size cap.
pub(super) fn header_text(value: &[u8]) -> Option<&str> {
    if value.len() > MAX_HEADER_BYTES || !value.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        return None;
    }
    std::str::from_utf8(value).ok().map(|s| s.trim_matches([' ', '\t']))
}

impl Incoming {
    /// Reads the three propagation headers out of any list of (name, value) pairs.
    pub(crate) fn parse<K, V>(headers: impl IntoIterator<Item = (K, V)>) -> Incoming
    where
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut traceparent = String::new();
        let mut clock = String::new();
        let (mut tp_seen, mut clock_seen) = (0u8, 0u8);
        let mut tracestate: Option<String> = Some(String::new());
        for (name, value) in headers {
            let name = name.as_ref();
            let value = value.as_ref();
            if name.eq_ignore_ascii_case(TRACEPARENT) {
                keep_once(&mut traceparent, &mut tp_seen, value);
            } else if name.eq_ignore_ascii_case(RACEWAY_CLOCK) {
                keep_once(&mut clock, &mut clock_seen, value);
            } else if name.eq_ignore_ascii_case(TRACESTATE) {
                // W3C: several tracestate headers are one list, joined with commas.
                if let (Some(ts), Some(v)) = (&mut tracestate, header_text(value)) {
                    if !ts.is_empty() && !v.is_empty() {
                        ts.push(',');
                    }
                    ts.push_str(v);
                    if ts.len() > MAX_HEADER_BYTES {
                        tracestate = None;
                    }
                } else {
                    tracestate = None;
                }
            }
        }
        // W3C: more than one traceparent makes it invalid; the same rule for raceway-clock.
        let tp = match tp_seen {
            1 => parse_traceparent(&traceparent),
            _ => None,
        };
        let rc = match clock_seen {
            1 => parse_raceway_clock(&clock),
            _ => None,
        };
        if tp.is_none() && rc.is_none() {
            // A new trace: a tracestate without a valid parent belongs to nobody (W3C).
            return Incoming::default();
        }
        let mut out = Incoming { tracestate: tracestate.filter(|s| !s.is_empty()), ..Incoming::default() };
        if let Some((trace_id, span_id)) = tp {
            out.trace_id = Some(trace_id);
            out.span_id = Some(span_id);
        }
        if let Some(rc) = rc {
            out.raceway_caller = true;
            out.trace_id = rc.trace_id.or(out.trace_id);
            out.span_id = rc.span_id.or(out.span_id);
            out.upstream_span_id = rc.parent_span_id;
            out.clock = rc.clock;
        }
        if out.trace_id.is_none() {
            // No trace id arrived, so this is a new trace after all: pass no tracestate on.
            out.tracestate = None;
        }
        out
    }

    /// The request's context: this service's span, the upstream link, and the caller's clock
    /// (this process's own tasks in it read back as tasks, see `Process::read_clock`) plus this
    /// service's own component (`"<service>#<instance>"`, 0 when it is new).
    pub(crate) fn into_context(self) -> Context {
        self.into_context_of(ServiceId::PROCESS)
    }

    /// As [`Incoming::into_context`], for a request served by `service`: its tasks, span and
    /// clock component are that service's.
    pub(crate) fn into_context_of(self, service: ServiceId) -> Context {
        let process = process::current();
        let own = Component::Remote(process.clock_component_of(service));
        let mut clock = process.read_clock(self.clock);
        if !clock.iter().any(|(c, _)| *c == own) {
            clock.push((own, 0));
        }
        let span = Span {
            span_id: Some(self.span_id.unwrap_or_else(SpanId::random)),
            upstream_span_id: self.upstream_span_id,
            tracestate: self.tracestate,
        };
        let ctx = Context::from_parts(self.trace_id.unwrap_or_else(Uuid::new_v4), Some(span), clock, service);
        // Inside `raceway::testing::capture`, a request served in-process is captured too, so
        // handlers can be tested without a server.
        match with_local(|l| l.task.as_ref().and_then(|t| t.trace.capture.clone())).flatten() {
            Some(capture) => ctx.capturing(capture),
            None => ctx,
        }
    }
}

/// Keeps the first occurrence of a header that must appear at most once; counts repeats.
pub(super) fn keep_once(slot: &mut String, seen: &mut u8, value: &[u8]) {
    *seen = seen.saturating_add(1);
    if *seen == 1 {
        match header_text(value) {
            Some(v) => slot.push_str(v),
            None => *seen = 2,
        }
    }
}

impl Context {
    /// The context of an incoming request, read from its headers (`traceparent`, `tracestate`,
    /// `raceway-clock`; names in any case). Missing or invalid headers give a new trace with a
    /// new span id; this never fails. The HTTP middleware calls this for you; use it directly for
    /// other transports (message queues, gRPC metadata, ...).
    ///
    /// ```
    /// // With `http`: Context::from_headers(request.headers())
    /// let ctx = raceway::Context::from_headers([
    ///     ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ///     ("tracestate", "congo=t61rcWkgMzE"),
    /// ]);
    /// let span = ctx.span().unwrap();
    /// assert_eq!(span.span_id.unwrap().to_string(), "b7ad6b7169203331");
    /// assert_eq!(span.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
    ///
    /// let fresh = raceway::Context::from_headers([("traceparent", "garbage")]);
    /// assert_ne!(fresh.trace_id(), ctx.trace_id());
    /// ```
    pub fn from_headers<K, V>(headers: impl IntoIterator<Item = (K, V)>) -> Context
    where
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        Incoming::parse(headers).into_context()
    }
}
