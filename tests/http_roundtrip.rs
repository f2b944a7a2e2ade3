//! A real HTTP round trip: a gateway and an inventory service, both axum routers behind
//! `RacewayLayer`, on loopback; the gateway calls inventory twice with reqwest and
//! `raceway_propagate()`. What reaches a loopback collector proves the distributed links.
//!
//! `init` is process-wide, so this binary installs one client for all its tests and each test
//! looks only at the traces it started.

mod support;

use axum::routing::{get, post};
use axum::Router;
use raceway::http::{RacewayLayer, RequestBuilderExt};
use raceway::{Config, Context};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use support::collector::Collector;
use support::server_types::parse_event;
use support::services::{on_own_runtime, serve};

const SERVICE: &str = "shop";
const INSTANCE: &str = "test-1";
const OWN_COMPONENT: &str = "shop#test-1";

struct World {
    collector: Collector,
    gateway: SocketAddr,
    _guard: raceway::Guard,
}

/// Starts the collector, `init`, and both services (on their own runtime thread, so they outlive
/// each test's runtime).
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let collector = Collector::start();
        let guard = raceway::init(
            Config::default()
                .server_url(collector.url())
                .service_name(SERVICE)
                .instance_id(INSTANCE)
                .flush_interval(Duration::from_millis(50)),
        )
        .expect("init");
        let gateway = on_own_runtime(|| async move {
            let inventory = serve(Router::new().route("/reserve", post(reserve)).layer(RacewayLayer::new())).await;
            serve(
                Router::new()
                    .route("/checkout", get(move || checkout(inventory)))
                    .route("/health", get(|| async { "up" }))
                    .layer(RacewayLayer::new().skip_paths(["/health"])),
            )
            .await
        });
        World { collector, gateway, _guard: guard }
    })
}

/// Answers with the `tracestate` its request's context received (empty when none).
async fn reserve() -> String {
    raceway::track_write("inventory.stock", &10, &9);
    let ctx = Context::current().expect("the layer runs the handler in a trace");
    ctx.span().and_then(|s| s.tracestate.clone()).unwrap_or_default()
}

/// Records a write, calls inventory twice, starts background work that outlives the request, and
/// answers with its trace id.
async fn checkout(inventory: SocketAddr) -> axum::Json<Value> {
    raceway::track_write("gateway.orders", &0, &1);
    let client = reqwest::Client::new();
    let mut tracestates = Vec::new();
    for _ in 0..2 {
        let resp = client.post(format!("http://{inventory}/reserve")).raceway_propagate().send().await.unwrap();
        tracestates.push(resp.text().await.unwrap());
    }
    let ctx = Context::current().expect("the layer runs the handler in a trace");
    let trace = ctx.trace_id().to_string();
    tokio::spawn(ctx.scope(async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        raceway::track_write("gateway.audit", &0, &1);
    }));
    axum::Json(json!({ "trace_id": trace, "downstream_tracestates": tracestates }))
}

/// Calls the gateway; returns its trace id and the tracestates inventory received.
async fn get_checkout(headers: &[(&str, &str)]) -> (String, Value) {
    let mut req = reqwest::Client::new().get(format!("http://{}/checkout", world().gateway));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let text = req.send().await.unwrap().text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    (body["trace_id"].as_str().unwrap().to_string(), body["downstream_tracestates"].clone())
}

/// The events of `trace` once the gateway's background write arrived, each checked against the
/// server's schema.
fn events_of(trace: &str) -> Vec<Value> {
    let w = world();
    raceway::flush();
    let of_trace = |all: &[Value]| -> Vec<Value> { all.iter().filter(|e| e["trace_id"] == trace).cloned().collect() };
    let done = w.collector.wait_for(Duration::from_secs(5), |all| {
        of_trace(all).iter().any(|e| e["kind"]["StateChange"]["variable"] == "gateway.audit")
    });
    assert!(done, "the background write reached the collector");
    let events = of_trace(&w.collector.accepted_events());
    for e in &events {
        parse_event(e);
    }
    events
}

fn kind(e: &Value) -> &str {
    e["kind"].as_object().unwrap().keys().next().unwrap()
}

fn span(e: &Value) -> Option<&str> {
    e["metadata"]["distributed_span_id"].as_str()
}

fn upstream(e: &Value) -> Option<&str> {
    e["metadata"]["upstream_span_id"].as_str()
}

fn component(e: &Value, name: &str) -> Option<u64> {
    e["causality_vector"].as_array().unwrap().iter().find(|c| c[0] == name).map(|c| c[1].as_u64().unwrap())
}

