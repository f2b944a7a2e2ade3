//! The spawns and joins `#[traced]` rewrites in the body it instruments, so that plain
//! `tokio::spawn(..)` / `thread::spawn(..)` children are ordered after what the parent did before
//! spawning them, and what the parent does after joining them after everything they did.
//!
//! Rewritten (not inside nested items, whose bodies are their own; macro invocations are opaque
//! tokens and stay as written):
//!
//! - the single argument of a call of `tokio::spawn`, `tokio::task::spawn`,
//!   `tokio::task::spawn_blocking`, `tokio::task::spawn_local`, `task::spawn`,
//!   `task::spawn_blocking`, `task::spawn_local`, `std::thread::spawn` or `thread::spawn`;
//! - the single argument of `.spawn(x)`, `.spawn_blocking(x)`, `.spawn_local(x)` on an identifier
//!   bound in this body by `let .. = JoinSet::new()` (or `tokio::task::JoinSet::new()`,
//!   `JoinSet::default()`), and of `.spawn(x)` on the parameter of a `thread::scope(|s| ..)`
//!   closure. Only there: a user's own `pool.spawn(job)` taking a `Box<dyn FnOnce()>` must keep
//!   compiling;
//! - `expr.await`, so that a tokio `JoinHandle` records the join when it completes;
//! - `.join()` on a local or a field (or straight on a `thread::spawn(..)` / `s.spawn(..)` call),
//!   so that a std `JoinHandle` / `ScopedJoinHandle` records the join after it returns.
//!
//! Which of these actually changes anything is decided by the types, at the call site, in
//! `raceway::__private` (`instrument/spawned.rs`): an awaited value that is not a `JoinHandle`,
//! a `join()` of the user's own type, a spawn argument that is boxed, all pass through unchanged.
//! The generated code is spanned at the user's expression, and the user's expressions are kept as
//! they were written (evaluated once, with the same temporaries), so type errors still point at
//! them and `handle.await?` behaves as before.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use std::collections::HashSet;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, ExprCall, ExprMethodCall, Item, Local, Macro, Pat, PathArguments};

/// Rewrites the spawns and joins of a `#[traced]` function's body (see the module docs).
pub(crate) fn rewrite(block: &mut Block) {
    Rewriter::default().visit_block_mut(block);
}

const SPAWN_FUNCTIONS: &[&[&str]] = &[
    &["tokio", "spawn"],
    &["tokio", "task", "spawn"],
    &["tokio", "task", "spawn_blocking"],
    &["tokio", "task", "spawn_local"],
    &["task", "spawn"],
    &["task", "spawn_blocking"],
    &["task", "spawn_local"],
    &["std", "thread", "spawn"],
    &["thread", "spawn"],
];

const THREAD_SPAWNS: &[&[&str]] = &[&["std", "thread", "spawn"], &["thread", "spawn"]];

const SCOPES: &[&[&str]] = &[&["std", "thread", "scope"], &["thread", "scope"]];

#[derive(Default)]
struct Rewriter {
    /// Identifiers bound to a new `JoinSet`, as of the statement being visited.
    join_sets: HashSet<String>,
    /// Parameters of the `thread::scope` closures being visited, innermost last.
    scopes: Vec<String>,
}

impl VisitMut for Rewriter {
    fn visit_item_mut(&mut self, _: &mut Item) {
        // A nested `fn` (or impl, mod, ..) is not part of this function's body.
    }

    fn visit_macro_mut(&mut self, _: &mut Macro) {
        // Opaque tokens: their meaning is the macro's.
    }

    fn visit_local_mut(&mut self, local: &mut Local) {
        visit_mut::visit_local_mut(self, local);
        if let Some(name) = bound_ident(&local.pat) {
            if local.init.as_ref().is_some_and(|init| is_new_join_set(&init.expr)) {
                self.join_sets.insert(name);
            } else {
                // Shadowed by something else from here on.
                self.join_sets.remove(&name);
            }
        }
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let scope = match expr {
            Expr::Call(call) => scope_param(call),
            _ => None,
        };
        let pushed = scope.is_some();
        self.scopes.extend(scope);
        // Inner expressions first: a spawn inside a spawned block is that child's own spawn.
        visit_mut::visit_expr_mut(self, expr);
        if pushed {
            self.scopes.pop();
        }
        match expr {
            Expr::Call(call) if call.args.len() == 1 && path_is(&call.func, SPAWN_FUNCTIONS) => {
                let arg = call.args.first_mut().expect("one argument");
                *arg = spawn_arg(arg);
            }
            Expr::MethodCall(call) if call.args.len() == 1 && self.is_known_spawner(call) => {
                let arg = call.args.first_mut().expect("one argument");
                *arg = spawn_arg(arg);
            }
            Expr::MethodCall(call) if call.method == "join" && call.args.is_empty() && call.turbofish.is_none() => {
                if let Some(join) = self.join(call) {
                    *expr = join;
                }
            }
            Expr::Await(awaited) => {
                let base = &awaited.base;
                let span = base.span();
                *awaited.base = syn::parse_quote_spanned! {span=>
                    (match #base {
                        __raceway_awaited => {
                            #[allow(unused_imports)]
                            use ::raceway::__private::{AwaitJoin as _, AwaitPlain as _};
                            (&&::raceway::__private::AwaitArg(&__raceway_awaited))
                                .__raceway_await_kind()
                                .wrap(__raceway_awaited)
                        }
                    })
                };
            }
            _ => {}
        }
    }
}

