//! A request's causality flows back: two services over loopback, both axum routers behind
//! `RacewayLayer`, and a caller that writes a variable, calls the callee with reqwest's
//! `raceway_send()` (the callee writes the same variable), then writes it again after the
//! response. The callee's `raceway-clock` response header, merged by the caller, orders the
//! caller's second write after the callee's: the embedded analyzer reports no race. The same
//! call to a callee whose header is stripped on the way back (a peer without Raceway) still
//! reports the race: nothing is invented. Each verdict is checked 20 times.
//!
//! `init` is process-wide and the analyzer's report accumulates over the run, so this binary
//! installs one client (with the analyzer and a loopback collector checked against the strict
//! server mirror) and its tests take turns ([`TURN`]), each counting only the racing pairs it
//! added.

mod support;

use axum::extract::Path;
use axum::routing::post;
use axum::Router;
use raceway::http::{RacewayLayer, RequestBuilderExt};
use raceway::propagation::__fuzz::raceway_clock;
use raceway::{Config, Context};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use support::collector::Collector;
use support::server_types::parse_event;
use support::services::{on_own_runtime, serve};

const RUNS: usize = 20;

/// The tests take turns: each counts the racing pairs its own calls add to the shared report.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct World {
    collector: Collector,
    /// `/reserve/{i}` behind `RacewayLayer`: writes `stock[i]`, answers with its clock.
    callee: SocketAddr,
    /// The same service, with the `raceway-clock` response header removed on the way out.
    stripped: SocketAddr,
    /// Answers without any Raceway: no layer, no header, no events.
    plain: SocketAddr,
    _guard: raceway::Guard,
}

/// Starts the collector, `init` (analyzer on), and the services on their own runtime thread, so
/// they outlive each test's runtime.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let collector = Collector::start();
        let guard = raceway::init(
            Config::default()
                .server_url(collector.url())
                .analyze(true)
                .service_name("shop")
                .instance_id("test-1")
                .flush_interval(Duration::from_millis(50)),
        )
        .expect("init");
        let (callee, stripped, plain) = on_own_runtime(|| async move {
            let reserving = || Router::new().route("/reserve/{i}", post(reserve)).layer(RacewayLayer::new());
            let callee = serve(reserving()).await;
            let stripped = serve(reserving().layer(axum::middleware::map_response(strip_clock))).await;
            let plain = serve(Router::new().route("/reserve/{i}", post(|| async { "reserved" }))).await;
            (callee, stripped, plain)
        });
        World { collector, callee, stripped, plain, _guard: guard }
    })
}

async fn reserve(Path(i): Path<u32>) -> &'static str {
    raceway::track_write(format!("stock[{i}]"), &1, &2);
    "reserved"
}

async fn strip_clock(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut().remove("raceway-clock");
    resp
}

/// Racing pairs found so far (listed or not).
fn racing_pairs() -> u64 {
    let report = raceway::report();
    report.races.iter().map(|r| r.count).sum::<u64>() + report.unlisted
}

/// What one call showed the caller.
struct Call {
    trace_id: String,
    /// The response's `raceway-clock`, if it had one.
    clock_header: Option<String>,
    body: String,
}

/// As a caller in a trace of its own: write `stock[i]`, call `to` with `raceway_send()`, write
/// `stock[i]` again after the response.
async fn write_call_write(to: SocketAddr, i: u32) -> Call {
    let ctx = Context::new();
    let trace_id = ctx.trace_id().to_string();
    ctx.scope(async move {
        let var = format!("stock[{i}]");
        raceway::track_write(var.clone(), &0, &1);
        let resp = reqwest::Client::new().post(format!("http://{to}/reserve/{i}")).raceway_send().await.unwrap();
        raceway::track_write(var, &2, &3);
        let clock_header = resp.headers().get("raceway-clock").map(|v| v.to_str().unwrap().to_owned());
        Call { trace_id, clock_header, body: resp.text().await.unwrap() }
    })
    .await
}

/// The events of `trace`, each checked against the server's schema, once `n` have arrived.
fn events_of(trace: &str, n: usize) -> Vec<Value> {
    let w = world();
    raceway::flush();
    let of_trace = |all: &[Value]| -> Vec<Value> { all.iter().filter(|e| e["trace_id"] == trace).cloned().collect() };
    assert!(w.collector.wait_for(Duration::from_secs(5), |all| of_trace(all).len() >= n), "events of {trace} arrived");
    let events = of_trace(&w.collector.accepted_events());
    for e in &events {
        parse_event(e);
    }
    events
}

fn kind(e: &Value) -> &str {
    e["kind"].as_object().unwrap().keys().next().unwrap()
}

