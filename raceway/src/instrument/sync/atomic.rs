//! Tracked atomics: `std::sync::atomic`'s types, method for method, recording each operation as a
//! `StateChange` (`AtomicRead`, `AtomicWrite`, `AtomicRMW`) on the atomic's name, with the
//! happens-before of the C++/Rust memory model's release sequences:
//!
//! - a `Release`/`AcqRel`/`SeqCst` store starts a release sequence: what the storing task did
//!   before it is what an acquirer of this value continues from;
//! - a `Relaxed` store ends the sequence: a later `Acquire` load orders nothing;
//! - a read-modify-write continues the sequence (and, when it releases, adds its own task);
//! - an `Acquire`/`AcqRel`/`SeqCst` load, a read-modify-write that acquires, or a successful
//!   `compare_exchange` whose success ordering acquires, continues from the sequence it read.
//!
//! The real operation and the update of the clock it carries happen as one step (under the
//! object's [`SyncPoint`] lock) while something records, so a load that sees a value also sees
//! the clock stored with it, and the verdict does not depend on the schedule. When nothing
//! records, an operation is the plain atomic operation and takes no lock.
//!
//! The memory ordering is named in the `data` of the `atomic.release` / `atomic.acquire` events
//! that carry the edges (the server's `StateChange` has no ordering field); a `Relaxed` operation
//! records only its `StateChange`.

use super::object_name;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::value::{capture, null, Value};
use crate::event::AccessType;
use crate::instrument::handoff::{acquire_ordered, release_ordered, SyncPoint};
use crate::instrument::track::state_change_at;
use crate::stage::switch::enabled;
use std::sync::atomic as std_atomic;
use std::sync::OnceLock;

pub use std::sync::atomic::{compiler_fence, fence, Ordering};

fn acquires(o: Ordering) -> bool {
    matches!(o, Ordering::Acquire | Ordering::AcqRel | Ordering::SeqCst)
}

fn releases(o: Ordering) -> bool {
    matches!(o, Ordering::Release | Ordering::AcqRel | Ordering::SeqCst)
}

/// What one operation did, for the record: its kind, the ordering it took effect with, values.
struct Step {
    access: AccessType,
    ordering: Ordering,
    old: Value,
    new: Value,
}

/// The tracking half of every tracked atomic: its name (given, or `atomic#N` made on first use so
/// that `new` stays `const`) and the release sequence it carries.
struct Meta {
    name: OnceLock<Name>,
    sync: SyncPoint,
}

impl Meta {
    const fn new() -> Self {
        Meta { name: OnceLock::new(), sync: SyncPoint::new() }
    }

    fn named(name: Name) -> Self {
        let meta = Meta::new();
        let _ = meta.name.set(object_name(Some(name), "atomic"));
        meta
    }

    fn name(&self) -> &Name {
        self.name.get_or_init(|| object_name(None, "atomic"))
    }

    /// Runs `op` (the real operation) and, while something records, records it and moves the
    /// release sequence, all under the sequence's lock.
    #[inline]
    fn run<R>(&self, location: Location, op: impl FnOnce() -> R, what: impl FnOnce(&R) -> Step) -> R {
        if !enabled() {
            return op();
        }
        self.sync.with(|slot| {
            let out = op();
            let step = what(&out);
            let name = self.name();
            let ordering = Some(step.ordering.into());
            if step.access != AccessType::AtomicWrite && acquires(step.ordering) {
                // Only a value that a release sequence produced orders anything.
                if let Some(from) = slot.as_ref() {
                    acquire_ordered("atomic.acquire", name, location, ordering, Some(from));
                }
            }
            state_change_at(name.clone(), step.old, step.new, step.access, location);
            match step.access {
                AccessType::AtomicWrite => {
                    *slot = if releases(step.ordering) {
                        release_ordered("atomic.release", name, location, ordering)
                    } else {
                        None
                    };
                }
                AccessType::AtomicRMW if releases(step.ordering) => {
                    if let Some(mine) = release_ordered("atomic.release", name, location, ordering) {
                        match slot.as_mut() {
                            Some(joined) => joined.merge(&mine),
                            None => *slot = Some(mine),
                        }
                    }
                }
                _ => {}
            }
            out
        })
    }
}

fn load_step<T: serde::Serialize>(v: &T, ordering: Ordering) -> Step {
    Step { access: AccessType::AtomicRead, ordering, old: null(), new: capture(v) }
}

