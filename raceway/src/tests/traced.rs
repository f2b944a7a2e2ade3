//! `#[traced]`'s compact call and end (`event/function.rs`): staged, then expanded by the
//! delivery thread's code, they must be exactly the `FunctionCall`/`FunctionExit` the full path
//! built before (same name, module, location, args object with its key order, return value,
//! panicked flag), because the analyzer, the wire and the server's views read those.

use crate::event::clock::Clock;
use crate::event::compact::Small;
use crate::event::function::{Args, Captured, FnCall, FnExit, Site};
use crate::event::id::{IdSeq, TaskId, Uuid};
use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::value::Value;
use crate::event::{Event, EventKind};
use crate::instrument::traced::{Arg, ViaDebug as _, ViaSerialize as _, ViaTypeName as _};
use crate::record::Kind;
use crate::stage::chunk::{Chunk, Context, Staged};

static SITE: Site = Site::new("transfer", "bank::accounts", "src/accounts.rs", 42, 8);

/// What the full path recorded for a call of `SITE` with these captured pairs: the `args` object
/// built by inserting the pairs in order into a `serde_json::Map` (the code this replaced).
fn full_call(pairs: Vec<(&'static str, Value)>) -> EventKind {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        map.insert(k.to_owned(), v);
    }
    full_call_with(Value::Object(map))
}

fn full_call_with(args: Value) -> EventKind {
    EventKind::FunctionCall {
        function_name: Name::from_static("transfer"),
        module: "bank::accounts",
        args,
        location: Location::new("src/accounts.rs", 42, 8),
    }
}

/// Stages `kind` in a chunk the way the recording thread does (`Kind::into_staged`) and expands
/// it the way the delivery thread does (`Chunk::expand_into`).
fn staged_then_expanded(kind: impl Kind) -> Event {
    let task = TaskId::next();
    let mut clock = Clock::new(task);
    clock.tick();
    let mut chunk = Chunk::default();
    chunk.note_context(Context {
        task,
        trace_id: Uuid::new_v4(),
        span_id: None,
        upstream_span_id: None,
        clock: &clock,
    });
    chunk.records.push(Staged {
        id: IdSeq::new().next(),
        parent_id: None,
        timestamp_ns: 1,
        duration_ns: None,
        count: 1,
        breaks_run: false,
        kind: kind.into_staged(),
    });
    let mut out = Vec::new();
    chunk.expand_into(&mut out);
    assert_eq!(out.len(), 1);
    out.pop().unwrap()
}

/// The expanded event's kind equals `expected`, field for field (`EventKind` has no `PartialEq`:
/// its `Debug` prints every field), and so does its wire JSON.
fn assert_same(got: Event, expected: EventKind) {
    assert_eq!(format!("{:?}", got.kind), format!("{expected:?}"));
    let full = Event { kind: expected, ..got.clone() };
    assert_eq!(crate::testing::wire_json(&[got]), crate::testing::wire_json(&[full]));
}

/// A pair as the macro captures it now (compact) and as it captured it before (full).
macro_rules! pair {
    ($key:literal, $value:expr) => {
        (($key, (&&&Arg(&$value)).__raceway_small()), ($key, (&&&Arg(&$value)).__raceway_value()))
    };
}

/// One argument: its compact capture and its full one.
type Pair = ((&'static str, Captured), (&'static str, Value));

