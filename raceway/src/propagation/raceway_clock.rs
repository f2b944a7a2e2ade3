//! Raceway's `raceway-clock` header: `v1;<base64url JSON>` carrying the trace id, the span
//! links and the caller's vector clock (`docs/propagation.md`).

use super::CLOCK_PREFIX;
#[cfg(raceway_on)]
use super::{base64url, MAX_CLOCK_COMPONENTS};
use crate::event::id::{SpanId, Uuid};

/// The useful fields of a `raceway-clock` payload.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ClockHeader {
    pub trace_id: Option<Uuid>,
    pub span_id: Option<SpanId>,
    pub parent_span_id: Option<SpanId>,
    pub clock: Vec<(String, u64)>,
}

/// `v1;<base64url JSON object>`. `None` (the header is ignored) when the version, the base64,
/// the JSON or the clock's shape is wrong, or the clock has too many components. Single fields
/// that do not parse (a malformed span id) are dropped on their own.
#[cfg(raceway_on)]
pub(super) fn parse_raceway_clock(s: &str) -> Option<ClockHeader> {
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
#[cfg(not(raceway_on))]
pub(super) fn parse_raceway_clock(_: &str) -> Option<ClockHeader> {
    None
}

/// A clock counter: a non-negative integer, or a float with an integral value (Go, Python and
/// TypeScript serialize numbers as doubles).
#[cfg(raceway_on)]
fn counter(n: &serde_json::Value) -> Option<u64> {
    if let Some(v) = n.as_u64() {
        return Some(v);
    }
    let f = n.as_f64()?;
    // 2^64 is exactly representable; anything at or above it does not fit.
    (f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0).then_some(f as u64)
}
