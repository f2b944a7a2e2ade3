//! The state of one logical task ([`TaskState`]) and of the trace it belongs to ([`Trace`]).

use super::Context;
use crate::event::clock::Clock;
use crate::event::id::{TaskId, Uuid};
use crate::event::service::ServiceId;
use crate::event::Span;
use std::sync::{Arc, Mutex};

/// Data shared by all tasks of one trace context (one request, one `Context::new()`).
#[derive(Debug)]
pub(crate) struct Trace {
    pub id: Uuid,
    pub span: Option<Span>,
    /// When set (by `raceway::testing`), events go to this buffer instead of the exporter.
    pub capture: Option<Arc<Capture>>,
    /// The service whose work this is (a `RacewayLayer::service_name`, else the process): every
    /// task of the trace gets an id in it, so spawned and background work keeps its service.
    pub service: ServiceId,
}

impl Trace {
    /// A new trace with a random id, no span and no capture.
    pub(crate) fn new() -> Arc<Trace> {
        Arc::new(Trace { id: Uuid::new_v4(), span: None, capture: None, service: ServiceId::PROCESS })
    }
}

/// A scoped buffer of events (test captures).
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub events: Mutex<Vec<crate::event::Event>>,
}

/// The state of one running logical task.
#[derive(Debug)]
pub(crate) struct TaskState {
    pub trace: Arc<Trace>,
    pub task: TaskId,
    /// The last event this task recorded: the parent of its next one.
    pub last: Option<Uuid>,
    pub clock: Clock,
    /// Installed for a scope the SDK saw start (an instrumented future's poll, a thread child,
    /// `Context::enter`). Only a thread's own root task is not: when a tokio task the SDK did not
    /// see start runs on the thread, that task is the one running (see `adopted.rs`).
    pub scoped: bool,
    /// Children this task joined, whose ids its next children take over (see `fork_state` in
    /// `instrument/task.rs`): a child joined here has ended, and this task's clock already orders
    /// all of it, so a new child can continue its component instead of adding one. A task that
    /// spawns and joins one child at a time then carries one component for all of them, not one
    /// per child ever joined.
    pub joined: Vec<TaskId>,
}

impl TaskState {
    /// A new task in `trace`, whose first event descends from `parent`, inheriting `clock`.
    pub(crate) fn fork(trace: Arc<Trace>, parent: Option<Uuid>, clock: Option<&Clock>) -> Self {
        let task = TaskId::next_in(trace.service);
        let clock = match clock {
            Some(c) => c.fork(task),
            None => Clock::new(task),
        };
        TaskState { trace, task, last: parent, clock, scoped: true, joined: Vec::new() }
    }

    /// A new task in a new trace: a thread's own task.
    pub(crate) fn root() -> Self {
        TaskState { scoped: false, ..Self::fork(Trace::new(), None, None) }
    }

    /// A new task that the SDK did not see start (a plain `tokio::spawn`), in `trace` or a new
    /// one: nothing orders it after anything, and its id says so.
    pub(crate) fn adopted(trace: Option<Arc<Trace>>) -> Self {
        let trace = trace.unwrap_or_else(Trace::new);
        let task = TaskId::next_unordered_in(trace.service);
        TaskState { trace, task, last: None, clock: Clock::new(task), scoped: false, joined: Vec::new() }
    }

    pub(crate) fn snapshot(&self) -> Context {
        Context { trace: self.trace.clone(), parent: self.last, clock: Some(self.clock.clone()) }
    }
}
