//! `#[raceway::test]`: every option on a test that passes, and every way a test must fail proven
//! on a child process (this binary re-run on one `#[ignore]`d test), whose output must carry the
//! report (and, for `iterations`, the seed that `RACEWAY_SEED` replays).

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const CHILD: &str = "RACEWAY_TEST_ATTRIBUTE_CHILD";

/// Runs the `#[ignore]`d test `name` of this binary in a child process.
fn run_child(name: &str, seed: Option<&str>) -> (Output, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"]).env(CHILD, "1");
    match seed {
        Some(s) => cmd.env("RACEWAY_SEED", s),
        None => cmd.env_remove("RACEWAY_SEED"),
    };
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("running 1 test"), "the child did not run `{name}`:\n{text}");
    (out, text)
}

fn must_fail(name: &str) -> String {
    let (out, text) = run_child(name, None);
    assert!(!out.status.success(), "`{name}` should have failed:\n{text}");
    text
}

fn child_only() {
    assert!(std::env::var_os(CHILD).is_some(), "run only as a child process of this file's tests");
}

/// Two unordered writes of `var`: a race every time, at the sites of this macro's use (races at
/// one pair of sites are one finding; each use here is its own).
macro_rules! race_on {
    ($var:expr) => {{
        let h = raceway::thread::spawn(move || raceway::track_write($var, &0, &1));
        raceway::track_write($var, &0, &2);
        h.join().unwrap();
    }};
}

/// A write, then a joined child's write: ordered, never a race.
fn ordered_writes(var: &'static str) {
    let h = raceway::thread::spawn(move || raceway::track_write(var, &0, &1));
    h.join().unwrap();
    raceway::track_write(var, &1, &2);
}

/// Whoever takes `winner` first "owns" the audit entry. The spawned thread only writes the audit
/// log when it wins, and the main thread always appends to it without the lock: a race that
/// exists only on the schedules where the new thread overtakes the main one, which a plain run
/// almost never does (starting a thread takes longer than the main thread's few steps).
fn first_come_audit() {
    let winner = Arc::new(Mutex::new(None::<&str>));
    // A process's first recordings and spawn are slow (buffers and registries are set up): done
    // here, before the real spawn, so that a fresh process's first run is as fast as any other.
    raceway::track_read("config", &0);
    raceway::with_lock(&winner, "winner", |_| ());
    raceway::thread::spawn(|| raceway::track_read("config", &0)).join().unwrap();
    let w = winner.clone();
    let child = raceway::thread::spawn(move || {
        raceway::track_read("config", &1);
        let won = raceway::with_lock(&w, "winner", |g| *g.get_or_insert("child") == "child");
        if won {
            raceway::track_write("audit", &0, &1);
        }
    });
    raceway::track_read("config", &1);
    raceway::with_lock(&winner, "winner", |g| {
        g.get_or_insert("main");
    });
    raceway::track_write("audit", &0, &2);
    child.join().unwrap();
}

// ---- tests that pass ----

#[raceway::test]
fn a_test_without_findings_passes() {
    ordered_writes("balance");
}

#[raceway::test(expect_race = "balance")]
fn expect_race_passes_when_the_race_is_found() {
    race_on!("balance");
}

#[raceway::test(allow = "metrics.*")]
fn a_race_matching_allow_does_not_fail_the_test() {
    race_on!("metrics.requests");
}

#[raceway::test(allow = "race:cache.*", allow = "location:tests/test_attribute.rs")]
fn allow_may_be_given_several_times_and_takes_suppression_lines() {
    race_on!("cache.hits");
    // `location:` hides any finding with an access in this file.
    race_on!("anything");
}

#[raceway::test]
fn a_test_returning_ok_passes() -> Result<(), String> {
    let n: u32 = "42".parse().map_err(|e: std::num::ParseIntError| e.to_string())?;
    assert_eq!(n, 42);
    Ok(())
}

