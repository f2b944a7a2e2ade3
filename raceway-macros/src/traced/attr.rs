//! The options of `#[traced(...)]`: `name = "..."`, `skip(a, b)`, `skip_all`, `err`, `ret`,
//! `fields(key = expr, "dotted.key" = expr, ident)`. Unknown and duplicate options are errors at
//! their own token; every problem in the list is reported.

use crate::fallback::Errors;
use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, LitStr, Token};

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

pub(crate) fn parse(args: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    let mut errors = Errors::default();
    let parser = |input: ParseStream| {
        while !input.is_empty() {
            let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            let k = key.to_string();
            match k.as_str() {
                "name" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse()?;
                    set(&mut errors, &mut options.name, &key, lit);
                }
                "skip" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let names = content.parse_terminated(Ident::parse_any_ident, Token![,])?;
                    if options.skip_kw.is_some() {
                        errors.spanned(&key, "duplicate option `skip`: list every argument in one `skip(...)`");
                    }
                    options.skip_kw = Some(key);
                    options.skip.extend(names);
                }
                "skip_all" => set(&mut errors, &mut options.skip_all, &key, key.clone()),
                "err" => set(&mut errors, &mut options.err, &key, key.clone()),
                "ret" => set(&mut errors, &mut options.ret, &key, key.clone()),
                "fields" => {
                    let content;
                    syn::parenthesized!(content in input);
                    while !content.is_empty() {
                        let field = parse_field(&content)?;
                        if options.fields.iter().any(|f| f.key == field.key) {
                            errors.push(syn::Error::new(field.key_span, format!("duplicate field `{}`", field.key)));
                        }
                        options.fields.push(field);
                        if content.is_empty() {
                            break;
                        }
                        content.parse::<Token![,]>()?;
                    }
                }
                _ => {
                    errors.spanned(
                        &key,
                        format!(
                            "unknown option `{k}`: #[traced] accepts `name = \"..\"`, `skip(..)`, `skip_all`, `err`, `ret`, `fields(..)`"
                        ),
                    );
                    // Skip the option's value so the remaining options are still checked.
                    if input.peek(Token![=]) {
                        input.parse::<Token![=]>()?;
                        input.parse::<Expr>()?;
                    } else if input.peek(syn::token::Paren) {
                        let _content;
                        syn::parenthesized!(_content in input);
                    }
                }
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

trait ParseAnyIdent {
    fn parse_any_ident(input: ParseStream) -> syn::Result<Ident>;
}

impl ParseAnyIdent for Ident {
    fn parse_any_ident(input: ParseStream) -> syn::Result<Ident> {
        input.call(syn::ext::IdentExt::parse_any)
    }
}

fn set<T>(errors: &mut Errors, slot: &mut Option<T>, key: &Ident, value: T) {
    if slot.is_some() {
        errors.spanned(key, format!("duplicate option `{key}`"));
    } else {
        *slot = Some(value);
    }
}

/// `key = expr`, `"key" = expr`, or `ident` (short for `ident = ident`).
fn parse_field(input: ParseStream) -> syn::Result<Field> {
    if input.peek(LitStr) {
        let key: LitStr = input.parse()?;
        input.parse::<Token![=]>()?;
        return Ok(Field { key: key.value(), key_span: key.span(), value: input.parse()? });
    }
    let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
    let name = key.to_string().trim_start_matches("r#").to_owned();
    let value = if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        input.parse()?
    } else {
        syn::parse_quote!(#key)
    };
    Ok(Field { key: name, key_span: key.span(), value })
}
