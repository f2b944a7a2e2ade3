//! What the analyzer knows of each live task, to make findings locate the bug: its logical call
//! stack (the `#[traced]`/`start_function` functions it is in), its origin (where and by whom it
//! was spawned, up to the root), its name (`spawn_named`), and a short window of its recent
//! events (for the HTML report's timeline).
//!
//! Stacks and origins are persistent linked lists behind `Arc`s: an access keeps its task's
//! stack and origin by two reference-count bumps instead of copying frames, and a frame is shared
//! by every access made under it. Memory stays bounded: stacks are capped at [`MAX_DEPTH`]
//! frames and origins at [`MAX_ORIGIN`] spawns; a task's entry is dropped when it is joined (its
//! id can then be reused for a new child, whose spawn replaces the entry, so a reused id never
//! inherits a stale stack or origin); at most [`MAX_TASKS`] tasks are followed at once (tasks
//! past that, e.g. never-joined ones, are analysed as always but reported without stack or
//! origin), and each window holds [`WINDOW`] events.

use crate::event::id::{IdHasher, TaskId};
use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::{Event, EventKind};
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

/// Most frames kept per stack; deeper calls are counted and not shown.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most spawns kept in an origin chain.
pub(crate) const MAX_ORIGIN: usize = 16;
/// Most tasks followed at once.
pub(crate) const MAX_TASKS: usize = 4096;
/// Events kept per task for the timeline.
pub(crate) const WINDOW: usize = 32;

/// One active function of a task.
#[derive(Debug)]
pub(crate) struct Frame {
    pub function: Name,
    pub location: Location,
    pub caller: Option<Arc<Frame>>,
    depth: usize,
}

/// Where a task came from: spawned at `spawned_at` by `by`, whose own origin is `parent`.
#[derive(Debug)]
pub(crate) struct Origin {
    pub task: TaskId,
    pub name: Option<Name>,
    pub spawned_at: Location,
    pub by: TaskId,
    pub parent: Option<Arc<Origin>>,
    depth: usize,
}

/// What a finding keeps of the task at an access: cheap to take on every access.
#[derive(Clone, Debug, Default)]
pub(crate) struct Context {
    pub stack: Option<Arc<Frame>>,
    pub origin: Option<Arc<Origin>>,
    /// The analyzer's event number of the access (orders timeline events).
    pub seq: u64,
}

/// One remembered event of a task's window.
#[derive(Clone, Debug)]
pub(crate) struct Recent {
    pub seq: u64,
    pub step: Step,
    pub location: Location,
}

/// What a remembered event was.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Read(Name),
    Write(Name),
    Acquire(Name),
    Release(Name),
    Spawn(TaskId),
    Join(TaskId),
    Call(Name),
}

#[derive(Debug, Default)]
struct Task {
    stack: Option<Arc<Frame>>,
    /// Calls past `MAX_DEPTH`, not in `stack`.
    hidden: usize,
    origin: Option<Arc<Origin>>,
    window: VecDeque<Recent>,
}

/// The live tasks.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    tasks: HashMap<TaskId, Task, BuildHasherDefault<IdHasher>>,
}

impl Tasks {
    /// Follows `event` (number `seq`): stacks, spawns, joins, and the windows. For an access,
    /// returns its context (from the same lookup: this runs on every event).
    pub(crate) fn observe(&mut self, seq: u64, event: &Event) -> Context {
        let step = match &event.kind {
            EventKind::StateChange { variable, location, access_type, .. } => {
                let v = variable.clone();
                (if access_type.is_write() { Step::Write(v) } else { Step::Read(v) }, *location)
            }
            EventKind::LockAcquire { lock_id, location, .. } => (Step::Acquire(lock_id.clone()), *location),
            EventKind::LockRelease { lock_id, location, .. } => (Step::Release(lock_id.clone()), *location),
            EventKind::FunctionCall { function_name, location, .. } => {
                let t = self.task(event.task);
                if let Some(t) = t {
                    let depth = t.stack.as_ref().map_or(0, |f| f.depth);
                    if depth < MAX_DEPTH {
                        let caller = t.stack.take();
                        t.stack = Some(Arc::new(Frame {
                            function: function_name.clone(),
                            location: *location,
                            caller,
                            depth: depth + 1,
                        }));
                    } else {
                        t.hidden += 1;
                    }
                }
                (Step::Call(function_name.clone()), *location)
            }
            EventKind::FunctionExit { location, .. } => {
                if let Some(t) = self.task(event.task) {
                    if t.hidden > 0 {
                        t.hidden -= 1;
                    } else {
                        // Pops the function and anything above it that never ended on its own
                        // (`track_function_call` records a call without an end).
                        let popped = frames(&t.stack).find(|f| f.location == *location).map(|f| f.caller.clone());
                        if let Some(caller) = popped {
                            t.stack = caller;
                        }
                    }
                }
                return Context::default();
            }
            EventKind::AsyncSpawn { child, location, name } => {
                let parent = self.task(event.task).and_then(|t| t.origin.clone());
                let depth = parent.as_ref().map_or(0, |o| o.depth) + 1;
                let origin = Arc::new(Origin {
                    task: *child,
                    name: name.clone(),
                    spawned_at: *location,
                    by: event.task,
                    parent: if depth <= MAX_ORIGIN { parent } else { None },
                    depth: depth.min(MAX_ORIGIN),
                });
                // A reused id starts afresh: nothing of the joined task it was survives.
                self.tasks.remove(child);
                if self.tasks.len() < MAX_TASKS {
                    self.tasks.insert(*child, Task { origin: Some(origin), ..Task::default() });
                }
                (Step::Spawn(*child), *location)
            }
            EventKind::AsyncAwait { child, location } => {
                self.tasks.remove(child);
                (Step::Join(*child), *location)
            }
            _ => return Context::default(),
        };
        let access = matches!(step.0, Step::Read(_) | Step::Write(_));
        match self.task(event.task) {
            Some(t) => {
                if t.window.len() == WINDOW {
                    t.window.pop_front();
                }
                t.window.push_back(Recent { seq, step: step.0, location: step.1 });
                if access {
                    Context { stack: t.stack.clone(), origin: t.origin.clone(), seq }
                } else {
                    Context::default()
                }
            }
            None => Context { seq, ..Context::default() },
        }
    }

