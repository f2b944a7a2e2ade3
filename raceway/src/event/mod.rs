//! The recorded data: events in their in-memory form, and the pieces they are made of.
//!
//! An [`Event`] holds raw parts (numbers, `'static` strings, shared names, captured values); the
//! exporter's `wire` module turns it into the server's JSON. Everything the server needs per
//! process (pid, service, environment, tags, instance) is added at serialization time, not stored
//! here; a task id carries only the number of its service (`service.rs`) when a `RacewayLayer`
//! names services below the process.
//!
//! This folder imports nothing of the crate but `config` (the value-size cap): every other stage
//! reads it, and it reads none of them.

pub(crate) mod clock;
pub(crate) mod compact;
pub(crate) mod depth;
pub(crate) mod function;
pub(crate) mod id;
pub(crate) mod location;
pub(crate) mod name;
pub(crate) mod service;
pub(crate) mod timestamp;
pub(crate) mod value;

use clock::Clock;
use id::{SpanId, TaskId, Uuid};
use location::Location;
use name::Name;
use value::Value;

/// How a shared variable was accessed (`StateChange.access_type`).
///
/// ```
/// use raceway::AccessType;
/// assert_eq!(AccessType::AtomicRMW.as_str(), "AtomicRMW");
/// assert!(AccessType::Write.is_write() && !AccessType::Read.is_write());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AccessType {
    /// A plain read.
    Read,
    /// A plain write.
    Write,
    /// An atomic load.
    AtomicRead,
    /// An atomic store.
    AtomicWrite,
    /// An atomic read-modify-write.
    AtomicRMW,
}

impl AccessType {
    /// The exact, case-sensitive string the server expects.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccessType::Read => "Read",
            AccessType::Write => "Write",
            AccessType::AtomicRead => "AtomicRead",
            AccessType::AtomicWrite => "AtomicWrite",
            AccessType::AtomicRMW => "AtomicRMW",
        }
    }

    /// Whether the access modifies the variable (the server's "write" for severity).
    pub const fn is_write(self) -> bool {
        !matches!(self, AccessType::Read | AccessType::AtomicRead)
    }

    /// Whether the access is an atomic operation (two of them on one variable never race).
    ///
    /// ```
    /// assert!(raceway::AccessType::AtomicRMW.is_atomic() && !raceway::AccessType::Write.is_atomic());
    /// ```
    pub const fn is_atomic(self) -> bool {
        matches!(self, AccessType::AtomicRead | AccessType::AtomicWrite | AccessType::AtomicRMW)
    }
}

/// The kind of lock in `LockAcquire`/`LockRelease` (`lock_type`).
///
/// ```
/// assert_eq!(raceway::LockKind::RwLockRead.as_str(), "RwLock::Read");
/// assert!(!raceway::LockKind::RwLockRead.is_exclusive());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LockKind {
    /// An exclusive lock.
    Mutex,
    /// The shared side of a reader-writer lock.
    RwLockRead,
    /// The exclusive side of a reader-writer lock.
    RwLockWrite,
}

impl LockKind {
    /// The string the server and the other SDKs use.
    pub const fn as_str(self) -> &'static str {
        match self {
            LockKind::Mutex => "Mutex",
            LockKind::RwLockRead => "RwLock::Read",
            LockKind::RwLockWrite => "RwLock::Write",
        }
    }

    /// Whether holders exclude each other (false only for the read side of an `RwLock`).
    pub const fn is_exclusive(self) -> bool {
        !matches!(self, LockKind::RwLockRead)
    }
}

/// Memory orderings for `MemoryFence`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Ordering {
    /// `Relaxed`.
    Relaxed,
    /// `Acquire`.
    Acquire,
    /// `Release`.
    Release,
    /// `AcqRel`.
    AcqRel,
    /// `SeqCst`.
    SeqCst,
}

impl Ordering {
    /// The server's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Ordering::Relaxed => "Relaxed",
            Ordering::Acquire => "Acquire",
            Ordering::Release => "Release",
            Ordering::AcqRel => "AcqRel",
            Ordering::SeqCst => "SeqCst",
        }
    }
}

