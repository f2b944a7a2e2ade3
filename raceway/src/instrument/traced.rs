//! The runtime of `#[traced]`: argument capture by autoref specialisation, the call record, and
//! [`TracedFuture`] for `async fn`s.
//!
//! Argument capture uses autoref specialisation so that annotating a function never requires
//! changing its argument types: `(&&&Arg(&x)).__raceway_value()` resolves, at the call site, to
//! the first of `Serialize` (JSON), `Debug` (its text) or neither (the type's name) that the
//! argument's type implements. In generic code the bounds in scope decide.

use super::function::FunctionGuard;
use crate::context::{with_task, TaskState};
use crate::event::compact::Small;
pub use crate::event::function::{Args, Captured, Site};
use crate::event::id::TaskId;
use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::value::{self, Value};
use crate::event::EventKind;
use crate::record::record;
use crate::stage::switch::enabled;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// A borrowed value waiting for the capture method chosen by autoref.
pub struct Arg<'a, T: ?Sized>(pub &'a T);

/// First choice: the value's `Serialize` form, as JSON.
pub trait ViaSerialize {
    /// The captured value.
    fn __raceway_value(&self) -> Value;
    /// The captured value, compact: a primitive inline (no allocation), anything else as
    /// [`__raceway_value`](ViaSerialize::__raceway_value) captures it.
    fn __raceway_small(&self) -> Captured;
}

impl<T: serde::Serialize + ?Sized> ViaSerialize for &&Arg<'_, T> {
    fn __raceway_value(&self) -> Value {
        value::capture(self.0)
    }
    #[inline]
    fn __raceway_small(&self) -> Captured {
        Captured(Small::capture(self.0))
    }
}

/// Second choice: the value's `Debug` text.
pub trait ViaDebug {
    /// The captured value.
    fn __raceway_value(&self) -> Value;
    /// The captured value, in the compact form (the same text).
    fn __raceway_small(&self) -> Captured;
}

impl<T: std::fmt::Debug + ?Sized> ViaDebug for &Arg<'_, T> {
    fn __raceway_value(&self) -> Value {
        value::from_debug(self.0)
    }
    fn __raceway_small(&self) -> Captured {
        Captured::from_value(value::from_debug(self.0))
    }
}

/// Last resort: the value's type name.
pub trait ViaTypeName {
    /// The captured value.
    fn __raceway_value(&self) -> Value;
    /// The captured value, in the compact form (the same placeholder).
    fn __raceway_small(&self) -> Captured;
}

impl<T: ?Sized> ViaTypeName for Arg<'_, T> {
    fn __raceway_value(&self) -> Value {
        value::from_type_name(std::any::type_name::<T>())
    }
    fn __raceway_small(&self) -> Captured {
        Captured::from_value(value::from_type_name(std::any::type_name::<T>()))
    }
}

/// A value that can only be named by its type (opaque `impl Trait` return values).
pub fn type_name_of<T: ?Sized>(_: &T) -> Value {
    value::from_type_name(std::any::type_name::<T>())
}