impl Rewriter {
    /// `set.spawn(x)` on a known `JoinSet`, or `s.spawn(x)` on a `thread::scope` parameter.
    fn is_known_spawner(&self, call: &ExprMethodCall) -> bool {
        if call.turbofish.is_some() {
            return false;
        }
        let Some(receiver) = single_ident(&call.receiver) else { return false };
        let method = call.method.to_string();
        match method.as_str() {
            "spawn" => self.join_sets.contains(&receiver) || self.scopes.contains(&receiver),
            "spawn_blocking" | "spawn_local" => self.join_sets.contains(&receiver),
            _ => false,
        }
    }

    /// `recv.join()` that records the join after it returns when `recv` is a std thread handle.
    fn join(&self, call: &ExprMethodCall) -> Option<Expr> {
        let span = call.span();
        let key = |handle: TokenStream| {
            quote_spanned! {span=>
                {
                    #[allow(unused_imports)]
                    use ::raceway::__private::{JoinPlain as _, JoinThread as _};
                    (&&&::raceway::__private::JoinArg(&#handle)).__raceway_join_key()
                }
            }
        };
        let receiver = &*call.receiver;
        if is_place(receiver) {
            // A place can be named twice without evaluating anything twice: the handle is only
            // borrowed for its key, then the user's call runs exactly as written.
            let key = key(quote_spanned!(span=> #receiver));
            return Some(syn::parse_quote_spanned! {span=> ::raceway::__private::join_after(#key, #call) });
        }
        if self.makes_thread_handle(receiver) {
            // A handle straight from a spawn: `join(self)` consumes it anyway, so binding it moves
            // nothing the user could still use.
            let handle = syn::Ident::new("__raceway_handle", span);
            let mut join = call.clone();
            *join.receiver = syn::parse_quote_spanned!(span=> #handle);
            let key = key(quote_spanned!(span=> #handle));
            return Some(syn::parse_quote_spanned! {span=>
                match #receiver { #handle => ::raceway::__private::join_after(#key, #join) }
            });
        }
        None
    }

    /// `thread::spawn(..)` or `s.spawn(..)` on a scope parameter: a std thread handle.
    fn makes_thread_handle(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Call(call) => path_is(&call.func, THREAD_SPAWNS),
            Expr::MethodCall(call) => {
                call.method == "spawn"
                    && call.turbofish.is_none()
                    && single_ident(&call.receiver).is_some_and(|r| self.scopes.contains(&r))
            }
            Expr::Paren(p) => self.makes_thread_handle(&p.expr),
            _ => false,
        }
    }
}

/// `match x { v => <v as a child task when it is a future or a closure> }`.
fn spawn_arg(arg: &Expr) -> Expr {
    let span: Span = arg.span();
    syn::parse_quote_spanned! {span=>
        match #arg {
            __raceway_spawned => {
                #[allow(unused_imports)]
                use ::raceway::__private::{SpawnFn as _, SpawnFuture as _, SpawnKeep as _, SpawnPlain as _};
                (&&&&::raceway::__private::SpawnArg(&__raceway_spawned))
                    .__raceway_spawn_kind()
                    .wrap(__raceway_spawned)
            }
        }
    }
}

/// Whether `expr` is a path (no generic arguments) equal to one of `paths`.
fn path_is(expr: &Expr, paths: &[&[&str]]) -> bool {
    let Expr::Path(p) = expr else { return false };
    if p.qself.is_some() || p.path.segments.iter().any(|s| !matches!(s.arguments, PathArguments::None)) {
        return false;
    }
    let segments: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
    paths.iter().any(|want| segments.iter().map(String::as_str).eq(want.iter().copied()))
}

/// `JoinSet::new()`, `tokio::task::JoinSet::new()`, `JoinSet::<T>::default()`, ...
fn is_new_join_set(expr: &Expr) -> bool {
    let Expr::Call(ExprCall { func, args, .. }) = expr else { return false };
    let Expr::Path(p) = &**func else { return false };
    let segments: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
    args.is_empty()
        && p.qself.is_none()
        && (segments.ends_with(&["JoinSet".into(), "new".into()])
            || segments.ends_with(&["JoinSet".into(), "default".into()]))
}

/// The parameter `s` of `thread::scope(|s| ..)`.
fn scope_param(call: &ExprCall) -> Option<String> {
    if call.args.len() != 1 || !path_is(&call.func, SCOPES) {
        return None;
    }
    let Some(Expr::Closure(closure)) = call.args.first() else { return None };
    match closure.inputs.iter().collect::<Vec<_>>().as_slice() {
        [pat] => bound_ident(pat),
        _ => None,
    }
}

/// The identifier a `let` or closure parameter binds when it is a plain name (`x`, `mut x`, `x: T`).
fn bound_ident(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(p) if p.subpat.is_none() => Some(p.ident.to_string()),
        Pat::Type(t) => bound_ident(&t.pat),
        _ => None,
    }
}

fn single_ident(expr: &Expr) -> Option<String> {
    let Expr::Path(p) = expr else { return None };
    (p.qself.is_none() && p.path.segments.len() == 1 && p.path.leading_colon.is_none())
        .then(|| p.path.segments[0].ident.to_string())
}

/// A local (`handle`, `self`) or a field of one (`self.worker.handle`): naming it twice evaluates
/// nothing twice.
fn is_place(expr: &Expr) -> bool {
    match expr {
        Expr::Path(_) => single_ident(expr).is_some(),
        Expr::Field(f) => is_place(&f.base),
        _ => false,
    }
}
