//! Compact forms of the hottest event kind, for the staged record: what a recording thread
//! writes instead of an [`EventKind`], expanded into one by the delivery thread.
//!
//! An `EventKind::StateChange` is 120 bytes (two 32-byte `serde_json::Value`s, a 24-byte
//! `Location`) and is moved through every layer of recording; capturing an integer through
//! `serde_json::to_value` runs its whole value serializer. An [`Access`] is 72 bytes: the call
//! site by `&'static` reference and the values as [`Small`]s (16 bytes), captured by a serializer
//! that only takes primitives. [`Access::expand`] produces exactly the `StateChange` the full
//! path records, so nothing downstream can tell them apart.

use super::location::Location;
use super::name::Name;
use super::value::Value;
use super::{AccessType, EventKind};

/// A captured value in 16 bytes: primitives inline, anything else as the [`Value`] the full path
/// captures, boxed (strings and compound values allocate there anyway).
///
/// The tag is a whole word (`repr(u64)`) for the hot path's sake: an event is written field by
/// field and copied in words, and a word read of a one-byte tag just written cannot be forwarded
/// from the store buffer, which stalled every recorded access (BENCHMARKS.md, issue 17).
#[derive(Clone, Debug, PartialEq)]
#[repr(u64)]
pub(crate) enum Small {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F32(f32),
    F64(f64),
    Json(Box<Value>),
}

impl Small {
    /// Captures `v`: a primitive inline, anything else through [`super::value::capture`].
    #[inline]
    pub(crate) fn capture<T: serde::Serialize + ?Sized>(v: &T) -> Small {
        match v.serialize(Probe) {
            Ok(small) => small,
            Err(NotSmall) => Small::Json(Box::new(super::value::capture(v))),
        }
    }

    /// The compact form of a value already captured (by a `Tracked` cell's capture function):
    /// numbers, bools and null inline, the rest boxed. `expand` gives `v` back.
    #[inline]
    pub(crate) fn from_value(v: Value) -> Small {
        #[cfg(raceway_on)]
        match &v {
            Value::Null => return Small::Null,
            Value::Bool(b) => return Small::Bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    return Small::U64(u);
                }
                if let Some(i) = n.as_i64() {
                    return Small::I64(i);
                }
                if let Some(f) = n.as_f64() {
                    return Small::F64(f);
                }
            }
            _ => {}
        }
        Small::Json(Box::new(v))
    }

    /// The value the full path would have captured (`serde_json::to_value`'s conversions).
    #[inline(always)]
    pub(crate) fn expand(self) -> Value {
        #[cfg(raceway_on)]
        {
            match self {
                Small::Null => Value::Null,
                Small::Bool(b) => Value::Bool(b),
                Small::I64(i) => Value::from(i),
                Small::U64(u) => Value::from(u),
                Small::F32(f) => Value::from(f),
                Small::F64(f) => Value::from(f),
                Small::Json(v) => *v,
            }
        }
        #[cfg(not(raceway_on))]
        match self {
            Small::Json(v) => *v,
            _ => Value::Null,
        }
    }
}

/// A shared variable's access (`EventKind::StateChange`), compact.
pub(crate) struct Access {
    pub(crate) variable: Name,
    pub(crate) site: &'static std::panic::Location<'static>,
    pub(crate) old: Small,
    pub(crate) new: Small,
    pub(crate) access: AccessWord,
}

/// An [`AccessType`] in a whole word, for the reason given at [`Small`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum AccessWord {
    Read,
    Write,
    AtomicRead,
    AtomicWrite,
    AtomicRMW,
}

impl From<AccessType> for AccessWord {
    #[inline(always)]
    fn from(a: AccessType) -> Self {
        match a {
            AccessType::Read => AccessWord::Read,
            AccessType::Write => AccessWord::Write,
            AccessType::AtomicRead => AccessWord::AtomicRead,
            AccessType::AtomicWrite => AccessWord::AtomicWrite,
            AccessType::AtomicRMW => AccessWord::AtomicRMW,
        }
    }
}

impl From<AccessWord> for AccessType {
    #[inline(always)]
    fn from(a: AccessWord) -> Self {
        match a {
            AccessWord::Read => AccessType::Read,
            AccessWord::Write => AccessType::Write,
            AccessWord::AtomicRead => AccessType::AtomicRead,
            AccessWord::AtomicWrite => AccessType::AtomicWrite,
            AccessWord::AtomicRMW => AccessType::AtomicRMW,
        }
    }
}

