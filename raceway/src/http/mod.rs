//! HTTP integrations: the server side ([`RacewayLayer`], feature `tower`) continues or starts a
//! trace per request; the client side ([`RequestBuilderExt`], feature `reqwest`) sends the trace
//! on to the services a request calls; [`RacewayMiddleware`] (feature `reqwest-middleware`) does
//! the same for a `reqwest_middleware::ClientWithMiddleware`.
//!
//! Together they give every service in a call chain the same trace id, each call its own span,
//! and the callee's events a link to the caller's span (`metadata.upstream_span_id`). See
//! [`crate::propagation`] for the headers themselves.

#[cfg(feature = "reqwest")]
mod client;
#[cfg(feature = "tower")]
mod layer;
#[cfg(feature = "reqwest-middleware")]
mod middleware;

#[cfg(feature = "reqwest")]
pub use client::RequestBuilderExt;
#[cfg(feature = "tower")]
pub use layer::{RacewayLayer, RacewayService, ResponseFuture};
#[cfg(feature = "reqwest-middleware")]
pub use middleware::RacewayMiddleware;
