//! The server side: a tower middleware that runs each request as a logical task of its trace.

use crate::context::{with_task, Instrumented};
use crate::event::service::{self, ServiceId};
use crate::propagation::{Incoming, RACEWAY_CLOCK};
use ::http::request::Parts;
use ::http::{Request, Response};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

type Predicate = dyn Fn(&Parts) -> bool + Send + Sync;

/// Which requests are served without tracing.
#[derive(Clone, Default)]
struct Filter {
    /// Exact paths, or prefixes when written with a trailing `*`.
    paths: Vec<String>,
    predicates: Vec<Arc<Predicate>>,
}

impl Filter {
    fn skips(&self, req: &Parts) -> bool {
        let path = req.uri.path();
        self.paths.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == p,
        }) || self.predicates.iter().any(|f| f(req))
    }
}

/// Tower middleware that traces every request it serves: it continues the caller's trace from
/// the `traceparent` / `tracestate` / `raceway-clock` headers (or starts a new one when they are
/// absent or invalid), runs the request — the inner service's `call` and its whole future — as a
/// logical task of that trace, and records `HttpRequest` (method, path) and `HttpResponse`
/// (status, duration). Every event of the request carries `instance_id`, `distributed_span_id`
/// and, when there was a caller, `upstream_span_id`.
///
/// When the caller sent a `raceway-clock` (it is a Raceway SDK), the response carries one back:
/// the request task's clock after its `HttpResponse`, which the caller merges
/// ([`RequestBuilderExt::raceway_send`](crate::http::RequestBuilderExt::raceway_send),
/// [`crate::propagation::merge_response_headers`]) so that its work after the response is
/// ordered after this request's. Other callers get no such header.
///
/// Inside the handler, [`crate::propagation_headers`] (or
/// [`RequestBuilderExt::raceway_propagate`](crate::http::RequestBuilderExt::raceway_propagate))
/// sends the trace on, and [`Context::current`](crate::Context::current) captures it for background work that outlives
/// the request.
///
/// # Global, per route, or filtered
///
/// ```
/// use axum::{routing::get, Router};
/// use raceway::http::RacewayLayer;
///
/// async fn transfer() -> &'static str { "ok" }
/// async fn health() -> &'static str { "up" }
///
/// // Global: every route is traced, except what the filter skips (the Go SDK's
/// // "conditional middleware"): health checks, metrics, static files, bots.
/// let global: Router = Router::new()
///     .route("/api/transfer", get(transfer))
///     .route("/health", get(health))
///     .layer(
///         RacewayLayer::new()
///             .skip_paths(["/health", "/metrics", "/static/*"])
///             .skip_if(|req| {
///                 req.headers.get("user-agent")
///                     .and_then(|ua| ua.to_str().ok())
///                     .is_some_and(|ua| ua.to_ascii_lowercase().contains("bot"))
///             }),
///     );
///
/// // Per route (recommended in production): only the routes added before `route_layer` are
/// // traced; `/health` and `/metrics` added after it never create a trace.
/// let per_route: Router = Router::new()
///     .route("/api/transfer", get(transfer))
///     .route_layer(RacewayLayer::new())
///     .route("/health", get(health));
/// ```
///
/// The layer works with any `tower::Service<http::Request<B>, Response = http::Response<B2>>`:
/// hyper services through `tower::ServiceBuilder`, tonic servers through `Server::layer`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower::{ServiceBuilder, ServiceExt};
///
/// let svc = ServiceBuilder::new().layer(raceway::http::RacewayLayer::new()).service_fn(
///     |_req: http::Request<()>| async {
///         // The handler runs inside the caller's trace.
///         let trace = raceway::Context::current().unwrap().trace_id();
///         Ok::<_, std::convert::Infallible>(http::Response::new(trace.simple()))
///     },
/// );
/// let req = http::Request::get("/orders")
///     .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
///     .body(())
///     .unwrap();
/// let resp = svc.oneshot(req).await.unwrap();
/// assert_eq!(resp.body(), "0af7651916cd43dd8448eb211c80319c");
/// # }
/// ```
#[derive(Clone, Default)]
pub struct RacewayLayer {
    filter: Arc<Filter>,
    service_name: Option<String>,
    instance_id: Option<String>,
    /// The registered number of (`service_name`, `instance_id`): what the requests' tasks carry.
    service: ServiceId,
}

