//! Meaning checks of `#[traced]` against the function, each reported at the offending token.

use super::attr::Options;
use super::{arg_idents, shape, Shape};
use crate::fallback::Errors;
use crate::types::{future_output, has_impl_trait};
use syn::{ItemFn, ReturnType};

pub(crate) fn check(function: &ItemFn, options: &Options) -> syn::Result<()> {
    let mut errors = Errors::default();
    let sig = &function.sig;
    if let Some(c) = &sig.constness {
        errors.spanned(
            c,
            "#[traced] cannot be used on a `const fn`: recording is a side effect that cannot run at compile time",
        );
    }
    let args = arg_idents(function);
    for s in &options.skip {
        if !args.iter().any(|a| a == s) {
            let list = args.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
            let known = if list.is_empty() { "it has none".to_owned() } else { format!("its arguments are {list}") };
            errors.spanned(s, format!("cannot skip `{s}`: `{}` has no argument of that name ({known})", sig.ident));
        }
    }
    if let (Some(kw), Some(_)) = (&options.skip_kw, &options.skip_all) {
        errors.spanned(kw, "`skip(..)` is redundant with `skip_all`: keep one of them");
    }
    if let Some(err) = &options.err {
        match result_type(function) {
            Ok(()) => {}
            Err(why) => errors.spanned(err, why),
        }
    }
    errors.finish()
}

/// Whether `err` can inspect the returned value as a `Result`.
fn result_type(function: &ItemFn) -> Result<(), &'static str> {
    let ReturnType::Type(_, ty) = &function.sig.output else {
        return Err("`err` needs a function returning a `Result`; this one returns `()`");
    };
    let output = match shape(function) {
        Shape::AsyncTail => future_output(ty).ok_or(
            "`err` needs the future's output type: declare the return type as `impl Future<Output = Result<..>>`",
        )?,
        Shape::Sync | Shape::AsyncFn => ty,
    };
    if has_impl_trait(output) {
        return Err("`err` needs a nameable `Result` return type, not `impl Trait`");
    }
    Ok(())
}
