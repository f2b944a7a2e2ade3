//! Procedural macros of the `raceway` crate: `#[traced]` and `#[shared]`. Use them through
//! `raceway` (`#[raceway::traced]`, `#[raceway::shared]`), which documents them; `lock!` is a
//! `macro_rules!` macro of `raceway` itself.
//!
//! Layout, one file per stage: `*/attr.rs` parses the attribute's options, `*/valid.rs` checks
//! their meaning against the item (every problem is reported, each at its own token),
//! `*/expand.rs` generates the code, and `fallback.rs` turns errors into `compile_error!`s next to
//! the unchanged item, so the user sees the macro's error and not a cascade of follow-ups.
//!
//! Without the `enabled` feature (set by `raceway/enabled`), `#[traced]` returns the function
//! untouched and `#[shared]` only changes the field types to `raceway::Tracked<_>` (then a plain
//! cell) so the same user code compiles both ways.

extern crate proc_macro;

mod fallback;
mod shared;
mod traced;
mod types;

use proc_macro::TokenStream;

/// Records a function's calls: see `raceway::traced`.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    traced::expand(args.into(), item.into()).into()
}

/// Makes a struct's fields tracked cells: see `raceway::shared`.
#[proc_macro_attribute]
pub fn shared(args: TokenStream, item: TokenStream) -> TokenStream {
    shared::expand(args.into(), item.into()).into()
}
