//! Source locations of the user's code, captured at compile time.

use std::fmt;

/// A place in the user's source: file, line and column.
///
/// The manual API takes it from `#[track_caller]` ([`Location::caller`]); the macros build it
/// from `file!()`/`line!()` as a `'static` constant, so recording never allocates for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Location {
    /// `file!()` of the call site.
    pub file: &'static str,
    /// `line!()` of the call site.
    pub line: u32,
    /// `column!()` of the call site.
    pub column: u32,
}

impl Location {
    /// A location from its parts (what the macros expand to).
    pub const fn new(file: &'static str, line: u32, column: u32) -> Self {
        Location { file, line, column }
    }

    /// The location of the caller of the `#[track_caller]` function this is called from.
    ///
    /// ```
    /// #[track_caller]
    /// fn who_called() -> raceway::Location {
    ///     raceway::Location::caller()
    /// }
    /// let here = who_called();
    /// assert!(here.line > 0 && !here.file.is_empty());
    /// ```
    #[track_caller]
    #[inline]
    pub fn caller() -> Self {
        std::panic::Location::caller().into()
    }
}

impl From<&'static std::panic::Location<'static>> for Location {
    fn from(l: &'static std::panic::Location<'static>) -> Self {
        Location { file: l.file(), line: l.line(), column: l.column() }
    }
}

/// `file:line`, the form the server's `location` fields use.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}
