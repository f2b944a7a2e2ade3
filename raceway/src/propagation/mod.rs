//! Distributed propagation: the `traceparent`, `tracestate` and `raceway-clock` headers that carry
//! a trace across a service boundary, read and written the way the Go, Python and TypeScript SDKs
//! do (see `docs/propagation.md`).
//!
//! Reading is strict where W3C Trace Context is (lowercase hex, version `ff` and all-zero ids
//! invalid, exactly four fields for version `00`) and tolerant where the peer SDKs differ (padded
//! base64, float counters, uppercase span ids, hyphenated or plain trace ids). Whatever cannot be
//! read is treated as absent: a bad header starts a fresh trace, it never fails the request.
//!
//! ```
//! # let _c = raceway::testing::capture(|| {
//! // Incoming: continue the caller's trace (or start one when the headers are absent or invalid).
//! let ctx = raceway::Context::from_headers([(
//!     "traceparent",
//!     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
//! )]);
//! assert_eq!(ctx.trace_id().simple(), "0af7651916cd43dd8448eb211c80319c");
//!
//! // Outgoing: headers for a downstream call, made inside the request's trace.
//! let headers = ctx.in_scope(|| raceway::propagation_headers([("x-tenant", "acme")])).unwrap();
//! assert!(headers["traceparent"].starts_with("00-0af7651916cd43dd8448eb211c80319c-"));
//! assert!(headers["raceway-clock"].starts_with("v1;"));
//! assert_eq!(headers["x-tenant"], "acme");
//! # });
//! ```

//!
//! | file | what |
//! |---|---|
//! | `incoming.rs` | reading a request's headers into a [`Context`](crate::Context) |
//! | `outgoing.rs` | [`propagation_headers`] for a downstream call, and the one `raceway-clock` writer |
//! | `response.rs` | the callee's clock back in the response: [`response_headers`], [`merge_response_headers`] |
//! | `traceparent.rs` | the W3C `traceparent` header |
//! | `raceway_clock.rs` | the `raceway-clock` header: span links and the vector clock |
//! | `base64url.rs` | the base64url both directions use |
//! | `fuzz.rs` | the parsers, exposed to the fuzz targets and property tests |
//!
//! `tracestate` is passed through as the W3C rules say (joined, and only with a valid parent);
//! that takes a few lines of `incoming.rs`.

#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
pub(crate) mod base64url;
mod incoming;
mod outgoing;
mod raceway_clock;
mod response;
#[cfg(test)]
mod tests;
mod traceparent;

pub(crate) use incoming::Incoming;
pub use outgoing::propagation_headers;
// The reqwest extension records its own event kind for the merge.
#[cfg(feature = "reqwest")]
pub(crate) use response::merge_response;
pub use response::{merge_response_headers, response_headers};

/// The W3C Trace Context header carrying the trace id and the callee's span id.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C vendor-state header, passed through unchanged.
pub const TRACESTATE: &str = "tracestate";
/// Raceway's header: `v1;<base64url JSON>` with span links and the sender's vector clock (the
/// caller's on a request, the callee's on a response).
pub const RACEWAY_CLOCK: &str = "raceway-clock";
/// Longest header value read, in bytes; longer ones are ignored as invalid.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Most vector-clock components accepted in (and sent in) a `raceway-clock` header.
pub const MAX_CLOCK_COMPONENTS: usize = 256;

pub(crate) const CLOCK_PREFIX: &str = "v1;";
/// Longest `raceway-clock` JSON sent: its base64 with the prefix fits in [`MAX_HEADER_BYTES`].
pub(crate) const MAX_CLOCK_JSON_BYTES: usize = (MAX_HEADER_BYTES - CLOCK_PREFIX.len()) / 4 * 3;
