//! The server's JSON format (contract §2), written by hand from [`Event`]s.
//!
//! Writing directly into the request buffer keeps formatting off the recording threads and avoids
//! building an intermediate tree per event. Everything per-process (pid, service, environment,
//! instance, tags) is rendered once per `init` into [`Process`].

use crate::clock::Component;
use crate::event::{Event, EventKind};
use crate::id::{TaskId, Uuid};
use std::fmt::Write as _;
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
        Process {
            service: service.to_owned(),
            pid,
            instance_id: instance.to_owned(),
            fixed_metadata: fixed,
            instance: inst,
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

/// `<service>-<pid>-task-<n>`.
pub(crate) fn write_thread_id(out: &mut String, task: TaskId) {
    let p = process();
    write_thread_id_with(out, &p, task);
}

fn write_thread_id_with(out: &mut String, p: &Process, task: TaskId) {
    let _ = write!(out, "{}-{}-task-{}", p.service, p.pid, task.0);
}

/// A JSON string literal.
pub(crate) fn json_str(out: &mut String, s: &str) {
    // RFC 8259: escape quotes, backslashes and control characters; all else is valid UTF-8 as is.
    out.push('"');
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
}

fn uuid(out: &mut String, id: Uuid) {
    let _ = write!(out, "\"{id}\"");
}

/// Writes one value; `omit` replaces it by a size note (used for oversized events).
#[cfg(feature = "enabled")]
fn value(out: &mut String, v: &crate::value::Value, omit: bool) {
    if omit && !v.is_null() {
        let len = serde_json::to_string(v).map(|s| s.len()).unwrap_or(0);
        let _ = write!(out, "\"<value omitted: {len} bytes>\"");
        return;
    }
    match serde_json::to_string(v) {
        Ok(s) => out.push_str(&s),
        Err(_) => out.push_str("\"<unserializable>\""),
    }
}

#[cfg(not(feature = "enabled"))]
fn value(out: &mut String, _: &crate::value::Value, _: bool) {
    out.push_str("null");
}

fn headers(out: &mut String, h: &[(String, String)]) {
    out.push('{');
    for (i, (k, v)) in h.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, k);
        out.push(':');
        json_str(out, v);
    }
    out.push('}');
}

fn loc(out: &mut String, l: &crate::location::Location) {
    json_str(out, &l.to_string());
}

/// Writes `event` as the server's JSON. With `omit_values`, captured values are replaced by size
/// notes so an event with an enormous value still fits in a request.
pub(crate) fn write_event(out: &mut String, e: &Event, p: &Process, omit_values: bool) {
    out.push_str("{\"id\":");
    uuid(out, e.id);
    out.push_str(",\"trace_id\":");
    uuid(out, e.trace_id);
    out.push_str(",\"parent_id\":");
    match e.parent_id {
        Some(id) => uuid(out, id),
        None => out.push_str("null"),
    }
    out.push_str(",\"timestamp\":\"");
    crate::time::write_rfc3339(out, e.timestamp_ns);
    out.push_str("\",\"kind\":");
    write_kind(out, e, p, omit_values);
    out.push_str(",\"metadata\":{\"thread_id\":\"");
    write_thread_id_with(out, p, e.task);
    out.push_str("\",");
    out.push_str(&p.fixed_metadata);
    out.push_str(",\"duration_ns\":");
    match e.duration_ns {
        Some(d) => {
            let _ = write!(out, "{d}");
        }
        None => out.push_str("null"),
    }
    out.push_str(&p.instance);
    if let Some(span) = &e.span {
        if let Some(s) = span.span_id {
            let _ = write!(out, ",\"distributed_span_id\":\"{s}\"");
        }
        if let Some(s) = span.upstream_span_id {
            let _ = write!(out, ",\"upstream_span_id\":\"{s}\"");
        }
    }
    out.push_str("},\"causality_vector\":[");
    for (i, (c, n)) in e.clock.components().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        match c {
            Component::Task(t) => {
                out.push('"');
                write_thread_id_with(out, p, *t);
                out.push('"');
            }
            Component::Remote(s) => json_str(out, s),
        }
        let _ = write!(out, ",{n}]");
    }
    out.push_str("],\"lock_set\":[]}");
}