#[tokio::test]
async fn one_trace_crosses_both_services_with_span_links_and_growing_clocks() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (trace, tracestates) = get_checkout(&[("traceparent", tp), ("tracestate", "vendor=abc")]).await;
    assert_eq!(trace, "4bf92f35-77b3-4da6-a3ce-929d0e0e4736", "the gateway continued the caller's trace");
    assert_eq!(tracestates, json!(["vendor=abc", "vendor=abc"]), "tracestate passed through unchanged");
    let events = events_of(&trace);

    // Every event of every request carries the instance and a span.
    for e in &events {
        assert_eq!(e["metadata"]["instance_id"], INSTANCE);
        assert!(span(e).is_some(), "{e}");
    }

    // The gateway: its span is the traceparent's span id; no upstream span (traceparent alone).
    let request = events.iter().find(|e| e["kind"]["HttpRequest"]["url"] == "/checkout").unwrap();
    let gw_thread = request["metadata"]["thread_id"].as_str().unwrap();
    let gw: Vec<&Value> = events.iter().filter(|e| e["metadata"]["thread_id"] == gw_thread).collect();
    let gw_kinds: Vec<&str> = gw.iter().map(|e| kind(e)).collect();
    assert_eq!(gw_kinds, ["HttpRequest", "StateChange", "HttpResponse"], "one task per request");
    assert_eq!(gw[2]["kind"]["HttpResponse"]["status"], 200);
    assert!(gw.iter().all(|e| span(e) == Some("00f067aa0ba902b7")), "the traceparent's span is the gateway's");
    assert!(gw.iter().all(|e| upstream(e).is_none()), "traceparent alone names no upstream span");

    // Inventory: two requests, each its own child span, both linked to the gateway's span.
    let inv_requests: Vec<&Value> = events.iter().filter(|e| e["kind"]["HttpRequest"]["url"] == "/reserve").collect();
    assert_eq!(inv_requests.len(), 2);
    let (s1, s2) = (span(inv_requests[0]).unwrap(), span(inv_requests[1]).unwrap());
    assert_ne!(s1, s2, "each downstream call gets its own span");
    assert_ne!(s1, "00f067aa0ba902b7", "the caller keeps its span, the callee gets a child");
    for s in [s1, s2] {
        let of_call: Vec<&Value> = events.iter().filter(|e| span(e) == Some(s)).collect();
        let kinds: Vec<&str> = of_call.iter().map(|e| kind(e)).collect();
        assert_eq!(kinds, ["HttpRequest", "StateChange", "HttpResponse"]);
        assert!(of_call.iter().all(|e| upstream(e) == Some("00f067aa0ba902b7")));
        assert!(of_call.iter().all(|e| e["metadata"]["thread_id"] != gw_thread), "the callee is its own task");
    }

    // Vector clocks: the callee inherits the caller's clock. The service component counts the
    // calls made (1, then 2), and the gateway task's own component is carried across.
    let first_write = events.iter().find(|e| span(e) == Some(s1) && kind(e) == "StateChange").unwrap();
    let second_write = events.iter().find(|e| span(e) == Some(s2) && kind(e) == "StateChange").unwrap();
    assert_eq!(component(first_write, OWN_COMPONENT), Some(1));
    assert_eq!(component(second_write, OWN_COMPONENT), Some(2));
    assert_eq!(component(first_write, gw_thread), Some(2), "gateway's request + write happened before the call");
    assert!(component(second_write, gw_thread) >= Some(2));
    assert_eq!(component(gw[2], OWN_COMPONENT), Some(2), "the caller keeps its incremented component");

    // Background work kept the request's trace and descends from the handler's events.
    let audit = events.iter().find(|e| e["kind"]["StateChange"]["variable"] == "gateway.audit").unwrap();
    assert_ne!(audit["metadata"]["thread_id"], gw_thread, "a task of its own");
    assert_eq!(span(audit), Some("00f067aa0ba902b7"));
    assert!(component(audit, gw_thread) >= Some(2), "ordered after the handler's work");
    let ids: Vec<&Value> = gw.iter().map(|e| &e["id"]).collect();
    assert!(ids.contains(&&audit["parent_id"]), "its first event descends from the request's chain");
}

#[tokio::test]
async fn bad_headers_start_a_fresh_trace_that_still_reaches_downstream() {
    let bad_clock = "v1;!!not-base64!!";
    let tp = "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (trace, tracestates) =
        get_checkout(&[("traceparent", tp), ("raceway-clock", bad_clock), ("tracestate", "x=1")]).await;
    assert_eq!(tracestates, json!(["", ""]), "a fresh trace forwards no foreign tracestate");
    assert_ne!(trace, "4bf92f35-77b3-4da6-a3ce-929d0e0e4736", "invalid headers are ignored");
    let events = events_of(&trace);
    let gw = events.iter().find(|e| e["kind"]["HttpRequest"]["url"] == "/checkout").unwrap();
    let gw_span = span(gw).unwrap();
    assert_ne!(gw_span, "00f067aa0ba902b7");
    assert!(upstream(gw).is_none());
    let downstream: Vec<&Value> = events.iter().filter(|e| upstream(e) == Some(gw_span)).collect();
    assert_eq!(downstream.len(), 6, "two inventory requests of three events each, in the fresh trace");
}

#[tokio::test]
async fn skipped_paths_create_no_trace() {
    let w = world();
    let before = w.collector.accepted_events().len();
    let resp = reqwest::get(format!("http://{}/health", w.gateway)).await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "up");
    raceway::flush();
    let after = w.collector.accepted_events();
    assert!(
        !after[before..].iter().any(|e| e["kind"]["HttpRequest"]["url"] == "/health"),
        "no HttpRequest recorded for /health"
    );
}
