//! The option lists of the attributes — `#[traced(..)]`, `#[shared(..)]` on a struct and
//! `#[shared(..)]` on a field — parsed by one parser against a table of what each accepts, so the
//! same mistake gets the same message whichever attribute it is made on.
//!
//! An option is `key`, `key = "text"`, `key = 3` or `key(..)`, options are separated by commas. Each problem
//! is reported at its own tokens and parsing resumes after the next top-level comma, so a list
//! with several mistakes reports all of them. What is inside a `key(..)` list belongs to the
//! attribute (`skip(a, b)`, `fields(k = expr)`) and is parsed by its `attr.rs` with
//! [`parse_list`].

use crate::fallback::Errors;
use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{token, Ident, LitInt, LitStr, Token};

/// How an option is written.
#[derive(Clone, Copy)]
pub(crate) enum Form {
    /// `key`
    Flag,
    /// `key = "text"`
    Str,
    /// `key = 3`
    Int,
    /// `key(..)`
    List,
}

/// One accepted option.
pub(crate) struct Spec {
    pub name: &'static str,
    pub form: Form,
    /// May be given more than once, the values adding up (`fields(..)`, which has always been
    /// accepted that way); any other option given twice is an error.
    pub repeats: bool,
}

pub(crate) const fn flag(name: &'static str) -> Spec {
    Spec { name, form: Form::Flag, repeats: false }
}

pub(crate) const fn string(name: &'static str) -> Spec {
    Spec { name, form: Form::Str, repeats: false }
}

pub(crate) const fn int(name: &'static str) -> Spec {
    Spec { name, form: Form::Int, repeats: false }
}

pub(crate) const fn list(name: &'static str) -> Spec {
    Spec { name, form: Form::List, repeats: false }
}

impl Spec {
    pub(crate) const fn repeats(self) -> Spec {
        Spec { repeats: true, ..self }
    }

    /// The option as the user writes it, for messages: `ret`, `name = ".."`, `skip(..)`.
    fn written(&self) -> String {
        match self.form {
            Form::Flag => self.name.to_owned(),
            Form::Str => format!("{} = \"..\"", self.name),
            Form::Int => format!("{} = N", self.name),
            Form::List => format!("{}(..)", self.name),
        }
    }
}

/// The options one attribute accepts at one place.
pub(crate) struct Attr {
    /// How messages name the attribute: "#[traced]", "#[shared] on a field".
    pub title: &'static str,
    /// The macro's name, to write an option as an attribute: `#[shared(key)]`.
    pub macro_name: &'static str,
    /// Where the attribute is written, for misplaced options: "the struct", "a field".
    pub place: &'static str,
    pub accepts: &'static [Spec],
    /// The same macro's options at another place (struct / field): one of them written here
    /// is told where it belongs instead of being called unknown.
    pub elsewhere: Option<&'static Attr>,
}

/// A well-formed option; its name is one of the table's and its value of the table's form.
pub(crate) struct Opt {
    /// The option's name as written, to point at.
    pub key: Ident,
    pub value: Value,
}

pub(crate) enum Value {
    Flag,
    Str(LitStr),
    Int(LitInt),
    /// The parenthesized group, for [`parse_list`].
    List(Group),
}

impl Opt {
    pub(crate) fn name(&self) -> String {
        self.key.unraw().to_string()
    }
}

impl Attr {
    /// The options of one list (the macro's arguments). Problems go to `errors`; what is
    /// returned are the options that were well written, each at most once unless it repeats.
    pub(crate) fn parse(&self, tokens: TokenStream, errors: &mut Errors) -> Vec<Opt> {
        self.parse_all([tokens], errors)
    }

    /// The options of several lists of one place, as one list: a field may carry several
    /// `#[shared(..)]`, and `key` in two of them is as much a duplicate as in one.
    pub(crate) fn parse_all(&self, lists: impl IntoIterator<Item = TokenStream>, errors: &mut Errors) -> Vec<Opt> {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for tokens in lists {
            let parser = |input: ParseStream| {
                while !input.is_empty() {
                    if let Some(key) = self.option(input, &mut seen, &mut out, errors)? {
                        // A complete option must be followed by a comma or the end. What is
                        // there instead is skipped up to the next comma, so that the options
                        // after it are still checked.
                        if !at_end(input) {
                            let rest = skip_option(input)?;
                            errors.spanned(
                                &rest,
                                format!("expected `,` after option `{}`, found {}", key.unraw(), describe(&rest)),
                            );
                        }
                    }
                    if !input.is_empty() {
                        input.parse::<Token![,]>()?;
                    }
                }
                Ok(())
            };
            // Only reached on tokens the loop failed to foresee; report it like the others.
            if let Err(e) = parser.parse2(tokens) {
                errors.push(e);
            }
        }
        out
    }

