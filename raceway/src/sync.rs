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

use crate::location::Location;
use crate::name::Name;
use std::ops::{Deref, DerefMut};
use std::sync::PoisonError;

#[cfg(feature = "enabled")]
use crate::event::LockKind;

/// The recording half of a guard: a [`crate::HeldLock`] when instrumentation is compiled in and
/// the SDK was listening at acquisition, nothing otherwise.
#[cfg(feature = "enabled")]
type Held = Option<crate::locks::HeldLock>;
#[cfg(not(feature = "enabled"))]
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

#[cfg(feature = "enabled")]
fn held(id: LockId<'_>, kind: LockKind, location: Location) -> Held {
    if !crate::dispatch::enabled() {
        return None;
    }
    let id = match id {
        LockId::At(name, addr) => Name::from(format!("{name}@{addr:p}")),
        LockId::Named(name) => name.clone(),
    };
    Some(crate::locks::HeldLock::acquired(id, kind, location))
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
    guard: G,
}

impl<G> LockGuard<G> {
    #[cfg_attr(not(feature = "enabled"), allow(unused_variables))]
    fn new(guard: G, id: LockId<'_>, kind: Kind, location: Location) -> Self {
        #[cfg(feature = "enabled")]
        let held = held(id, kind.0, location);
        #[cfg(not(feature = "enabled"))]
        let held = ();
        LockGuard { _held: held, guard }
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
struct Kind(#[cfg(feature = "enabled")] LockKind);

#[cfg(feature = "enabled")]
const MUTEX: Kind = Kind(LockKind::Mutex);
#[cfg(feature = "enabled")]
const READ: Kind = Kind(LockKind::RwLockRead);
#[cfg(feature = "enabled")]
const WRITE: Kind = Kind(LockKind::RwLockWrite);
#[cfg(not(feature = "enabled"))]
const MUTEX: Kind = Kind();
#[cfg(not(feature = "enabled"))]
const READ: Kind = Kind();
#[cfg(not(feature = "enabled"))]
const WRITE: Kind = Kind();

fn addr<T: ?Sized>(lock: &T) -> *const () {
    lock as *const T as *const ()
}

/// Locks taken by `lock!(m)` without `.await`.
#[doc(hidden)]
pub trait MutexSync {
    /// The tracked guard.
    type Guard<'a>
    where
        Self: 'a;
    /// Locks, recording the acquisition at `location`.
    fn __raceway_lock(&self, name: &str, location: Location) -> Self::Guard<'_>;
}

/// Read/write locks taken by `lock!(read m)` / `lock!(write m)` without `.await`.
#[doc(hidden)]
pub trait RwSync {
    /// The tracked read guard.
    type Read<'a>
    where
        Self: 'a;
    /// The tracked write guard.
    type Write<'a>
    where
        Self: 'a;
    /// Locks for reading.
    fn __raceway_read(&self, name: &str, location: Location) -> Self::Read<'_>;
    /// Locks for writing.
    fn __raceway_write(&self, name: &str, location: Location) -> Self::Write<'_>;
}

/// Locks taken by `lock!(m).await`.
#[doc(hidden)]
pub trait MutexAsync {
    /// The tracked guard.
    type Guard<'a>
    where
        Self: 'a;
    /// Locks, recording the acquisition at `location` once obtained.
    fn __raceway_lock(&self, name: &str, location: Location) -> impl std::future::Future<Output = Self::Guard<'_>>;
}

/// Read/write locks taken by `lock!(read m).await` / `lock!(write m).await`.
#[doc(hidden)]
pub trait RwAsync {
    /// The tracked read guard.
    type Read<'a>
    where
        Self: 'a;
    /// The tracked write guard.
    type Write<'a>
    where
        Self: 'a;
    /// Locks for reading.
    fn __raceway_read(&self, name: &str, location: Location) -> impl std::future::Future<Output = Self::Read<'_>>;
    /// Locks for writing.
    fn __raceway_write(&self, name: &str, location: Location) -> impl std::future::Future<Output = Self::Write<'_>>;
}

impl<T: ?Sized> MutexSync for std::sync::Mutex<T> {
    type Guard<'a>
        = LockGuard<std::sync::MutexGuard<'a, T>>
    where
        T: 'a;
    fn __raceway_lock(&self, name: &str, location: Location) -> Self::Guard<'_> {
        let g = self.lock().unwrap_or_else(PoisonError::into_inner);
        LockGuard::new(g, LockId::At(name, addr(self)), MUTEX, location)
    }
}

impl<T: ?Sized> RwSync for std::sync::RwLock<T> {
    type Read<'a>
        = LockGuard<std::sync::RwLockReadGuard<'a, T>>
    where
        T: 'a;
    type Write<'a>
        = LockGuard<std::sync::RwLockWriteGuard<'a, T>>
    where
        T: 'a;
    fn __raceway_read(&self, name: &str, location: Location) -> Self::Read<'_> {
        let g = self.read().unwrap_or_else(PoisonError::into_inner);
        LockGuard::new(g, LockId::At(name, addr(self)), READ, location)
    }
    fn __raceway_write(&self, name: &str, location: Location) -> Self::Write<'_> {
        let g = self.write().unwrap_or_else(PoisonError::into_inner);
        LockGuard::new(g, LockId::At(name, addr(self)), WRITE, location)
    }
}

