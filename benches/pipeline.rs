//! End-to-end pipeline: two recording threads, the exporter, and a loopback HTTP collector that
//! accepts everything. Also peak memory, and memory with the collector down.
//!
//! Run: `cargo bench --bench pipeline` (prints a table; results and machine in BENCHMARKS.md).
//!
//! 1. Sustained: both threads record at a fixed combined rate for 5 s; passes when every event is
//!    delivered (none dropped) and delivery keeps up (the final flush is short).
//! 2. Flat out: both threads record as fast as they can; reports what was delivered per second end
//!    to end (until `flush()` returns) and what was dropped because the exporter fell behind.
//! 3. Collector down: a closed port; memory stays under the queue cap and every event is counted.

mod support;
use std::time::{Duration, Instant};
use support::{discard_collector, peak_rss_mib};

/// Records `per_thread` events on each of two threads; `rate` (events/s per thread) paces them
/// in 1 ms steps, `None` records flat out.
fn record_on_two_threads(per_thread: u64, rate: Option<u64>) {
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            std::thread::spawn(move || {
                let start = Instant::now();
                let step = rate.map(|r| (r / 1000).max(1)).unwrap_or(per_thread);
                let mut i = 0;
                while i < per_thread {
                    for _ in 0..step.min(per_thread - i) {
                        raceway::track_write("counter", &(i + t), &(i + t + 1));
                        i += 1;
                    }
                    if let Some(r) = rate {
                        let due = start + Duration::from_secs_f64(i as f64 / r as f64);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

fn config(url: String) -> raceway::Config {
    raceway::Config::default()
        .server_url(url)
        .service_name("bench")
        // Every event rendered and sent: this measures the exporter per event (a loop on one
        // variable would otherwise go out as a handful of coalesced events).
        .coalesce_accesses(false)
        .batch_size(2_000)
        .queue_capacity(1 << 16)
        .flush_interval(Duration::from_millis(50))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks benches to list their tests
    }
    let url = discard_collector();

    for rate in [500_000u64, 1_000_000, 1_500_000] {
        let guard = raceway::init(config(url.clone())).unwrap();
        let start = Instant::now();
        record_on_two_threads(rate / 2 * 5, Some(rate / 2));
        let recorded = start.elapsed();
        let flushed = Instant::now();
        raceway::flush();
        let flush = flushed.elapsed();
        drop(guard);
        let s = raceway::stats();
        println!(
            "sustained {rate} events/s for {recorded:.2?}: delivered {}, dropped {}, final flush {flush:.2?}, peak RSS {:.1} MiB",
            s.delivered,
            s.dropped_queue_full,
            peak_rss_mib()
        );
    }

    let guard = raceway::init(config(url)).unwrap();
    let start = Instant::now();
    record_on_two_threads(2_000_000, None);
    let recorded = start.elapsed();
    raceway::flush();
    let total = start.elapsed();
    drop(guard);
    let s = raceway::stats();
    println!(
        "flat out: 4,000,000 events recorded in {recorded:.2?} ({:.0} ns/event/thread); delivered {} in {total:.2?} = {:.2} M events/s end to end; dropped {} (exporter behind); peak RSS {:.1} MiB",
        recorded.as_nanos() as f64 / 2_000_000.0,
        s.delivered,
        s.delivered as f64 / total.as_secs_f64() / 1e6,
        s.dropped_queue_full,
        peak_rss_mib()
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let before = peak_rss_mib();
    let guard = raceway::init(
        raceway::Config::default()
            .server_url(format!("http://{closed}"))
            .queue_capacity(1 << 16)
            .shutdown_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let start = Instant::now();
    record_on_two_threads(2_000_000, None);
    let took = start.elapsed();
    drop(guard);
    let s = raceway::stats();
    println!(
        "collector down: 4,000,000 events recorded in {took:.2?} ({:.0} ns/event/thread); {} dropped and counted, {} undeliverable at shutdown; peak RSS {:.1} MiB (before: {before:.1})",
        took.as_nanos() as f64 / 2_000_000.0,
        s.dropped_queue_full,
        s.undeliverable,
        peak_rss_mib()
    );
    assert_eq!(
        s.dropped_queue_full + s.undeliverable + s.delivered + s.coalesced,
        4_000_000,
        "every event accounted for"
    );
}
