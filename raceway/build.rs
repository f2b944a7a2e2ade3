//! One cfg for "instrumentation is compiled in": the `enabled` feature is on and the `off`
//! feature is not. Features are unified across the dependency graph and can only be added, so
//! `off` must win over an `enabled` that some other crate's `raceway = "0.1"` turned on (as
//! tracing's `max_level_off` wins over any `max_level_*`); a single cfg keeps that rule in one
//! place instead of spelling `all(feature = "enabled", not(feature = "off"))` at every site.
//!
//! `raceway_tokio`: the tokio runtime is linked (the `tokio` feature, or the exporter, which runs
//! on it). Recognising tasks the SDK did not see start (`tokio::task::try_id`) and joins of
//! tokio's own `JoinHandle`s needs only that, not the `tokio` feature's public API: a program
//! that uses tokio but never named raceway's `tokio` feature still gets right verdicts.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(raceway_on)");
    println!("cargo::rustc-check-cfg=cfg(raceway_tokio)");
    println!("cargo::rerun-if-changed=build.rs");
    let enabled = std::env::var_os("CARGO_FEATURE_ENABLED").is_some();
    let off = std::env::var_os("CARGO_FEATURE_OFF").is_some();
    if enabled && !off {
        println!("cargo::rustc-cfg=raceway_on");
    }
    if std::env::var_os("CARGO_FEATURE_TOKIO").is_some() || std::env::var_os("CARGO_FEATURE_EXPORTER").is_some() {
        println!("cargo::rustc-cfg=raceway_tokio");
    }
}
