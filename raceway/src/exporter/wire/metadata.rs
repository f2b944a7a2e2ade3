//! What every event of one client says about its service and process, rendered once per service
//! (the identity itself lives in `context::process`, the hosted services in `event::service`;
//! `lifecycle` hands the process's over).

use super::json::{escape_into, json_bytes, write_u64};
use crate::event::id::TaskId;
use crate::event::service;
use std::collections::BTreeMap;

/// The metadata of one service, pre-rendered as JSON fragments.
#[derive(Debug)]
pub(super) struct Rendered {
    /// `"process_id":..,"service_name":..,"environment":..,"tags":{..}`.
    pub(super) fixed: Vec<u8>,
    /// `,"instance_id":".."`.
    pub(super) instance: Vec<u8>,
    /// `<service>-<pid>-task-`, JSON-escaped (no quotes): every thread id is this plus a number.
    thread_prefix: Vec<u8>,
}

/// The rendered metadata of the process (service 0) and of every service a `RacewayLayer`
/// names in it, indexed by `ServiceId`: an event finds its service's by its task id, with no
/// lookup in a shared map.
#[derive(Debug)]
pub(crate) struct Metadata {
    service: String,
    instance_id: String,
    environment: String,
    tags: BTreeMap<String, String>,
    pid: u32,
    /// The process's own: kept apart so the common case (no hosted service) is one compare.
    process: Rendered,
    /// Service `n` at `n - 1`.
    hosted: Vec<Rendered>,
}

impl Metadata {
    pub(crate) fn new(
        service: &str,
        instance_id: &str,
        environment: &str,
        tags: &BTreeMap<String, String>,
        pid: u32,
    ) -> Self {
        let mut m = Metadata {
            service: service.to_owned(),
            instance_id: instance_id.to_owned(),
            environment: environment.to_owned(),
            tags: tags.clone(),
            pid,
            process: Rendered { fixed: Vec::new(), instance: Vec::new(), thread_prefix: Vec::new() },
            hosted: Vec::new(),
        };
        m.process = m.render(service, instance_id);
        m.refresh();
        m
    }

    /// Renders the services registered since the last call: once per service, before a batch
    /// (an atomic load when there is none new).
    pub(crate) fn refresh(&mut self) {
        if self.hosted.len() >= service::count() {
            return;
        }
        for (id, s) in service::all().into_iter().skip(self.hosted.len()) {
            debug_assert_eq!(usize::from(id.0), self.hosted.len() + 1);
            let name = s.name.as_deref().unwrap_or(&self.service);
            let instance = s.instance_id.as_deref().unwrap_or(&self.instance_id);
            let r = self.render(name, instance);
            self.hosted.push(r);
        }
    }

    fn render(&self, service: &str, instance_id: &str) -> Rendered {
        let mut fixed = b"\"process_id\":".to_vec();
        write_u64(&mut fixed, self.pid.into());
        fixed.extend_from_slice(b",\"service_name\":");
        json_bytes(&mut fixed, service);
        fixed.extend_from_slice(b",\"environment\":");
        json_bytes(&mut fixed, &self.environment);
        fixed.extend_from_slice(b",\"tags\":{");
        for (i, (k, v)) in self.tags.iter().enumerate() {
            if i > 0 {
                fixed.push(b',');
            }
            json_bytes(&mut fixed, k);
            fixed.push(b':');
            json_bytes(&mut fixed, v);
        }
        fixed.push(b'}');
        let mut instance = b",\"instance_id\":".to_vec();
        json_bytes(&mut instance, instance_id);
        let mut thread_prefix = Vec::new();
        escape_into(&mut thread_prefix, &TaskId::thread_id_prefix(service, self.pid));
        Rendered { fixed, instance, thread_prefix }
    }

    /// The metadata of `task`'s service (the process's if that service is not rendered yet,
    /// which `refresh` before each batch rules out).
    #[inline(always)]
    pub(super) fn of(&self, task: TaskId) -> &Rendered {
        match usize::from(task.service().0) {
            0 => &self.process,
            n => self.hosted.get(n - 1).unwrap_or(&self.process),
        }
    }

    /// `"<service>-<pid>-task-<n>"` of `task` as a JSON string.
    #[inline]
    pub(super) fn thread_id(&self, out: &mut Vec<u8>, task: TaskId) {
        self.of(task).thread_id(out, task);
    }

    /// How many services are rendered (the process's included).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.hosted.len() + 1
    }
}

impl Rendered {
    /// `"<service>-<pid>-task-<n>"` as a JSON string.
    #[inline]
    pub(super) fn thread_id(&self, out: &mut Vec<u8>, task: TaskId) {
        out.push(b'"');
        out.extend_from_slice(&self.thread_prefix);
        write_u64(out, task.as_u64());
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ids_use_the_escaped_process_prefix() {
        let p = Metadata::new("svc \"q\"", "i", "dev", &Default::default(), 77);
        let mut json = Vec::new();
        p.thread_id(&mut json, TaskId(42));
        assert_eq!(serde_json::from_slice::<String>(&json).unwrap(), "svc \"q\"-77-task-42");
    }

    #[test]
    fn fixed_fields_are_valid_json() {
        let tags = [("k\"".to_string(), "v\n".to_string())].into_iter().collect();
        let p = Metadata::new("svc", "inst", "prod", &tags, 7);
        let r = p.of(TaskId(1));
        let mut obj = b"{".to_vec();
        obj.extend_from_slice(&r.fixed);
        obj.extend_from_slice(&r.instance);
        obj.push(b'}');
        let v: serde_json::Value = serde_json::from_slice(&obj).unwrap();
        assert_eq!(v["process_id"], 7);
        assert_eq!(v["service_name"], "svc");
        assert_eq!(v["tags"]["k\""], "v\n");
        assert_eq!(v["instance_id"], "inst");
    }

    #[test]
    fn a_hosted_services_tasks_get_its_name_and_instance_and_the_process_environment() {
        let mut p = Metadata::new("shop", "host-1", "prod", &Default::default(), 9);
        let inv = service::register(Some("meta-inventory"), None);
        let pay = service::register(Some("meta-payment"), Some("pay-2"));
        p.refresh();
        assert!(p.len() > usize::from(pay.0), "both rendered by refresh");
        let fields = |task: TaskId| {
            let r = p.of(task);
            let mut obj = b"{\"thread_id\":".to_vec();
            r.thread_id(&mut obj, task);
            obj.push(b',');
            obj.extend_from_slice(&r.fixed);
            obj.extend_from_slice(&r.instance);
            obj.push(b'}');
            serde_json::from_slice::<serde_json::Value>(&obj).unwrap()
        };
        let t = TaskId::next_in(inv);
        let v = fields(t);
        assert_eq!((v["service_name"].as_str(), v["instance_id"].as_str()), (Some("meta-inventory"), Some("host-1")));
        assert_eq!(v["thread_id"], format!("meta-inventory-9-task-{}", t.as_u64()));
        assert_eq!(v["environment"], "prod");
        let v = fields(TaskId::next_in(pay));
        assert_eq!((v["service_name"].as_str(), v["instance_id"].as_str()), (Some("meta-payment"), Some("pay-2")));
        let v = fields(TaskId::next());
        assert_eq!((v["service_name"].as_str(), v["instance_id"].as_str()), (Some("shop"), Some("host-1")));
    }
}
