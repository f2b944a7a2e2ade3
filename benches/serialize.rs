//! Serialization cost of the exporter: nanoseconds per event to render a batch of 1,000
//! `StateChange` events (small integer values, inside a trace) into one request body, exactly as
//! the HTTP sink does (no network).
//!
//! Run: `cargo bench --bench serialize -- --warm-up-time 1 --measurement-time 3`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn serialize(c: &mut Criterion) {
    let captured = raceway::testing::capture(|| {
        for i in 0..1000u64 {
            raceway::track_write("counter", &i, &(i + 1));
        }
    });
    let events = captured.events;
    assert_eq!(events.len(), 1000);
    let mut group = c.benchmark_group("serialize");
    group.throughput(Throughput::Elements(events.len() as u64));
    // One buffer for every iteration, as the sink's allocator reuses the memory of the bodies it
    // sent: the figure is the rendering, not the kernel's first touch of fresh pages.
    let mut out = Vec::with_capacity(1 << 20);
    group.bench_function("state_change_batch_1000", |b| {
        b.iter(|| {
            let n = raceway::__private::render_body(&events, &mut out);
            assert_eq!(n, events.len());
            std::hint::black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, serialize);
criterion_main!(benches);
