//! The embedded analyzer: cost per recorded access, and memory over millions of accesses.
//!
//! Run: `cargo bench --bench analyzer`. Results and the machine are in BENCHMARKS.md.
//!
//! The events are real ones, captured once from four threads touching 1,000 variables (half of
//! the accesses under a common lock); the analyzer then observes them, as its sink does on the
//! exporter thread.

mod support;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::peak_rss_mib;

const VARS: usize = 1_000;

fn workload() -> Vec<raceway::Event> {
    let names: Arc<Vec<String>> = Arc::new((0..VARS).map(|v| format!("var{v}")).collect());
    let lock = Arc::new(Mutex::new(()));
    raceway::testing::capture(move || {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (names, lock) = (names.clone(), lock.clone());
                raceway::thread::spawn(move || {
                    for i in 0..25_000usize {
                        let name = names[(i * 7 + t) % VARS].clone();
                        if i % 2 == 0 {
                            raceway::with_lock(&lock, "ledger", |_| raceway::track_write(name, &i, &(i + 1)));
                        } else {
                            raceway::track_read(name, &i);
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
    })
    .events
}

fn analyzer(c: &mut Criterion) {
    let events = workload();
    let accesses = events.iter().filter(|e| matches!(e.kind, raceway::EventKind::StateChange { .. })).count();
    let mut g = c.benchmark_group("analyzer");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.bench_function("observe_per_event", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut a = raceway::Analyzer::new();
                let start = Instant::now();
                for e in &events {
                    a.observe(e);
                }
                total += start.elapsed();
                std::hint::black_box(a.report());
            }
            total
        })
    });
    g.finish();

    // Memory over 10 million accesses to the same 1,000 variables: one analyzer, the workload
    // observed again and again. Peak RSS after 1 M and after 10 M must be the same.
    let mut a = raceway::Analyzer::new();
    let mut seen = 0usize;
    let mut rss_at_1m = 0.0;
    while seen < 10_000_000 {
        for e in &events {
            a.observe(e);
        }
        seen += accesses;
        if rss_at_1m == 0.0 && seen >= 1_000_000 {
            rss_at_1m = peak_rss_mib();
        }
    }
    println!(
        "analyzer memory: peak RSS {rss_at_1m:.1} MiB after 1 M accesses, {:.1} MiB after {} accesses to {VARS} variables ({} events captured once: {:.1} MiB of them)",
        peak_rss_mib(),
        seen,
        events.len(),
        (events.len() * std::mem::size_of::<raceway::Event>()) as f64 / (1 << 20) as f64
    );
    std::hint::black_box(a.report());
}

criterion_group!(benches, analyzer);
criterion_main!(benches);
