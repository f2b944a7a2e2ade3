//! Who is recording: the process identity given to `init` (service, instance, environment,
//! tags, pid), and the services hosted below it (`event::service`). Events do not carry it; the
//! exporter adds it when it writes them, propagation names each service's clock component after
//! it, and task ids are shown as thread ids of their service.

use crate::config::Config;
use crate::event::clock::Component;
use crate::event::id::TaskId;
use crate::event::service::{self, ServiceId};
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

    /// The `service_name` and `instance_id` of `id`: a registered service's own (its instance
    /// defaulting to the process's), or the process's for [`ServiceId::PROCESS`].
    pub(crate) fn identity(&self, id: ServiceId) -> (String, String) {
        match service::get(id) {
            Some(s) => (
                s.name.clone().unwrap_or_else(|| self.service.clone()),
                s.instance_id.clone().unwrap_or_else(|| self.instance_id.clone()),
            ),
            None => (self.service.clone(), self.instance_id.clone()),
        }
    }

    /// This process's component in propagated vector clocks: `"<service>#<instance>"`.
    #[cfg(test)]
    pub(crate) fn clock_component(&self) -> Arc<str> {
        self.clock_component_of(ServiceId::PROCESS)
    }

    /// The component of service `id` in propagated vector clocks: `"<service>#<instance>"`.
    pub(crate) fn clock_component_of(&self, id: ServiceId) -> Arc<str> {
        let (name, instance) = self.identity(id);
        Arc::from(format!("{name}#{instance}"))
    }

    /// `<service>-<pid>-task-<n>`: how the server names `task` (the service its id carries).
    pub(crate) fn thread_id(&self, task: TaskId) -> String {
        let mut s = TaskId::thread_id_prefix(&self.identity(task.service()).0, self.pid);
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
    /// Only when the clock also counts the `"<service>#<instance>"` of that task's service: every
    /// header a service of this process sends does, so a clock that does not cannot hold its
    /// tasks. Two instances of one service with the same pid (pid 1 in every container) name
    /// their tasks alike; their instance ids tell them apart. The services a `RacewayLayer`
    /// names in this process are read alike, each task back into its own service.
    pub(crate) fn read_clock(&self, clock: Vec<(String, u64)>) -> Vec<(Component, u64)> {
        let services = std::iter::once(ServiceId::PROCESS).chain(service::all().into_iter().map(|(id, _)| id));
        // The services whose component the clock counts, with their thread-id prefixes.
        let ours: Vec<(ServiceId, String)> = services
            .filter_map(|id| {
                let own = self.clock_component_of(id);
                clock
                    .iter()
                    .any(|(name, n)| **name == *own && *n > 0)
                    .then(|| (id, TaskId::thread_id_prefix(&self.identity(id).0, self.pid)))
            })
            .collect();
        let task = |name: &str| {
            ours.iter().find_map(|(id, prefix)| {
                let digits = name.strip_prefix(prefix.as_str())?;
                // The canonical decimal only, as `thread_id` writes it: no sign, no leading zero.
                if digits.is_empty() || digits.len() > 20 || digits.starts_with('0') {
                    return None;
                }
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                TaskId::issued_in(digits.parse().ok()?, *id)
            })
        };
        clock
            .into_iter()
            .map(|(name, n)| match task(&name) {
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

    /// The `metadata.service_name` of this task's events: the process's (from `init`), or the
    /// `RacewayLayer::service_name` of the request it serves or
    /// descends from.
    ///
    /// ```
    /// # let _g = raceway::testing::capture(|| {
    /// let task = raceway::Context::current_task().unwrap();
    /// assert_eq!(task.service_name(), raceway::Config::default().service_name);
    /// # });
    /// ```
    pub fn service_name(self) -> String {
        current().identity(self.service()).0
    }
}
