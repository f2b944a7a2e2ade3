//! Services in one process, as the server shows them: a gateway, an inventory and a payment
//! service, each an axum router behind `RacewayLayer::new().service_name(..)`, in this one
//! process with one `init`. The gateway calls both with `raceway_send()`; inventory and the
//! gateway start background work that outlives their requests. What reaches a loopback
//! collector is checked against the strict mirror of the server's types, and the server's
//! service graph is computed from it with the contract's rule: one span record per
//! `distributed_span_id`, owned by the service of the first event that carries it, and an edge
//! from an event's `upstream_span_id` span to its own span.

mod support;

use axum::routing::post;
use axum::Router;
use raceway::http::{RacewayLayer, RequestBuilderExt};
use raceway::{Config, Context};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use support::collector::Collector;
use support::server_types::parse_event;
use support::services::{on_own_runtime, serve};

/// The process's own identity: what no request of the three services may carry.
const PROCESS_SERVICE: &str = "shop";
const INSTANCE: &str = "host-1";
/// Payment runs with an instance id of its own; the other two keep the process's.
const PAYMENT_INSTANCE: &str = "payment-7";

struct World {
    collector: Collector,
    gateway: SocketAddr,
    _guard: raceway::Guard,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let collector = Collector::start();
        let guard = raceway::init(
            Config::default()
                .server_url(collector.url())
                .service_name(PROCESS_SERVICE)
                .instance_id(INSTANCE)
                .flush_interval(Duration::from_millis(50)),
        )
        .expect("init");
        let gateway = on_own_runtime(|| async move {
            let inventory = serve(
                Router::new().route("/reserve", post(reserve)).layer(RacewayLayer::new().service_name("inventory")),
            )
            .await;
            let payment = serve(
                Router::new()
                    .route("/charge", post(charge))
                    .layer(RacewayLayer::new().service_name("payment").instance_id(PAYMENT_INSTANCE)),
            )
            .await;
            serve(
                Router::new()
                    .route("/checkout", post(move || checkout(inventory, payment)))
                    .layer(RacewayLayer::new().service_name("gateway")),
            )
            .await
        });
        World { collector, gateway, _guard: guard }
    })
}

/// Writes the stock and leaves a restock job behind (a `raceway::spawn` never joined).
async fn reserve() -> &'static str {
    raceway::track_write("inventory.stock", &10, &9);
    drop(raceway::spawn(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        raceway::track_write("inventory.restock", &0, &1);
    }));
    "reserved"
}

async fn charge() -> &'static str {
    raceway::track_write("payment.status", &"pending", &"captured");
    "charged"
}

/// Calls inventory then payment, and hands an audit to a background task with its context.
async fn checkout(inventory: SocketAddr, payment: SocketAddr) -> String {
    raceway::track_write("gateway.orders", &0, &1);
    let client = reqwest::Client::new();
    client.post(format!("http://{inventory}/reserve")).raceway_send().await.unwrap();
    client.post(format!("http://{payment}/charge")).raceway_send().await.unwrap();
    let ctx = Context::current().expect("the layer runs the handler in a trace");
    let trace = ctx.trace_id().to_string();
    tokio::spawn(ctx.scope(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        raceway::track_write("gateway.audit", &0, &1);
    }));
    trace
}

/// Places one order; returns the events of its trace once both background writes arrived, each
/// parsed by the strict mirror of the server's types.
async fn order() -> Vec<Value> {
    let w = world();
    let trace = reqwest::Client::new()
        .post(format!("http://{}/checkout", w.gateway))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    raceway::flush();
    let of_trace = |all: &[Value]| -> Vec<Value> { all.iter().filter(|e| e["trace_id"] == trace).cloned().collect() };
    let has = |events: &[Value], var: &str| events.iter().any(|e| e["kind"]["StateChange"]["variable"] == var);
    let done = w.collector.wait_for(Duration::from_secs(10), |all| {
        let events = of_trace(all);
        has(&events, "gateway.audit") && has(&events, "inventory.restock")
    });
    assert!(done, "both background writes reached the collector");
    let events = of_trace(&w.collector.accepted_events());
    for e in &events {
        parse_event(e);
    }
    events
}

fn meta<'a>(e: &'a Value, field: &str) -> Option<&'a str> {
    e["metadata"][field].as_str()
}

fn written(events: &[Value], var: &str) -> Value {
    events.iter().find(|e| e["kind"]["StateChange"]["variable"] == var).unwrap_or_else(|| panic!("{var}")).clone()
}

fn request_to(events: &[Value], url: &str) -> Value {
    events.iter().find(|e| e["kind"]["HttpRequest"]["url"] == url).unwrap_or_else(|| panic!("{url}")).clone()
}

