//! The headers both ways: W3C strictness, the peers' tolerances, caps, and round trips.

use super::base64url;
use super::traceparent::is_lower_hex;
use super::*;
use crate::context::{process, Context};
use crate::error::Error;
use crate::event::clock::Component;
use std::collections::HashMap;

const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn parse(headers: &[(&str, &str)]) -> Incoming {
    Incoming::parse(headers.iter().copied())
}

fn b64(json: &str) -> String {
    base64url::encode(json.as_bytes())
}

fn clock_header(json: &str) -> String {
    format!("v1;{}", b64(json))
}

#[test]
fn base64url_round_trips_every_length() {
    for len in 0..40 {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let enc = base64url::encode(&data);
        assert!(!enc.contains('='), "no padding written");
        assert_eq!(base64url::decode(&enc), Some(data));
    }
}

#[test]
fn base64url_matches_rfc4648_vectors() {
    for (plain, enc) in
        [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE")]
    {
        assert_eq!(base64url::encode(plain.as_bytes()), enc);
    }
    assert_eq!(base64url::encode(&[0xfb, 0xff]), "-_8");
}

#[test]
fn base64url_reads_padded_and_standard_alphabet_input() {
    assert_eq!(base64url::decode("Zg==").as_deref(), Some(&b"f"[..]));
    assert_eq!(base64url::decode("Zm8=").as_deref(), Some(&b"fo"[..]));
    assert_eq!(base64url::decode("+/8").as_deref(), Some(&[0xfb, 0xff][..]));
    assert_eq!(base64url::decode("-_8=").as_deref(), Some(&[0xfb, 0xff][..]));
}

#[test]
fn base64url_rejects_malformed_input() {
    for bad in ["Z", "Zg=", "Zg===", "Z===", "Zm 9v", "Zm9v!", "=Zm9", "Zm=v"] {
        assert_eq!(base64url::decode(bad), None, "{bad:?}");
    }
}

#[test]
fn no_headers_mean_a_new_trace_without_upstream() {
    assert_eq!(parse(&[]), Incoming::default());
    let ctx = Context::from_headers(std::iter::empty::<(&str, &str)>());
    let span = ctx.span().unwrap();
    assert!(span.span_id.is_some());
    assert_eq!(span.upstream_span_id, None);
}

#[test]
fn a_valid_traceparent_gives_the_trace_and_this_services_span() {
    let got = parse(&[("TraceParent", TP)]);
    assert_eq!(got.trace_id.unwrap().to_string(), "0af76519-16cd-43dd-8448-eb211c80319c");
    assert_eq!(got.span_id.unwrap().to_string(), "b7ad6b7169203331");
    assert_eq!(got.upstream_span_id, None);
}

#[test]
fn traceparent_w3c_violations_are_treated_as_absent() {
    for bad in [
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", // version ff
        "00-00000000000000000000000000000000-b7ad6b7169203331-01", // all-zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", // all-zero span id
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", // uppercase
        "00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", // three fields
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", // five fields in v00
        "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01", // short trace id
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01", // short span id
        "0-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
        "zz-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "",
        "garbage",
    ] {
        assert_eq!(parse(&[("traceparent", bad)]), Incoming::default(), "{bad:?}");
    }
}

#[test]
fn traceparent_accepts_future_versions_unknown_flags_and_surrounding_spaces() {
    let v = parse(&[("traceparent", "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-09-what-the-future")]);
    assert_eq!(v.span_id.unwrap().to_string(), "b7ad6b7169203331");
    let padded = parse(&[("traceparent", "  00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00 ")]);
    assert!(padded.trace_id.is_some());
}

#[test]
fn a_repeated_traceparent_is_invalid() {
    assert_eq!(parse(&[("traceparent", TP), ("traceparent", TP)]), Incoming::default());
}

#[test]
fn oversized_headers_are_ignored() {
    let huge = format!("{TP}{}", " ".repeat(MAX_HEADER_BYTES));
    assert_eq!(parse(&[("traceparent", &huge)]), Incoming::default());
    let huge_state = "a=".to_string() + &"b".repeat(MAX_HEADER_BYTES);
    let got = parse(&[("traceparent", TP), ("tracestate", &huge_state)]);
    assert!(got.trace_id.is_some());
    assert_eq!(got.tracestate, None);
    let huge_clock = format!("v1;{}", "A".repeat(MAX_HEADER_BYTES));
    let got = parse(&[("raceway-clock", &huge_clock)]);
    assert_eq!(got, Incoming::default());
}

#[test]
fn tracestate_passes_through_joined_but_only_with_a_valid_parent() {
    let got = parse(&[("traceparent", TP), ("tracestate", "a=1"), ("TRACESTATE", "b=2")]);
    assert_eq!(got.tracestate.as_deref(), Some("a=1,b=2"));
    assert_eq!(parse(&[("tracestate", "a=1")]), Incoming::default());
}

#[cfg(raceway_on)]
mod clock_header {
    use super::*;

    #[test]
    fn raceway_clock_overrides_traceparent_and_links_the_upstream_span() {
        let json = r#"{"trace_id":"11111111-2222-4333-8444-555555555555","span_id":"AAAABBBBCCCCDDDD",
            "parent_span_id":"00F067AA0BA902B7","service":"gw","instance":"i1",
            "clock":[["gw#i1",3],["go-4242-7",2.0]]}"#;
        let got = parse(&[("traceparent", TP), ("raceway-clock", &clock_header(json))]);
        assert_eq!(got.trace_id.unwrap().to_string(), "11111111-2222-4333-8444-555555555555");
        assert_eq!(got.span_id.unwrap().to_string(), "aaaabbbbccccdddd", "uppercase normalised");
        assert_eq!(got.upstream_span_id.unwrap().to_string(), "00f067aa0ba902b7");
        assert_eq!(got.clock, vec![("gw#i1".to_string(), 3), ("go-4242-7".to_string(), 2)]);
    }

    #[test]
    fn raceway_clock_alone_starts_no_new_trace() {
        let json = r#"{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","clock":[]}"#;
        let got = parse(&[("raceway-clock", &clock_header(json))]);
        assert_eq!(got.trace_id.unwrap().simple(), "0af7651916cd43dd8448eb211c80319c", "32-hex trace id");
        assert_eq!(got.upstream_span_id, None);
    }

    #[test]
    fn a_clock_without_trace_id_alone_does_not_carry_tracestate() {
        let got = parse(&[
            ("raceway-clock", &clock_header(r#"{"parent_span_id":"00f067aa0ba902b7"}"#)),
            ("tracestate", "a=1"),
        ]);
        assert_eq!(got.trace_id, None);
        assert_eq!(got.tracestate, None);
        assert_eq!(got.upstream_span_id.unwrap().to_string(), "00f067aa0ba902b7");
    }

    #[test]
    fn python_style_padded_base64_is_read() {
        // Python's base64.urlsafe_b64encode pads; this payload needs one `=`.
        let json =
            r#"{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","clock":[["py#1",1]]}"#;
        let mut enc = b64(json);
        while enc.len() % 4 != 0 {
            enc.push('=');
        }
        assert!(enc.ends_with('='), "the vector exercises padding");
        let got = parse(&[("raceway-clock", &format!("v1;{enc}"))]);
        assert_eq!(got.clock, vec![("py#1".to_string(), 1)]);
    }

    #[test]
    fn float_counters_must_be_integral() {
        let ok = r#"{"clock":[["ts#1",5.0],["go#1",1e3]]}"#;
        let got = parse(&[("traceparent", TP), ("raceway-clock", &clock_header(ok))]);
        assert_eq!(got.clock, vec![("ts#1".to_string(), 5), ("go#1".to_string(), 1000)]);
        for bad in [r#"{"clock":[["ts#1",5.5]]}"#, r#"{"clock":[["ts#1",-1]]}"#, r#"{"clock":[["ts#1",1e30]]}"#] {
            let got = parse(&[("traceparent", TP), ("raceway-clock", &clock_header(bad))]);
            assert!(got.clock.is_empty() && got.trace_id.is_some(), "{bad}: clock ignored, traceparent kept");
        }
    }

    #[test]
    fn malformed_raceway_clocks_are_treated_as_absent() {
        for bad in [
            "v2;e30".to_string(),
            "e30".to_string(),
            "v1;***".to_string(),
            clock_header("not json"),
            clock_header("[1,2]"),
            clock_header(r#"{"clock":{"a":1}}"#),
            clock_header(r#"{"clock":[["a",1,2]]}"#),
            clock_header(r#"{"clock":[[1,1]]}"#),
            clock_header(r#"{"clock":["a",1]}"#),
            clock_header(r#"{"clock":[["a","1"]]}"#),
        ] {
            assert_eq!(parse(&[("raceway-clock", &bad)]), Incoming::default(), "{bad}");
        }
    }

    #[test]
    fn too_many_clock_components_are_rejected() {
        let items: Vec<String> = (0..=MAX_CLOCK_COMPONENTS).map(|i| format!("[\"c{i}\",1]")).collect();
        let json = format!(r#"{{"trace_id":"0af7651916cd43dd8448eb211c80319c","clock":[{}]}}"#, items.join(","));
        assert_eq!(parse(&[("raceway-clock", &clock_header(&json))]), Incoming::default());
    }

    #[test]
    fn bad_fields_inside_a_valid_clock_are_dropped_one_by_one() {
        let json = r#"{"trace_id":"00000000-0000-0000-0000-000000000000","span_id":"xyz",
            "parent_span_id":"0000000000000000","clock":[["a",1]]}"#;
        let got = parse(&[("traceparent", TP), ("raceway-clock", &clock_header(json))]);
        assert_eq!(got.trace_id.unwrap().simple(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(got.span_id.unwrap().to_string(), "b7ad6b7169203331");
        assert_eq!(got.upstream_span_id, None);
        assert_eq!(got.clock, vec![("a".to_string(), 1)]);
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..600 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let bytes: Vec<u8> = (0..len).map(|i| (seed >> ((i % 8) * 8)) as u8).collect();
            let as_b64 = format!("v1;{}", base64url::encode(&bytes));
            let _ = Incoming::parse([("raceway-clock", as_b64.as_bytes()), ("traceparent", &bytes[..])]);
            let _ = Incoming::parse([("tracestate", &bytes[..])]);
        }
    }

    /// Decodes an outgoing `raceway-clock` the way a peer SDK would.
    fn decode(headers: &HashMap<String, String>) -> serde_json::Value {
        let enc = headers[RACEWAY_CLOCK].strip_prefix("v1;").unwrap();
        serde_json::from_slice(&base64url::decode(enc).unwrap()).unwrap()
    }

    #[test]
    fn outgoing_headers_follow_the_peer_format_and_keep_the_callers_span() {
        let json = r#"{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",
            "parent_span_id":"00f067aa0ba902b7","clock":[["up#1",4]]}"#;
        let ctx = Context::from_headers([
            ("traceparent", TP.to_string()),
            ("tracestate", "congo=t61".to_string()),
            ("raceway-clock", clock_header(json)),
        ]);
        let (a, b) = ctx.clone().in_scope(|| {
            let a = propagation_headers([("X-Extra", "1"), ("traceparent", "spoofed")]).unwrap();
            let b = propagation_headers(std::iter::empty::<(String, String)>()).unwrap();
            (a, b)
        });
        let tp: Vec<&str> = a[TRACEPARENT].split('-').collect();
        assert_eq!(tp.len(), 4);
        assert_eq!((tp[0], tp[1], tp[3]), ("00", "0af7651916cd43dd8448eb211c80319c", "01"));
        assert!(is_lower_hex(tp[2], 16) && tp[2] != "b7ad6b7169203331", "a new child span");
        assert_eq!(a["X-Extra"], "1");
        assert_eq!(a[TRACESTATE], "congo=t61");
        assert_ne!(a[TRACEPARENT], b[TRACEPARENT], "one child span per call");

        let p = decode(&a);
        assert_eq!(p["trace_id"], "0af76519-16cd-43dd-8448-eb211c80319c");
        assert_eq!(p["span_id"], tp[2]);
        assert_eq!(p["parent_span_id"], "b7ad6b7169203331", "the caller's span, which it keeps");
        let own = process::current().clock_component();
        let clock = p["clock"].as_array().unwrap();
        assert_eq!(clock[0], serde_json::json!([&*own, 1]), "own component incremented from 0");
        assert!(clock.contains(&serde_json::json!(["up#1", 4])), "upstream components forwarded");
        assert_eq!(decode(&b)["clock"][0], serde_json::json!([&*own, 2]), "the increment is kept");

        // The outgoing header reads back with this SDK's (and peers') rules.
        let back = Incoming::parse(a.iter());
        assert_eq!(back.trace_id, Some(ctx.trace_id()));
        assert_eq!(back.span_id.unwrap().to_string(), tp[2]);
        assert_eq!(back.upstream_span_id.unwrap().to_string(), "b7ad6b7169203331");
        assert_eq!(ctx.span().unwrap().span_id.unwrap().to_string(), "b7ad6b7169203331");
    }

    #[test]
    fn an_oversized_outgoing_clock_is_capped_keeping_the_service_component() {
        let items: Vec<String> = (0..MAX_CLOCK_COMPONENTS).map(|i| format!("[\"c{i:03}\",1]")).collect();
        let json = format!(r#"{{"clock":[{}]}}"#, items.join(","));
        let ctx = Context::from_headers([("traceparent", TP.to_string()), ("raceway-clock", clock_header(&json))]);
        let headers = ctx.in_scope(|| propagation_headers(std::iter::empty::<(String, String)>()).unwrap());
        let clock = decode(&headers)["clock"].as_array().unwrap().clone();
        assert_eq!(clock.len(), MAX_CLOCK_COMPONENTS);
        assert_eq!(clock[0][0], &*process::current().clock_component());
        assert_eq!(Incoming::parse(headers.iter()).clock.len(), MAX_CLOCK_COMPONENTS, "a peer reads it back");
    }
}

#[test]
fn propagation_outside_a_trace_is_an_error() {
    let r = std::thread::spawn(|| propagation_headers(std::iter::empty::<(String, String)>())).join().unwrap();
    assert!(matches!(r, Err(Error::NoActiveTrace)));
}

#[test]
fn incoming_context_adds_this_services_component_once() {
    let ctx = Incoming { clock: vec![("up#1".into(), 2)], ..Incoming::default() }.into_context();
    let own = Component::Remote(process::current().clock_component());
    let clock = ctx.clock.as_ref().unwrap();
    assert_eq!(clock.get(&own), 0);
    assert!(clock.components().any(|(c, _)| *c == own));
    assert_eq!(clock.get(&Component::Remote("up#1".into())), 2);
    let again = Incoming { clock: vec![(process::current().clock_component().to_string(), 7)], ..Incoming::default() }
        .into_context();
    assert_eq!(again.clock.as_ref().unwrap().get(&own), 7);
    assert_eq!(again.clock.as_ref().unwrap().components().filter(|(c, _)| **c == own).count(), 1);
}

/// A clock as this process's own headers send it: its `"<service>#<instance>"` counted, then
/// `names` with their counts.
fn sent_by_this_process(names: &[(&str, u64)]) -> Vec<(String, u64)> {
    let own = process::current().clock_component().to_string();
    std::iter::once((own, 1)).chain(names.iter().map(|(n, v)| (n.to_string(), *v))).collect()
}

#[test]
fn this_processs_task_names_read_back_as_its_own_tasks() {
    let p = process::current();
    let task = crate::event::id::TaskId::next();
    let name = p.thread_id(task);
    let got = p.read_clock(sent_by_this_process(&[(&name, 3), ("billing#pod-7", 2)]));
    assert_eq!(got[1], (Component::Task(task), 3), "the same component this process's events carry");
    assert_eq!(got[2], (Component::Remote("billing#pod-7".into()), 2));
    assert_eq!(got[0], (Component::Remote(p.clock_component()), 1));
}

#[test]
fn only_exact_names_of_tasks_this_process_issued_become_tasks() {
    let p = process::current();
    let task = crate::event::id::TaskId::next().as_u64();
    let prefix = crate::event::id::TaskId::thread_id_prefix(&p.service, p.pid);
    let other_pid = crate::event::id::TaskId::thread_id_prefix(&p.service, p.pid.wrapping_add(1));
    let names = [
        format!("{other_pid}{task}"),               // another process of the same service
        format!("x{prefix}{task}"),                 // another service ending like ours
        format!("{prefix}0{task}"),                 // not the canonical number
        format!("{prefix}+{task}"),                 // a sign
        format!("{prefix}{task}x"),                 // trailing text
        prefix.clone(),                             // no number
        format!("{prefix}{}", task + 1_000_000),    // a task not handed out yet
        format!("{prefix}0"),                       // task numbers start at 1
        format!("{prefix}99999999999999999999999"), // beyond u64
    ];
    let clock: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 5)).collect();
    for (c, _) in p.read_clock(sent_by_this_process(&clock)) {
        assert!(matches!(c, Component::Remote(_)), "{c:?}");
    }
}

#[test]
fn task_names_in_a_clock_that_never_counted_this_instance_stay_remote() {
    // Another instance of this service with the same pid (pid 1 in containers) names its tasks
    // like ours; only a clock that descends from our own headers counts our instance.
    let p = process::current();
    let name = p.thread_id(crate::event::id::TaskId::next());
    let own = p.clock_component().to_string();
    for clock in [vec![(name.clone(), 3)], vec![(own, 0), (name.clone(), 3)]] {
        let got = p.read_clock(clock);
        assert_eq!(got.last().unwrap(), &(Component::Remote(name.as_str().into()), 3));
    }
}

#[test]
fn a_request_from_a_task_of_this_process_continues_from_that_task() {
    let p = process::current();
    let caller = crate::event::id::TaskId::next();
    let ctx =
        Incoming { clock: sent_by_this_process(&[(&p.thread_id(caller), 4)]), ..Incoming::default() }.into_context();
    let clock = ctx.clock.as_ref().unwrap();
    assert_eq!(clock.get_task(caller), 4, "the caller's task is a task here too");
    assert_eq!(clock.get(&Component::Remote(p.thread_id(caller).into())), 0, "not a second, remote component");
}

#[test]
fn a_hosted_services_task_names_read_back_as_its_tasks_only_with_its_component_counted() {
    // A gateway and an inventory hosted in this process (`RacewayLayer::service_name`): a clock
    // the gateway sent names the gateway's component and tasks; read by inventory (or by the
    // gateway in a response), they are the same tasks, in the gateway's service.
    use crate::event::service::{self, ServiceId};
    let p = process::current();
    let gateway = service::register(Some("prop-test-gateway"), None);
    let task = crate::event::id::TaskId::next_in(gateway);
    let name = p.thread_id(task);
    assert!(name.starts_with("prop-test-gateway-"), "{name}");
    let own = p.clock_component_of(gateway).to_string();
    let got = p.read_clock(vec![(own.clone(), 1), (name.clone(), 3)]);
    assert_eq!(got[1], (Component::Task(task), 3));
    assert_eq!(task.service(), gateway);
    // Without the gateway's component counted (another process's gateway, same pid): remote.
    let got = p.read_clock(vec![(own, 0), (name.clone(), 3)]);
    assert_eq!(got[1], (Component::Remote(name.as_str().into()), 3));
    // Nor is it read as a task of the process's own service.
    let got = p.read_clock(sent_by_this_process(&[(&name, 3)]));
    assert_eq!(got[1], (Component::Remote(name.as_str().into()), 3));
    assert_ne!(gateway, ServiceId::PROCESS);
}
