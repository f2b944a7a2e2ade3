//! The W3C Trace Context `traceparent` header: `version-traceid-spanid-flags`.

use crate::event::id::{SpanId, Uuid};

pub(super) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Reads `version-traceid-spanid-flags` by W3C Trace Context: lowercase hex only, version `ff` and
/// all-zero ids invalid, exactly four fields for version `00`, more allowed for later versions.
pub(super) fn parse_traceparent(s: &str) -> Option<(Uuid, SpanId)> {
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
