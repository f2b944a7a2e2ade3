//! The compile-time off switch: the same user code builds with `default-features = false`,
//! records nothing, and does not compile the runtime's heavy dependencies.

mod fixture {
    include!("fixtures/same_code.rs");
}

mod integrations {
    include!("fixtures/integrations.rs");
}

mod tracing_bridge {
    include!("fixtures/tracing_bridge.rs");
}

/// What `tests/fixtures/integrations.rs` computes, in both builds; only `propagated` differs.
const INTEGRATIONS_LINE: &str = "balance=5 rw=2 got=7 oneshot=2 once=3 atomic=4 cell=2 path=/pay";

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn the_fixture_records_events_when_instrumentation_is_on() {
    let (events, balance) = fixture::run();
    assert_eq!(balance, 95);
    assert!(events >= 20, "every construct records: {events} events");
}

#[test]
fn the_integrations_fixture_records_and_propagates_when_instrumentation_is_on() {
    let (events, line) = integrations::run();
    assert_eq!(line, format!("{INTEGRATIONS_LINE} propagated=true"));
    assert!(events >= 20, "spawns, joins, locks, handoffs, the request: {events} events");
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

/// The README's off line, with the integrations a tokio + tower + reqwest service names. The
/// test swaps `version = "0.1"` for the path of this checkout and nothing else.
const README_OFF_LINE: &str =
    r#"raceway = { version = "0.1", default-features = false, features = ["tokio", "tower", "reqwest"] }"#;

#[test]
fn the_readme_off_line_is_the_one_this_test_builds() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains(README_OFF_LINE), "README.md no longer shows {README_OFF_LINE}");
}

