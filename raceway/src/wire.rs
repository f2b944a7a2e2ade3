//! The server's JSON format (contract §2), written by hand from [`Event`]s.
//!
//! Writing directly into the request buffer keeps formatting off the recording threads and avoids
//! building an intermediate tree per event. Everything per-process (pid, service, environment,
//! instance, tags, the thread-id prefix) is rendered once per `init` into [`Process`].
//!
//! The exporter thread serializes every event the program records, so the common path avoids
//! `core::fmt` (its dynamic dispatch costs more than the bytes it writes): UUIDs and span ids are
//! written with a hex table, integers with a two-digits-at-a-time decimal writer, timestamps byte
//! by byte (see [`crate::time`]), strings copied in runs between the rare bytes JSON escapes, and
//! values go straight from `serde_json` into the body. The unit tests below hold every fast writer
//! equal to the `core::fmt` rendering it replaces.

use crate::clock::Component;
use crate::event::{Event, EventKind};
use crate::id::{SpanId, TaskId, Uuid};
use std::ops::Range;
use std::sync::{Arc, RwLock};

/// Per-process metadata, rendered once.
#[derive(Debug)]
pub(crate) struct Process {
    pub service: String,
    pub pid: u32,
    /// The raw instance id (for the `"<service>#<instance>"` clock component of propagation).
    pub instance_id: String,
    /// `"process_id":..,"service_name":..,"environment":..,"tags":{..}`, pre-rendered.
    fixed_metadata: String,
    /// `,"instance_id":".."` pre-rendered.
    instance: String,
    /// `<service>-<pid>-task-`, JSON-escaped (no quotes): every thread id is this plus a number.
    thread_prefix: String,
}

impl Process {
    pub(crate) fn new(
        service: &str,
        instance: &str,
        environment: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Self {
        let pid = std::process::id();
        let mut tags = tags.clone();
        tags.entry("sdk_language".into()).or_insert_with(|| "rust".into());
        tags.entry("sdk_version".into()).or_insert_with(|| env!("CARGO_PKG_VERSION").into());
        let mut fixed = format!("\"process_id\":{pid},\"service_name\":");
        json_str(&mut fixed, service);
        fixed.push_str(",\"environment\":");
        json_str(&mut fixed, environment);
        fixed.push_str(",\"tags\":{");
        for (i, (k, v)) in tags.iter().enumerate() {
            if i > 0 {
                fixed.push(',');
            }
            json_str(&mut fixed, k);
            fixed.push(':');
            json_str(&mut fixed, v);
        }
        fixed.push('}');
        let mut inst = String::from(",\"instance_id\":");
        json_str(&mut inst, instance);
        let mut prefix = Vec::new();
        escape_into(&mut prefix, &format!("{service}-{pid}-task-"));
        Process {
            service: service.to_owned(),
            pid,
            instance_id: instance.to_owned(),
            fixed_metadata: fixed,
            instance: inst,
            thread_prefix: into_string(prefix),
        }
    }
}

static PROCESS: RwLock<Option<Arc<Process>>> = RwLock::new(None);

pub(crate) fn set_process(p: Arc<Process>) {
    *PROCESS.write().unwrap_or_else(|e| e.into_inner()) = Some(p);
}

/// The current process metadata (defaults before `init`).
pub(crate) fn process() -> Arc<Process> {
    if let Some(p) = PROCESS.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return p.clone();
    }
    let c = crate::config::Config::default();
    let p = Arc::new(Process::new(&c.service_name, &c.instance_id, &c.environment, &c.tags));
    set_process(p.clone());
    p
}

/// `<service>-<pid>-task-<n>` (raw text, not JSON).
pub(crate) fn write_thread_id(out: &mut String, task: TaskId) {
    let p = process();
    out.push_str(&p.service);
    out.push('-');
    out.push_str(&p.pid.to_string());
    out.push_str("-task-");
    out.push_str(&task.0.to_string());
}

/// `"<service>-<pid>-task-<n>"` as a JSON string.
#[inline]
fn thread_id(out: &mut Vec<u8>, p: &Process, task: TaskId) {
    out.push(b'"');
    out.extend_from_slice(p.thread_prefix.as_bytes());
    write_u64(out, task.0);
    out.push(b'"');
}

/// Bytes only ever pushed as whole UTF-8 text, so this never fails; a lossy fallback rather
/// than a panic all the same.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A JSON string literal (for text built once, outside the exporter's per-event path).
pub(crate) fn json_str(out: &mut String, s: &str) {
    let mut buf = std::mem::take(out).into_bytes();
    json_bytes(&mut buf, s);
    *out = into_string(buf);
}

