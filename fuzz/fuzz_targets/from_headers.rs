//! The whole incoming path, `Context::from_headers`, on arbitrary lists of headers (names from a
//! small set in mixed case, values arbitrary bytes or encoded clock payloads). Never panics; the
//! context agrees with the parse; any header above the size cap contributes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use raceway::propagation::{__fuzz, MAX_CLOCK_COMPONENTS, MAX_HEADER_BYTES};
use raceway::Context;

const NAMES: [&str; 8] =
    ["traceparent", "TraceParent", "tracestate", "TRACESTATE", "raceway-clock", "Raceway-Clock", "x-other", ""];

fuzz_target!(|input: Vec<(u8, Vec<u8>)>| {
    let headers: Vec<(&str, Vec<u8>)> = input
        .into_iter()
        .map(|(sel, value)| {
            let name = NAMES[usize::from(sel) % NAMES.len()];
            // High bit: the value is a clock payload, encoded so the JSON parser is reached.
            let value =
                if sel & 0x80 != 0 { format!("v1;{}", __fuzz::base64url_encode(&value)).into_bytes() } else { value };
            (name, value)
        })
        .collect();

    let parsed = __fuzz::parse_headers(headers.iter().map(|(n, v)| (*n, &v[..])));
    assert!(parsed.clock.len() <= MAX_CLOCK_COMPONENTS);
    assert!(parsed.tracestate.is_none() || parsed.trace_id.is_some(), "tracestate without a trace");
    assert!(parsed.tracestate.as_ref().is_none_or(|t| t.len() <= MAX_HEADER_BYTES));

    let ctx = Context::from_headers(headers.iter().map(|(n, v)| (*n, &v[..])));
    let span = ctx.span().expect("an incoming context always has a span");
    assert!(span.span_id.is_some());
    if let Some(t) = parsed.trace_id {
        assert_eq!(ctx.trace_id(), t);
    }
    if let Some(s) = parsed.span_id {
        assert_eq!(span.span_id, Some(s));
    }
    assert_eq!(span.upstream_span_id, parsed.upstream_span_id);
    assert_eq!(span.tracestate, parsed.tracestate);

    // Pushed over the cap (by trailing spaces, which would otherwise be trimmed away), every
    // header is ignored, so nothing of the trace survives.
    let padded: Vec<(&str, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| {
            let mut v = v.clone();
            v.resize(v.len().max(MAX_HEADER_BYTES) + 1, b' ');
            (*n, v)
        })
        .collect();
    assert_eq!(__fuzz::parse_headers(padded.iter().map(|(n, v)| (*n, &v[..]))), __fuzz::Parsed::default());
});
