//! The client side for `reqwest-middleware` users: [`RacewayMiddleware`].

use super::client::{merge_response_clock, outgoing_headers};
use reqwest_middleware::reqwest::header::{HeaderName, HeaderValue};
use reqwest_middleware::reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};
use std::time::Instant;

/// A [`reqwest_middleware::Middleware`] that does what
/// [`RequestBuilderExt::raceway_send`](super::RequestBuilderExt::raceway_send) does, for every
/// request of a `ClientWithMiddleware`: adds the running trace's propagation headers
/// (`traceparent`, `raceway-clock`, `tracestate` when one arrived) and, when the response carries
/// the callee's `raceway-clock`, merges it into the running task as an `HttpResponse` event.
/// Outside a trace the request goes out unchanged; with instrumentation compiled out it passes
/// every request through untouched.
///
/// ```
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(raceway::http::RacewayMiddleware::default())
///     .build();
/// # drop(client);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct RacewayMiddleware {
    _private: (),
}

impl RacewayMiddleware {
    /// The middleware (the same as `RacewayMiddleware::default()`).
    ///
    /// ```
    /// let _m = raceway::http::RacewayMiddleware::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl Middleware for RacewayMiddleware {
    async fn handle(&self, mut req: Request, extensions: &mut http::Extensions, next: Next<'_>) -> Result<Response> {
        // Compiled out: no headers, no clock read, nothing merged.
        let start = cfg!(raceway_on).then(Instant::now);
        for (name, value) in outgoing_headers().into_iter().flatten() {
            // Our own header names and values are always valid; a failure would only skip one.
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
                req.headers_mut().insert(name, value);
            }
        }
        let resp = next.run(req, extensions).await?;
        if let Some(start) = start {
            merge_response_clock(&resp, start);
        }
        Ok(resp)
    }
}
