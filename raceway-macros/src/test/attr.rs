//! The options of `#[raceway::test(..)]` (parsed by `crate::options`, like every attribute's)
//! and their checks against the function.

use crate::fallback::Errors;
use crate::options::{int, string, Attr, Opt, Value};
use proc_macro2::TokenStream;
use syn::{Ident, ItemFn, LitInt, LitStr};

static TEST: Attr = Attr {
    title: "#[raceway::test]",
    macro_name: "test",
    place: "a test function",
    accepts: &[
        string("flavor"),
        int("worker_threads"),
        string("expect_race"),
        string("allow").repeats(),
        int("iterations"),
    ],
    elsewhere: None,
};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    CurrentThread,
    MultiThread,
}

#[derive(Default)]
pub(crate) struct Options {
    /// The value and the `flavor` key, to point at.
    pub flavor: Option<(Flavor, Ident)>,
    pub worker_threads: Option<(usize, Ident)>,
    pub expect_race: Option<LitStr>,
    pub allow: Vec<LitStr>,
    pub iterations: Option<(u32, Ident)>,
}

pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    for opt in TEST.parse(args, errors) {
        let name = opt.name();
        let Opt { key, value } = opt;
        match (name.as_str(), value) {
            ("flavor", Value::Str(lit)) => match lit.value().as_str() {
                "current_thread" => options.flavor = Some((Flavor::CurrentThread, key)),
                "multi_thread" => options.flavor = Some((Flavor::MultiThread, key)),
                other => errors.spanned(
                    &lit,
                    format!("unknown runtime flavor `{other}`: write `flavor = \"current_thread\"` or `flavor = \"multi_thread\"`"),
                ),
            },
            ("worker_threads", Value::Int(lit)) => {
                if let Some(n) = positive::<usize>(&lit, "worker_threads", errors) {
                    options.worker_threads = Some((n, key));
                }
            }
            ("iterations", Value::Int(lit)) => {
                if let Some(n) = positive::<u32>(&lit, "iterations", errors) {
                    options.iterations = Some((n, key));
                }
            }
            ("expect_race", Value::Str(lit)) => {
                if lit.value().trim().is_empty() {
                    errors.spanned(&lit, "`expect_race` needs the variable's name");
                } else {
                    options.expect_race = Some(lit);
                }
            }
            ("allow", Value::Str(lit)) => {
                let v = lit.value();
                let pattern = v.split_once(':').map_or(v.as_str(), |(_, p)| p);
                if pattern.trim().is_empty() {
                    errors.spanned(&lit, "`allow` needs a pattern: `\"cache.*\"` or `\"race:cache.*\"`");
                } else {
                    options.allow.push(lit);
                }
            }
            _ => unreachable!("options::parse returns only the options of TEST, each in its form"),
        }
    }
    options
}

fn positive<N: std::str::FromStr + PartialEq + From<u8>>(lit: &LitInt, name: &str, errors: &mut Errors) -> Option<N>
where
    N::Err: std::fmt::Display,
{
    match lit.base10_parse::<N>() {
        Ok(n) if n == N::from(0) => {
            errors.spanned(lit, format!("`{name}` must be at least 1"));
            None
        }
        Ok(n) => Some(n),
        Err(e) => {
            errors.spanned(lit, format!("`{name}`: {e}"));
            None
        }
    }
}

/// The options against the function: every problem at its own tokens.
pub(crate) fn check(f: &ItemFn, options: &Options, errors: &mut Errors) {
    let sig = &f.sig;
    if let Some(a) = f.attrs.iter().find(|a| a.path().is_ident("test")) {
        errors.spanned(a, "remove this `#[test]`: `#[raceway::test]` already makes the function a test");
    }
    if !sig.inputs.is_empty() {
        errors.spanned(&sig.inputs, "a test function takes no arguments");
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(&sig.generics, "a test function cannot be generic");
    }
    if sig.asyncness.is_none() {
        for (key, what) in [
            (options.flavor.as_ref().map(|f| &f.1), "flavor"),
            (options.worker_threads.as_ref().map(|w| &w.1), "worker_threads"),
        ] {
            if let Some(key) = key {
                errors.spanned(
                    key,
                    format!("`{what}` chooses the tokio runtime of an `async fn` test; this test is not async"),
                );
            }
        }
    } else if !cfg!(feature = "tokio") {
        errors.spanned(
            sig.asyncness,
            "an async #[raceway::test] needs raceway's `tokio` feature: `raceway = { version = \"..\", features = [\"tokio\"] }`",
        );
    }
    let flavor = options.flavor.as_ref().map_or(Flavor::CurrentThread, |f| f.0);
    if let (Some((_, key)), Flavor::CurrentThread) = (&options.worker_threads, flavor) {
        errors.spanned(
            key,
            "`worker_threads` needs the multi-thread runtime: add `flavor = \"multi_thread\"` (the default flavor is `current_thread`)",
        );
    }
}
