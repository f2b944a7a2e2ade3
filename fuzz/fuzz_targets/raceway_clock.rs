//! `raceway-clock`: the first input byte picks the mode. Even: the rest is the raw header value
//! (exercises the prefix, the cap and base64). Odd: the rest is the JSON payload, sent encoded
//! the way peers do (exercises the JSON shape checks). Accepted clocks must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use raceway::propagation::{__fuzz, MAX_CLOCK_COMPONENTS, MAX_HEADER_BYTES};

/// The payload a peer would send for `p`, in the JSON form of `raceway::propagation_headers`.
fn payload(p: &__fuzz::Parsed) -> String {
    let id = |v: Option<String>| v.map_or(serde_json::Value::Null, serde_json::Value::String);
    serde_json::json!({
        "trace_id": id(p.trace_id.map(|t| t.to_string())),
        "span_id": id(p.span_id.map(|s| s.to_string())),
        "parent_span_id": id(p.upstream_span_id.map(|s| s.to_string())),
        "clock": p.clock.iter().map(|(n, v)| serde_json::json!([n, v])).collect::<Vec<_>>(),
    })
    .to_string()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let value: Vec<u8> =
        if mode % 2 == 0 { rest.to_vec() } else { format!("v1;{}", __fuzz::base64url_encode(rest)).into_bytes() };
    let parsed = __fuzz::parse_headers([("raceway-clock", &value[..])]);
    assert!(parsed.clock.len() <= MAX_CLOCK_COMPONENTS);
    assert!(parsed.tracestate.is_none());
    if value.len() > MAX_HEADER_BYTES {
        assert_eq!(parsed, __fuzz::Parsed::default(), "oversized header must be ignored");
        return;
    }
    let Ok(text) = std::str::from_utf8(&value) else { return };
    let Some(alone) = __fuzz::raceway_clock(text) else { return };
    assert!(alone.clock.len() <= MAX_CLOCK_COMPONENTS);
    if text.trim_matches([' ', '\t']) == text && text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        assert_eq!(parsed, alone, "the header path reads what the parser reads");
    }
    // What was accepted, written back the way peers write it, reads back the same.
    let again = format!("v1;{}", __fuzz::base64url_encode(payload(&alone).as_bytes()));
    assert_eq!(__fuzz::raceway_clock(&again), Some(alone));
});
