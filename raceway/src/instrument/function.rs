//! Function calls: [`FunctionGuard`] (the runtime of `#[traced]`), [`start_function`],
//! [`track_function`], [`track_function_async`] and [`track_function_call`].

use crate::event::compact::Small;
use crate::event::function::{Args, Captured, FnCall, FnExit, Site};
use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::value::{capture, null, Value};
use crate::event::EventKind;
use crate::record::{record, Lazy};
use crate::stage::switch::enabled;
use serde::Serialize;

/// Records a function call without a duration (Go: `TrackFunctionCall`).
///
/// ```
/// raceway::track_function_call("process_payment", &serde_json::json!({"user_id": 123}));
/// ```
#[track_caller]
pub fn track_function_call<A: Serialize + ?Sized>(function_name: impl Into<Name>, args: &A) {
    if !enabled() {
        return;
    }
    let location = Location::caller();
    let args = if crate::config::capture_args() { capture(args) } else { null() };
    record(
        EventKind::FunctionCall { function_name: function_name.into(), module: location.file, args, location },
        None,
    );
}

/// Records a function call now and its end, with the duration, when dropped
/// (Go: `defer client.StartFunction(...)()`). An unwinding drop is recorded as `panicked`.
///
/// ```
/// fn transfer(amount: u64) {
///     let _f = raceway::start_function("transfer", &amount);
///     // ... the function's work ...
/// }
/// transfer(5);
/// ```
#[track_caller]
pub fn start_function<A: Serialize + ?Sized>(function_name: impl Into<Name>, args: &A) -> FunctionGuard {
    let location = Location::caller();
    if !enabled() {
        return FunctionGuard { inner: None };
    }
    let name = function_name.into();
    let args = if crate::config::capture_args() { capture(args) } else { null() };
    FunctionGuard::enter(name, location.file, location, args)
}

/// Ends a function's span when dropped. See [`start_function`].
#[must_use = "the function's end is recorded when the guard is dropped"]
pub struct FunctionGuard {
    inner: Option<GuardInner>,
}

struct GuardInner {
    origin: Origin,
    /// Timestamp of the call event (nanoseconds since the Unix epoch).
    start: u64,
    ret: Small,
}

/// Which function the guard ends.
enum Origin {
    /// A `#[traced]` function: its events are staged compact (`event/function.rs`).
    Site(&'static Site),
    /// A function named at run time (`start_function`, a `tracing` span): full events.
    Named { name: Name, module: &'static str, location: Location },
}

impl FunctionGuard {
    /// The function's name and location, while the call is being recorded.
    pub(crate) fn site(&self) -> Option<(Name, Location)> {
        self.inner.as_ref().map(|i| match &i.origin {
            Origin::Site(site) => (site.name(), site.location()),
            Origin::Named { name, location, .. } => (name.clone(), *location),
        })
    }

    /// Records the `FunctionCall` and returns the guard that records the end (used by the macros).
    #[doc(hidden)]
    pub fn enter(name: Name, module: &'static str, location: Location, args: Value) -> Self {
        if !enabled() {
            return FunctionGuard { inner: None };
        }
        // The call's own timestamp starts the duration: no separate clock reads.
        let start = crate::record::record_timed(EventKind::FunctionCall {
            function_name: name.clone(),
            module,
            args,
            location,
        });
        let origin = Origin::Named { name, module, location };
        FunctionGuard { inner: Some(GuardInner { origin, start, ret: Small::Null }) }
    }

    /// Records the call of a `#[traced]` function, staged compact, and returns the guard that
    /// records the end the same way. `args` runs once the event's slot is open (see
    /// `instrument/track.rs::access_at` for why), and only when recording.
    #[inline]
    pub(crate) fn enter_site(site: &'static Site, args: impl FnOnce() -> Args) -> Self {
        if !enabled() {
            return FunctionGuard { inner: None };
        }
        let start = crate::record::record_timed(Lazy(
            #[inline(always)]
            move || FnCall { site, args: args() },
        ));
        FunctionGuard { inner: Some(GuardInner { origin: Origin::Site(site), start, ret: Small::Null }) }
    }

    /// A guard that records nothing.
    #[doc(hidden)]
    pub const fn disabled() -> Self {
        FunctionGuard { inner: None }
    }

    /// Attaches the return value to the end event.
    pub fn ret<T: Serialize + ?Sized>(&mut self, value: &T) {
        if let Some(i) = &mut self.inner {
            i.ret = Small::capture(value);
        }
    }

    /// Attaches an already captured return value (used by the macros).
    #[doc(hidden)]
    pub fn set_ret(&mut self, value: Value) {
        if let Some(i) = &mut self.inner {
            i.ret = Small::from_value(value);
        }
    }

    /// Attaches a return value captured by the macros' autoref chain (`__raceway_small()`).
    #[doc(hidden)]
    pub fn set_ret_captured(&mut self, value: Captured) {
        if let Some(i) = &mut self.inner {
            i.ret = value.0;
        }
    }
}

impl Drop for FunctionGuard {
    fn drop(&mut self) {
        let panicked = std::thread::panicking();
        // A `#[traced]` function's guard is read field by field, in place: it was written a few
        // instructions ago when the function is short, and copying it out whole (`take`) reads
        // in 16-byte words what was stored in 8-byte ones, which stalls until the stores reach
        // the cache (BENCHMARKS.md, issue 17). Its fields need no drop afterwards.
        if let Some(GuardInner { origin: Origin::Site(site), start, ret }) = &mut self.inner {
            let site: &'static Site = site;
            let ret = if matches!(ret, Small::Null) { Small::Null } else { std::mem::replace(ret, Small::Null) };
            let since = crate::record::Elapsed::Since(*start);
            crate::record::record_kind(
                Lazy(
                    #[inline(always)]
                    move || FnExit { site, ret, panicked },
                ),
                since,
            );
            return;
        }
        if let Some(GuardInner { origin: Origin::Named { name, module, location }, start, ret }) = self.inner.take() {
            record(
                EventKind::FunctionExit { function_name: name, module, location, return_value: ret.expand(), panicked },
                crate::record::Elapsed::Since(start),
            );
        }
    }
}

/// Runs `f` as a tracked function (Go: `TrackFunction`): call, end and duration are recorded.
///
/// ```
/// let sum = raceway::track_function("add", &(2, 3), || 2 + 3);
/// assert_eq!(sum, 5);
/// ```
#[track_caller]
pub fn track_function<A: Serialize + ?Sized, R>(function_name: impl Into<Name>, args: &A, f: impl FnOnce() -> R) -> R {
    let _g = start_function(function_name, args);
    f()
}

/// The async form of [`track_function`]: the returned future records the call when first polled
/// and the end when it completes (or is dropped), and runs in the caller's task.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let v = raceway::track_function_async("fetch", &"alice", async { 42 }).await;
/// assert_eq!(v, 42);
/// # }
/// ```
#[track_caller]
pub fn track_function_async<A: Serialize + ?Sized, F: std::future::Future>(
    function_name: impl Into<Name>,
    args: &A,
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    let location = Location::caller();
    let name = function_name.into();
    let args = if enabled() && crate::config::capture_args() { capture(args) } else { null() };
    async move {
        let _g = FunctionGuard::enter(name, location.file, location, args);
        future.await
    }
}
