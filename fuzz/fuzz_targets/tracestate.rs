//! `tracestate`: several header values (split on `\n` in the input), with and without a valid
//! `traceparent`. The result must equal a direct model of the W3C joining rule and stay capped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use raceway::propagation::{__fuzz, MAX_HEADER_BYTES};

const TP: &[u8] = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// The rule: all values must be visible ASCII (or space/tab) within the cap; they are trimmed,
/// empty ones skipped, the rest joined with `,`; a join longer than the cap is dropped whole.
fn model(values: &[&[u8]]) -> Option<String> {
    let mut joined = String::new();
    for v in values {
        if v.len() > MAX_HEADER_BYTES || !v.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
            return None;
        }
        let v = std::str::from_utf8(v).ok()?.trim_matches([' ', '\t']);
        if !joined.is_empty() && !v.is_empty() {
            joined.push(',');
        }
        joined.push_str(v);
        if joined.len() > MAX_HEADER_BYTES {
            return None;
        }
    }
    Some(joined).filter(|s| !s.is_empty())
}

fuzz_target!(|data: &[u8]| {
    let values: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let mut headers: Vec<(&str, &[u8])> = vec![("traceparent", TP)];
    headers.extend(values.iter().map(|v| ("tracestate", *v)));

    let with_parent = __fuzz::parse_headers(headers.iter().copied());
    assert!(with_parent.trace_id.is_some());
    assert_eq!(with_parent.tracestate, model(&values));
    if let Some(ts) = &with_parent.tracestate {
        assert!(ts.len() <= MAX_HEADER_BYTES);
        assert!(ts.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)));
    }
    // Without a valid parent, tracestate belongs to nobody.
    assert_eq!(__fuzz::parse_headers(headers[1..].iter().copied()), __fuzz::Parsed::default());
});
