//! `traceparent`: arbitrary bytes as the header value, through the full header path and the
//! parser alone. Accepted values must round-trip through the canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use raceway::propagation::{__fuzz, MAX_HEADER_BYTES};

fuzz_target!(|data: &[u8]| {
    let parsed = __fuzz::parse_headers([("traceparent", data)]);
    // traceparent alone never yields an upstream span, a clock or (without tracestate) state.
    assert_eq!(parsed.trace_id.is_some(), parsed.span_id.is_some());
    assert!(parsed.upstream_span_id.is_none() && parsed.clock.is_empty() && parsed.tracestate.is_none());
    if data.len() > MAX_HEADER_BYTES {
        assert_eq!(parsed, __fuzz::Parsed::default(), "oversized header must be ignored");
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The header path is the parser applied to the trimmed value, when the value is visible
    // ASCII (or space/tab) within the cap, and nothing otherwise.
    let header_ok = data.len() <= MAX_HEADER_BYTES && data.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
    let expected = if header_ok { __fuzz::traceparent(text.trim_matches([' ', '\t'])) } else { None };
    assert_eq!((parsed.trace_id, parsed.span_id), expected.map_or((None, None), |(t, s)| (Some(t), Some(s))));

    let Some((trace, span)) = __fuzz::traceparent(text) else { return };
    let (trace_hex, span_hex) = (trace.simple(), span.to_string());
    assert_ne!(trace_hex, "0".repeat(32), "all-zero trace id accepted");
    assert_ne!(span_hex, "0".repeat(16), "all-zero span id accepted");
    // Strict W3C: the accepted ids appear verbatim (lowercase) in fields 2 and 3.
    let fields: Vec<&str> = text.split('-').collect();
    assert_eq!((fields[1], fields[2]), (trace_hex.as_str(), span_hex.as_str()));
    assert_ne!(fields[0], "ff");
    let canonical = format!("00-{trace_hex}-{span_hex}-01");
    assert_eq!(__fuzz::traceparent(&canonical), Some((trace, span)));
});
