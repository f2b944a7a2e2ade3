//! `tokio::sync::oneshot`, tracked: the value carries its sender's position, and the receiver
//! that gets it continues from there. Same API and error types (tokio's, in [`error`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let (tx, rx) = raceway::sync::oneshot::channel();
//! raceway::spawn(async move { tx.send(3).unwrap() });
//! assert_eq!(rx.await, Ok(3));
//! # }
//! ```

use super::object_name;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::{acquire, release, Handoff};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::oneshot as to;

use error::{RecvError, TryRecvError};
pub use tokio::sync::oneshot::error;

type Msg<T> = (T, Option<Handoff>);

/// A one-value channel (tokio's `channel`), its events named `oneshot#N`. The receiver's events
/// carry this call's location (an `.await` has none of its own).
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    make(None, Location::caller())
}

/// [`channel`] whose events carry `name` as their object.
#[track_caller]
pub fn named_channel<T>(name: impl Into<Name>) -> (Sender<T>, Receiver<T>) {
    make(Some(name.into()), Location::caller())
}

fn make<T>(name: Option<Name>, location: Location) -> (Sender<T>, Receiver<T>) {
    let name = object_name(name, "oneshot");
    let (tx, rx) = to::channel();
    (Sender { inner: tx, name: name.clone() }, Receiver { inner: rx, name, location })
}

/// The sending half (tokio's `oneshot::Sender`).
pub struct Sender<T> {
    inner: to::Sender<Msg<T>>,
    name: Name,
}

impl<T> Sender<T> {
    /// Sends the value, or gives it back when the receiver is gone (records `oneshot.send`).
    #[track_caller]
    pub fn send(self, t: T) -> Result<(), T> {
        let h = release("oneshot.send", &self.name, Location::caller());
        self.inner.send((t, h)).map_err(|(v, _)| v)
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Completes when the receiver is gone.
    pub async fn closed(&mut self) {
        self.inner.closed().await
    }

    /// Polls whether the receiver is gone.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.poll_closed(cx)
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The receiving half (tokio's `oneshot::Receiver`): a future of the value.
pub struct Receiver<T> {
    inner: to::Receiver<Msg<T>>,
    name: Name,
    location: Location,
}

impl<T> Receiver<T> {
    fn got(&self, (v, h): Msg<T>) -> T {
        acquire("oneshot.recv", &self.name, self.location, h.as_ref());
        v
    }

    /// The value, if it was sent.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv().map(|m| self.got(m))
    }

    /// Waits for the value from outside a runtime.
    ///
    /// # Panics
    /// Like tokio's, when called inside an asynchronous execution context.
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        let Receiver { inner, name, location } = self;
        inner.blocking_recv().map(|(v, h)| {
            acquire("oneshot.recv", &name, location, h.as_ref());
            v
        })
    }

    /// Stops the sender from sending; a value already sent can still be received.
    pub fn close(&mut self) {
        self.inner.close()
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx).map(|r| r.map(|m| self.got(m)))
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("name", &self.name).finish_non_exhaustive()
    }
}
