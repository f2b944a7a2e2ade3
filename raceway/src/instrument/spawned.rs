//! The runtime of the spawns and joins that `#[traced]` rewrites in the bodies it instruments, so
//! that plain `tokio::spawn(..)`, `thread::spawn(..)`, `set.spawn(..)`, `s.spawn(..)`,
//! `handle.await` and `handle.join()` are ordered without the user changing them.
//!
//! # Dispatch by the argument's type
//!
//! The macro sees tokens, not types, so it rewrites by shape and lets the types decide at the call
//! site, by autoref specialisation (as the argument capture of `#[traced]` does). A spawn argument
//! `x` becomes
//!
//! ```text
//! match x { v => (&&&&SpawnArg(&v)).__raceway_spawn_kind().wrap(v) }
//! ```
//!
//! and the first of these that `v`'s type satisfies picks what `wrap` does: a boxed or pinned
//! value, or a future that is already a task ([`Instrumented`], [`Forked`]), is kept as it is (a
//! user's own `spawn` often takes exactly `Box<dyn FnOnce()>` or `Pin<Box<dyn Future>>`, and
//! changing the type would stop it compiling); a `Future` becomes a [`Child`] task; an
//! `FnOnce() -> R` a closure running as a child task; anything else is kept.
//!
//! The trait method only returns a *tag* (a zero-sized type without lifetimes) and the tag's
//! inherent `wrap` takes the value. A trait method returning the wrapped closure itself would
//! return an `impl FnOnce` that captures the borrow of `v`, which is not `'static`, and
//! `tokio::spawn` would refuse it. The `match` keeps the argument's temporaries alive exactly as
//! long as before, and everything the dispatch borrows is dropped at the end of its arm, so no
//! new value lives across an `.await` (which could make the caller's future `!Send`).
//!
//! # Joins through the executors' own handles
//!
//! The handles stay tokio's and std's own types (code that stores a `tokio::task::JoinHandle<T>`
//! keeps compiling), so a child cannot hand its end to its handle. Instead it registers where it
//! will end (its [`EndSlot`]) under its tokio task id (`tokio::task::try_id()` at its first
//! poll, also for `spawn_blocking` closures) or, for a thread, its `ThreadId`; the join site
//! looks the slot up through `JoinHandle::id()` / `handle.thread().id()` once the handle
//! reports the child finished, and records the join. A lookup that finds nothing records nothing:
//! a missing edge at worst, never a wrong one.
//!
//! The registry is bounded ([`CAPACITY`] children): a detached child is never joined. When it is
//! full, the oldest child that has already finished is forgotten first (a finished child that
//! nobody joined yet is the likeliest to be detached), else the oldest one; each is counted in
//! `Stats::forgotten_children`. Tokio task ids and thread ids are never reused within a process,
//! so a key names one child.

use super::task::{fork_state, record_join, Forked};
use crate::context::{run_as_task, EndSlot, Instrumented};
use crate::event::id::TaskId;
use crate::event::location::Location;
use crate::stage::stats::FORGOTTEN_CHILDREN;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Poll;

/// How many spawned children wait at most for their join to be recorded.
pub const CAPACITY: usize = 4096;

// ---- spawn arguments -------------------------------------------------------------------------

/// A spawn argument waiting for the wrapping chosen by autoref.
pub struct SpawnArg<'a, T>(pub &'a T);

/// First choice: boxed or pinned values and futures that already are tasks stay as they are.
pub trait SpawnKeep {
    /// The tag that wraps the argument.
    fn __raceway_spawn_kind(&self) -> KeepTag;
}

impl<T: ?Sized> SpawnKeep for &&&SpawnArg<'_, Box<T>> {
    fn __raceway_spawn_kind(&self) -> KeepTag {
        KeepTag
    }
}

impl<P> SpawnKeep for &&&SpawnArg<'_, Pin<P>> {
    fn __raceway_spawn_kind(&self) -> KeepTag {
        KeepTag
    }
}

