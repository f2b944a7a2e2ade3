//! Whole programs in CI: the exit status on findings (`Config::exit_code_on_findings`,
//! `RACEWAY_EXITCODE`) and suppressions files (`RACEWAY_SUPPRESSIONS`, `Config::suppressions`),
//! each proven on a child process (this binary re-run on one `#[ignore]`d test that plays the
//! program: `init`, some work, the guard dropped at the end).

use std::path::Path;
use std::process::{Command, Output};

const CHILD: &str = "RACEWAY_EXIT_STATUS_CHILD";
/// How the child configures itself: `config` (exit code in `Config`), `env` or `none`.
const MODE: &str = "RACEWAY_EXIT_STATUS_MODE";
/// `race` or `clean`.
const WORK: &str = "RACEWAY_EXIT_STATUS_WORK";

struct Child<'a> {
    mode: &'a str,
    work: &'a str,
    env: Vec<(&'a str, String)>,
}

impl Child<'_> {
    fn run(&self) -> (Output, String) {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "child_program", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env(MODE, self.mode)
            .env(WORK, self.work);
        for var in ["RACEWAY_URL", "RACEWAY_ANALYZE", "RACEWAY_EXITCODE", "RACEWAY_SUPPRESSIONS", "RACEWAY_REPORT_JSON"]
        {
            cmd.env_remove(var);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("running 1 test"), "the child did not run:\n{text}");
        (out, text)
    }
}

fn child(mode: &'static str, work: &'static str) -> Child<'static> {
    Child { mode, work, env: Vec::new() }
}

#[test]
#[ignore = "the program the tests of this file run as a child process"]
fn child_program() {
    assert!(std::env::var_os(CHILD).is_some(), "run only as a child process");
    let mut config = raceway::Config::default().service_name("ci");
    match std::env::var(MODE).unwrap().as_str() {
        "config" => config = config.exit_code_on_findings(66),
        "config-supp" => {
            config = config.suppressions(std::env::var("SUPP_PATH").unwrap()).exit_code_on_findings(66);
        }
        _ => {}
    }
    let guard = raceway::init(config).unwrap();
    let work = std::env::var(WORK).unwrap();
    for var in work.split(',') {
        match var {
            "clean" => {
                let h = raceway::thread::spawn(|| raceway::track_write("balance", &0, &1));
                h.join().unwrap();
                raceway::track_write("balance", &1, &2);
            }
            "cache.hits" => {
                let h = raceway::thread::spawn(|| raceway::track_write("cache.hits", &0, &1));
                raceway::track_write("cache.hits", &0, &2);
                h.join().unwrap();
            }
            "balance" => {
                let h = raceway::thread::spawn(|| raceway::track_write("balance", &0, &1));
                raceway::track_write("balance", &0, &2);
                h.join().unwrap();
            }
            other => panic!("unknown work {other}"),
        }
    }
    drop(guard);
}

fn write_supp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("raceway-supp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn a_race_exits_with_the_status_set_in_config_after_the_report() {
    let (out, text) = child("config", "balance").run();
    assert_eq!(out.status.code(), Some(66), "{text}");
    let report = text.find("race #1: CRITICAL write/write on `balance`").expect("the report is printed");
    let exit = text.find("[raceway] exiting with status 66").expect("the exit is said");
    assert!(report < exit, "the report comes before the exit:\n{text}");
}

#[test]
fn a_race_exits_with_the_status_in_raceway_exitcode() {
    let mut c = child("none", "balance");
    c.env.push(("RACEWAY_EXITCODE", "66".into()));
    let (out, text) = c.run();
    assert_eq!(out.status.code(), Some(66), "{text}");
}

#[test]
fn a_clean_program_exits_zero_when_opted_in() {
    let (out, text) = child("config", "clean").run();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("[raceway] no races"), "{text}");
}

#[test]
fn a_race_exits_zero_when_not_opted_in() {
    let (out, text) = child("none", "balance").run();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("race #1: CRITICAL write/write on `balance`"), "{text}");
}

#[test]
fn suppressed_findings_are_hidden_counted_and_unmatched_lines_named_once() {
    let supp = write_supp(
        "hidden.supp",
        "# known and accepted\nrace:cache.*\n\nlocation:src/nowhere.rs:1 # stale\nrace:never.*\nnot a rule\n",
    );
    let mut c = child("none", "cache.hits,balance");
    c.env.push(("RACEWAY_SUPPRESSIONS", supp));
    let (out, text) = c.run();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("on `cache.hits`"), "hidden:\n{text}");
    assert!(text.contains("race #1: CRITICAL write/write on `balance`"), "{text}");
    assert!(text.contains("; 1 finding suppressed"), "counted:\n{text}");
    for line in ["location:src/nowhere.rs:1", "race:never.*"] {
        let said = format!("[raceway] suppression `{line}` matched nothing");
        assert_eq!(text.matches(&said).count(), 1, "`{line}` named once:\n{text}");
    }
    assert!(!text.contains("suppression `race:cache.*` matched nothing"), "{text}");
    assert_eq!(text.matches("line 6: `not a rule`").count(), 1, "a malformed line is said once:\n{text}");
}

#[test]
fn a_program_whose_findings_are_all_suppressed_exits_zero_when_opted_in() {
    let supp = write_supp("all.supp", "race:*\n");
    let mut c = child("config-supp", "cache.hits,balance");
    c.env.push(("SUPP_PATH", supp));
    let (out, text) = c.run();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("no races or lock-order inversions found"), "{text}");
    assert!(text.contains("; 2 findings suppressed"), "{text}");
}

#[test]
fn an_unreadable_suppressions_file_is_reported_and_the_program_runs_on() {
    let mut c = child("config", "balance");
    c.env.push(("RACEWAY_SUPPRESSIONS", Path::new("/nonexistent/raceway.supp").display().to_string()));
    let (out, text) = c.run();
    assert!(text.contains("could not read the suppressions file /nonexistent/raceway.supp"), "{text}");
    assert_eq!(out.status.code(), Some(66), "{text}");
}
