//! The `tracing` bridge installed as the process's global subscriber, next to a real exporter:
//! the exporter's HTTP client reports its connections through `tracing` on Raceway's delivery
//! thread, and none of that may be recorded (each batch would record events for the next one,
//! without end); and `shutdown` reports the analyzer's findings as `tracing` warnings.
//!
//! A global subscriber and `init`/`shutdown` are once per process: one test, in a binary of its
//! own.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::collector::Collector;
use tracing_subscriber::prelude::*;

/// Keeps the `raceway` warnings' `kind` and `variable` fields.
#[derive(Clone, Default)]
struct Findings(Arc<Mutex<Vec<(String, String)>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().into(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().into(), value.into()));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Findings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "raceway" {
            let mut fields = Vec::new();
            event.record(&mut Fields(&mut fields));
            let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
            self.0.lock().unwrap().push((get("kind"), get("variable")));
        }
    }
}

#[tracing::instrument]
fn pay(order: u64) {}

#[test]
fn the_exporters_own_tracing_events_are_not_recorded_config_limits_apply_and_shutdown_reports_findings_as_warnings() {
    let findings = Findings::default();
    tracing_subscriber::registry().with(raceway::tracing::layer()).with(findings.clone()).init();
    let collector = Collector::start();
    let guard = raceway::init(
        raceway::Config::default()
            .server_url(collector.url())
            .analyze(true)
            .service_name("shop")
            .flush_interval(Duration::from_millis(20))
            .capture_args(false)
            .max_value_bytes(16),
    )
    .unwrap();

    tracing::info!(note = "x".repeat(100).as_str(), "checkout started");
    pay(7);
    raceway::flush();
    assert!(collector.wait_for(Duration::from_secs(5), |e| e.len() >= 3), "the events were delivered");
    // Several more batches' worth of time: the exporter's connection events must not come back.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(30));
        raceway::flush();
    }
    let names: Vec<String> = collector
        .accepted_events()
        .iter()
        .map(|e| match (&e["kind"]["Custom"], &e["kind"]["FunctionCall"]) {
            (c, _) if c.is_object() => c["name"].to_string(),
            (_, f) if f["args"]["exit"] == true => format!("{}_end", f["function_name"].as_str().unwrap()),
            (_, f) if f.is_object() => format!("{}_call", f["function_name"].as_str().unwrap()),
            _ => e["kind"].to_string(),
        })
        .collect();
    assert_eq!(names, ["\"checkout started\"", "pay_call", "pay_end"], "only the program's own events");
    let events = collector.accepted_events();
    let note = events[0]["kind"]["Custom"]["data"]["note"].as_str().unwrap();
    assert!(note.starts_with("xxxxxxxxxxxxxxxx…<truncated"), "cut at max_value_bytes: {note}");
    assert_eq!(events[1]["kind"]["FunctionCall"]["args"], serde_json::Value::Null, "capture_args(false): no args");

    let a = raceway::thread::spawn(|| raceway::track_write("balance", &0, &1));
    let b = raceway::thread::spawn(|| raceway::track_write("balance", &0, &2));
    a.join().unwrap();
    b.join().unwrap();
    assert!(findings.0.lock().unwrap().is_empty(), "nothing is reported before the report is made");
    drop(guard);
    let got = findings.0.lock().unwrap().clone();
    assert_eq!(got, [("race".to_owned(), "balance".to_owned())], "shutdown's report, one warning per finding");
}
