//! The exporter against a loopback collector: what reaches the server, in which order, and what
//! happens when the server misbehaves.

mod support;

use raceway::{AccessType, Config, LockKind};
use std::collections::HashSet;
use std::time::Duration;
use support::assert_parents_first_and_no_duplicates;
use support::collector::{Collector, Reply};
use support::serial;
use support::server_types::{parse_batch, Kind};

/// Each access its own event (no coalescing of hot loops): these tests count what is sent per
/// event recorded.
fn config(c: &Collector) -> Config {
    Config::default()
        .coalesce_accesses(false)
        .server_url(c.url())
        .service_name("exporter-test")
        .flush_interval(Duration::from_millis(50))
        .request_timeout(Duration::from_secs(2))
}

#[test]
fn every_event_kind_matches_the_servers_schema() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c).tag("team", "core")).unwrap();
    let m = std::sync::Mutex::new(1);
    std::thread::spawn(move || {
        raceway::track_function_call("transfer", &serde_json::json!({"amount": 5}));
        {
            let _f = raceway::start_function("timed", &());
        }
        raceway::track_state_change("accounts[alice].balance", &100, &50, AccessType::Write);
        raceway::track_state_change("accounts[alice].balance", &(), &50, AccessType::Read);
        raceway::track_state_change("flag", &false, &true, AccessType::AtomicWrite);
        raceway::track_state_change("flag", &(), &true, AccessType::AtomicRead);
        raceway::track_state_change("ctr", &1, &2, AccessType::AtomicRMW);
        raceway::with_lock(&m, "m", |v| *v += 1);
        raceway::track_lock_acquire("rw", LockKind::RwLockRead);
        raceway::track_lock_release("rw", LockKind::RwLockRead);
        raceway::track_memory_fence(std::sync::atomic::Ordering::SeqCst);
        raceway::track_http_request_with("POST", "/transfer", [("x-req", "1")], &serde_json::json!({"a": 1}));
        raceway::track_http_response(200, Duration::from_millis(12));
        raceway::track_database_query("SELECT 1", "pg", Duration::from_millis(3));
        raceway::track_database_result(1);
        raceway::track_error(&std::io::Error::other("upstream timed out"));
        raceway::track_custom("cache_miss", &serde_json::json!({"key": "k", "pi": 3.5}));
        raceway::thread::spawn(|| raceway::track_write("x", &0, &1)).join().unwrap();
        raceway::track_write("weird \"name\"\n\u{1}é", &"ünïcødé \u{0}", &f64::NAN);
    })
    .join()
    .unwrap();
    assert!(raceway::flush());
    drop(guard);

    let mut kinds = HashSet::new();
    for (req, status) in c.requests() {
        assert_eq!(status, 200);
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/events");
        assert_eq!(req.header("content-type"), Some("application/json"));
        for e in parse_batch(&req.body).events {
            kinds.insert(e.kind.name());
            assert!(e.metadata.thread_id.starts_with("exporter-test-"), "{}", e.metadata.thread_id);
            assert_eq!(e.metadata.process_id, std::process::id());
            assert_eq!(e.metadata.service_name, "exporter-test");
            assert_eq!(e.metadata.environment, "development");
            assert_eq!(e.metadata.tags.get("team").map(String::as_str), Some("core"));
            assert_eq!(e.metadata.tags.get("sdk_language").map(String::as_str), Some("rust"));
            assert!(e.metadata.instance_id.is_some());
            assert!(!e.causality_vector.is_empty());
            if let Kind::StateChange { location, .. } = &e.kind {
                assert!(location.starts_with("tests/exporter.rs:"), "caller's location, got {location}");
            }
        }
    }
    let expected = [
        "FunctionCall",
        "Custom",
        "StateChange",
        "LockAcquire",
        "LockRelease",
        "MemoryFence",
        "HttpRequest",
        "HttpResponse",
        "DatabaseQuery",
        "DatabaseResult",
        "Error",
        "AsyncSpawn",
        "AsyncAwait",
    ];
    for k in expected {
        assert!(kinds.contains(k), "no {k} event reached the server; got {kinds:?}");
    }
}

