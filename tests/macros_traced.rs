//! `#[raceway::traced]` on synchronous functions and methods: what is recorded, where, and when.

// Generated code must not make rustc warn about the user's code (this file would not compile).
#![deny(warnings)]

use raceway::testing::capture;
use raceway::{Event, EventKind};
use serde_json::json;

/// The `FunctionCall` events' (name, module, args, file, line), in order.
fn calls(events: &[Event]) -> Vec<(String, &'static str, serde_json::Value, &'static str, u32)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::FunctionCall { function_name, module, args, location } => {
                Some((function_name.to_string(), *module, args.clone(), location.file, location.line))
            }
            _ => None,
        })
        .collect()
}

fn exit(e: &Event) -> (&str, &serde_json::Value, bool) {
    match &e.kind {
        EventKind::FunctionExit { function_name, return_value, panicked, .. } => {
            (function_name.as_str(), return_value, *panicked)
        }
        other => panic!("expected FunctionExit, got {other:?}"),
    }
}

const TRANSFER_LINE: u32 = line!() + 2;
#[raceway::traced]
fn transfer(from: &str, to: String, amount: u64) -> u64 {
    let _ = (from, to);
    std::thread::sleep(std::time::Duration::from_millis(2));
    amount
}

#[test]
fn a_call_records_name_module_file_line_and_json_args_then_the_end_with_its_duration() {
    let c = capture(|| transfer("alice", "bob".to_string(), 5));
    assert_eq!(c.output, 5);
    assert_eq!(c.events.len(), 2, "{:#?}", c.events);
    assert_eq!(
        calls(&c.events),
        vec![(
            "transfer".to_string(),
            module_path!(),
            json!({"from": "alice", "to": "bob", "amount": 5}),
            file!(),
            TRANSFER_LINE
        )]
    );
    let (name, ret, panicked) = exit(&c.events[1]);
    assert_eq!((name, ret, panicked), ("transfer", &json!(null), false));
    assert_eq!(c.events[1].parent_id, Some(c.events[0].id), "the end descends from the call");
    assert_eq!(c.events[0].task, c.events[1].task);
    let duration = c.events[1].duration_ns.expect("the end carries the duration");
    assert!(duration >= 2_000_000, "slept 2 ms, measured {duration} ns");
    assert_eq!(c.events[0].duration_ns, None);
}

#[derive(Debug)]
struct DebugOnly {
    id: u32,
}

struct Neither;

#[raceway::traced]
fn mixed(n: i32, d: DebugOnly, x: Neither) -> u32 {
    let _ = x;
    d.id + n as u32
}

#[test]
fn arguments_are_json_when_serialize_else_debug_else_the_type_name() {
    let c = capture(|| mixed(1, DebugOnly { id: 2 }, Neither));
    assert_eq!(c.output, 3);
    let args = &calls(&c.events)[0].2;
    assert_eq!(args["n"], json!(1));
    assert_eq!(args["d"], json!("DebugOnly { id: 2 }"));
    assert_eq!(args["x"], json!(format!("<{}>", std::any::type_name::<Neither>())));
}

#[raceway::traced(name = "bank.withdraw", skip(secret), fields(account = account.to_uppercase(), cents = amount * 100))]
fn withdraw(account: &str, amount: u64, secret: &str) -> u64 {
    let _ = secret;
    amount
}

#[raceway::traced(skip_all, fields(len = payload.len()))]
fn upload(payload: Vec<u8>, token: String) -> usize {
    let _ = token;
    payload.len()
}

#[test]
fn options_rename_the_call_skip_arguments_and_add_fields() {
    let c = capture(|| withdraw("alice", 3, "hunter2"));
    let (name, _, args, _, _) = &calls(&c.events)[0];
    assert_eq!(name, "bank.withdraw");
    // `account` is both an argument and a field: the field, added last, wins.
    assert_eq!(args, &json!({"account": "ALICE", "amount": 3, "cents": 300}));
    assert!(!args.to_string().contains("hunter2"));
    assert_eq!(exit(&c.events[1]).0, "bank.withdraw");

    let c = capture(|| upload(vec![1, 2, 3], "t".into()));
    assert_eq!(calls(&c.events)[0].2, json!({"len": 3}));

    let c = capture(|| secret_only("hunter2"));
    assert_eq!(calls(&c.events)[0].2, json!({}), "skip_all alone: an empty args object");
}

