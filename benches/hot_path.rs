//! The recording hot path: what one tracked access costs the host program.
//!
//! Run: `cargo bench --bench hot_path`. Results and the machine are in BENCHMARKS.md.
//!
//! The enabled cases run with the real exporter shipping to a loopback collector that accepts
//! everything (and discards it: a collector that parsed and kept every event would compete with
//! the recording thread for the machine's two cores and grow without bound). Events are recorded in timed bursts of `BURST`; between bursts (untimed) the
//! benchmark flushes, so the queue never fills and no event is dropped: the figure is the cost of
//! recording, not of dropping. Each case asserts at the end that nothing was dropped.

mod support;
use support::{timed_bursts, BURST};

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn enabled_config(url: String) -> raceway::Config {
    raceway::Config::default()
        .server_url(url)
        .service_name("bench")
        .batch_size(1_000)
        .queue_capacity(1 << 16)
        .max_batch_bytes(1 << 20)
}

#[raceway::traced(skip_all)]
#[inline(never)]
fn traced_empty(i: u64) {
    black_box(i);
}

#[inline(never)]
fn plain_empty(i: u64) {
    black_box(i);
}

fn state_change(c: &mut Criterion) {
    let mut g = c.benchmark_group("state_change");
    g.measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));

    // No `init`: the runtime switch is off; one relaxed atomic load per call.
    g.bench_function("runtime_disabled", |b| {
        b.iter(|| raceway::track_write(black_box("counter"), black_box(&1u64), black_box(&2u64)))
    });

    let guard = raceway::init(enabled_config(support::discard_collector())).unwrap();

    g.bench_function("enabled_single_task", |b| {
        b.iter_custom(|iters| timed_bursts(iters, |i| raceway::track_write("counter", &i, &(i + 1))))
    });

    // The usual server case: a task spawned inside a request that arrived with a `traceparent`,
    // so each event also carries span ids and an inherited vector clock.
    g.bench_function("enabled_spawned_task_in_request", |b| {
        let request = raceway::Context::from_headers([(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )]);
        b.iter_custom(|iters| {
            request.clone().in_scope(|| {
                raceway::track_write("request_state", &0, &1);
                raceway::thread::spawn(move || timed_bursts(iters, |i| raceway::track_write("counter", &i, &(i + 1))))
                    .join()
                    .unwrap()
            })
        })
    });

    g.bench_function("enabled_two_tasks_concurrently", |b| {
        b.iter_custom(|iters| {
            // Two recording threads, started together; the figure is per event per thread.
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = BURST.min(iters - done);
                let barrier = Arc::new(Barrier::new(2));
                let threads: Vec<_> = (0..2)
                    .map(|t| {
                        let barrier = barrier.clone();
                        std::thread::spawn(move || {
                            // Each thread is its own logical task and trace.
                            raceway::track_custom("warm", &t);
                            barrier.wait();
                            let start = Instant::now();
                            for i in 0..n {
                                raceway::track_write("counter", &i, &(i + 1));
                            }
                            start.elapsed()
                        })
                    })
                    .collect();
                total += threads.into_iter().map(|t| t.join().unwrap()).max().unwrap();
                done += n;
                raceway::flush();
            }
            total
        })
    });
    g.finish();

    // `#[traced]` on an empty function with its arguments skipped: the call's FunctionCall and
    // function-end events, plus the guard.
    let mut g = c.benchmark_group("traced");
    g.measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    g.bench_function("empty_sync_fn_enabled", |b| b.iter_custom(|iters| timed_bursts(iters, traced_empty)));
    g.bench_function("empty_sync_fn_uninstrumented", |b| b.iter(|| plain_empty(black_box(1))));
    g.finish();
    drop(guard);
    let s = raceway::stats();
    assert_eq!(s.dropped_queue_full, 0, "the benchmark measured drops, not recording: {s:?}");
    assert_eq!(s.undeliverable + s.rejected, 0, "{s:?}");
}

criterion_group!(benches, state_change);
criterion_main!(benches);
