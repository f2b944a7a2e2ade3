//! [`Tracked<T>`]: a named shared cell whose reads and writes are recorded as `StateChange`s, so
//! the server can tell which accesses of different tasks race.
//!
//! Each access is atomic on its own (the value sits behind a mutex); what the server finds are
//! the races *between* accesses, such as the lost update of a `get` followed by a `set` in two
//! tasks. [`Tracked::update`] is one atomic read-modify-write: it is recorded as a `Read` and a
//! `Write` between a `LockAcquire`/`LockRelease` of a lock owned by the cell, so two `update`s of
//! one cell share that lock and are never reported against each other, while a plain `set` (which
//! holds no lock) racing with an `update` still is. It is deliberately not recorded as
//! `AtomicRMW`: the server compares `AtomicRMW` pairs and would report every two updates.
//!
//! Variable names decide what the server compares (contract §3), so two cells never share a name
//! unless the caller asks for it with [`VarName::exact`]: a second cell created with the name
//! `"x"` while the process already has one is called `"x#2"`, a third `"x#3"`, and so on.

use crate::event::name::Name;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

#[cfg(raceway_on)]
use crate::{
    event::compact::Small,
    event::location::Location,
    event::value::null,
    event::{AccessType, LockKind},
    instrument::locks::HeldLock,
    instrument::track::{access_at, state_change_at},
    stage::switch::enabled,
};

/// How a [`Tracked`] cell turns its value into an event value.
pub type CaptureFn<T> = fn(&T) -> crate::event::value::Value;

/// The variable name of a [`Tracked`] cell: unique in the process (the default), or exactly as
/// given when several cells stand for one logical variable.
///
/// Uniqueness comes from a process-wide count of how many cells were given each name: the second
/// `"x"` is `"x#2"` even if the first cell is gone, because the server keeps the first cell's
/// events and would compare them with the new cell's. The count costs one map entry per distinct
/// name, so build names from bounded sets (entity kinds, keys), not from per-request data.
///
/// ```
/// use raceway::{Tracked, VarName};
/// let a = Tracked::new("visits", 0);
/// let b = Tracked::new("visits", 0); // another object: another variable
/// assert_ne!(a.name(), b.name());
/// // Two handles on the same database row are one variable: say so.
/// let c = Tracked::new(VarName::exact("row[7].stock"), 3);
/// let d = Tracked::new(VarName::exact("row[7].stock"), 3);
/// assert_eq!(c.name(), d.name());
/// ```
#[derive(Clone, Debug)]
pub struct VarName {
    name: Name,
    exact: bool,
}

impl VarName {
    /// `name`, or `name#N` when another cell of this process already uses it.
    pub fn unique(name: impl Into<Name>) -> Self {
        VarName { name: name.into(), exact: false }
    }

    /// Exactly `name`, even if other cells use it: they will be compared as one variable.
    pub fn exact(name: impl Into<Name>) -> Self {
        VarName { name: name.into(), exact: true }
    }

    /// The name actually used, registering it.
    #[cfg(raceway_on)]
    fn resolve(self) -> Name {
        use std::collections::HashMap;
        static USED: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);
        let mut used = USED.lock().unwrap_or_else(PoisonError::into_inner);
        let count = used.get_or_insert_with(HashMap::new).entry(self.name.as_str().to_owned()).or_insert(0);
        *count += 1;
        if self.exact || *count == 1 {
            self.name
        } else {
            Name::from(format!("{}#{}", self.name, count))
        }
    }
}

impl From<&'static str> for VarName {
    fn from(s: &'static str) -> Self {
        VarName::unique(s)
    }
}

impl From<String> for VarName {
    fn from(s: String) -> Self {
        VarName::unique(s)
    }
}

impl From<Name> for VarName {
    fn from(n: Name) -> Self {
        VarName::unique(n)
    }
}

/// What a cell needs to record (absent when instrumentation is compiled out).
#[cfg(raceway_on)]
struct Meta<T> {
    name: Name,
    /// The cell's own lock, held by [`Tracked::update`].
    update_lock: Name,
    capture: CaptureFn<T>,
    /// For cells built by [`Tracked::new`]: captures straight into the compact form, so a
    /// primitive never goes through `serde_json` on the hot path (`event/compact.rs`).
    small: Option<fn(&T) -> Small>,
}