    /// The tokens of `#[name(..)]`; `#[name]` and `#[name = ..]` have no option list and are
    /// reported (used for field attributes, whose attribute the macro reads itself).
    pub(crate) fn tokens_of(&self, attr: &syn::Attribute, errors: &mut Errors) -> Option<TokenStream> {
        match &attr.meta {
            syn::Meta::List(list) => Some(list.tokens.clone()),
            _ => {
                errors.spanned(
                    attr,
                    format!("expected `#[{}(..)]`: {} accepts {}", self.macro_name, self.title, self.accepted()),
                );
                None
            }
        }
    }

    /// Parses one option, up to (not including) the comma after it. Returns its name when it is
    /// complete and what follows it is still to be checked, `None` when everything up to the
    /// next comma has been consumed (and any problem reported).
    fn option(
        &self,
        input: ParseStream,
        seen: &mut Vec<String>,
        out: &mut Vec<Opt>,
        errors: &mut Errors,
    ) -> syn::Result<Option<Ident>> {
        if input.peek(Token![,]) {
            let comma: Token![,] = input.fork().parse()?;
            errors.spanned(comma, format!("expected an option, found `,`: {} accepts {}", self.title, self.accepted()));
            return Ok(None);
        }
        if !input.peek(Ident::peek_any) {
            let rest = skip_option(input)?;
            let found = describe(&rest);
            errors.spanned(
                &rest,
                format!("expected an option, found {found}: {} accepts {}", self.title, self.accepted()),
            );
            return Ok(None);
        }
        let key = input.call(Ident::parse_any)?;
        let name = key.unraw().to_string();
        let Some(spec) = self.spec(&name) else {
            skip_option(input)?;
            let message = match self.elsewhere.and_then(|other| Some((other, other.spec(&name)?))) {
                Some((other, spec)) => format!(
                    "option `{name}` belongs on {} (`#[{}({})]`), not on {}",
                    other.place,
                    other.macro_name,
                    spec.written(),
                    self.place
                ),
                None => format!("unknown option `{name}`: {} accepts {}", self.title, self.accepted()),
            };
            errors.spanned(&key, message);
            return Ok(None);
        };
        let duplicate = !spec.repeats && seen.contains(&name);
        if duplicate {
            errors.spanned(
                &key,
                match spec.form {
                    Form::List => format!("duplicate option `{name}`: list everything in one `{name}(..)`"),
                    Form::Flag | Form::Str | Form::Int => format!("duplicate option `{name}`"),
                },
            );
        }
        seen.push(name.clone());

        let needs_value = format!("option `{name}` needs a value: write `{}`", spec.written());
        let wrong_kind = |what: &str| format!("option `{name}` takes {what}: write `{}`", spec.written());
        let value = match spec.form {
            // `ret "x"` or `ret err` is a complete flag followed by something that is not a
            // comma: left for the caller's "expected `,`".
            Form::Flag if !input.peek(Token![=]) && !peek_group(input) => Some(Value::Flag),
            Form::Flag => {
                errors.spanned(skip_option(input)?, wrong_kind("no value"));
                None
            }
            Form::Str if input.peek(Token![=]) => {
                let eq: Token![=] = input.parse()?;
                if input.peek(LitStr) {
                    Some(Value::Str(input.parse()?))
                } else if at_end(input) {
                    errors.spanned(quote!(#key #eq), needs_value);
                    None
                } else {
                    errors.spanned(skip_option(input)?, wrong_kind("a string literal"));
                    None
                }
            }
            Form::Int if input.peek(Token![=]) => {
                let eq: Token![=] = input.parse()?;
                if input.peek(LitInt) {
                    Some(Value::Int(input.parse()?))
                } else if at_end(input) {
                    errors.spanned(quote!(#key #eq), needs_value);
                    None
                } else {
                    errors.spanned(skip_option(input)?, wrong_kind("an integer literal"));
                    None
                }
            }
            Form::List if input.peek(token::Paren) => Some(Value::List(input.parse()?)),
            Form::Str | Form::Int | Form::List if at_end(input) => {
                errors.spanned(&key, needs_value);
                None
            }
            Form::Str => {
                errors.spanned(skip_option(input)?, wrong_kind("a string literal"));
                None
            }
            Form::Int => {
                errors.spanned(skip_option(input)?, wrong_kind("an integer literal"));
                None
            }
            Form::List => {
                errors.spanned(skip_option(input)?, wrong_kind("a list"));
                None
            }
        };
        match value {
            Some(value) => {
                if !duplicate {
                    out.push(Opt { key: key.clone(), value });
                }
                Ok(Some(key))
            }
            None => Ok(None),
        }
    }

    fn spec(&self, name: &str) -> Option<&'static Spec> {
        self.accepts.iter().find(|s| s.name == name)
    }

    /// "`name = \"..\"`, `skip(..)`, `ret`", in the table's order.
    fn accepted(&self) -> String {
        self.accepts.iter().map(|s| format!("`{}`", s.written())).collect::<Vec<_>>().join(", ")
    }
}

/// Parses the contents of a `key(..)` option with `parse`. Parsing the group itself (not just
/// its stream) keeps the spans right: "unexpected end of input" points at the closing `)`.
pub(crate) fn parse_list<T>(group: &Group, parse: impl FnOnce(ParseStream) -> syn::Result<T>) -> syn::Result<T> {
    let parser = |input: ParseStream| {
        let content;
        syn::parenthesized!(content in input);
        parse(&content)
    };
    parser.parse2(group.to_token_stream())
}

/// At a comma or the end of the list: the current option is over.
fn at_end(input: ParseStream) -> bool {
    input.is_empty() || input.peek(Token![,])
}

fn peek_group(input: ParseStream) -> bool {
    input.peek(token::Paren) || input.peek(token::Bracket) || input.peek(token::Brace)
}

/// Consumes the tokens up to the next top-level comma (a comma inside a group is part of the
/// group) and returns them, to report them as one piece.
fn skip_option(input: ParseStream) -> syn::Result<TokenStream> {
    let mut skipped = TokenStream::new();
    while !at_end(input) {
        skipped.extend([input.parse::<TokenTree>()?]);
    }
    Ok(skipped)
}

/// The first token of `tokens`, for "found `..`"; a group is shown by its delimiters only.
fn describe(tokens: &TokenStream) -> String {
    match tokens.clone().into_iter().next() {
        Some(TokenTree::Group(g)) => match g.delimiter() {
            Delimiter::Parenthesis => "`(..)`".to_owned(),
            Delimiter::Bracket => "`[..]`".to_owned(),
            Delimiter::Brace => "`{..}`".to_owned(),
            Delimiter::None => describe(&g.stream()),
        },
        Some(t) => format!("`{t}`"),
        None => "nothing".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Literal;

    static HERE: Attr = Attr {
        title: "#[here]",
        macro_name: "here",
        place: "the item",
        accepts: &[string("name"), list("skip"), flag("ret"), list("fields").repeats()],
        elsewhere: Some(&THERE),
    };

    static THERE: Attr = Attr {
        title: "#[here] on a part",
        macro_name: "here",
        place: "a part",
        accepts: &[flag("key")],
        elsewhere: None,
    };

    /// The names of the options returned, and the messages reported.
    fn parse(tokens: TokenStream) -> (Vec<String>, Vec<String>) {
        let mut errors = Errors::default();
        let opts = HERE.parse(tokens, &mut errors);
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (opts.iter().map(Opt::name).collect(), messages)
    }

    #[test]
    fn well_written_options_come_back_in_order_with_their_values() {
        let mut errors = Errors::default();
        let opts = HERE.parse(quote!(ret, name = "n", skip(a, b), fields(x = 1), fields(y = 2),), &mut errors);
        assert!(errors.finish().is_ok());
        let names: Vec<_> = opts.iter().map(Opt::name).collect();
        assert_eq!(names, ["ret", "name", "skip", "fields", "fields"]);
        assert!(matches!(&opts[1].value, Value::Str(s) if s.value() == "n"));
        let Value::List(skip) = &opts[2].value else { panic!("skip is a list") };
        let idents = parse_list(skip, |c| c.parse_terminated(Ident::parse_any, Token![,])).unwrap();
        assert_eq!(idents.len(), 2);
    }

    #[test]
    fn a_string_passed_through_macro_rules_is_still_a_string() {
        // `$name:expr` arrives wrapped in an invisible group.
        let wrapped = Group::new(Delimiter::None, TokenTree::from(Literal::string("n")).into());
        let (names, messages) = parse(quote!(name = #wrapped));
        assert_eq!((names, messages), (vec!["name".to_owned()], vec![]));
    }

    #[test]
    fn every_mistake_is_reported_and_the_good_options_survive() {
        let (names, messages) = parse(quote!(
            level = "x", ret, ret, name, skip = "a", ret2 = 1, name = 1, fields(a = 1) junk, skip(a), skip(b),
            , "s" = 1, key
        ));
        // An option written twice is a duplicate even when the first was malformed.
        assert_eq!(names, ["ret", "fields"]);
        assert_eq!(
            messages,
            [
                "unknown option `level`: #[here] accepts `name = \"..\"`, `skip(..)`, `ret`, `fields(..)`",
                "duplicate option `ret`",
                "option `name` needs a value: write `name = \"..\"`",
                "option `skip` takes a list: write `skip(..)`",
                "unknown option `ret2`: #[here] accepts `name = \"..\"`, `skip(..)`, `ret`, `fields(..)`",
                "duplicate option `name`",
                "option `name` takes a string literal: write `name = \"..\"`",
                "expected `,` after option `fields`, found `junk`",
                "duplicate option `skip`: list everything in one `skip(..)`",
                "duplicate option `skip`: list everything in one `skip(..)`",
                "expected an option, found `,`: #[here] accepts `name = \"..\"`, `skip(..)`, `ret`, `fields(..)`",
                "expected an option, found `\"s\"`: #[here] accepts `name = \"..\"`, `skip(..)`, `ret`, `fields(..)`",
                "option `key` belongs on a part (`#[here(key)]`), not on the item",
            ]
        );
    }

    #[test]
    fn an_integer_option_takes_an_integer_literal_and_nothing_else() {
        static COUNT: Attr =
            Attr { title: "#[count]", macro_name: "count", place: "the item", accepts: &[int("n")], elsewhere: None };
        let mut errors = Errors::default();
        let opts = COUNT.parse(quote!(n = 3), &mut errors);
        assert!(errors.finish().is_ok());
        assert!(matches!(&opts[0].value, Value::Int(i) if i.base10_parse::<u32>().unwrap() == 3));
        let mut errors = Errors::default();
        COUNT.parse(quote!(n = "3"), &mut errors);
        let messages: Vec<_> = errors.finish().unwrap_err().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["option `n` takes an integer literal: write `n = N`"]);
    }

    #[test]
    fn a_flag_followed_by_a_value_or_by_garbage() {
        assert_eq!(parse(quote!(ret = true)).1, ["option `ret` takes no value: write `ret`"]);
        assert_eq!(parse(quote!(ret(1))).1, ["option `ret` takes no value: write `ret`"]);
        assert_eq!(parse(quote!(ret name = "a")).1, ["expected `,` after option `ret`, found `name`"]);
        assert_eq!(parse(quote!(name = "a"[x])).1, ["expected `,` after option `name`, found `[..]`"]);
    }

    #[test]
    fn several_lists_of_one_place_are_one_list() {
        let mut errors = Errors::default();
        let opts = THERE.parse_all([quote!(key), quote!(key)], &mut errors);
        assert_eq!(opts.len(), 1);
        let messages: Vec<_> = errors.finish().unwrap_err().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["duplicate option `key`"]);
    }

    #[test]
    fn an_attribute_without_a_list() {
        let mut errors = Errors::default();
        let attr: syn::Attribute = syn::parse_quote!(#[here]);
        assert!(THERE.tokens_of(&attr, &mut errors).is_none());
        let messages: Vec<_> = errors.finish().unwrap_err().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["expected `#[here(..)]`: #[here] on a part accepts `key`"]);
    }
}