impl Access {
    /// The `StateChange` this access stands for.
    ///
    /// Always inlined: the recording path calls it (for a test capture) on the access it is
    /// recording, and a call that is not inlined takes the access's address, which keeps it in
    /// stack memory on the hot path too, copied at every step (BENCHMARKS.md, issue 17).
    #[inline(always)]
    pub(crate) fn expand(self) -> EventKind {
        EventKind::StateChange {
            variable: self.variable,
            old_value: self.old.expand(),
            new_value: self.new.expand(),
            location: Location::from(self.site),
            access_type: self.access.into(),
        }
    }
}

/// The value is not a primitive: capture it in full.
#[derive(Debug)]
struct NotSmall;

impl std::fmt::Display for NotSmall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a primitive")
    }
}

impl std::error::Error for NotSmall {}

impl serde::ser::Error for NotSmall {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotSmall
    }
}

/// A serializer that accepts exactly the values `serde_json::to_value` turns into a number, a
/// bool or null without allocating, and refuses everything else (strings included: the full
/// path truncates them to the configured size).
struct Probe;

type Refuse = serde::ser::Impossible<Small, NotSmall>;

impl serde::Serializer for Probe {
    type Ok = Small;
    type Error = NotSmall;
    type SerializeSeq = Refuse;
    type SerializeTuple = Refuse;
    type SerializeTupleStruct = Refuse;
    type SerializeTupleVariant = Refuse;
    type SerializeMap = Refuse;
    type SerializeStruct = Refuse;
    type SerializeStructVariant = Refuse;

    fn serialize_bool(self, v: bool) -> Result<Small, NotSmall> {
        Ok(Small::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Small, NotSmall> {
        Ok(Small::I64(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Small, NotSmall> {
        Ok(Small::I64(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Small, NotSmall> {
        Ok(Small::I64(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Small, NotSmall> {
        Ok(Small::I64(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Small, NotSmall> {
        Ok(Small::U64(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Small, NotSmall> {
        Ok(Small::U64(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Small, NotSmall> {
        Ok(Small::U64(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Small, NotSmall> {
        Ok(Small::U64(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Small, NotSmall> {
        Ok(Small::F32(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Small, NotSmall> {
        Ok(Small::F64(v))
    }
    fn serialize_char(self, _: char) -> Result<Small, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_str(self, _: &str) -> Result<Small, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Small, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_none(self) -> Result<Small, NotSmall> {
        Ok(Small::Null)
    }
    fn serialize_some<T: serde::Serialize + ?Sized>(self, v: &T) -> Result<Small, NotSmall> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Small, NotSmall> {
        Ok(Small::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Small, NotSmall> {
        Ok(Small::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<Small, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result<Small, NotSmall> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Small, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Refuse, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_tuple(self, _: usize) -> Result<Refuse, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Refuse, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Refuse, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Refuse, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Refuse, NotSmall> {
        Err(NotSmall)
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Refuse, NotSmall> {
        Err(NotSmall)
    }
}

#[cfg(all(test, raceway_on))]
mod tests {
    use super::*;

    /// The compact capture must be indistinguishable from the full one once expanded.
    fn same_as_full<T: serde::Serialize + ?Sized>(v: &T) {
        assert_eq!(Small::capture(v).expand(), crate::event::value::capture(v));
    }

    #[test]
    fn expanded_small_values_equal_the_full_capture() {
        same_as_full(&0u8);
        same_as_full(&-5i32);
        same_as_full(&i64::MIN);
        same_as_full(&u64::MAX);
        same_as_full(&7usize);
        same_as_full(&1.5f32);
        same_as_full(&0.1f64);
        same_as_full(&f64::NAN);
        same_as_full(&true);
        same_as_full(&());
        same_as_full(&None::<u8>);
        same_as_full(&Some(3u16));
        same_as_full(&"a string");
        same_as_full(&'c');
        same_as_full(&vec![1, 2]);
        same_as_full(&std::collections::BTreeMap::from([("k", 1)]));
        same_as_full(&u128::MAX);
        same_as_full(&AccessType::Write.as_str());
    }

    #[test]
    fn a_captured_value_survives_its_compact_form() {
        let values = [
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!(3),
            serde_json::json!(-3),
            serde_json::json!(u64::MAX),
            serde_json::json!(2.5),
            serde_json::json!("s"),
            serde_json::json!([1, {"a": 2}]),
        ];
        for v in values {
            assert_eq!(Small::from_value(v.clone()).expand(), v);
        }
        assert!(matches!(Small::from_value(serde_json::json!(-3)), Small::I64(-3)));
    }

    #[test]
    fn primitives_stay_inline_and_the_rest_falls_back() {
        assert!(matches!(Small::capture(&42u64), Small::U64(42)));
        assert!(matches!(Small::capture(&-1i8), Small::I64(-1)));
        assert!(matches!(Small::capture(&"s"), Small::Json(_)));
        assert!(std::mem::size_of::<Small>() <= 16);
        assert!(std::mem::size_of::<Access>() <= 72);
    }
}
