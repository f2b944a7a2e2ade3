//! The fault matrix: a collector that goes away, comes back, stalls, or answers nonsense. In every
//! case the host program is unaffected, memory stays bounded, and the documented delivery outcome
//! holds (README, "Delivery guarantees").

mod support;

use raceway::Config;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::collector::{Collector, Reply};
use support::serial;

/// Each access its own event (no coalescing of hot loops): these tests count what arrives per
/// event recorded.
fn config() -> Config {
    Config::default().coalesce_accesses(false)
}

fn ids_in_order_without_duplicates(events: &[serde_json::Value]) -> Vec<i64> {
    let mut seen = HashSet::new();
    for e in events {
        assert!(seen.insert(e["id"].as_str().unwrap().to_string()), "duplicate event {}", e["id"]);
        if let Some(p) = e["parent_id"].as_str() {
            assert!(seen.contains(p), "child before parent");
        }
    }
    events.iter().filter_map(|e| e["kind"]["StateChange"]["new_value"].as_i64()).collect()
}

/// Records `n` writes numbered from `from`, returning the longest single call.
fn record(from: i64, n: i64) -> Duration {
    let mut worst = Duration::ZERO;
    for i in from..from + n {
        let t = Instant::now();
        raceway::track_write("seq", &(i - 1), &i);
        worst = worst.max(t.elapsed());
    }
    worst
}

#[test]
fn a_server_killed_and_restarted_receives_the_backlog_in_order_without_duplicates() {
    let _s = serial();
    let first = Collector::start();
    let addr = first.addr;
    let guard = raceway::init(
        config()
            .server_url(first.url())
            .flush_interval(Duration::from_millis(20))
            .batch_size(25)
            .queue_capacity(10_000),
    )
    .unwrap();
    record(0, 100);
    assert!(raceway::flush());
    let before = first.accepted_events();
    drop(first); // the server dies
    std::thread::sleep(Duration::from_millis(300));

    let worst = record(100, 200); // recorded while it is down
    assert!(worst < Duration::from_millis(50), "recording never waits for the network: worst call {worst:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(raceway::stats().retries > 0, "refused connections are retried: {:?}", raceway::stats());

    let second = Collector::bind(addr, Box::new(|req, _| Reply::ok(req.events().len())));
    let delivered = second.wait_for(Duration::from_secs(15), |e| e.len() >= 200);
    assert!(
        delivered,
        "backlog delivered after restart: {:?}, {} arrived",
        raceway::stats(),
        second.accepted_events().len()
    );
    drop(guard);
    let mut all = before;
    all.extend(second.accepted_events());
    let seq = ids_in_order_without_duplicates(&all);
    assert_eq!(seq, (0..300).collect::<Vec<_>>(), "every event, in recording order, once");
}

#[test]
fn a_slow_server_delays_delivery_but_never_the_host() {
    let _s = serial();
    let c =
        Collector::with(|req, _| Reply::Delayed(Duration::from_millis(700), 200, format!("{}", req.events().len())));
    let guard =
        raceway::init(config().server_url(c.url()).flush_interval(Duration::from_millis(10)).batch_size(10)).unwrap();
    let worst = record(0, 2_000);
    assert!(worst < Duration::from_millis(50), "worst call {worst:?}");
    drop(guard); // shutdown waits up to shutdown_timeout (5 s) for the slow server
    let s = raceway::stats();
    assert_eq!(s.delivered + s.undeliverable, 2_000, "every event accounted for: {s:?}");
    assert!(s.delivered > 0);
    assert_eq!(s.retries, 0, "a slow answer is not a reason to resend");
}

#[test]
fn garbage_answers_are_not_mistaken_for_refusals() {
    let _s = serial();
    let c =
        Collector::with(|_, n| if n % 2 == 0 { Reply::Garbage } else { Reply::Status(206, "not json at all".into()) });
    let guard = raceway::init(config().server_url(c.url()).batch_size(10)).unwrap();
    record(0, 40);
    drop(guard);
    assert_eq!(c.requests().len(), 4, "each batch sent once");
    let s = raceway::stats();
    assert_eq!(s.delivered, 40);
    assert_eq!(s.server_dropped, 0, "an unreadable 206 body counts no drops");
}

#[test]
fn with_the_server_down_memory_stays_under_the_queue_cap_and_every_drop_is_counted() {
    let _s = serial();
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let guard = raceway::init(
        config().server_url(format!("http://{addr}")).queue_capacity(500).shutdown_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let threads: Vec<_> = (0..4).map(|t| std::thread::spawn(move || record(t * 100_000, 25_000))).collect();
    for t in threads {
        assert!(t.join().unwrap() < Duration::from_millis(50));
    }
    drop(guard);
    let s = raceway::stats();
    // Everything is accounted for: queued-then-undeliverable or dropped at record time.
    assert_eq!(s.dropped_queue_full + s.undeliverable + s.delivered, 100_000, "{s:?}");
    assert!(s.dropped_queue_full >= 100_000 - 500 - 4096, "at most the queue and one round in flight: {s:?}");
}

#[test]
fn https_urls_go_through_tls() {
    let _s = serial();
    // A TCP listener that records the first byte a client sends: 0x16 opens a TLS handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let first = std::thread::spawn(move || {
        use std::io::Read;
        let (mut s, _) = listener.accept().unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        b[0]
    });
    let guard = raceway::init(
        config()
            .server_url(format!("https://localhost:{port}"))
            .request_timeout(Duration::from_millis(500))
            .shutdown_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    raceway::track_write("x", &0, &1);
    raceway::flush();
    assert_eq!(first.join().unwrap(), 0x16, "a TLS ClientHello");
    drop(guard);
}
