//! [`TrackedMutex`] and [`TrackedRwLock`]: `std` locks whose locking is recorded under an id that
//! travels with the object. Both are a thin public face over one private [`Core`], which holds
//! the id and makes the guards.

use super::guard::{Kind, LockGuard, LockId, MUTEX, READ, WRITE};
use super::traits::{MutexSync, RwSync};
use crate::event::location::Location;
use crate::event::name::Name;
use std::sync::PoisonError;

/// What both tracked locks are: an id and the real lock.
struct Core<L: ?Sized> {
    id: Name,
    inner: L,
}

impl<L> Core<L> {
    /// `prefix#N` when unnamed; the name, de-duplicated (`name#2`, ...), when given; empty when
    /// instrumentation is compiled out.
    fn new(name: Option<Name>, prefix: &str, inner: L) -> Self {
        let id = if cfg!(raceway_on) { unique_id(name, prefix) } else { Name::from_static("") };
        Core { id, inner }
    }
}

impl<L: ?Sized> Core<L> {
    fn guard<G>(&self, guard: G, kind: Kind, location: Location) -> LockGuard<G> {
        LockGuard::new(guard, LockId::Named(&self.id), kind, location)
    }

    fn debug(&self, f: &mut std::fmt::Formatter<'_>, type_name: &str) -> std::fmt::Result
    where
        L: std::fmt::Debug,
    {
        f.debug_struct(type_name).field("id", &self.id).field("inner", &&self.inner).finish()
    }
}

/// Allocates `prefix#N` ids for unnamed tracked locks, and de-duplicates given names (two
/// objects never share an id).
pub(crate) fn unique_id(name: Option<Name>, prefix: &str) -> Name {
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
pub struct TrackedMutex<T: ?Sized>(Core<std::sync::Mutex<T>>);

impl<T> TrackedMutex<T> {
    /// A mutex with a generated id (`mutex#N`).
    pub fn new(value: T) -> Self {
        TrackedMutex(Core::new(None, "mutex", std::sync::Mutex::new(value)))
    }

    /// A mutex with a readable id.
    pub fn named(name: impl Into<Name>, value: T) -> Self {
        TrackedMutex(Core::new(Some(name.into()), "mutex", std::sync::Mutex::new(value)))
    }

    /// The value, consuming the mutex (a poisoned mutex gives its data as left).
    pub fn into_inner(self) -> T {
        self.0.inner.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> TrackedMutex<T> {
    /// Locks (blocking), recording the acquisition and, when the guard drops, the release.
    #[track_caller]
    pub fn lock(&self) -> LockGuard<std::sync::MutexGuard<'_, T>> {
        self.__raceway_lock("", Location::caller())
    }

    /// The lock id events carry (empty when instrumentation is compiled out).
    pub fn id(&self) -> &str {
        self.0.id.as_str()
    }

    /// The value, through exclusive access (no locking needed, nothing recorded).
    pub fn get_mut(&mut self) -> &mut T {
        self.0.inner.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> MutexSync for TrackedMutex<T> {
    type Guard<'a>
        = LockGuard<std::sync::MutexGuard<'a, T>>
    where
        T: 'a;
    fn __raceway_lock(&self, _name: &str, location: Location) -> Self::Guard<'_> {
        self.0.guard(self.0.inner.lock().unwrap_or_else(PoisonError::into_inner), MUTEX, location)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for TrackedMutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.debug(f, "TrackedMutex")
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
pub struct TrackedRwLock<T: ?Sized>(Core<std::sync::RwLock<T>>);

impl<T> TrackedRwLock<T> {
    /// A read/write lock with a generated id (`rwlock#N`).
    pub fn new(value: T) -> Self {
        TrackedRwLock(Core::new(None, "rwlock", std::sync::RwLock::new(value)))
    }

    /// A read/write lock with a readable id.
    pub fn named(name: impl Into<Name>, value: T) -> Self {
        TrackedRwLock(Core::new(Some(name.into()), "rwlock", std::sync::RwLock::new(value)))
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.0.inner.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> TrackedRwLock<T> {
    /// Locks for reading, recording `RwLock::Read` acquire and release.
    #[track_caller]
    pub fn read(&self) -> LockGuard<std::sync::RwLockReadGuard<'_, T>> {
        self.__raceway_read("", Location::caller())
    }

    /// Locks for writing, recording `RwLock::Write` acquire and release.
    #[track_caller]
    pub fn write(&self) -> LockGuard<std::sync::RwLockWriteGuard<'_, T>> {
        self.__raceway_write("", Location::caller())
    }

    /// The lock id events carry (empty when instrumentation is compiled out).
    pub fn id(&self) -> &str {
        self.0.id.as_str()
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
        self.0.guard(self.0.inner.read().unwrap_or_else(PoisonError::into_inner), READ, location)
    }
    fn __raceway_write(&self, _name: &str, location: Location) -> Self::Write<'_> {
        self.0.guard(self.0.inner.write().unwrap_or_else(PoisonError::into_inner), WRITE, location)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for TrackedRwLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.debug(f, "TrackedRwLock")
    }
}
