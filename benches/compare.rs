//! Raceway, `tracing` and `fastrace` side by side: one binary, one run, the same work for each.
//!
//! Run: `cargo bench --bench compare` (prints a table; results and machine in BENCHMARKS.md).
//!
//! Every contender makes bursts of `BURST` calls; a burst is timed as a whole and the figure is
//! the median over `BURSTS` bursts, in nanoseconds per call (per event for the two-thread line).
//! Between bursts, untimed, each contender gets rid of what it recorded: raceway flushes to its
//! exporter (running against a loopback collector that reads and discards every request, as in
//! `hot_path`), fastrace closes the burst's root span and hands it to a reporter that discards.
//! The contenders are measured one after another in the same process, so that their ratios come
//! from the same machine state; run it several times on a quiet machine and compare the ratios.
//!
//! The last section measures the exporter alone: how many events per second its one thread
//! serializes and sends to the loopback collector, whether any was dropped, and the wire bytes
//! per small `StateChange` (request body bytes the collector received divided by the events).

mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

const BURST: usize = 4_096;
const BURSTS: usize = 150;
/// Untimed bursts before the timed ones: buffers allocated, pools filled, caches warm.
const WARM_UP: usize = 10;

/// The median of `BURSTS` timed bursts, in ns per call. `burst` makes `BURST` calls; `between`
/// runs untimed after each burst.
fn median_ns(mut burst: impl FnMut(), mut between: impl FnMut()) -> f64 {
    for _ in 0..WARM_UP {
        burst();
        between();
    }
    let mut per_call: Vec<f64> = (0..BURSTS)
        .map(|_| {
            let start = Instant::now();
            burst();
            let took = start.elapsed();
            between();
            took.as_nanos() as f64 / BURST as f64
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    per_call[BURSTS / 2]
}

#[inline(never)]
fn empty(i: u64) {
    black_box(i);
}

#[raceway::traced(skip_all)]
#[inline(never)]
fn raceway_empty(i: u64) {
    black_box(i);
}

#[raceway::traced]
#[inline(never)]
fn raceway_two_args(a: i64, b: i64) {
    black_box((a, b));
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn tracing_empty(i: u64) {
    black_box(i);
}

#[fastrace::trace]
#[inline(never)]
fn fastrace_empty(i: u64) {
    black_box(i);
}

/// fastrace's reporter for this benchmark: counts the finished spans and drops them.
struct Discard;

/// Spans fastrace reported: checked after its measurement, so that a setup in which its spans
/// were never recorded (no sampled root, no reporter) cannot pass for a fast contender.
static FASTRACE_SPANS: AtomicU64 = AtomicU64::new(0);

impl fastrace::collector::Reporter for Discard {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        FASTRACE_SPANS.fetch_add(spans.len() as u64, Ordering::Relaxed);
    }
}

fn raceway_config(url: String) -> raceway::Config {
    raceway::Config::default()
        .server_url(url)
        .service_name("compare")
        .batch_size(2_000)
        .queue_capacity(1 << 16)
        .max_batch_bytes(1 << 20)
}

/// Two threads record `BURST` events each, started together; the figure is the slower thread's
/// time per event. The threads live for the whole measurement, so that no spawn is timed.
fn two_threads_ns() -> f64 {
    let start_line = Arc::new(Barrier::new(3));
    let finish_line = Arc::new(Barrier::new(3));
    let took = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let rounds = WARM_UP + BURSTS;
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let (start_line, finish_line, took) = (start_line.clone(), finish_line.clone(), took.clone());
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    start_line.wait();
                    let start = Instant::now();
                    for i in 0..BURST as u64 {
                        raceway::track_write("counter", &i, &(i + 1));
                    }
                    took[t].store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    // Published before the flush below, so the flush sees this thread's events.
                    raceway::flush();
                    finish_line.wait();
                }
            })
        })
        .collect();
    let mut per_event = Vec::with_capacity(BURSTS);
    for round in 0..rounds {
        start_line.wait();
        finish_line.wait();
        raceway::flush();
        let slower = took[0].load(Ordering::Relaxed).max(took[1].load(Ordering::Relaxed));
        if round >= WARM_UP {
            per_event.push(slower as f64 / BURST as f64);
        }
    }
    workers.into_iter().for_each(|w| w.join().unwrap());
    per_event.sort_by(f64::total_cmp);
    per_event[BURSTS / 2]
}

