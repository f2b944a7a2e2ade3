//! `tokio::sync::broadcast`, tracked: each value carries its sender's position, and every
//! receiver that gets it continues from there. Same API and error types (tokio's, in [`error`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let (tx, mut rx1) = raceway::sync::broadcast::channel(4);
//! let mut rx2 = tx.subscribe();
//! tx.send("deploy").unwrap();
//! assert_eq!(rx1.recv().await, Ok("deploy"));
//! assert_eq!(rx2.recv().await, Ok("deploy"));
//! # }
//! ```

use super::object_name;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::{acquire, release, Handoff};
use std::future::Future;
use tokio::sync::broadcast as tb;

use error::{RecvError, SendError, TryRecvError};
pub use tokio::sync::broadcast::error;

type Msg<T> = (T, Option<Handoff>);

/// A broadcast channel of `capacity` values (tokio's `channel`), its events named `broadcast#N`.
///
/// # Panics
/// Like tokio's, when `capacity` is 0 or too large.
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    make(None, capacity)
}

/// [`channel`] whose events carry `name` as their object.
pub fn named_channel<T: Clone>(name: impl Into<Name>, capacity: usize) -> (Sender<T>, Receiver<T>) {
    make(Some(name.into()), capacity)
}

fn make<T: Clone>(name: Option<Name>, capacity: usize) -> (Sender<T>, Receiver<T>) {
    let name = object_name(name, "broadcast");
    let (tx, rx) = tb::channel(capacity);
    (Sender { inner: tx, name: name.clone() }, Receiver { inner: rx, name })
}

/// The sending half (tokio's `broadcast::Sender`).
pub struct Sender<T> {
    inner: tb::Sender<Msg<T>>,
    name: Name,
}

impl<T> Sender<T> {
    /// Sends a value to every receiver (records `broadcast.send`); returns how many there are.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let h = release("broadcast.send", &self.name, Location::caller());
        self.inner.send((value, h)).map_err(|tb::error::SendError((v, _))| SendError(v))
    }

    /// A new receiver of the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver { inner: self.inner.subscribe(), name: self.name.clone() }
    }

    /// How many receivers there are.
    pub fn receiver_count(&self) -> usize {
        self.inner.receiver_count()
    }

    /// How many values the slowest receiver has not yet received.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether every receiver has received every value.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Whether both senders send into the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// Completes when every receiver is gone.
    pub async fn closed(&self) {
        self.inner.closed().await
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender { inner: self.inner.clone(), name: self.name.clone() }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The receiving half (tokio's `broadcast::Receiver`).
pub struct Receiver<T> {
    inner: tb::Receiver<Msg<T>>,
    name: Name,
}

impl<T: Clone> Receiver<T> {
    fn got(&self, (v, h): Msg<T>, location: Location) -> T {
        acquire("broadcast.recv", &self.name, location, h.as_ref());
        v
    }

    /// Waits for the next value (records `broadcast.recv`, continuing from its send).
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Result<T, RecvError>> + '_ {
        let location = Location::caller();
        async move {
            let m = self.inner.recv().await?;
            Ok(self.got(m, location))
        }
    }

    /// The next value, if one is waiting.
    #[track_caller]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let location = Location::caller();
        self.inner.try_recv().map(|m| self.got(m, location))
    }

    /// Waits for the next value from outside a runtime.
    ///
    /// # Panics
    /// Like tokio's, when called inside an asynchronous execution context.
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Result<T, RecvError> {
        let location = Location::caller();
        self.inner.blocking_recv().map(|m| self.got(m, location))
    }

    /// A new receiver of the values sent from now on.
    pub fn resubscribe(&self) -> Self {
        Receiver { inner: self.inner.resubscribe(), name: self.name.clone() }
    }
}

impl<T> Receiver<T> {
    /// How many values this receiver has not yet received.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether this receiver has received every value.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Whether both receivers receive from the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("name", &self.name).finish_non_exhaustive()
    }
}
