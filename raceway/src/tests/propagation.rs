//! Clocks made by recording tasks, both ways: a request's carries the caller's own component
//! within the cap; a response's carries the callee's, and merged into the caller it orders the
//! caller's later work after the callee's.

use crate::analyzer::analyze;
use crate::context::{process, Context};
use crate::event::clock::Component;
use crate::event::id::TaskId;
use crate::event::{Event, EventKind};
use crate::instrument::track::track_write;
use crate::propagation::{
    base64url, merge_response_headers, propagation_headers, response_headers, Incoming, MAX_CLOCK_COMPONENTS,
    MAX_HEADER_BYTES, RACEWAY_CLOCK,
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

#[cfg(raceway_on)]
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

/// A call served in this process: the callee continues from the caller's request headers (as the
/// tower layer does), writes `x`, and answers with its response headers.
fn serve_write(request: HashMap<String, String>) -> (TaskId, HashMap<String, String>) {
    Context::from_headers(&request).in_scope(|| {
        track_write("x", &1, &2);
        (Context::current_task().unwrap(), response_headers().unwrap())
    })
}

fn no_headers() -> std::iter::Empty<(String, String)> {
    std::iter::empty()
}

#[test]
fn a_response_clock_names_the_callees_span_and_counts_its_work() {
    let got = capture(|| {
        let request = propagation_headers(no_headers()).unwrap();
        let (callee, response) = serve_write(request.clone());
        (request, callee, response)
    });
    let (request, callee, response) = got.output;
    let sent = decode(&request);
    let back = decode(&response);
    assert!(response[RACEWAY_CLOCK].starts_with("v1;"));
    assert_eq!(back["span_id"], sent["span_id"], "the span the caller made for the call is the callee's");
    assert_eq!(back["parent_span_id"], sent["parent_span_id"], "and its parent is the caller's span");
    assert_eq!(back["trace_id"], sent["trace_id"]);
    let callee_writes = got.events.iter().filter(|e| e.task == callee).count() as u64;
    assert!(back["clock"].as_array().unwrap().contains(&serde_json::json!([callee.thread_id(), callee_writes])));
    let peer = Incoming::parse(response.iter());
    assert_eq!(peer.clock.len(), back["clock"].as_array().unwrap().len(), "a peer SDK reads it as a request clock");
}

#[test]
fn a_merged_response_orders_the_callers_next_write_after_the_callees_work() {
    for _ in 0..20 {
        let got = capture(|| {
            track_write("x", &0, &1);
            let (callee, response) = serve_write(propagation_headers(no_headers()).unwrap());
            assert!(merge_response_headers(&response));
            track_write("x", &2, &3);
            callee
        });
        let callee = got.output;
        let report = analyze(&got.events);
        assert!(report.is_clean(), "{report}");
        let merge = got
            .events
            .iter()
            .find(|e| matches!(&e.kind, EventKind::Custom { name, .. } if name.as_str() == "response_clock"))
            .unwrap();
        let callee_last = got.events.iter().filter(|e| e.task == callee).map(|e| e.clock.own_count()).max().unwrap();
        assert_eq!(merge.clock.get_task(callee), callee_last, "the merge point knows all the callee did");
        assert_eq!(merge.task, got.events[0].task, "recorded by the caller");
    }
}

#[test]
fn without_a_response_clock_the_callers_next_write_still_races_and_nothing_is_recorded() {
    for _ in 0..20 {
        let got = capture(|| {
            track_write("x", &0, &1);
            let (_, mut response) = serve_write(propagation_headers(no_headers()).unwrap());
            response.remove(RACEWAY_CLOCK); // a callee without Raceway
            assert!(!merge_response_headers(&response));
            track_write("x", &2, &3);
        });
        let report = analyze(&got.events);
        assert_eq!(report.races_on("x").count(), 1, "{report}");
        assert!(!got.events.iter().any(|e| matches!(&e.kind, EventKind::Custom { .. })), "no merge event");
    }
}

#[test]
fn invalid_or_repeated_response_clocks_change_nothing() {
    let got = capture(|| {
        let (_, response) = serve_write(propagation_headers(no_headers()).unwrap());
        let valid = response[RACEWAY_CLOCK].clone();
        let empty_clock = format!("v1;{}", base64url::encode(br#"{"clock":[]}"#));
        let before = own_clock();
        let cases: [Vec<(&str, &str)>; 5] = [
            vec![(RACEWAY_CLOCK, "v1;!!not base64!!")],
            vec![(RACEWAY_CLOCK, &valid[1..])],
            vec![(RACEWAY_CLOCK, &valid), (RACEWAY_CLOCK, &valid)],
            vec![(RACEWAY_CLOCK, &empty_clock)],
            vec![("traceparent", TP)],
        ];
        for headers in cases {
            assert!(!merge_response_headers(headers.clone()), "{headers:?}");
        }
        assert_eq!(own_clock(), before, "the caller's clock did not change");
        assert!(merge_response_headers([("Raceway-Clock", valid.as_str())]), "names in any case, as for requests");
    });
    let merges = got.events.iter().filter(|e| matches!(&e.kind, EventKind::Custom { .. })).count();
    assert_eq!(merges, 1, "only the valid header recorded a merge");
}

fn own_clock() -> Vec<(Component, u64)> {
    let ctx = Context::current().unwrap();
    ctx.clock.as_ref().map(|c| c.components().map(|(c, v)| (c.clone(), v)).collect()).unwrap_or_default()
}

#[test]
fn a_response_clock_is_capped_like_a_request_clock_keeping_the_callees_own_component() {
    // As many inherited components as an acceptable incoming header can hold.
    let long = "x".repeat(100);
    let encode = |n: usize| {
        let items: Vec<String> = (0..n).map(|i| format!("[\"{long}{i:03}\",1]")).collect();
        format!("v1;{}", base64url::encode(format!(r#"{{"clock":[{}]}}"#, items.join(",")).as_bytes()))
    };
    let n = (1..MAX_CLOCK_COMPONENTS).take_while(|&n| encode(n).len() <= MAX_HEADER_BYTES).last().unwrap();
    let header = encode(n);
    let got = capture(|| {
        let ctx = Context::from_headers([("traceparent", TP.to_string()), ("raceway-clock", header)]);
        ctx.in_scope(|| {
            track_write("y", &0, &1);
            (Context::current_task().unwrap(), response_headers().unwrap())
        })
    });
    let (task, response) = got.output;
    assert!(response[RACEWAY_CLOCK].len() <= MAX_HEADER_BYTES, "{}", response[RACEWAY_CLOCK].len());
    let back = Incoming::parse(response.iter());
    assert_eq!(back.clock[0].0, process::current().clock_component().to_string());
    assert_eq!(back.clock[1], (task.thread_id(), 1), "the callee task's own component survives the cap");
    assert!(back.clock.len() < n + 2, "inherited components were dropped to fit");
}

#[test]
fn a_call_between_two_services_of_this_process_is_ordered_by_the_callers_task() {
    let got = capture(|| {
        track_write("x", &0, &1);
        let caller = Context::current_task().unwrap();
        let (callee, _) = serve_write(propagation_headers(no_headers()).unwrap());
        (caller, callee)
    });
    let (caller, callee) = got.output;
    let write: &Event = got.events.iter().find(|e| e.task == callee).unwrap();
    assert_eq!(write.clock.get_task(caller), 1, "the caller's task, as its own events name it");
    let remote = Component::Remote(process::current().thread_id(caller).into());
    assert!(write.clock.components().all(|(c, _)| *c != remote), "and not a second, remote copy of it");
    assert!(analyze(&got.events).is_clean());
}
