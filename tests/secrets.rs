//! The API key travels only in the `Authorization` header: never in debug logs, `Debug` output,
//! error messages, panics, the race report, or request bodies.
//!
//! The test re-runs this test binary as a child process (with the key in its environment) so that
//! everything the SDK writes to stderr and stdout can be inspected.

mod support;

use std::process::Command;
use support::collector::{Collector, Reply};

const KEY: &str = "rk_live_7Hq2-very-secret";
const CHILD: &str = "RACEWAY_SECRETS_TEST_CHILD";

#[test]
fn the_api_key_appears_only_in_the_authorization_header() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    // First answer: 401, so the SDK's "refused API key" message is exercised too.
    let c = Collector::with(|req, n| {
        if n == 0 {
            Reply::Status(401, r#"{"success":false,"data":null,"error":"Unauthorized"}"#.into())
        } else {
            Reply::ok(req.events().len())
        }
    });
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "the_api_key_appears_only_in_the_authorization_header", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("RACEWAY_URL", c.url())
        .env("RACEWAY_API_KEY", KEY)
        .env("RACEWAY_DEBUG", "true")
        .env("RACEWAY_ANALYZE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed:\n{stderr}\n{stdout}");
    assert!(stderr.contains("[raceway]"), "debug logging was on: {stderr}");
    assert!(stderr.contains("refused the API key"), "{stderr}");
    assert!(stderr.contains("race report") || stderr.contains("no races"), "a report was printed: {stderr}");
    assert!(!stderr.contains(KEY) && !stdout.contains(KEY), "the key leaked:\n{stderr}\n{stdout}");

    let reqs = c.requests();
    assert!(reqs.len() >= 2);
    for (r, _) in &reqs {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
        assert!(!String::from_utf8_lossy(&r.body).contains(KEY), "the key is not in the body");
        for (name, value) in &r.headers {
            assert!(name.eq_ignore_ascii_case("authorization") || !value.contains(KEY), "{name} carries the key");
        }
    }
}

/// Everything a program might print about its instrumentation, with the key configured.
fn child() {
    let config = raceway::Config::from_env().unwrap();
    eprintln!("config: {config:?}");
    let err = raceway::init(config.clone()).and_then(|_g| raceway::init(config)).unwrap_err();
    eprintln!("error: {err} / {err:?}");
    let guard = raceway::init(raceway::Config::from_env().unwrap()).unwrap();
    raceway::track_write("x", &0, &1);
    assert!(raceway::flush());
    let h = raceway::thread::spawn(|| raceway::track_write("x", &1, &2));
    raceway::track_write("x", &1, &3);
    h.join().unwrap();
    let panicked = std::panic::catch_unwind(|| {
        raceway::track_read("y", &0);
        panic!("host code failed");
    });
    assert!(panicked.is_err());
    eprintln!("report: {}", raceway::report());
    eprintln!("stats: {:?}", raceway::stats());
    drop(guard);
}
