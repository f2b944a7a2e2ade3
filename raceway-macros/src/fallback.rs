//! What a macro emits when its input is wrong: the errors, plus the user's item unchanged, so the
//! item still exists and the user sees one error instead of "cannot find function" cascades.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(errors: syn::Error, item: TokenStream) -> TokenStream {
    let errors = errors.to_compile_error();
    quote! {
        #errors
        #item
    }
}

/// Collects errors so that all of an item's problems are reported together (serde's `Ctxt`).
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The item's leading tokens (its keyword and name), to point at without covering its body.
pub(crate) fn item_head(item: &syn::Item) -> TokenStream {
    match item {
        syn::Item::Struct(s) => {
            let (k, i) = (&s.struct_token, &s.ident);
            quote!(#k #i)
        }
        syn::Item::Enum(s) => {
            let (k, i) = (&s.enum_token, &s.ident);
            quote!(#k #i)
        }
        syn::Item::Impl(s) => {
            let k = &s.impl_token;
            quote!(#k)
        }
        syn::Item::Mod(s) => {
            let (k, i) = (&s.mod_token, &s.ident);
            quote!(#k #i)
        }
        syn::Item::Const(s) => {
            let (k, i) = (&s.const_token, &s.ident);
            quote!(#k #i)
        }
        syn::Item::Static(s) => {
            let (k, i) = (&s.static_token, &s.ident);
            quote!(#k #i)
        }
        syn::Item::Trait(s) => {
            let (k, i) = (&s.trait_token, &s.ident);
            quote!(#k #i)
        }
        syn::Item::Type(s) => {
            let (k, i) = (&s.type_token, &s.ident);
            quote!(#k #i)
        }
        other => quote!(#other),
    }
}
