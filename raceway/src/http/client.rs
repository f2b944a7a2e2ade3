//! The client side: propagation headers on an outgoing `reqwest` request.

use crate::error::Error;
use crate::event::value::null;
use crate::event::EventKind;
use std::future::Future;
use std::time::Instant;

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

    /// Sends the request with the propagation headers (as
    /// [`raceway_propagate`](Self::raceway_propagate)) and, when the response carries the
    /// callee's `raceway-clock`, merges it into the running task: what the task does after the
    /// response is ordered after everything the callee did for it. The merge is recorded as an
    /// `HttpResponse` event of the caller (status, time since the call). A response without the
    /// header (a service without Raceway) changes nothing: no merge, no event. Otherwise this is
    /// `send()`: the same result, the same response, untouched.
    ///
    /// Await it in the task that made the call, as for any recording.
    ///
    /// ```no_run
    /// use raceway::http::RequestBuilderExt;
    ///
    /// # async fn reserve(client: reqwest::Client) -> reqwest::Result<()> {
    /// raceway::track_write("orders[7].status", &"new", &"pending");
    /// let resp = client.post("http://inventory.internal/reserve").raceway_send().await?;
    /// // Ordered after the inventory's work for this call: no race with its writes.
    /// raceway::track_write("orders[7].status", &"pending", &"reserved");
    /// # drop(resp);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// Those of [`reqwest::RequestBuilder::send`].
    fn raceway_send(self) -> impl Future<Output = ::reqwest::Result<::reqwest::Response>> + Send;
}

impl RequestBuilderExt for ::reqwest::RequestBuilder {
    fn raceway_propagate(self) -> Self {
        // Compiled out: no headers, no allocation; the request goes out as written.
        match outgoing_headers() {
            Some(headers) => with_headers(self, headers),
            None => self,
        }
    }

    fn try_raceway_propagate(self) -> Result<Self, Error> {
        if !cfg!(raceway_on) {
            return Ok(self);
        }
        let headers = crate::propagation::propagation_headers(std::iter::empty::<(String, String)>())?;
        Ok(with_headers(self, headers))
    }

    fn raceway_send(self) -> impl Future<Output = ::reqwest::Result<::reqwest::Response>> + Send {
        // Compiled out: a plain `send`, no clock read, nothing merged.
        let start = cfg!(raceway_on).then(Instant::now);
        let sending = self.raceway_propagate().send();
        async move {
            let resp = sending.await?;
            if let Some(start) = start {
                merge_response_clock(&resp, start);
            }
            Ok(resp)
        }
    }
}

/// The running trace's propagation headers for one outgoing call, or `None` outside a trace or
/// when compiled out (the request then goes out as written). Shared by [`RequestBuilderExt`] and
/// the `reqwest-middleware` middleware, so both send the same headers.
pub(super) fn outgoing_headers() -> Option<std::collections::HashMap<String, String>> {
    if !cfg!(raceway_on) {
        return None;
    }
    crate::propagation::propagation_headers(std::iter::empty::<(String, String)>()).ok()
}

/// After a response to a call started at `start`: merges the callee's `raceway-clock`, when it
/// sent one, into the running task as an `HttpResponse` event (status, time since the call).
pub(super) fn merge_response_clock(resp: &::reqwest::Response, start: Instant) {
    let (status, elapsed) = (resp.status().as_u16(), start.elapsed());
    let kind = |_| EventKind::HttpResponse {
        status,
        headers: Vec::new(),
        body: null(),
        duration_ms: elapsed.as_millis() as u64,
    };
    crate::propagation::merge_response(resp.headers(), kind, Some(elapsed.as_nanos() as u64));
}

fn with_headers(
    builder: ::reqwest::RequestBuilder,
    headers: std::collections::HashMap<String, String>,
) -> ::reqwest::RequestBuilder {
    headers.into_iter().fold(builder, |b, (k, v)| b.header(k, v))
}