#[cfg(raceway_on)]
impl<T> Meta<T> {
    #[inline]
    fn small(&self, v: &T) -> Small {
        match self.small {
            Some(small) => small(v),
            None => Small::from_value((self.capture)(v)),
        }
    }
}

/// A named shared value whose accesses are recorded: `get` records a `Read` with the value,
/// `set` a `Write` with the old and new values, `update` an atomic read-modify-write: a `Read`
/// and a `Write` between a `LockAcquire`/`LockRelease` of the cell's own lock (`<name>.update`),
/// so two `update`s never race with each other while a `set` racing with an `update` does. It is
/// deliberately not recorded as `AtomicRMW`, which the server compares pair by pair and would
/// report for every two updates. Locations are the caller's.
///
/// `Tracked<T>` is `Send + Sync` when `T: Send`, so it is shared behind an `Arc` across tasks and
/// threads. A poisoned cell (a panic inside [`Tracked::update`]) keeps working with the value as
/// the panic left it. Without the `enabled` feature it is a plain mutex-protected cell.
///
/// ```
/// use std::sync::Arc;
/// let balance = Arc::new(raceway::Tracked::new("alice.balance", 100));
/// let b = balance.clone();
/// std::thread::spawn(move || b.update(|v| *v -= 30)).join().unwrap();
/// balance.set(balance.get() + 5); // two accesses: racy if another task writes in between
/// assert_eq!(balance.get(), 75);
/// ```
pub struct Tracked<T> {
    value: Mutex<T>,
    #[cfg(raceway_on)]
    meta: Meta<T>,
}

impl<T> Tracked<T> {
    /// A cell named `name` whose values are recorded as JSON.
    ///
    /// ```
    /// let hits = raceway::Tracked::new("cache.hits", 0u64);
    /// hits.update(|h| *h += 1);
    /// ```
    pub fn new(name: impl Into<VarName>, value: T) -> Self
    where
        T: serde::Serialize,
    {
        #[allow(unused_mut)]
        let mut cell = Self::with_capture(name.into(), value, |v| crate::event::value::capture(v));
        #[cfg(raceway_on)]
        {
            cell.meta.small = Some(|v| Small::capture(v));
        }
        cell
    }

    /// A cell for a type that is not `Serialize`: values are recorded by their `Debug` text.
    ///
    /// ```
    /// #[derive(Debug, Clone, PartialEq)]
    /// enum State { Idle, Busy }
    /// let s = raceway::Tracked::new_debug("worker.state", State::Idle);
    /// s.set(State::Busy);
    /// assert_eq!(s.get(), State::Busy);
    /// ```
    pub fn new_debug(name: impl Into<VarName>, value: T) -> Self
    where
        T: fmt::Debug,
    {
        Self::with_capture(name.into(), value, |v| crate::event::value::from_debug(v))
    }

    /// A cell whose values are recorded only by their type name (for types that are neither
    /// `Serialize` nor `Debug`).
    ///
    /// ```
    /// struct Handle(u32);
    /// let h = raceway::Tracked::new_opaque("conn.handle", Handle(1));
    /// h.update(|h| h.0 += 1);
    /// ```
    pub fn new_opaque(name: impl Into<VarName>, value: T) -> Self {
        Self::with_capture(name.into(), value, |_| crate::event::value::from_type_name(std::any::type_name::<T>()))
    }

    /// A cell recording values with `capture` (what `#[shared]` uses after choosing it by autoref).
    #[doc(hidden)]
    pub fn with_capture(name: VarName, value: T, capture: CaptureFn<T>) -> Self {
        #[cfg(raceway_on)]
        {
            let name = name.resolve();
            let update_lock = Name::from(format!("{name}.update"));
            Tracked { value: Mutex::new(value), meta: Meta { name, update_lock, capture, small: None } }
        }
        #[cfg(not(raceway_on))]
        {
            let _ = (name, capture);
            Tracked { value: Mutex::new(value) }
        }
    }