    /// The entry of `task`, created for a task seen first now (a root, or one spawned outside
    /// raceway) while there is room.
    fn task(&mut self, task: TaskId) -> Option<&mut Task> {
        // One hash in the common case (room left), two only when the map is full.
        if self.tasks.len() < MAX_TASKS {
            Some(self.tasks.entry(task).or_default())
        } else {
            self.tasks.get_mut(&task)
        }
    }

    /// The stack of `task` now (for tests).
    #[cfg(test)]
    pub(crate) fn stack(&self, task: TaskId) -> Option<Arc<Frame>> {
        self.tasks.get(&task).and_then(|t| t.stack.clone())
    }

    /// The recent events of `task` (oldest first).
    pub(crate) fn window(&self, task: TaskId) -> impl Iterator<Item = &Recent> {
        self.tasks.get(&task).into_iter().flat_map(|t| t.window.iter())
    }

    /// The name `task` was spawned with, if it is still followed.
    pub(crate) fn name(&self, task: TaskId) -> Option<&Name> {
        self.tasks.get(&task).and_then(|t| t.origin.as_ref()).and_then(|o| o.name.as_ref())
    }

    /// Tasks followed (for footprint checks).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }
}

/// The frames of a stack, innermost first.
pub(crate) fn frames(stack: &Option<Arc<Frame>>) -> impl Iterator<Item = &Frame> {
    std::iter::successors(stack.as_deref(), |f| f.caller.as_deref())
}

/// The spawns of an origin, the task's own first, up to the root.
pub(crate) fn origins(origin: &Option<Arc<Origin>>) -> impl Iterator<Item = &Origin> {
    std::iter::successors(origin.as_deref(), |o| o.parent.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::clock::Clock;
    use crate::event::id::Uuid;

    fn event(task: TaskId, kind: EventKind) -> Event {
        Event {
            id: Uuid::new_v4(),
            trace_id: Uuid::new_v4(),
            parent_id: None,
            timestamp_ns: 0,
            task,
            kind,
            duration_ns: None,
            clock: Clock::new(task),
            span_id: None,
            upstream_span_id: None,
            breaks_run: false,
        }
    }

    fn call(f: &'static str, line: u32) -> EventKind {
        EventKind::FunctionCall {
            function_name: Name::from_static(f),
            module: "m",
            args: crate::event::value::null(),
            location: Location::new("f.rs", line, 1),
        }
    }

    #[test]
    fn memory_follows_live_tasks_and_caps_not_events() {
        let mut tasks = Tasks::default();
        let root = TaskId::next();
        let mut seq = 0;
        let mut next = |tasks: &mut Tasks, e: Event| {
            seq += 1;
            tasks.observe(seq, &e);
        };
        // Recursion deeper than the cap keeps MAX_DEPTH frames, and unwinds exactly.
        for i in 0..(MAX_DEPTH as u32 + 10) {
            next(&mut tasks, event(root, call("rec", i)));
        }
        assert_eq!(frames(&tasks.stack(root)).count(), MAX_DEPTH);
        assert!(tasks.window(root).count() <= WINDOW);
        // A hundred thousand spawned-and-joined tasks leave nothing behind.
        for _ in 0..100_000 {
            let child = TaskId::next();
            let at = Location::new("f.rs", 1, 1);
            next(&mut tasks, event(root, EventKind::AsyncSpawn { child, location: at, name: None }));
            next(&mut tasks, event(child, call("work", 2)));
            next(&mut tasks, event(root, EventKind::AsyncAwait { child, location: at }));
        }
        assert_eq!(tasks.len(), 1);
        // Never-joined tasks stop at the cap.
        for _ in 0..(MAX_TASKS + 100) {
            let child = TaskId::next();
            next(
                &mut tasks,
                event(root, EventKind::AsyncSpawn { child, location: Location::new("f.rs", 1, 1), name: None }),
            );
        }
        assert_eq!(tasks.len(), MAX_TASKS);
    }
}
