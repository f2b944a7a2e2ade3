//! `std::sync::mpsc`, tracked: each message carries its sender's position, and the receive that
//! gets it continues from there, so what the sender did before `send` is ordered before what the
//! receiver does after `recv`. Same functions, types and error types as std (the errors *are*
//! std's), so `use raceway::sync::std_mpsc as mpsc;` is the whole switch.
//!
//! ```
//! use raceway::sync::std_mpsc::channel;
//! let (tx, rx) = channel();
//! let h = raceway::thread::spawn(move || tx.send(42).unwrap());
//! assert_eq!(rx.recv(), Ok(42));
//! h.join().unwrap();
//! ```

use super::object_name;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::{acquire, release, Handoff};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

type Msg<T> = (T, Option<Handoff>);

/// An unbounded channel (std's `channel`), its events named `mpsc#N`.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    named_channel_inner(None)
}

/// [`channel`] whose events carry `name` as their object.
pub fn named_channel<T>(name: impl Into<Name>) -> (Sender<T>, Receiver<T>) {
    named_channel_inner(Some(name.into()))
}

fn named_channel_inner<T>(name: Option<Name>) -> (Sender<T>, Receiver<T>) {
    let name = object_name(name, "mpsc");
    let (tx, rx) = std_mpsc::channel();
    (Sender { inner: tx, name: name.clone() }, Receiver { inner: rx, name })
}

/// A bounded channel (std's `sync_channel`), its events named `mpsc#N`.
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    named_sync_channel_inner(None, bound)
}

/// [`sync_channel`] whose events carry `name` as their object.
pub fn named_sync_channel<T>(name: impl Into<Name>, bound: usize) -> (SyncSender<T>, Receiver<T>) {
    named_sync_channel_inner(Some(name.into()), bound)
}

fn named_sync_channel_inner<T>(name: Option<Name>, bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let name = object_name(name, "mpsc");
    let (tx, rx) = std_mpsc::sync_channel(bound);
    (SyncSender { inner: tx, name: name.clone() }, Receiver { inner: rx, name })
}

fn unwrap_send<T>(r: Result<(), SendError<Msg<T>>>) -> Result<(), SendError<T>> {
    r.map_err(|SendError((v, _))| SendError(v))
}

/// The sending half of [`channel`] (std's `Sender`).
pub struct Sender<T> {
    inner: std_mpsc::Sender<Msg<T>>,
    name: Name,
}

impl<T> Sender<T> {
    /// Sends a value (records `mpsc.send`; the receive that gets it continues from here).
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        let h = release("mpsc.send", &self.name, Location::caller());
        unwrap_send(self.inner.send((t, h)))
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

/// The sending half of [`sync_channel`] (std's `SyncSender`).
pub struct SyncSender<T> {
    inner: std_mpsc::SyncSender<Msg<T>>,
    name: Name,
}

impl<T> SyncSender<T> {
    /// Sends a value, blocking while the channel is full.
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        let h = release("mpsc.send", &self.name, Location::caller());
        unwrap_send(self.inner.send((t, h)))
    }

    /// Sends a value if there is room.
    #[track_caller]
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        let h = release("mpsc.send", &self.name, Location::caller());
        self.inner.try_send((t, h)).map_err(|e| match e {
            TrySendError::Full((v, _)) => TrySendError::Full(v),
            TrySendError::Disconnected((v, _)) => TrySendError::Disconnected(v),
        })
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender { inner: self.inner.clone(), name: self.name.clone() }
    }
}

impl<T> std::fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncSender").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The receiving half of [`channel`] and [`sync_channel`] (std's `Receiver`).
pub struct Receiver<T> {
    inner: std_mpsc::Receiver<Msg<T>>,
    name: Name,
}

impl<T> Receiver<T> {
    fn got(&self, (v, h): Msg<T>, location: Location) -> T {
        acquire("mpsc.recv", &self.name, location, h.as_ref());
        v
    }

    /// Waits for a value (records `mpsc.recv`, continuing from its send).
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        let location = Location::caller();
        self.inner.recv().map(|m| self.got(m, location))
    }

    /// A value, if one is waiting.
    #[track_caller]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let location = Location::caller();
        self.inner.try_recv().map(|m| self.got(m, location))
    }

    /// Waits at most `timeout` for a value.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let location = Location::caller();
        self.inner.recv_timeout(timeout).map(|m| self.got(m, location))
    }

    /// An iterator that waits for values until every sender is gone.
    #[track_caller]
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self, location: Location::caller() }
    }

    /// An iterator over the values waiting now.
    #[track_caller]
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self, location: Location::caller() }
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("name", &self.name).finish_non_exhaustive()
    }
}

/// See [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
    location: Location,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.inner.recv().ok().map(|m| self.rx.got(m, self.location))
    }
}

/// See [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
    location: Location,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.inner.try_recv().ok().map(|m| self.rx.got(m, self.location))
    }
}

/// The iterator of a `Receiver` used in a `for` loop.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
    location: Location,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.inner.recv().ok().map(|m| self.rx.got(m, self.location))
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    #[track_caller]
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self, location: Location::caller() }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    #[track_caller]
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
