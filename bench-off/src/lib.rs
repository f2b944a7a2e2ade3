//! Holds the compiled-out benchmark (`benches/compiled_out.rs`). Run it on its own,
//! `cargo bench -p raceway-bench-off`, so that cargo resolves `raceway` without its default
//! features; inside a whole-workspace build other members turn instrumentation back on.