impl<F> SpawnKeep for &&&SpawnArg<'_, Instrumented<F>> {
    fn __raceway_spawn_kind(&self) -> KeepTag {
        KeepTag
    }
}

impl<F> SpawnKeep for &&&SpawnArg<'_, Forked<F>> {
    fn __raceway_spawn_kind(&self) -> KeepTag {
        KeepTag
    }
}

/// Second choice: a future becomes a child task.
pub trait SpawnFuture {
    /// The tag that wraps the argument.
    fn __raceway_spawn_kind(&self) -> FutureTag;
}

impl<F: Future> SpawnFuture for &&SpawnArg<'_, F> {
    fn __raceway_spawn_kind(&self) -> FutureTag {
        FutureTag
    }
}

/// Third choice: a closure runs as a child task.
pub trait SpawnFn {
    /// The tag that wraps the argument.
    fn __raceway_spawn_kind(&self) -> FnTag;
}

impl<F: FnOnce() -> R, R> SpawnFn for &SpawnArg<'_, F> {
    fn __raceway_spawn_kind(&self) -> FnTag {
        FnTag
    }
}

/// Last resort: anything else stays as it is.
pub trait SpawnPlain {
    /// The tag that wraps the argument.
    fn __raceway_spawn_kind(&self) -> KeepTag;
}

impl<T> SpawnPlain for SpawnArg<'_, T> {
    fn __raceway_spawn_kind(&self) -> KeepTag {
        KeepTag
    }
}

/// Leaves the value as it is.
pub struct KeepTag;

impl KeepTag {
    /// `value`, unchanged.
    #[inline(always)]
    pub fn wrap<T>(self, value: T) -> T {
        value
    }
}

/// Makes a future a child task of the running task.
pub struct FutureTag;

impl FutureTag {
    /// Records `AsyncSpawn` now and returns the child task's future.
    #[track_caller]
    pub fn wrap<F: Future>(self, future: F) -> Child<F> {
        match fork_state(Location::caller(), None) {
            Some((state, end)) => {
                let pending = Some((state.task, end.clone()));
                Child { inner: ChildInner::On(Instrumented::new(future, state, Some(end))), pending, key: None }
            }
            None => Child { inner: ChildInner::Off(future), pending: None, key: None },
        }
    }
}

/// Makes a closure run as a child task of the running task.
pub struct FnTag;

impl FnTag {
    /// Records `AsyncSpawn` now and returns a closure that runs `f` as the child task, wherever it
    /// is called (a new thread, a scoped thread, tokio's blocking pool).
    #[track_caller]
    pub fn wrap<F: FnOnce() -> R, R>(self, f: F) -> impl FnOnce() -> R {
        let forked = fork_state(Location::caller(), None);
        move || match forked {
            // `raceway::thread::spawn` already runs this closure as a task of its own.
            Some(_) if take_adopted() => f(),
            Some((state, end)) => {
                let key = closure_key();
                register(key, state.task, end.clone());
                let _finished = MarkFinished(Some(key));
                run_as_task(state, Some(end), f)
            }
            None => f(),
        }
    }
}

/// The future of a child task: the user's future run as its own logical task, registered for its
/// join under its tokio task id at its first poll.
#[must_use = "futures do nothing unless polled"]
pub struct Child<F> {
    inner: ChildInner<F>,
    /// The child's identity and end slot, until the first poll registers them.
    pending: Option<(TaskId, Arc<EndSlot>)>,
    /// Where it was registered, until it finishes.
    key: Option<Key>,
}

enum ChildInner<F> {
    On(Instrumented<F>),
    Off(F),
}

