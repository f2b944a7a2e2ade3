//! The manual tracking API: the Go SDK's `Track*` calls in Rust form.
//!
//! Every function records the **caller's** location (`#[track_caller]`), returns immediately when
//! the SDK is off, and never fails: an event that cannot be queued is dropped and counted.

use crate::event::compact::{Access, Small};
use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::value::capture;
use crate::event::{AccessType, EventKind, LockKind, Ordering};
use crate::record::{record, record_access};
use crate::stage::switch::enabled;
use serde::Serialize;

/// Records an access to a shared variable (Go: `TrackStateChange`). Pass `&()` as `old` when
/// there is no old value (it becomes `null`).
///
/// ```
/// use raceway::AccessType;
/// raceway::track_state_change("counter", &5, &6, AccessType::Write);
/// raceway::track_state_change("counter", &(), &6, AccessType::Read);
/// ```
#[track_caller]
#[inline]
pub fn track_state_change<O, N>(variable: impl Into<Name>, old: &O, new: &N, access: AccessType)
where
    O: Serialize + ?Sized,
    N: Serialize + ?Sized,
{
    if !enabled() {
        return;
    }
    access_at(
        access,
        std::panic::Location::caller(),
        #[inline(always)]
        move || (variable.into(), Small::capture(old), Small::capture(new)),
    );
}

/// Records an access in its compact form (`event/compact.rs`): the call site by reference and
/// primitive values inline.
///
/// `parts` (the variable's name and the captured values) is called only once the event's
/// staging slot is open, and writes straight into it. Capturing first and then passing the access
/// down meant an early return (no budget, a re-entrant call) had to drop it, and the drop glue
/// takes its address: the access then lived in stack memory and was copied at each step of the
/// hot path, each copy stalling on store forwarding (BENCHMARKS.md, issue 17). A closure over a
/// `&'static str` and references has no drop glue, so nothing forces it out of registers.
#[inline(always)]
pub(crate) fn access_at(
    access: AccessType,
    site: &'static std::panic::Location<'static>,
    parts: impl FnOnce() -> (Name, Small, Small),
) {
    // Only reached with recording on; one relaxed load unless a fuzzing test runs.
    crate::stage::fuzz::point();
    // Closures on the recording path are always inlined: one the compiler outlines returns the
    // event through memory, and copying it back stalls (BENCHMARKS.md, issue 17).
    record_access(
        #[inline(always)]
        move || {
            let (variable, old, new) = parts();
            Access { variable, site, old, new, access: access.into() }
        },
    );
}

pub(crate) fn state_change_at(
    variable: Name,
    old_value: crate::event::value::Value,
    new_value: crate::event::value::Value,
    access_type: AccessType,
    location: Location,
) {
    // Only reached with recording on; one relaxed load unless a fuzzing test runs.
    crate::stage::fuzz::point();
    record(EventKind::StateChange { variable, old_value, new_value, location, access_type }, None);
}

/// Records a read of `variable` that saw `value`.
///
/// ```
/// raceway::track_read("alice.balance", &100);
/// ```
#[track_caller]
#[inline]
pub fn track_read<T: Serialize + ?Sized>(variable: impl Into<Name>, value: &T) {
    if !enabled() {
        return;
    }
    access_at(
        AccessType::Read,
        std::panic::Location::caller(),
        #[inline(always)]
        move || (variable.into(), Small::Null, Small::capture(value)),
    );
}

/// Records a write of `variable` from `old` to `new`.
///
/// ```
/// raceway::track_write("alice.balance", &100, &50);
/// ```
#[track_caller]
#[inline]
pub fn track_write<O: Serialize + ?Sized, N: Serialize + ?Sized>(variable: impl Into<Name>, old: &O, new: &N) {
    if !enabled() {
        return;
    }
    access_at(
        AccessType::Write,
        std::panic::Location::caller(),
        #[inline(always)]
        move || (variable.into(), Small::capture(old), Small::capture(new)),
    );
}

/// Records an incoming or outgoing HTTP request (Go: `TrackHTTPRequest`).
///
/// ```
/// raceway::track_http_request("POST", "/transfer");
/// ```
#[track_caller]
pub fn track_http_request(method: &str, url: &str) {
    track_http_request_with(method, url, std::iter::empty::<(String, String)>(), &());
}

/// [`track_http_request`] with headers and a body.
#[track_caller]
pub fn track_http_request_with<K, V, B>(method: &str, url: &str, headers: impl IntoIterator<Item = (K, V)>, body: &B)
where
    K: Into<String>,
    V: Into<String>,
    B: Serialize + ?Sized,
{
    if !enabled() {
        return;
    }
    let headers = headers.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    let method = Name::from(method.to_owned());
    record(EventKind::HttpRequest { method, url: url.to_owned(), headers, body: capture(body) }, None);
}

/// Records an HTTP response (Go: `TrackHTTPResponse`).
///
/// ```
/// raceway::track_http_response(200, std::time::Duration::from_millis(12));
/// ```
#[track_caller]
pub fn track_http_response(status: u16, duration: std::time::Duration) {
    track_http_response_with(status, std::iter::empty::<(String, String)>(), &(), duration);
}