#[test]
fn parents_precede_children_across_batches_with_many_concurrent_tasks() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c).batch_size(7)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    rt.block_on(async {
        let mut handles = Vec::new();
        for t in 0..40 {
            handles.push(raceway::spawn(async move {
                for i in 0..50 {
                    raceway::track_write(format!("v{}", i % 5), &i, &(i + t));
                    if i % 10 == 0 {
                        tokio::task::yield_now().await;
                        let inner = raceway::spawn(async move { raceway::track_read("shared", &t) });
                        inner.await.unwrap();
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    drop(guard);
    let events = c.accepted_events();
    // 40 tasks × (50 writes + 5 × (spawn, read, join)) + 40 × (spawn, join) of the outer tasks.
    assert_eq!(events.len(), 40 * (50 + 15) + 80);
    assert_parents_first_and_no_duplicates(&events);
    assert!(c.requests().len() > 100, "batches of 7 events: many requests");
    assert_eq!(raceway::stats().dropped_queue_full, 0);
}

#[test]
fn shutdown_delivers_every_event_recorded_before_it() {
    let _s = serial();
    let c = Collector::start();
    // A long interval: only shutdown can be what sends them.
    let guard = raceway::init(config(&c).flush_interval(Duration::from_secs(3600)).batch_size(1000)).unwrap();
    for i in 0..555 {
        raceway::track_write("x", &i, &(i + 1));
    }
    drop(guard);
    assert_eq!(c.accepted_events().len(), 555);
    // After shutdown, tracking is a no-op again.
    raceway::track_write("x", &0, &1);
    assert_eq!(c.accepted_events().len(), 555);
}

#[test]
fn an_absent_server_bounds_memory_counts_drops_and_leaves_the_host_alone() {
    let _s = serial();
    // A port with nothing listening: bind, note the address, close.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let guard = raceway::init(
        Config::default()
            .server_url(format!("http://{addr}"))
            .coalesce_accesses(false)
            .queue_capacity(1000)
            .flush_interval(Duration::from_millis(20))
            .shutdown_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let start = std::time::Instant::now();
    for i in 0..50_000 {
        raceway::track_write("x", &i, &(i + 1));
    }
    let elapsed = start.elapsed();
    let s = raceway::stats();
    assert!(s.dropped_queue_full >= 45_000, "queue capped at 1000 (+ one round in flight): {s:?}");
    // Recording never waited for the network: 50k events in well under a second even unoptimised.
    assert!(elapsed < Duration::from_secs(5), "recording took {elapsed:?}");
    drop(guard);
    let s = raceway::stats();
    assert!(s.retries > 0, "connection refused is retried: {s:?}");
    assert_eq!(s.delivered, 0);
    assert!(s.undeliverable > 0, "what was queued at the deadline is counted: {s:?}");
}

#[test]
fn busy_and_unavailable_answers_are_retried_before_any_later_batch() {
    let _s = serial();
    let c = Collector::with(|req, n| match n {
        0 => Reply::Status(503, "{}".into()),
        1 => Reply::Status(429, r#"{"success":false,"data":null,"error":"Too Many Requests"}"#.into()),
        2 => Reply::Status(502, "bad gateway".into()),
        _ => Reply::ok(req.events().len()),
    });
    let guard = raceway::init(config(&c).batch_size(5)).unwrap();
    for i in 0..40 {
        raceway::track_write("x", &i, &(i + 1));
    }
    drop(guard);
    let reqs = c.requests();
    // The first three answers were refusals of the same body, resent as is.
    assert_eq!(reqs[0].0.body, reqs[1].0.body);
    assert_eq!(reqs[1].0.body, reqs[2].0.body);
    assert_eq!(reqs[2].0.body, reqs[3].0.body);
    let events = c.accepted_events();
    assert_eq!(events.len(), 40);
    assert_parents_first_and_no_duplicates(&events);
    let news: Vec<_> = events.iter().map(|e| e["kind"]["StateChange"]["old_value"].as_i64().unwrap()).collect();
    assert_eq!(news, (0..40).collect::<Vec<_>>(), "recording order kept");
    assert_eq!(raceway::stats().retries, 3);
}

#[test]
fn a_rejected_event_is_isolated_by_splitting_and_the_rest_delivered() {
    let _s = serial();
    // The server refuses (422) any batch holding the poisoned event, as it does for one bad event.
    let c = Collector::with(|req, _| {
        if String::from_utf8_lossy(&req.body).contains("poison") {
            Reply::Status(422, "events[3].kind: unknown variant".into())
        } else {
            Reply::ok(req.events().len())
        }
    });
    let guard = raceway::init(config(&c).batch_size(16)).unwrap();
    for i in 0..16 {
        if i == 11 {
            raceway::track_custom("poison", &i);
        } else {
            raceway::track_write("x", &i, &(i + 1));
        }
    }
    drop(guard);
    let events = c.accepted_events();
    assert_eq!(events.len(), 15, "only the bad event is lost");
    assert_eq!(raceway::stats().rejected, 1);
    // Halves of a refused request are new requests of events the server never stored: no duplicate.
    let mut ids = HashSet::new();
    assert!(events.iter().all(|e| ids.insert(e["id"].as_str().unwrap().to_string())));
}

#[test]
fn a_too_large_answer_splits_the_batch() {
    let _s = serial();
    // A proxy in front of the server with a smaller body limit than ours.
    let c = Collector::with(|req, _| {
        if req.body.len() > 3000 {
            Reply::Status(413, "too large".into())
        } else {
            Reply::ok(req.events().len())
        }
    });
    let guard = raceway::init(config(&c).batch_size(100)).unwrap();
    for i in 0..60 {
        raceway::track_write("x", &i, &(i + 1));
    }
    drop(guard);
    let events = c.accepted_events();
    assert_eq!(events.len(), 60);
    assert_parents_first_and_no_duplicates(&events);
    assert_eq!(raceway::stats().rejected, 0);
}

#[test]
fn requests_the_server_may_have_processed_are_never_resent() {
    let _s = serial();
    for reply in [
        Reply::Status(500, "oops".into()),
        Reply::Status(401, r#"{"success":false,"data":null,"error":"Unauthorized"}"#.into()),
        Reply::Delayed(Duration::from_millis(1500), 200, "{}".into()),
        Reply::Reset,
    ] {
        let r = reply.clone();
        let c = Collector::with(move |_, _| r.clone());
        let guard = raceway::init(config(&c).request_timeout(Duration::from_millis(400)).batch_size(10)).unwrap();
        for i in 0..10 {
            raceway::track_write("x", &i, &(i + 1));
        }
        drop(guard);
        assert_eq!(c.requests().len(), 1, "{reply:?}: sent exactly once");
        let s = raceway::stats();
        assert_eq!(s.retries, 0, "{reply:?}");
        assert_eq!(s.rejected + s.undeliverable, 10, "{reply:?}: counted, {s:?}");
    }
}

#[test]
fn a_206_answer_counts_server_side_drops_without_resending() {
    let _s = serial();
    let c = Collector::with(|req, _| {
        let n = req.events().len();
        Reply::Status(206, format!(r#"{{"success":true,"data":"Ingested {n} events, 3 errors","error":null}}"#))
    });
    let guard = raceway::init(config(&c).batch_size(10)).unwrap();
    for i in 0..10 {
        raceway::track_write("x", &i, &(i + 1));
    }
    drop(guard);
    assert_eq!(c.requests().len(), 1);
    assert_eq!(raceway::stats().server_dropped, 3);
}

#[test]
fn the_api_key_travels_only_in_the_authorization_header() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c).api_key("k-123-secret").debug(true)).unwrap();
    raceway::track_write("x", &0, &1);
    drop(guard);
    let reqs = c.requests();
    assert!(!reqs.is_empty());
    for (r, _) in reqs {
        assert_eq!(r.header("authorization"), Some("Bearer k-123-secret"));
        assert!(!String::from_utf8_lossy(&r.body).contains("k-123-secret"));
    }
}

#[test]
fn batches_respect_the_byte_cap() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c).batch_size(1000).max_batch_bytes(64 * 1024)).unwrap();
    let big = "y".repeat(3000);
    for _ in 0..200 {
        raceway::track_custom("big", &big);
    }
    drop(guard);
    let reqs = c.requests();
    assert!(reqs.iter().all(|(r, _)| r.body.len() <= 64 * 1024), "every body under the cap");
    assert_eq!(c.accepted_events().len(), 200);
}

#[test]
fn a_huge_value_is_truncated_not_a_lost_batch() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c).max_value_bytes(4096)).unwrap();
    raceway::track_custom("huge", &"z".repeat(5_000_000));
    // 1000 strings of 4 KiB each survive capture (each under the caps) but make a 4 MB event:
    // too big for any request, so its values are replaced by a size note.
    let many: Vec<String> = (0..1000).map(|_| "w".repeat(4000)).collect();
    raceway::track_custom("many", &many);
    raceway::track_write("after", &0, &1);
    drop(guard);
    let events = c.accepted_events();
    assert_eq!(events.len(), 3);
    let huge = events[0]["kind"]["Custom"]["data"].as_str().unwrap();
    assert!(huge.len() < 4200 && huge.ends_with("…<truncated, 5000000 bytes>"), "{}", &huge[4000..]);
    assert!(events[1]["kind"]["Custom"]["data"].as_str().unwrap().starts_with("<value omitted"));
}

#[test]
fn arguments_can_be_kept_out_of_every_event() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c).capture_args(false)).unwrap();
    raceway::track_function_call("login", &serde_json::json!({"password": "hunter2"}));
    drop(raceway::start_function("login", &"hunter2"));
    raceway::track_function("login", &"hunter2", || ());
    drop(guard);
    let events = c.accepted_events();
    assert_eq!(events.len(), 5);
    for e in &events {
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
    assert!(events[0]["kind"]["FunctionCall"]["args"].is_null());
}

