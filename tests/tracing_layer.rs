//! The `tracing` bridge (issue 16): an app annotated only with `#[tracing::instrument]` and
//! `tracing` events, with `raceway::tracing::layer()` in its subscriber, records function calls
//! (callsite file:line, fields as args, durations), Custom and Error events, each in the Raceway
//! task that ran it; the wire form passes the strict server mirror. The other direction: the
//! analyzer's findings arrive as `tracing` events (target `raceway`) in a collecting layer, and
//! are not recorded back. And a trace that arrived with a W3C `traceparent` (what an OpenTelemetry
//! propagator sends) keeps its trace id in every event and in the outgoing `traceparent`.
//! Scenario tests run 20 times.

mod support;

use raceway::testing::{capture, capture_async};
use raceway::{Context, Event, EventKind, Report, TaskId};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::prelude::*;

const RUNS: usize = 20;

fn with_layer<R>(f: impl FnOnce() -> R) -> R {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(raceway::tracing::layer()), f)
}

/// The line of `#[tracing::instrument]` on [`checkout`]: the span's callsite.
const CHECKOUT_LINE: u32 = line!() + 2;

#[tracing::instrument]
fn checkout(order: u64, user: &str, express: bool) -> u64 {
    std::thread::sleep(Duration::from_millis(2));
    order * 2
}

fn calls<'a>(events: &'a [Event], name: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::FunctionCall { function_name, .. } if function_name.as_str() == name))
        .collect()
}

fn ends<'a>(events: &'a [Event], name: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::FunctionExit { function_name, .. } if function_name.as_str() == name))
        .collect()
}

#[test]
fn an_instrumented_fn_becomes_a_function_call_at_its_callsite_with_its_fields_as_args_and_an_end_with_its_duration() {
    let c = capture(|| with_layer(|| checkout(7, "alice", true)));
    assert_eq!(c.output, 14);
    let (call, end) = (calls(&c.events, "checkout"), ends(&c.events, "checkout"));
    assert_eq!((call.len(), end.len()), (1, 1), "{:#?}", c.events);
    let EventKind::FunctionCall { module, args, location, .. } = &call[0].kind else { unreachable!() };
    assert_eq!(*module, module_path!(), "the span's target is the module");
    assert_eq!((location.file, location.line), (file!(), CHECKOUT_LINE));
    assert_eq!(args, &serde_json::json!({"order": 7, "user": "alice", "express": true}));
    assert_eq!(call[0].task, end[0].task, "the end is in the caller's task");
    assert_eq!(end[0].parent_id, Some(call[0].id), "nothing ran between: the end follows the call");
    let d = end[0].duration_ns.expect("the end carries the duration");
    assert!(d >= 2_000_000, "the body slept 2 ms: {d} ns");
}

#[test]
fn the_calls_and_ends_on_the_wire_pass_the_strict_server_mirror_and_the_end_carries_the_duration() {
    let c = capture(|| with_layer(|| checkout(1, "bob", false)));
    let wire: Vec<_> = raceway::wire_json(&c.events)
        .iter()
        .map(|e| support::server_types::parse_event(&serde_json::from_str(e).unwrap()))
        .collect();
    let checkout: Vec<_> = wire
        .iter()
        .filter(|e| matches!(&e.kind, support::server_types::Kind::FunctionCall { function_name, .. } if function_name == "checkout"))
        .collect();
    assert_eq!(checkout.len(), 2, "call and end, both `FunctionCall(checkout)` for the server's views");
    assert_eq!(checkout[0].metadata.duration_ns, None);
    assert!(checkout[1].metadata.duration_ns.is_some_and(|d| d >= 2_000_000), "{:?}", checkout[1].metadata);
    let support::server_types::Kind::FunctionCall { file, line, .. } = &checkout[0].kind else { unreachable!() };
    assert_eq!((file.as_str(), *line), (file!(), CHECKOUT_LINE));
}

#[tracing::instrument(skip(shared))]
async fn deposit(account: u32, shared: Arc<Mutex<u64>>) {
    // Polled several times: the span is entered and exited at each poll.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    *shared.lock().unwrap() += 1;
}

