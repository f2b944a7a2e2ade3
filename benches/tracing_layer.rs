//! What `raceway::tracing::layer()` adds to a `tracing` subscriber: an empty
//! `#[tracing::instrument]` function under the `tracing_subscriber` registry alone, next to the
//! registry with Raceway's layer (Raceway not initialised: one relaxed load per callback; and
//! Raceway recording, exporter to a loopback collector that discards).
//!
//! Run: `cargo bench --bench tracing_layer`. Results in BENCHMARKS.md (measured on a shared,
//! loaded machine: compare the cases of one run, not runs of different days).

mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tracing_subscriber::prelude::*;

const BURST: u64 = 2_000;

#[tracing::instrument]
#[inline(never)]
fn instrumented_empty(i: u64) {
    black_box(i);
}

/// Times `iters` calls in bursts, flushing (untimed) between bursts so that the queue never fills.
fn timed_bursts(iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = BURST.min(iters - done);
        let start = Instant::now();
        for i in done..done + n {
            instrumented_empty(i);
        }
        total += start.elapsed();
        done += n;
        raceway::flush();
    }
    total
}

fn tracing_layer(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracing_instrument_empty_fn");
    g.measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));

    g.bench_function("registry_alone", |b| {
        let _s = tracing_subscriber::registry().set_default();
        b.iter_custom(timed_bursts)
    });
    g.bench_function("registry_and_layer_raceway_off", |b| {
        let _s = tracing_subscriber::registry().with(raceway::tracing::layer()).set_default();
        b.iter_custom(timed_bursts)
    });

    let guard = raceway::init(
        raceway::Config::default()
            .server_url(support::discard_collector())
            .service_name("bench")
            .batch_size(1_000)
            .queue_capacity(1 << 16)
            .max_batch_bytes(1 << 20),
    )
    .unwrap();
    g.bench_function("registry_and_layer_recording", |b| {
        let _s = tracing_subscriber::registry().with(raceway::tracing::layer()).set_default();
        b.iter_custom(timed_bursts)
    });
    g.finish();
    drop(guard);
    let s = raceway::stats();
    assert_eq!(s.dropped_queue_full, 0, "the benchmark measured drops, not recording: {s:?}");
}

criterion_group!(benches, tracing_layer);
criterion_main!(benches);
