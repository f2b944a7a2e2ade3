//! `#[raceway::test]`: a `#[test]` (sync body) or a `#[tokio::test]` (async body) whose body runs
//! captured, failing with the race report when it has a finding.

mod attr;
mod expand;

use proc_macro2::TokenStream;
use syn::ItemFn;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let e = match syn::parse2::<syn::Item>(item.clone()) {
                // A function that does not parse as one: syn's own error says why.
                Ok(syn::Item::Fn(_)) | Err(_) => e,
                Ok(other) => syn::Error::new_spanned(
                    crate::fallback::item_head(&other),
                    "#[raceway::test] can only be applied to functions",
                ),
            };
            return crate::fallback::expand(e, item);
        }
    };
    let mut errors = crate::fallback::Errors::default();
    let options = attr::parse(args, &mut errors);
    attr::check(&function, &options, &mut errors);
    match errors.finish() {
        Ok(()) => expand::function(function, options),
        // The function stays a plain function: no test runs, and the error is the only message.
        Err(e) => crate::fallback::expand(e, item),
    }
}
