//! Who is recording: the process identity given to `init` (service, instance, environment,
//! tags, pid). Events do not carry it; the exporter adds it when it writes them, propagation
//! names this process's clock component after it, and task ids are shown as thread ids in it.

use crate::config::Config;
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
