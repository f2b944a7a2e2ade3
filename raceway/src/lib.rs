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
//! The crate is organised as follows (one file per idea):
//!
//! | module | what |
//! |---|---|
//! | `config`, `error`, `lifecycle` | [`Config`], [`Error`], [`init`] / [`flush`] / [`shutdown`] / [`Guard`] / [`stats`] |
//! | `context` | [`Context`]: which logical task is running, in which trace |
//! | `task` | [`spawn`], [`fork`], [`thread::spawn`]: task creation and joins the server can order |
//! | `track`, `locks` | the manual tracking API and lock helpers |
//! | `event`, `clock`, `id`, `name`, `location`, `value` | the recorded data |
//! | `record`, `dispatch` | the hot path: stamping an event and queueing it |
//! | `wire`, `exporter` | the server's JSON and the background exporter |
//! | [`testing`] | capturing events in tests |
//! | [`traced`], [`shared`], [`lock!`], `tracked`, `sync` | auto-instrumentation: traced functions, [`Tracked`] cells, tracked locks |
//! | `analyzer` | the embedded race and deadlock analyzer: [`Analyzer`], [`report`], [`Report`] |
//! | [`propagation`], `http` | trace headers across services; tower middleware and reqwest (features `tower`, `reqwest`) |

#![warn(missing_docs)]
// With instrumentation compiled out the recording machinery is deliberately unreachable.
#![cfg_attr(not(feature = "enabled"), allow(dead_code, unused_mut, unused_variables, unused_imports))]
#![forbid(unsafe_op_in_unsafe_fn)]

mod analyzer;
mod clock;
mod config;
mod context;
mod depth;
mod dispatch;
mod error;
mod event;
mod exporter;
mod id;
mod lifecycle;
mod location;
mod locks;
mod name;
pub mod propagation;
mod record;
mod staging;
mod sync;
mod task;
mod time;
mod timestamp;
mod track;
mod tracked;
mod value;
mod wire;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
#[cfg(any(feature = "tower", feature = "reqwest"))]
pub mod http;
pub mod testing;

pub use analyzer::{analyze, report, Analyzer, Deadlock, LockStep, Race, RaceAccess, Report, Severity};
pub use clock::{Clock, Component};
pub use config::Config;
pub use context::{Context, EnterGuard, Instrumented};
pub use dispatch::Stats;
pub use error::Error;
pub use event::{AccessType, Event, EventKind, LockKind, Ordering, Span};
pub use id::{SpanId, TaskId, Uuid};
pub use lifecycle::{flush, init, shutdown, stats, Guard};
pub use location::Location;
pub use locks::{with_lock, with_rw_read, with_rw_write, HeldLock};
pub use name::Name;
pub use propagation::propagation_headers;
pub use task::{fork, thread, Forked, Joiner};
#[cfg(feature = "tokio")]
pub use task::{spawn, JoinHandle};
pub use track::{
    start_function, track_custom, track_database_query, track_database_result, track_error, track_error_with,
    track_function, track_function_async, track_function_call, track_http_request, track_http_request_with,
    track_http_response, track_http_response_with, track_lock_acquire, track_lock_release, track_memory_fence,
    track_read, track_state_change, track_write, FunctionGuard,
};
pub use value::Value;
pub use wire::wire_json;

pub use raceway_macros::{shared, traced};
pub use sync::{LockGuard, TrackedMutex, TrackedRwLock};
pub use tracked::{Tracked, VarName};

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
