//! The embedded analyzer as a program meets it: `init` without a server, `raceway::report()`,
//! the report printed to stderr at shutdown and the JSON file named by `RACEWAY_REPORT_JSON`.
//!
//! What a process prints at shutdown can only be seen from outside, so each check runs this test
//! binary again as a child process, restricted to one of the `child_*` programs below (ignored in
//! a normal run), and reads its stderr.

use std::process::{Command, Output};

const CHILD: &str = "RACEWAY_ANALYZER_TEST_CHILD";

fn run_child(name: &str, json: Option<&std::path::Path>) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"]).env(CHILD, "1");
    cmd.env_remove("RACEWAY_URL").env_remove("RACEWAY_ANALYZE");
    match json {
        Some(p) => cmd.env("RACEWAY_REPORT_JSON", p),
        None => cmd.env_remove("RACEWAY_REPORT_JSON"),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "child {name} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
#[ignore = "a child program of shutdown_prints_the_race_report_and_writes_it_as_json"]
fn child_racy_bank() {
    assert!(std::env::var_os(CHILD).is_some(), "run only as a child process");
    let guard = raceway::init(raceway::Config::default().service_name("bank")).unwrap();
    for _ in 0..3 {
        let h = raceway::thread::spawn(|| raceway::track_write("alice.balance", &100, &50));
        raceway::track_write("alice.balance", &100, &70);
        h.join().unwrap();
    }
    let report = raceway::report();
    assert_eq!(report.races.len(), 1, "{report}");
    assert_eq!(report.races[0].count, 3);
    drop(guard);
    assert_eq!(raceway::report().races.len(), 1, "the last run's report stays readable after shutdown");
}

#[test]
#[ignore = "a child program of a_clean_run_prints_one_summary_line"]
fn child_fixed_bank() {
    assert!(std::env::var_os(CHILD).is_some(), "run only as a child process");
    let guard = raceway::init(raceway::Config::default().service_name("bank")).unwrap();
    let balance = std::sync::Arc::new(std::sync::Mutex::new(100u64));
    let b = balance.clone();
    let h = raceway::thread::spawn(move || {
        raceway::with_lock(&b, "accounts", |v| {
            raceway::track_write("alice.balance", &*v, &(*v - 50));
            *v -= 50;
        })
    });
    raceway::with_lock(&balance, "accounts", |v| {
        raceway::track_write("alice.balance", &*v, &(*v - 30));
        *v -= 30;
    });
    h.join().unwrap();
    drop(guard);
}

#[test]
fn shutdown_prints_the_race_report_and_writes_it_as_json() {
    let json = std::env::temp_dir().join(format!("raceway-report-{}.json", std::process::id()));
    let out = run_child("child_racy_bank", Some(&json));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("race #1: CRITICAL write/write on `alice.balance` (seen 3 times)"), "{stderr}");
    assert!(stderr.contains("tests/analyzer_report.rs:"), "both locations are shown: {stderr}");
    assert!(stderr.contains("task bank-"), "tasks are named by thread_id: {stderr}");
    assert!(stderr.contains("100 -> 50") && stderr.contains("100 -> 70"), "{stderr}");
    assert!(stderr.contains("[raceway] 1 race (1 critical, 0 warning), 0 potential deadlocks in"), "{stderr}");

    let text = std::fs::read_to_string(&json).unwrap();
    let _ = std::fs::remove_file(&json);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["clean"], false);
    assert_eq!(v["races"][0]["variable"], "alice.balance");
    assert_eq!(v["races"][0]["severity"], "CRITICAL");
    assert_eq!(v["races"][0]["count"], 3);
    assert!(v["races"][0]["first"]["thread_id"].as_str().unwrap().starts_with("bank-"));
}

#[test]
fn a_clean_run_prints_one_summary_line() {
    let out = run_child("child_fixed_bank", None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("[raceway]")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("[raceway] no races or lock-order inversions found in"), "{stderr}");
    assert!(lines[0].contains("(2 accesses to 1 variable)"), "{stderr}");
}
