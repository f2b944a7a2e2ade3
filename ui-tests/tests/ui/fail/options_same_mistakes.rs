// `#[traced]` and `#[shared]` parse their options with one parser: the same mistake gets the same
// message on both (and on a field's `#[shared(..)]`), and an option of the struct written on a
// field, or of a field written on the struct, is told where it belongs.
use raceway::{shared, traced};

// Unknown option.
#[traced(level = "info")]
fn unknown() {}
#[shared(level = "info")]
struct Unknown {
    #[shared(level = "info")]
    a: u32,
}

// Duplicate option.
#[traced(name = "a", name = "b")]
fn duplicate() {}
#[shared(name = "a", name = "b")]
struct Duplicate {
    #[shared(skip, skip)]
    a: u32,
    #[shared(key)]
    #[shared(key)]
    b: u32,
}

// Missing value.
#[traced(name)]
fn missing() {}
#[shared(name)]
struct Missing {
    a: u32,
}
#[traced(name = )]
fn missing_after_eq() {}
#[shared(constructor = )]
struct MissingAfterEq {
    a: u32,
}

// Wrong kind of value.
#[traced(name = 1)]
fn wrong_kind() {}
#[shared(name = 1)]
struct WrongKind {
    a: u32,
}
#[traced(ret = true)]
fn flag_with_value() {}
#[shared]
struct FlagWithValue {
    #[shared(key = "id")]
    a: u32,
}

// Trailing garbage after an option.
#[traced(name = "a" "b")]
fn trailing() {}
#[shared(name = "a" "b")]
struct Trailing {
    a: u32,
}
#[traced(ret err)]
fn missing_comma() {}
#[shared]
struct MissingComma {
    #[shared(key skip)]
    a: u32,
}

// Not an option at all.
#[traced("name" = "a", , ret)]
fn not_an_option() {}
#[shared("name" = "a", , constructor = "open")]
struct NotAnOption {
    a: u32,
}

// A field's option on the struct, a struct's option on a field.
#[shared(key)]
struct KeyOnStruct {
    a: u32,
}
#[shared]
struct NameOnField {
    #[shared(name = "Label")]
    a: u32,
    #[shared]
    b: u32,
}

// List options (only `#[traced]` has them): the same checks.
#[traced(skip(a), skip(b))]
fn duplicate_list(a: u8, b: u8) {
    let _ = (a, b);
}
#[traced(skip = "a")]
fn list_wrong_kind(a: u8) {
    let _ = a;
}

fn main() {}