#[raceway::test]
async fn an_async_test_runs_on_a_current_thread_runtime_by_default() {
    let flavor = tokio::runtime::Handle::current().runtime_flavor();
    assert_eq!(flavor, tokio::runtime::RuntimeFlavor::CurrentThread);
    raceway::spawn(async { raceway::track_write("x", &0, &1) }).await.unwrap();
    raceway::track_write("x", &1, &2);
}

#[raceway::test(flavor = "multi_thread", worker_threads = 2, expect_race = "x")]
async fn an_async_multi_thread_test_sees_races_between_spawned_tasks() -> Result<(), tokio::task::JoinError> {
    assert_eq!(tokio::runtime::Handle::current().metrics().num_workers(), 2);
    let a = raceway::spawn(async { raceway::track_write("x", &0, &1) });
    raceway::track_write("x", &0, &2);
    a.await?;
    Ok(())
}

#[raceway::test]
#[should_panic(expected = "race report")]
fn should_panic_is_kept_and_a_race_panics_with_the_report() {
    race_on!("balance");
}

#[raceway::test(iterations = 50, expect_race = "audit")]
fn iterations_find_a_race_that_only_some_schedules_reach() {
    first_come_audit();
}

#[test]
fn iterations_find_the_schedule_dependent_race_on_every_one_of_20_runs() {
    for _ in 0..20 {
        iterations_find_a_race_that_only_some_schedules_reach();
    }
}

/// The same body run without `iterations` (no schedule fuzzing), to state how rarely a plain run
/// takes the racy path. Not an assertion on a rate (that depends on the machine): it checks that
/// every verdict is one of the two the code allows, and prints the count.
#[test]
fn without_iterations_the_schedule_dependent_race_is_rare() {
    let runs = 200;
    let found = (0..runs)
        .filter(|_| {
            let c = raceway::testing::capture(first_come_audit);
            let races: Vec<_> = c.report.races.iter().map(|r| r.variable.clone()).collect();
            assert!(races.is_empty() || races == ["audit"], "{}", c.report);
            !races.is_empty()
        })
        .count();
    eprintln!("plain runs that reached the racy path: {found} of {runs}");
}

// ---- tests that must fail, run as child processes ----

#[raceway::test]
#[ignore = "a child of a_race_fails_the_test_with_the_full_report"]
fn child_racy() {
    child_only();
    race_on!("balance");
}

#[test]
fn a_race_fails_the_test_with_the_full_report() {
    let text = must_fail("child_racy");
    assert!(text.contains("#[raceway::test] `child_racy` found a race"), "{text}");
    assert!(text.contains("race #1: CRITICAL write/write on `balance`"), "{text}");
    assert!(text.contains("[raceway] 1 race (1 critical, 0 warning)"), "{text}");
}

#[raceway::test(expect_race = "balance")]
#[ignore = "a child of a_missing_expected_race_fails_the_test"]
fn child_expects_a_race_that_does_not_happen() {
    child_only();
    ordered_writes("balance");
}

#[test]
fn a_missing_expected_race_fails_the_test() {
    let text = must_fail("child_expects_a_race_that_does_not_happen");
    assert!(text.contains("expected a race on `balance`, none found in 1 run"), "{text}");
}

#[raceway::test(expect_race = "balance")]
#[ignore = "a child of an_unexpected_race_fails_an_expect_race_test"]
fn child_expected_and_unexpected_races() {
    child_only();
    race_on!("balance");
    race_on!("inventory");
}

#[test]
fn an_unexpected_race_fails_an_expect_race_test() {
    let text = must_fail("child_expected_and_unexpected_races");
    assert!(text.contains("(besides the expected race on `balance`)"), "{text}");
    assert!(text.contains("on `inventory`"), "{text}");
}

#[raceway::test(allow = "metrics.*")]
#[ignore = "a child of allow_hides_only_what_it_matches"]
fn child_allowed_and_other_race() {
    child_only();
    race_on!("metrics.requests");
    race_on!("balance");
}

