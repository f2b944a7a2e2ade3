//! Who is recording: the process identity given to `init` (service, instance, environment,
//! tags, pid). Events do not carry it; the exporter adds it when it writes them, propagation
//! names this process's clock component after it, and task ids are shown as thread ids in it.

use crate::config::Config;
use crate::event::clock::Component;
use crate::event::id::TaskId;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The identity of this process as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Process {
    pub service: String,
    pub instance_id: String,
    pub environment: String,
    /// The configured tags plus `sdk_language` and `sdk_version` (unless given).
    pub tags: BTreeMap<String, String>,
    pub pid: u32,
}

impl Process {
    pub(crate) fn from_config(config: &Config) -> Self {
        let mut tags = config.tags.clone();
        tags.entry("sdk_language".into()).or_insert_with(|| "rust".into());
        tags.entry("sdk_version".into()).or_insert_with(|| env!("CARGO_PKG_VERSION").into());
        Process {
            service: config.service_name.clone(),
            instance_id: config.instance_id.clone(),
            environment: config.environment.clone(),
            tags,
            pid: std::process::id(),
        }
    }

    /// This process's component in propagated vector clocks: `"<service>#<instance>"`.
    pub(crate) fn clock_component(&self) -> Arc<str> {
        Arc::from(format!("{}#{}", self.service, self.instance_id))
    }

    /// `<service>-<pid>-task-<n>`: how the server names `task`.
    pub(crate) fn thread_id(&self, task: TaskId) -> String {
        let mut s = TaskId::thread_id_prefix(&self.service, self.pid);
        s.push_str(&task.as_u64().to_string());
        s
    }

    /// The components of a vector clock read from a header, as this process keeps them.
    ///
    /// A task of this process that went out in a header comes back named by its thread id: in a
    /// response to its own call, or in the request of a service running in this same process.
    /// This process's events carry that task as `Component::Task`; kept as a `Remote` string it
    /// would be a second, unrelated component, and what the callee did after the caller's work
    /// would not be seen as ordered. So `<service>-<pid>-task-<n>` with exactly this service
    /// and pid, for a task number already handed out, becomes `Component::Task(n)`; every other
    /// name stays `Remote`.
    ///
    /// Only when the clock also counts this process's `"<service>#<instance>"`: every header this
    /// process sends does, so a clock that does not cannot hold its tasks. Two instances of one
    /// service with the same pid (pid 1 in every container) name their tasks alike; their
    /// instance ids tell them apart.
    pub(crate) fn read_clock(&self, clock: Vec<(String, u64)>) -> Vec<(Component, u64)> {
        let own = self.clock_component();
        let ours = clock.iter().any(|(name, n)| **name == *own && *n > 0);
        let prefix = TaskId::thread_id_prefix(&self.service, self.pid);
        let task = |name: &str| {
            let digits = name.strip_prefix(prefix.as_str())?;
            // The canonical decimal only, as `thread_id` writes it: no sign, no leading zero.
            if digits.is_empty() || digits.len() > 20 || digits.starts_with('0') {
                return None;
            }
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            TaskId::issued(digits.parse().ok()?)
        };
        clock
            .into_iter()
            .map(|(name, n)| match task(&name).filter(|_| ours) {
                Some(t) => (Component::Task(t), n),
                None => (Component::Remote(Arc::from(name)), n),
            })
            .collect()
    }
}

static PROCESS: RwLock<Option<Arc<Process>>> = RwLock::new(None);

/// Sets the identity (by `init`).
pub(crate) fn set(p: Arc<Process>) {
    *PROCESS.write().unwrap_or_else(|e| e.into_inner()) = Some(p);
}

/// The identity given to the last `init` (the default configuration's before any).
pub(crate) fn current() -> Arc<Process> {
    if let Some(p) = PROCESS.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return p.clone();
    }
    let p = Arc::new(Process::from_config(&Config::default()));
    set(p.clone());
    p
}

impl TaskId {
    /// The `metadata.thread_id` the server sees for this task.
    ///
    /// ```
    /// # let _g = raceway::testing::capture(|| {
    /// let task = raceway::Context::current_task().unwrap();
    /// assert!(task.thread_id().contains("-task-"));
    /// # });
    /// ```
    pub fn thread_id(self) -> String {
        current().thread_id(self)
    }
}
