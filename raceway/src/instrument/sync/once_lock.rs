//! [`OnceLock`]: `std::sync::OnceLock` whose initialisation happens before every read of it.

use super::LazyName;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::SyncPoint;

/// A tracked [`std::sync::OnceLock`]: the same API; the task that initialises it releases, and
/// every `get` (or `get_or_init`) that finds the value acquires, so what the initialiser did
/// before storing the value is ordered before what the readers do after reading it.
///
/// ```
/// static CONFIG: raceway::sync::OnceLock<String> = raceway::sync::OnceLock::new();
/// assert_eq!(CONFIG.get_or_init(|| "v1".to_owned()), "v1");
/// assert_eq!(CONFIG.set("v2".to_owned()), Err("v2".to_owned()));
/// assert_eq!(CONFIG.get().map(String::as_str), Some("v1"));
/// ```
pub struct OnceLock<T> {
    inner: std::sync::OnceLock<T>,
    name: LazyName,
    sync: SyncPoint,
}

impl<T> OnceLock<T> {
    /// An empty cell (`const`, like std's), named `once#N` on first use.
    pub const fn new() -> Self {
        OnceLock { inner: std::sync::OnceLock::new(), name: LazyName::new("once"), sync: SyncPoint::new() }
    }

    /// An empty cell whose events carry `name` as their object.
    pub fn named(name: impl Into<Name>) -> Self {
        OnceLock {
            inner: std::sync::OnceLock::new(),
            name: LazyName::named(name.into(), "once"),
            sync: SyncPoint::new(),
        }
    }

    /// The value, if initialised (acquires from the initialisation when it is).
    #[track_caller]
    pub fn get(&self) -> Option<&T> {
        let v = self.inner.get();
        if v.is_some() {
            self.sync.acquire("once.get", self.name.get(), Location::caller());
        }
        v
    }

    /// The value, through exclusive access (nothing recorded).
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.inner.get_mut()
    }

    /// Initialises the cell with `value`, or gives it back when it was already initialised.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let location = Location::caller();
        let mut value = Some(value);
        self.inner.get_or_init(|| {
            self.sync.release("once.set", self.name.get(), location);
            value.take().unwrap_or_else(|| unreachable!("an initialiser runs once"))
        });
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, initialising it with `f` first when empty (the initialising task releases; a
    /// task that finds the value acquires).
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        let location = Location::caller();
        let mut initialised = false;
        let v = self.inner.get_or_init(|| {
            let v = f();
            // Before the value is visible, so that no reader can miss the edge.
            self.sync.release("once.set", self.name.get(), location);
            initialised = true;
            v
        });
        if !initialised {
            self.sync.acquire("once.get", self.name.get(), location);
        }
        v
    }

    /// The value, consuming the cell.
    pub fn into_inner(self) -> Option<T> {
        self.inner.into_inner()
    }

    /// Takes the value out, leaving the cell empty (and forgetting the initialisation's edge).
    pub fn take(&mut self) -> Option<T> {
        self.sync.set(None);
        self.inner.take()
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> Self {
        OnceLock { inner: std::sync::OnceLock::from(value), name: LazyName::new("once"), sync: SyncPoint::new() }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnceLock").field("name", &self.name).field("value", &self.inner.get()).finish()
    }
}
