//! Crate-internal tests that run the whole pipeline (record → context → stage → analyzer or
//! wire) and so import across stages. Nothing imports this module, which is why it may: the
//! module-graph check (`tests/module_graph.rs` at the workspace root) lets it, and only it,
//! reach every stage. Tests of one stage alone live beside its code.

// Recording needs the `enabled` feature.
#[cfg(raceway_on)]
mod analyzer;
#[cfg(raceway_on)]
mod analyzer_lru;
#[cfg(all(raceway_on, feature = "exporter"))]
mod coalesce;
#[cfg(raceway_on)]
mod propagation;
#[cfg(raceway_on)]
mod traced;
#[cfg(raceway_on)]
mod wire;
