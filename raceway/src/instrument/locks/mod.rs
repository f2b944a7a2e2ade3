//! Tracked locking: the [`lock!`](crate::lock) macro for the mutexes and rwlocks of `std`,
//! `parking_lot` (feature `parking_lot`) and `tokio` (feature `tokio`), and the
//! [`TrackedMutex`]/[`TrackedRwLock`] types for those who prefer types over a macro.
//!
//! A tracked guard records `LockAcquire` once the lock is obtained and `LockRelease` when it is
//! dropped, *before* the real unlock (also while unwinding), both at the call site. The lock id
//! must be stable per lock object and distinct between objects (contract §3): for `lock!` it is
//! `<name>@<address>`, where the name is the one given (`lock!(m, "accounts")`) or the locked
//! expression's text, and the address is the lock object's. So two locks never share an id while
//! both exist; a lock that is *moved* gets a new id, which is harmless for locks shared through
//! an `Arc` or a `static` (they never move) but would split the identity of a lock moved between
//! uses. `TrackedMutex`/`TrackedRwLock` carry their id with them and keep it across moves.
//!
//! A poisoned `std` lock is entered anyway, with the data as the panic left it (as `parking_lot`
//! does): `lock!` never panics and never loses a release.

//!
//! | file | what |
//! |---|---|
//! | `traits.rs` | `lock!` and the traits it dispatches on, for `std`, `parking_lot` and `tokio` locks |
//! | `guard.rs` | [`LockGuard`]: records the release before the real unlock |
//! | `tracked.rs` | [`TrackedMutex`], [`TrackedRwLock`] |
//! | `held.rs` | the manual API: [`HeldLock`], [`with_lock`], [`with_rw_read`], [`with_rw_write`] |
//! | `blocking.rs` | the blocking guards this thread holds, to see one held across `.await` |

#[cfg(raceway_on)]
pub(crate) mod blocking;
mod guard;
mod held;
mod tracked;
mod traits;

pub use guard::LockGuard;
pub use held::{with_lock, with_rw_read, with_rw_write, HeldLock};
pub(crate) use tracked::unique_id;
pub use tracked::{TrackedMutex, TrackedRwLock};
pub use traits::{MutexAsync, MutexSync, RwAsync, RwSync};