/// The exporter on its own: `EVENTS` are recorded as fast as one thread can into a queue large
/// enough to hold them all, and the rate is the events delivered divided by the time from the
/// first record to the end of `flush()` (recording is several times faster than exporting, so
/// this is the exporter thread's rate). Median of `RUNS`.
fn exporter_throughput() {
    const EVENTS: u64 = 1_000_000;
    const RUNS: usize = 5;
    let (url, received) = support::discard_collector_counting();
    let mut rates = Vec::new();
    let mut bytes_per_event = 0.0;
    for _ in 0..RUNS {
        let guard = raceway::init(
            raceway::Config::default()
                .server_url(url.clone())
                .service_name("compare")
                .batch_size(4_000)
                .queue_capacity(1 << 21)
                .max_batch_bytes(1 << 20)
                // Every event serialized and sent: a hot loop would otherwise go out as one
                // counted event, and this measures the writer, not the coalescer.
                .coalesce_accesses(false),
        )
        .unwrap();
        // A trace and a task exist before the clock starts, as in the other measurements.
        raceway::track_write("counter", &0u64, &0u64);
        raceway::flush();
        let before = raceway::stats();
        let bytes_before = received.load(Ordering::Relaxed);
        let start = Instant::now();
        for i in 0..EVENTS {
            raceway::track_write("counter", &i, &(i + 1));
        }
        raceway::flush();
        let took = start.elapsed();
        drop(guard);
        let after = raceway::stats();
        let delivered = after.delivered - before.delivered;
        assert_eq!(delivered, EVENTS, "every event delivered: {after:?}");
        assert_eq!(after.dropped_queue_full, 0, "nothing dropped: {after:?}");
        rates.push(delivered as f64 / took.as_secs_f64());
        bytes_per_event = (received.load(Ordering::Relaxed) - bytes_before) as f64 / EVENTS as f64;
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "exporter: {:.2} M events/s serialized and sent by the exporter thread (median of {RUNS} runs of {EVENTS} events; \
         range {:.2}–{:.2}), 0 dropped; {bytes_per_event:.0} wire bytes per small StateChange (request body)",
        rates[RUNS / 2] / 1e6,
        rates[0] / 1e6,
        rates[RUNS - 1] / 1e6,
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks benches to list their tests
    }
    println!("bursts of {BURST} calls, median of {BURSTS} bursts, ns per call");
    let row = |name: &str, ns: f64| println!("{name:<58} {ns:>9.2}");

    let floor = AtomicU64::new(0);
    row(
        "floor: relaxed atomic store",
        median_ns(|| (0..BURST as u64).for_each(|i| floor.store(black_box(i), Ordering::Relaxed)), || {}),
    );
    row("floor: empty fn call", median_ns(|| (0..BURST as u64).for_each(|i| empty(black_box(i))), || {}));

    // raceway: the exporter runs against a discarding loopback collector.
    let guard = raceway::init(raceway_config(support::discard_collector())).unwrap();
    // `flush` returns false when it gave up waiting: the next burst would then overlap the export.
    let flush = || assert!(raceway::flush(), "flush timed out");
    raceway::track_write("counter", &0u64, &0u64); // the thread's task and trace exist from here
    row(
        "raceway track_write (small int)",
        median_ns(|| (0..BURST as u64).for_each(|i| raceway::track_write("counter", &i, &(i + 1))), flush),
    );
    let cell = raceway::Tracked::new("compare::cell", 0u64);
    row(
        "raceway Tracked::set (small int)",
        median_ns(|| (0..BURST as u64).for_each(|i| cell.set(black_box(i))), flush),
    );
    let traced = median_ns(|| (0..BURST as u64).for_each(|i| raceway_empty(black_box(i))), flush);
    row("raceway #[traced] empty fn, args skipped (2 events)", traced);
    row(
        "raceway #[traced] two i64 args (2 events)",
        median_ns(|| (0..BURST as i64).for_each(|i| raceway_two_args(black_box(i), black_box(-i))), flush),
    );
    row("raceway track_write, two threads at once (per event)", two_threads_ns());
    drop(guard);
    let s = raceway::stats();
    assert_eq!(s.dropped_queue_full, 0, "raceway measured drops, not recording: {s:?}");
    assert_eq!(s.undeliverable + s.rejected, 0, "{s:?}");

    // tracing: the registry subscriber, installed globally (its fastest dispatch).
    tracing::subscriber::set_global_default(tracing_subscriber::registry()).unwrap();
    // The registry records spans at the `#[instrument]` default level: a disabled span here would
    // mean the contender measured nothing.
    assert!(!tracing::info_span!("check").is_disabled(), "the registry must record INFO spans");
    let tracing_ns = median_ns(|| (0..BURST as u64).for_each(|i| tracing_empty(black_box(i))), || {});
    row("tracing #[instrument] empty fn, registry", tracing_ns);

    // fastrace: each burst runs inside its own root span, reported (and discarded) when it ends.
    fastrace::set_reporter(Discard, fastrace::collector::Config::default());
    let root = std::cell::Cell::new(None);
    let fastrace_ns = median_ns(
        || {
            let span = fastrace::Span::root("burst", fastrace::prelude::SpanContext::random());
            {
                let _parent = span.set_local_parent();
                (0..BURST as u64).for_each(|i| fastrace_empty(black_box(i)));
            }
            root.set(Some(span)); // ended, untimed, below
        },
        || {
            drop(root.take());
            fastrace::flush();
        },
    );
    row("fastrace #[trace] empty fn in a root span", fastrace_ns);
    fastrace::flush();
    let spans = FASTRACE_SPANS.load(Ordering::Relaxed);
    let calls = ((WARM_UP + BURSTS) * BURST) as u64;
    assert!(spans >= calls, "fastrace reported {spans} spans for {calls} calls: it measured nothing");

    println!("ratio #[traced] / fastrace #[trace]: {:.1}x (target <= 10x)", traced / fastrace_ns);
    println!("ratio tracing #[instrument] / #[traced]: {:.2}x (target >= 4x)", tracing_ns / traced);

    exporter_throughput();
}