#[cfg(feature = "parking_lot")]
impl<T: ?Sized> MutexSync for parking_lot::Mutex<T> {
    type Guard<'a>
        = LockGuard<parking_lot::MutexGuard<'a, T>>
    where
        T: 'a;
    fn __raceway_lock(&self, name: &str, location: Location) -> Self::Guard<'_> {
        LockGuard::new(self.lock(), LockId::At(name, addr(self)), MUTEX, location)
    }
}

#[cfg(feature = "parking_lot")]
impl<T: ?Sized> RwSync for parking_lot::RwLock<T> {
    type Read<'a>
        = LockGuard<parking_lot::RwLockReadGuard<'a, T>>
    where
        T: 'a;
    type Write<'a>
        = LockGuard<parking_lot::RwLockWriteGuard<'a, T>>
    where
        T: 'a;
    fn __raceway_read(&self, name: &str, location: Location) -> Self::Read<'_> {
        LockGuard::new(self.read(), LockId::At(name, addr(self)), READ, location)
    }
    fn __raceway_write(&self, name: &str, location: Location) -> Self::Write<'_> {
        LockGuard::new(self.write(), LockId::At(name, addr(self)), WRITE, location)
    }
}

#[cfg(feature = "tokio")]
impl<T: ?Sized> MutexAsync for tokio::sync::Mutex<T> {
    type Guard<'a>
        = LockGuard<tokio::sync::MutexGuard<'a, T>>
    where
        T: 'a;
    async fn __raceway_lock(&self, name: &str, location: Location) -> Self::Guard<'_> {
        let g = self.lock().await;
        LockGuard::new(g, LockId::At(name, addr(self)), MUTEX, location)
    }
}

#[cfg(feature = "tokio")]
impl<T: ?Sized> RwAsync for tokio::sync::RwLock<T> {
    type Read<'a>
        = LockGuard<tokio::sync::RwLockReadGuard<'a, T>>
    where
        T: 'a;
    type Write<'a>
        = LockGuard<tokio::sync::RwLockWriteGuard<'a, T>>
    where
        T: 'a;
    async fn __raceway_read(&self, name: &str, location: Location) -> Self::Read<'_> {
        let g = self.read().await;
        LockGuard::new(g, LockId::At(name, addr(self)), READ, location)
    }
    async fn __raceway_write(&self, name: &str, location: Location) -> Self::Write<'_> {
        let g = self.write().await;
        LockGuard::new(g, LockId::At(name, addr(self)), WRITE, location)
    }
}

