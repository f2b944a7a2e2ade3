//! What `raceway::tracing::layer()` adds to a `tracing` subscriber: an empty
//! `#[tracing::instrument]` function under the `tracing_subscriber` registry alone, next to the
//! registry with Raceway's layer (Raceway not initialised: one relaxed load per callback; and
//! Raceway recording, exporter to a loopback collector that discards).
//!
//! Run: `cargo bench --bench tracing_layer`. Results in BENCHMARKS.md (measured on a shared,
//! loaded machine: compare the cases of one run, not runs of different days).

mod support;
use support::timed_bursts;

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;
use tracing_subscriber::prelude::*;

#[tracing::instrument]
#[inline(never)]
fn instrumented_empty(i: u64) {
    black_box(i);
}

fn tracing_layer(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracing_instrument_empty_fn");
    g.measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));

    g.bench_function("registry_alone", |b| {
        let _s = tracing_subscriber::registry().set_default();
        b.iter_custom(|iters| timed_bursts(iters, instrumented_empty))
    });
    g.bench_function("registry_and_layer_raceway_off", |b| {
        let _s = tracing_subscriber::registry().with(raceway::tracing::layer()).set_default();
        b.iter_custom(|iters| timed_bursts(iters, instrumented_empty))
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
        b.iter_custom(|iters| timed_bursts(iters, instrumented_empty))
    });
    g.finish();
    drop(guard);
    let s = raceway::stats();
    assert_eq!(s.dropped_queue_full, 0, "the benchmark measured drops, not recording: {s:?}");
}

criterion_group!(benches, tracing_layer);
criterion_main!(benches);