impl fmt::Debug for RacewayLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RacewayLayer")
            .field("service_name", &self.service_name)
            .field("instance_id", &self.instance_id)
            .field("skip_paths", &self.filter.paths)
            .field("skip_if", &self.filter.predicates.len())
            .finish()
    }
}

impl RacewayLayer {
    /// A layer that traces every request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves these paths without tracing. A path ending in `*` is a prefix (`"/static/*"`);
    /// others must match exactly (`"/health"`). The query string is not part of the path.
    ///
    /// ```
    /// let layer = raceway::http::RacewayLayer::new().skip_paths(["/health", "/metrics"]);
    /// ```
    #[must_use]
    pub fn skip_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        Arc::make_mut(&mut self.filter).paths.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Serves the requests for which `skip` returns true without tracing. It sees the request's
    /// method, URI, headers and extensions; several predicates may be added (any one skips).
    ///
    /// ```
    /// let layer = raceway::http::RacewayLayer::new().skip_if(|req| req.method == http::Method::OPTIONS);
    /// ```
    #[must_use]
    pub fn skip_if<F>(mut self, skip: F) -> Self
    where
        F: Fn(&Parts) -> bool + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.filter).predicates.push(Arc::new(skip));
        self
    }

    /// Serves the requests as the service `name`, below the process's identity: their events,
    /// and those of every task and background task they start, carry this `service_name` on the
    /// wire, their task ids read `<name>-<pid>-task-<n>`, and the `raceway-clock` they send
    /// (on calls and in responses) names the component `"<name>#<instance>"`. So several
    /// services hosted in one process (a modular monolith, an integration test of a mesh, the
    /// `gateway` example) show on the server as the services they are, with the distributed
    /// edges between them. Without it, requests are the process's service (given to `init`).
    ///
    /// At most 1024 distinct names and instances per process; past that, the process's own.
    ///
    /// ```
    /// use raceway::http::RacewayLayer;
    /// # let _c = raceway::testing::capture(|| {});
    /// let inventory = RacewayLayer::new().service_name("inventory");
    /// let payment = RacewayLayer::new().service_name("payment").instance_id("payment-1");
    /// assert_eq!(inventory.name(), Some("inventory"));
    /// assert_eq!(payment.instance(), Some("payment-1"));
    /// ```
    #[must_use]
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self.register()
    }

    /// The `instance_id` of the requests' events (default: the process's, from `init`).
    ///
    /// ```
    /// let layer = raceway::http::RacewayLayer::new().service_name("payment").instance_id("payment-1");
    /// assert_eq!(layer.instance(), Some("payment-1"));
    /// ```
    #[must_use]
    pub fn instance_id(mut self, instance_id: impl Into<String>) -> Self {
        self.instance_id = Some(instance_id.into());
        self.register()
    }

    /// The service name given with [`RacewayLayer::service_name`], if any.
    ///
    /// ```
    /// assert_eq!(raceway::http::RacewayLayer::new().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.service_name.as_deref()
    }

    /// The instance id given with [`RacewayLayer::instance_id`], if any.
    ///
    /// ```
    /// assert_eq!(raceway::http::RacewayLayer::new().instance(), None);
    /// ```
    pub fn instance(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    /// Numbers the identity once, here, so that serving a request looks nothing up.
    fn register(mut self) -> Self {
        self.service = service::register(self.service_name.as_deref(), self.instance_id.as_deref());
        self
    }
}

impl<S> tower_layer::Layer<S> for RacewayLayer {
    type Service = RacewayService<S>;

    fn layer(&self, inner: S) -> RacewayService<S> {
        RacewayService { inner, filter: self.filter.clone(), service: self.service }
    }
}

