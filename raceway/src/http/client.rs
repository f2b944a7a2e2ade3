//! The client side: propagation headers on an outgoing `reqwest` request.

use crate::error::Error;

/// Adds the running trace's propagation headers to an outgoing `reqwest` request in one call.
///
/// Each call makes a new child span for the downstream service and advances this service's clock
/// component; see [`crate::propagation_headers`].
///
/// ```
/// use raceway::http::RequestBuilderExt;
///
/// # let _c = raceway::testing::capture(|| {
/// let client = reqwest::Client::new();
/// let request = client.post("http://inventory.internal/reserve").raceway_propagate().build().unwrap();
/// assert!(request.headers().contains_key("traceparent"));
/// assert!(request.headers().contains_key("raceway-clock"));
/// # });
/// ```
pub trait RequestBuilderExt: Sized {
    /// Adds `traceparent`, `raceway-clock` and (when one arrived) `tracestate`. Outside a trace the
    /// request is sent unchanged and the downstream service starts its own trace.
    fn raceway_propagate(self) -> Self;

    /// Like [`raceway_propagate`](Self::raceway_propagate), but fails outside a trace.
    ///
    /// ```
    /// use raceway::http::RequestBuilderExt;
    ///
    /// // On a thread that never entered a trace:
    /// let outside = std::thread::spawn(|| {
    ///     reqwest::Client::new().get("http://payment.internal/charge").try_raceway_propagate().is_err()
    /// });
    /// assert!(outside.join().unwrap());
    /// ```
    ///
    /// # Errors
    /// [`Error::NoActiveTrace`] when no trace is running on this task.
    fn try_raceway_propagate(self) -> Result<Self, Error>;
}

impl RequestBuilderExt for ::reqwest::RequestBuilder {
    fn raceway_propagate(self) -> Self {
        match crate::propagation::propagation_headers(std::iter::empty::<(String, String)>()) {
            Ok(headers) => with_headers(self, headers),
            Err(_) => self,
        }
    }

    fn try_raceway_propagate(self) -> Result<Self, Error> {
        let headers = crate::propagation::propagation_headers(std::iter::empty::<(String, String)>())?;
        Ok(with_headers(self, headers))
    }
}

fn with_headers(
    builder: ::reqwest::RequestBuilder,
    headers: std::collections::HashMap<String, String>,
) -> ::reqwest::RequestBuilder {
    headers.into_iter().fold(builder, |b, (k, v)| b.header(k, v))
}
