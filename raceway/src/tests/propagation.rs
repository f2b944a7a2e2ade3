//! Outgoing clocks made by recording tasks: they carry the task's own component, within the cap.

use crate::context::{process, Context};
use crate::instrument::track::track_write;
use crate::propagation::{
    base64url, propagation_headers, Incoming, MAX_CLOCK_COMPONENTS, MAX_HEADER_BYTES, RACEWAY_CLOCK,
};
use crate::testing::capture;
use std::collections::HashMap;

const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Decodes an outgoing `raceway-clock` the way a peer SDK would.
fn decode(headers: &HashMap<String, String>) -> serde_json::Value {
    let enc = headers[RACEWAY_CLOCK].strip_prefix("v1;").unwrap();
    serde_json::from_slice(&base64url::decode(enc).unwrap()).unwrap()
}

#[test]
fn outgoing_clock_carries_the_callers_task_components() {
    let got = capture(|| {
        track_write("x", &0, &1);
        let task = Context::current_task().unwrap();
        (task, propagation_headers(std::iter::empty::<(String, String)>()).unwrap())
    });
    let (task, headers) = got.output;
    let p = decode(&headers);
    assert!(p["clock"].as_array().unwrap().contains(&serde_json::json!([task.thread_id(), 1])));
    assert_eq!(p["parent_span_id"], serde_json::Value::Null, "a trace without a span has no parent span");
}

#[cfg(feature = "enabled")]
#[test]
fn an_outgoing_clock_stays_within_the_header_cap_keeping_the_callers_own_components() {
    // As many inherited components as an acceptable incoming header can hold.
    let long = "x".repeat(100);
    let encode = |n: usize| {
        let items: Vec<String> = (0..n).map(|i| format!("[\"{long}{i:03}\",1]")).collect();
        format!("v1;{}", base64url::encode(format!(r#"{{"clock":[{}]}}"#, items.join(",")).as_bytes()))
    };
    let n = (1..MAX_CLOCK_COMPONENTS).take_while(|&n| encode(n).len() <= MAX_HEADER_BYTES).last().unwrap();
    let header = encode(n);
    assert_eq!(Incoming::parse([("traceparent", TP), ("raceway-clock", &header)]).clock.len(), n);
    let got = capture(|| {
        // Made inside the capture, so the event below is recorded (and counted by the clock).
        let ctx = Context::from_headers([("traceparent", TP.to_string()), ("raceway-clock", header)]);
        ctx.in_scope(|| {
            track_write("y", &0, &1);
            let task = Context::current_task().unwrap();
            (task, propagation_headers(std::iter::empty::<(String, String)>()).unwrap())
        })
    });
    let (task, headers) = got.output;
    assert!(headers[RACEWAY_CLOCK].len() <= MAX_HEADER_BYTES, "{}", headers[RACEWAY_CLOCK].len());
    let back = Incoming::parse(headers.iter());
    assert_eq!(back.clock[0], (process::current().clock_component().to_string(), 1));
    assert_eq!(back.clock[1], (task.thread_id(), 1), "the calling task's own component survives the cap");
    assert!(back.clock.len() < n + 2, "inherited components were dropped to fit");
}
