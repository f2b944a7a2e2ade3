//! Property tests of the propagation headers, the part of the SDK that reads untrusted input.
//! Each property runs on thousands of generated cases from a small deterministic generator
//! (splitmix64, seeded per test, so a failure reproduces exactly); no new dependencies. The
//! `fuzz/` project checks the same parsers with libFuzzer for longer.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use raceway::propagation::{__fuzz, MAX_CLOCK_COMPONENTS, MAX_HEADER_BYTES};
use raceway::{propagation_headers, Context, SpanId, Uuid};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// splitmix64: tiny, fast, good enough to spread cases over the input space.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Bytes biased towards what the parsers look for (hex, separators, base64, JSON), with
    /// arbitrary bytes (controls, DEL, non-UTF-8) mixed in.
    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        const INTERESTING: &[u8] = b"0123456789abcdefABCDEF-_+/=;v1{}[]\",: \tff00";
        let len = self.below(max_len + 1);
        (0..len).map(|_| if self.chance(3) { self.next() as u8 } else { *self.pick(INTERESTING) }).collect()
    }

    /// A string of odd Unicode: controls, NUL, combining marks, right-to-left text, emoji,
    /// non-characters, the BOM, quotes and backslashes (JSON escapes).
    fn odd_string(&mut self, max_chars: usize) -> String {
        const ODD: &[char] = &[
            '\0',
            '\u{1}',
            '\u{7f}',
            '\u{80}',
            '\u{ff}',
            '\u{301}',
            '\u{5d0}',
            '\u{200d}',
            '\u{202e}',
            '\u{feff}',
            '\u{fffd}',
            '\u{ffff}',
            '\u{1f600}',
            '\u{10ffff}',
            '"',
            '\\',
            '\n',
            '#',
            'a',
            'Z',
            '-',
            ' ',
        ];
        let len = self.below(max_chars + 1);
        (0..len)
            .map(|_| {
                if self.chance(4) {
                    char::from_u32(self.next() as u32 % 0x11_0000).unwrap_or('x')
                } else {
                    *self.pick(ODD)
                }
            })
            .collect()
    }

    fn trace_id(&mut self) -> Uuid {
        let v = u128::from(self.next()) << 64 | u128::from(self.next());
        Uuid::parse(&format!("{:032x}", v.max(1))).unwrap()
    }

    fn span_id(&mut self) -> SpanId {
        SpanId::parse(&format!("{:016x}", self.next().max(1))).unwrap()
    }
}

fn b64(bytes: &[u8]) -> String {
    __fuzz::base64url_encode(bytes)
}

fn clock_header(json: &str) -> String {
    format!("v1;{}", b64(json.as_bytes()))
}

/// The JSON payload of an outgoing `raceway-clock`, read the way a peer SDK reads it.
fn payload(headers: &HashMap<String, String>) -> serde_json::Value {
    let enc = headers["raceway-clock"].strip_prefix("v1;").expect("v1 prefix");
    serde_json::from_slice(&__fuzz::base64url_decode(enc).expect("base64url")).expect("JSON")
}

fn outgoing(ctx: &Context) -> HashMap<String, String> {
    ctx.clone().in_scope(|| propagation_headers(std::iter::empty::<(String, String)>())).expect("inside a trace")
}

fn component(clock: &[(String, u64)], name: &str) -> Option<u64> {
    clock.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
}