    /// The variable name events carry (empty when instrumentation is compiled out).
    pub fn name(&self) -> &str {
        #[cfg(raceway_on)]
        return self.meta.name.as_str();
        #[cfg(not(raceway_on))]
        ""
    }

    fn lock(&self) -> MutexGuard<'_, T> {
        self.value.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the value (records a `Read` with it).
    ///
    /// ```
    /// let n = raceway::Tracked::new("n", 3);
    /// assert_eq!(n.get(), 3);
    /// ```
    #[track_caller]
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.read(T::clone)
    }

    /// Reads the value through `f` without cloning it (records a `Read` with the value).
    ///
    /// ```
    /// let names = raceway::Tracked::new("names", vec!["a".to_string()]);
    /// assert_eq!(names.read(|v| v.len()), 1);
    /// ```
    #[track_caller]
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let guard = self.lock();
        #[cfg(raceway_on)]
        if enabled() {
            let meta = &self.meta;
            access_at(
                AccessType::Read,
                std::panic::Location::caller(),
                #[inline(always)]
                || (meta.name.clone(), Small::Null, meta.small(&guard)),
            );
        }
        f(&guard)
    }

    /// Replaces the value (records a `Write` from the old value to the new one).
    ///
    /// ```
    /// let n = raceway::Tracked::new("n", 3);
    /// n.set(4);
    /// assert_eq!(n.get(), 4);
    /// ```
    #[track_caller]
    pub fn set(&self, value: T) {
        drop(self.replace(value));
    }

    /// Replaces the value and returns the old one (records a `Write`).
    #[track_caller]
    pub fn replace(&self, value: T) -> T {
        let mut guard = self.lock();
        let old = std::mem::replace(&mut *guard, value);
        #[cfg(raceway_on)]
        if enabled() {
            let meta = &self.meta;
            access_at(
                AccessType::Write,
                std::panic::Location::caller(),
                #[inline(always)]
                || (meta.name.clone(), meta.small(&old), meta.small(&guard)),
            );
        }
        old
    }

    /// Changes the value in one atomic step: `f` runs holding the cell's lock. Recorded as
    /// `LockAcquire`, `Read`, `Write`, `LockRelease` on the cell's own lock (`<name>.update`),
    /// so concurrent `update`s are never reported as racing with each other.
    ///
    /// ```
    /// let n = raceway::Tracked::new("n", 3);
    /// let doubled = n.update(|v| { *v *= 2; *v });
    /// assert_eq!(doubled, 6);
    /// ```
    #[track_caller]
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut guard = self.lock();
        #[cfg(raceway_on)]
        if enabled() {
            let location = Location::caller();
            let name = &self.meta.name;
            let held = HeldLock::acquired(self.meta.update_lock.clone(), LockKind::Mutex, location);
            let before = (self.meta.capture)(&guard);
            state_change_at(name.clone(), null(), before.clone(), AccessType::Read, location);
            let r = f(&mut guard);
            let after = (self.meta.capture)(&guard);
            state_change_at(name.clone(), before, after, AccessType::Write, location);
            drop(held);
            return r;
        }
        f(&mut guard)
    }

    /// The value, through exclusive access (not recorded: `&mut` rules out a concurrent access).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value, consuming the cell (not recorded).
    pub fn into_inner(self) -> T {
        self.value.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Shows the name and the current value without recording an access.
impl<T: fmt::Debug> fmt::Debug for Tracked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value.try_lock() {
            Ok(v) => f.debug_struct("Tracked").field("name", &self.name()).field("value", &*v).finish(),
            Err(_) => f.debug_struct("Tracked").field("name", &self.name()).finish_non_exhaustive(),
        }
    }
}

#[cfg(all(test, raceway_on))]
mod tests {
    use super::*;

    #[test]
    fn a_reused_name_gets_a_numbered_suffix_unless_exact() {
        let a = Tracked::new("tracked::unit::same", 0);
        let b = Tracked::new("tracked::unit::same", 0);
        let c = Tracked::new(VarName::exact("tracked::unit::same"), 0);
        assert_eq!(a.name(), "tracked::unit::same");
        assert_eq!(b.name(), "tracked::unit::same#2");
        assert_eq!(c.name(), "tracked::unit::same");
    }
}
