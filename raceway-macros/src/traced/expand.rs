//! Code generation of `#[traced]`.
//!
//! Generated code is spanned at the user's tokens (the function's name for the location, the
//! return type for the fake return edge), so `line!()` is the function's line and type errors
//! point at the user's code. The user's body always stays in its own block.

use super::attr::Options;
use super::{arg_idents, is_box_pin_of_async, shape, tail_async, Shape};
use crate::types::{future_output, has_impl_trait};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Block, Expr, ItemFn, ReturnType, Stmt, Type};

pub(crate) fn function(mut function: ItemFn, options: Options) -> TokenStream {
    super::spawns::rewrite(&mut function.block);
    let shape = shape(&function);
    let name = match &options.name {
        Some(lit) => lit.value(),
        None => function.sig.ident.unraw().to_string(),
    };
    let span = function.sig.ident.span();
    let location = quote_spanned!(span=> ::raceway::Location::new(::core::file!(), ::core::line!(), ::core::column!()));
    // One static per function: each event refers to it instead of copying name, module and
    // location (issue 17). Spanned like the location so `line!()` is the function's line.
    let site = quote_spanned! {span=>
        static __RACEWAY_SITE: ::raceway::__private::Site = ::raceway::__private::Site::new(
            #name,
            ::core::module_path!(),
            ::core::file!(),
            ::core::line!(),
            ::core::column!(),
        );
    };
    let args = args_closure(&function, &options);
    let call = quote! { &__RACEWAY_SITE, #args };

    let ItemFn { attrs, vis, sig, block } = function;
    let wants_return = options.ret.is_some() || options.err.is_some();
    let declared: Type = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => syn::parse_quote!(()),
    };

    let body = match shape {
        Shape::Sync if !wants_return => quote! {
            #site
            let __raceway_guard = ::raceway::__private::enter(#call);
            #block
        },
        Shape::Sync => {
            let fake = fake_return(&declared);
            let on_return = on_return_body(&options, &location, !has_impl_trait(&declared));
            quote! {
                #site
                #[allow(unused_mut)]
                let mut __raceway_guard = ::raceway::__private::enter(#call);
                let __raceway_ret = ::raceway::__private::call_once(move || { #fake #block });
                {
                    let __raceway_ret_ref = &__raceway_ret;
                    let __raceway_guard = &mut __raceway_guard;
                    #on_return
                }
                __raceway_ret
            }
        }
        Shape::AsyncFn => {
            let fake = fake_return(&declared);
            let on_return = on_return_fn(&options, &location, Some(&declared));
            quote! {
                #site
                let __raceway_call = ::raceway::__private::Call::if_enabled(#call);
                ::raceway::__private::traced(__raceway_call, async move { #fake #block }, #on_return).await
            }
        }
        Shape::AsyncTail => {
            let output = future_output(&declared).cloned();
            let on_return = on_return_fn(&options, &location, output.as_ref());
            let block = wrap_tail(*block, on_return);
            quote! {
                #site
                let __raceway_call = ::raceway::__private::Call::if_enabled(#call);
                #block
            }
        }
    };
    // The user's block becomes the tail of a generated body; rustc would then call its braces
    // unnecessary (`unused_braces`) at the user's spans, a warning on code they did not write.
    quote! {
        #(#attrs)*
        #[allow(unused_braces)]
        #vis #sig {
            #body
        }
    }
}

/// `|| args([("a", <a captured>), ...])`, capturing each kept argument and extra field by autoref.
fn args_closure(function: &ItemFn, options: &Options) -> TokenStream {
    let mut pairs = Vec::new();
    if options.skip_all.is_none() {
        for ident in arg_idents(function) {
            if options.skip.contains(&ident) {
                continue;
            }
            let key = ident.unraw().to_string();
            let span = ident.span();
            pairs.push(quote_spanned! {span=>
                (#key, (&&&::raceway::__private::Arg(&#ident)).__raceway_small())
            });
        }
    }
    for field in &options.fields {
        let key = &field.key;
        let value = &field.value;
        pairs.push(quote_spanned! {field.key_span=>
            (#key, (&&&::raceway::__private::Arg(&(#value))).__raceway_small())
        });
    }
    quote! {
        || {
            #[allow(unused_imports)]
            use ::raceway::__private::{ViaDebug as _, ViaSerialize as _, ViaTypeName as _};
            ::raceway::__private::args([#(#pairs),*])
        }
    }
}

/// An unreachable `return` of the declared type, pinning the type of the wrapped body so that
/// inference (`?`, `.into()`) and error messages work as in the unannotated function.
fn fake_return(declared: &Type) -> TokenStream {
    if has_impl_trait(declared) {
        return TokenStream::new();
    }
    quote_spanned! {declared.span()=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let __raceway_fake_return: #declared = loop {};
            return __raceway_fake_return;
        }
    }
}

/// What happens with the returned value (in scope: `__raceway_ret_ref: &T`,
/// `__raceway_guard: &mut FunctionGuard`). `typed` says whether `T` can be inspected.
fn on_return_body(options: &Options, location: &TokenStream, typed: bool) -> TokenStream {
    let ret = options.ret.as_ref().map(|_| {
        if typed {
            quote!(__raceway_guard.set_ret_captured((&&&::raceway::__private::Arg(__raceway_ret_ref)).__raceway_small());)
        } else {
            quote!(__raceway_guard.set_ret(::raceway::__private::type_name_of(__raceway_ret_ref));)
        }
    });
    let err = options.err.as_ref().map(|_| {
        quote! {
            if let ::core::result::Result::Err(__raceway_err) = __raceway_ret_ref {
                ::raceway::__private::record_error(__raceway_err, #location);
            }
        }
    });
    quote! {
        if ::raceway::__private::enabled() {
            #[allow(unused_imports)]
            use ::raceway::__private::{ViaDebug as _, ViaSerialize as _, ViaTypeName as _};
            #err
            #ret
        }
    }
}

/// The `OnReturn` function of a traced future.
fn on_return_fn(options: &Options, location: &TokenStream, output: Option<&Type>) -> TokenStream {
    if options.ret.is_none() && options.err.is_none() {
        return quote!(::raceway::__private::ignore_return);
    }
    let typed = output.filter(|t| !has_impl_trait(t));
    let body = on_return_body(options, location, typed.is_some());
    match typed {
        Some(t) => quote! {
            |__raceway_ret_ref: &#t, __raceway_guard: &mut ::raceway::FunctionGuard| { #body }
        },
        None => quote! {
            |__raceway_ret_ref, __raceway_guard: &mut ::raceway::FunctionGuard| { #body }
        },
    }
}

/// Replaces the body's tail `async ..` (or `Box::pin(async ..)`) with the traced future.
fn wrap_tail(mut block: Block, on_return: TokenStream) -> Block {
    let Some(i) = tail_async(&block.stmts) else { return block };
    let Stmt::Expr(tail, None) = &mut block.stmts[i] else { return block };
    let wrap = |e: &Expr| -> Expr {
        let span: Span = e.span();
        syn::parse_quote_spanned! {span=>
            ::raceway::__private::traced(__raceway_call, #e, #on_return)
        }
    };
    match tail {
        Expr::Async(_) => *tail = wrap(tail),
        Expr::Call(call) if is_box_pin_of_async(call) => {
            let inner = call.args.first_mut().expect("checked by is_box_pin_of_async");
            *inner = wrap(inner);
        }
        _ => {}
    }
    block
}