#[raceway::traced(skip_all)]
fn secret_only(password: &str) -> usize {
    password.len()
}

#[derive(Debug)]
struct Overdrawn {
    missing: u64,
}

impl std::fmt::Display for Overdrawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "overdrawn by {}", self.missing)
    }
}

impl std::error::Error for Overdrawn {}

fn balance_of(account: &str) -> Result<u64, Overdrawn> {
    if account == "alice" {
        Ok(10)
    } else {
        Err(Overdrawn { missing: 7 })
    }
}

const DEBIT_LINE: u32 = line!() + 2;
#[raceway::traced(err, ret)]
fn debit(account: &str, amount: u64) -> Result<u64, Overdrawn> {
    if amount == 0 {
        return Ok(0);
    }
    let balance = balance_of(account)?;
    Ok(balance - amount)
}

#[test]
fn err_records_the_error_type_and_message_before_the_end() {
    let c = capture(|| debit("mallory", 5));
    assert!(c.output.is_err());
    assert_eq!(c.events.len(), 3, "{:#?}", c.events);
    match &c.events[1].kind {
        EventKind::Error { error_type, message, stack_trace } => {
            assert_eq!(error_type.as_str(), std::any::type_name::<Overdrawn>());
            assert_eq!(message, "overdrawn by 7");
            assert_eq!(stack_trace, &vec![format!("{}:{}", file!(), DEBIT_LINE)]);
        }
        other => panic!("expected Error, got {other:?}"),
    }
    assert_eq!(c.events[1].parent_id, Some(c.events[0].id));
    assert_eq!(exit(&c.events[2]).1, &json!("Err(Overdrawn { missing: 7 })"));
}

#[test]
fn ret_records_the_value_of_early_returns_and_question_mark_paths() {
    let early = capture(|| debit("alice", 0));
    assert_eq!(early.events.len(), 2);
    assert_eq!(exit(&early.events[1]).1, &json!("Ok(0)"), "Result is Debug-captured: it is not Serialize here");
    let normal = capture(|| debit("alice", 4));
    assert_eq!(exit(&normal.events[1]).1, &json!("Ok(6)"));
}

#[raceway::traced(ret)]
fn total(values: &[u32]) -> u32 {
    values.iter().sum()
}

#[test]
fn ret_records_a_serializable_value_as_json() {
    let c = capture(|| total(&[1, 2, 3]));
    assert_eq!(exit(&c.events[1]).1, &json!(6));
}

#[raceway::traced]
fn explode(reason: &str) {
    panic!("{reason}");
}

#[test]
fn a_panicking_call_still_records_its_end_marked_panicked() {
    let c = capture(|| std::panic::catch_unwind(|| explode("boom")).is_err());
    assert!(c.output);
    assert_eq!(c.events.len(), 2);
    let (name, _, panicked) = exit(&c.events[1]);
    assert_eq!((name, panicked), ("explode", true));
    assert!(c.events[1].duration_ns.is_some());
}

#[raceway::traced]
fn outer(n: u32) -> u32 {
    inner(n) + inner(n + 1)
}

#[raceway::traced]
fn inner(n: u32) -> u32 {
    n * 2
}

