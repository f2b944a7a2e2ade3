//! The `lock!` macro and the traits it dispatches on, implemented for the locks of `std`,
//! `parking_lot` (feature `parking_lot`) and `tokio` (feature `tokio`).

use super::guard::{addr, LockGuard, LockId, MUTEX, READ, WRITE};
use crate::event::location::Location;
use std::sync::PoisonError;

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
        LockGuard::awaitable(g, LockId::At(name, addr(self)), MUTEX, location)
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
        LockGuard::awaitable(g, LockId::At(name, addr(self)), READ, location)
    }
    async fn __raceway_write(&self, name: &str, location: Location) -> Self::Write<'_> {
        let g = self.write().await;
        LockGuard::awaitable(g, LockId::At(name, addr(self)), WRITE, location)
    }
}

/// Locks a mutex or one side of a read/write lock, recording `LockAcquire` once it is held and
/// `LockRelease` when the returned guard drops (before the real unlock, also during a panic),
/// both at this call site.
///
/// | form | locks |
/// |---|---|
/// | `lock!(m)` | `std::sync::Mutex`, `parking_lot::Mutex`, [`TrackedMutex`](crate::TrackedMutex) |
/// | `lock!(m).await` | `tokio::sync::Mutex` |
/// | `lock!(read m)`, `lock!(write m)` | `std::sync::RwLock`, `parking_lot::RwLock`, [`TrackedRwLock`](crate::TrackedRwLock) |
/// | `lock!(read m).await`, `lock!(write m).await` | `tokio::sync::RwLock` |
///
/// `m` may be the lock itself, a reference, an `Arc`, ... (method-call auto-deref). A name may
/// follow: `lock!(m, "accounts")`. The lock id is `<name>@<address of the lock>` (the name
/// defaults to the text of `m`), so two lock objects never share an id while both exist. A lock
/// that is *moved* gets a new id: harmless for locks behind an `Arc` or in a `static`, which do
/// not move; use [`TrackedMutex`](crate::TrackedMutex)/[`TrackedRwLock`](crate::TrackedRwLock), whose id travels with them, for a lock that
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