fn component(e: &Value, name: &str) -> Option<u64> {
    e["causality_vector"].as_array().unwrap().iter().find(|c| c[0] == name).map(|c| c[1].as_u64().unwrap())
}

#[tokio::test]
async fn a_caller_writing_after_the_callees_response_does_not_race_with_the_callee() {
    let w = world();
    let _turn = TURN.lock().await;
    for run in 0..RUNS as u32 {
        let before = racing_pairs();
        let call = write_call_write(w.callee, run).await;
        assert_eq!(call.body, "reserved");
        assert_eq!(racing_pairs(), before, "run {run}: the merged response orders the caller's write");
    }

    // On the wire: the caller's trace holds its writes around its own HttpResponse (the merge),
    // whose vector includes the callee's task at its HttpResponse.
    let call = write_call_write(w.callee, 1000).await;
    let events = events_of(&call.trace_id, 6);
    let request = events.iter().find(|e| kind(e) == "HttpRequest").unwrap();
    let callee_thread = request["metadata"]["thread_id"].as_str().unwrap();
    let callee_done = events.iter().rfind(|e| e["metadata"]["thread_id"] == callee_thread).unwrap();
    assert_eq!(kind(callee_done), "HttpResponse");
    let callee_count = component(callee_done, callee_thread).unwrap();
    let caller: Vec<&Value> = events.iter().filter(|e| e["metadata"]["thread_id"] != callee_thread).collect();
    let caller_kinds: Vec<&str> = caller.iter().map(|e| kind(e)).collect();
    assert_eq!(caller_kinds, ["StateChange", "HttpResponse", "StateChange"]);
    assert_eq!(caller[1]["kind"]["HttpResponse"]["status"], 200);
    assert_eq!(component(caller[1], callee_thread), Some(callee_count), "the merge knows all the callee did");
    assert_eq!(caller[1]["parent_id"], caller[0]["id"], "one chain: the caller's task");
}

#[tokio::test]
async fn the_response_header_round_trips_through_the_layer_and_reqwest() {
    let w = world();
    let _turn = TURN.lock().await;
    let call = write_call_write(w.callee, 2000).await;
    let header = call.clock_header.expect("the layer answers a Raceway caller with its clock");
    let parsed = raceway_clock(&header).expect("the header parses as a raceway-clock");
    assert_eq!(parsed.trace_id.map(|t| t.to_string()), Some(call.trace_id.clone()), "the caller's trace");
    let events = events_of(&call.trace_id, 6);
    let served = events.iter().find(|e| kind(e) == "HttpRequest").unwrap();
    let callee_thread = served["metadata"]["thread_id"].as_str().unwrap();
    assert_eq!(parsed.span_id.map(|s| s.to_string()).as_deref(), served["metadata"]["distributed_span_id"].as_str());
    assert!(parsed.clock.iter().any(|(c, n)| c == callee_thread && *n >= 3), "{:?}", parsed.clock);
    assert!(parsed.clock.iter().any(|(c, n)| c == "shop#test-1" && *n >= 1), "this service's component");
}

#[tokio::test]
async fn a_callee_that_sends_no_clock_back_leaves_the_race_reported() {
    let w = world();
    let _turn = TURN.lock().await;
    for run in 0..RUNS as u32 {
        let before = racing_pairs();
        let call = write_call_write(w.stripped, 3000 + run).await;
        assert!(call.clock_header.is_none(), "stripped on the way back");
        assert_eq!(racing_pairs(), before + 1, "run {run}: the callee's write and the caller's second one");
    }
    // Nothing was merged, so the caller recorded nothing for the response.
    let call = write_call_write(w.stripped, 4000).await;
    let events = events_of(&call.trace_id, 5);
    let request = events.iter().find(|e| kind(e) == "HttpRequest").unwrap();
    let callee_thread = &request["metadata"]["thread_id"];
    let caller_kinds: Vec<&str> =
        events.iter().filter(|e| e["metadata"]["thread_id"] != *callee_thread).map(kind).collect();
    assert_eq!(caller_kinds, ["StateChange", "StateChange"]);
}

#[tokio::test]
async fn a_peer_without_raceway_answers_unchanged_and_nothing_is_recorded_for_it() {
    let w = world();
    let _turn = TURN.lock().await;
    let call = write_call_write(w.plain, 5000).await;
    assert_eq!(call.body, "reserved", "raceway_send is send()");
    assert!(call.clock_header.is_none());
    let events = events_of(&call.trace_id, 2);
    let kinds: Vec<&str> = events.iter().map(kind).collect();
    assert_eq!(kinds, ["StateChange", "StateChange"], "the caller's two writes, no merge");
}