impl From<std::sync::atomic::Ordering> for Ordering {
    fn from(o: std::sync::atomic::Ordering) -> Self {
        use std::sync::atomic::Ordering as O;
        match o {
            O::Relaxed => Ordering::Relaxed,
            O::Acquire => Ordering::Acquire,
            O::Release => Ordering::Release,
            O::AcqRel => Ordering::AcqRel,
            _ => Ordering::SeqCst,
        }
    }
}

/// What happened. One variant per server `kind`, plus [`EventKind::FunctionExit`], which is sent
/// as a second `FunctionCall` of the function (with the duration) because the server has no
/// `FunctionReturn` variant and keys durations by `FunctionCall(<name>)`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EventKind {
    /// A function was entered.
    FunctionCall {
        /// Function name.
        function_name: Name,
        /// `module_path!()` of the function.
        module: &'static str,
        /// Captured arguments (an object, or null).
        args: Value,
        /// Where the function is.
        location: Location,
    },
    /// A function ended; the duration is in [`Event::duration_ns`]. Sent as
    /// `FunctionCall { function_name, module, args: {exit: true, return_value, panicked}, file, line }`
    /// with `metadata.duration_ns`, so that the server's views attribute the duration to the
    /// function by name.
    FunctionExit {
        /// Function name.
        function_name: Name,
        /// `module_path!()` of the function.
        module: &'static str,
        /// Where the function is.
        location: Location,
        /// The return value when `ret` was asked for, else null.
        return_value: Value,
        /// Whether the function ended by unwinding.
        panicked: bool,
    },
    /// A task was spawned; `task_id` names the child.
    AsyncSpawn {
        /// The child task.
        child: TaskId,
        /// Where it was spawned.
        location: Location,
        /// The name given with `spawn_named` (or `thread::Builder::name`), for reports. Not sent
        /// to the server: `metadata.thread_id` stays the task's unique identity there.
        name: Option<Name>,
    },
    /// A task was joined; the event's parent is the child's last event.
    AsyncAwait {
        /// The joined task.
        child: TaskId,
        /// Where it was joined.
        location: Location,
    },
    /// A shared variable was read or written.
    StateChange {
        /// The variable's name (what the server compares).
        variable: Name,
        /// Value before (null for reads).
        old_value: Value,
        /// Value after (the value read, for reads).
        new_value: Value,
        /// Where the access happened.
        location: Location,
        /// Read, write, atomic...
        access_type: AccessType,
    },
    /// A lock was obtained.
    LockAcquire {
        /// Stable identity of the lock object.
        lock_id: Name,
        /// Mutex or RwLock side.
        lock_type: LockKind,
        /// Where it was taken.
        location: Location,
    },
    /// A lock was released.
    LockRelease {
        /// Stable identity of the lock object.
        lock_id: Name,
        /// Mutex or RwLock side.
        lock_type: LockKind,
        /// Where it was taken or released.
        location: Location,
    },
    /// A `#[traced]` future returned `Pending` (it awaited) while its task held a blocking lock
    /// guard (`std`, `parking_lot`, `TrackedMutex`) taken during that poll: the worker thread
    /// stays blocked for every task waiting on the lock. The server has no such kind: it is sent
    /// as `Custom { name: "lock_held_across_await", data: {lock_id, lock_type, acquired_at,
    /// function, location} }`.
    LockHeldAcrossAwait {
        /// The held lock's id.
        lock_id: Name,
        /// Mutex or RwLock side.
        lock_type: LockKind,
        /// Where the guard was taken.
        acquired_at: Location,
        /// The `#[traced]` function whose body awaited with the guard held.
        function_name: Name,
        /// Where that function is.
        location: Location,
    },
    /// A memory fence.
    MemoryFence {
        /// The fence's ordering.
        ordering: Ordering,
        /// Where it is.
        location: Location,
    },
    /// An HTTP request was received or sent.
    HttpRequest {
        /// Method, e.g. `GET`.
        method: Name,
        /// URL or path.
        url: String,
        /// Selected headers.
        headers: Vec<(String, String)>,
        /// Captured body, usually null.
        body: Value,
    },
    /// An HTTP response was produced or received.
    HttpResponse {
        /// Status code.
        status: u16,
        /// Selected headers.
        headers: Vec<(String, String)>,
        /// Captured body, usually null.
        body: Value,
        /// Time since the request, in milliseconds.
        duration_ms: u64,
    },
    /// A database query.
    DatabaseQuery {
        /// Query text.
        query: String,
        /// Database name.
        database: Name,
        /// Duration in milliseconds.
        duration_ms: u64,
    },
    /// A database result.
    DatabaseResult {
        /// Rows affected.
        rows_affected: u64,
    },
    /// An error occurred.
    Error {
        /// Type of the error.
        error_type: Name,
        /// Its `Display`.
        message: String,
        /// Frames or locations, innermost first.
        stack_trace: Vec<String>,
    },
    /// Anything else.
    Custom {
        /// Event name.
        name: Name,
        /// Payload.
        data: Value,
    },
}

