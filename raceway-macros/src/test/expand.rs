//! The generated test: the user's body becomes an inner function (so `return`, `?` and the
//! declared return type mean what they meant), called through `raceway::__private::run_test`
//! (or `run_test_async` on a tokio runtime built like `#[tokio::test]` builds it).
//!
//! With instrumentation compiled out the body is called directly: the attribute is then exactly
//! `#[test]` / `#[tokio::test]`.

use super::attr::{Flavor, Options};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemFn;

pub(crate) fn function(f: ItemFn, options: Options) -> TokenStream {
    let ItemFn { attrs, vis, sig, block } = f;
    let name = &sig.ident;
    let output = &sig.output;
    let body_fn = format_ident!("__raceway_test_body");
    let is_async = sig.asyncness.is_some();
    let asyncness = &sig.asyncness;

    let expect_race = match &options.expect_race {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let allow = &options.allow;
    let iterations = options.iterations.as_ref().map_or(1, |i| i.0);
    let test_options = quote! {
        &::raceway::__private::TestOptions {
            name: ::core::stringify!(#name),
            expect_race: #expect_race,
            allow: &[#(#allow),*],
            iterations: #iterations,
        }
    };

    let run = match (crate::INSTRUMENT, is_async) {
        (true, false) => quote!(::raceway::__private::run_test(#test_options, #body_fn)),
        (true, true) => quote!(::raceway::__private::run_test_async(#test_options, #body_fn)),
        (false, _) => quote!(#body_fn()),
    };
    let call = if is_async {
        let builder = match options.flavor.as_ref().map_or(Flavor::CurrentThread, |f| f.0) {
            Flavor::CurrentThread => quote!(new_current_thread()),
            Flavor::MultiThread => match options.worker_threads {
                Some((n, _)) => quote!(new_multi_thread().worker_threads(#n)),
                None => quote!(new_multi_thread()),
            },
        };
        quote! {
            ::raceway::__private::tokio::runtime::Builder::#builder
                .enable_all()
                .build()
                .expect("Failed building the Runtime")
                .block_on(#run)
        }
    } else {
        run
    };

    quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() #output {
            #asyncness fn #body_fn() #output #block
            #call
        }
    }
}
