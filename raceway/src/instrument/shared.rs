//! The runtime of `#[shared]`: instance names and tracked fields whose capture is chosen by
//! autoref specialisation (`Serialize`, else `Debug`, else the type's name).

use super::tracked::{CaptureFn, Tracked, VarName};
use crate::event::value;

/// `Type#N`: a per-instance identity for a `#[shared]` struct without a key field.
pub fn instance_name(type_name: &'static str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{type_name}#{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `Type[key]`: the identity of a `#[shared]` struct from its key field.
pub fn keyed_name<K: std::fmt::Display + ?Sized>(type_name: &'static str, key: &K) -> String {
    format!("{type_name}[{key}]")
}

/// A tracked field of a `#[shared]` struct, capturing values the way autoref chose.
pub fn field<T>(owner: &str, field: &'static str, exact: bool, value: T, capture: CaptureFn<T>) -> Tracked<T> {
    let name = format!("{owner}.{field}");
    let name = if exact { VarName::exact(name) } else { VarName::unique(name) };
    Tracked::with_capture(name, value, capture)
}

/// A type marker for choosing a [`CaptureFn`] by autoref: `(&&&Probe::<T>::NEW).__raceway_capture()`.
pub struct Probe<T: ?Sized>(std::marker::PhantomData<fn() -> *const T>);

impl<T: ?Sized> Probe<T> {
    /// The probe for `T`.
    pub const NEW: Self = Probe(std::marker::PhantomData);

    /// The probe for the type of `_value` (lets generated code avoid naming the type).
    pub fn of(_value: &T) -> Self {
        Probe(std::marker::PhantomData)
    }
}

/// Choice of a `Serialize` capture.
pub trait CaptureBySerialize<T> {
    /// The capture function.
    fn __raceway_capture(&self) -> CaptureFn<T>;
}

impl<T: serde::Serialize> CaptureBySerialize<T> for &&Probe<T> {
    fn __raceway_capture(&self) -> CaptureFn<T> {
        |v| value::capture(v)
    }
}

/// Choice of a `Debug` capture.
pub trait CaptureByDebug<T> {
    /// The capture function.
    fn __raceway_capture(&self) -> CaptureFn<T>;
}

impl<T: std::fmt::Debug> CaptureByDebug<T> for &Probe<T> {
    fn __raceway_capture(&self) -> CaptureFn<T> {
        |v| value::from_debug(v)
    }
}

/// Choice of a type-name capture.
pub trait CaptureByTypeName<T> {
    /// The capture function.
    fn __raceway_capture(&self) -> CaptureFn<T>;
}

impl<T> CaptureByTypeName<T> for Probe<T> {
    fn __raceway_capture(&self) -> CaptureFn<T> {
        |_| value::from_type_name(std::any::type_name::<T>())
    }
}

/// A field of a `#[shared]` struct when instrumentation is compiled out: a plain cell.
pub fn plain_field<T>(value: T) -> Tracked<T> {
    Tracked::with_capture(VarName::unique(""), value, |_| value::null())
}
