//! [`OnceCell`]: `tokio::sync::OnceCell` whose initialisation happens before every read of it.

use super::object_name;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::{acquire, release, Handoff};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

pub use tokio::sync::SetError;

/// A tracked [`tokio::sync::OnceCell`]: the same API. The value carries the position of the task
/// that initialised it, and every `get` (or `get_or_init`) that finds it continues from there.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let token = raceway::sync::OnceCell::named("token");
/// let t = token.get_or_init(|| async { "abc".to_owned() }).await;
/// assert_eq!(t, "abc");
/// assert!(token.set("xyz".to_owned()).is_err());
/// # }
/// ```
pub struct OnceCell<T> {
    inner: tokio::sync::OnceCell<(T, Option<Handoff>)>,
    name: Name,
}

fn set_error<T>(e: SetError<(T, Option<Handoff>)>) -> SetError<T> {
    match e {
        SetError::AlreadyInitializedError((v, _)) => SetError::AlreadyInitializedError(v),
        SetError::InitializingError((v, _)) => SetError::InitializingError(v),
    }
}

impl<T> OnceCell<T> {
    /// An empty cell, its events named `oncecell#N`.
    pub fn new() -> Self {
        OnceCell { inner: tokio::sync::OnceCell::new(), name: object_name(None, "oncecell") }
    }

    /// An empty cell whose events carry `name` as their object.
    pub fn named(name: impl Into<Name>) -> Self {
        OnceCell { inner: tokio::sync::OnceCell::new(), name: object_name(Some(name.into()), "oncecell") }
    }

    /// A cell holding `value` if it is `Some` (set by the creator: nothing to acquire).
    pub fn new_with(value: Option<T>) -> Self {
        let inner = tokio::sync::OnceCell::new_with(value.map(|v| (v, None)));
        OnceCell { inner, name: object_name(None, "oncecell") }
    }

    fn found<'a>(&self, (v, h): &'a (T, Option<Handoff>), location: Location) -> &'a T {
        acquire("once.get", &self.name, location, h.as_ref());
        v
    }

    /// The value, if initialised (records `once.get`, continuing from the initialisation).
    #[track_caller]
    pub fn get(&self) -> Option<&T> {
        let location = Location::caller();
        self.inner.get().map(|m| self.found(m, location))
    }

    /// The value, through exclusive access (nothing recorded).
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.inner.get_mut().map(|(v, _)| v)
    }

    /// Whether the cell is initialised.
    pub fn initialized(&self) -> bool {
        self.inner.initialized()
    }

    /// Initialises the cell with `value` (records `once.set`), or gives it back.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        let h = release("once.set", &self.name, Location::caller());
        self.inner.set((value, h)).map_err(set_error)
    }

    /// The value, initialising it with `f().await` first when empty (the initialising task
    /// records `once.set`; a task that finds the value records `once.get`).
    #[track_caller]
    pub fn get_or_init<F, Fut>(&self, f: F) -> impl Future<Output = &T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let location = Location::caller();
        async move {
            let mine = AtomicBool::new(false);
            let m = self
                .inner
                .get_or_init(|| async {
                    let v = f().await;
                    mine.store(true, Ordering::Relaxed);
                    (v, release("once.set", &self.name, location))
                })
                .await;
            if mine.load(Ordering::Relaxed) {
                &m.0
            } else {
                self.found(m, location)
            }
        }
    }

    /// Like [`get_or_init`](Self::get_or_init) with a fallible initialiser.
    #[track_caller]
    pub fn get_or_try_init<E, F, Fut>(&self, f: F) -> impl Future<Output = Result<&T, E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let location = Location::caller();
        async move {
            let mine = AtomicBool::new(false);
            let m = self
                .inner
                .get_or_try_init(|| async {
                    let v = f().await?;
                    mine.store(true, Ordering::Relaxed);
                    Ok((v, release("once.set", &self.name, location)))
                })
                .await?;
            Ok(if mine.load(Ordering::Relaxed) { &m.0 } else { self.found(m, location) })
        }
    }

    /// The value, consuming the cell.
    pub fn into_inner(self) -> Option<T> {
        self.inner.into_inner().map(|(v, _)| v)
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        self.inner.take().map(|(v, _)| v)
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnceCell").field("name", &self.name).field("value", &self.inner.get().map(|m| &m.0)).finish()
    }
}
