//! [`LockGuard`]: the guard every tracked lock returns, which records the release when dropped,
//! before the real unlock.

use crate::event::location::Location;
use crate::event::name::Name;
use std::ops::{Deref, DerefMut};

#[cfg(raceway_on)]
use crate::event::LockKind;

/// The recording half of a guard: a [`HeldLock`](super::HeldLock) when instrumentation is compiled in and
/// the SDK was listening at acquisition, nothing otherwise.
#[cfg(raceway_on)]
type Held = Option<super::HeldLock>;
#[cfg(not(raceway_on))]
type Held = ();

/// The identity of a lock object: `name@address`, or the name of a tracked lock.
#[derive(Clone, Copy)]
#[doc(hidden)]
pub enum LockId<'a> {
    /// A plain lock, named at the call site.
    At(&'a str, *const ()),
    /// A tracked lock's own id.
    Named(&'a Name),
}

#[cfg(raceway_on)]
fn held(id: LockId<'_>, kind: LockKind, location: Location) -> Held {
    if !crate::stage::switch::enabled() {
        return None;
    }
    let id = match id {
        LockId::At(name, addr) => Name::from(format!("{name}@{addr:p}")),
        LockId::Named(name) => name.clone(),
    };
    Some(super::HeldLock::acquired(id, kind, location))
}

/// A lock guard that records the release when dropped. Derefs to the wrapped guard's target.
///
/// ```
/// let m = std::sync::Mutex::new(1);
/// let mut g = raceway::lock!(m);
/// *g += 1;
/// drop(g); // LockRelease, then the real unlock
/// assert_eq!(*m.lock().unwrap(), 2);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<G> {
    // Field order is drop order: the release is recorded before the real guard unlocks.
    _held: Held,
    /// For a blocking guard, its entry in this thread's list of held blocking guards.
    _blocking: Blocking,
    guard: G,
}

#[cfg(raceway_on)]
type Blocking = Option<super::blocking::Mark>;
#[cfg(not(raceway_on))]
type Blocking = ();

impl<G> LockGuard<G> {
    /// The guard of a blocking lock (`std`, `parking_lot`): listed as held on this thread, so
    /// that a `#[traced]` future returning `Pending` while holding it is reported.
    #[cfg_attr(not(raceway_on), allow(unused_variables))]
    pub(super) fn new(guard: G, id: LockId<'_>, kind: Kind, location: Location) -> Self {
        #[cfg(raceway_on)]
        {
            let held = held(id, kind.0, location);
            let blocking = held.as_ref().and_then(|h| super::blocking::hold(h.lock_id().clone(), kind.0, location));
            LockGuard { _held: held, _blocking: blocking, guard }
        }
        #[cfg(not(raceway_on))]
        LockGuard { _held: (), _blocking: (), guard }
    }

    /// The guard of an async lock (`tokio`), made to be held across `.await`.
    #[cfg(feature = "tokio")]
    #[cfg_attr(not(raceway_on), allow(unused_variables))]
    pub(super) fn awaitable(guard: G, id: LockId<'_>, kind: Kind, location: Location) -> Self {
        #[cfg(raceway_on)]
        let held = held(id, kind.0, location);
        #[cfg(not(raceway_on))]
        let held = ();
        #[cfg(raceway_on)]
        let blocking = None;
        #[cfg(not(raceway_on))]
        let blocking = ();
        LockGuard { _held: held, _blocking: blocking, guard }
    }

    /// The wrapped guard of the underlying lock (e.g. to pass it to a `Condvar`).
    pub fn inner(&mut self) -> &mut G {
        &mut self.guard
    }
}

impl<G: Deref> Deref for LockGuard<G> {
    type Target = G::Target;
    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: DerefMut> DerefMut for LockGuard<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

impl<G: std::fmt::Debug> std::fmt::Debug for LockGuard<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.guard.fmt(f)
    }
}

/// The lock kind, absent from the compiled-out build's data.
#[derive(Clone, Copy)]
pub(super) struct Kind(#[cfg(raceway_on)] LockKind);

#[cfg(raceway_on)]
pub(super) const MUTEX: Kind = Kind(LockKind::Mutex);
#[cfg(raceway_on)]
pub(super) const READ: Kind = Kind(LockKind::RwLockRead);
#[cfg(raceway_on)]
pub(super) const WRITE: Kind = Kind(LockKind::RwLockWrite);
#[cfg(not(raceway_on))]
pub(super) const MUTEX: Kind = Kind();
#[cfg(not(raceway_on))]
pub(super) const READ: Kind = Kind();
#[cfg(not(raceway_on))]
pub(super) const WRITE: Kind = Kind();

pub(super) fn addr<T: ?Sized>(lock: &T) -> *const () {
    lock as *const T as *const ()
}