/// The task of the one call and the one end of the `deposit` span with `account`.
fn deposit_task(events: &[Event], account: u32) -> TaskId {
    let call: Vec<&Event> = calls(events, "deposit")
        .into_iter()
        .filter(|e| matches!(&e.kind, EventKind::FunctionCall { args, .. } if args["account"] == account))
        .collect();
    assert_eq!(call.len(), 1, "one call for account {account} however often the span was entered");
    let task = call[0].task;
    let end = ends(events, "deposit").into_iter().filter(|e| e.task == task).count();
    assert_eq!(end, 1, "one end for account {account}, in the task of its call");
    task
}

#[test]
fn each_async_span_is_one_call_and_one_end_in_the_task_that_polled_it_20_times() {
    for run in 0..RUNS {
        let _s = tracing_subscriber::registry().with(raceway::tracing::layer()).set_default();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let c = rt.block_on(capture_async(async {
            let shared = Arc::new(Mutex::new(0));
            let a = raceway::spawn(deposit(1, shared.clone()));
            let b = raceway::spawn(deposit(2, shared.clone()));
            a.await.unwrap();
            b.await.unwrap();
            Context::current_task().unwrap()
        }));
        let root = c.output;
        let (a, b) = (deposit_task(&c.events, 1), deposit_task(&c.events, 2));
        assert_ne!(a, b, "run {run}: each span in its own task");
        assert!(a != root && b != root, "run {run}: not in the spawning task");
        assert_eq!(calls(&c.events, "deposit").len(), 2, "run {run}");
        assert_eq!(ends(&c.events, "deposit").len(), 2, "run {run}");
    }
}

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {}

#[test]
fn tracing_events_become_custom_events_and_errors_with_an_error_field_become_errors() {
    let c = capture(|| {
        with_layer(|| {
            tracing::info!(key = "user:7", hits = 3, "cache miss");
            tracing::error!(error = %Declined, order = 7, "charge failed");
            tracing::error!(order = 8, "no error field");
            tracing::warn!(target: "raceway", kind = "race", "Raceway's own finding");
        })
    });
    let kinds: Vec<&EventKind> = c.events.iter().map(|e| &e.kind).collect();
    assert_eq!(kinds.len(), 3, "Raceway's own events are not recorded back: {kinds:#?}");
    let EventKind::Custom { name, data } = kinds[0] else { panic!("{kinds:#?}") };
    assert_eq!((name.as_str(), data), ("cache miss", &serde_json::json!({"key": "user:7", "hits": 3})));
    let EventKind::Error { error_type, message, stack_trace } = kinds[1] else { panic!("{kinds:#?}") };
    assert_eq!((error_type.as_str(), message.as_str()), (module_path!(), "charge failed: card declined"));
    assert!(stack_trace[0].starts_with(file!()), "{stack_trace:?}");
    let EventKind::Custom { name, data } = kinds[2] else { panic!("{kinds:#?}") };
    assert_eq!((name.as_str(), data), ("no error field", &serde_json::json!({"order": 8})));
    for e in raceway::wire_json(&c.events) {
        support::server_types::parse_event(&serde_json::from_str(&e).unwrap());
    }
}

/// A `tracing` layer that keeps the events of target `raceway`, as a log pipeline would see them.
#[derive(Clone, Default)]
struct Findings(Arc<Mutex<Vec<serde_json::Map<String, serde_json::Value>>>>);

struct Fields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Findings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "raceway" && *event.metadata().level() == tracing::Level::WARN {
            let mut map = serde_json::Map::new();
            event.record(&mut Fields(&mut map));
            self.0.lock().unwrap().push(map);
        }
    }
}

/// The line of the first unordered write in [`two_unordered_writes`].
const WRITE_LINE: u32 = line!() + 3;

fn two_unordered_writes() {
    let a = raceway::thread::spawn(|| raceway::track_write("balance", &0, &1));
    let b = raceway::thread::spawn(|| raceway::track_write("balance", &0, &2));
    a.join().unwrap();
    b.join().unwrap();
}