impl<F: Future> Future for Child<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self` and is dropped
        // in place. The other fields are not pinned and are only accessed by `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        if let Some((child, end)) = this.pending.take() {
            // Registered only from inside its task: then the id is the one `JoinHandle::id()`
            // gives. Polled any other way, it cannot be joined through a handle.
            this.key = task_key();
            if let Some(key) = this.key {
                register(key, child, end);
            }
        }
        let out = match &mut this.inner {
            ChildInner::On(f) => unsafe { Pin::new_unchecked(f) }.poll(cx),
            ChildInner::Off(f) => unsafe { Pin::new_unchecked(f) }.poll(cx),
        };
        if out.is_ready() {
            drop(MarkFinished(this.key.take()));
        }
        out
    }
}

impl<F> Drop for Child<F> {
    fn drop(&mut self) {
        drop(MarkFinished(self.key.take()));
    }
}

// ---- joins -----------------------------------------------------------------------------------

/// An awaited value waiting for the wrapping chosen by autoref.
pub struct AwaitArg<'a, T>(pub &'a T);

/// First choice: a tokio `JoinHandle` records the join when it completes.
pub trait AwaitJoin {
    /// The tag that wraps the awaited value.
    fn __raceway_await_kind(&self) -> JoinTag;
}

#[cfg(raceway_tokio)]
impl<T> AwaitJoin for &AwaitArg<'_, tokio::task::JoinHandle<T>> {
    fn __raceway_await_kind(&self) -> JoinTag {
        JoinTag
    }
}

/// Otherwise the awaited value is kept as it is.
pub trait AwaitPlain {
    /// The tag that wraps the awaited value.
    fn __raceway_await_kind(&self) -> KeepTag;
}

impl<T> AwaitPlain for AwaitArg<'_, T> {
    fn __raceway_await_kind(&self) -> KeepTag {
        KeepTag
    }
}

/// Makes a tokio `JoinHandle` record the join.
pub struct JoinTag;

#[cfg(raceway_tokio)]
impl JoinTag {
    /// The handle, recording the join (where this is called) when it completes.
    #[track_caller]
    pub fn wrap<T>(self, handle: tokio::task::JoinHandle<T>) -> Joined<T> {
        Joined { handle, location: Location::caller() }
    }
}

/// A tokio `JoinHandle` being awaited: same output, and the join is recorded when it is ready.
#[cfg(raceway_tokio)]
#[must_use = "futures do nothing unless polled"]
pub struct Joined<T> {
    handle: tokio::task::JoinHandle<T>,
    location: Location,
}

#[cfg(raceway_tokio)]
impl<T> Future for Joined<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let out = Pin::new(&mut self.handle).poll(cx);
        if out.is_ready() {
            joined(Key::Task(self.handle.id()), self.location);
        }
        out
    }
}

/// The receiver of a `.join()` waiting for the key chosen by autoref.
pub struct JoinArg<'a, T: ?Sized>(pub &'a T);

/// First choice: a std thread's handle names the child by its thread.
pub trait JoinThread {
    /// Whose join `.join()` completes, if it is a thread's.
    fn __raceway_join_key(&self) -> JoinKey;
}

impl<T> JoinThread for &&JoinArg<'_, std::thread::JoinHandle<T>> {
    fn __raceway_join_key(&self) -> JoinKey {
        JoinKey(Some(Key::Thread(self.0.thread().id())))
    }
}

impl<T> JoinThread for &&JoinArg<'_, std::thread::ScopedJoinHandle<'_, T>> {
    fn __raceway_join_key(&self) -> JoinKey {
        JoinKey(Some(Key::Thread(self.0.thread().id())))
    }
}

/// Otherwise (a user's own `join()`) nothing is recorded.
pub trait JoinPlain {
    /// Whose join `.join()` completes: nobody's.
    fn __raceway_join_key(&self) -> JoinKey;
}

impl<T: ?Sized> JoinPlain for &JoinArg<'_, T> {
    fn __raceway_join_key(&self) -> JoinKey {
        JoinKey(None)
    }
}

/// The child a `.join()` waits for, taken before the call (the handle is consumed by it).
pub struct JoinKey(Option<Key>);