#[test]
fn nested_calls_chain_on_one_task_in_call_order() {
    let c = capture(|| outer(1));
    assert_eq!(c.output, 6);
    let names: Vec<String> = c
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::FunctionCall { function_name, .. } => format!("call {function_name}"),
            EventKind::FunctionExit { function_name, .. } => format!("exit {function_name}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["call outer", "call inner", "exit inner", "call inner", "exit inner", "exit outer"]);
    for pair in c.events.windows(2) {
        assert_eq!(pair[1].parent_id, Some(pair[0].id), "each event descends from the previous one");
    }
    assert!(c.events.iter().all(|e| e.task == c.events[0].task));
    assert_eq!(calls(&c.events)[1].2, json!({"n": 1}));
}

struct Account {
    balance: u64,
}

trait Ledger {
    fn credit(&mut self, amount: u64) -> u64;
}

impl Account {
    #[raceway::traced]
    fn balance(&self) -> u64 {
        self.balance
    }

    #[raceway::traced]
    fn close(self) -> u64 {
        self.balance
    }

    #[raceway::traced]
    fn largest<T, I>(items: I) -> Option<T>
    where
        T: Ord + serde::Serialize,
        I: IntoIterator<Item = T> + std::fmt::Debug,
    {
        items.into_iter().max()
    }

    #[raceway::traced]
    unsafe fn read_raw(ptr: *const u64) -> u64 {
        // SAFETY: the caller passes a valid pointer.
        unsafe { *ptr }
    }
}

impl Ledger for Account {
    #[raceway::traced]
    fn credit(&mut self, amount: u64) -> u64 {
        self.balance += amount;
        self.balance
    }
}

#[test]
fn methods_generic_functions_and_unsafe_functions_are_traced_without_capturing_self() {
    let c = capture(|| {
        let mut a = Account { balance: 1 };
        a.credit(2);
        let b = a.balance();
        let largest = Account::largest(vec![3, 9, 4]);
        let raw = unsafe { Account::read_raw(&a.balance) };
        (b, largest, raw, a.close())
    });
    assert_eq!(c.output, (3, Some(9), 3, 3));
    let calls = calls(&c.events);
    let summary: Vec<(&str, &serde_json::Value)> = calls.iter().map(|c| (c.0.as_str(), &c.2)).collect();
    assert_eq!(summary[0], ("credit", &json!({"amount": 2})));
    assert_eq!(summary[1], ("balance", &json!({})));
    assert_eq!(summary[2], ("largest", &json!({"items": "[3, 9, 4]"})));
    assert_eq!(summary[3].0, "read_raw");
    assert_eq!(summary[4], ("close", &json!({})));
}

#[raceway::traced]
fn destructure((a, b): (u8, u8), DebugOnly { id }: DebugOnly) -> u32 {
    u32::from(a + b) + id
}

#[test]
fn arguments_bound_by_patterns_are_captured_by_their_bound_names() {
    let c = capture(|| destructure((1, 2), DebugOnly { id: 3 }));
    assert_eq!(c.output, 6);
    assert_eq!(calls(&c.events)[0].2, json!({"a": 1, "b": 2, "id": 3}));
}

#[test]
fn a_call_on_a_spawned_thread_is_recorded_on_the_child_task_after_the_spawn() {
    let c = capture(|| {
        let h = raceway::thread::spawn(|| inner(20));
        let out = h.join().unwrap();
        (out, raceway::Context::current_task())
    });
    let (out, parent) = c.output;
    assert_eq!(out, 40);
    let kinds: Vec<&str> = c
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::AsyncSpawn { .. } => "spawn",
            EventKind::FunctionCall { .. } => "call",
            EventKind::FunctionExit { .. } => "exit",
            EventKind::AsyncAwait { .. } => "join",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["spawn", "call", "exit", "join"]);
    let child = c.events[1].task;
    assert_ne!(Some(child), parent);
    assert_eq!(c.events[2].task, child);
    assert_eq!(c.events[1].parent_id, Some(c.events[0].id), "the call descends from the spawn");
    assert_eq!(c.events[3].parent_id, Some(c.events[2].id), "the join descends from the child's end");
    assert_eq!(Some(c.events[3].task), parent);
}

/// A body that is a single expression: the generated code must not trigger `unused_braces`.
#[raceway::traced]
fn single_expression(a: u64) -> u64 {
    if a > 0 {
        a
    } else {
        1
    }
}

#[test]
fn a_single_expression_body_compiles_without_warnings_and_is_traced() {
    let c = capture(|| single_expression(3));
    assert_eq!(c.output, 3);
    assert_eq!(calls(&c.events).len(), 1);
}