/// Request-level data of one trace context: the distributed span and the tracestate to pass on.
/// Events copy the two span ids (see [`Event::span_id`]) rather than share this by reference
/// count, which would make every recording thread and the exporter write one shared counter.
#[derive(Clone, Debug, Default)]
pub struct Span {
    /// This service's span id for the request (`metadata.distributed_span_id`).
    pub span_id: Option<SpanId>,
    /// The caller's span id (`metadata.upstream_span_id`).
    pub upstream_span_id: Option<SpanId>,
    /// `tracestate` received from upstream, passed through unchanged.
    pub tracestate: Option<String>,
}

impl EventKind {
    /// Whether the event orders tasks (a spawn, a join, a lock acquire or release): losing it
    /// would invent or hide races, so a full queue never drops it (see `stage/queue.rs`).
    ///
    /// ```
    /// use raceway::{EventKind, LockKind, Location};
    /// let acquire = EventKind::LockAcquire { lock_id: "m".into(), lock_type: LockKind::Mutex, location: Location::caller() };
    /// assert!(acquire.carries_order());
    /// ```
    pub fn carries_order(&self) -> bool {
        matches!(
            self,
            EventKind::AsyncSpawn { .. }
                | EventKind::AsyncAwait { .. }
                | EventKind::LockAcquire { .. }
                | EventKind::LockRelease { .. }
        )
    }
}

/// One recorded event.
///
/// ```
/// use raceway::EventKind;
/// let c = raceway::testing::capture(|| {
///     raceway::track_write("x", &0, &1);
///     raceway::track_read("x", &1);
/// });
/// let (write, read) = (&c.events[0], &c.events[1]);
/// assert!(matches!(&write.kind, EventKind::StateChange { variable, .. } if variable.as_str() == "x"));
/// assert_eq!(read.parent_id, Some(write.id)); // one task's events form a chain
/// assert_eq!(read.task, write.task);
/// ```
#[derive(Clone, Debug)]
pub struct Event {
    /// Unique id.
    pub id: Uuid,
    /// Trace this event belongs to.
    pub trace_id: Uuid,
    /// The previous event of the same task (or the spawn/join edge), `None` for a trace root.
    pub parent_id: Option<Uuid>,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The logical task that recorded it (`metadata.thread_id`).
    pub task: TaskId,
    /// What happened.
    pub kind: EventKind,
    /// Duration, for events that end something.
    pub duration_ns: Option<u64>,
    /// The recording task's vector clock after this event.
    pub clock: Clock,
    /// This service's span id for the request (`metadata.distributed_span_id`), when the event
    /// belongs to a distributed request.
    pub span_id: Option<SpanId>,
    /// The caller's span id (`metadata.upstream_span_id`), when there was a caller.
    pub upstream_span_id: Option<SpanId>,
    /// The task's position before this event (`parent_id`) was handed out without an event
    /// (`Context::current`, a `raceway-clock` header): the exporter must not merge this event
    /// into a run ending at its parent, which someone else may name. Not sent.
    pub(crate) breaks_run: bool,
}
