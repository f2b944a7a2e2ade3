//! Code generation of `#[shared]`: the struct with tracked field types, and its constructor.

use super::attr::{FieldInfo, Role, StructOptions};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Fields, ItemStruct};

pub(crate) fn shared(mut item: ItemStruct, options: StructOptions, infos: Vec<FieldInfo>) -> TokenStream {
    let enabled = crate::INSTRUMENT;
    let label = options.name.map(|l| l.value()).unwrap_or_else(|| item.ident.unraw().to_string());
    let constructor = options.constructor.unwrap_or_else(|| format_ident!("new"));
    let Fields::Named(named) = &mut item.fields else { unreachable!("checked by shared::expand") };

    // Keyed names are shared on purpose (two instances with one key are one entity); the others
    // come from a process-wide counter and are unique anyway.
    let exact = infos.iter().any(|i| i.role == Role::Key);
    let mut params = Vec::new();
    let mut inits = Vec::new();
    let mut key = None;
    for (field, info) in named.named.iter_mut().zip(infos) {
        field.attrs = info.attrs;
        let ident = field.ident.clone().expect("named field");
        let ty = field.ty.clone();
        params.push(quote!(#ident: #ty));
        match info.role {
            Role::Key => {
                key = Some(ident.clone());
                inits.push(quote!(#ident));
            }
            Role::Skip => inits.push(quote!(#ident)),
            Role::Tracked => {
                let span = ty.span();
                field.ty = syn::parse_quote_spanned!(span=> ::raceway::Tracked<#ty>);
                let field_name = ident.unraw().to_string();
                inits.push(if enabled {
                    quote_spanned! {span=>
                        #ident: ::raceway::__private::field(&__raceway_owner, #field_name, #exact, #ident, {
                            #[allow(unused_imports)]
                            use ::raceway::__private::{CaptureByDebug as _, CaptureBySerialize as _, CaptureByTypeName as _};
                            (&&&::raceway::__private::Probe::<#ty>::NEW).__raceway_capture()
                        })
                    }
                } else {
                    quote_spanned!(span=> #ident: ::raceway::__private::plain_field(#ident))
                });
            }
        }
    }
    let owner = if !enabled {
        TokenStream::new()
    } else if let Some(k) = &key {
        quote!(let __raceway_owner = ::raceway::__private::keyed_name(#label, &#k);)
    } else {
        quote!(let __raceway_owner = ::raceway::__private::instance_name(#label);)
    };
    let vis = &item.vis;
    let ident = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let doc = format!(
        "Creates a `{ident}` whose fields are tracked cells named `{label}{}.<field>`.",
        if exact { "[<key>]" } else { "#<n>" }
    );
    quote! {
        #item

        impl #impl_generics #ident #ty_generics #where_clause {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments)]
            #vis fn #constructor(#(#params),*) -> Self {
                #owner
                Self { #(#inits),* }
            }
        }
    }
}
