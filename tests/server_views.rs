//! What the server's own views make of a Rust trace. The server keys durations by event kind
//! (contract §5): `FunctionCall(<function_name>)`, `Custom(<name>)`, anything else as "other".
//! The bank example, shipped to a loopback collector, must give every function's duration to
//! that function's key, in events the strict server mirror accepts.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;
use support::collector::Collector;
use support::server_types::{parse_batch, Kind};

/// The key the server's critical path, anomaly and performance views group a duration under.
fn server_key(kind: &Kind) -> String {
    match kind {
        Kind::FunctionCall { function_name, .. } => format!("FunctionCall({function_name})"),
        Kind::Custom { name, .. } => format!("Custom({name})"),
        other => other.name().to_owned(),
    }
}

/// `cargo test` builds the examples next to the test binaries: `<target>/debug/examples/bank`.
fn bank_example() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/debug");
    dir.join("examples").join(format!("bank{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn the_bank_examples_function_durations_are_keyed_by_function_name_on_the_wire() {
    let collector = Collector::start();
    let out = Command::new(bank_example())
        .env("RACEWAY_URL", collector.url())
        .env("RACEWAY_ANALYZE", "0")
        .output()
        .expect("run the bank example (built by `cargo test`)");
    assert!(out.status.success(), "bank failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(collector.wait_for(Duration::from_secs(10), |e| !e.is_empty()), "nothing reached the collector");

    let mut durations: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (req, _) in collector.requests() {
        for e in parse_batch(&req.body).events {
            if let Some(d) = e.metadata.duration_ns {
                durations.entry(server_key(&e.kind)).or_default().push(d);
            }
        }
    }
    for function in ["transfer", "fraud_check"] {
        let key = format!("FunctionCall({function})");
        let timed = durations.get(&key).unwrap_or_else(|| panic!("no duration under {key}: {durations:?}"));
        assert!(timed.iter().all(|&d| d > 0), "{key}: {timed:?}");
    }
    // Nothing of a function's time lands under a shared key the server cannot attribute.
    assert!(!durations.contains_key("Custom(function_exit)"), "{durations:?}");
    assert!(durations.keys().all(|k| k.starts_with("FunctionCall(") || k == "HttpResponse"), "{durations:?}");
}
