//! `raceway::http::RacewayMiddleware` (feature `reqwest-middleware`) does for a
//! `reqwest_middleware::ClientWithMiddleware` what `raceway_send()` does for a plain client: the
//! callee (an axum service behind `RacewayLayer`, over loopback) receives the caller's
//! `traceparent` and `raceway-clock`, and the callee's `raceway-clock` in the response is merged,
//! so the caller's write after the response does not race with the callee's write. A callee whose
//! clock is stripped on the way back still races: the merge is what orders. Each verdict 20 times.
//!
//! `init` is process-wide and the report accumulates, so the tests take turns ([`TURN`]) and each
//! counts only the racing pairs it added.

mod support;

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use raceway::http::{RacewayLayer, RacewayMiddleware};
use raceway::{Config, Context};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use support::collector::Collector;
use support::services::{on_own_runtime, serve};

const RUNS: u32 = 20;

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct World {
    /// `/reserve/{i}` behind `RacewayLayer`: writes `stock[i]`, answers with the `traceparent`
    /// and whether a `raceway-clock` arrived (and, through the layer, with its own clock).
    callee: SocketAddr,
    /// The same service with the `raceway-clock` response header removed on the way out.
    stripped: SocketAddr,
    client: ClientWithMiddleware,
    _collector: Collector,
    _guard: raceway::Guard,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let collector = Collector::start();
        let guard = raceway::init(
            Config::default()
                .server_url(collector.url())
                .analyze(true)
                .service_name("shop")
                .flush_interval(Duration::from_millis(50)),
        )
        .expect("init");
        let (callee, stripped) = on_own_runtime(|| async move {
            let reserving = || Router::new().route("/reserve/{i}", post(reserve)).layer(RacewayLayer::new());
            let callee = serve(reserving()).await;
            let stripped = serve(reserving().layer(axum::middleware::map_response(strip_clock))).await;
            (callee, stripped)
        });
        let client = ClientBuilder::new(reqwest::Client::new()).with(RacewayMiddleware::default()).build();
        World { callee, stripped, client, _collector: collector, _guard: guard }
    })
}

async fn reserve(Path(i): Path<u32>, headers: HeaderMap) -> String {
    raceway::track_write(format!("stock[{i}]"), &1, &2);
    let traceparent = headers.get("traceparent").map_or("", |v| v.to_str().unwrap());
    format!("{traceparent} clock={}", headers.contains_key("raceway-clock"))
}

async fn strip_clock(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut().remove("raceway-clock");
    resp
}

fn racing_pairs() -> u64 {
    let report = raceway::report();
    report.races.iter().map(|r| r.count).sum::<u64>() + report.unlisted
}

/// In a trace of its own: write `stock[i]`, call `to` through the middleware, write again.
/// Returns the trace id and what the callee received.
async fn write_call_write(to: SocketAddr, i: u32) -> (String, String) {
    let ctx = Context::new();
    let trace_id = ctx.trace_id().to_string().replace('-', "");
    ctx.scope(async move {
        let var = format!("stock[{i}]");
        raceway::track_write(var.clone(), &0, &1);
        let resp = world().client.post(format!("http://{to}/reserve/{i}")).send().await.unwrap();
        raceway::track_write(var, &2, &3);
        (trace_id, resp.text().await.unwrap())
    })
    .await
}

#[tokio::test]
async fn through_the_middleware_the_callee_gets_the_trace_and_the_caller_is_ordered_after_it_20_times() {
    let w = world();
    let _turn = TURN.lock().await;
    for run in 0..RUNS {
        let before = racing_pairs();
        let (trace_id, received) = write_call_write(w.callee, run).await;
        let (traceparent, clock) = received.split_once(' ').unwrap();
        assert_eq!(traceparent.split('-').nth(1), Some(trace_id.as_str()), "run {run}: the caller's trace id");
        assert_eq!(clock, "clock=true", "run {run}: the caller's clock went along");
        assert_eq!(racing_pairs(), before, "run {run}: the merged response orders the caller's second write");
    }
}

#[tokio::test]
async fn without_the_callees_clock_back_the_race_is_still_reported_20_times() {
    let w = world();
    let _turn = TURN.lock().await;
    for run in 0..RUNS {
        let before = racing_pairs();
        write_call_write(w.stripped, 1000 + run).await;
        assert_eq!(racing_pairs(), before + 1, "run {run}: nothing merged, nothing invented");
    }
}
