//! `tokio::sync::mpsc`, tracked: each message carries its sender's position, and the receive
//! that gets it continues from there, so what a sender did before `send` is ordered before what
//! the receiver does after `recv`. Same functions, methods and error types as tokio (the errors
//! *are* tokio's, in [`error`]), so `use raceway::sync::mpsc;` is the whole switch.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use raceway::sync::mpsc;
//! let (tx, mut rx) = mpsc::channel(8);
//! raceway::spawn(async move { tx.send("job").await.unwrap() });
//! assert_eq!(rx.recv().await, Some("job"));
//! # }
//! ```
//!
//! Not mirrored: `send_timeout` (needs tokio's `time`), weak senders, `reserve_many` and owned
//! permits; use [`Sender::reserve`] for a permit.

use super::object_name;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::{acquire, release, Handoff};
use std::future::Future;
use std::task::{Context, Poll};
use tokio::sync::mpsc as tm;

use error::{SendError, TryRecvError, TrySendError};
pub use tokio::sync::mpsc::error;

type Msg<T> = (T, Option<Handoff>);

fn send_error<T>(SendError((v, _)): SendError<Msg<T>>) -> SendError<T> {
    SendError(v)
}

fn try_send_error<T>(e: TrySendError<Msg<T>>) -> TrySendError<T> {
    match e {
        TrySendError::Full((v, _)) => TrySendError::Full(v),
        TrySendError::Closed((v, _)) => TrySendError::Closed(v),
    }
}

/// A bounded channel (tokio's `channel`), its events named `mpsc#N`.
///
/// # Panics
/// Like tokio's, when `buffer` is 0.
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    bounded(None, buffer)
}

/// [`channel`] whose events carry `name` as their object.
///
/// ```
/// let (tx, _rx) = raceway::sync::mpsc::named_channel::<u8>("jobs", 4);
/// assert_eq!(tx.name(), "jobs");
/// ```
pub fn named_channel<T>(name: impl Into<Name>, buffer: usize) -> (Sender<T>, Receiver<T>) {
    bounded(Some(name.into()), buffer)
}

fn bounded<T>(name: Option<Name>, buffer: usize) -> (Sender<T>, Receiver<T>) {
    let name = object_name(name, "mpsc");
    let (tx, rx) = tm::channel(buffer);
    (Sender { inner: tx, name: name.clone() }, Receiver { inner: rx, name })
}

/// An unbounded channel (tokio's `unbounded_channel`), its events named `mpsc#N`.
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    unbounded(None)
}

/// [`unbounded_channel`] whose events carry `name` as their object.
pub fn named_unbounded_channel<T>(name: impl Into<Name>) -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    unbounded(Some(name.into()))
}

fn unbounded<T>(name: Option<Name>) -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let name = object_name(name, "mpsc");
    let (tx, rx) = tm::unbounded_channel();
    (UnboundedSender { inner: tx, name: name.clone() }, UnboundedReceiver { inner: rx, name })
}

/// The sending half of [`channel`] (tokio's `Sender`).
pub struct Sender<T> {
    inner: tm::Sender<Msg<T>>,
    name: Name,
}

impl<T> Sender<T> {
    /// Sends a value, waiting for room (records `mpsc.send` when first polled; the receive that
    /// gets the value continues from there).
    #[track_caller]
    pub fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        let location = Location::caller();
        async move {
            let h = release("mpsc.send", &self.name, location);
            self.inner.send((value, h)).await.map_err(send_error)
        }
    }

    /// Sends a value if there is room now.
    #[track_caller]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let h = release("mpsc.send", &self.name, Location::caller());
        self.inner.try_send((value, h)).map_err(try_send_error)
    }

    /// Sends a value from outside a runtime, blocking while the channel is full.
    ///
    /// # Panics
    /// Like tokio's, when called inside an asynchronous execution context.
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        let h = release("mpsc.send", &self.name, Location::caller());
        self.inner.blocking_send((value, h)).map_err(send_error)
    }

    /// Waits for room for one value and reserves it.
    #[track_caller]
    pub fn reserve(&self) -> impl Future<Output = Result<Permit<'_, T>, SendError<()>>> + '_ {
        let location = Location::caller();
        async move { self.inner.reserve().await.map(|inner| Permit { inner, name: &self.name, location }) }
    }

    /// Reserves room for one value if there is some now.
    #[track_caller]
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        let location = Location::caller();
        self.inner.try_reserve().map(|inner| Permit { inner, name: &self.name, location })
    }

    /// Completes when the receiver is gone.
    pub async fn closed(&self) {
        self.inner.closed().await
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Free slots now.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// The channel's buffer size.
    pub fn max_capacity(&self) -> usize {
        self.inner.max_capacity()
    }

    /// Whether both senders send into the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// The object name this channel's events carry (empty when instrumentation is compiled out).
    pub fn name(&self) -> &str {
        self.name.as_str()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender { inner: self.inner.clone(), name: self.name.clone() }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("name", &self.name).field("inner", &self.inner).finish()
    }
}

