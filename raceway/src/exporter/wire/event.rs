//! One event as the server's JSON (contract §2): the envelope, the metadata and the kind.

use super::json::{headers, json_bytes, loc, push, span_text, uuid, value, write_u64};
use super::metadata::Metadata;
use crate::event::clock::Component;
use crate::event::{Event, EventKind};

/// Writes `event` as the server's JSON. With `omit_values`, captured values are replaced by size
/// notes so an event with an enormous value still fits in a request. A `count` above 1 (a
/// coalesced run of accesses, `exporter/coalesce.rs`) goes in `metadata.tags` as
/// `"raceway.count"`: the server keeps tags as they are and denies no tag name.
pub(crate) fn write_event(out: &mut Vec<u8>, e: &Event, p: &Metadata, omit_values: bool, count: u64) {
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
    super::rfc3339::write_rfc3339(out, e.timestamp_ns);
    push(out, "\",\"kind\":");
    write_kind(out, e, p, omit_values);
    // The task's service's metadata (the process's, unless a layer named one): one index.
    let service = p.of(e.task);
    push(out, ",\"metadata\":{\"thread_id\":");
    service.thread_id(out, e.task);
    out.push(b',');
    if count > 1 {
        // `fixed` ends with the tags object: the count goes in before its closing brace.
        let (head, _) = service.fixed.split_at(service.fixed.len() - 1);
        out.extend_from_slice(head);
        if !head.ends_with(b"{") {
            out.push(b',');
        }
        push(out, "\"raceway.count\":\"");
        write_u64(out, count);
        push(out, "\"}");
    } else {
        out.extend_from_slice(&service.fixed);
    }
    push(out, ",\"duration_ns\":");
    match e.duration_ns {
        Some(d) => write_u64(out, d),
        None => push(out, "null"),
    }
    out.extend_from_slice(&service.instance);
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
            Component::Task(t) => p.thread_id(out, *t),
            Component::Remote(s) => json_bytes(out, s),
        }
        out.push(b',');
        write_u64(out, n);
        out.push(b']');
    }
    push(out, "],\"lock_set\":[]}");
}

fn write_kind(out: &mut Vec<u8>, e: &Event, p: &Metadata, omit: bool) {
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
            // A second `FunctionCall` of the same function, carrying the duration: the server keys
            // durations by kind (`FunctionCall(<name>)`, contract §5) and has no `FunctionReturn`
            // (it would reject the batch). `args.exit` tells it apart from the entry.
            push(out, "{\"FunctionCall\":{\"function_name\":");
            json_bytes(out, function_name.as_str());
            push(out, ",\"module\":");
            json_bytes(out, module);
            push(out, ",\"args\":{\"exit\":true,\"return_value\":");
            value(out, return_value, omit);
            push(out, if *panicked { ",\"panicked\":true}" } else { ",\"panicked\":false}" });
            push(out, ",\"file\":");
            json_bytes(out, location.file);
            push(out, ",\"line\":");
            write_u64(out, location.line as u64);
            push(out, "}}");
        }
        EventKind::AsyncSpawn { child, location: _, name: _ } => {
            push(out, "{\"AsyncSpawn\":{\"task_id\":");
            uuid(out, child.uuid());
            push(out, ",\"spawned_by\":");
            p.thread_id(out, e.task);
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
        EventKind::LockHeldAcrossAwait { lock_id, lock_type, acquired_at, function_name, location } => {
            // Not a server kind (the server has no such finding): a `Custom` event it stores as is.
            push(out, "{\"Custom\":{\"name\":\"lock_held_across_await\",\"data\":{\"lock_id\":");
            json_bytes(out, lock_id.as_str());
            push(out, ",\"lock_type\":\"");
            push(out, lock_type.as_str());
            push(out, "\",\"acquired_at\":");
            loc(out, acquired_at);
            push(out, ",\"function\":");
            json_bytes(out, function_name.as_str());
            push(out, ",\"location\":");
            loc(out, location);
            push(out, "}}}");
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