/// Records the join of `key`'s child (if it is known) after `result`, the value of the `.join()`
/// call, has been computed, and returns `result`.
#[track_caller]
#[inline]
pub fn join_after<R>(key: JoinKey, result: R) -> R {
    if let Some(key) = key.0 {
        joined(key, Location::caller());
    }
    result
}

// ---- the registry ----------------------------------------------------------------------------

/// The name a child is registered under: what its handle can tell.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Key {
    #[cfg(raceway_tokio)]
    Task(tokio::task::Id),
    Thread(std::thread::ThreadId),
}

/// The running tokio task, if any.
fn task_key() -> Option<Key> {
    #[cfg(raceway_tokio)]
    if let Some(id) = tokio::task::try_id() {
        return Some(Key::Task(id));
    }
    None
}

/// A closure child: its tokio task (`spawn_blocking`) or its thread (a std thread, scoped or not).
fn closure_key() -> Key {
    task_key().unwrap_or_else(|| Key::Thread(std::thread::current().id()))
}

struct Entry {
    seq: u64,
    child: TaskId,
    end: Arc<EndSlot>,
}

#[derive(Default)]
struct Registry {
    entries: HashMap<Key, Entry>,
    /// Every entry by registration order.
    by_age: BTreeMap<u64, Key>,
    /// The entries whose child has finished, by registration order: forgotten first.
    finished: BTreeMap<u64, Key>,
    next: u64,
}

impl Registry {
    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.by_age.remove(&entry.seq);
        self.finished.remove(&entry.seq);
        Some(entry)
    }

    fn forget_one(&mut self) {
        let victim = match self.finished.first_key_value() {
            Some((_, key)) => *key,
            None => match self.by_age.first_key_value() {
                Some((_, key)) => *key,
                None => return,
            },
        };
        self.remove(&victim);
        FORGOTTEN_CHILDREN.fetch_add(1, Ordering::Relaxed);
    }
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    // A panic elsewhere while holding the lock leaves consistent maps: every update is complete.
    REGISTRY.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner())
}

fn register(key: Key, child: TaskId, end: Arc<EndSlot>) {
    let mut r = registry();
    r.remove(&key);
    while r.entries.len() >= CAPACITY {
        r.forget_one();
    }
    let seq = r.next;
    r.next += 1;
    r.by_age.insert(seq, key);
    r.entries.insert(key, Entry { seq, child, end });
}

/// Marks a registered child finished when dropped (also when the child unwinds).
struct MarkFinished(Option<Key>);

impl Drop for MarkFinished {
    fn drop(&mut self) {
        let Some(key) = self.0 else { return };
        let mut r = registry();
        if let Some(seq) = r.entries.get(&key).map(|e| e.seq) {
            r.finished.insert(seq, key);
        }
    }
}

/// Records, on the running task, the join of the child registered under `key`, if any.
fn joined(key: Key, location: Location) {
    let entry = registry().remove(&key);
    if let Some(Entry { child, end, .. }) = entry {
        record_join(child, &end, location);
    }
}

/// How many children are registered (for tests).
pub fn registered_children() -> usize {
    registry().entries.len()
}

// ---- closures `raceway::thread::spawn` already runs as a task -------------------------------

thread_local! {
    static ADOPTED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (the closure given to `raceway::thread::spawn`, on its new thread) marked as already
/// running as a task, so that a closure `#[traced]` wrapped does not start a second one: the
/// join of `raceway::thread::JoinHandle` is the one that must see its events.
pub(super) fn adopted<R>(f: impl FnOnce() -> R) -> R {
    struct Unmark;
    impl Drop for Unmark {
        fn drop(&mut self) {
            let _ = ADOPTED.try_with(|a| a.set(false));
        }
    }
    let _ = ADOPTED.try_with(|a| a.set(true));
    let _unmark = Unmark;
    f()
}

/// Whether the closure starting now is the one `adopted` runs (clears the mark).
fn take_adopted() -> bool {
    ADOPTED.try_with(|a| a.replace(false)).unwrap_or(false)
}
