//! With `raceway`'s default features off, instrumented code must cost what the same code costs
//! without instrumentation: `#[traced]` emits the function unchanged, `Tracked<T>` is a plain
//! `Mutex<T>` cell and `lock!` a plain `lock()`.
//!
//! Run alone: `cargo bench -p raceway-bench-off` (see BENCHMARKS.md). The benchmark refuses to
//! run if instrumentation is compiled in (a workspace-wide build unifies features).

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::Mutex;

#[raceway::traced]
#[inline(never)]
fn instrumented(balance: &raceway::Tracked<u64>, ledger: &Mutex<u64>, amount: u64) -> u64 {
    let mut entries = raceway::lock!(ledger);
    *entries += 1;
    let b = balance.get();
    balance.set(b + amount);
    b
}

#[inline(never)]
fn uninstrumented(balance: &Mutex<u64>, ledger: &Mutex<u64>, amount: u64) -> u64 {
    let mut entries = ledger.lock().unwrap_or_else(|e| e.into_inner());
    *entries += 1;
    let b = *balance.lock().unwrap_or_else(|e| e.into_inner());
    *balance.lock().unwrap_or_else(|e| e.into_inner()) = b + amount;
    b
}

fn compiled_out(c: &mut Criterion) {
    // Recording compiled in would make this comparison meaningless.
    let probe = raceway::testing::capture(|| raceway::track_write("probe", &0, &1));
    assert!(probe.events.is_empty(), "run alone: cargo bench -p raceway-bench-off");

    let mut g = c.benchmark_group("compiled_out");
    let (tracked, plain, ledger) = (raceway::Tracked::new("balance", 0u64), Mutex::new(0u64), Mutex::new(0u64));
    g.bench_function("instrumented", |b| b.iter(|| instrumented(&tracked, &ledger, black_box(1))));
    g.bench_function("uninstrumented", |b| b.iter(|| uninstrumented(&plain, &ledger, black_box(1))));
    g.finish();
}

criterion_group!(benches, compiled_out);
criterion_main!(benches);
