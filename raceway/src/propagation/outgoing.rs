//! Headers for a call to a downstream service.

use super::{
    base64url, CLOCK_PREFIX, MAX_CLOCK_COMPONENTS, MAX_CLOCK_JSON_BYTES, RACEWAY_CLOCK, TRACEPARENT, TRACESTATE,
};
use crate::context::process;
use crate::context::with_local;
use crate::error::Error;
use crate::event::clock::Component;
use crate::event::id::SpanId;
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
    let own = p.clock_component();
    let child = SpanId::random();
    let built = with_local(|l| {
        let task = l.task.as_mut()?;
        let own_c = Component::Remote(own.clone());
        let n = task.clock.get(&own_c).saturating_add(1);
        task.clock.merge_components(vec![(own_c.clone(), n)]);

        let trace_id = task.trace.id;
        let span = task.trace.span.as_ref();
        let mut json = String::with_capacity(256);
        json.push_str("{\"trace_id\":\"");
        let _ = write!(json, "{trace_id}\",\"span_id\":\"{child}\",\"parent_span_id\":");
        match span.and_then(|s| s.span_id) {
            Some(s) => {
                let _ = write!(json, "\"{s}\"");
            }
            None => json.push_str("null"),
        }
        json.push_str(",\"service\":");
        json_string(&mut json, &p.service);
        json.push_str(",\"instance\":");
        json_string(&mut json, &p.instance_id);
        // Most important first, so the caps never drop them: the service's component, then the
        // calling task's own, then what it inherited. The caps keep the header readable by peers
        // (at most MAX_CLOCK_COMPONENTS, and MAX_HEADER_BYTES once base64-encoded).
        let _ = write!(json, ",\"clock\":[[");
        json_string(&mut json, &own);
        let _ = write!(json, ",{n}]");
        let own_task = Component::Task(task.clock.task());
        let rest = task.clock.components().filter(|(c, _)| **c != own_c && **c != own_task);
        let ordered = std::iter::once((&own_task, task.clock.own_count())).chain(rest);
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
        Some((trace_id, json, span.and_then(|s| s.tracestate.clone())))
    })
    .flatten();
    let (trace_id, json, tracestate) = built.ok_or(Error::NoActiveTrace)?;

    let mut headers: HashMap<String, String> = extra.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    headers.retain(|k, _| ![TRACEPARENT, TRACESTATE, RACEWAY_CLOCK].iter().any(|h| k.eq_ignore_ascii_case(h)));
    headers.insert(TRACEPARENT.into(), format!("00-{}-{child}-01", trace_id.simple()));
    // Without instrumentation there are no events for the clock to order: only the trace goes on.
    if cfg!(feature = "enabled") {
        headers.insert(RACEWAY_CLOCK.into(), format!("{CLOCK_PREFIX}{}", base64url::encode(json.as_bytes())));
    }
    if let Some(ts) = tracestate {
        headers.insert(TRACESTATE.into(), ts);
    }
    Ok(headers)
}

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut String, s: &str) {
    #[cfg(feature = "enabled")]
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
    // Without `serde_json` the header is not sent (see above).
    #[cfg(not(feature = "enabled"))]
    let _ = (out, s);
}
