//! Tracked synchronisation primitives: drop-in mirrors of the `std` and `tokio` types users
//! already use, with the same API, so that switching is an import change (the loom/shuttle
//! convention). Each records its handoffs through [`handoff`](crate::instrument::handoff): a
//! send happens before the receive that gets the message, a notify before the wake-up, a permit
//! given back before the permit taken, a once-cell's initialisation before every read of it, a
//! barrier's arrivals before its departures, a releasing atomic store before the acquiring load
//! that reads it.
//!
//! | file | what |
//! |---|---|
//! | `atomic.rs` | [`atomic`]: every `std` atomic type, with release sequences |
//! | `std_mpsc.rs` | [`std_mpsc`]: `std::sync::mpsc` (`channel`, `sync_channel`) |
//! | `once_lock.rs` | [`OnceLock`]: `std::sync::OnceLock` |
//! | `mpsc.rs` | [`mpsc`]: `tokio::sync::mpsc`, bounded and unbounded (feature `tokio`) |
//! | `oneshot.rs` | [`oneshot`]: `tokio::sync::oneshot` (feature `tokio`) |
//! | `broadcast.rs` | [`broadcast`]: `tokio::sync::broadcast` (feature `tokio`) |
//! | `watch.rs` | [`watch`]: `tokio::sync::watch` (feature `tokio`) |
//! | `notify.rs` | [`Notify`]: `tokio::sync::Notify` (feature `tokio`) |
//! | `barrier.rs` | [`Barrier`]: `tokio::sync::Barrier` (feature `tokio`) |
//! | `semaphore.rs` | [`Semaphore`]: `tokio::sync::Semaphore` (feature `tokio`) |
//! | `once_cell.rs` | [`OnceCell`]: `tokio::sync::OnceCell` (feature `tokio`) |
//!
//! Locks are not here: a lock *protects* the accesses made under it, it does not order tasks
//! (see [`TrackedMutex`](crate::TrackedMutex) and `lock!`).

use crate::event::name::Name;

pub mod atomic;
mod once_lock;
pub mod std_mpsc;

#[cfg(feature = "tokio")]
mod barrier;
#[cfg(feature = "tokio")]
pub mod broadcast;
#[cfg(feature = "tokio")]
pub mod mpsc;
#[cfg(feature = "tokio")]
mod notify;
#[cfg(feature = "tokio")]
mod once_cell;
#[cfg(feature = "tokio")]
pub mod oneshot;
#[cfg(feature = "tokio")]
mod semaphore;
#[cfg(feature = "tokio")]
pub mod watch;

pub use once_lock::OnceLock;

#[cfg(feature = "tokio")]
pub use barrier::{Barrier, BarrierWaitResult};
#[cfg(feature = "tokio")]
pub use notify::{Notified, Notify};
#[cfg(feature = "tokio")]
pub use once_cell::OnceCell;
#[cfg(feature = "tokio")]
pub use semaphore::{AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError};

/// The `object` name of a tracked primitive: `prefix#N`, or the given name de-duplicated; empty
/// when instrumentation is compiled out (nothing is recorded, nothing is allocated).
pub(crate) fn object_name(name: Option<Name>, prefix: &str) -> Name {
    if cfg!(raceway_on) {
        crate::instrument::locks::unique_id(name, prefix)
    } else {
        Name::from_static("")
    }
}

/// A primitive's name, made on first use when none was given, so that constructors can stay
/// `const` (like std's) and an object that never records allocates nothing.
pub(crate) struct LazyName {
    name: std::sync::OnceLock<Name>,
    prefix: &'static str,
}

impl LazyName {
    pub(crate) const fn new(prefix: &'static str) -> Self {
        LazyName { name: std::sync::OnceLock::new(), prefix }
    }

    pub(crate) fn named(name: Name, prefix: &'static str) -> Self {
        let lazy = LazyName::new(prefix);
        let _ = lazy.name.set(object_name(Some(name), prefix));
        lazy
    }

    pub(crate) fn get(&self) -> &Name {
        self.name.get_or_init(|| object_name(None, self.prefix))
    }
}

impl std::fmt::Debug for LazyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name.get().map_or("", Name::as_str))
    }
}
