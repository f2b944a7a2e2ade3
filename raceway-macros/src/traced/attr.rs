//! The options of `#[traced(...)]`: `name = "..."`, `skip(a, b)`, `skip_all`, `err`, `ret`,
//! `fields(key = expr, "dotted.key" = expr, ident)`. The list itself is parsed by
//! `crate::options` (shared with `#[shared]`, so a mistake reads the same on both); this file
//! gives the table and reads the contents of `skip(..)` and `fields(..)`.

use crate::fallback::Errors;
use crate::options::{self, flag, list, string, Attr, Opt, Value};
use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Expr, Ident, LitStr, Token};

static TRACED: Attr = Attr {
    title: "#[traced]",
    macro_name: "traced",
    place: "a function",
    accepts: &[string("name"), list("skip"), flag("skip_all"), flag("err"), flag("ret"), list("fields").repeats()],
    elsewhere: None,
};

#[derive(Default)]
pub(crate) struct Options {
    pub name: Option<LitStr>,
    pub skip: Vec<Ident>,
    /// The `skip(...)` token, to point at when it conflicts with `skip_all`.
    pub skip_kw: Option<Ident>,
    pub skip_all: Option<Ident>,
    pub err: Option<Ident>,
    pub ret: Option<Ident>,
    pub fields: Vec<Field>,
}

/// An extra (or renamed) argument field: `key = expr`.
pub(crate) struct Field {
    pub key: String,
    pub key_span: Span,
    pub value: Expr,
}

/// The options that were well written; every problem goes to `errors`, so that the function is
/// still checked against the rest.
pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    for opt in TRACED.parse(args, errors) {
        let name = opt.name();
        let Opt { key, value } = opt;
        match (name.as_str(), value) {
            ("name", Value::Str(lit)) => options.name = Some(lit),
            ("skip", Value::List(group)) => {
                match options::parse_list(&group, |content| content.parse_terminated(Ident::parse_any, Token![,])) {
                    Ok(names) => options.skip.extend(names),
                    Err(e) => errors.push(e),
                }
                options.skip_kw = Some(key);
            }
            ("skip_all", Value::Flag) => options.skip_all = Some(key),
            ("err", Value::Flag) => options.err = Some(key),
            ("ret", Value::Flag) => options.ret = Some(key),
            ("fields", Value::List(group)) => {
                let fields = options::parse_list(&group, |content| {
                    content.parse_terminated(parse_field, Token![,]).map(|p| p.into_iter().collect::<Vec<_>>())
                });
                for field in fields.unwrap_or_else(|e| {
                    errors.push(e);
                    Vec::new()
                }) {
                    if options.fields.iter().any(|f| f.key == field.key) {
                        errors.push(syn::Error::new(field.key_span, format!("duplicate field `{}`", field.key)));
                    }
                    options.fields.push(field);
                }
            }
            _ => unreachable!("options::parse returns only the options of TRACED, each in its form"),
        }
    }
    options
}

/// `key = expr`, `"key" = expr`, or `ident` (short for `ident = ident`).
fn parse_field(input: ParseStream) -> syn::Result<Field> {
    if input.peek(LitStr) {
        let key: LitStr = input.parse()?;
        input.parse::<Token![=]>()?;
        return Ok(Field { key: key.value(), key_span: key.span(), value: input.parse()? });
    }
    let key: Ident = input.call(Ident::parse_any)?;
    let name = key.to_string().trim_start_matches("r#").to_owned();
    let value = if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        input.parse()?
    } else {
        syn::parse_quote!(#key)
    };
    Ok(Field { key: name, key_span: key.span(), value })
}
