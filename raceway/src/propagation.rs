//! Distributed propagation: the `traceparent`, `tracestate` and `raceway-clock` headers that carry
//! a trace across a service boundary, read and written the way the Go, Python and TypeScript SDKs
//! do (see `docs/propagation.md`).
//!
//! Reading is strict where W3C Trace Context is (lowercase hex, version `ff` and all-zero ids
//! invalid, exactly four fields for version `00`) and tolerant where the peer SDKs differ (padded
//! base64, float counters, uppercase span ids, hyphenated or plain trace ids). Whatever cannot be
//! read is treated as absent: a bad header starts a fresh trace, it never fails the request.
//!
//! ```
//! # let _c = raceway::testing::capture(|| {
//! // Incoming: continue the caller's trace (or start one when the headers are absent or invalid).
//! let ctx = raceway::Context::from_headers([(
//!     "traceparent",
//!     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
//! )]);
//! assert_eq!(ctx.trace_id().simple(), "0af7651916cd43dd8448eb211c80319c");
//!
//! // Outgoing: headers for a downstream call, made inside the request's trace.
//! let headers = ctx.in_scope(|| raceway::propagation_headers([("x-tenant", "acme")])).unwrap();
//! assert!(headers["traceparent"].starts_with("00-0af7651916cd43dd8448eb211c80319c-"));
//! assert!(headers["raceway-clock"].starts_with("v1;"));
//! assert_eq!(headers["x-tenant"], "acme");
//! # });
//! ```

use crate::clock::Component;
use crate::context::{with_local, Context};
use crate::error::Error;
use crate::event::Span;
use crate::id::{SpanId, Uuid};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// The W3C Trace Context header carrying the trace id and the callee's span id.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C vendor-state header, passed through unchanged.
pub const TRACESTATE: &str = "tracestate";
/// Raceway's header: `v1;<base64url JSON>` with span links and the caller's vector clock.
pub const RACEWAY_CLOCK: &str = "raceway-clock";
/// Longest header value read, in bytes; longer ones are ignored as invalid.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Most vector-clock components accepted in (and sent in) a `raceway-clock` header.
pub const MAX_CLOCK_COMPONENTS: usize = 256;

const CLOCK_PREFIX: &str = "v1;";
/// Longest `raceway-clock` JSON sent: its base64 with the prefix fits in [`MAX_HEADER_BYTES`].
const MAX_CLOCK_JSON_BYTES: usize = (MAX_HEADER_BYTES - CLOCK_PREFIX.len()) / 4 * 3;

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
}

/// A header value as text: visible ASCII (plus spaces and tabs) within the size cap.
fn header_text(value: &[u8]) -> Option<&str> {
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
    /// plus this service's own component (`"<service>#<instance>"`, 0 when it is new).
    pub(crate) fn into_context(self) -> Context {
        let own = own_component();
        let mut clock: Vec<(Component, u64)> = Vec::with_capacity(self.clock.len() + 1);
        let mut has_own = false;
        for (name, n) in self.clock {
            has_own |= *name == *own;
            clock.push((Component::Remote(Arc::from(name)), n));
        }
        if !has_own {
            clock.push((Component::Remote(own), 0));
        }
        let span = Span {
            span_id: Some(self.span_id.unwrap_or_else(SpanId::random)),
            upstream_span_id: self.upstream_span_id,
            tracestate: self.tracestate,
        };
        let ctx = Context::from_parts(self.trace_id.unwrap_or_else(Uuid::new_v4), Some(span), clock);
        // Inside `raceway::testing::capture`, a request served in-process is captured too, so
        // handlers can be tested without a server.
        match with_local(|l| l.task.as_ref().and_then(|t| t.trace.capture.clone())).flatten() {
            Some(capture) => ctx.capturing(capture),
            None => ctx,
        }
    }
}