/// What one task records reaches the server as a chain: each event names the one before as its
/// parent, keeps the task's trace and thread, has an id of its own, and counts one more on the
/// task's clock. This pins the staging path, which writes each event field by field straight into
/// the thread's buffer (`record::stamp_into`), on the wire rather than through a test capture.
#[test]
fn a_tasks_staged_events_reach_the_server_as_one_chain() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c)).unwrap();
    // More events than one staging chunk, so that full chunks are handed over as well.
    const N: u64 = 300;
    std::thread::spawn(|| {
        for i in 0..N {
            raceway::track_write("chain", &i, &(i + 1));
        }
    })
    .join()
    .unwrap();
    assert!(raceway::flush());
    drop(guard);

    let events: Vec<_> = c.requests().into_iter().flat_map(|(req, _)| parse_batch(&req.body).events).collect();
    assert_eq!(events.len() as u64, N);
    assert_eq!(events[0].parent_id, None, "a new thread's first event starts its trace");
    let clock = |e: &support::server_types::Event| e.causality_vector.iter().map(|(_, v)| v).sum::<u64>();
    assert_eq!(clock(&events[0]), 1);
    let mut ids = HashSet::new();
    for pair in events.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert_eq!(after.parent_id.as_ref(), Some(&before.id), "each event's parent is the task's previous one");
        assert_eq!(after.trace_id, before.trace_id);
        assert_eq!(after.metadata.thread_id, before.metadata.thread_id);
        assert_eq!(clock(after), clock(before) + 1, "the task's clock counts each event once");
        assert!(after.timestamp.0 >= before.timestamp.0, "time does not go back within a task");
        assert!(ids.insert(after.id.clone()), "ids are unique");
    }
}
