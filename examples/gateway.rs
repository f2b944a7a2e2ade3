//! Three HTTP services sharing one trace: a gateway that calls inventory and payment.
//!
//! ```text
//! cargo run --example gateway                       # run the scenario, flush, exit
//! RACEWAY_URL=http://localhost:8080 cargo run --example gateway   # ... and ship to a server
//! cargo run --example gateway -- --serve            # keep serving until Enter is pressed
//!
//! # the same services as three processes, each with its own `init` (one terminal each):
//! cargo run --example gateway -- --role inventory   # serves on 127.0.0.1:3001 until Enter
//! cargo run --example gateway -- --role payment     # serves on 127.0.0.1:3002 until Enter
//! cargo run --example gateway -- --role gateway     # on 127.0.0.1:3000, places the two orders
//! # (--listen ADDR for any role; --inventory ADDR --payment ADDR for the gateway)
//! ```
//!
//! All three services run in this one process on free loopback ports, each an axum router behind
//! `raceway::http::RacewayLayer`. A customer (with no trace) posts two orders at once; for each:
//!
//! - the gateway's layer starts a trace, and the handler calls inventory and payment with
//!   `.raceway_send()`: each call gets its own child span linked to the gateway's span, both
//!   downstream services continue the gateway's trace, and each answers with its clock (the
//!   `raceway-clock` response header), which the gateway merges: what the gateway does after a
//!   response is ordered after that service's work. So the gateway reading the payment status
//!   that payment just wrote is no race;
//! - work that outlives the request stays in the request's trace: a receipt sent by a task made
//!   with `raceway::spawn` (never joined), and a ledger job handed to a worker through a queue
//!   together with `Context::current()`, run there under `Context::scope`.
//!
//! Inventory updates its stock with a read, an `.await`, then a write and no lock: two concurrent
//! orders make a lost update, which the embedded analyzer (without `RACEWAY_URL`, at exit)
//! reports as a race between the two requests, and nothing else. The Raceway server reports it
//! too; its per-trace check does not yet order a caller's events after its callee's, so there
//! the gateway's read of the payment status is also listed against payment's write.
//!
//! Each layer names its service (`RacewayLayer::new().service_name("inventory")`), so although
//! the three share one process, their events carry `service_name` `gateway`, `inventory` and
//! `payment`, their task ids read `inventory-<pid>-task-<n>`, and background work a request
//! starts (the receipt, the ledger job) stays its service's. Shipped to a server, each order's
//! trace lists the three services, and the distributed edges read gateway → inventory and
//! gateway → payment. The process's own `service_name` (`shop`) is left for work outside any
//! request. In production each service is its own process with its own `init`; the layers'
//! names then simply match it.
//!
//! What you see (ids vary):
//!
//! ```text
//! order 1 -> 200 OK   trace ab65d51e-898a-4cc7-94fb-6e43dc301d4b
//!   gateway   span f3fa8138725f3fdd
//!   ├─ inventory span cb95e61f37842187  upstream f3fa8138725f3fdd  (same trace)
//!   └─ payment   span 589db2dabdedca4a  upstream f3fa8138725f3fdd  (same trace)
//! order 2 -> 200 OK   trace b8db3f5c-3d9f-41a9-b1d9-768d2d33d652
//!   ...
//! after the responses:
//!   order 1: ledger entry written in trace ab65d51e…
//!   order 1: receipt sent in trace ab65d51e…
//!   ...
//! inventory stock: 100 -> 99 after 2 orders (a lost update)
//! [raceway] race report
//! race #1: CRITICAL write/write on `inventory.stock` (seen once)
//!   ...
//!   why:    no spawn/join orders the two tasks (two different traces: concurrent requests), ...
//! ```

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use raceway::http::{RacewayLayer, RequestBuilderExt};
use raceway::Context;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
struct Order {
    id: u32,
    amount_cents: u64,
}

/// What each service answers: who served the request, in which trace and span.
#[derive(Serialize, Deserialize, Debug)]
struct Hop {
    service: String,
    trace_id: String,
    span_id: String,
    upstream_span_id: Option<String>,
}