fn write_step<T: serde::Serialize>(access: AccessType, old: &T, new: &T, ordering: Ordering) -> Step {
    Step { access, ordering, old: capture(old), new: capture(new) }
}

/// The methods every atomic type has: `$val` is the value type, `$rec` turns a value into what is
/// recorded (pointers are recorded as addresses).
macro_rules! common_methods {
    ($val:ty, $rec:expr) => {
        /// Loads the value (records `AtomicRead`; an acquiring load continues from the release
        /// sequence it read).
        #[track_caller]
        pub fn load(&self, order: Ordering) -> $val {
            let rec = $rec;
            self.meta.run(Location::caller(), || self.inner.load(order), |v| load_step(&rec(*v), order))
        }

        /// Stores a value (records `AtomicWrite`; a releasing store starts a release sequence, a
        /// `Relaxed` one ends it).
        #[track_caller]
        pub fn store(&self, val: $val, order: Ordering) {
            if !enabled() {
                return self.inner.store(val, order);
            }
            let rec = $rec;
            // Under the sequence's lock no tracked operation runs in between: `old` is exact.
            self.meta.run(
                Location::caller(),
                || {
                    let old = self.inner.load(Ordering::Relaxed);
                    self.inner.store(val, order);
                    old
                },
                |old| write_step(AccessType::AtomicWrite, &rec(*old), &rec(val), order),
            );
        }

        /// Stores a value, returning the previous one (records `AtomicRMW`).
        #[track_caller]
        pub fn swap(&self, val: $val, order: Ordering) -> $val {
            let rec = $rec;
            self.meta.run(
                Location::caller(),
                || self.inner.swap(val, order),
                |old| write_step(AccessType::AtomicRMW, &rec(*old), &rec(val), order),
            )
        }

        /// Stores `new` if the value is `current` (records `AtomicRMW` with the success
        /// ordering when it did, `AtomicRead` with the failure ordering when it did not).
        #[track_caller]
        pub fn compare_exchange(
            &self,
            current: $val,
            new: $val,
            success: Ordering,
            failure: Ordering,
        ) -> Result<$val, $val> {
            self.recorded_cas(new, success, failure, || self.inner.compare_exchange(current, new, success, failure))
        }

        /// Like [`compare_exchange`](Self::compare_exchange), but may fail spuriously (recorded
        /// as the load it then was).
        #[track_caller]
        pub fn compare_exchange_weak(
            &self,
            current: $val,
            new: $val,
            success: Ordering,
            failure: Ordering,
        ) -> Result<$val, $val> {
            self.recorded_cas(new, success, failure, || {
                self.inner.compare_exchange_weak(current, new, success, failure)
            })
        }

        /// Runs a compare-and-exchange `op` and records what it turned out to be: a
        /// read-modify-write when it stored `new`, a load when it did not.
        #[track_caller]
        fn recorded_cas(
            &self,
            new: $val,
            success: Ordering,
            failure: Ordering,
            op: impl FnOnce() -> Result<$val, $val>,
        ) -> Result<$val, $val> {
            let rec = $rec;
            self.meta.run(Location::caller(), op, |r| match *r {
                Ok(old) => write_step(AccessType::AtomicRMW, &rec(old), &rec(new), success),
                Err(seen) => load_step(&rec(seen), failure),
            })
        }

        /// Applies `f` until it succeeds or returns `None` (recorded as one `AtomicRMW` with
        /// `set_order`, or one `AtomicRead` with `fetch_order` when `f` gave up).
        #[track_caller]
        pub fn fetch_update<F>(&self, set_order: Ordering, fetch_order: Ordering, mut f: F) -> Result<$val, $val>
        where
            F: FnMut($val) -> Option<$val>,
        {
            if !enabled() {
                return self.inner.fetch_update(set_order, fetch_order, f);
            }
            let rec = $rec;
            let (r, new) = self.meta.run(
                Location::caller(),
                || {
                    let mut new = None;
                    let r = self.inner.fetch_update(set_order, fetch_order, |v| {
                        new = f(v);
                        new
                    });
                    (r, new)
                },
                |(r, new)| match (*r, *new) {
                    (Ok(old), Some(new)) => write_step(AccessType::AtomicRMW, &rec(old), &rec(new), set_order),
                    (Ok(seen) | Err(seen), _) => load_step(&rec(seen), fetch_order),
                },
            );
            let _ = new;
            r
        }

        /// The value, through exclusive access (nothing recorded: no other task can see it).
        pub fn get_mut(&mut self) -> &mut $val {
            self.inner.get_mut()
        }

        /// The value, consuming the atomic.
        pub fn into_inner(self) -> $val {
            self.inner.into_inner()
        }

        /// The variable name its events carry (`atomic#N` unless built with `named`; empty when
        /// instrumentation is compiled out).
        pub fn name(&self) -> &str {
            if cfg!(raceway_on) {
                self.meta.name().as_str()
            } else {
                ""
            }
        }
    };
}

