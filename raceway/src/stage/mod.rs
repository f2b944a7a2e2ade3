//! Between recording and delivery: per-thread staging, the bounded queue, the delivery thread,
//! and `flush`.
//!
//! | file | what |
//! |---|---|
//! | `switch.rs` | the process-wide on/off switch every tracking call reads first |
//! | `fuzz.rs` | schedule fuzzing (`#[raceway::test(iterations = N)]`): seeded yields at accesses and lock acquires |
//! | `outbox.rs` | a recording thread's side: its staging buffer and its budget |
//! | `chunk.rs` | the compact staged record, its task headers, and its expansion into `Event`s |
//! | `staging.rs` | one thread's events not yet handed over (and why parents still come first) |
//! | `fence.rs` | the asymmetric barrier that lets a thread lock its own buffer with plain stores |
//! | `queue.rs` | the bounded queue of chunks and its budget; drops are decided here |
//! | `dispatch.rs` | the installed pipeline: queue, registered buffers, flush and shutdown requests |
//! | `worker.rs` | the delivery thread |
//! | `sink.rs` | the [`Sink`](sink::Sink) trait its consumers implement |
//! | `stats.rs` | the counters behind [`crate::stats`] |
//!
//! Invariants: recording never blocks (a full queue drops the new event and counts it); a dropped
//! event never becomes a parent (the drop is decided when the event is recorded); parents reach
//! the sinks before their children (see `staging.rs`).

pub(crate) mod chunk;
pub(crate) mod dispatch;
pub(crate) mod fence;
pub(crate) mod fuzz;
pub(crate) mod outbox;
pub(crate) mod queue;
pub(crate) mod sink;
pub(crate) mod staging;
pub(crate) mod stats;
pub(crate) mod switch;
pub(crate) mod worker;

/// Delivers everything recorded so far and waits for it (at most the configured
/// `shutdown_timeout`). Returns whether the exporter finished in time; `true` when not initialized.
///
/// ```
/// raceway::track_custom("checkpoint", &1);
/// assert!(raceway::flush());
/// ```
pub fn flush() -> bool {
    match dispatch::current() {
        Some(d) => d.flush_and_wait(d.flush_timeout),
        None => true,
    }
}