impl Hop {
    /// The running request's identity, read from its context: the service is the one its
    /// events carry on the wire (the layer's `service_name`).
    fn here() -> Hop {
        let ctx = Context::current().expect("RacewayLayer runs every handler in a trace");
        let span = ctx.span().expect("requests served by the layer have a span");
        let task = Context::current_task().expect("a trace has a running task");
        Hop {
            service: task.service_name(),
            trace_id: ctx.trace_id().to_string(),
            span_id: span.span_id.map(|s| s.to_string()).unwrap_or_default(),
            upstream_span_id: span.upstream_span_id.map(|s| s.to_string()),
        }
    }
}

#[derive(Serialize, Deserialize, Debug)]
struct CheckoutReply {
    order: u32,
    gateway: Hop,
    downstream: Vec<Hop>,
}

/// Background work reporting in, so the scenario can show which trace it ran in and knows when
/// everything is done.
#[derive(Debug)]
struct Done {
    what: &'static str,
    order: u32,
    trace_id: String,
}

// ---- inventory ---------------------------------------------------------------------------------

static STOCK: AtomicI64 = AtomicI64::new(100);

async fn reserve(Json(order): Json<Order>) -> Json<Hop> {
    // A lost update on purpose: read, yield, write — with no lock. Two concurrent orders race.
    let before = STOCK.load(Ordering::SeqCst);
    raceway::track_read("inventory.stock", &before);
    tokio::time::sleep(Duration::from_millis(5)).await;
    STOCK.store(before - 1, Ordering::SeqCst);
    raceway::track_write("inventory.stock", &before, &(before - 1));
    raceway::track_custom("reserved", &order);
    Json(Hop::here())
}

// ---- payment -----------------------------------------------------------------------------------

async fn charge(Json(order): Json<Order>) -> Json<Hop> {
    raceway::track_write(format!("payments[{}].status", order.id), &"pending", &"captured");
    Json(Hop::here())
}

// ---- gateway -----------------------------------------------------------------------------------

#[derive(Clone)]
struct Gateway {
    client: reqwest::Client,
    inventory: SocketAddr,
    payment: SocketAddr,
    ledger_jobs: mpsc::UnboundedSender<(Context, Order)>,
    done: mpsc::UnboundedSender<Done>,
}

async fn call(g: &Gateway, to: SocketAddr, path: &str, order: Order) -> Result<Hop, String> {
    let body = serde_json::to_vec(&order).map_err(|e| e.to_string())?;
    let resp = g
        .client
        .post(format!("http://{to}{path}"))
        .header("content-type", "application/json")
        .body(body)
        // traceparent + raceway-clock (+ tracestate): a child span of this request per call; the
        // callee's clock from the response is merged into this request's task.
        .raceway_send()
        .await
        .map_err(|e| e.to_string())?;
    let text = resp.text().await.map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

async fn checkout(State(g): State<Gateway>, Json(order): Json<Order>) -> Result<Json<CheckoutReply>, String> {
    raceway::track_write(format!("orders[{}].status", order.id), &"new", &"pending");
    let (inventory, payment) =
        tokio::join!(call(&g, g.inventory, "/reserve", order), call(&g, g.payment, "/charge", order));
    let downstream = vec![inventory?, payment?];
    // Payment wrote this before answering; its response's clock orders the read after the write.
    raceway::track_read(format!("payments[{}].status", order.id), &"captured");
    raceway::track_write(format!("orders[{}].status", order.id), &"pending", &"paid");

    // Outlives the request, same trace: a task spawned from the request's task.
    let done = g.done.clone();
    drop(raceway::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        raceway::track_custom("receipt_sent", &order);
        let _ = done.send(Done { what: "receipt sent", order: order.id, trace_id: trace_of_current() });
    }));
    // Outlives the request, same trace: a job for a long-lived worker, with the request's context.
    if let Some(ctx) = Context::current() {
        let _ = g.ledger_jobs.send((ctx, order));
    }

    Ok(Json(CheckoutReply { order: order.id, gateway: Hop::here(), downstream }))
}