#[test]
fn with_the_readme_off_line_spawn_tokio_locks_the_layer_propagation_and_sync_compile_run_and_record_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = target_dir().join("raceway-compile-off-integrations");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let raceway_path = format!("path = {:?}", root.join("raceway"));
    let raceway = README_OFF_LINE.replace(r#"version = "0.1""#, &raceway_path);
    // The user's own dependencies: what the program's code names besides raceway.
    let own = r#"tokio = { version = "1", default-features = false, features = ["rt"] }
tower = { version = "0.5", features = ["util"] }
http = "1"
reqwest = { version = "0.12", default-features = false }"#;
    let manifest = format!(
        "[package]\nname = \"raceway-off-integrations\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{raceway}\n{own}\n\n[workspace]\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let main = format!(
        "{}\nfn main() {{\n    let (events, line) = run();\n    println!(\"events={{events}} {{line}}\");\n}}\n",
        std::fs::read_to_string(root.join("tests/fixtures/integrations.rs")).unwrap()
    );
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let off = format!("events=0 {INTEGRATIONS_LINE} propagated=false");
    let stdout = cargo(&dir, &["run", "--offline", "--quiet"]);
    assert_eq!(stdout.trim(), off, "same results, no events, no header");

    // raceway itself pulls in neither the exporter's HTTP client nor the JSON encoder; reqwest
    // and tokio are there because the program names them.
    let tree = cargo(&dir, &["tree", "--offline", "--edges", "normal,build", "--prefix", "none"]);
    for heavy in ["serde_json ", "crossbeam-queue ", "rustls ", "hyper-rustls "] {
        assert!(!tree.contains(heavy), "{heavy}is compiled with instrumentation off:\n{tree}");
    }
    let features =
        cargo(&dir, &["tree", "--offline", "--edges", "features", "--prefix", "none", "-i", "raceway-macros"]);
    assert!(!features.contains(r#"raceway-macros feature "enabled""#), "macros still instrument:\n{features}");

    // Unification: a dependency that asks for raceway with its defaults turns `enabled` back on
    // for the whole build. The binary's `off` feature wins over it.
    let dep = dir.join("dep-with-defaults");
    std::fs::create_dir_all(dep.join("src")).unwrap();
    std::fs::write(
        dep.join("Cargo.toml"),
        format!(
            "[package]\nname = \"dep-with-defaults\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nraceway = {{ {raceway_path} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(dep.join("src/lib.rs"), "pub use raceway::track_write;\n").unwrap();
    let raceway = raceway.replace(r#"features = ["#, r#"features = ["off", "#);
    let manifest = format!(
        "[package]\nname = \"raceway-off-integrations\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{raceway}\n{own}\ndep-with-defaults = {{ path = \"dep-with-defaults\" }}\n\n[workspace]\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let stdout = cargo(&dir, &["run", "--offline", "--quiet"]);
    assert_eq!(stdout.trim(), off, "`off` wins over a dependency's defaults");
    let features =
        cargo(&dir, &["tree", "--offline", "--edges", "features", "--prefix", "none", "-i", "raceway-macros"]);
    assert!(features.contains(r#"raceway feature "enabled""#), "sanity: the dependency enabled it:\n{features}");
}

#[test]
fn with_instrumentation_compiled_out_raceway_test_is_plain_test_and_tokio_test() {
    // Off, nothing is recorded, so nothing is checked: `expect_race` cannot fail the test, and
    // sync, async and `Result` bodies run as `#[test]` / `#[tokio::test]` run them.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = target_dir().join("raceway-compile-off-test-attribute");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let raceway = root.join("raceway");
    let manifest = format!(
        r#"[package]
name = "raceway-off-test-attribute"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
raceway = {{ path = {raceway:?}, default-features = false, features = ["tokio"] }}
tokio = {{ version = "1", default-features = false, features = ["rt", "rt-multi-thread"] }}

[workspace]
"#
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let lib = r#"
#[raceway::test(expect_race = "balance", iterations = 3)]
fn sync_body() {
    raceway::track_write("balance", &0, &1);
}

#[raceway::test]
fn result_body() -> Result<(), String> {
    Ok(())
}

#[raceway::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_body() {
    assert_eq!(tokio::runtime::Handle::current().metrics().num_workers(), 2);
    raceway::spawn(async {}).await.unwrap();
}

#[raceway::test]
#[should_panic(expected = "kept")]
fn should_panic_kept() {
    panic!("kept");
}
"#;
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let out = cargo(&dir, &["test", "--offline", "--lib", "--quiet"]);
    assert!(out.contains("4 passed"), "{out}");
}

/// The README's off line for a program that uses the `tracing` layer and the reqwest middleware.
const README_TRACING_OFF_LINE: &str =
    r#"raceway = { version = "0.1", default-features = false, features = ["tracing", "reqwest-middleware"] }"#;

#[test]
fn the_tracing_bridge_fixture_records_spans_and_events_when_instrumentation_is_on() {
    let (events, line) = tracing_bridge::run();
    assert_eq!(line, "v=6 path=/stock");
    assert_eq!(events, 3, "the span's call and end, and the event");
}

#[test]
fn with_the_readme_off_line_the_tracing_layer_and_the_middleware_compile_run_and_record_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains(README_TRACING_OFF_LINE), "README.md no longer shows {README_TRACING_OFF_LINE}");
    let dir = target_dir().join("raceway-compile-off-tracing");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let raceway = README_TRACING_OFF_LINE.replace(r#"version = "0.1""#, &format!("path = {:?}", root.join("raceway")));
    let own = r#"tracing = "0.1"
tracing-subscriber = { version = "0.3", default-features = false, features = ["registry", "std"] }
reqwest = { version = "0.12", default-features = false }
reqwest-middleware = "0.4""#;
    let manifest = format!(
        "[package]\nname = \"raceway-off-tracing\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{raceway}\n{own}\n\n[workspace]\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let main = format!(
        "{}\nfn main() {{\n    let (events, line) = run();\n    println!(\"events={{events}} {{line}}\");\n}}\n",
        std::fs::read_to_string(root.join("tests/fixtures/tracing_bridge.rs")).unwrap()
    );
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let stdout = cargo(&dir, &["run", "--offline", "--quiet"]);
    assert_eq!(stdout.trim(), "events=0 v=6 path=/stock", "same results, no events");
    let tree = cargo(&dir, &["tree", "--offline", "--edges", "normal,build", "--prefix", "none"]);
    for heavy in ["serde_json ", "crossbeam-queue ", "rustls "] {
        assert!(!tree.contains(heavy), "{heavy}is compiled with instrumentation off:\n{tree}");
    }
}