#[test]
fn allow_hides_only_what_it_matches() {
    let text = must_fail("child_allowed_and_other_race");
    assert!(text.contains("on `balance`"), "{text}");
    assert!(!text.contains("on `metrics.requests`"), "{text}");
    assert!(text.contains("1 finding suppressed"), "{text}");
}

#[raceway::test(iterations = 5)]
#[ignore = "a child of a_failing_iteration_names_its_seed_and_raceway_seed_replays_it"]
fn child_racy_iterations() {
    child_only();
    race_on!("balance");
}

#[test]
fn a_failing_iteration_names_its_seed_and_raceway_seed_replays_it() {
    let text = must_fail("child_racy_iterations");
    let at = text.find("replay it with RACEWAY_SEED=").unwrap_or_else(|| panic!("no seed in:\n{text}"));
    let seed: String =
        text[at + "replay it with RACEWAY_SEED=".len()..].chars().take_while(char::is_ascii_digit).collect();
    assert!(text.contains(&format!("iteration 1 of 5, seed {seed}")), "{text}");

    let (out, replay) = run_child("child_racy_iterations", Some(&seed));
    assert!(!out.status.success(), "{replay}");
    assert!(replay.contains(&format!("iteration 1 of 1, seed {seed}: replay it with RACEWAY_SEED={seed}")), "{replay}");
}

#[raceway::test(iterations = 50)]
#[ignore = "a child of iterations_fail_a_test_whose_race_only_some_schedules_reach"]
fn child_first_come_audit() {
    child_only();
    first_come_audit();
}

#[test]
fn iterations_fail_a_test_whose_race_only_some_schedules_reach() {
    let text = must_fail("child_first_come_audit");
    assert!(text.contains("on `audit`"), "{text}");
    assert!(text.contains("replay it with RACEWAY_SEED="), "{text}");
}

#[raceway::test]
#[ignore = "a child of an_err_result_fails_the_test"]
fn child_returns_err() -> Result<(), String> {
    child_only();
    ordered_writes("balance");
    Err("the body failed".into())
}

#[test]
fn an_err_result_fails_the_test() {
    let text = must_fail("child_returns_err");
    assert!(text.contains("the body failed"), "{text}");
}

#[raceway::test(flavor = "multi_thread")]
#[ignore = "a child of an_async_race_fails_the_test"]
async fn child_async_racy() {
    child_only();
    let a = raceway::spawn(async { raceway::track_write("x", &0, &1) });
    raceway::track_write("x", &0, &2);
    a.await.unwrap();
}

#[test]
fn an_async_race_fails_the_test() {
    let text = must_fail("child_async_racy");
    assert!(text.contains("#[raceway::test] `child_async_racy` found a race"), "{text}");
    assert!(text.contains("on `x`"), "{text}");
}

#[test]
fn a_failing_test_writes_its_report_files_named_after_the_test_and_annotates_for_github() {
    let dir = std::env::temp_dir().join(format!("raceway-test-attr-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_racy", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env_remove("RACEWAY_SEED")
        // A directory that does not exist yet, as `target/raceway/` in a fresh CI checkout.
        .env("RACEWAY_REPORT_SARIF", dir.join("reports/raceway-{pid}.sarif"))
        .env("RACEWAY_REPORT_HTML", dir.join("reports/{test}.html"))
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("::error file=tests/test_attribute.rs,line="), "an annotation per finding:\n{text}");

    let files: Vec<String> = std::fs::read_dir(dir.join("reports"))
        .unwrap_or_else(|e| panic!("no report directory ({e}):\n{text}"))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let sarif = files.iter().find(|f| f.ends_with("-child_racy.sarif")).unwrap_or_else(|| panic!("{files:?}"));
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reports").join(sarif)).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "raceway/data-race");
    let html = std::fs::read_to_string(dir.join("reports/child_racy.html")).unwrap();
    assert!(html.contains("balance"), "the HTML report names the variable");
    let _ = std::fs::remove_dir_all(&dir);
}
