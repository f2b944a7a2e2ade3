//! Shipping events to the Raceway server: the HTTP sink and the server's JSON (`wire`).
//!
//! The exporter reads only the stage (its `Sink` trait and counters) and the event data; the
//! process identity it writes into every event is handed to it when `lifecycle` builds the sink.
//!
//! | file | what |
//! |---|---|
//! | `http.rs` | [`HttpSink`]: batches in order, one request at a time, retries only what was not stored |
//! | `coalesce.rs` | a hot loop's consecutive accesses of one task to one variable as one event with its count |
//! | `wire/` | the server's JSON: event schema, body framing, JSON primitives, RFC 3339 |

#[cfg(all(raceway_on, feature = "exporter"))]
pub(crate) mod coalesce;
#[cfg(all(raceway_on, feature = "exporter"))]
mod http;
pub(crate) mod wire;

#[cfg(all(raceway_on, feature = "exporter"))]
pub(crate) use http::HttpSink;