fn write_kind(out: &mut String, e: &Event, p: &Process, omit: bool) {
    match &e.kind {
        EventKind::FunctionCall { function_name, module, args, location } => {
            out.push_str("{\"FunctionCall\":{\"function_name\":");
            json_str(out, function_name.as_str());
            out.push_str(",\"module\":");
            json_str(out, module);
            out.push_str(",\"args\":");
            value(out, args, omit);
            out.push_str(",\"file\":");
            json_str(out, location.file);
            let _ = write!(out, ",\"line\":{}}}}}", location.line);
        }
        EventKind::FunctionExit { function_name, module, location, return_value, panicked } => {
            out.push_str("{\"Custom\":{\"name\":\"function_exit\",\"data\":{\"function\":");
            json_str(out, function_name.as_str());
            out.push_str(",\"module\":");
            json_str(out, module);
            out.push_str(",\"location\":");
            loc(out, location);
            out.push_str(",\"return_value\":");
            value(out, return_value, omit);
            let _ = write!(out, ",\"panicked\":{panicked}}}}}}}");
        }
        EventKind::AsyncSpawn { child, location: _ } => {
            out.push_str("{\"AsyncSpawn\":{\"task_id\":");
            uuid(out, child.uuid());
            out.push_str(",\"spawned_by\":\"");
            write_thread_id_with(out, p, e.task);
            out.push_str("\"}}");
        }
        EventKind::AsyncAwait { child, location } => {
            out.push_str("{\"AsyncAwait\":{\"future_id\":");
            uuid(out, child.uuid());
            out.push_str(",\"awaited_at\":");
            loc(out, location);
            out.push_str("}}");
        }
        EventKind::StateChange { variable, old_value, new_value, location, access_type } => {
            out.push_str("{\"StateChange\":{\"variable\":");
            json_str(out, variable.as_str());
            out.push_str(",\"old_value\":");
            value(out, old_value, omit);
            out.push_str(",\"new_value\":");
            value(out, new_value, omit);
            out.push_str(",\"location\":");
            loc(out, location);
            let _ = write!(out, ",\"access_type\":\"{}\"}}}}", access_type.as_str());
        }
        EventKind::LockAcquire { lock_id, lock_type, location }
        | EventKind::LockRelease { lock_id, lock_type, location } => {
            let tag = if matches!(e.kind, EventKind::LockAcquire { .. }) { "LockAcquire" } else { "LockRelease" };
            let _ = write!(out, "{{\"{tag}\":{{\"lock_id\":");
            json_str(out, lock_id.as_str());
            let _ = write!(out, ",\"lock_type\":\"{}\",\"location\":", lock_type.as_str());
            loc(out, location);
            out.push_str("}}");
        }
        EventKind::MemoryFence { ordering, location } => {
            let _ = write!(out, "{{\"MemoryFence\":{{\"ordering\":\"{}\",\"location\":", ordering.as_str());
            loc(out, location);
            out.push_str("}}");
        }
        EventKind::HttpRequest { method, url, headers: h, body } => {
            out.push_str("{\"HttpRequest\":{\"method\":");
            json_str(out, method.as_str());
            out.push_str(",\"url\":");
            json_str(out, url);
            out.push_str(",\"headers\":");
            headers(out, h);
            out.push_str(",\"body\":");
            value(out, body, omit);
            out.push_str("}}");
        }
        EventKind::HttpResponse { status, headers: h, body, duration_ms } => {
            let _ = write!(out, "{{\"HttpResponse\":{{\"status\":{status},\"headers\":");
            headers(out, h);
            out.push_str(",\"body\":");
            value(out, body, omit);
            let _ = write!(out, ",\"duration_ms\":{duration_ms}}}}}");
        }
        EventKind::DatabaseQuery { query, database, duration_ms } => {
            out.push_str("{\"DatabaseQuery\":{\"query\":");
            json_str(out, query);
            out.push_str(",\"database\":");
            json_str(out, database.as_str());
            let _ = write!(out, ",\"duration_ms\":{duration_ms}}}}}");
        }
        EventKind::DatabaseResult { rows_affected } => {
            let _ = write!(out, "{{\"DatabaseResult\":{{\"rows_affected\":{rows_affected}}}}}");
        }
        EventKind::Error { error_type, message, stack_trace } => {
            out.push_str("{\"Error\":{\"error_type\":");
            json_str(out, error_type.as_str());
            out.push_str(",\"message\":");
            json_str(out, message);
            out.push_str(",\"stack_trace\":[");
            for (i, f) in stack_trace.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(out, f);
            }
            out.push_str("]}}");
        }
        EventKind::Custom { name, data } => {
            out.push_str("{\"Custom\":{\"name\":");
            json_str(out, name.as_str());
            out.push_str(",\"data\":");
            value(out, data, omit);
            out.push_str("}}");
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
            let mut s = String::new();
            write_event(&mut s, e, &p, false);
            s
        })
        .collect()
}

/// Renders `events` into one request body, as the HTTP sink does (benchmark hook).
pub(crate) fn render_body(events: &[Event], out: &mut Vec<u8>) -> usize {
    let p = process();
    let rendered: Vec<String> = events
        .iter()
        .map(|e| {
            let mut s = String::with_capacity(512);
            write_event(&mut s, e, &p, false);
            s
        })
        .collect();
    let mut body = String::with_capacity(rendered.iter().map(|e| e.len() + 1).sum::<usize>() + 16);
    body.push_str("{\"events\":[");
    for (i, e) in rendered.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(e);
    }
    body.push_str("]}");
    out.clear();
    out.extend_from_slice(body.clone().as_bytes());
    rendered.len()
}
