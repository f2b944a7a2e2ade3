//! The manual lock API: [`HeldLock`], and the helpers built on it (Go: `WithLock`,
//! `WithRWLockRead`, `WithRWLockWrite`).
//!
//! The release event is recorded *before* the real lock is released, so that no other task can be
//! seen acquiring the lock while this one still holds it; it is recorded on unwinding too.

use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::LockKind;
use crate::instrument::track::lock_event;
use std::sync::{Mutex, RwLock};

/// Records `LockAcquire` when created and `LockRelease` when dropped (also during a panic).
/// Hold it *inside* the real guard's lifetime: create it after locking, drop it before unlocking.
///
/// ```
/// use raceway::{HeldLock, LockKind, Location};
/// let m = std::sync::Mutex::new(0);
/// let mut guard = m.lock().unwrap();
/// let held = HeldLock::acquired("counter".into(), LockKind::Mutex, Location::caller());
/// *guard += 1;
/// drop(held); // LockRelease, while the mutex is still locked
/// drop(guard);
/// ```
#[must_use = "the release is recorded when this is dropped"]
#[derive(Debug)]
pub struct HeldLock {
    lock_id: Name,
    kind: LockKind,
    location: Location,
    active: bool,
}

impl HeldLock {
    /// Records the acquisition of `lock_id` at `location`.
    pub fn acquired(lock_id: Name, kind: LockKind, location: Location) -> Self {
        let active = crate::stage::switch::enabled();
        if active {
            lock_event(true, lock_id.clone(), kind, location);
        }
        HeldLock { lock_id, kind, location, active }
    }
}

impl HeldLock {
    /// The lock's id.
    pub(crate) fn lock_id(&self) -> &Name {
        &self.lock_id
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if self.active {
            lock_event(false, self.lock_id.clone(), self.kind, self.location);
        }
    }
}

/// Runs `f` holding `mutex`, recording acquire and release under `lock_id`.
///
/// A poisoned mutex is entered anyway (the data is handed to `f` as it is), as with
/// `parking_lot`: instrumentation must not turn a recoverable state into a second panic.
///
/// ```
/// let accounts = std::sync::Mutex::new(100);
/// raceway::with_lock(&accounts, "accounts", |balance| *balance -= 30);
/// assert_eq!(*accounts.lock().unwrap(), 70);
/// ```
#[track_caller]
pub fn with_lock<T: ?Sized, R>(mutex: &Mutex<T>, lock_id: impl Into<Name>, f: impl FnOnce(&mut T) -> R) -> R {
    let location = Location::caller();
    let mut guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
    let held = HeldLock::acquired(lock_id.into(), LockKind::Mutex, location);
    let r = f(&mut guard);
    drop(held);
    r
}

/// Runs `f` holding the read side of `lock`.
///
/// ```
/// let data = std::sync::RwLock::new(vec![1, 2]);
/// let n = raceway::with_rw_read(&data, "data", |v| v.len());
/// assert_eq!(n, 2);
/// ```
#[track_caller]
pub fn with_rw_read<T: ?Sized, R>(lock: &RwLock<T>, lock_id: impl Into<Name>, f: impl FnOnce(&T) -> R) -> R {
    let location = Location::caller();
    let guard = lock.read().unwrap_or_else(|e| e.into_inner());
    let held = HeldLock::acquired(lock_id.into(), LockKind::RwLockRead, location);
    let r = f(&guard);
    drop(held);
    r
}

/// Runs `f` holding the write side of `lock`.
///
/// ```
/// let data = std::sync::RwLock::new(vec![1, 2]);
/// raceway::with_rw_write(&data, "data", |v| v.push(3));
/// assert_eq!(data.read().unwrap().len(), 3);
/// ```
#[track_caller]
pub fn with_rw_write<T: ?Sized, R>(lock: &RwLock<T>, lock_id: impl Into<Name>, f: impl FnOnce(&mut T) -> R) -> R {
    let location = Location::caller();
    let mut guard = lock.write().unwrap_or_else(|e| e.into_inner());
    let held = HeldLock::acquired(lock_id.into(), LockKind::RwLockWrite, location);
    let r = f(&mut guard);
    drop(held);
    r
}
