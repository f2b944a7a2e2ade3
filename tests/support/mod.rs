//! Test support shared by the integration tests: a loopback collector that plays the Raceway
//! server (and misbehaves on command), a strict mirror of the server's event types, and the
//! contract's ordering rule as an assertion.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

pub mod collector;
pub mod server_types;
pub mod services;

/// Asserts the contract's ordering rule over what the server accepted: every parent arrived before
/// its child, and no event arrived twice.
pub fn assert_parents_first_and_no_duplicates(events: &[serde_json::Value]) {
    let mut seen = std::collections::HashSet::new();
    for e in events {
        let id = e["id"].as_str().unwrap().to_string();
        if let Some(p) = e["parent_id"].as_str() {
            assert!(seen.contains(p), "event {id} arrived before its parent {p}");
        }
        assert!(seen.insert(id.clone()), "event {id} arrived twice");
    }
}

/// `init` is process-wide: the tests of one binary that install a client take turns through this.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