/// The `args` of a `FunctionCall`, from `(field, value)` pairs in declaration order, compact
/// (expanded on the delivery thread into the object the full path records: `event/function.rs`).
#[inline]
pub fn args<const N: usize>(fields: [(&'static str, Captured); N]) -> Args {
    Args::new(fields)
}

/// A function call about to be recorded: what `#[traced]` knows at compile time plus the captured
/// arguments. Built only when [`enabled`] is true.
pub struct Call {
    site: &'static Site,
    args: Args,
}

impl Call {
    /// Captures the arguments (unless `Config::capture_args` is off) and describes the call.
    #[inline]
    pub fn new(site: &'static Site, args: impl FnOnce() -> Args) -> Self {
        let args = if crate::config::capture_args() { args() } else { Args::null() };
        Call { site, args }
    }

    /// The call when the SDK is recording, else `None` (nothing captured).
    #[inline]
    pub fn if_enabled(site: &'static Site, args: impl FnOnce() -> Args) -> Option<Self> {
        enabled().then(|| Self::new(site, args))
    }

    /// Records the `FunctionCall` on the running task; the guard records the end.
    #[inline]
    pub fn enter(self) -> FunctionGuard {
        let Call { site, args } = self;
        FunctionGuard::enter_site(
            site,
            #[inline(always)]
            move || args,
        )
    }
}

/// Entry of a synchronous `#[traced]` function: records the call now, the end when the guard drops.
#[inline]
pub fn enter(site: &'static Site, args: impl FnOnce() -> Args) -> FunctionGuard {
    // `enter_site` checks that recording is on. The arguments are captured inside the event's
    // slot: the closure holds only references.
    FunctionGuard::enter_site(
        site,
        #[inline(always)]
        move || if crate::config::capture_args() { args() } else { Args::null() },
    )
}

/// Runs the body of a `#[traced(ret/err)]` function. Taking an `FnOnce` makes the closure
/// `FnOnce`, so a body may return borrows of what it captured (`&mut self.field`), which an
/// immediately called `FnMut` closure could not.
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// Records an `Error` event for an `Err` returned by a `#[traced(err)]` function: the error's
/// type, its `Display`, and the function's location as the stack.
pub fn record_error<E: std::fmt::Display + ?Sized>(error: &E, location: Location) {
    if !enabled() {
        return;
    }
    let message = value::truncate_str(&error.to_string(), crate::config::max_value_bytes());
    record(
        EventKind::Error {
            error_type: Name::from_static(std::any::type_name::<E>()),
            message,
            stack_trace: vec![location.to_string()],
        },
        None,
    );
}

/// What a `#[traced]` future does with its output before the end is recorded (`ret`, `err`).
pub type OnReturn<T> = fn(&T, &mut FunctionGuard);

/// Does nothing with the output (no `ret`, no `err`).
pub fn ignore_return<T>(_: &T, _: &mut FunctionGuard) {}

/// Wraps the future of an `async fn` (or an `async move` block returned by a `#[traced]`
/// function): the whole future is the call.
#[inline]
pub fn traced<F: Future>(call: Option<Call>, future: F, on_return: OnReturn<F::Output>) -> TracedFuture<F> {
    TracedFuture { inner: future, call, guard: None, own: None, entered: None, on_return }
}

/// The future of a `#[traced]` async function.
///
/// At its first poll it records the `FunctionCall` on the running task; when no task is running
/// (a future polled by a bare executor), it starts a new trace and runs as that trace's task for
/// its whole life, so its events never land in a worker thread's shared identity. The end is
/// recorded when the inner future completes, when a poll panics, or when the future is dropped
/// early (cancelled) while its task is running.
#[must_use = "futures do nothing unless polled"]
pub struct TracedFuture<F: Future> {
    inner: F,
    call: Option<Call>,
    guard: Option<FunctionGuard>,
    /// The task this future started because nothing was running at its first poll.
    own: Option<TaskState>,
    /// The task the call was recorded on.
    entered: Option<TaskId>,
    on_return: OnReturn<F::Output>,
}

/// Records that this poll of `function`'s future returned `Pending` holding the blocking guards
/// taken since the thread held `depth` of them (the acquire in this body, or in a helper it
/// called, and the await inside it).
#[cfg(raceway_on)]
#[cold]
fn held_across_await(depth: usize, function: Option<&FunctionGuard>) {
    let Some((name, location)) = function.and_then(FunctionGuard::site) else { return };
    for b in crate::instrument::locks::blocking::unreported_since(depth) {
        crate::record::record(
            EventKind::LockHeldAcrossAwait {
                lock_id: b.lock_id,
                lock_type: b.kind,
                acquired_at: b.acquired_at,
                function_name: name.clone(),
                location,
            },
            None,
        );
    }
}

/// Records the function's end when a poll unwinds, while the task is still installed.
struct EndOnUnwind<'a>(&'a mut Option<FunctionGuard>);

impl Drop for EndOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            drop(self.0.take());
        }
    }
}

impl<F: Future> Future for TracedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self` and is dropped
        // in place. The other fields are not pinned and are only accessed by `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        if let Some(call) = this.call.take() {
            if enabled() && crate::context::Context::current_task().is_none() {
                this.own = Some(TaskState::root());
            }
            with_task(&mut this.own, || {
                this.guard = Some(call.enter());
                this.entered = crate::context::Context::current_task();
            });
        }
        let guard = &mut this.guard;
        let on_return = this.on_return;
        with_task(&mut this.own, move || {
            let end = EndOnUnwind(guard);
            #[cfg(raceway_on)]
            let blocking = crate::instrument::locks::blocking::depth();
            let out = inner.poll(cx);
            match &out {
                Poll::Ready(out) => {
                    if let Some(mut g) = end.0.take() {
                        on_return(out, &mut g);
                    }
                }
                #[cfg(raceway_on)]
                Poll::Pending => {
                    if crate::instrument::locks::blocking::depth() > blocking {
                        held_across_await(blocking, end.0.as_ref());
                    }
                }
                #[cfg(not(raceway_on))]
                Poll::Pending => {}
            }
            out
        })
    }
}

impl<F: Future> Drop for TracedFuture<F> {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else { return };
        if self.own.is_some() {
            with_task(&mut self.own, move || drop(guard));
        } else if crate::context::Context::current_task() == self.entered {
            drop(guard);
        } else {
            // Dropped outside its task (e.g. an aborted task): recording here would attach the end
            // to an unrelated task. The guard of a macro holds no heap data, so forgetting it
            // leaks nothing.
            std::mem::forget(guard);
        }
    }
}
