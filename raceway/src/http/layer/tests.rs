//! The layer's behaviour per request: events, skipped paths, errors, the response clock and the
//! service a named layer gives its requests.

use super::*;
use crate::context::Context;
#[cfg(raceway_on)]
use crate::event::EventKind;
use tower_layer::Layer;
use tower_service::Service;

/// A minimal inner service: records a write, answers with the status it is told.
#[derive(Clone)]
struct Handler(u16);

impl Service<Request<()>> for Handler {
    type Response = Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Response<String>, Self::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        crate::instrument::track::track_write("handled", &0, &1);
        let trace = Context::current().map(|c| c.trace_id().simple()).unwrap_or_default();
        let mut resp = Response::new(format!("{}:{trace}", req.uri().path()));
        *resp.status_mut() = ::http::StatusCode::from_u16(self.0).unwrap();
        std::future::ready(Ok(resp))
    }
}

/// An inner service that leaves a task behind (`raceway::spawn`, joined before answering).
#[derive(Clone)]
struct Spawner;

impl Service<Request<()>> for Spawner {
    type Response = Response<String>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<String>, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        Box::pin(async {
            let child = crate::instrument::task::spawn(async {
                crate::instrument::track::track_write("background", &0, &1);
            });
            let _ = child.await;
            Ok(Response::new(String::new()))
        })
    }
}

fn request(path: &str, headers: &[(&str, &str)]) -> Request<()> {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap()
}

#[cfg(raceway_on)]
/// Serves `req` under a test capture (which the request's trace inherits).
async fn serve(layer: &RacewayLayer, req: Request<()>, status: u16) -> (Response<String>, Vec<crate::event::Event>) {
    let mut svc = layer.layer(Handler(status));
    let captured = crate::testing::capture_async(async move { svc.call(req).await.unwrap() }).await;
    (captured.output, captured.events)
}

const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

#[tokio::test]
async fn the_handler_runs_in_the_callers_trace_even_with_recording_compiled_out() {
    let mut svc = RacewayLayer::new().layer(Handler(200));
    let resp = svc.call(request("/orders", &[("traceparent", TP)])).await.unwrap();
    assert_eq!(resp.body(), "/orders:0af7651916cd43dd8448eb211c80319c");
}

#[cfg(raceway_on)]
#[tokio::test]
async fn a_request_is_one_task_recording_request_then_work_then_response() {
    let (resp, events) = serve(&RacewayLayer::new(), request("/orders?secret=1", &[("traceparent", TP)]), 201).await;
    assert_eq!(resp.body(), "/orders:0af7651916cd43dd8448eb211c80319c", "the handler ran in the caller's trace");
    let kinds: Vec<_> = events.iter().map(|e| &e.kind).collect();
    assert!(
        matches!(kinds[..], [
        EventKind::HttpRequest { method, url, .. },
        EventKind::StateChange { .. },
        EventKind::HttpResponse { status: 201, .. },
    ] if method.as_str() == "GET" && url == "/orders"),
        "{kinds:?}"
    );
    assert!(events.iter().all(|e| e.trace_id.simple() == "0af7651916cd43dd8448eb211c80319c"));
    assert!(events.iter().all(|e| e.task == events[0].task), "one logical task");
    assert_eq!(events[1].parent_id, Some(events[0].id));
    assert_eq!(events[2].parent_id, Some(events[1].id));
    for e in &events {
        let span_id = e.span_id.expect("every event carries the request's span");
        assert_eq!(span_id.to_string(), "b7ad6b7169203331");
        assert_eq!(e.upstream_span_id, None, "traceparent alone names no upstream span");
    }
    assert!(events[2].duration_ns.is_some());
}

#[cfg(raceway_on)]
#[tokio::test]
async fn invalid_headers_start_a_fresh_trace_with_its_own_span() {
    let bad = "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01";
    let (resp, events) = serve(&RacewayLayer::new(), request("/x", &[("traceparent", bad)]), 200).await;
    assert!(!resp.body().ends_with("0af7651916cd43dd8448eb211c80319c"));
    assert_eq!(events.len(), 3);
    assert!(events[0].span_id.is_some() && events[0].upstream_span_id.is_none());
}

