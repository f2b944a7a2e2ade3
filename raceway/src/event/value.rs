//! Captured values (arguments, old/new values, return values, custom data).
//!
//! A value is captured when it is recorded, because the program may change it right after.
//! Capturing goes through `serde`: numbers and booleans are stored inline without allocating;
//! compound values become a `serde_json::Value`. Rendering to text happens in the exporter.
//! A value that cannot be serialized becomes a readable placeholder string instead of an error,
//! so one odd value never costs a batch; strings longer than the configured cap are truncated.

/// The captured form of a recorded value.
#[cfg(raceway_on)]
pub type Value = serde_json::Value;

/// The captured form of a recorded value (instrumentation compiled out: always `Null`).
#[cfg(not(raceway_on))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Nothing was captured.
    Null,
}

/// Captures `v` through its `Serialize` impl, or a placeholder when serialization fails.
#[cfg(raceway_on)]
pub(crate) fn capture<T: serde::Serialize + ?Sized>(v: &T) -> Value {
    let limited = crate::event::depth::Limited { value: v, left: crate::event::depth::MAX_DEPTH };
    match serde_json::to_value(limited) {
        // Numbers, booleans and null (the common case) need no size check.
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => value,
        Ok(value) => truncate(value, crate::config::max_value_bytes()),
        Err(e) => Value::String(format!("<unserializable {}: {e}>", std::any::type_name::<T>())),
    }
}

#[cfg(not(raceway_on))]
#[inline(always)]
pub(crate) fn capture<T: serde::Serialize + ?Sized>(_: &T) -> Value {
    Value::Null
}

/// A value from its `Debug` rendering (for types that are not `Serialize`).
#[cfg(raceway_on)]
pub(crate) fn from_debug<T: std::fmt::Debug + ?Sized>(v: &T) -> Value {
    truncate(Value::String(format!("{v:?}")), crate::config::max_value_bytes())
}

#[cfg(not(raceway_on))]
#[inline(always)]
pub(crate) fn from_debug<T: std::fmt::Debug + ?Sized>(_: &T) -> Value {
    Value::Null
}

/// A placeholder naming the type, for values that are neither `Serialize` nor `Debug`.
#[cfg(raceway_on)]
pub(crate) fn from_type_name(type_name: &'static str) -> Value {
    Value::String(format!("<{type_name}>"))
}

#[cfg(not(raceway_on))]
#[inline(always)]
pub(crate) fn from_type_name(_: &'static str) -> Value {
    Value::Null
}

/// The null value.
#[inline]
pub(crate) fn null() -> Value {
    Value::Null
}

/// Most elements kept of one array or object; the rest is summarised.
pub(crate) const MAX_ITEMS: usize = 1000;

/// Caps strings (anywhere in the value) at `max` bytes, on a character boundary, marking the cut,
/// and arrays and objects at [`MAX_ITEMS`] entries.
#[cfg(raceway_on)]
pub(crate) fn truncate(v: Value, max: usize) -> Value {
    match v {
        Value::String(s) if s.len() > max => Value::String(truncate_str(&s, max)),
        Value::Array(a) => {
            let n = a.len();
            let mut out: Vec<Value> = a.into_iter().take(MAX_ITEMS).map(|v| truncate(v, max)).collect();
            if n > MAX_ITEMS {
                out.push(Value::String(format!("…<{} more items>", n - MAX_ITEMS)));
            }
            Value::Array(out)
        }
        Value::Object(o) => {
            let n = o.len();
            let mut out: serde_json::Map<String, Value> =
                o.into_iter().take(MAX_ITEMS).map(|(k, v)| (k, truncate(v, max))).collect();
            if n > MAX_ITEMS {
                out.insert("…".into(), Value::String(format!("<{} more entries>", n - MAX_ITEMS)));
            }
            Value::Object(out)
        }
        v => v,
    }
}

/// `s` cut to at most `max` bytes on a character boundary, with a note of the original size.
pub(crate) fn truncate_str(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…<truncated, {} bytes>", &s[..end], s.len())
}

#[cfg(all(test, raceway_on))]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_structures_are_captured_as_json() {
        assert_eq!(capture(&5u8), serde_json::json!(5));
        assert_eq!(capture(&vec![1, 2]), serde_json::json!([1, 2]));
    }

    #[test]
    fn unserializable_values_become_placeholders() {
        let mut m = std::collections::HashMap::new();
        m.insert((1, 2), 3); // tuple keys cannot be JSON object keys
        let v = capture(&m);
        assert!(v.as_str().unwrap().starts_with("<unserializable"), "{v}");
    }

    #[test]
    fn deeply_nested_values_become_placeholders_without_overflowing_the_stack() {
        #[derive(serde::Serialize)]
        struct Node {
            next: Option<Box<Node>>,
        }
        let mut list = Node { next: None };
        for _ in 0..100_000 {
            list = Node { next: Some(Box::new(list)) };
        }
        let v = capture(&list);
        assert!(v.as_str().unwrap().contains("nested deeper than 64 levels"), "{v}");
        // Dropping a 100k-deep list recursively would overflow too; unlink it iteratively.
        let mut next = list.next.take();
        while let Some(mut n) = next {
            next = n.next.take();
        }
        let shallow = vec![vec![vec![1]]];
        assert_eq!(capture(&shallow), serde_json::json!([[[1]]]));
    }

    #[test]
    fn huge_collections_keep_their_first_items() {
        let v = capture(&(0..5000).collect::<Vec<u32>>());
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), MAX_ITEMS + 1);
        assert_eq!(a[MAX_ITEMS], serde_json::json!("…<4000 more items>"));
    }

    #[test]
    fn long_strings_are_cut_on_char_boundaries() {
        let s = "é".repeat(10);
        let v = truncate(Value::String(s), 5);
        assert_eq!(v.as_str().unwrap(), "éé…<truncated, 20 bytes>");
    }
}
