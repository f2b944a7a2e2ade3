//! JSON primitives for the exporter's hot loop: strings, integers, ids and captured values
//! written straight into a byte buffer.
//!
//! Strings are escaped by `serde_json` and integers written by `itoa` (the crates `serde_json`
//! itself uses; an interleaved A/B in BENCHMARKS.md shows no cost over the hand-written versions
//! they replaced). UUIDs and span ids keep a hand-written hex writer: three UUIDs per event made
//! `core::fmt`'s rendering the top symbol of the exporter's profile (BENCHMARKS.md, "wire"), and
//! no well-kept crate writes them into a caller's buffer without it.

use crate::event::id::{SpanId, Uuid};
use crate::event::location::Location;
use crate::event::value::Value;

#[inline]
pub(super) fn push(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

/// A JSON string literal, quotes included.
#[inline]
pub(super) fn json_bytes(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail, and a `str` always serializes.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The contents of a JSON string for `s`, without the quotes (for text joined with other parts
/// into one string).
pub(super) fn escape_into(out: &mut Vec<u8>, s: &str) {
    let start = out.len();
    json_bytes(out, s);
    // Drop the quotes `serde_json` wrote around the escaped text.
    out.pop();
    out.remove(start);
}

/// `n` in decimal.
#[inline]
pub(super) fn write_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `n` in decimal.
#[inline]
pub(super) fn write_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// The 8 lowercase hex digits of `x`, most significant first, computed in one register: each
/// nibble is spread into its own byte, then turned into `'0'..'9'` or `'a'..'f'` without a branch
/// or a table (the exporter writes three UUIDs per event).
#[inline]
pub(super) fn hex8(x: u32) -> [u8; 8] {
    let mut v = x as u64;
    v = ((v & 0xFFFF_0000) << 16) | (v & 0xFFFF);
    v = ((v & 0x0000_FF00_0000_FF00) << 8) | (v & 0x0000_00FF_0000_00FF);
    v = ((v & 0x00F0_00F0_00F0_00F0) << 4) | (v & 0x000F_000F_000F_000F);
    // 1 in each byte whose nibble is 10 or more: those skip from after '9' to 'a'.
    let letters = ((v + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (v + 0x3030_3030_3030_3030 + letters * (b'a' - b'9' - 1) as u64).to_be_bytes()
}

/// The 36-character hyphenated lowercase form (`Uuid`'s `Display`): 8-4-4-4-12 digits.
#[inline]
pub(super) fn uuid_text(id: Uuid) -> [u8; 36] {
    let v = id.as_u128();
    let (a, b, c, d) = (hex8((v >> 96) as u32), hex8((v >> 64) as u32), hex8((v >> 32) as u32), hex8(v as u32));
    let mut out = [b'-'; 36];
    out[0..8].copy_from_slice(&a);
    out[9..13].copy_from_slice(&b[..4]);
    out[14..18].copy_from_slice(&b[4..]);
    out[19..23].copy_from_slice(&c[..4]);
    out[24..28].copy_from_slice(&c[4..]);
    out[28..36].copy_from_slice(&d);
    out
}

/// A UUID as a JSON string.
#[inline]
pub(super) fn uuid(out: &mut Vec<u8>, id: Uuid) {
    out.push(b'"');
    out.extend_from_slice(&uuid_text(id));
    out.push(b'"');
}

/// The 16 lowercase hex digits of a span id (`SpanId`'s `Display`).
#[inline]
pub(super) fn span_text(id: SpanId) -> [u8; 16] {
    let mut out = [0u8; 16];
    let v = id.as_u64();
    out[..8].copy_from_slice(&hex8((v >> 32) as u32));
    out[8..].copy_from_slice(&hex8(v as u32));
    out
}

/// Counts what `serde_json` would write, to report the size of an omitted value without
/// rendering it anywhere.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes one value; `omit` replaces it by a size note (used for oversized events).
pub(super) fn value(out: &mut Vec<u8>, v: &Value, omit: bool) {
    if omit && !v.is_null() {
        let mut n = Count(0);
        let len = serde_json::to_writer(&mut n, v).map(|_| n.0).unwrap_or(0);
        push(out, "\"<value omitted: ");
        write_u64(out, len as u64);
        push(out, " bytes>\"");
        return;
    }
    match v {
        // The common captured values, without going through serde.
        Value::Null => push(out, "null"),
        Value::Bool(true) => push(out, "true"),
        Value::Bool(false) => push(out, "false"),
        Value::Number(n) if n.is_u64() => write_u64(out, n.as_u64().unwrap_or(0)),
        Value::Number(n) if n.is_i64() => write_i64(out, n.as_i64().unwrap_or(0)),
        v => {
            let start = out.len();
            if serde_json::to_writer(&mut *out, v).is_err() {
                // Drop whatever part was written, so the body stays valid JSON.
                out.truncate(start);
                push(out, "\"<unserializable>\"");
            }
        }
    }
}

pub(super) fn headers(out: &mut Vec<u8>, h: &[(String, String)]) {
    out.push(b'{');
    for (i, (k, v)) in h.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_bytes(out, k);
        out.push(b':');
        json_bytes(out, v);
    }
    out.push(b'}');
}

/// `"file:line"` (`Location`'s `Display`, as a JSON string).
pub(super) fn loc(out: &mut Vec<u8>, l: &Location) {
    json_bytes(out, l.file);
    out.pop(); // the closing quote: the line number goes inside the string
    out.push(b':');
    write_u64(out, l.line as u64);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small xorshift: reproducible pseudo-random inputs without a dependency.
    fn rng(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    /// The escaping the exporter used before it called `serde_json` (char by char with `write!`),
    /// kept as the reference, with RFC 8259's short forms for backspace and form feed.
    fn reference_json_str(s: &str) -> String {
        use std::fmt::Write as _;
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                // RFC 8259's two other short forms, which serde_json writes (the hand-written
                // escaper before it wrote \u0008 and \u000c: the same JSON string).
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn uuid_hex_equals_display() {
        let mut next = rng(7);
        let mut ids = vec![0, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210, 1, 1 << 127];
        for _ in 0..10_000 {
            ids.push(((next() as u128) << 64) | next() as u128);
        }
        for v in ids {
            let id = Uuid::from_u128(v);
            assert_eq!(text(|o| uuid(o, id)), format!("\"{id}\""));
        }
        let id = Uuid::new_v4();
        assert_eq!(text(|o| uuid(o, id)), format!("\"{id}\""));
    }

    #[test]
    fn span_id_hex_equals_display() {
        let mut next = rng(11);
        for v in [1, u64::MAX, 0x00f0_67aa_0ba9_02b7].into_iter().chain((0..10_000).map(|_| next() | 1)) {
            let id = SpanId(std::num::NonZeroU64::new(v).unwrap());
            assert_eq!(String::from_utf8(span_text(id).to_vec()).unwrap(), id.to_string());
        }
    }

    #[test]
    fn integers_equal_display_at_every_edge() {
        let mut values = vec![0, 9, 10, 11, 99, 100, 101, u64::MAX, u64::MAX - 1, u32::MAX as u64];
        let mut p = 1u64;
        while let Some(q) = p.checked_mul(10) {
            values.extend([p - 1, p, p + 1, q - 1]);
            p = q;
        }
        values.extend([p - 1, p, p + 1]);
        let mut next = rng(3);
        values.extend((0..10_000).map(|_| next() >> (next() % 64)));
        for v in values {
            assert_eq!(text(|o| write_u64(o, v)), v.to_string());
            let i = v as i64;
            assert_eq!(text(|o| write_i64(o, i)), i.to_string());
        }
        for i in [i64::MIN, i64::MIN + 1, -1, -9, -10, -100, i64::MAX] {
            assert_eq!(text(|o| write_i64(o, i)), i.to_string());
        }
    }

    #[test]
    fn escaped_strings_parse_back_to_the_input_and_equal_the_reference() {
        let mut cases: Vec<String> = (0u8..0x20).map(|c| format!("a{}b", c as char)).collect();
        cases.extend(
            [
                "",
                "plain",
                "\"",
                "\\",
                "\"quoted\" and \\back\\slashed\\",
                "tab\there\nnew\rline",
                "\u{7f} is not escaped",
                "é, ü, 中文, 😀 and \u{2028}\u{2029}",
                "\u{0}\u{1f}\u{1}",
                "ends with a quote\"",
            ]
            .map(String::from),
        );
        let all_controls: String = (0u8..0x20).map(|c| c as char).collect();
        cases.push(all_controls);
        let mut next = rng(5);
        let alphabet: Vec<char> = "ab\"\\\n\u{1}é😀 ".chars().collect();
        for _ in 0..2_000 {
            let len = (next() % 24) as usize;
            cases.push((0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect());
        }
        for s in cases {
            let json = text(|o| json_bytes(o, &s));
            assert_eq!(serde_json::from_str::<String>(&json).unwrap(), s, "{json}");
            assert_eq!(json, reference_json_str(&s));
            let mut contents = b"x".to_vec();
            escape_into(&mut contents, &s);
            assert_eq!(contents, format!("x{}", &json[1..json.len() - 1]).into_bytes());
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        use serde_json::json;
        for v in [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-1),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
            json!("s\"\n"),
            json!([1, "a", {"k": [null]}]),
        ] {
            assert_eq!(text(|o| value(o, &v, false)), serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn omitted_values_become_a_note_of_their_serialized_size() {
        let v = serde_json::json!({"big": "x".repeat(100)});
        let len = serde_json::to_string(&v).unwrap().len();
        assert_eq!(text(|o| value(o, &v, true)), format!("\"<value omitted: {len} bytes>\""));
        assert_eq!(text(|o| value(o, &serde_json::Value::Null, true)), "null");
    }
}
