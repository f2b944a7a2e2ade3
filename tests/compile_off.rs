//! The compile-time off switch: the same user code builds with `default-features = false`,
//! records nothing, and does not compile the runtime's heavy dependencies.

mod fixture {
    include!("fixtures/same_code.rs");
}

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn the_fixture_records_events_when_instrumentation_is_on() {
    let (events, balance) = fixture::run();
    assert_eq!(balance, 95);
    assert!(events >= 20, "every construct records: {events} events");
}

/// `<target>/` of this test binary (`<target>/debug/deps/compile_off-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

fn cargo(dir: &Path, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(args)
        .current_dir(dir)
        // A target dir of its own: the outer `cargo test` holds the lock on ours.
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn with_default_features_off_the_same_code_compiles_records_nothing_and_skips_heavy_dependencies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = target_dir().join("raceway-compile-off");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let raceway = root.join("raceway");
    let manifest = format!(
        r#"[package]
name = "raceway-off-fixture"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
raceway = {{ path = {raceway:?}, default-features = false }}

[workspace]
"#
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let main = format!(
        "{}\nfn main() {{\n    let (events, balance) = run();\n    println!(\"events={{events}} balance={{balance}}\");\n}}\n",
        std::fs::read_to_string(root.join("tests/fixtures/same_code.rs")).unwrap()
    );
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    // The workspace's lock file pins the same versions and lets `--offline` resolve.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let stdout = cargo(&dir, &["run", "--offline", "--quiet"]);
    assert_eq!(stdout.trim(), "events=0 balance=95", "same behaviour, no events");

    let tree = cargo(&dir, &["tree", "--offline", "--edges", "normal,build", "--prefix", "none"]);
    for heavy in ["tokio ", "reqwest ", "serde_json ", "crossbeam-queue ", "hyper "] {
        assert!(!tree.contains(heavy), "{heavy}is compiled with the feature off:\n{tree}");
    }
    assert!(tree.contains("raceway-macros "), "sanity: the tree lists raceway's dependencies:\n{tree}");

    // The macros themselves are in pass-through mode: their `enabled` feature is off.
    let features =
        cargo(&dir, &["tree", "--offline", "--edges", "features", "--prefix", "none", "-i", "raceway-macros"]);
    assert!(features.contains("raceway-macros v"), "sanity: {features}");
    assert!(!features.contains(r#"raceway-macros feature "enabled""#), "macros still instrument:\n{features}");
}

#[test]
fn with_default_features_off_traced_bodies_that_spawn_and_join_compile_and_run_unchanged() {
    // The ui pass test of the spawn rewrite, as a program of its own against `raceway` without
    // its default features (and tokio as the user's own dependency).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = target_dir().join("raceway-compile-off-spawns");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let raceway = root.join("raceway");
    let manifest = format!(
        r#"[package]
name = "raceway-off-spawns"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
raceway = {{ path = {raceway:?}, default-features = false }}
tokio = {{ version = "1", default-features = false, features = ["rt"] }}

[workspace]
"#
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("ui-tests/tests/ui/pass/traced_spawns.rs"), dir.join("src/main.rs")).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    // The program asserts its own results; warnings are denied in it.
    cargo(&dir, &["run", "--offline", "--quiet"]);
    let features =
        cargo(&dir, &["tree", "--offline", "--edges", "features", "--prefix", "none", "-i", "raceway-macros"]);
    assert!(!features.contains(r#"raceway-macros feature "enabled""#), "macros still instrument:\n{features}");
}
