//! `#[traced]` functions through the staged path, as the server receives them: the call and the
//! end are staged compact (`event/function.rs`: a per-function static site, arguments inline) and
//! expanded by the delivery thread, and must reach the wire as the same `FunctionCall` objects the
//! full path sent (name, module, file and line of the function, the arguments object, the return
//! value, the panic flag).

mod support;

use raceway::Config;
use std::time::Duration;
use support::collector::Collector;
use support::serial;

fn config(c: &Collector) -> Config {
    Config::default()
        .coalesce_accesses(false)
        .server_url(c.url())
        .service_name("traced-wire-test")
        .flush_interval(Duration::from_millis(50))
        .request_timeout(Duration::from_secs(2))
}

const TRANSFER_LINE: u32 = line!() + 2;
#[raceway::traced(ret)]
fn transfer(from: &str, amount: i64) -> i64 {
    let _ = from;
    amount * 2
}

#[derive(serde::Serialize)]
struct Account {
    id: u32,
}

#[derive(Debug)]
#[allow(dead_code)]
struct NotSerialize(u8);

#[raceway::traced(fields(extra = 7))]
fn many(a: u8, b: i64, account: Account, debug: NotSerialize, flag: bool) {
    let _ = (a, b, account, debug, flag);
}

#[raceway::traced(skip_all)]
fn skipped(secret: &str) {
    let _ = secret;
}

#[raceway::traced]
fn fails() {
    panic!("boom");
}

/// The `FunctionCall` objects (entries and ends) the collector accepted, in order.
fn calls(c: &Collector) -> Vec<serde_json::Value> {
    c.accepted_events().into_iter().map(|e| e["kind"]["FunctionCall"].clone()).filter(|k| !k.is_null()).collect()
}

#[test]
fn traced_calls_and_ends_reach_the_server_as_full_function_calls() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c)).unwrap();
    std::thread::spawn(|| {
        assert_eq!(transfer("alice", 21), 42);
        many(1, -2, Account { id: 3 }, NotSerialize(4), true);
        skipped("hunter2");
        assert!(std::panic::catch_unwind(fails).is_err());
    })
    .join()
    .unwrap();
    drop(guard);
    let calls = calls(&c);
    assert_eq!(calls.len(), 8, "{calls:#?}");
    let module = module_path!();
    assert_eq!(
        calls[0],
        serde_json::json!({
            "function_name": "transfer", "module": module, "args": {"from": "alice", "amount": 21},
            "file": file!(), "line": TRANSFER_LINE,
        })
    );
    assert_eq!(
        calls[1],
        serde_json::json!({
            "function_name": "transfer", "module": module,
            "args": {"exit": true, "return_value": 42, "panicked": false},
            "file": file!(), "line": TRANSFER_LINE,
        })
    );
    assert_eq!(
        calls[2]["args"],
        serde_json::json!({
            "a": 1, "b": -2, "account": {"id": 3}, "debug": "NotSerialize(4)", "flag": true, "extra": 7,
        })
    );
    assert_eq!(calls[3]["args"], serde_json::json!({"exit": true, "return_value": null, "panicked": false}));
    assert_eq!(calls[4]["args"], serde_json::json!({}), "skip_all: the empty object, as before");
    assert_eq!(calls[6]["function_name"], "fails");
    assert_eq!(calls[7]["args"], serde_json::json!({"exit": true, "return_value": null, "panicked": true}));
}

#[test]
fn traced_arguments_are_kept_out_when_capture_args_is_off() {
    let _s = serial();
    let c = Collector::start();
    let guard = raceway::init(config(&c).capture_args(false)).unwrap();
    std::thread::spawn(|| transfer("hunter2", 1)).join().unwrap();
    drop(guard);
    let calls = calls(&c);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(calls[0]["args"].is_null(), "{calls:#?}");
    assert!(!format!("{calls:?}").contains("hunter2"));
}
