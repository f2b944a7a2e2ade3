//! Headers for a call to a downstream service.

use super::{
    base64url, CLOCK_PREFIX, MAX_CLOCK_COMPONENTS, MAX_CLOCK_JSON_BYTES, RACEWAY_CLOCK, TRACEPARENT, TRACESTATE,
};
use crate::context::process::{self, Process};
use crate::context::with_local;
use crate::error::Error;
use crate::event::clock::{Clock, Component};
use crate::event::id::{SpanId, Uuid};
use crate::event::service::ServiceId;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The headers for a call to a downstream service, from the running task's trace: `traceparent`,
/// `raceway-clock`, and `tracestate` when one arrived, plus `extra` (which cannot override
/// those three).
///
/// Each call makes a new child span id for the downstream service; the caller keeps its own span.
/// The caller's clock component `"<service>#<instance>"` is incremented, and the vector sent
/// (the task's full clock) is kept by the caller.
///
/// ```
/// # let _c = raceway::testing::capture(|| {
/// let first = raceway::propagation_headers(std::iter::empty::<(&str, &str)>())?;
/// let second = raceway::propagation_headers([("x-request-id", "42")])?;
/// // Same trace, a different child span per call.
/// assert_eq!(first["traceparent"][..35], second["traceparent"][..35]);
/// assert_ne!(first["traceparent"], second["traceparent"]);
/// # Ok::<(), raceway::Error>(())
/// # }).output.unwrap();
/// ```
///
/// # Errors
/// [`Error::NoActiveTrace`] outside a trace (no request, `#[traced]` function or
/// [`Context::scope`] is running on this task).
pub fn propagation_headers<K, V>(extra: impl IntoIterator<Item = (K, V)>) -> Result<HashMap<String, String>, Error>
where
    K: Into<String>,
    V: Into<String>,
{
    let p = process::current();
    let child = SpanId::random();
    let built = with_local(|l| {
        // The clock leaves this task: its events must reach the sinks before the callee's, which
        // the analyzer orders by it (it reads events in delivery order).
        l.publish();
        let task = l.task.as_mut()?;
        // The callee continues from this position: the coalescer must keep it (state.rs).
        task.handed_out = true;
        // The calling service's component: the task's own service when a layer named it.
        let own = p.clock_component_of(task.trace.service);
        let own_c = Component::Remote(own.clone());
        let n = task.clock.get(&own_c).saturating_add(1);
        task.clock.merge_components(vec![(own_c, n)]);
        let span = task.trace.span.as_ref();
        let parent = span.and_then(|s| s.span_id);
        let json = clock_json(&p, task.trace.service, &task.clock, task.trace.id, Some(child), parent);
        Some((task.trace.id, json, span.and_then(|s| s.tracestate.clone())))
    })
    .flatten();
    let (trace_id, json, tracestate) = built.ok_or(Error::NoActiveTrace)?;

    let mut headers: HashMap<String, String> = extra.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    headers.retain(|k, _| ![TRACEPARENT, TRACESTATE, RACEWAY_CLOCK].iter().any(|h| k.eq_ignore_ascii_case(h)));
    headers.insert(TRACEPARENT.into(), format!("00-{}-{child}-01", trace_id.simple()));
    // Without instrumentation there are no events for the clock to order: only the trace goes on.
    if cfg!(raceway_on) {
        headers.insert(RACEWAY_CLOCK.into(), format!("{CLOCK_PREFIX}{}", base64url::encode(json.as_bytes())));
    }
    if let Some(ts) = tracestate {
        headers.insert(TRACESTATE.into(), ts);
    }
    Ok(headers)
}

/// The `raceway-clock` JSON for a task's `clock`: the one writer of the header, for requests
/// (`span_id` the callee's new span, `parent_span_id` the caller's) and responses (`span_id` the
/// callee's span, `parent_span_id` its caller's), so that peers read both alike.
pub(super) fn clock_json(
    p: &Process,
    service: ServiceId,
    clock: &Clock,
    trace_id: Uuid,
    span_id: Option<SpanId>,
    parent_span_id: Option<SpanId>,
) -> String {
    let (name, instance) = p.identity(service);
    let own = p.clock_component_of(service);
    let own_c = Component::Remote(own.clone());
    let mut json = String::with_capacity(256);
    let _ = write!(json, "{{\"trace_id\":\"{trace_id}\",\"span_id\":");
    json_span(&mut json, span_id);
    json.push_str(",\"parent_span_id\":");
    json_span(&mut json, parent_span_id);
    json.push_str(",\"service\":");
    json_string(&mut json, &name);
    json.push_str(",\"instance\":");
    json_string(&mut json, &instance);
    // Most important first, so the caps never drop them: the service's component, then the
    // task's own, then what it inherited. The caps keep the header readable by peers (at most
    // MAX_CLOCK_COMPONENTS, and MAX_HEADER_BYTES once base64-encoded).
    let _ = write!(json, ",\"clock\":[[");
    json_string(&mut json, &own);
    let _ = write!(json, ",{}]", clock.get(&own_c));
    let own_task = Component::Task(clock.task());
    let rest = clock.components().filter(|(c, _)| **c != own_c && **c != own_task);
    let ordered = std::iter::once((&own_task, clock.own_count())).chain(rest);
    let mut item = String::new();
    for (c, v) in ordered.take(MAX_CLOCK_COMPONENTS - 1) {
        item.clear();
        item.push_str(",[");
        match c {
            Component::Task(t) => json_string(&mut item, &p.thread_id(*t)),
            Component::Remote(s) => json_string(&mut item, s),
        }
        let _ = write!(item, ",{v}]");
        if json.len() + item.len() + 2 > MAX_CLOCK_JSON_BYTES {
            break;
        }
        json.push_str(&item);
    }
    json.push_str("]}");
    json
}

/// Appends a span id as a JSON string, or `null`.
fn json_span(out: &mut String, id: Option<SpanId>) {
    match id {
        Some(s) => {
            let _ = write!(out, "\"{s}\"");
        }
        None => out.push_str("null"),
    }
}

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut String, s: &str) {
    #[cfg(raceway_on)]
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
    // Without `serde_json` the header is not sent (see above).
    #[cfg(not(raceway_on))]
    let _ = (out, s);
}