/// One read-modify-write method recorded as `AtomicRMW`.
macro_rules! rmw_method {
    ($(#[$doc:meta])* $method:ident, $val:ty, |$old:ident, $arg:ident| $new:expr) => {
        $(#[$doc])*
        #[track_caller]
        pub fn $method(&self, val: $val, order: Ordering) -> $val {
            self.meta.run(Location::caller(), || self.inner.$method(val, order), |&$old| {
                let $arg = val;
                write_step(AccessType::AtomicRMW, &$old, &$new, order)
            })
        }
    };
}

macro_rules! atomic_int {
    ($(#[$cfg:meta])* $name:ident, $std:ident, $int:ty, $example:literal) => {
        $(#[$cfg])*
        #[doc = concat!("A tracked [`std::sync::atomic::", stringify!($std), "`]: the same API, every operation recorded (see [the module](self)).")]
        ///
        /// ```
        #[doc = concat!("use raceway::sync::atomic::{", stringify!($name), ", Ordering};")]
        #[doc = concat!("static HITS: ", stringify!($name), " = ", stringify!($name), "::new(0);")]
        #[doc = concat!("HITS.fetch_add(", $example, ", Ordering::Relaxed);")]
        #[doc = concat!("assert_eq!(HITS.load(Ordering::Acquire), ", $example, ");")]
        /// ```
        pub struct $name {
            inner: std_atomic::$std,
            meta: Meta,
        }

        $(#[$cfg])*
        impl $name {
            /// A new atomic (`const`, like std's: usable in a `static`), named `atomic#N` on first
            /// use.
            pub const fn new(v: $int) -> Self {
                $name { inner: std_atomic::$std::new(v), meta: Meta::new() }
            }

            /// A new atomic whose events carry `name` (de-duplicated: a second atomic of that
            /// name is `name#2`).
            pub fn named(name: impl Into<Name>, v: $int) -> Self {
                $name { inner: std_atomic::$std::new(v), meta: Meta::named(name.into()) }
            }

            common_methods!($int, |v: $int| v);

            rmw_method!(
                /// Adds to the value (wrapping), returning the previous one.
                fetch_add, $int, |old, v| old.wrapping_add(v));
            rmw_method!(
                /// Subtracts from the value (wrapping), returning the previous one.
                fetch_sub, $int, |old, v| old.wrapping_sub(v));
            rmw_method!(
                /// Bitwise "and", returning the previous value.
                fetch_and, $int, |old, v| old & v);
            rmw_method!(
                /// Bitwise "nand", returning the previous value.
                fetch_nand, $int, |old, v| !(old & v));
            rmw_method!(
                /// Bitwise "or", returning the previous value.
                fetch_or, $int, |old, v| old | v);
            rmw_method!(
                /// Bitwise "xor", returning the previous value.
                fetch_xor, $int, |old, v| old ^ v);
            rmw_method!(
                /// Stores the maximum of the value and `val`, returning the previous value.
                fetch_max, $int, |old, v| old.max(v));
            rmw_method!(
                /// Stores the minimum of the value and `val`, returning the previous value.
                fetch_min, $int, |old, v| old.min(v));
        }

        $(#[$cfg])*
        impl Default for $name {
            fn default() -> Self {
                Self::new(0)
            }
        }

        $(#[$cfg])*
        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                Self::new(v)
            }
        }

        $(#[$cfg])*
        impl std::fmt::Debug for $name {
            // Like std's, shows the value; a debug print is not an access of the program's.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.inner, f)
            }
        }
    };
}

atomic_int!(
    #[cfg(target_has_atomic = "8")]
    AtomicI8,
    AtomicI8,
    i8,
    "3"
);
atomic_int!(
    #[cfg(target_has_atomic = "8")]
    AtomicU8,
    AtomicU8,
    u8,
    "3"
);
atomic_int!(
    #[cfg(target_has_atomic = "16")]
    AtomicI16,
    AtomicI16,
    i16,
    "3"
);
atomic_int!(
    #[cfg(target_has_atomic = "16")]
    AtomicU16,
    AtomicU16,
    u16,
    "3"
);
atomic_int!(
    #[cfg(target_has_atomic = "32")]
    AtomicI32,
    AtomicI32,
    i32,
    "3"
);
atomic_int!(
    #[cfg(target_has_atomic = "32")]
    AtomicU32,
    AtomicU32,
    u32,
    "3"
);
atomic_int!(
    #[cfg(target_has_atomic = "64")]
    AtomicI64,
    AtomicI64,
    i64,
    "3"
);
atomic_int!(
    #[cfg(target_has_atomic = "64")]
    AtomicU64,
    AtomicU64,
    u64,
    "3"
);
atomic_int!(
    #[cfg(target_has_atomic = "ptr")]
    AtomicIsize,
    AtomicIsize,
    isize,
    "3"
);
atomic_int!(
    #[cfg(target_has_atomic = "ptr")]
    AtomicUsize,
    AtomicUsize,
    usize,
    "3"
);

/// A tracked [`std::sync::atomic::AtomicBool`]: the same API, every operation recorded (see
/// [the module](self)). The classic use, a flag that publishes data:
///
/// ```
/// use raceway::sync::atomic::{AtomicBool, Ordering};
/// let ready = AtomicBool::named("ready", false);
/// ready.store(true, Ordering::Release); // orders what came before ...
/// assert!(ready.load(Ordering::Acquire)); // ... before what comes after this
/// assert_eq!(ready.name(), "ready");
/// ```
pub struct AtomicBool {
    inner: std_atomic::AtomicBool,
    meta: Meta,
}

impl AtomicBool {
    /// A new flag (`const`, like std's), named `atomic#N` on first use.
    pub const fn new(v: bool) -> Self {
        AtomicBool { inner: std_atomic::AtomicBool::new(v), meta: Meta::new() }
    }

    /// A new flag whose events carry `name` (de-duplicated).
    pub fn named(name: impl Into<Name>, v: bool) -> Self {
        AtomicBool { inner: std_atomic::AtomicBool::new(v), meta: Meta::named(name.into()) }
    }

    common_methods!(bool, |v: bool| v);

    rmw_method!(
        /// Logical "and", returning the previous value.
        fetch_and, bool, |old, v| old & v);
    rmw_method!(
        /// Logical "nand", returning the previous value.
        fetch_nand, bool, |old, v| !(old & v));
    rmw_method!(
        /// Logical "or", returning the previous value.
        fetch_or, bool, |old, v| old | v);
    rmw_method!(
        /// Logical "xor", returning the previous value.
        fetch_xor, bool, |old, v| old ^ v);
}

impl Default for AtomicBool {
    fn default() -> Self {
        Self::new(false)
    }
}

impl From<bool> for AtomicBool {
    fn from(v: bool) -> Self {
        Self::new(v)
    }
}

impl std::fmt::Debug for AtomicBool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.inner, f)
    }
}

/// A tracked [`std::sync::atomic::AtomicPtr`]: the same API (load, store, swap, compare-exchange,
/// `fetch_update`), every operation recorded with the pointer's address as the value.
///
/// ```
/// use raceway::sync::atomic::{AtomicPtr, Ordering};
/// let mut x = 5;
/// let p = AtomicPtr::new(std::ptr::null_mut());
/// p.store(&mut x, Ordering::Release);
/// assert_eq!(unsafe { *p.load(Ordering::Acquire) }, 5);
/// ```
pub struct AtomicPtr<T> {
    inner: std_atomic::AtomicPtr<T>,
    meta: Meta,
}

impl<T> AtomicPtr<T> {
    /// A new atomic pointer (`const`, like std's), named `atomic#N` on first use.
    pub const fn new(p: *mut T) -> Self {
        AtomicPtr { inner: std_atomic::AtomicPtr::new(p), meta: Meta::new() }
    }

    /// A new atomic pointer whose events carry `name` (de-duplicated).
    pub fn named(name: impl Into<Name>, p: *mut T) -> Self {
        AtomicPtr { inner: std_atomic::AtomicPtr::new(p), meta: Meta::named(name.into()) }
    }

    common_methods!(*mut T, |p: *mut T| p as usize);
}

impl<T> Default for AtomicPtr<T> {
    fn default() -> Self {
        Self::new(std::ptr::null_mut())
    }
}

impl<T> From<*mut T> for AtomicPtr<T> {
    fn from(p: *mut T) -> Self {
        Self::new(p)
    }
}

impl<T> std::fmt::Debug for AtomicPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.inner, f)
    }
}