fn trace_of_current() -> String {
    Context::current().map(|c| c.trace_id().to_string()).unwrap_or_default()
}

/// A worker that lives for the whole program; each job runs in the trace of the request that
/// queued it (the Go SDK's "channel-based context propagation").
async fn ledger_worker(mut jobs: mpsc::UnboundedReceiver<(Context, Order)>, done: mpsc::UnboundedSender<Done>) {
    while let Some((ctx, order)) = jobs.recv().await {
        let done = done.clone();
        ctx.scope(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            raceway::track_write(format!("ledger[{}]", order.id), &(), &order);
            let _ = done.send(Done { what: "ledger entry written", order: order.id, trace_id: trace_of_current() });
        })
        .await;
    }
}

// ---- running it --------------------------------------------------------------------------------

async fn listen(router: Router) -> std::io::Result<SocketAddr> {
    listen_on("127.0.0.1:0".parse().expect("a socket address"), router).await
}

async fn listen_on(addr: SocketAddr, router: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("server on {addr} stopped: {e}");
        }
    });
    Ok(addr)
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// The value after `flag` on the command line.
fn arg(flag: &str) -> Option<String> {
    let mut args = std::env::args();
    args.find(|a| a == flag)?;
    args.next()
}

/// The socket address after `flag`, or `default`.
fn addr_arg(flag: &str, default: &str) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    let text = arg(flag).unwrap_or_else(|| default.to_owned());
    text.parse().map_err(|e| format!("{flag} {text}: {e}").into())
}