#[cfg(raceway_on)]
#[tokio::test]
async fn skipped_paths_record_nothing_and_still_reach_the_service() {
    let layer = RacewayLayer::new().skip_paths(["/health"]);
    let (resp, events) = serve(&layer, request("/health", &[("traceparent", TP)]), 200).await;
    assert!(resp.body().starts_with("/health:"));
    let kinds: Vec<_> = events.iter().map(|e| &e.kind).collect();
    assert!(matches!(kinds[..], [EventKind::StateChange { .. }]), "only the handler's own write: {kinds:?}");
    assert_ne!(events[0].trace_id.simple(), "0af7651916cd43dd8448eb211c80319c", "no trace continued");
}

#[cfg(raceway_on)]
#[tokio::test]
async fn a_failing_service_records_an_error_event() {
    #[derive(Clone)]
    struct Failing;
    impl Service<Request<()>> for Failing {
        type Response = Response<()>;
        type Error = std::io::Error;
        type Future = std::future::Ready<Result<Response<()>, std::io::Error>>;
        fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Err(std::io::Error::other("boom")))
        }
    }
    let mut svc = RacewayLayer::new().layer(Failing);
    let captured = crate::testing::capture_async(async move { svc.call(request("/f", &[])).await }).await;
    assert!(captured.output.is_err());
    assert!(
        matches!(&captured.events[1].kind, EventKind::Error { error_type, .. } if error_type.as_str() == "HttpServiceError")
    );
}

#[cfg(raceway_on)]
#[tokio::test]
async fn a_named_layers_requests_and_the_tasks_they_spawn_are_that_services() {
    let layer = RacewayLayer::new().service_name("layer-test-orders");
    let (_, events) = serve(&layer, request("/orders", &[("traceparent", TP)]), 200).await;
    assert_eq!(events.len(), 3);
    for e in &events {
        assert_eq!(e.task.service_name(), "layer-test-orders");
        assert!(e.task.thread_id().starts_with("layer-test-orders-"), "{}", e.task.thread_id());
    }
    // A task spawned inside the request inherits the service through the trace.
    let mut svc = layer.layer(Spawner);
    let captured = crate::testing::capture_async(async move { svc.call(request("/bg", &[])).await.unwrap() }).await;
    let child = captured
        .events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::StateChange { variable, .. } if variable.as_str() == "background"))
        .unwrap();
    assert_ne!(child.task, captured.events[0].task, "a task of its own");
    assert_eq!(child.task.service_name(), "layer-test-orders");
    // Without a name: the process's service, as before.
    let (_, plain) = serve(&RacewayLayer::new(), request("/orders", &[]), 200).await;
    assert!(plain.iter().all(|e| e.task.service_name() == crate::context::process::current().service));
}

#[cfg(raceway_on)]
#[tokio::test]
async fn the_race_report_names_the_service_of_each_task() {
    let layer = RacewayLayer::new().service_name("layer-test-report").instance_id("r-1");
    let mut a = layer.layer(Handler(200));
    let mut b = layer.layer(Handler(200));
    // Two requests, two traces, the same write with no order between them: a race.
    let captured = crate::testing::capture_async(async move {
        a.call(request("/a", &[])).await.unwrap();
        b.call(request("/b", &[])).await.unwrap();
    })
    .await;
    let race = captured.report.races.first().expect("the two requests race on `handled`");
    assert_eq!((race.first.service.as_str(), race.second.service.as_str()), ("layer-test-report", "layer-test-report"));
    let text = captured.report.to_string();
    assert!(text.contains(&format!("task {} of layer-test-report", race.first.thread_id)), "{text}");
    assert_eq!(captured.report.to_json_value()["races"][0]["first"]["service"], "layer-test-report");
}