#[test]
fn outgoing_headers_parse_back_to_the_same_trace_span_and_clock() {
    let mut rng = Rng(1);
    for case in 0..1500 {
        let (trace, span) = (rng.trace_id(), rng.span_id());
        // Unique component names of odd Unicode; sizes kept so no cap drops a component.
        let incoming: Vec<(String, u64)> = (0..rng.below(21))
            .map(|i| (format!("{}#{i}", rng.odd_string(12)), if rng.chance(2) { rng.next() } else { rng.next() % 100 }))
            .collect();
        let tracestate = rng.chance(2).then(|| format!("k{}=v{}", rng.below(1000), rng.below(1000)));
        let json = serde_json::json!({
            "trace_id": trace.to_string(),
            "span_id": span.to_string(),
            "clock": incoming.iter().map(|(n, v)| serde_json::json!([n, v])).collect::<Vec<_>>(),
        });
        let mut headers = vec![
            ("traceparent".to_string(), format!("00-{}-{span}-01", trace.simple())),
            ("raceway-clock".to_string(), clock_header(&json.to_string())),
        ];
        if let Some(ts) = &tracestate {
            headers.push(("tracestate".to_string(), ts.clone()));
        }
        let ctx = Context::from_headers(headers);
        assert_eq!(ctx.trace_id(), trace, "case {case}");

        // Hop 1: the outgoing headers read back as the same trace, with the child span made for
        // the callee, this service's span as upstream, the tracestate, and the whole clock.
        let out = outgoing(&ctx);
        let child = SpanId::parse(out["traceparent"].split('-').nth(2).unwrap()).unwrap();
        let back = Context::from_headers(&out);
        assert_eq!(back.trace_id(), trace, "case {case}");
        let back_span = back.span().unwrap();
        assert_eq!(back_span.span_id, Some(child), "case {case}");
        assert_eq!(back_span.upstream_span_id, Some(span), "case {case}");
        assert_eq!(back_span.tracestate, tracestate, "case {case}");
        let sent = __fuzz::parse_headers(&out).clock;
        let own = payload(&out)["clock"][0][0].as_str().unwrap().to_string();
        assert_eq!(component(&sent, &own), Some(1), "case {case}: own component incremented once");
        for (name, v) in &incoming {
            assert_eq!(component(&sent, name), Some(*v), "case {case}: component {name:?} forwarded");
        }

        // Hop 2: the clock survived `Context::from_headers`: everything sent on hop 1 is sent on
        // again, no component went backwards, and this service's component moved on.
        let again = __fuzz::parse_headers(&outgoing(&back)).clock;
        for (name, v) in &sent {
            let now = component(&again, name).unwrap_or_else(|| panic!("case {case}: {name:?} lost"));
            assert!(now >= *v, "case {case}: {name:?} went from {v} to {now}");
        }
        assert_eq!(component(&again, &own), Some(2), "case {case}");
    }
}

#[test]
fn arbitrary_bytes_in_any_header_never_panic_and_start_a_trace() {
    let mut rng = Rng(2);
    const NAMES: &[&str] =
        &["traceparent", "TRACEPARENT", "tracestate", "TraceState", "raceway-clock", "RACEWAY-CLOCK", "x-y", ""];
    for _ in 0..4000 {
        let headers: Vec<(String, Vec<u8>)> = (0..rng.below(7))
            .map(|_| {
                let name = if rng.chance(8) { rng.odd_string(8) } else { rng.pick(NAMES).to_string() };
                let mut value = rng.bytes(200);
                if rng.chance(3) {
                    // Arbitrary bytes behind a valid prefix and encoding, to reach the JSON parser.
                    value = format!("v1;{}", b64(&value)).into_bytes();
                }
                (name, value)
            })
            .collect();
        let parsed = __fuzz::parse_headers(headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        assert!(parsed.clock.len() <= MAX_CLOCK_COMPONENTS);
        assert!(parsed.tracestate.is_none() || parsed.trace_id.is_some(), "tracestate without a trace");
        let ctx = Context::from_headers(headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        assert!(ctx.span().unwrap().span_id.is_some());
        if let Some(t) = parsed.trace_id {
            assert_eq!(ctx.trace_id(), t);
        }

        // The same bytes as `http` header values (those `http` accepts, non-UTF-8 included).
        let mut map = HeaderMap::new();
        for (name, value) in &headers {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value)) {
                map.append(n, v);
            }
        }
        let from_map = Context::from_headers(&map);
        assert!(from_map.span().unwrap().span_id.is_some());
    }
}

#[test]
fn odd_unicode_in_names_and_values_never_panics_and_is_never_read_as_a_trace() {
    let mut rng = Rng(3);
    for _ in 0..3000 {
        let value = rng.odd_string(40);
        let name = if rng.chance(2) {
            rng.odd_string(12)
        } else {
            rng.pick(&["traceparent", "tracestate", "raceway-clock"]).to_string()
        };
        let ctx = Context::from_headers([(name.as_str(), value.as_str())]);
        assert!(ctx.span().unwrap().span_id.is_some());
        // Outside visible ASCII nothing is read, so non-ASCII values never continue a trace.
        if !value.is_ascii() {
            assert_eq!(
                __fuzz::parse_headers([(name.as_str(), value.as_str())]),
                __fuzz::Parsed::default(),
                "{value:?}"
            );
        }
        // Inside the (base64-encoded) clock payload, odd Unicode is data: names are kept as sent.
        let json = serde_json::json!({ "clock": [[value, 1]] }).to_string();
        let parsed = __fuzz::parse_headers([("traceparent", TP.to_string()), ("raceway-clock", clock_header(&json))]);
        assert_eq!(parsed.clock, vec![(value, 1)]);
    }
}

/// Runs `f` and checks it finished within `limit`; generous for debug builds on a loaded machine,
/// yet orders of magnitude below what a quadratic parse of these inputs would take.
fn within<R>(limit: Duration, what: &str, f: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let r = f();
    assert!(start.elapsed() < limit, "{what} took {:?}", start.elapsed());
    r
}

