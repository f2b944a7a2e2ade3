//! The server's JSON format (contract §2), written by hand from [`Event`]s.
//!
//! Writing directly into the request buffer keeps formatting off the recording threads and avoids
//! building an intermediate tree per event. Everything per-process (pid, service, environment,
//! instance, tags, the thread-id prefix) is rendered once per client into a [`Metadata`].
//!
//! | file | what |
//! |---|---|
//! | `event.rs` | one event: envelope, metadata, kind |
//! | `body.rs` | request bodies of many events, and cutting them into parts |
//! | `metadata.rs` | the per-process fields, pre-rendered |
//! | `json.rs` | strings, integers, ids and values written into a byte buffer |
//! | `rfc3339.rs` | timestamps, rendered byte by byte with the second cached |

mod body;
mod event;
mod json;
mod metadata;
mod rfc3339;

pub(crate) use body::{body_of, render_body, Body};
pub(crate) use metadata::Metadata;

use crate::event::Event;

/// Each event as the server's JSON object.
pub(crate) fn to_json(events: &[Event], p: &Metadata) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let mut s = Vec::with_capacity(512);
            event::write_event(&mut s, e, p, false, 1);
            // Only whole UTF-8 text is ever written; lossy rather than a panic all the same.
            String::from_utf8(s).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        })
        .collect()
}