#[cfg(raceway_on)]
#[tokio::test]
async fn a_raceway_caller_gets_the_request_tasks_clock_back_in_the_response() {
    let mut svc = RacewayLayer::new().layer(Handler(201));
    let captured = crate::testing::capture_async(async move {
        let headers = crate::propagation::propagation_headers(std::iter::empty::<(String, String)>()).unwrap();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        svc.call(request("/orders", &headers)).await.unwrap()
    })
    .await;
    let resp = captured.output;
    assert_eq!(resp.status(), 201, "the response is otherwise the service's own");
    assert!(resp.body().starts_with("/orders:"));
    let value = resp.headers()[RACEWAY_CLOCK].to_str().unwrap();
    let back = crate::propagation::Incoming::parse([(RACEWAY_CLOCK, value)]);
    let served = captured.events.last().unwrap();
    assert!(matches!(served.kind, EventKind::HttpResponse { .. }));
    let own = (served.task.thread_id(), served.clock.own_count());
    assert!(back.clock.contains(&own), "the task's count after its HttpResponse: {:?}", back.clock);
    assert_eq!(back.span_id, served.span_id, "the callee's span");
    assert_eq!(back.upstream_span_id, served.upstream_span_id, "and the caller's");
}

#[cfg(raceway_on)]
#[tokio::test]
async fn callers_without_a_raceway_clock_get_no_clock_back() {
    for headers in [&[][..], &[("traceparent", TP)][..], &[(RACEWAY_CLOCK, "v1;garbage")][..]] {
        let (resp, events) = serve(&RacewayLayer::new(), request("/orders", headers), 200).await;
        assert!(!resp.headers().contains_key(RACEWAY_CLOCK), "{headers:?}");
        assert_eq!(events.len(), 3, "traced as before");
    }
}

#[cfg(raceway_on)]
#[tokio::test]
async fn a_caller_that_merges_the_response_is_ordered_after_the_callee_and_one_that_does_not_races() {
    for merge in [true, false] {
        for _ in 0..20 {
            let mut svc = RacewayLayer::new().layer(Handler(200));
            let captured = crate::testing::capture_async(async move {
                crate::instrument::track::track_write("handled", &0, &1);
                let headers = crate::propagation::propagation_headers(std::iter::empty::<(String, String)>());
                let headers = headers.unwrap();
                let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let resp = svc.call(request("/orders", &headers)).await.unwrap();
                if merge {
                    assert!(crate::propagation::merge_response_headers(resp.headers()));
                }
                crate::instrument::track::track_write("handled", &1, &2);
            })
            .await;
            let races = captured.report.races_on("handled").count();
            assert_eq!(races, usize::from(!merge), "merged: {merge}");
        }
    }
}

#[test]
fn the_service_and_its_future_are_send_and_sync_as_axum_and_tonic_require() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    fn send<T: Send + 'static>() {}
    send_sync::<RacewayService<Handler>>();
    send_sync::<RacewayLayer>();
    send::<ResponseFuture<<Handler as Service<Request<()>>>::Future>>();
}

#[test]
fn skip_paths_match_exactly_or_by_prefix_and_predicates_add_up() {
    let layer = RacewayLayer::new().skip_paths(["/health", "/static/*"]).skip_if(|r| r.headers.contains_key("x-bot"));
    let parts = |path: &str, bot: bool| {
        let mut b = Request::get(path);
        if bot {
            b = b.header("x-bot", "1");
        }
        b.body(()).unwrap().into_parts().0
    };
    assert!(layer.filter.skips(&parts("/health", false)));
    assert!(layer.filter.skips(&parts("/health?verbose=1", false)));
    assert!(!layer.filter.skips(&parts("/healthz", false)));
    assert!(layer.filter.skips(&parts("/static/app.js", false)));
    assert!(layer.filter.skips(&parts("/api", true)));
    assert!(!layer.filter.skips(&parts("/api", false)));
}