/// The server's service edges: a span per `distributed_span_id`, owned by the service of the
/// first event (in arrival order) that carries it; an edge from each event's upstream span to
/// its own span, named by the two spans' services.
fn service_edges(events: &[Value]) -> BTreeSet<(String, String)> {
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for e in events {
        if let (Some(span), Some(service)) = (meta(e, "distributed_span_id"), meta(e, "service_name")) {
            owner.entry(span).or_insert(service);
        }
    }
    events
        .iter()
        .filter_map(|e| {
            let (up, own) = (meta(e, "upstream_span_id")?, meta(e, "distributed_span_id")?);
            Some((owner.get(up)?.to_string(), owner.get(own)?.to_string()))
        })
        .collect()
}

/// Checks one order's trace; panics with what is wrong.
fn check(events: &[Value]) {
    let gw = request_to(events, "/checkout");
    let inv = request_to(events, "/reserve");
    let pay = request_to(events, "/charge");
    let gw_span = meta(&gw, "distributed_span_id").expect("the gateway has a span");
    let (inv_span, pay_span) = (meta(&inv, "distributed_span_id").unwrap(), meta(&pay, "distributed_span_id").unwrap());
    assert!(gw_span != inv_span && gw_span != pay_span && inv_span != pay_span, "a span per service");

    // Every event: its span's service and instance, a task id in that service, the right link.
    let expected: HashMap<&str, (&str, &str, Option<&str>)> = HashMap::from([
        (gw_span, ("gateway", INSTANCE, None)),
        (inv_span, ("inventory", INSTANCE, Some(gw_span))),
        (pay_span, ("payment", PAYMENT_INSTANCE, Some(gw_span))),
    ]);
    for e in events {
        let span = meta(e, "distributed_span_id").unwrap_or_else(|| panic!("every event has a span: {e}"));
        let (service, instance, upstream) = expected[span];
        assert_eq!(meta(e, "service_name"), Some(service), "{e}");
        assert_eq!(meta(e, "instance_id"), Some(instance), "{e}");
        assert_eq!(meta(e, "upstream_span_id"), upstream, "{e}");
        let thread = meta(e, "thread_id").unwrap();
        assert!(thread.starts_with(&format!("{service}-{}-task-", std::process::id())), "{thread} is {service}'s");
    }
    let services: BTreeSet<&str> = events.iter().filter_map(|e| meta(e, "service_name")).collect();
    assert_eq!(services, BTreeSet::from(["gateway", "inventory", "payment"]), "the trace's services");

    // The server's edges read gateway → inventory and gateway → payment.
    let edges = service_edges(events);
    let want: BTreeSet<(String, String)> = [("gateway", "inventory"), ("gateway", "payment")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(edges, want);

    // Background work keeps its service: the restock spawned by inventory's request, the audit
    // the gateway handed over with its context.
    let restock = written(events, "inventory.restock");
    assert_eq!(meta(&restock, "service_name"), Some("inventory"));
    assert_ne!(restock["metadata"]["thread_id"], inv["metadata"]["thread_id"], "a task of its own");
    let audit = written(events, "gateway.audit");
    assert_eq!(meta(&audit, "service_name"), Some("gateway"));
    assert_ne!(audit["metadata"]["thread_id"], gw["metadata"]["thread_id"], "a task of its own");

    // The clocks name each service's own component: the callee inherits the gateway's.
    let stock = written(events, "inventory.stock");
    let component = |e: &Value, name: &str| {
        e["causality_vector"].as_array().unwrap().iter().find(|c| c[0] == name).and_then(|c| c[1].as_u64())
    };
    assert_eq!(component(&stock, &format!("gateway#{INSTANCE}")), Some(1), "the gateway's first call");
    assert!(component(&stock, meta(&gw, "thread_id").unwrap()) >= Some(2), "after the gateway's request and write");
    let charged = written(events, "payment.status");
    assert_eq!(component(&charged, &format!("gateway#{INSTANCE}")), Some(2), "the gateway's second call");
    assert!(
        component(&charged, meta(&stock, "thread_id").unwrap()).is_some(),
        "the gateway merged inventory's clock before calling payment"
    );
    assert!(
        events.iter().all(|e| meta(e, "service_name") != Some(PROCESS_SERVICE)),
        "nothing of the requests goes out as the process's service"
    );
}

#[tokio::test]
async fn three_services_in_one_process_show_under_their_own_names_with_gateway_edges_every_time() {
    for run in 0..20 {
        let events = order().await;
        let outcome = std::panic::catch_unwind(|| check(&events));
        assert!(outcome.is_ok(), "run {run} of 20: see the failed check above");
    }
}
