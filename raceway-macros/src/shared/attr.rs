//! Options of `#[shared(...)]` on the struct (`name = "Label"`, `constructor = "new"`) and of
//! `#[shared(key)]` / `#[shared(skip)]` on its fields. Both lists are parsed by
//! `crate::options`, as `#[traced]`'s is, so a mistake reads the same on every attribute; the
//! two tables name each other, so that a field option written on the struct (or the reverse) is
//! told where it belongs.

use crate::fallback::Errors;
use crate::options::{flag, string, Attr, Value};
use proc_macro2::TokenStream;
use syn::{Attribute, FieldsNamed, Ident, LitStr};

static STRUCT: Attr = Attr {
    title: "#[shared]",
    macro_name: "shared",
    place: "the struct",
    accepts: &[string("name"), string("constructor")],
    elsewhere: Some(&FIELD),
};

static FIELD: Attr = Attr {
    title: "#[shared] on a field",
    macro_name: "shared",
    place: "a field",
    accepts: &[flag("key"), flag("skip")],
    elsewhere: Some(&STRUCT),
};

#[derive(Default)]
pub(crate) struct StructOptions {
    /// The label in variable names (default: the struct's name).
    pub name: Option<LitStr>,
    /// The generated constructor's name (default: `new`).
    pub constructor: Option<Ident>,
}

/// The struct's options that were well written; every problem goes to `errors`, so that the
/// fields are still checked.
pub(crate) fn parse_struct_options(args: TokenStream, errors: &mut Errors) -> StructOptions {
    let mut options = StructOptions::default();
    for opt in STRUCT.parse(args, errors) {
        match (opt.name().as_str(), opt.value) {
            ("name", Value::Str(lit)) => options.name = Some(lit),
            ("constructor", Value::Str(lit)) => match lit.parse::<Ident>() {
                Ok(ident) => options.constructor = Some(ident),
                Err(_) => errors.spanned(&lit, "`constructor` must name a function, e.g. \"open\""),
            },
            _ => unreachable!("options::parse returns only the options of STRUCT, each in its form"),
        }
    }
    options
}

/// How a field takes part.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A tracked cell (the default).
    Tracked,
    /// The key: part of every variable name, itself a plain field.
    Key,
    /// A plain field (`#[shared(skip)]`).
    Skip,
}

pub(crate) struct FieldInfo {
    pub role: Role,
    /// The field's attributes without the `#[shared(..)]` ones.
    pub attrs: Vec<Attribute>,
}

pub(crate) fn parse_fields(fields: &FieldsNamed, errors: &mut Errors) -> Vec<FieldInfo> {
    let mut key_seen = false;
    fields
        .named
        .iter()
        .map(|field| {
            let (shared, attrs): (Vec<&Attribute>, Vec<&Attribute>) =
                field.attrs.iter().partition(|a| a.path().is_ident("shared"));
            let lists: Vec<TokenStream> = shared.iter().filter_map(|a| FIELD.tokens_of(a, errors)).collect();
            let mut role = Role::Tracked;
            for opt in FIELD.parse_all(lists, errors) {
                let wanted = match opt.name().as_str() {
                    "key" => Role::Key,
                    "skip" => Role::Skip,
                    _ => unreachable!("options::parse returns only the options of FIELD"),
                };
                if role != Role::Tracked {
                    errors.spanned(&opt.key, "a field is either the key or skipped, not both");
                    continue;
                }
                if wanted == Role::Key {
                    if key_seen {
                        errors.spanned(&opt.key, "only one field can be the key");
                        continue;
                    }
                    key_seen = true;
                }
                role = wanted;
            }
            FieldInfo { role, attrs: attrs.into_iter().cloned().collect() }
        })
        .collect()
}
