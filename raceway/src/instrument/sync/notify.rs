//! [`Notify`]: `tokio::sync::Notify` whose notifications happen before the wake-ups they cause.

use super::LazyName;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::SyncPoint;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A tracked [`tokio::sync::Notify`]: the same API. `notify_one`/`notify_waiters` release (what
/// the notifier did before is published), and a completed `notified().await` acquires.
///
/// A wake-up is ordered after *every* notification made before it completed, not only the one
/// that woke it (tokio does not say which did): a task notified twice by two tasks is ordered
/// after both. That can hide a race only between a notifier and a waiter that the second
/// notification did not in fact wake.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let ready = std::sync::Arc::new(raceway::sync::Notify::named("ready"));
/// let waiter = ready.clone();
/// let h = raceway::spawn(async move { waiter.notified().await });
/// ready.notify_one();
/// h.await.unwrap();
/// # }
/// ```
pub struct Notify {
    inner: tokio::sync::Notify,
    name: LazyName,
    sync: SyncPoint,
}

impl Notify {
    /// A new `Notify`, named `notify#N` on first use.
    pub fn new() -> Self {
        Self::const_new()
    }

    /// A new `Notify` in a `const` context (a `static`).
    pub const fn const_new() -> Self {
        Notify { inner: tokio::sync::Notify::const_new(), name: LazyName::new("notify"), sync: SyncPoint::new() }
    }

    /// A new `Notify` whose events carry `name` as their object.
    pub fn named(name: impl Into<Name>) -> Self {
        Notify {
            inner: tokio::sync::Notify::new(),
            name: LazyName::named(name.into(), "notify"),
            sync: SyncPoint::new(),
        }
    }

    /// A future that completes when notified (records `notify.notified` when it does).
    #[track_caller]
    pub fn notified(&self) -> Notified<'_> {
        Notified { inner: self.inner.notified(), notify: self, location: Location::caller() }
    }

    /// Wakes one waiter, or stores a permit for the next one (records `notify.notify_one`).
    #[track_caller]
    pub fn notify_one(&self) {
        self.sync.release("notify.notify_one", self.name.get(), Location::caller());
        self.inner.notify_one();
    }

    /// Wakes every waiter registered now (records `notify.notify_waiters`).
    #[track_caller]
    pub fn notify_waiters(&self) {
        self.sync.release("notify.notify_waiters", self.name.get(), Location::caller());
        self.inner.notify_waiters();
    }
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notify").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The future of [`Notify::notified`] (tokio's `Notified`).
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    inner: tokio::sync::futures::Notified<'a>,
    notify: &'a Notify,
    location: Location,
}

impl<'a> Notified<'a> {
    fn inner<'s>(self: Pin<&'s mut Self>) -> Pin<&'s mut tokio::sync::futures::Notified<'a>> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of a pinned `Notified`,
        // which has no `Drop` of its own and is `!Unpin` exactly when `inner` is.
        unsafe { self.map_unchecked_mut(|n| &mut n.inner) }
    }

    /// Registers as a waiter without waiting (see tokio's `Notified::enable`).
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.inner().enable()
    }
}

impl Future for Notified<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.as_mut().inner().poll(cx) {
            Poll::Ready(()) => {
                self.notify.sync.acquire("notify.notified", self.notify.name.get(), self.location);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl std::fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notified").field("notify", &self.notify.name).finish_non_exhaustive()
    }
}