/// [`track_http_response`] with headers and a body.
#[track_caller]
pub fn track_http_response_with<K, V, B>(
    status: u16,
    headers: impl IntoIterator<Item = (K, V)>,
    body: &B,
    duration: std::time::Duration,
) where
    K: Into<String>,
    V: Into<String>,
    B: Serialize + ?Sized,
{
    if !enabled() {
        return;
    }
    let headers = headers.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    record(
        EventKind::HttpResponse { status, headers, body: capture(body), duration_ms: duration.as_millis() as u64 },
        Some(duration.as_nanos() as u64),
    );
}

/// Records that the running task obtained a lock (Go: `TrackLockAcquire`). Call it right after
/// the lock is obtained, and [`track_lock_release`] with the same id when it is released;
/// [`with_lock`](crate::with_lock) and [`lock!`](crate::lock) do both for you.
///
/// ```
/// let m = std::sync::Mutex::new(0);
/// let mut g = m.lock().unwrap();
/// raceway::track_lock_acquire("counter_lock", raceway::LockKind::Mutex);
/// *g += 1;
/// drop(g);
/// raceway::track_lock_release("counter_lock", raceway::LockKind::Mutex);
/// ```
#[track_caller]
pub fn track_lock_acquire(lock_id: impl Into<Name>, kind: LockKind) {
    if !enabled() {
        return;
    }
    lock_event(true, lock_id.into(), kind, Location::caller());
}

/// Records that the running task released a lock (Go: `TrackLockRelease`).
#[track_caller]
pub fn track_lock_release(lock_id: impl Into<Name>, kind: LockKind) {
    if !enabled() {
        return;
    }
    lock_event(false, lock_id.into(), kind, Location::caller());
}

#[doc(hidden)]
pub fn lock_event(acquire: bool, lock_id: Name, lock_type: LockKind, location: Location) {
    if acquire {
        // The lock is already held: a pause here keeps the others waiting longer, which moves
        // where each of them stands when it is released.
        crate::stage::fuzz::point();
    }
    let kind = if acquire {
        EventKind::LockAcquire { lock_id, lock_type, location }
    } else {
        EventKind::LockRelease { lock_id, lock_type, location }
    };
    record(kind, None);
}

/// Records an error (Go: `TrackError`): its type name, its `Display`, and its `source()` chain
/// as the stack trace.
///
/// ```
/// let err = std::io::Error::new(std::io::ErrorKind::TimedOut, "upstream timed out");
/// raceway::track_error(&err);
/// ```
#[track_caller]
pub fn track_error<E: std::error::Error + ?Sized>(error: &E) {
    if !enabled() {
        return;
    }
    let location = Location::caller();
    let mut stack = vec![location.to_string()];
    let mut source = error.source();
    while let Some(s) = source {
        stack.push(s.to_string());
        source = s.source();
        if stack.len() > 32 {
            break;
        }
    }
    let message = crate::event::value::truncate_str(&error.to_string(), crate::config::max_value_bytes());
    record(
        EventKind::Error { error_type: Name::from_static(std::any::type_name::<E>()), message, stack_trace: stack },
        None,
    );
}

/// Records an error from its parts.
///
/// ```
/// raceway::track_error_with("Timeout", "upstream timed out", vec!["src/api.rs:30".into()]);
/// ```
pub fn track_error_with(error_type: impl Into<Name>, message: impl Into<String>, stack_trace: Vec<String>) {
    if !enabled() {
        return;
    }
    record(EventKind::Error { error_type: error_type.into(), message: message.into(), stack_trace }, None);
}

/// Records a custom event with any serializable payload.
///
/// ```
/// raceway::track_custom("cache_miss", &serde_json::json!({"key": "k"}));
/// ```
pub fn track_custom<D: Serialize + ?Sized>(name: impl Into<Name>, data: &D) {
    if !enabled() {
        return;
    }
    record(EventKind::Custom { name: name.into(), data: capture(data) }, None);
}

/// Records a memory fence.
///
/// ```
/// std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
/// raceway::track_memory_fence(std::sync::atomic::Ordering::SeqCst);
/// ```
#[track_caller]
pub fn track_memory_fence(ordering: impl Into<Ordering>) {
    if !enabled() {
        return;
    }
    record(EventKind::MemoryFence { ordering: ordering.into(), location: Location::caller() }, None);
}

/// Records a database query and how long it took.
///
/// ```
/// raceway::track_database_query("SELECT 1", "pg", std::time::Duration::from_millis(3));
/// ```
pub fn track_database_query(query: &str, database: impl Into<Name>, duration: std::time::Duration) {
    if !enabled() {
        return;
    }
    let query = crate::event::value::truncate_str(query, crate::config::max_value_bytes());
    record(
        EventKind::DatabaseQuery { query, database: database.into(), duration_ms: duration.as_millis() as u64 },
        Some(duration.as_nanos() as u64),
    );
}

/// Records a database result.
///
/// ```
/// raceway::track_database_result(1);
/// ```
pub fn track_database_result(rows_affected: u64) {
    if !enabled() {
        return;
    }
    record(EventKind::DatabaseResult { rows_affected }, None);
}
