//! `#[traced]`: records a `FunctionCall` when a function is entered and its end (with the
//! duration) when it returns, unwinds, or — for futures — completes.

mod attr;
mod expand;
mod spawns;
mod valid;

use proc_macro2::TokenStream;
use syn::{Expr, FnArg, Ident, ItemFn, Pat, Stmt};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match parse_function(item.clone()) {
        Ok(f) => f,
        Err(e) => return crate::fallback::expand(e, item),
    };
    // Option errors are reported together with the function's own problems, and the options
    // that were well written are still checked against the function.
    let mut errors = crate::fallback::Errors::default();
    let options = attr::parse(args, &mut errors);
    if let Err(e) = valid::check(&function, &options) {
        errors.push(e);
    }
    match errors.finish() {
        Ok(()) if !crate::INSTRUMENT => item,
        Ok(()) => expand::function(function, options),
        Err(e) => crate::fallback::expand(e, item),
    }
}

fn parse_function(item: TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => Ok(f),
        Err(e) => match syn::parse2::<syn::Item>(item) {
            Ok(syn::Item::Fn(_)) => Err(e),
            Ok(syn::Item::Verbatim(v)) if v.to_string().contains("fn ") => Err(syn::Error::new_spanned(
                v,
                "#[traced] needs a function with a body; put it on the implementations, not on a trait's required method",
            )),
            Ok(other) => Err(syn::Error::new_spanned(
                crate::fallback::item_head(&other),
                "#[traced] can only be applied to functions and methods",
            )),
            Err(_) => Err(syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[traced] can only be applied to functions and methods",
            )),
        },
    }
}

/// The identifiers an argument list binds (through any pattern), receivers excluded.
pub(crate) fn arg_idents(function: &ItemFn) -> Vec<Ident> {
    fn walk(pat: &Pat, out: &mut Vec<Ident>) {
        match pat {
            Pat::Ident(p) => {
                out.push(p.ident.clone());
                if let Some((_, sub)) = &p.subpat {
                    walk(sub, out);
                }
            }
            Pat::Tuple(t) => t.elems.iter().for_each(|p| walk(p, out)),
            Pat::TupleStruct(t) => t.elems.iter().for_each(|p| walk(p, out)),
            Pat::Struct(s) => s.fields.iter().for_each(|f| walk(&f.pat, out)),
            Pat::Slice(s) => s.elems.iter().for_each(|p| walk(p, out)),
            Pat::Reference(r) => walk(&r.pat, out),
            Pat::Type(t) => walk(&t.pat, out),
            Pat::Paren(p) => walk(&p.pat, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for input in &function.sig.inputs {
        if let FnArg::Typed(t) = input {
            walk(&t.pat, &mut out);
        }
    }
    out
}

/// How the function's work is shaped.
pub(crate) enum Shape {
    /// A plain function: the call is the function's execution.
    Sync,
    /// `async fn`: the call is the returned future.
    AsyncFn,
    /// A function whose body ends in `async move { .. }` or `Box::pin(async move { .. })` (the
    /// `impl Future` and async-trait shapes): the call is that future.
    AsyncTail,
}

pub(crate) fn shape(function: &ItemFn) -> Shape {
    if function.sig.asyncness.is_some() {
        Shape::AsyncFn
    } else if tail_async(&function.block.stmts).is_some() {
        Shape::AsyncTail
    } else {
        Shape::Sync
    }
}

/// The index of the last statement when it is an `async` block or `Box::pin(async ..)`.
pub(crate) fn tail_async(stmts: &[Stmt]) -> Option<usize> {
    let last = stmts.len().checked_sub(1)?;
    match &stmts[last] {
        Stmt::Expr(Expr::Async(_), None) => Some(last),
        Stmt::Expr(Expr::Call(call), None) if is_box_pin_of_async(call) => Some(last),
        _ => None,
    }
}

pub(crate) fn is_box_pin_of_async(call: &syn::ExprCall) -> bool {
    let Expr::Path(p) = &*call.func else { return false };
    let segs: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
    segs.ends_with(&["Box".into(), "pin".into()])
        && call.args.len() == 1
        && matches!(call.args.first(), Some(Expr::Async(_)))
}
