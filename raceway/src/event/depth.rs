//! A depth limit for capturing values: `serde` serialization is recursive, so a deeply nested value
//! (a long linked list, a pathological tree) could overflow the recording thread's stack. Wrapping
//! the value in [`Limited`] makes every nesting level count and fails cleanly past the limit; the
//! capture then records a placeholder instead.

use serde::ser::{self, Serialize, Serializer};

/// Nesting levels a captured value may have.
pub(crate) const MAX_DEPTH: u16 = 64;

/// `value`, serialized with at most `left` further levels of nesting.
pub(crate) struct Limited<'a, T: ?Sized> {
    pub value: &'a T,
    pub left: u16,
}

impl<T: Serialize + ?Sized> Serialize for Limited<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(Limiter { inner: s, left: self.left })
    }
}

struct Limiter<S> {
    inner: S,
    left: u16,
}

/// One level deeper, or an error when there is no level left.
fn deeper<E: ser::Error>(left: u16) -> Result<u16, E> {
    left.checked_sub(1).ok_or_else(|| E::custom(format_args!("nested deeper than {MAX_DEPTH} levels")))
}

/// A compound serializer whose elements are limited too.
struct Nested<C> {
    inner: C,
    left: u16,
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> {
            self.inner.$method($($arg),*)
        }
    )*};
}

impl<S: Serializer> Serializer for Limiter<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Nested<S::SerializeSeq>;
    type SerializeTuple = Nested<S::SerializeTuple>;
    type SerializeTupleStruct = Nested<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Nested<S::SerializeTupleVariant>;
    type SerializeMap = Nested<S::SerializeMap>;
    type SerializeStruct = Nested<S::SerializeStruct>;
    type SerializeStructVariant = Nested<S::SerializeStructVariant>;

    forward! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(&Limited { value, left: self.left })
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<S::Ok, S::Error> {
        let left = deeper(self.left)?;
        self.inner.serialize_newtype_struct(name, &Limited { value, left })
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let left = deeper(self.left)?;
        self.inner.serialize_newtype_variant(name, index, variant, &Limited { value, left })
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        let left = deeper(self.left)?;
        Ok(Nested { inner: self.inner.serialize_seq(len)?, left })
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        let left = deeper(self.left)?;
        Ok(Nested { inner: self.inner.serialize_tuple(len)?, left })
    }

    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeTupleStruct, S::Error> {
        let left = deeper(self.left)?;
        Ok(Nested { inner: self.inner.serialize_tuple_struct(name, len)?, left })
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        let left = deeper(self.left)?;
        Ok(Nested { inner: self.inner.serialize_tuple_variant(name, index, variant, len)?, left })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        let left = deeper(self.left)?;
        Ok(Nested { inner: self.inner.serialize_map(len)?, left })
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeStruct, S::Error> {
        let left = deeper(self.left)?;
        Ok(Nested { inner: self.inner.serialize_struct(name, len)?, left })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        let left = deeper(self.left)?;
        Ok(Nested { inner: self.inner.serialize_struct_variant(name, index, variant, len)?, left })
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! nested {
    ($trait:ident, $method:ident $(, $key:ident: $kty:ty)?) => {
        impl<C: ser::$trait> ser::$trait for Nested<C> {
            type Ok = C::Ok;
            type Error = C::Error;
            fn $method<T: Serialize + ?Sized>(&mut self, $($key: $kty,)? value: &T) -> Result<(), C::Error> {
                self.inner.$method($($key,)? &Limited { value, left: self.left })
            }
            fn end(self) -> Result<C::Ok, C::Error> {
                self.inner.end()
            }
        }
    };
}

nested!(SerializeSeq, serialize_element);
nested!(SerializeTuple, serialize_element);
nested!(SerializeTupleStruct, serialize_field);
nested!(SerializeTupleVariant, serialize_field);
nested!(SerializeStruct, serialize_field, key: &'static str);
nested!(SerializeStructVariant, serialize_field, key: &'static str);

impl<C: ser::SerializeMap> ser::SerializeMap for Nested<C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        self.inner.serialize_key(&Limited { value: key, left: self.left })
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_value(&Limited { value, left: self.left })
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}
