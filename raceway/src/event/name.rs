//! Cheap-to-clone names (variables, locks, functions): a `'static` string or a shared `Arc<str>`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A name carried by events: cloning is a pointer copy (static) or a reference-count bump.
/// Names compare, hash and order by their text, however they are stored.
///
/// ```
/// let a = raceway::Name::from_static("accounts");
/// let b = raceway::Name::from(String::from("accounts"));
/// assert_eq!(a, b);
/// assert_eq!(b.as_str(), "accounts");
/// ```
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Name {
    /// A name from a string literal (no allocation).
    pub const fn from_static(s: &'static str) -> Self {
        Name(Repr::Static(s))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl From<&'static str> for Name {
    fn from(s: &'static str) -> Self {
        Name::from_static(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Repr::Shared(s.into()))
    }
}

impl From<Arc<str>> for Name {
    fn from(s: Arc<str>) -> Self {
        Name(Repr::Shared(s))
    }
}

impl From<Cow<'static, str>> for Name {
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(s) => Name::from_static(s),
            Cow::Owned(s) => s.into(),
        }
    }
}

impl From<&Name> for Name {
    fn from(n: &Name) -> Self {
        n.clone()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::Name;
    use std::collections::HashSet;

    #[test]
    fn names_are_equal_by_text_whatever_their_storage() {
        let a = Name::from_static("accounts");
        let b = Name::from(String::from("accounts"));
        assert_eq!(a, b);
        let set: HashSet<Name> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }
}
