//! Test support shared by the integration tests: a loopback collector that plays the Raceway
//! server (and misbehaves on command), and a strict mirror of the server's event types.
#![allow(dead_code)]

pub mod collector;
pub mod server_types;
