//! The header parsers, exposed for the fuzz targets under `fuzz/` and the property tests; not a
//! public API (no stability promise). Everything here only reads: no context is entered and no
//! event is recorded.

use crate::event::id::{SpanId, Uuid};

/// What the incoming headers said after validation (the crate-internal `Incoming`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The trace continued, when a valid `traceparent` or `raceway-clock` carried one.
    pub trace_id: Option<Uuid>,
    /// This service's span id, chosen by the caller.
    pub span_id: Option<SpanId>,
    /// The caller's own span id (from `raceway-clock`).
    pub upstream_span_id: Option<SpanId>,
    /// The joined `tracestate`, passed on only with a trace id.
    pub tracestate: Option<String>,
    /// The caller's vector clock.
    pub clock: Vec<(String, u64)>,
}

/// Reads the propagation headers exactly as [`crate::Context::from_headers`] does.
pub fn parse_headers<K, V>(headers: impl IntoIterator<Item = (K, V)>) -> Parsed
where
    K: AsRef<str>,
    V: AsRef<[u8]>,
{
    let i = super::Incoming::parse(headers);
    Parsed {
        trace_id: i.trace_id,
        span_id: i.span_id,
        upstream_span_id: i.upstream_span_id,
        tracestate: i.tracestate,
        clock: i.clock,
    }
}

/// The `traceparent` parser alone (the value already trimmed and known to be visible ASCII).
pub fn traceparent(value: &str) -> Option<(Uuid, SpanId)> {
    super::traceparent::parse_traceparent(value)
}

/// The `raceway-clock` parser alone: `None` when the header would be ignored.
pub fn raceway_clock(value: &str) -> Option<Parsed> {
    super::raceway_clock::parse_raceway_clock(value).map(|c| Parsed {
        trace_id: c.trace_id,
        span_id: c.span_id,
        upstream_span_id: c.parent_span_id,
        tracestate: None,
        clock: c.clock,
    })
}

/// Base64url decoding as used for `raceway-clock` (padded or not, either alphabet).
pub fn base64url_decode(input: &str) -> Option<Vec<u8>> {
    super::base64url::decode(input)
}

/// Base64url encoding as written in outgoing `raceway-clock` headers (unpadded).
pub fn base64url_encode(input: &[u8]) -> String {
    super::base64url::encode(input)
}
