//! The response's `raceway-clock`: the callee's clock flows back to the caller, so that what the
//! caller does after the response is ordered after everything the callee did for it.
//!
//! The header has the request's `v1;<base64url JSON>` form, written by the same writer
//! (`outgoing::clock_json`), so a peer SDK reads it with the parser it already has. In it,
//! `span_id` is the callee's span and `parent_span_id` the caller's; `clock` is the callee task's
//! vector as it stands when the response is ready. The callee's `"<service>#<instance>"`
//! component is sent as it is: answering is not a new step of that component.
//!
//! A caller that does not merge it loses nothing it had before; a callee that does not send it
//! changes nothing for the caller (nothing is merged, nothing is recorded).

use super::incoming::keep_once;
use super::outgoing::clock_json;
use super::raceway_clock::parse_raceway_clock;
use super::{base64url, CLOCK_PREFIX, RACEWAY_CLOCK};
use crate::context::process;
use crate::context::with_local;
use crate::error::Error;
use crate::event::id::SpanId;
use crate::event::value::capture;
use crate::event::EventKind;
use crate::record::record_merged;
use std::collections::{BTreeMap, HashMap};

/// The headers a service adds to its response so that a Raceway caller orders its later work
/// after this request's: `raceway-clock` with the running task's vector clock (the tower layer
/// adds it for you; use this for other servers and transports). The caller merges it with
/// [`merge_response_headers`] or
/// [`RequestBuilderExt::raceway_send`](crate::http::RequestBuilderExt::raceway_send).
///
/// Call it when the response is ready, after the request's last recorded work: what the task
/// records afterwards is not covered. Without instrumentation (`enabled` off) the map is empty.
///
/// ```
/// # let _c = raceway::testing::capture(|| {
/// raceway::track_write("stock", &10, &9);
/// let headers = raceway::propagation::response_headers()?;
/// assert!(headers["raceway-clock"].starts_with("v1;"));
/// # Ok::<(), raceway::Error>(())
/// # }).output.unwrap();
/// ```
///
/// # Errors
/// [`Error::NoActiveTrace`] outside a trace, as for [`propagation_headers`](super::propagation_headers).
pub fn response_headers() -> Result<HashMap<String, String>, Error> {
    let value = response_clock().ok_or(Error::NoActiveTrace)?;
    let mut headers = HashMap::new();
    // Without instrumentation there are no events for the clock to order (and no JSON writer).
    if cfg!(raceway_on) {
        headers.insert(RACEWAY_CLOCK.to_owned(), value);
    }
    Ok(headers)
}

/// The `raceway-clock` value of the running task, `None` outside a trace.
fn response_clock() -> Option<String> {
    let p = process::current();
    let json = with_local(|l| {
        // The clock leaves this task: its events must reach the sinks before any the caller
        // records after merging it (the analyzer reads events in delivery order).
        l.publish();
        let task = l.task.as_mut()?;
        // The caller continues from this position: the coalescer must keep it (state.rs).
        task.handed_out = true;
        let span = task.trace.span.as_ref();
        let (span_id, upstream) = (span.and_then(|s| s.span_id), span.and_then(|s| s.upstream_span_id));
        Some(clock_json(&p, task.trace.service, &task.clock, task.trace.id, span_id, upstream))
    })
    .flatten()?;
    Some(format!("{CLOCK_PREFIX}{}", base64url::encode(json.as_bytes())))
}

/// Merges the callee's clock from a response's headers into the running task, recording one
/// `Custom { name: "response_clock", data: { "span_id": <the callee's span> } }` event whose
/// vector clock includes the callee's: what this task does next is ordered after the callee's
/// work, for the embedded analyzer and in the `causality_vector` sent to the server. For any
/// client or transport; with reqwest,
/// [`RequestBuilderExt::raceway_send`](crate::http::RequestBuilderExt::raceway_send) does it.
///
/// Returns whether the merge was recorded. A missing, repeated or invalid `raceway-clock` (a
/// peer without Raceway, a bad value) changes nothing: no merge, no event, `false`. Like every
/// recording call it runs on the current task, so call it where the response is awaited.
///
/// ```
/// let c = raceway::testing::capture(|| {
///     // The callee (here another task of this process) answers with its clock.
///     let reply = raceway::Context::new().in_scope(|| {
///         raceway::track_write("stock", &10, &9);
///         raceway::propagation::response_headers()
///     })?;
///     // The caller merges it: its next write is ordered after the callee's.
///     assert!(raceway::propagation::merge_response_headers(&reply));
///     raceway::track_write("stock", &9, &8);
///     // A response without the header changes nothing.
///     assert!(!raceway::propagation::merge_response_headers([("content-type", "text/plain")]));
///     Ok::<(), raceway::Error>(())
/// });
/// c.output.unwrap();
/// assert!(raceway::analyze(&c.events).is_clean());
/// ```
pub fn merge_response_headers<K, V>(headers: impl IntoIterator<Item = (K, V)>) -> bool
where
    K: AsRef<str>,
    V: AsRef<[u8]>,
{
    let kind = |span_id: Option<SpanId>| EventKind::Custom {
        name: "response_clock".into(),
        data: capture(&BTreeMap::from([("span_id", span_id.map(|s| s.to_string()))])),
    };
    merge_response(headers, kind, None).is_some()
}

/// Reads the `raceway-clock` of `headers` and, when it is valid and has a clock, records the
/// event `kind` (given the callee's span id) merged with it. `Some(())` when recorded.
pub(crate) fn merge_response<K, V>(
    headers: impl IntoIterator<Item = (K, V)>,
    kind: impl FnOnce(Option<SpanId>) -> EventKind,
    duration_ns: Option<u64>,
) -> Option<()>
where
    K: AsRef<str>,
    V: AsRef<[u8]>,
{
    let (mut value, mut seen) = (String::new(), 0u8);
    for (name, v) in headers {
        if name.as_ref().eq_ignore_ascii_case(RACEWAY_CLOCK) {
            keep_once(&mut value, &mut seen, v.as_ref());
        }
    }
    // As for a request: exactly one readable header, or none at all.
    let header = parse_raceway_clock((seen == 1).then_some(value.as_str())?)?;
    if header.clock.is_empty() {
        return None;
    }
    let components = process::current().read_clock(header.clock);
    record_merged(kind(header.span_id), duration_ns, components).map(|_| ())
}