/// The service made by [`RacewayLayer`].
#[derive(Clone)]
pub struct RacewayService<S> {
    inner: S,
    filter: Arc<Filter>,
    service: ServiceId,
}

impl<S: fmt::Debug> fmt::Debug for RacewayService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RacewayService").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for RacewayService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if !cfg!(raceway_on) {
            // Instrumentation compiled out: an identity layer. The request is not even taken
            // apart, and the branch is a constant the optimiser removes.
            return ResponseFuture(Kind::Plain(self.inner.call(req)));
        }
        let (parts, body) = req.into_parts();
        if self.filter.skips(&parts) {
            return ResponseFuture(Kind::Plain(self.inner.call(Request::from_parts(parts, body))));
        }
        let start = Instant::now();
        let incoming = Incoming::parse(&parts.headers);
        let clock_back = incoming.raceway_caller;
        let mut state = Some(incoming.into_context_of(self.service).into_task());
        let inner = &mut self.inner;
        // The inner `call` runs in the request's task too: routers and handlers may do work there.
        let future = with_task(&mut state, move || {
            crate::instrument::track::track_http_request(parts.method.as_str(), parts.uri.path());
            inner.call(Request::from_parts(parts, body))
        });
        match state {
            Some(state) => {
                ResponseFuture(Kind::Traced(Instrumented::new(Timed { inner: future, start, clock_back }, state, None)))
            }
            None => ResponseFuture(Kind::Plain(future)),
        }
    }
}

/// Records the response (or the service's error) when the inner future completes, and adds the
/// request task's clock to the response; polled inside the request's task, so the event lands
/// in its chain and the clock is the task's.
struct Timed<F> {
    inner: F,
    start: Instant,
    /// The caller sent a `raceway-clock`, so it can read this service's back.
    clock_back: bool,
}

impl<F, B, E> Future for Timed<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned (never moved out, dropped in place); `start` and
        // `clock_back` are `Unpin` and only read.
        let this = unsafe { self.get_unchecked_mut() };
        let mut out = unsafe { Pin::new_unchecked(&mut this.inner) }.poll(cx);
        if let Poll::Ready(result) = &mut out {
            match result {
                Ok(resp) => {
                    crate::instrument::track::track_http_response(resp.status().as_u16(), this.start.elapsed());
                    if this.clock_back {
                        send_clock_back(resp.headers_mut());
                    }
                }
                Err(_) => crate::instrument::track::track_error_with(
                    "HttpServiceError",
                    format!("the service failed with a `{}`", std::any::type_name::<E>()),
                    Vec::new(),
                ),
            }
        }
        out
    }
}

/// Adds the running task's `raceway-clock` to a response, after its last event (the response's):
/// the caller orders what it does after the response after all of this request's work. Only to
/// a caller that sent one, i.e. a Raceway SDK that can merge it: a browser or `curl` in front of
/// an edge service is not shown the service's name, host and task ids, and pays for no header.
/// A value that cannot be a header is skipped: the response is never failed or changed otherwise.
fn send_clock_back(headers: &mut ::http::HeaderMap) {
    let Ok(clock) = crate::propagation::response_headers() else {
        return;
    };
    if let Some(value) = clock.get(RACEWAY_CLOCK).and_then(|v| ::http::HeaderValue::from_str(v).ok()) {
        headers.insert(RACEWAY_CLOCK, value);
    }
}

/// The response future of [`RacewayService`].
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<F>(Kind<F>);

enum Kind<F> {
    Traced(Instrumented<Timed<F>>),
    Plain(F),
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let traced = matches!(self.0, Kind::Traced(_));
        f.debug_struct("ResponseFuture").field("traced", &traced).finish()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of the enum's only field; nothing is moved out.
        unsafe {
            match &mut self.get_unchecked_mut().0 {
                Kind::Traced(f) => Pin::new_unchecked(f).poll(cx),
                Kind::Plain(f) => Pin::new_unchecked(f).poll(cx),
            }
        }
    }
}

#[cfg(test)]
mod tests;
