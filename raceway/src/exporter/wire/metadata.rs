//! What every event of one client says about its process, rendered once when the sink is built
//! (the identity itself lives in `context::process`; `lifecycle` hands it over).

use super::json::{escape_into, json_bytes, write_u64};
use crate::event::id::TaskId;
use std::collections::BTreeMap;

/// Per-process metadata, pre-rendered as JSON fragments.
#[derive(Debug)]
pub(crate) struct Metadata {
    /// `"process_id":..,"service_name":..,"environment":..,"tags":{..}`.
    pub(super) fixed: Vec<u8>,
    /// `,"instance_id":".."`.
    pub(super) instance: Vec<u8>,
    /// `<service>-<pid>-task-`, JSON-escaped (no quotes): every thread id is this plus a number.
    thread_prefix: Vec<u8>,
}

impl Metadata {
    pub(crate) fn new(
        service: &str,
        instance_id: &str,
        environment: &str,
        tags: &BTreeMap<String, String>,
        pid: u32,
    ) -> Self {
        let mut fixed = b"\"process_id\":".to_vec();
        write_u64(&mut fixed, pid.into());
        fixed.extend_from_slice(b",\"service_name\":");
        json_bytes(&mut fixed, service);
        fixed.extend_from_slice(b",\"environment\":");
        json_bytes(&mut fixed, environment);
        fixed.extend_from_slice(b",\"tags\":{");
        for (i, (k, v)) in tags.iter().enumerate() {
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
        escape_into(&mut thread_prefix, &TaskId::thread_id_prefix(service, pid));
        Metadata { fixed, instance, thread_prefix }
    }

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
        let mut obj = b"{".to_vec();
        obj.extend_from_slice(&p.fixed);
        obj.extend_from_slice(&p.instance);
        obj.push(b'}');
        let v: serde_json::Value = serde_json::from_slice(&obj).unwrap();
        assert_eq!(v["process_id"], 7);
        assert_eq!(v["service_name"], "svc");
        assert_eq!(v["tags"]["k\""], "v\n");
        assert_eq!(v["instance_id"], "inst");
    }
}