/// Locks a mutex or one side of a read/write lock, recording `LockAcquire` once it is held and
/// `LockRelease` when the returned guard drops (before the real unlock, also during a panic),
/// both at this call site.
///
/// | form | locks |
/// |---|---|
/// | `lock!(m)` | `std::sync::Mutex`, `parking_lot::Mutex`, [`TrackedMutex`] |
/// | `lock!(m).await` | `tokio::sync::Mutex` |
/// | `lock!(read m)`, `lock!(write m)` | `std::sync::RwLock`, `parking_lot::RwLock`, [`TrackedRwLock`] |
/// | `lock!(read m).await`, `lock!(write m).await` | `tokio::sync::RwLock` |
///
/// `m` may be the lock itself, a reference, an `Arc`, ... (method-call auto-deref). A name may
/// follow: `lock!(m, "accounts")`. The lock id is `<name>@<address of the lock>` (the name
/// defaults to the text of `m`), so two lock objects never share an id while both exist. A lock
/// that is *moved* gets a new id: harmless for locks behind an `Arc` or in a `static`, which do
/// not move; use [`TrackedMutex`]/[`TrackedRwLock`], whose id travels with them, for a lock that
/// moves between uses. A poisoned `std` lock is
/// entered anyway with the data as the panicking holder left it. Without the `enabled` feature
/// the macro is a plain `lock()`.
///
/// ```
/// use std::sync::{Arc, Mutex, RwLock};
/// let accounts = Arc::new(Mutex::new(vec![100, 50]));
/// {
///     let mut a = raceway::lock!(accounts, "accounts");
///     a[0] -= 30;
///     a[1] += 30;
/// } // LockRelease recorded here, then the mutex unlocks
/// let config = RwLock::new("v1");
/// assert_eq!(*raceway::lock!(read config), "v1");
/// *raceway::lock!(write config) = "v2";
/// ```
#[macro_export]
macro_rules! lock {
    (read $lock:expr $(, $name:expr)? $(,)?) => {
        $crate::__lock_call!(__raceway_read, $lock $(, $name)?)
    };
    (write $lock:expr $(, $name:expr)? $(,)?) => {
        $crate::__lock_call!(__raceway_write, $lock $(, $name)?)
    };
    ($lock:expr $(, $name:expr)? $(,)?) => {
        $crate::__lock_call!(__raceway_lock, $lock $(, $name)?)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __lock_call {
    ($method:ident, $lock:expr) => {
        $crate::__lock_call!($method, $lock, ::core::stringify!($lock))
    };
    ($method:ident, $lock:expr, $name:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{MutexAsync as _, MutexSync as _, RwAsync as _, RwSync as _};
        ($lock).$method($name, $crate::Location::new(::core::file!(), ::core::line!(), ::core::column!()))
    }};
}

/// Allocates `prefix#N` ids for unnamed tracked locks, and de-duplicates given names.
fn tracked_lock_id(name: Option<Name>, prefix: &str) -> Name {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    static USED: std::sync::Mutex<Option<HashMap<String, u64>>> = std::sync::Mutex::new(None);
    let Some(name) = name else {
        return Name::from(format!("{prefix}#{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    };
    let mut used = USED.lock().unwrap_or_else(PoisonError::into_inner);
    let n = used.get_or_insert_with(HashMap::new).entry(name.as_str().to_owned()).or_insert(0);
    *n += 1;
    if *n == 1 {
        name
    } else {
        Name::from(format!("{name}#{n}"))
    }
}

/// A `std::sync::Mutex` whose locking is recorded, with a lock id that stays with the object.
///
/// Ids: `TrackedMutex::new` gives `mutex#N`; `TrackedMutex::named("accounts", ..)` gives
/// `accounts`, or `accounts#2` for a second mutex of that name (two objects never share an id).
///
/// ```
/// let accounts = raceway::TrackedMutex::named("accounts", vec![100, 50]);
/// accounts.lock()[0] -= 30;
/// assert_eq!(accounts.lock()[0], 70);
/// assert_eq!(accounts.id(), "accounts");
/// ```
pub struct TrackedMutex<T: ?Sized> {
    id: Name,
    inner: std::sync::Mutex<T>,
}

impl<T> TrackedMutex<T> {
    /// A mutex with a generated id (`mutex#N`).
    pub fn new(value: T) -> Self {
        TrackedMutex { id: Self::id_for(None), inner: std::sync::Mutex::new(value) }
    }

    /// A mutex with a readable id.
    pub fn named(name: impl Into<Name>, value: T) -> Self {
        TrackedMutex { id: Self::id_for(Some(name.into())), inner: std::sync::Mutex::new(value) }
    }

    fn id_for(name: Option<Name>) -> Name {
        if cfg!(feature = "enabled") {
            tracked_lock_id(name, "mutex")
        } else {
            Name::from_static("")
        }
    }

    /// The value, consuming the mutex (a poisoned mutex gives its data as left).
    pub fn into_inner(self) -> T {
        self.inner.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> TrackedMutex<T> {
    /// Locks (blocking), recording the acquisition and, when the guard drops, the release.
    #[track_caller]
    pub fn lock(&self) -> LockGuard<std::sync::MutexGuard<'_, T>> {
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        LockGuard::new(g, LockId::Named(&self.id), MUTEX, Location::caller())
    }

    /// The lock id events carry (empty when instrumentation is compiled out).
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// The value, through exclusive access (no locking needed, nothing recorded).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> MutexSync for TrackedMutex<T> {
    type Guard<'a>
        = LockGuard<std::sync::MutexGuard<'a, T>>
    where
        T: 'a;
    fn __raceway_lock(&self, _name: &str, location: Location) -> Self::Guard<'_> {
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        LockGuard::new(g, LockId::Named(&self.id), MUTEX, location)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for TrackedMutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedMutex").field("id", &self.id).field("inner", &self.inner).finish()
    }
}

/// A `std::sync::RwLock` whose locking is recorded (`RwLock::Read` / `RwLock::Write`), with a
/// lock id that stays with the object (`rwlock#N`, or the given name, de-duplicated).
///
/// ```
/// let config = raceway::TrackedRwLock::named("config", String::from("v1"));
/// assert_eq!(*config.read(), "v1");
/// config.write().push_str(".1");
/// assert_eq!(*config.read(), "v1.1");
/// ```
pub struct TrackedRwLock<T: ?Sized> {
    id: Name,
    inner: std::sync::RwLock<T>,
}

impl<T> TrackedRwLock<T> {
    /// A read/write lock with a generated id (`rwlock#N`).
    pub fn new(value: T) -> Self {
        TrackedRwLock { id: Self::id_for(None), inner: std::sync::RwLock::new(value) }
    }

    /// A read/write lock with a readable id.
    pub fn named(name: impl Into<Name>, value: T) -> Self {
        TrackedRwLock { id: Self::id_for(Some(name.into())), inner: std::sync::RwLock::new(value) }
    }

    fn id_for(name: Option<Name>) -> Name {
        if cfg!(feature = "enabled") {
            tracked_lock_id(name, "rwlock")
        } else {
            Name::from_static("")
        }
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.inner.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> TrackedRwLock<T> {
    /// Locks for reading, recording `RwLock::Read` acquire and release.
    #[track_caller]
    pub fn read(&self) -> LockGuard<std::sync::RwLockReadGuard<'_, T>> {
        let g = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        LockGuard::new(g, LockId::Named(&self.id), READ, Location::caller())
    }

    /// Locks for writing, recording `RwLock::Write` acquire and release.
    #[track_caller]
    pub fn write(&self) -> LockGuard<std::sync::RwLockWriteGuard<'_, T>> {
        let g = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        LockGuard::new(g, LockId::Named(&self.id), WRITE, Location::caller())
    }

    /// The lock id events carry (empty when instrumentation is compiled out).
    pub fn id(&self) -> &str {
        self.id.as_str()
    }
}

impl<T: ?Sized> RwSync for TrackedRwLock<T> {
    type Read<'a>
        = LockGuard<std::sync::RwLockReadGuard<'a, T>>
    where
        T: 'a;
    type Write<'a>
        = LockGuard<std::sync::RwLockWriteGuard<'a, T>>
    where
        T: 'a;
    fn __raceway_read(&self, _name: &str, location: Location) -> Self::Read<'_> {
        let g = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        LockGuard::new(g, LockId::Named(&self.id), READ, location)
    }
    fn __raceway_write(&self, _name: &str, location: Location) -> Self::Write<'_> {
        let g = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        LockGuard::new(g, LockId::Named(&self.id), WRITE, location)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for TrackedRwLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedRwLock").field("id", &self.id).field("inner", &self.inner).finish()
    }
}