/// A JSON string literal.
#[inline]
fn json_bytes(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// Which bytes RFC 8259 requires escaped inside a string: quote, backslash, controls. Every
/// other byte (all of non-ASCII UTF-8 included) is copied as is.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The contents of a JSON string for `s` (no quotes): runs that need no escaping are copied
/// whole. Escapes are ASCII, so cutting `s` at them keeps every run valid UTF-8.
fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 0xF) as usize]]),
        }
    }
    out.extend_from_slice(&bytes[run..]);
}

/// `"00", "01", .. "99"`: decimal digits are written two at a time.
const DIGITS2: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// `n` in decimal, as `{n}` would write it.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while n >= 100 {
        let r = (n % 100) as usize;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[2 * r..2 * r + 2]);
    }
    if n >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[2 * n as usize..2 * n as usize + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// `n` in decimal, as `{n}` would write it.
pub(crate) fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

/// The 8 lowercase hex digits of `x`, most significant first, computed in one register: each
/// nibble is spread into its own byte, then turned into `'0'..'9'` or `'a'..'f'` without a branch
/// or a table (the exporter writes three UUIDs per event).
#[inline]
fn hex8(x: u32) -> [u8; 8] {
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
fn uuid_text(id: Uuid) -> [u8; 36] {
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
fn uuid(out: &mut Vec<u8>, id: Uuid) {
    out.push(b'"');
    out.extend_from_slice(&uuid_text(id));
    out.push(b'"');
}

/// The 16 lowercase hex digits of a span id (`SpanId`'s `Display`).
#[inline]
fn span_text(id: SpanId) -> [u8; 16] {
    let mut out = [0u8; 16];
    let v = id.as_u64();
    out[..8].copy_from_slice(&hex8((v >> 32) as u32));
    out[8..].copy_from_slice(&hex8(v as u32));
    out
}

#[inline]
fn push(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

/// Counts what `serde_json` would write, to report the size of an omitted value without
/// rendering it anywhere.
#[cfg(feature = "enabled")]
struct Count(usize);

#[cfg(feature = "enabled")]
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
#[cfg(feature = "enabled")]
fn value(out: &mut Vec<u8>, v: &crate::value::Value, omit: bool) {
    use crate::value::Value;
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

#[cfg(not(feature = "enabled"))]
fn value(out: &mut Vec<u8>, _: &crate::value::Value, _: bool) {
    push(out, "null");
}

fn headers(out: &mut Vec<u8>, h: &[(String, String)]) {
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
fn loc(out: &mut Vec<u8>, l: &crate::location::Location) {
    out.push(b'"');
    escape_into(out, l.file);
    out.push(b':');
    write_u64(out, l.line as u64);
    out.push(b'"');
}

/// Writes `event` as the server's JSON. With `omit_values`, captured values are replaced by size
/// notes so an event with an enormous value still fits in a request.
pub(crate) fn write_event(out: &mut Vec<u8>, e: &Event, p: &Process, omit_values: bool) {
    push(out, "{\"id\":");
    uuid(out, e.id);
    push(out, ",\"trace_id\":");
    uuid(out, e.trace_id);
    push(out, ",\"parent_id\":");
    match e.parent_id {
        Some(id) => uuid(out, id),
        None => push(out, "null"),
    }
    push(out, ",\"timestamp\":\"");
    crate::time::write_rfc3339(out, e.timestamp_ns);
    push(out, "\",\"kind\":");
    write_kind(out, e, p, omit_values);
    push(out, ",\"metadata\":{\"thread_id\":");
    thread_id(out, p, e.task);
    out.push(b',');
    push(out, &p.fixed_metadata);
    push(out, ",\"duration_ns\":");
    match e.duration_ns {
        Some(d) => write_u64(out, d),
        None => push(out, "null"),
    }
    push(out, &p.instance);
    {
        if let Some(s) = e.span_id {
            push(out, ",\"distributed_span_id\":\"");
            out.extend_from_slice(&span_text(s));
            out.push(b'"');
        }
        if let Some(s) = e.upstream_span_id {
            push(out, ",\"upstream_span_id\":\"");
            out.extend_from_slice(&span_text(s));
            out.push(b'"');
        }
    }
    push(out, "},\"causality_vector\":[");
    for (i, (c, n)) in e.clock.components().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        match c {
            Component::Task(t) => thread_id(out, p, *t),
            Component::Remote(s) => json_bytes(out, s),
        }
        out.push(b',');
        write_u64(out, n);
        out.push(b']');
    }
    push(out, "],\"lock_set\":[]}");
}

fn write_kind(out: &mut Vec<u8>, e: &Event, p: &Process, omit: bool) {
    match &e.kind {
        EventKind::FunctionCall { function_name, module, args, location } => {
            push(out, "{\"FunctionCall\":{\"function_name\":");
            json_bytes(out, function_name.as_str());
            push(out, ",\"module\":");
            json_bytes(out, module);
            push(out, ",\"args\":");
            value(out, args, omit);
            push(out, ",\"file\":");
            json_bytes(out, location.file);
            push(out, ",\"line\":");
            write_u64(out, location.line as u64);
            push(out, "}}");
        }
        EventKind::FunctionExit { function_name, module, location, return_value, panicked } => {
            push(out, "{\"Custom\":{\"name\":\"function_exit\",\"data\":{\"function\":");
            json_bytes(out, function_name.as_str());
            push(out, ",\"module\":");
            json_bytes(out, module);
            push(out, ",\"location\":");
            loc(out, location);
            push(out, ",\"return_value\":");
            value(out, return_value, omit);
            push(out, if *panicked { ",\"panicked\":true}}}" } else { ",\"panicked\":false}}}" });
        }
        EventKind::AsyncSpawn { child, location: _ } => {
            push(out, "{\"AsyncSpawn\":{\"task_id\":");
            uuid(out, child.uuid());
            push(out, ",\"spawned_by\":");
            thread_id(out, p, e.task);
            push(out, "}}");
        }
        EventKind::AsyncAwait { child, location } => {
            push(out, "{\"AsyncAwait\":{\"future_id\":");
            uuid(out, child.uuid());
            push(out, ",\"awaited_at\":");
            loc(out, location);
            push(out, "}}");
        }
        EventKind::StateChange { variable, old_value, new_value, location, access_type } => {
            push(out, "{\"StateChange\":{\"variable\":");
            json_bytes(out, variable.as_str());
            push(out, ",\"old_value\":");
            value(out, old_value, omit);
            push(out, ",\"new_value\":");
            value(out, new_value, omit);
            push(out, ",\"location\":");
            loc(out, location);
            push(out, ",\"access_type\":\"");
            push(out, access_type.as_str());
            push(out, "\"}}");
        }
        EventKind::LockAcquire { lock_id, lock_type, location }
        | EventKind::LockRelease { lock_id, lock_type, location } => {
            push(
                out,
                if matches!(e.kind, EventKind::LockAcquire { .. }) {
                    "{\"LockAcquire\":{\"lock_id\":"
                } else {
                    "{\"LockRelease\":{\"lock_id\":"
                },
            );
            json_bytes(out, lock_id.as_str());
            push(out, ",\"lock_type\":\"");
            push(out, lock_type.as_str());
            push(out, "\",\"location\":");
            loc(out, location);
            push(out, "}}");
        }
        EventKind::MemoryFence { ordering, location } => {
            push(out, "{\"MemoryFence\":{\"ordering\":\"");
            push(out, ordering.as_str());
            push(out, "\",\"location\":");
            loc(out, location);
            push(out, "}}");
        }
        EventKind::HttpRequest { method, url, headers: h, body } => {
            push(out, "{\"HttpRequest\":{\"method\":");
            json_bytes(out, method.as_str());
            push(out, ",\"url\":");
            json_bytes(out, url);
            push(out, ",\"headers\":");
            headers(out, h);
            push(out, ",\"body\":");
            value(out, body, omit);
            push(out, "}}");
        }
        EventKind::HttpResponse { status, headers: h, body, duration_ms } => {
            push(out, "{\"HttpResponse\":{\"status\":");
            write_u64(out, *status as u64);
            push(out, ",\"headers\":");
            headers(out, h);
            push(out, ",\"body\":");
            value(out, body, omit);
            push(out, ",\"duration_ms\":");
            write_u64(out, *duration_ms);
            push(out, "}}");
        }
        EventKind::DatabaseQuery { query, database, duration_ms } => {
            push(out, "{\"DatabaseQuery\":{\"query\":");
            json_bytes(out, query);
            push(out, ",\"database\":");
            json_bytes(out, database.as_str());
            push(out, ",\"duration_ms\":");
            write_u64(out, *duration_ms);
            push(out, "}}");
        }
        EventKind::DatabaseResult { rows_affected } => {
            push(out, "{\"DatabaseResult\":{\"rows_affected\":");
            write_u64(out, *rows_affected);
            push(out, "}}");
        }
        EventKind::Error { error_type, message, stack_trace } => {
            push(out, "{\"Error\":{\"error_type\":");
            json_bytes(out, error_type.as_str());
            push(out, ",\"message\":");
            json_bytes(out, message);
            push(out, ",\"stack_trace\":[");
            for (i, f) in stack_trace.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_bytes(out, f);
            }
            push(out, "]}}");
        }
        EventKind::Custom { name, data } => {
            push(out, "{\"Custom\":{\"name\":");
            json_bytes(out, name.as_str());
            push(out, ",\"data\":");
            value(out, data, omit);
            push(out, "}}");
        }
    }
}

/// Renders events as the server's JSON objects (one string each), for tests and debugging.
///
/// ```
/// let captured = raceway::testing::capture(|| raceway::track_write("x", &1, &2));
/// let json = raceway::wire_json(&captured.events);
/// assert!(json[0].contains("\"StateChange\""));
/// ```
pub fn wire_json(events: &[Event]) -> Vec<String> {
    let p = process();
    events
        .iter()
        .map(|e| {
            let mut s = Vec::with_capacity(512);
            write_event(&mut s, e, &p, false);
            into_string(s)
        })
        .collect()
}

/// How a request body begins and ends (contract §2: `POST /events` takes `{"events":[..]}`).
const BODY_HEAD: &[u8] = b"{\"events\":[";
const BODY_TAIL: &[u8] = b"]}";

/// One request body under construction: every event of a batch rendered straight into a single
/// buffer, with each event's byte range kept so that a refused body can be cut into parts
/// without serializing anything again.
pub(crate) struct Body {
    buf: Vec<u8>,
    spans: Vec<Range<usize>>,
}

// Without the exporter only the benchmark hook builds bodies (whole, never split).
#[cfg_attr(not(feature = "exporter"), allow(dead_code))]
impl Body {
    /// An empty body reusing `buf`'s allocation.
    pub(crate) fn with_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.extend_from_slice(BODY_HEAD);
        Body { buf, spans: Vec::new() }
    }

    /// How many events it holds.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Appends `e`; an event longer than `room` bytes is rendered again with its values omitted.
    /// Returns the event's length, or `None` (and adds nothing) when it is too long even then.
    pub(crate) fn push(&mut self, e: &Event, p: &Process, room: usize) -> Option<usize> {
        let mark = self.buf.len();
        if !self.spans.is_empty() {
            self.buf.push(b',');
        }
        let start = self.buf.len();
        write_event(&mut self.buf, e, p, false);
        if self.buf.len() - start > room {
            self.buf.truncate(start);
            write_event(&mut self.buf, e, p, true);
        }
        if self.buf.len() - start > room {
            self.buf.truncate(mark);
            return None;
        }
        self.spans.push(start..self.buf.len());
        Some(self.buf.len() - start)
    }

    /// Moves the last event out into a new body written in `buf` (the event that did not fit
    /// under the caps starts the next request).
    pub(crate) fn split_last(&mut self, buf: Vec<u8>) -> Body {
        let mut next = Body::with_buffer(buf);
        if let Some(last) = self.spans.pop() {
            next.buf.extend_from_slice(&self.buf[last.clone()]);
            next.spans.push(BODY_HEAD.len()..next.buf.len());
            // Drop the event and the comma before it, if any.
            self.buf.truncate(if self.spans.is_empty() { last.start } else { last.start - 1 });
        }
        next
    }

    /// The finished body and each event's byte range in it.
    pub(crate) fn finish(mut self) -> (Vec<u8>, Vec<Range<usize>>) {
        self.buf.extend_from_slice(BODY_TAIL);
        (self.buf, self.spans)
    }
}

/// A body holding the events at `spans` of the finished body `src` (to resend part of a batch).
#[cfg_attr(not(feature = "exporter"), allow(dead_code))]
pub(crate) fn body_of(src: &[u8], spans: &[Range<usize>]) -> Vec<u8> {
    let len = spans.iter().map(|s| s.len() + 1).sum::<usize>() + BODY_HEAD.len() + BODY_TAIL.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(BODY_HEAD);
    for (i, s) in spans.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&src[s.clone()]);
    }
    out.extend_from_slice(BODY_TAIL);
    out
}

/// Renders `events` into one request body in `out`, as the HTTP sink does with the default byte
/// cap (benchmark hook). Returns how many events the body holds.
pub(crate) fn render_body(events: &[Event], out: &mut Vec<u8>) -> usize {
    let p = process();
    let room = crate::config::Config::default().max_batch_bytes.saturating_sub(32);
    let mut body = Body::with_buffer(std::mem::take(out));
    for e in events {
        let _ = body.push(e, &p, room);
    }
    let (buf, spans) = body.finish();
    *out = buf;
    spans.len()
}

#[cfg(all(test, feature = "enabled"))]
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

    /// The escaping this module used before it copied runs (char by char with `write!`), kept as
    /// the reference.
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
            let mut via_string = String::from("x");
            json_str(&mut via_string, &s);
            assert_eq!(via_string, format!("x{json}"));
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

    #[test]
    fn thread_ids_use_the_escaped_process_prefix() {
        let p = Process::new("svc \"q\"", "i", "dev", &Default::default());
        let json = text(|o| thread_id(o, &p, TaskId(42)));
        let pid = std::process::id();
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), format!("svc \"q\"-{pid}-task-42"));
    }

    fn events(n: u64) -> Vec<Event> {
        crate::testing::capture(|| {
            for i in 0..n {
                crate::track_write("counter", &i, &(i + 1));
            }
        })
        .events
    }

    fn parsed(body: &[u8]) -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v["events"].as_array().unwrap().clone()
    }

    #[test]
    fn a_body_holds_each_event_as_wire_json_renders_it() {
        let evs = events(5);
        let p = process();
        let mut body = Body::with_buffer(Vec::new());
        for e in &evs {
            body.push(e, &p, usize::MAX).unwrap();
        }
        let (buf, spans) = body.finish();
        let singles = wire_json(&evs);
        assert_eq!(spans.len(), 5);
        for (s, single) in spans.iter().zip(&singles) {
            assert_eq!(&buf[s.clone()], single.as_bytes());
        }
        assert_eq!(parsed(&buf).len(), 5);
        // Halves rebuilt from the ranges are whole bodies of their events.
        let (a, b) = spans.split_at(2);
        let first: Vec<serde_json::Value> = singles[..2].iter().map(|s| serde_json::from_str(s).unwrap()).collect();
        let second: Vec<serde_json::Value> = singles[2..].iter().map(|s| serde_json::from_str(s).unwrap()).collect();
        assert_eq!(parsed(&body_of(&buf, a)), first);
        assert_eq!(parsed(&body_of(&buf, b)), second);
    }

    #[test]
    fn split_last_moves_the_last_event_into_a_new_body() {
        let evs = events(3);
        let p = process();
        let mut body = Body::with_buffer(Vec::new());
        for e in &evs {
            body.push(e, &p, usize::MAX).unwrap();
        }
        let next = body.split_last(Vec::new());
        let singles = wire_json(&evs);
        let (a, _) = body.finish();
        let (b, b_spans) = next.finish();
        assert_eq!(parsed(&a).len(), 2);
        assert_eq!(parsed(&b), vec![serde_json::from_str::<serde_json::Value>(&singles[2]).unwrap()]);
        assert_eq!(&b[b_spans[0].clone()], singles[2].as_bytes());
        // A single event split off leaves an empty, still valid body.
        let mut one = Body::with_buffer(Vec::new());
        one.push(&evs[0], &p, usize::MAX).unwrap();
        let moved = one.split_last(Vec::new());
        assert!(one.len() == 0 && moved.len() == 1);
        assert_eq!(parsed(&one.finish().0).len(), 0);
    }

    #[test]
    fn oversized_events_are_rendered_without_values_or_refused() {
        let evs = crate::testing::capture(|| crate::track_write("big", &"x".repeat(5000), &1)).events;
        let p = process();
        let mut body = Body::with_buffer(Vec::new());
        let len = body.push(&evs[0], &p, 2000).expect("fits once the values are omitted");
        assert!(len <= 2000);
        let (buf, _) = body.finish();
        let ev = &parsed(&buf)[0];
        let old = ev["kind"]["StateChange"]["old_value"].as_str().unwrap();
        assert!(old.starts_with("<value omitted: "), "{old}");
        let mut body = Body::with_buffer(Vec::new());
        assert_eq!(body.push(&evs[0], &p, 100), None);
        assert_eq!(body.len(), 0);
        assert_eq!(body.finish().0, b"{\"events\":[]}");
    }
}
