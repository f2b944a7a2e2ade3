//! # raceway — race-condition detection and distributed tracing for Rust
//!
//! Record what your program's tasks do to shared state, and let Raceway (the server, or the
//! embedded analyzer) tell you which accesses race.
//!
//! ```no_run
//! let _guard = raceway::init(raceway::Config::default()
//!     .server_url("http://localhost:8080")
//!     .service_name("bank"))?;
//! raceway::track_write("alice.balance", &100, &50);
//! # Ok::<(), raceway::Error>(())
//! ```
//!
//! ## Where things are
//!
//! The modules follow an event's journey, and import each other one way only (from the top of
//! this table down; `tests/module_graph.rs` fails when an import goes back up):
//!
//! | module | what |
//! |---|---|
//! | `lifecycle` | [`init`] / [`shutdown`] / [`Guard`] / [`stats`]: wires the stages together |
//! | [`testing`], `private` | test captures and assertions; what macro-generated code calls |
//! | `tracing` | (feature `tracing`) a `tracing_subscriber::Layer`: spans as function calls, events as Custom/Error |
//! | `http`, [`propagation`] | tower middleware and reqwest; trace headers across services |
//! | `instrument` | what user code calls: `track_*`, [`spawn`], [`Tracked`], [`lock!`], tracked locks, [`sync`] |
//! | `record` | stamping an event for the running task: ids, parent, clock, timestamp |
//! | `context` | [`Context`]: which logical task runs, in which trace; the process identity |
//! | `stage` | per-thread staging, the bounded queue, the delivery thread, [`flush`] |
//! | `exporter`, `analyzer` | the two consumers of delivered events: the HTTP sink, the embedded [`Analyzer`] |
//! | `event` | the recorded data: [`Event`], [`Clock`], ids, names, values, timestamps |
//! | `config`, `error` | [`Config`] and [`Error`], read by all |
//!
//! `ARCHITECTURE.md` at the repository's root says which invariants each stage keeps.

#![warn(missing_docs)]
// With instrumentation compiled out the recording machinery is deliberately unreachable.
#![cfg_attr(not(raceway_on), allow(dead_code, unused_mut, unused_variables, unused_imports))]
#![forbid(unsafe_op_in_unsafe_fn)]

mod config;
mod error;
mod event;

mod stage;

mod context;

mod record;

mod instrument;

mod analyzer;
#[cfg(raceway_on)]
mod exporter;

#[cfg(any(feature = "tower", feature = "reqwest"))]
pub mod http;
pub mod propagation;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod lifecycle;
pub mod testing;

#[cfg(test)]
mod tests;

pub use analyzer::{
    analyze, report, Analyzer, AtomicityViolation, Deadlock, HeldAcrossAwait, Lane, LockStep, Race, RaceAccess, Report,
    Severity, Spawned, StackFrame, StepKind, Suppressions, Timeline, TimelineStep,
};
pub use config::Config;
pub use context::{Context, EnterGuard, Instrumented};
pub use error::Error;
pub use event::clock::{Clock, Component};
pub use event::id::{SpanId, TaskId, Uuid};
pub use event::location::Location;
pub use event::name::Name;
pub use event::value::Value;
pub use event::{AccessType, Event, EventKind, LockKind, Ordering, Span};
pub use instrument::function::{
    start_function, track_function, track_function_async, track_function_call, FunctionGuard,
};
pub use instrument::locks::{with_lock, with_rw_read, with_rw_write, HeldLock, LockGuard, TrackedMutex, TrackedRwLock};
pub use instrument::sync;
pub use instrument::task::{fork, thread, Forked, Joiner};
#[cfg(feature = "tokio")]
pub use instrument::task::{spawn, spawn_named, JoinHandle};
#[cfg(feature = "tracing")]
pub use instrument::tracing_layer as tracing;
pub use instrument::track::{
    track_custom, track_database_query, track_database_result, track_error, track_error_with, track_http_request,
    track_http_request_with, track_http_response, track_http_response_with, track_lock_acquire, track_lock_release,
    track_memory_fence, track_read, track_state_change, track_write,
};
pub use instrument::tracked::{Tracked, VarName};
pub use lifecycle::{init, shutdown, stats, Guard};
pub use propagation::propagation_headers;
pub use raceway_macros::{shared, test, traced};
pub use stage::flush;
pub use stage::stats::Stats;
pub use testing::wire_json;

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
