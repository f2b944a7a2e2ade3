//! `tokio::sync::watch`, tracked: the current value carries the position of the task that sent
//! it, and a receiver that sees it (`changed`, `borrow`, `borrow_and_update`) continues from
//! there. Same API and error types (tokio's, in [`error`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let (tx, mut rx) = raceway::sync::watch::channel("v1");
//! raceway::spawn(async move { tx.send("v2").unwrap() }).await.unwrap();
//! rx.changed().await.unwrap();
//! assert_eq!(*rx.borrow_and_update(), "v2");
//! # }
//! ```

use super::object_name;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::{acquire, release, Handoff};
use std::future::Future;
use tokio::sync::watch as tw;

use error::{RecvError, SendError};
pub use tokio::sync::watch::error;

type Msg<T> = (T, Option<Handoff>);

/// A watch channel holding `init` (tokio's `channel`), its events named `watch#N`.
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    make(None, init)
}

/// [`channel`] whose events carry `name` as their object.
pub fn named_channel<T>(name: impl Into<Name>, init: T) -> (Sender<T>, Receiver<T>) {
    make(Some(name.into()), init)
}

fn make<T>(name: Option<Name>, init: T) -> (Sender<T>, Receiver<T>) {
    let name = object_name(name, "watch");
    let (tx, rx) = tw::channel((init, None));
    (Sender { inner: tx, name: name.clone() }, Receiver { inner: rx, name })
}

/// A borrowed value of a watch channel (tokio's `watch::Ref`); holds the channel's read lock.
pub struct Ref<'a, T> {
    inner: tw::Ref<'a, Msg<T>>,
}

impl<T> Ref<'_, T> {
    /// Whether the value was not seen before this borrow (see tokio's `Ref::has_changed`).
    pub fn has_changed(&self) -> bool {
        self.inner.has_changed()
    }
}

impl<T> std::ops::Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner.0
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.0.fmt(f)
    }
}

/// The sending half (tokio's `watch::Sender`).
pub struct Sender<T> {
    inner: tw::Sender<Msg<T>>,
    name: Name,
}

impl<T> Sender<T> {
    /// Replaces the value and notifies the receivers, or gives it back when there are none
    /// (records `watch.send`).
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let h = release("watch.send", &self.name, Location::caller());
        self.inner.send((value, h)).map_err(|tw::error::SendError((v, _))| SendError(v))
    }

    /// Modifies the value in place and notifies the receivers, whether or not there are any.
    #[track_caller]
    pub fn send_modify<F: FnOnce(&mut T)>(&self, modify: F) {
        let location = Location::caller();
        self.inner.send_modify(|(v, h)| {
            modify(v);
            *h = release("watch.send", &self.name, location);
        });
    }

    /// Modifies the value in place, notifying the receivers only when `modify` returns true.
    #[track_caller]
    pub fn send_if_modified<F: FnOnce(&mut T) -> bool>(&self, modify: F) -> bool {
        let location = Location::caller();
        self.inner.send_if_modified(|(v, h)| {
            let modified = modify(v);
            if modified {
                *h = release("watch.send", &self.name, location);
            }
            modified
        })
    }

    /// Replaces the value, returning the old one, whether or not there are receivers.
    #[track_caller]
    pub fn send_replace(&self, value: T) -> T {
        let h = release("watch.send", &self.name, Location::caller());
        self.inner.send_replace((value, h)).0
    }

    /// The current value (the sender's own: nothing is acquired).
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref { inner: self.inner.borrow() }
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver { inner: self.inner.subscribe(), name: self.name.clone() }
    }

    /// How many receivers there are.
    pub fn receiver_count(&self) -> usize {
        self.inner.receiver_count()
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Completes when every receiver is gone.
    pub async fn closed(&self) {
        self.inner.closed().await
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The receiving half (tokio's `watch::Receiver`).
pub struct Receiver<T> {
    inner: tw::Receiver<Msg<T>>,
    name: Name,
}

impl<T> Receiver<T> {
    fn seen<'a>(&self, r: tw::Ref<'a, Msg<T>>, location: Location) -> Ref<'a, T> {
        acquire("watch.recv", &self.name, location, r.1.as_ref());
        Ref { inner: r }
    }

    /// The current value (records `watch.recv`, continuing from the send that stored it).
    #[track_caller]
    pub fn borrow(&self) -> Ref<'_, T> {
        self.seen(self.inner.borrow(), Location::caller())
    }

    /// The current value, marking it seen.
    #[track_caller]
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let location = Location::caller();
        let r = self.inner.borrow_and_update();
        acquire("watch.recv", &self.name, location, r.1.as_ref());
        Ref { inner: r }
    }

    /// Whether a value this receiver has not seen was sent.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        self.inner.has_changed()
    }

    /// Waits for a value this receiver has not seen (records `watch.recv`, continuing from its
    /// send).
    #[track_caller]
    pub fn changed(&mut self) -> impl Future<Output = Result<(), RecvError>> + '_ {
        let location = Location::caller();
        async move {
            self.inner.changed().await?;
            let r = self.inner.borrow();
            acquire("watch.recv", &self.name, location, r.1.as_ref());
            Ok(())
        }
    }

    /// Marks the current value as not seen.
    pub fn mark_changed(&mut self) {
        self.inner.mark_changed()
    }

    /// Marks the current value as seen.
    pub fn mark_unchanged(&mut self) {
        self.inner.mark_unchanged()
    }

    /// Whether both receivers watch the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver { inner: self.inner.clone(), name: self.name.clone() }
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("name", &self.name).finish_non_exhaustive()
    }
}