fn call_of<const N: usize>(pairs: [Pair; N]) -> (FnCall, EventKind) {
    let (compact, full): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    let compact: [(&'static str, Captured); N] = compact.try_into().unwrap_or_else(|_| unreachable!());
    (FnCall { site: &SITE, args: Args::new(compact) }, full_call(full))
}

#[derive(serde::Serialize)]
struct Account {
    id: u64,
    owner: String,
    tags: Vec<&'static str>,
}

#[derive(Debug)]
struct DebugOnly(#[allow(dead_code)] u8);

struct Opaque;

#[test]
fn a_call_without_arguments_expands_to_the_empty_args_object() {
    let (call, full) = call_of([]);
    assert_same(staged_then_expanded(call), full);
}

#[test]
fn a_call_with_arguments_not_captured_expands_to_null_args() {
    let call = FnCall { site: &SITE, args: Args::null() };
    assert_same(staged_then_expanded(call), full_call_with(Value::Null));
}

#[test]
fn a_call_with_one_integer_argument_expands_to_the_full_paths_call() {
    let (call, full) = call_of([pair!("amount", 500i64)]);
    assert_same(staged_then_expanded(call), full);
}

#[test]
fn a_call_with_two_integer_arguments_expands_to_the_full_paths_call() {
    let (call, full) = call_of([pair!("from", -3i64), pair!("to", u64::MAX)]);
    assert_same(staged_then_expanded(call), full);
}

#[test]
fn a_call_with_five_arguments_of_every_capture_expands_to_the_full_paths_call() {
    let account = Account { id: 7, owner: "alice".into(), tags: vec!["vip"] };
    let (call, full) = call_of([
        pair!("z_last_declared_first", 1.5f64),
        pair!("name", "a string"),
        pair!("account", account),
        pair!("debug", DebugOnly(3)),
        pair!("opaque", Opaque),
    ]);
    let got = staged_then_expanded(call);
    let EventKind::FunctionCall { args, .. } = &got.kind else { panic!("not a call: {:?}", got.kind) };
    assert_eq!(args["account"], serde_json::json!({"id": 7, "owner": "alice", "tags": ["vip"]}));
    assert_eq!(args["debug"], serde_json::json!("DebugOnly(3)"));
    assert!(args["opaque"].as_str().unwrap().contains("Opaque"));
    assert_same(got, full);
}

#[test]
fn a_long_string_argument_is_truncated_as_the_full_path_truncates_it() {
    let long = "x".repeat(crate::config::max_value_bytes() * 2);
    let (call, full) = call_of([pair!("s", long.as_str()), pair!("n", 1u8)]);
    let got = staged_then_expanded(call);
    let EventKind::FunctionCall { args, .. } = &got.kind else { panic!("not a call") };
    assert!(args["s"].as_str().unwrap().len() < long.len(), "the value is cut");
    assert_same(got, full);
}

#[test]
fn a_repeated_argument_name_keeps_its_last_value_as_before() {
    let (call, full) = call_of([pair!("a", 1u8), pair!("b", 2u8), pair!("a", 3u8)]);
    assert_same(staged_then_expanded(call), full);
}

#[test]
fn an_end_expands_to_the_full_paths_exit_with_its_return_value_and_panic_flag() {
    for (ret, panicked) in [(Small::Null, false), (Small::capture(&42i64), false), (Small::capture(&"err"), true)] {
        let expected = EventKind::FunctionExit {
            function_name: Name::from_static("transfer"),
            module: "bank::accounts",
            location: Location::new("src/accounts.rs", 42, 8),
            return_value: ret.clone().expand(),
            panicked,
        };
        assert_same(staged_then_expanded(FnExit { site: &SITE, ret, panicked }), expected);
    }
    let ret = (&&&Arg(&Account { id: 1, owner: "bob".into(), tags: vec![] })).__raceway_small();
    let EventKind::FunctionExit { return_value, .. } =
        staged_then_expanded(FnExit { site: &SITE, ret: ret.0, panicked: false }).kind
    else {
        panic!("not an end")
    };
    assert_eq!(return_value, serde_json::json!({"id": 1, "owner": "bob", "tags": []}));
}

#[test]
fn integer_arguments_are_captured_inline_without_a_boxed_value() {
    let small = (&&&Arg(&7i64)).__raceway_small();
    assert!(matches!(small.0, Small::I64(7)));
    let string = (&&&Arg(&"s")).__raceway_small();
    assert!(matches!(string.0, Small::Json(_)));
}
