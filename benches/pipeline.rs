//! End-to-end throughput: two recording threads, the exporter, and a loopback HTTP collector that
//! accepts everything. Also peak memory, and memory with the collector down.
//!
//! Run: `cargo bench --bench pipeline`. Results and the machine are in BENCHMARKS.md.
//!
//! Each iteration records `iters` events split over two threads as fast as they can and ends when
//! `flush()` returns, i.e. when the collector has answered for every event: the time is end to end.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A collector that reads each request, discards the body and answers 200.
fn discard_collector() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::with_capacity(1 << 16, stream);
                let mut body = Vec::new();
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    body.resize(len, 0);
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let reply = r#"{"success":true,"data":"Ingested","error":null}"#;
                    let resp = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{reply}", reply.len());
                    if writer.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn record_on_two_threads(total: u64) {
    let per = total / 2;
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..per {
                    raceway::track_write("counter", &(i + t), &(i + t + 1));
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

fn pipeline(c: &mut Criterion) {
    let url = discard_collector();
    let guard = raceway::init(
        raceway::Config::default()
            .server_url(url)
            .service_name("bench")
            .batch_size(2_000)
            .queue_capacity(1 << 16)
            .flush_interval(Duration::from_millis(50)),
    )
    .unwrap();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    const EVENTS: u64 = 400_000;
    g.throughput(Throughput::Elements(EVENTS));
    g.bench_function("two_threads_to_loopback_collector", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                record_on_two_threads(EVENTS);
                raceway::flush();
            }
            start.elapsed()
        })
    });
    g.finish();
    drop(guard);
    let s = raceway::stats();
    println!(
        "pipeline: delivered {} events, dropped {} (queue full), peak RSS {:.1} MiB",
        s.delivered,
        s.dropped_queue_full,
        peak_rss_mib()
    );

    // The collector down: a closed port. Memory must stay under the queue's cap and every event
    // must be counted, delivered or dropped.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let before = peak_rss_mib();
    let guard = raceway::init(
        raceway::Config::default()
            .server_url(format!("http://{closed}"))
            .queue_capacity(1 << 16)
            .shutdown_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let start = Instant::now();
    record_on_two_threads(4_000_000);
    let took = start.elapsed();
    drop(guard);
    let s = raceway::stats();
    println!(
        "collector down: 4,000,000 events recorded in {took:?} ({:.0} ns/event/thread), {} dropped and counted, {} undeliverable, peak RSS {:.1} MiB (was {:.1})",
        took.as_nanos() as f64 / 2_000_000.0,
        s.dropped_queue_full,
        s.undeliverable,
        peak_rss_mib(),
        before
    );
    assert_eq!(s.dropped_queue_full + s.undeliverable + s.delivered, 4_000_000, "every event accounted for");
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
