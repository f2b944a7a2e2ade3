//! `#[shared]`: every named field of a struct becomes a `raceway::Tracked<T>` cell named
//! `Type[key].field` (key field) or `Type#N.field` (per-instance id), with a generated constructor.

mod attr;
mod expand;

use crate::fallback::Errors;
use proc_macro2::TokenStream;
use syn::{Fields, ItemStruct};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = attr::parse_struct_options(args, &mut errors);
    let item_struct = match syn::parse2::<ItemStruct>(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            let message = "#[shared] can only be applied to a struct with named fields";
            match syn::parse2::<syn::Item>(item.clone()) {
                Ok(other) => errors.spanned(crate::fallback::item_head(&other), message),
                Err(_) => errors.push(syn::Error::new(proc_macro2::Span::call_site(), message)),
            }
            return crate::fallback::expand(errors.finish().unwrap_err(), item);
        }
    };
    let mut item_struct_clean = item_struct.clone();
    for field in item_struct_clean.fields.iter_mut() {
        field.attrs.retain(|a| !a.path().is_ident("shared"));
    }
    let fields = match &item_struct.fields {
        Fields::Named(named) => attr::parse_fields(named, &mut errors),
        other => {
            errors.spanned(
                if matches!(other, Fields::Unit) { quote::quote!(#item_struct) } else { quote::quote!(#other) },
                "#[shared] needs named fields (`struct S { a: T }`): variable names are built from field names",
            );
            Vec::new()
        }
    };
    match errors.finish() {
        Ok(()) => expand::shared(item_struct, options, fields),
        // Without its `#[shared(..)]` field attributes, so that the item does not add
        // "cannot find attribute" errors to the real ones.
        Err(e) => crate::fallback::expand(e, quote::quote!(#item_struct_clean)),
    }
}
