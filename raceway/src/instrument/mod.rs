//! What user code calls: the manual tracking API, task spawning, `Tracked` cells and tracked
//! locks. Everything here turns a call into an event through [`crate::record`] and never names a
//! consumer (exporter, analyzer).
//!
//! | file | what |
//! |---|---|
//! | `track.rs` | the Go SDK's `Track*` calls: state changes, HTTP, locks, errors, custom, database |
//! | `function.rs` | function calls: `FunctionGuard` (the runtime of `#[traced]`), `start_function`, ... |
//! | `task.rs` | [`spawn`](crate::spawn), [`fork`](crate::fork), [`thread::spawn`](crate::thread::spawn): tasks and joins |
//! | `spawned.rs` | the runtime of spawns `#[traced]` rewrites: children of `tokio::spawn`/`thread::spawn`, joins through the executors' own handles |
//! | `tracked.rs` | [`Tracked<T>`](crate::Tracked): a cell whose reads and writes are recorded |
//! | `traced.rs` | the runtime of `#[traced]`: argument capture, [`TracedFuture`](traced::TracedFuture) |
//! | `shared.rs` | the runtime of `#[shared]`: instance names, tracked fields |
//! | `handoff.rs` | happens-before through channels, notifications, atomics: [`Handoff`](handoff::Handoff) |
//! | `sync/` | [`raceway::sync`](crate::sync): tracked channels, `Notify`, `Barrier`, `Semaphore`, once-cells, atomics |
//! | `tracing_layer.rs` | [`raceway::tracing`](crate::tracing) (feature `tracing`): `tracing` spans and events as Raceway events |
//! | `locks/` | `lock!`, `LockGuard`, `TrackedMutex`/`TrackedRwLock`, `HeldLock` |

pub(crate) mod function;
pub(crate) mod handoff;
pub(crate) mod locks;
pub(crate) mod shared;
pub(crate) mod spawned;
pub mod sync;
pub(crate) mod task;
pub(crate) mod traced;
#[cfg(feature = "tracing")]
pub mod tracing_layer;
pub(crate) mod track;
pub(crate) mod tracked;