/// Room reserved for one value by [`Sender::reserve`].
pub struct Permit<'a, T> {
    inner: tm::Permit<'a, Msg<T>>,
    name: &'a Name,
    location: Location,
}

impl<T> Permit<'_, T> {
    /// Sends the value into the reserved slot (records `mpsc.send`).
    pub fn send(self, value: T) {
        let h = release("mpsc.send", self.name, self.location);
        self.inner.send((value, h));
    }
}

impl<T> std::fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("name", self.name).finish_non_exhaustive()
    }
}

/// The sending half of [`unbounded_channel`] (tokio's `UnboundedSender`).
pub struct UnboundedSender<T> {
    inner: tm::UnboundedSender<Msg<T>>,
    name: Name,
}

impl<T> UnboundedSender<T> {
    /// Sends a value (records `mpsc.send`).
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let h = release("mpsc.send", &self.name, Location::caller());
        self.inner.send((value, h)).map_err(send_error)
    }

    /// Completes when the receiver is gone.
    pub async fn closed(&self) {
        self.inner.closed().await
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether both senders send into the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// The object name this channel's events carry (empty when instrumentation is compiled out).
    pub fn name(&self) -> &str {
        self.name.as_str()
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        UnboundedSender { inner: self.inner.clone(), name: self.name.clone() }
    }
}

impl<T> std::fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnboundedSender").field("name", &self.name).field("inner", &self.inner).finish()
    }
}

/// The receive side, the same for both receivers.
macro_rules! receiver_methods {
    () => {
        fn got(&self, (v, h): Msg<T>, location: Location) -> T {
            acquire("mpsc.recv", &self.name, location, h.as_ref());
            v
        }

        /// Waits for the next value (records `mpsc.recv`, continuing from its send); `None` when
        /// every sender is gone. Cancel safe, like tokio's.
        #[track_caller]
        pub fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
            let location = Location::caller();
            async move {
                let m = self.inner.recv().await?;
                Some(self.got(m, location))
            }
        }

        /// Waits for values and moves up to `limit` of them into `buffer`; returns how many.
        #[track_caller]
        pub fn recv_many<'a>(&'a mut self, buffer: &'a mut Vec<T>, limit: usize) -> impl Future<Output = usize> + 'a {
            let location = Location::caller();
            async move {
                let mut got = Vec::new();
                let n = self.inner.recv_many(&mut got, limit).await;
                buffer.extend(got.into_iter().map(|m| self.got(m, location)));
                n
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
        pub fn blocking_recv(&mut self) -> Option<T> {
            let location = Location::caller();
            self.inner.blocking_recv().map(|m| self.got(m, location))
        }

        /// Polls for the next value (for hand-written futures and streams).
        #[track_caller]
        pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
            let location = Location::caller();
            self.inner.poll_recv(cx).map(|m| m.map(|m| self.got(m, location)))
        }

        /// Closes the channel to new values; those already sent can still be received.
        pub fn close(&mut self) {
            self.inner.close()
        }

        /// Whether the channel is closed.
        pub fn is_closed(&self) -> bool {
            self.inner.is_closed()
        }

        /// Whether no value is waiting.
        pub fn is_empty(&self) -> bool {
            self.inner.is_empty()
        }

        /// How many values are waiting.
        pub fn len(&self) -> usize {
            self.inner.len()
        }

        /// The object name this channel's events carry (empty when instrumentation is compiled
        /// out).
        pub fn name(&self) -> &str {
            self.name.as_str()
        }
    };
}

/// The receiving half of [`channel`] (tokio's `Receiver`).
pub struct Receiver<T> {
    inner: tm::Receiver<Msg<T>>,
    name: Name,
}

impl<T> Receiver<T> {
    receiver_methods!();

    /// Free slots now.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// The channel's buffer size.
    pub fn max_capacity(&self) -> usize {
        self.inner.max_capacity()
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("name", &self.name).field("inner", &self.inner).finish()
    }
}

/// The receiving half of [`unbounded_channel`] (tokio's `UnboundedReceiver`).
pub struct UnboundedReceiver<T> {
    inner: tm::UnboundedReceiver<Msg<T>>,
    name: Name,
}

impl<T> UnboundedReceiver<T> {
    receiver_methods!();
}

impl<T> std::fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnboundedReceiver").field("name", &self.name).field("inner", &self.inner).finish()
    }
}