#[test]
fn the_analyzers_findings_arrive_as_tracing_warnings_with_kind_variable_locations_and_tasks_20_times() {
    for run in 0..RUNS {
        let c = capture(two_unordered_writes);
        let findings = Findings::default();
        // Raceway's own layer in the same subscriber: the warnings must not be recorded back.
        let subscriber = tracing_subscriber::registry().with(raceway::tracing::layer()).with(findings.clone());
        let inner = tracing::subscriber::with_default(subscriber, || capture(|| raceway::analyze(&c.events)));
        let (report, recorded) = (inner.output, inner.events);
        assert_eq!(report.races.len(), 1, "run {run}: {report}");
        let got = findings.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "run {run}: one warning per finding: {got:#?}");
        let w = &got[0];
        assert_eq!(w["kind"], "race");
        assert_eq!(w["severity"], "CRITICAL");
        assert_eq!(w["variable"], "balance");
        assert!(w["locations"].as_str().unwrap().contains(&format!("{}:{WRITE_LINE}", file!())), "{w:?}");
        assert_eq!(w["tasks"].as_str().unwrap().split(", ").count(), 2, "{w:?}");
        assert!(w["message"].as_str().unwrap().contains("race on `balance`"), "{w:?}");
        assert!(recorded.is_empty(), "run {run}: the warning was recorded back: {recorded:#?}");
    }
}

#[test]
fn a_lock_order_inversion_arrives_as_a_deadlock_warning_naming_both_locks_and_tasks() {
    use std::sync::Mutex as StdMutex;
    let (accounts, audit) = (Arc::new(StdMutex::new(())), Arc::new(StdMutex::new(())));
    let c = capture(|| {
        // An untracked channel keeps the run safe without ordering the tasks for the analyzer.
        let (done, wait) = std::sync::mpsc::channel();
        let (a1, a2) = (accounts.clone(), audit.clone());
        let transfer = raceway::thread::spawn(move || {
            raceway::with_lock(&a1, "accounts", |_| raceway::with_lock(&a2, "audit", |_| ()));
            done.send(()).unwrap();
        });
        let (b1, b2) = (accounts.clone(), audit.clone());
        let report = raceway::thread::spawn(move || {
            wait.recv().unwrap();
            raceway::with_lock(&b2, "audit", |_| raceway::with_lock(&b1, "accounts", |_| ()));
        });
        transfer.join().unwrap();
        report.join().unwrap();
    });
    let findings = Findings::default();
    let report = tracing::subscriber::with_default(tracing_subscriber::registry().with(findings.clone()), || {
        raceway::analyze(&c.events)
    });
    assert_eq!(report.deadlocks.len(), 1, "{report}");
    let got = findings.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["kind"], "deadlock");
    let locks = got[0]["variable"].as_str().unwrap();
    assert!(locks.contains("accounts") && locks.contains("audit"), "{locks}");
    assert_eq!(got[0]["tasks"].as_str().unwrap().split(", ").count(), 2, "{:?}", got[0]);
    assert!(got[0]["message"].as_str().unwrap().starts_with("lock-order inversion"), "{:?}", got[0]);
}

#[test]
fn a_clean_report_emits_no_warning() {
    let c = capture(|| raceway::track_write("x", &0, &1));
    let findings = Findings::default();
    let report: Report =
        tracing::subscriber::with_default(tracing_subscriber::registry().with(findings.clone()), || {
            raceway::analyze(&c.events)
        });
    assert!(report.is_clean());
    assert!(findings.0.lock().unwrap().is_empty());
}

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

#[test]
fn an_incoming_traceparents_trace_id_is_every_events_trace_id_and_the_outgoing_traceparents() {
    let c = capture(|| {
        let incoming = Context::from_headers([("traceparent", format!("00-{TRACE}-b7ad6b7169203331-01"))]);
        incoming.in_scope(|| {
            with_layer(|| {
                checkout(3, "dave", false);
                tracing::info!("charged");
            });
            raceway::propagation_headers(std::iter::empty::<(String, String)>()).unwrap()
        })
    });
    assert!(c.events.len() >= 3, "{:#?}", c.events);
    for e in &c.events {
        assert_eq!(e.trace_id.to_string().replace('-', ""), TRACE, "{e:?}");
    }
    let outgoing = &c.output["traceparent"];
    assert_eq!(outgoing.split('-').nth(1), Some(TRACE), "{outgoing}");
    for e in raceway::wire_json(&c.events) {
        let e = support::server_types::parse_event(&serde_json::from_str(&e).unwrap());
        assert_eq!(format!("{:032x}", e.trace_id.0), TRACE);
    }
}
