//! Options of `#[shared(...)]` on the struct (`name = "Label"`, `constructor = "new"`) and of
//! `#[shared(key)]` / `#[shared(skip)]` on its fields.

use crate::fallback::Errors;
use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, FieldsNamed, Ident, LitStr, Token};

#[derive(Default)]
pub(crate) struct StructOptions {
    /// The label in variable names (default: the struct's name).
    pub name: Option<LitStr>,
    /// The generated constructor's name (default: `new`).
    pub constructor: Option<Ident>,
}

pub(crate) fn parse_struct_options(args: TokenStream) -> syn::Result<StructOptions> {
    let mut options = StructOptions::default();
    let mut errors = Errors::default();
    let parser = |input: ParseStream| {
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: LitStr = input.parse()?;
            match key.to_string().as_str() {
                "name" if options.name.is_some() => errors.spanned(&key, "duplicate option `name`"),
                "name" => options.name = Some(value),
                "constructor" if options.constructor.is_some() => {
                    errors.spanned(&key, "duplicate option `constructor`")
                }
                "constructor" => match value.parse::<Ident>() {
                    Ok(ident) => options.constructor = Some(ident),
                    Err(_) => errors.spanned(&value, "`constructor` must name a function, e.g. \"open\""),
                },
                other => errors.spanned(
                    &key,
                    format!("unknown option `{other}`: #[shared] accepts `name = \"..\"` and `constructor = \"..\"`"),
                ),
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    parser.parse2(args)?;
    errors.finish()?;
    Ok(options)
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
            let mut role = Role::Tracked;
            let mut attrs = Vec::new();
            for attr in &field.attrs {
                if !attr.path().is_ident("shared") {
                    attrs.push(attr.clone());
                    continue;
                }
                let result = attr.parse_nested_meta(|meta| {
                    let wanted = if meta.path.is_ident("key") {
                        Role::Key
                    } else if meta.path.is_ident("skip") {
                        Role::Skip
                    } else {
                        return Err(meta.error("unknown field option: use `#[shared(key)]` or `#[shared(skip)]`"));
                    };
                    if role != Role::Tracked {
                        return Err(meta.error("a field is either the key or skipped, not both"));
                    }
                    if wanted == Role::Key {
                        if key_seen {
                            return Err(meta.error("only one field can be the key"));
                        }
                        key_seen = true;
                    }
                    role = wanted;
                    Ok(())
                });
                if let Err(e) = result {
                    errors.push(e);
                }
            }
            FieldInfo { role, attrs }
        })
        .collect()
}