#[test]
fn huge_headers_are_rejected_in_bounded_time() {
    let limit = Duration::from_secs(1);
    let mib = 1 << 20;
    let huge_tp = format!("{TP}{}", " ".repeat(mib));
    let huge_state = format!("a={}", "b".repeat(mib));
    let huge_clock = format!("v1;{}", "A".repeat(mib));
    for (name, value) in [("traceparent", &huge_tp), ("tracestate", &huge_state), ("raceway-clock", &huge_clock)] {
        let alone = within(limit, name, || __fuzz::parse_headers([(name, value.as_str())]));
        assert_eq!(alone, __fuzz::Parsed::default(), "{name}: a huge value is ignored");
        // Next to a valid traceparent, the trace continues without what the huge header said.
        let parsed = within(limit, name, || __fuzz::parse_headers([("traceparent", TP), (name, value.as_str())]));
        let expected = if name == "traceparent" { None } else { __fuzz::traceparent(TP) };
        assert_eq!(parsed.trace_id.zip(parsed.span_id), expected, "{name}");
        assert!(parsed.tracestate.is_none() && parsed.clock.is_empty(), "{name}");
        within(limit, name, || Context::from_headers([(name, value.as_str())]));
    }

    // 100k clock components: over the size cap as a header; over the component cap even when
    // handed to the clock parser directly, past the size check.
    let items: Vec<String> = (0..100_000).map(|i| format!("[\"c{i}\",{i}]")).collect();
    let json = format!(r#"{{"trace_id":"0af7651916cd43dd8448eb211c80319c","clock":[{}]}}"#, items.join(","));
    let header = clock_header(&json);
    assert!(header.len() > 100 * MAX_HEADER_BYTES);
    let parsed = within(limit, "100k components", || __fuzz::parse_headers([("raceway-clock", header.as_str())]));
    assert_eq!(parsed, __fuzz::Parsed::default());
    assert_eq!(
        within(Duration::from_secs(5), "100k components, parser alone", || __fuzz::raceway_clock(&header)),
        None
    );

    // Many headers, 4 MiB in all: the repeated tracestate is capped, the time stays linear.
    let chunk = "k=".to_string() + &"v".repeat(1022);
    let mut many: Vec<(&str, &str)> = vec![("traceparent", TP)];
    many.extend(std::iter::repeat_n(("tracestate", chunk.as_str()), 4096));
    let parsed = within(limit, "4096 tracestate headers", || __fuzz::parse_headers(many.iter().copied()));
    assert!(parsed.trace_id.is_some());
    assert_eq!(parsed.tracestate, None, "a joined tracestate over the cap is dropped");
}

#[test]
fn a_header_just_over_the_cap_is_ignored_and_one_at_the_cap_is_read() {
    let state_at_cap = format!("a={}", "b".repeat(MAX_HEADER_BYTES - 2));
    let at = __fuzz::parse_headers([("traceparent", TP), ("tracestate", state_at_cap.as_str())]);
    assert_eq!(at.tracestate.as_deref(), Some(state_at_cap.as_str()));
    let over = state_at_cap.clone() + "b";
    let got = __fuzz::parse_headers([("traceparent", TP), ("tracestate", over.as_str())]);
    assert_eq!(got.tracestate, None);

    let tp_at_cap = format!("{TP}{}", " ".repeat(MAX_HEADER_BYTES - TP.len()));
    assert!(__fuzz::parse_headers([("traceparent", tp_at_cap.as_str())]).trace_id.is_some(), "trailing spaces trimmed");
    let tp_over = tp_at_cap + " ";
    assert_eq!(__fuzz::parse_headers([("traceparent", tp_over.as_str())]), __fuzz::Parsed::default());
}

/// Valid headers to mutate: a W3C fixture plus real outgoing headers of this SDK.
fn valid_headers(rng: &mut Rng) -> HashMap<String, String> {
    let json = serde_json::json!({ "trace_id": rng.trace_id().to_string(), "span_id": rng.span_id().to_string(),
        "clock": [[rng.odd_string(6), rng.below(9)]] });
    let ctx = Context::from_headers([
        ("traceparent", format!("00-{}-{}-01", rng.trace_id().simple(), rng.span_id())),
        ("raceway-clock", clock_header(&json.to_string())),
        ("tracestate", "congo=t61rcWkgMzE".to_string()),
    ]);
    outgoing(&ctx)
}

#[test]
fn every_truncation_of_a_valid_header_is_treated_as_absent() {
    let mut rng = Rng(4);
    for _ in 0..20 {
        let h = valid_headers(&mut rng);
        for header in ["traceparent", "raceway-clock"] {
            let full = &h[header];
            assert_ne!(__fuzz::parse_headers([(header, full.as_str())]), __fuzz::Parsed::default(), "{header} valid");
            // A prefix of the ids is the wrong length; a prefix of the clock's JSON is not JSON.
            for end in 0..full.len() {
                let cut = &full[..end];
                assert_eq!(__fuzz::parse_headers([(header, cut)]), __fuzz::Parsed::default(), "{header} {cut:?}");
            }
        }
    }
}

#[test]
fn header_names_in_any_case_and_values_padded_with_spaces_read_the_same() {
    let mut rng = Rng(5);
    for _ in 0..1000 {
        let h = valid_headers(&mut rng);
        let expected = __fuzz::parse_headers(&h);
        assert!(expected.trace_id.is_some() && expected.tracestate.is_some() && !expected.clock.is_empty());
        let mutated: Vec<(String, String)> = h
            .iter()
            .map(|(name, value)| {
                let name: String =
                    name.chars().map(|c| if rng.chance(2) { c.to_ascii_uppercase() } else { c }).collect();
                let pad = |rng: &mut Rng| -> String { (0..rng.below(4)).map(|_| *rng.pick(&[' ', '\t'])).collect() };
                (name, format!("{}{value}{}", pad(&mut rng), pad(&mut rng)))
            })
            .collect();
        assert_eq!(__fuzz::parse_headers(mutated.iter().map(|(n, v)| (n, v))), expected, "{mutated:?}");
    }
}

#[test]
fn uppercase_hex_in_traceparent_is_treated_as_absent() {
    let mut rng = Rng(6);
    for _ in 0..1000 {
        let h = valid_headers(&mut rng);
        let tp = &h["traceparent"];
        // Uppercase one hex letter of the trace or span id (W3C requires lowercase).
        let letters: Vec<usize> = tp
            .char_indices()
            .filter(|&(i, c)| (3..52).contains(&i) && c.is_ascii_lowercase())
            .map(|(i, _)| i)
            .collect();
        let Some(&at) = (!letters.is_empty()).then(|| rng.pick(&letters)) else { continue };
        let mut upper = tp.clone();
        upper[at..=at].make_ascii_uppercase();
        assert_eq!(__fuzz::parse_headers([("traceparent", upper.as_str())]), __fuzz::Parsed::default(), "{upper}");
    }
}

#[test]
fn mutated_valid_headers_are_read_as_written_or_treated_as_absent() {
    let mut rng = Rng(7);
    for case in 0..3000 {
        let h = valid_headers(&mut rng);
        let mut headers: Vec<(String, Vec<u8>)> = h.iter().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
        let target = rng.below(headers.len());
        let value = &mut headers[target].1;
        for _ in 0..1 + rng.below(3) {
            match rng.below(6) {
                0 if !value.is_empty() => {
                    let i = rng.below(value.len());
                    value[i] ^= 1 << rng.below(8);
                }
                1 => value.truncate(rng.below(value.len() + 1)),
                2 => {
                    let i = rng.below(value.len() + 1);
                    value.insert(i, rng.next() as u8);
                }
                3 if !value.is_empty() => {
                    let i = rng.below(value.len());
                    value.remove(i);
                }
                4 => {
                    let suffixes: [&[u8]; 6] = [b"-x", b"==", b"\x00", b"\xff", b",", b"  "];
                    let suffix = suffixes[rng.below(suffixes.len())];
                    value.extend_from_slice(suffix);
                }
                _ => {
                    let prefixes: [&[u8]; 5] = [b"  ", b"\t", b"v1;", b"00-", b"\x7f"];
                    let prefix = *rng.pick(&prefixes);
                    value.splice(0..0, prefix.iter().copied());
                }
            }
        }
        let parsed = __fuzz::parse_headers(headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        let ctx = Context::from_headers(headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        assert!(ctx.span().unwrap().span_id.is_some(), "case {case}");
        assert!(parsed.clock.len() <= MAX_CLOCK_COMPONENTS);

        // Read as written: a traceparent-derived id is exactly the one in the (mutated) text.
        let tp_only = __fuzz::parse_headers(
            headers.iter().filter(|(n, _)| n == "traceparent").map(|(n, v)| (n.as_str(), v.as_slice())),
        );
        if let Some(t) = tp_only.trace_id {
            let text = String::from_utf8(headers.iter().find(|(n, _)| n == "traceparent").unwrap().1.clone()).unwrap();
            let fields: Vec<&str> = text.trim_matches([' ', '\t']).split('-').collect();
            assert_eq!(fields[1], t.simple(), "case {case}: {text:?}");
            assert_eq!(fields[2], tp_only.span_id.unwrap().to_string(), "case {case}: {text:?}");
        }
        // Or absent: whatever is read is what the context continues.
        match parsed.trace_id {
            Some(t) => assert_eq!(ctx.trace_id(), t, "case {case}"),
            None => assert_eq!(parsed.tracestate, None, "case {case}"),
        }
    }
}
