//! [`Semaphore`]: `tokio::sync::Semaphore` whose permits given back happen before permits taken.

use super::LazyName;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::instrument::handoff::SyncPoint;
use std::future::Future;
use std::sync::Arc;

pub use tokio::sync::{AcquireError, TryAcquireError};

/// A tracked [`tokio::sync::Semaphore`]: the same API. Giving permits back (`add_permits`, or a
/// permit dropped) releases; taking one acquires the join of every release so far. So a
/// semaphore used as a signal (`add_permits` by a producer, `acquire` by a consumer) orders the
/// producer before the consumer.
///
/// A permit is an *order*, not a lock's *protection*: a semaphore of one permit used as a mutex
/// orders each holder after the previous ones, so an access made outside the permit may look
/// ordered or not depending on which task got the permit first. Use a lock (`TrackedMutex`,
/// `lock!`) for mutual exclusion.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let jobs = std::sync::Arc::new(raceway::sync::Semaphore::new(0));
/// let producer = jobs.clone();
/// raceway::spawn(async move { producer.add_permits(1) }).await.unwrap();
/// let permit = jobs.acquire().await.unwrap();
/// permit.forget();
/// assert_eq!(jobs.available_permits(), 0);
/// # }
/// ```
pub struct Semaphore {
    inner: Arc<tokio::sync::Semaphore>,
    name: LazyName,
    sync: SyncPoint,
}

impl Semaphore {
    /// The most permits a semaphore can hold.
    pub const MAX_PERMITS: usize = tokio::sync::Semaphore::MAX_PERMITS;

    /// A semaphore with `permits` permits, named `semaphore#N` on first use.
    pub fn new(permits: usize) -> Self {
        Self::make(permits, LazyName::new("semaphore"))
    }

    /// A semaphore whose events carry `name` as their object.
    pub fn named(name: impl Into<Name>, permits: usize) -> Self {
        Self::make(permits, LazyName::named(name.into(), "semaphore"))
    }

    fn make(permits: usize, name: LazyName) -> Self {
        Semaphore { inner: Arc::new(tokio::sync::Semaphore::new(permits)), name, sync: SyncPoint::new() }
    }

    fn taken(&self, location: Location) {
        self.sync.acquire("semaphore.acquire", self.name.get(), location);
    }

    fn given(&self, location: Location) {
        self.sync.release("semaphore.release", self.name.get(), location);
    }

    /// Permits available now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Adds `n` permits (records `semaphore.release`).
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        self.given(Location::caller());
        self.inner.add_permits(n);
    }

    /// Removes up to `n` available permits, returning how many (nothing recorded: no handoff).
    pub fn forget_permits(&self, n: usize) -> usize {
        self.inner.forget_permits(n)
    }

    /// Waits for a permit (records `semaphore.acquire`).
    #[track_caller]
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        self.acquire_many(1)
    }

    /// Waits for `n` permits.
    #[track_caller]
    pub fn acquire_many(&self, n: u32) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        let location = Location::caller();
        async move {
            let permit = self.inner.acquire_many(n).await?;
            self.taken(location);
            Ok(SemaphorePermit { inner: Some(permit), sem: self, location })
        }
    }

    /// A permit, if one is available now.
    #[track_caller]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_at(1, Location::caller())
    }

    /// `n` permits, if available now.
    #[track_caller]
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_at(n, Location::caller())
    }

    fn try_acquire_at(&self, n: u32, location: Location) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let permit = self.inner.try_acquire_many(n)?;
        self.taken(location);
        Ok(SemaphorePermit { inner: Some(permit), sem: self, location })
    }

    /// Waits for a permit that owns a reference to the semaphore (for moving into a task).
    #[track_caller]
    pub fn acquire_owned(self: Arc<Self>) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        self.acquire_many_owned(1)
    }

    /// Waits for `n` permits that own a reference to the semaphore.
    #[track_caller]
    pub fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        let location = Location::caller();
        async move {
            let permit = self.inner.clone().acquire_many_owned(n).await?;
            self.taken(location);
            Ok(OwnedSemaphorePermit { inner: Some(permit), sem: self, location })
        }
    }

    /// An owned permit, if one is available now.
    #[track_caller]
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// `n` owned permits, if available now.
    #[track_caller]
    pub fn try_acquire_many_owned(self: Arc<Self>, n: u32) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let location = Location::caller();
        let permit = self.inner.clone().try_acquire_many_owned(n)?;
        self.taken(location);
        Ok(OwnedSemaphorePermit { inner: Some(permit), sem: self, location })
    }

    /// Closes the semaphore: waiting and later acquires fail.
    pub fn close(&self) {
        self.inner.close()
    }

    /// Whether the semaphore is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore").field("name", &self.name).field("inner", &self.inner).finish()
    }
}

/// Permits borrowed from a [`Semaphore`]; given back (and recorded as a release) when dropped.
#[must_use = "the permits are given back as soon as this is dropped"]
pub struct SemaphorePermit<'a> {
    inner: Option<tokio::sync::SemaphorePermit<'a>>,
    sem: &'a Semaphore,
    location: Location,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits taken for good (nothing is given back, nothing released).
    pub fn forget(mut self) {
        if let Some(p) = self.inner.take() {
            p.forget();
        }
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.inner.as_ref().map_or(0, |p| p.num_permits())
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.inner.take() {
            // Before the permits are back, so that the next holder sees the release.
            self.sem.given(self.location);
            drop(p);
        }
    }
}

impl std::fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemaphorePermit").field("permits", &self.num_permits()).finish_non_exhaustive()
    }
}

/// Permits owned from an `Arc<Semaphore>`; given back (and recorded) when dropped.
#[must_use = "the permits are given back as soon as this is dropped"]
pub struct OwnedSemaphorePermit {
    inner: Option<tokio::sync::OwnedSemaphorePermit>,
    sem: Arc<Semaphore>,
    location: Location,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits taken for good.
    pub fn forget(mut self) {
        if let Some(p) = self.inner.take() {
            p.forget();
        }
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.inner.as_ref().map_or(0, |p| p.num_permits())
    }

    /// The semaphore the permits are from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if let Some(p) = self.inner.take() {
            self.sem.given(self.location);
            drop(p);
        }
    }
}

impl std::fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedSemaphorePermit").field("permits", &self.num_permits()).finish_non_exhaustive()
    }
}