/// Keeps the first occurrence of a header that must appear at most once; counts repeats.
fn keep_once(slot: &mut String, seen: &mut u8, value: &[u8]) {
    *seen = seen.saturating_add(1);
    if *seen == 1 {
        match header_text(value) {
            Some(v) => slot.push_str(v),
            None => *seen = 2,
        }
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `version-traceid-spanid-flags` by W3C Trace Context: lowercase hex only, version `ff` and
/// all-zero ids invalid, exactly four fields for version `00`, more allowed for later versions.
fn parse_traceparent(s: &str) -> Option<(Uuid, SpanId)> {
    let mut parts = s.split('-');
    let version = parts.next()?;
    if !is_lower_hex(version, 2) || version == "ff" {
        return None;
    }
    let (trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?);
    if !is_lower_hex(trace, 32) || !is_lower_hex(span, 16) || !is_lower_hex(flags, 2) {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    let trace = Uuid::parse(trace).filter(|u| u.as_u128() != 0)?;
    let span = SpanId::parse(span)?;
    Some((trace, span))
}

/// The useful fields of a `raceway-clock` payload.
#[derive(Debug, Default, PartialEq, Eq)]
struct ClockHeader {
    trace_id: Option<Uuid>,
    span_id: Option<SpanId>,
    parent_span_id: Option<SpanId>,
    clock: Vec<(String, u64)>,
}

/// `v1;<base64url JSON object>`. `None` (the header is ignored) when the version, the base64,
/// the JSON or the clock's shape is wrong, or the clock has too many components. Single fields
/// that do not parse (a malformed span id) are dropped on their own.
#[cfg(feature = "enabled")]
fn parse_raceway_clock(s: &str) -> Option<ClockHeader> {
    use serde_json::Value as J;
    let payload = base64url::decode(s.strip_prefix(CLOCK_PREFIX)?)?;
    let J::Object(obj) = serde_json::from_slice::<J>(&payload).ok()? else {
        return None;
    };
    let string = |key: &str| obj.get(key).and_then(J::as_str);
    let clock = match obj.get("clock") {
        None | Some(J::Null) => Vec::new(),
        Some(J::Array(items)) if items.len() <= MAX_CLOCK_COMPONENTS => {
            let mut clock = Vec::with_capacity(items.len());
            for item in items {
                match item.as_array().map(Vec::as_slice) {
                    Some([J::String(name), n]) => clock.push((name.clone(), counter(n)?)),
                    _ => return None,
                }
            }
            clock
        }
        Some(_) => return None,
    };
    Some(ClockHeader {
        trace_id: string("trace_id").and_then(Uuid::parse).filter(|u| u.as_u128() != 0),
        span_id: string("span_id").and_then(SpanId::parse),
        parent_span_id: string("parent_span_id").and_then(SpanId::parse),
        clock,
    })
}

/// Without the `enabled` feature there is no JSON parser: the clock header is ignored and the
/// trace continues from `traceparent` alone.
#[cfg(not(feature = "enabled"))]
fn parse_raceway_clock(_: &str) -> Option<ClockHeader> {
    None
}

/// A clock counter: a non-negative integer, or a float with an integral value (Go, Python and
/// TypeScript serialize numbers as doubles).
#[cfg(feature = "enabled")]
fn counter(n: &serde_json::Value) -> Option<u64> {
    if let Some(v) = n.as_u64() {
        return Some(v);
    }
    let f = n.as_f64()?;
    // 2^64 is exactly representable; anything at or above it does not fit.
    (f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0).then_some(f as u64)
}

/// This process's clock component, `"<service>#<instance>"`.
fn own_component() -> Arc<str> {
    let p = crate::wire::process();
    Arc::from(format!("{}#{}", p.service, p.instance_id))
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

/// The headers for a call to a downstream service, from the running task's trace: `traceparent`,
/// `raceway-clock`, and `tracestate` when one arrived, plus `extra` (which cannot override
/// those three).
///
/// Each call makes a new child span id for the downstream service; the caller keeps its own span.
/// The caller's clock component `"<service>#<instance>"` is incremented, and the vector sent
/// (the task's full clock) is kept by the caller.
///
/// ```
/// # let _c = raceway::testing::capture(|| {
/// let first = raceway::propagation_headers(std::iter::empty::<(&str, &str)>())?;
/// let second = raceway::propagation_headers([("x-request-id", "42")])?;
/// // Same trace, a different child span per call.
/// assert_eq!(first["traceparent"][..35], second["traceparent"][..35]);
/// assert_ne!(first["traceparent"], second["traceparent"]);
/// # Ok::<(), raceway::Error>(())
/// # }).output.unwrap();
/// ```
///
/// # Errors
/// [`Error::NoActiveTrace`] outside a trace (no request, `#[traced]` function or
/// [`Context::scope`] is running on this task).
pub fn propagation_headers<K, V>(extra: impl IntoIterator<Item = (K, V)>) -> Result<HashMap<String, String>, Error>
where
    K: Into<String>,
    V: Into<String>,
{
    let own = own_component();
    let p = crate::wire::process();
    let child = SpanId::random();
    let built = with_local(|l| {
        let task = l.task.as_mut()?;
        let own_c = Component::Remote(own.clone());
        let n = task.clock.get(&own_c).saturating_add(1);
        task.clock.merge_components(vec![(own_c.clone(), n)]);

        let trace_id = task.trace.id;
        let span = task.trace.span.as_ref();
        let mut json = String::with_capacity(256);
        json.push_str("{\"trace_id\":\"");
        let _ = write!(json, "{trace_id}\",\"span_id\":\"{child}\",\"parent_span_id\":");
        match span.and_then(|s| s.span_id) {
            Some(s) => {
                let _ = write!(json, "\"{s}\"");
            }
            None => json.push_str("null"),
        }
        json.push_str(",\"service\":");
        crate::wire::json_str(&mut json, &p.service);
        json.push_str(",\"instance\":");
        crate::wire::json_str(&mut json, &p.instance_id);
        // Most important first, so the caps never drop them: the service's component, then the
        // calling task's own, then what it inherited. The caps keep the header readable by peers
        // (at most MAX_CLOCK_COMPONENTS, and MAX_HEADER_BYTES once base64-encoded).
        let _ = write!(json, ",\"clock\":[[");
        crate::wire::json_str(&mut json, &own);
        let _ = write!(json, ",{n}]");
        let own_task = Component::Task(task.clock.task());
        let rest = task.clock.components().filter(|(c, _)| **c != own_c && **c != own_task);
        let ordered = std::iter::once((&own_task, task.clock.own_count())).chain(rest);
        let mut item = String::new();
        for (c, v) in ordered.take(MAX_CLOCK_COMPONENTS - 1) {
            item.clear();
            item.push_str(",[");
            match c {
                Component::Task(t) => {
                    let mut thread_id = String::new();
                    crate::wire::write_thread_id(&mut thread_id, *t);
                    crate::wire::json_str(&mut item, &thread_id);
                }
                Component::Remote(s) => crate::wire::json_str(&mut item, s),
            }
            let _ = write!(item, ",{v}]");
            if json.len() + item.len() + 2 > MAX_CLOCK_JSON_BYTES {
                break;
            }
            json.push_str(&item);
        }
        json.push_str("]}");
        Some((trace_id, json, span.and_then(|s| s.tracestate.clone())))
    })
    .flatten();
    let (trace_id, json, tracestate) = built.ok_or(Error::NoActiveTrace)?;

    let mut headers: HashMap<String, String> = extra.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    headers.retain(|k, _| ![TRACEPARENT, TRACESTATE, RACEWAY_CLOCK].iter().any(|h| k.eq_ignore_ascii_case(h)));
    headers.insert(TRACEPARENT.into(), format!("00-{}-{child}-01", trace_id.simple()));
    headers.insert(RACEWAY_CLOCK.into(), format!("{CLOCK_PREFIX}{}", base64url::encode(json.as_bytes())));
    if let Some(ts) = tracestate {
        headers.insert(TRACESTATE.into(), ts);
    }
    Ok(headers)
}

/// The header parsers, exposed for the fuzz targets under `fuzz/` and the property tests; not a
/// public API (no stability promise). Everything here only reads: no context is entered and no
/// event is recorded.
#[doc(hidden)]
pub mod __fuzz {
    use crate::id::{SpanId, Uuid};

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
        super::parse_traceparent(value)
    }

    /// The `raceway-clock` parser alone: `None` when the header would be ignored.
    pub fn raceway_clock(value: &str) -> Option<Parsed> {
        super::parse_raceway_clock(value).map(|c| Parsed {
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
}

/// Base64url (RFC 4648 §5): written without padding, read with or without it, and — tolerant of
/// peers that use the standard alphabet — with `+`/`/` as well as `-`/`_`.
mod base64url {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub(super) fn encode(input: &[u8]) -> String {
        let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
        for chunk in input.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            // 2 chars for 1 byte, 3 for 2, 4 for 3.
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 0x3f] as char);
            }
        }
        out
    }

    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32)
    }

    pub(super) fn decode(input: &str) -> Option<Vec<u8>> {
        let bytes = input.as_bytes();
        // Padding, when present, must complete the last quantum: at most two `=`, total length a
        // multiple of four.
        let body = bytes.strip_suffix(b"==").or_else(|| bytes.strip_suffix(b"=")).unwrap_or(bytes);
        if body.len() != bytes.len() && bytes.len() % 4 != 0 {
            return None;
        }
        if body.len() % 4 == 1 {
            return None;
        }
        let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
        for chunk in body.chunks(4) {
            let mut n = 0u32;
            for &c in chunk {
                n = (n << 6) | sextet(c)?;
            }
            n <<= 6 * (4 - chunk.len() as u32);
            let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&decoded[..chunk.len() - 1]);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn parse(headers: &[(&str, &str)]) -> Incoming {
        Incoming::parse(headers.iter().copied())
    }

    fn b64(json: &str) -> String {
        base64url::encode(json.as_bytes())
    }

    fn clock_header(json: &str) -> String {
        format!("v1;{}", b64(json))
    }

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let enc = base64url::encode(&data);
            assert!(!enc.contains('='), "no padding written");
            assert_eq!(base64url::decode(&enc), Some(data));
        }
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        for (plain, enc) in
            [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE")]
        {
            assert_eq!(base64url::encode(plain.as_bytes()), enc);
        }
        assert_eq!(base64url::encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn base64url_reads_padded_and_standard_alphabet_input() {
        assert_eq!(base64url::decode("Zg==").as_deref(), Some(&b"f"[..]));
        assert_eq!(base64url::decode("Zm8=").as_deref(), Some(&b"fo"[..]));
        assert_eq!(base64url::decode("+/8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(base64url::decode("-_8=").as_deref(), Some(&[0xfb, 0xff][..]));
    }

    #[test]
    fn base64url_rejects_malformed_input() {
        for bad in ["Z", "Zg=", "Zg===", "Z===", "Zm 9v", "Zm9v!", "=Zm9", "Zm=v"] {
            assert_eq!(base64url::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn no_headers_mean_a_new_trace_without_upstream() {
        assert_eq!(parse(&[]), Incoming::default());
        let ctx = Context::from_headers(std::iter::empty::<(&str, &str)>());
        let span = ctx.span().unwrap();
        assert!(span.span_id.is_some());
        assert_eq!(span.upstream_span_id, None);
    }

    #[test]
    fn a_valid_traceparent_gives_the_trace_and_this_services_span() {
        let got = parse(&[("TraceParent", TP)]);
        assert_eq!(got.trace_id.unwrap().to_string(), "0af76519-16cd-43dd-8448-eb211c80319c");
        assert_eq!(got.span_id.unwrap().to_string(), "b7ad6b7169203331");
        assert_eq!(got.upstream_span_id, None);
    }

    #[test]
    fn traceparent_w3c_violations_are_treated_as_absent() {
        for bad in [
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", // version ff
            "00-00000000000000000000000000000000-b7ad6b7169203331-01", // all-zero trace id
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", // all-zero span id
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", // uppercase
            "00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", // three fields
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", // five fields in v00
            "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01", // short trace id
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01", // short span id
            "0-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
            "zz-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "",
            "garbage",
        ] {
            assert_eq!(parse(&[("traceparent", bad)]), Incoming::default(), "{bad:?}");
        }
    }

    #[test]
    fn traceparent_accepts_future_versions_unknown_flags_and_surrounding_spaces() {
        let v = parse(&[("traceparent", "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-09-what-the-future")]);
        assert_eq!(v.span_id.unwrap().to_string(), "b7ad6b7169203331");
        let padded = parse(&[("traceparent", "  00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00 ")]);
        assert!(padded.trace_id.is_some());
    }

    #[test]
    fn a_repeated_traceparent_is_invalid() {
        assert_eq!(parse(&[("traceparent", TP), ("traceparent", TP)]), Incoming::default());
    }

    #[test]
    fn oversized_headers_are_ignored() {
        let huge = format!("{TP}{}", " ".repeat(MAX_HEADER_BYTES));
        assert_eq!(parse(&[("traceparent", &huge)]), Incoming::default());
        let huge_state = "a=".to_string() + &"b".repeat(MAX_HEADER_BYTES);
        let got = parse(&[("traceparent", TP), ("tracestate", &huge_state)]);
        assert!(got.trace_id.is_some());
        assert_eq!(got.tracestate, None);
        let huge_clock = format!("v1;{}", "A".repeat(MAX_HEADER_BYTES));
        let got = parse(&[("raceway-clock", &huge_clock)]);
        assert_eq!(got, Incoming::default());
    }

    #[test]
    fn tracestate_passes_through_joined_but_only_with_a_valid_parent() {
        let got = parse(&[("traceparent", TP), ("tracestate", "a=1"), ("TRACESTATE", "b=2")]);
        assert_eq!(got.tracestate.as_deref(), Some("a=1,b=2"));
        assert_eq!(parse(&[("tracestate", "a=1")]), Incoming::default());
    }

    #[cfg(feature = "enabled")]
    mod clock_header {
        use super::*;

        #[test]
        fn raceway_clock_overrides_traceparent_and_links_the_upstream_span() {
            let json = r#"{"trace_id":"11111111-2222-4333-8444-555555555555","span_id":"AAAABBBBCCCCDDDD",
                "parent_span_id":"00F067AA0BA902B7","service":"gw","instance":"i1",
                "clock":[["gw#i1",3],["go-4242-7",2.0]]}"#;
            let got = parse(&[("traceparent", TP), ("raceway-clock", &clock_header(json))]);
            assert_eq!(got.trace_id.unwrap().to_string(), "11111111-2222-4333-8444-555555555555");
            assert_eq!(got.span_id.unwrap().to_string(), "aaaabbbbccccdddd", "uppercase normalised");
            assert_eq!(got.upstream_span_id.unwrap().to_string(), "00f067aa0ba902b7");
            assert_eq!(got.clock, vec![("gw#i1".to_string(), 3), ("go-4242-7".to_string(), 2)]);
        }

        #[test]
        fn raceway_clock_alone_starts_no_new_trace() {
            let json = r#"{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","clock":[]}"#;
            let got = parse(&[("raceway-clock", &clock_header(json))]);
            assert_eq!(got.trace_id.unwrap().simple(), "0af7651916cd43dd8448eb211c80319c", "32-hex trace id");
            assert_eq!(got.upstream_span_id, None);
        }

        #[test]
        fn a_clock_without_trace_id_alone_does_not_carry_tracestate() {
            let got = parse(&[
                ("raceway-clock", &clock_header(r#"{"parent_span_id":"00f067aa0ba902b7"}"#)),
                ("tracestate", "a=1"),
            ]);
            assert_eq!(got.trace_id, None);
            assert_eq!(got.tracestate, None);
            assert_eq!(got.upstream_span_id.unwrap().to_string(), "00f067aa0ba902b7");
        }

        #[test]
        fn python_style_padded_base64_is_read() {
            // Python's base64.urlsafe_b64encode pads; this payload needs one `=`.
            let json =
                r#"{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","clock":[["py#1",1]]}"#;
            let mut enc = b64(json);
            while enc.len() % 4 != 0 {
                enc.push('=');
            }
            assert!(enc.ends_with('='), "the vector exercises padding");
            let got = parse(&[("raceway-clock", &format!("v1;{enc}"))]);
            assert_eq!(got.clock, vec![("py#1".to_string(), 1)]);
        }

        #[test]
        fn float_counters_must_be_integral() {
            let ok = r#"{"clock":[["ts#1",5.0],["go#1",1e3]]}"#;
            let got = parse(&[("traceparent", TP), ("raceway-clock", &clock_header(ok))]);
            assert_eq!(got.clock, vec![("ts#1".to_string(), 5), ("go#1".to_string(), 1000)]);
            for bad in [r#"{"clock":[["ts#1",5.5]]}"#, r#"{"clock":[["ts#1",-1]]}"#, r#"{"clock":[["ts#1",1e30]]}"#] {
                let got = parse(&[("traceparent", TP), ("raceway-clock", &clock_header(bad))]);
                assert!(got.clock.is_empty() && got.trace_id.is_some(), "{bad}: clock ignored, traceparent kept");
            }
        }

        #[test]
        fn malformed_raceway_clocks_are_treated_as_absent() {
            for bad in [
                "v2;e30".to_string(),
                "e30".to_string(),
                "v1;***".to_string(),
                clock_header("not json"),
                clock_header("[1,2]"),
                clock_header(r#"{"clock":{"a":1}}"#),
                clock_header(r#"{"clock":[["a",1,2]]}"#),
                clock_header(r#"{"clock":[[1,1]]}"#),
                clock_header(r#"{"clock":["a",1]}"#),
                clock_header(r#"{"clock":[["a","1"]]}"#),
            ] {
                assert_eq!(parse(&[("raceway-clock", &bad)]), Incoming::default(), "{bad}");
            }
        }

        #[test]
        fn too_many_clock_components_are_rejected() {
            let items: Vec<String> = (0..=MAX_CLOCK_COMPONENTS).map(|i| format!("[\"c{i}\",1]")).collect();
            let json = format!(r#"{{"trace_id":"0af7651916cd43dd8448eb211c80319c","clock":[{}]}}"#, items.join(","));
            assert_eq!(parse(&[("raceway-clock", &clock_header(&json))]), Incoming::default());
        }

        #[test]
        fn bad_fields_inside_a_valid_clock_are_dropped_one_by_one() {
            let json = r#"{"trace_id":"00000000-0000-0000-0000-000000000000","span_id":"xyz",
                "parent_span_id":"0000000000000000","clock":[["a",1]]}"#;
            let got = parse(&[("traceparent", TP), ("raceway-clock", &clock_header(json))]);
            assert_eq!(got.trace_id.unwrap().simple(), "0af7651916cd43dd8448eb211c80319c");
            assert_eq!(got.span_id.unwrap().to_string(), "b7ad6b7169203331");
            assert_eq!(got.upstream_span_id, None);
            assert_eq!(got.clock, vec![("a".to_string(), 1)]);
        }

        #[test]
        fn hostile_bytes_never_panic() {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            for len in 0..600 {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let bytes: Vec<u8> = (0..len).map(|i| (seed >> ((i % 8) * 8)) as u8).collect();
                let as_b64 = format!("v1;{}", base64url::encode(&bytes));
                let _ = Incoming::parse([("raceway-clock", as_b64.as_bytes()), ("traceparent", &bytes[..])]);
                let _ = Incoming::parse([("tracestate", &bytes[..])]);
            }
        }

        /// Decodes an outgoing `raceway-clock` the way a peer SDK would.
        fn decode(headers: &HashMap<String, String>) -> serde_json::Value {
            let enc = headers[RACEWAY_CLOCK].strip_prefix("v1;").unwrap();
            serde_json::from_slice(&base64url::decode(enc).unwrap()).unwrap()
        }

        #[test]
        fn outgoing_headers_follow_the_peer_format_and_keep_the_callers_span() {
            let json = r#"{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",
                "parent_span_id":"00f067aa0ba902b7","clock":[["up#1",4]]}"#;
            let ctx = Context::from_headers([
                ("traceparent", TP.to_string()),
                ("tracestate", "congo=t61".to_string()),
                ("raceway-clock", clock_header(json)),
            ]);
            let (a, b) = ctx.clone().in_scope(|| {
                let a = propagation_headers([("X-Extra", "1"), ("traceparent", "spoofed")]).unwrap();
                let b = propagation_headers(std::iter::empty::<(String, String)>()).unwrap();
                (a, b)
            });
            let tp: Vec<&str> = a[TRACEPARENT].split('-').collect();
            assert_eq!(tp.len(), 4);
            assert_eq!((tp[0], tp[1], tp[3]), ("00", "0af7651916cd43dd8448eb211c80319c", "01"));
            assert!(is_lower_hex(tp[2], 16) && tp[2] != "b7ad6b7169203331", "a new child span");
            assert_eq!(a["X-Extra"], "1");
            assert_eq!(a[TRACESTATE], "congo=t61");
            assert_ne!(a[TRACEPARENT], b[TRACEPARENT], "one child span per call");

            let p = decode(&a);
            assert_eq!(p["trace_id"], "0af76519-16cd-43dd-8448-eb211c80319c");
            assert_eq!(p["span_id"], tp[2]);
            assert_eq!(p["parent_span_id"], "b7ad6b7169203331", "the caller's span, which it keeps");
            let own = own_component();
            let clock = p["clock"].as_array().unwrap();
            assert_eq!(clock[0], serde_json::json!([&*own, 1]), "own component incremented from 0");
            assert!(clock.contains(&serde_json::json!(["up#1", 4])), "upstream components forwarded");
            assert_eq!(decode(&b)["clock"][0], serde_json::json!([&*own, 2]), "the increment is kept");

            // The outgoing header reads back with this SDK's (and peers') rules.
            let back = Incoming::parse(a.iter());
            assert_eq!(back.trace_id, Some(ctx.trace_id()));
            assert_eq!(back.span_id.unwrap().to_string(), tp[2]);
            assert_eq!(back.upstream_span_id.unwrap().to_string(), "b7ad6b7169203331");
            assert_eq!(ctx.span().unwrap().span_id.unwrap().to_string(), "b7ad6b7169203331");
        }

        #[test]
        fn outgoing_clock_carries_the_callers_task_components() {
            let got = crate::testing::capture(|| {
                crate::track_write("x", &0, &1);
                let task = Context::current_task().unwrap();
                (task, propagation_headers(std::iter::empty::<(String, String)>()).unwrap())
            });
            let (task, headers) = got.output;
            let p = decode(&headers);
            assert!(p["clock"].as_array().unwrap().contains(&serde_json::json!([task.thread_id(), 1])));
            assert_eq!(p["parent_span_id"], serde_json::Value::Null, "a trace without a span has no parent span");
        }

        #[test]
        fn an_oversized_outgoing_clock_is_capped_keeping_the_service_component() {
            let items: Vec<String> = (0..MAX_CLOCK_COMPONENTS).map(|i| format!("[\"c{i:03}\",1]")).collect();
            let json = format!(r#"{{"clock":[{}]}}"#, items.join(","));
            let ctx = Context::from_headers([("traceparent", TP.to_string()), ("raceway-clock", clock_header(&json))]);
            let headers = ctx.in_scope(|| propagation_headers(std::iter::empty::<(String, String)>()).unwrap());
            let clock = decode(&headers)["clock"].as_array().unwrap().clone();
            assert_eq!(clock.len(), MAX_CLOCK_COMPONENTS);
            assert_eq!(clock[0][0], &*own_component());
            assert_eq!(Incoming::parse(headers.iter()).clock.len(), MAX_CLOCK_COMPONENTS, "a peer reads it back");
        }
    }

    #[cfg(feature = "enabled")]
    #[test]
    fn an_outgoing_clock_stays_within_the_header_cap_keeping_the_callers_own_components() {
        // As many inherited components as an acceptable incoming header can hold.
        let long = "x".repeat(100);
        let encode = |n: usize| {
            let items: Vec<String> = (0..n).map(|i| format!("[\"{long}{i:03}\",1]")).collect();
            format!("v1;{}", base64url::encode(format!(r#"{{"clock":[{}]}}"#, items.join(",")).as_bytes()))
        };
        let n = (1..MAX_CLOCK_COMPONENTS).take_while(|&n| encode(n).len() <= MAX_HEADER_BYTES).last().unwrap();
        let header = encode(n);
        assert_eq!(Incoming::parse([("traceparent", TP), ("raceway-clock", &header)]).clock.len(), n);
        let got = crate::testing::capture(|| {
            // Made inside the capture, so the event below is recorded (and counted by the clock).
            let ctx = Context::from_headers([("traceparent", TP.to_string()), ("raceway-clock", header)]);
            ctx.in_scope(|| {
                crate::track_write("y", &0, &1);
                let task = Context::current_task().unwrap();
                (task, propagation_headers(std::iter::empty::<(String, String)>()).unwrap())
            })
        });
        let (task, headers) = got.output;
        assert!(headers[RACEWAY_CLOCK].len() <= MAX_HEADER_BYTES, "{}", headers[RACEWAY_CLOCK].len());
        let back = Incoming::parse(headers.iter());
        assert_eq!(back.clock[0], (own_component().to_string(), 1));
        assert_eq!(back.clock[1], (task.thread_id(), 1), "the calling task's own component survives the cap");
        assert!(back.clock.len() < n + 2, "inherited components were dropped to fit");
    }

    #[test]
    fn propagation_outside_a_trace_is_an_error() {
        let r = std::thread::spawn(|| propagation_headers(std::iter::empty::<(String, String)>())).join().unwrap();
        assert!(matches!(r, Err(Error::NoActiveTrace)));
    }

    #[test]
    fn incoming_context_adds_this_services_component_once() {
        let ctx = Incoming { clock: vec![("up#1".into(), 2)], ..Incoming::default() }.into_context();
        let own = Component::Remote(own_component());
        let clock = ctx.clock.as_ref().unwrap();
        assert_eq!(clock.get(&own), 0);
        assert!(clock.components().any(|(c, _)| *c == own));
        assert_eq!(clock.get(&Component::Remote("up#1".into())), 2);
        let again = Incoming { clock: vec![(own_component().to_string(), 7)], ..Incoming::default() }.into_context();
        assert_eq!(again.clock.as_ref().unwrap().get(&own), 7);
        assert_eq!(again.clock.as_ref().unwrap().components().filter(|(c, _)| **c == own).count(), 1);
    }
}