async fn wait_for_enter() -> Result<(), Box<dyn std::error::Error>> {
    println!("press Enter to stop");
    tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await??;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|a| a == "--serve");
    // `--role NAME`: this process is that one service (the multi-process setup).
    let role = arg("--role");
    if let Some(r) = role.as_deref().filter(|r| !["gateway", "inventory", "payment"].contains(r)) {
        return Err(format!("--role {r}: expected gateway, inventory or payment").into());
    }
    let mut config = raceway::Config::from_env()?;
    if config.service_name == raceway::Config::default().service_name {
        config = config.service_name(role.as_deref().unwrap_or("shop"));
    }
    let shipping_to = config.server_url.clone();
    let guard = raceway::init(config)?;
    // In one process each layer names its service; as its own process, a service is named by
    // its `init`, and its layer needs no name.
    let layer = |name: &str| match role {
        Some(_) => RacewayLayer::new(),
        None => RacewayLayer::new().service_name(name),
    };

    // A downstream role serves until Enter, then flushes (and prints its own analyzer's report).
    let downstream = match role.as_deref() {
        Some("inventory") => {
            Some((addr_arg("--listen", "127.0.0.1:3001")?, Router::new().route("/reserve", post(reserve))))
        }
        Some("payment") => {
            Some((addr_arg("--listen", "127.0.0.1:3002")?, Router::new().route("/charge", post(charge))))
        }
        _ => None,
    };
    if let (Some((addr, router)), Some(name)) = (downstream, role.as_deref()) {
        let addr = listen_on(addr, router.layer(layer(name))).await?;
        println!("{name} on http://{addr}, its own process");
        wait_for_enter().await?;
        drop(guard);
        return Ok(());
    }

    // Global use: every route of a service is traced (see `RacewayLayer` for per-route use).
    // Each service under its own name, although they share this process (and its `init`).
    let (inventory, payment) = if role.is_some() {
        (addr_arg("--inventory", "127.0.0.1:3001")?, addr_arg("--payment", "127.0.0.1:3002")?)
    } else {
        let inventory = listen(Router::new().route("/reserve", post(reserve)).layer(layer("inventory"))).await?;
        let payment = listen(Router::new().route("/charge", post(charge)).layer(layer("payment"))).await?;
        (inventory, payment)
    };
    let (ledger_jobs, jobs) = mpsc::unbounded_channel();
    let (done, mut finished) = mpsc::unbounded_channel();
    tokio::spawn(ledger_worker(jobs, done.clone()));
    let client = reqwest::Client::new();
    let state = Gateway { client: client.clone(), inventory, payment, ledger_jobs, done };
    let gateway_addr = match role {
        Some(_) => addr_arg("--listen", "127.0.0.1:3000")?,
        None => "127.0.0.1:0".parse()?,
    };
    let gateway = listen_on(
        gateway_addr,
        Router::new()
            .route("/checkout", post(checkout))
            .route("/health", axum::routing::get(|| async { "ok" }))
            .with_state(state)
            .layer(layer("gateway").skip_paths(["/health"])),
    )
    .await?;

    println!("three services on loopback, {}:", if role.is_some() { "three processes" } else { "one process" });
    println!("  gateway   http://{gateway}   (POST /checkout, GET /health untraced)");
    println!("  inventory http://{inventory}");
    println!("  payment   http://{payment}");
    match &shipping_to {
        Some(url) => println!("events go to {url}\n"),
        None => println!("no RACEWAY_URL: events go to the embedded analyzer (report at exit)\n"),
    }

    if serve {
        println!("serving; try:");
        println!("  curl -s -X POST http://{gateway}/checkout -H 'content-type: application/json' \\");
        println!("       -d '{{\"id\":7,\"amount_cents\":1999}}'");
        wait_for_enter().await?;
    } else {
        // The customer has no trace: each checkout starts its own at the gateway.
        let orders = [Order { id: 1, amount_cents: 1999 }, Order { id: 2, amount_cents: 4500 }];
        let replies = futures_join(orders.iter().map(|o| {
            let client = client.clone();
            let body = serde_json::to_vec(o).unwrap_or_default();
            async move {
                let resp = client
                    .post(format!("http://{gateway}/checkout"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status();
                let text = resp.text().await?;
                Ok::<_, reqwest::Error>((status, text))
            }
        }))
        .await;
        for reply in replies {
            let (status, text) = reply?;
            let Ok(r) = serde_json::from_str::<CheckoutReply>(&text) else {
                println!("checkout answered {status}: {text}");
                continue;
            };
            println!("order {} -> {status}   trace {}", r.order, r.gateway.trace_id);
            println!("  {:<9} span {}", r.gateway.service, r.gateway.span_id);
            for (i, hop) in r.downstream.iter().enumerate() {
                let branch = if i + 1 == r.downstream.len() { "└─" } else { "├─" };
                let same = if hop.trace_id == r.gateway.trace_id { "same trace" } else { "OTHER TRACE" };
                println!(
                    "  {branch} {:<9} span {}  upstream {}  ({same})",
                    hop.service,
                    hop.span_id,
                    hop.upstream_span_id.as_deref().unwrap_or("-"),
                );
            }
        }
        // Two background pieces per order; they finish after the responses were sent.
        println!("\nafter the responses:");
        for _ in 0..orders.len() * 2 {
            match tokio::time::timeout(Duration::from_secs(5), finished.recv()).await {
                Ok(Some(d)) => println!("  order {}: {} in trace {}…", d.order, d.what, short(&d.trace_id)),
                _ => {
                    println!("  (background work did not finish in time)");
                    break;
                }
            }
        }
        // The stock lives in the inventory service's process: known here only when that is this one.
        if role.is_none() {
            println!("\ninventory stock: 100 -> {} after 2 orders (a lost update)", STOCK.load(Ordering::SeqCst));
        }
    }

    // Dropping the guard flushes and stops the exporter (and prints the analyzer's report).
    drop(guard);
    if shipping_to.is_some() {
        let s = raceway::stats();
        println!(
            "\nraceway: {} events delivered, {} undeliverable, {} rejected",
            s.delivered, s.undeliverable, s.rejected
        );
    }
    Ok(())
}

/// Awaits all futures concurrently, keeping their order (a small `futures::join_all`).
async fn futures_join<F: std::future::Future + Send + 'static>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(v) => out.push(v),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}
