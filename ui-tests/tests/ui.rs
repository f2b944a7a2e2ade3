//! Compile-time behaviour of the macros: every supported shape compiles (`ui/pass`), every
//! rejected misuse fails with the error in its `.stderr` (`ui/fail`). One trybuild run.
//!
//! The `.stderr` files are rustc 1.95's wording; other compilers word and span errors
//! differently, so on another version this test says so and checks nothing.

#[test]
fn ui() {
    let version = std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !version.starts_with("rustc 1.95.") {
        eprintln!("skipping the ui tests: their .stderr files are for rustc 1.95, this is {version:?}");
        return;
    }
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
