//! Procedural macros of the `raceway` crate: `#[traced]` and `#[shared]`. Use them through
//! `raceway` (`#[raceway::traced]`, `#[raceway::shared]`), which documents them; `lock!` is a
//! `macro_rules!` macro of `raceway` itself.
//!
//! Layout, one file per stage: `*/attr.rs` parses the attribute's options (the list itself with
//! `options.rs`, one parser for every attribute so that a mistake reads the same on all of them;
//! `attr.rs` gives the table of accepted options and reads their values), `*/valid.rs` checks
//! their meaning against the item (every problem is reported, each at its own token),
//! `*/expand.rs` generates the code, and `fallback.rs` turns errors into `compile_error!`s next to
//! the unchanged item, so the user sees the macro's error and not a cascade of follow-ups.
//!
//! Without the `enabled` feature (set by `raceway/enabled`), `#[traced]` returns the function
//! untouched and `#[shared]` only changes the field types to `raceway::Tracked<_>` (then a plain
//! cell) so the same user code compiles both ways.

extern crate proc_macro;

mod fallback;
mod options;
mod shared;
mod test;
mod traced;
mod types;

use proc_macro::TokenStream;

/// Whether the macros instrument: `raceway/enabled` asked for it and `raceway/off` did not.
/// `off` wins because Cargo unifies features across the build: another crate's plain
/// `raceway = "0.1"` must not turn instrumentation back on in a binary that compiled it out.
const INSTRUMENT: bool = cfg!(all(feature = "enabled", not(feature = "off")));

/// Records every call of a function: a `FunctionCall` when it is entered (name, `module_path!()`,
/// the file and line of the function, the arguments) and its end, with the duration, when it
/// ends (on the wire a second `FunctionCall` with `args.exit = true`) — by returning, by `?`, by panicking, or, for futures, by completing or
/// being dropped.
///
/// Works on free functions, inherent and trait-impl methods (`self`, `&self`, `&mut self`; the
/// receiver is not captured), generic functions, `unsafe fn`, `extern fn`, `async fn` (also in
/// traits), and functions returning `impl Future` or `Pin<Box<dyn Future>>` built by a final
/// `async move { .. }` / `Box::pin(async move { .. })` (the `#[async_trait]` shape: put
/// `#[traced]` below `#[async_trait]`). For futures the whole future is the call: it is recorded
/// on the task that polls it, across `.await`s; a future first polled outside any task starts a
/// new trace of its own. A `const fn` is rejected.
///
/// Arguments are captured as JSON when their type is `Serialize`, else by `Debug`, else as their
/// type name: annotating never requires changing argument types. (In generic code the bounds in
/// scope decide.) With `raceway` built without its `enabled` feature the function is emitted
/// unchanged.
///
/// Options:
///
/// | option | effect |
/// |---|---|
/// | `name = "bank.transfer"` | the recorded name (default: the function's name) |
/// | `skip(a, b)` / `skip_all` | leave arguments out |
/// | `fields(k = expr, "a.b" = expr, ident)` | add fields; rename an argument with `skip(a), fields(b = a)` |
/// | `err` | an `Err` return records an `Error` event (the error's type and `Display`) |
/// | `ret` | the return value is recorded with the end |
///
/// ```
/// #[derive(Debug)]
/// struct Overdrawn;
/// impl std::fmt::Display for Overdrawn {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("overdrawn")
///     }
/// }
///
/// #[raceway::traced(err, ret, skip(pin), fields(cents = amount * 100))]
/// fn withdraw(account: &str, amount: u64, pin: u16) -> Result<u64, Overdrawn> {
///     let _ = (account, pin);
///     if amount > 100 { Err(Overdrawn) } else { Ok(100 - amount) }
/// }
///
/// #[raceway::traced]
/// async fn fetch(user: &str) -> usize {
///     user.len()
/// }
///
/// let c = raceway::testing::capture(|| withdraw("alice", 500, 1234));
/// // FunctionCall {account: "alice", amount: 500, cents: 50000}, Error, the end (with the duration)
/// assert_eq!(c.events.len(), 3);
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let c = rt.block_on(raceway::testing::capture_async(fetch("bob")));
/// assert_eq!((c.output, c.events.len()), (3, 2));
/// ```
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    traced::expand(args.into(), item.into()).into()
}

/// Makes every named field of a struct a `raceway::Tracked<T>` cell, so that reads and writes
/// of the fields are recorded for race detection, and generates a constructor taking the fields'
/// plain values in declaration order (`new`, or the name given with `constructor = ".."`).
///
/// Variable names are `Type[<key>].field` when a field is marked `#[shared(key)]` (its
/// `Display` is the key; instances with the same key are deliberately the same variables), else
/// `Type#<n>.field` with a per-instance number. `name = "Label"` replaces `Type`. The key field
/// and fields marked `#[shared(skip)]` stay plain fields. Field values are recorded as JSON
/// (`Serialize`), else by `Debug`, else by type name.
///
/// In user code a field is read with `.get()` (or `.read(|v| ..)`), written with `.set(v)`,
/// and changed atomically with `.update(|v| ..)`; `acc.balance.set(acc.balance.get() - 5)` is two
/// accesses that another task can interleave (a lost update the analysis reports), while
/// `acc.balance.update(|b| *b -= 5)` is one. Without `raceway`'s `enabled` feature the fields
/// are still `Tracked<T>` (then a plain cell), so the same code compiles both ways.
///
/// ```
/// #[raceway::shared]
/// #[derive(Debug)]
/// struct Account {
///     #[shared(key)]
///     owner: String,
///     balance: i64,
///     #[shared(skip)]
///     history: Vec<i64>,
/// }
///
/// let acc = Account::new("alice".into(), 100, Vec::new());
/// assert_eq!(acc.balance.name(), "Account[alice].balance");
/// let c = raceway::testing::capture(|| {
///     acc.balance.set(acc.balance.get() - 30); // Read, then Write
///     acc.balance.update(|b| *b += 5);         // one atomic read-modify-write
/// });
/// assert_eq!(acc.balance.get(), 75);
/// assert_eq!(c.events.len(), 6); // Read, Write, LockAcquire, Read, Write, LockRelease
/// assert!(acc.history.is_empty());
/// ```
#[proc_macro_attribute]
pub fn shared(args: TokenStream, item: TokenStream) -> TokenStream {
    shared::expand(args.into(), item.into()).into()
}

/// Runs a test with race detection: the body runs captured (see `raceway::testing`), and the test
/// fails with the full report when the report has any race, potential deadlock or other finding.
/// On a plain `fn` it is `#[test]`; on an `async fn` it is `#[tokio::test]` (raceway's `tokio`
/// feature; no other import needed). The function's other attributes (`#[ignore]`,
/// `#[should_panic]`, docs) are kept, and it may return a `Result` as a `#[test]` may.
///
/// | option | effect |
/// |---|---|
/// | `flavor = "current_thread"` / `"multi_thread"` | the tokio runtime of an async test (default `current_thread`, as `#[tokio::test]`) |
/// | `worker_threads = N` | worker threads of the `multi_thread` runtime |
/// | `expect_race = "var"` | the test fails unless a race on `var` is found; other findings still fail it |
/// | `allow = "pattern"` | findings matching are not failures: a glob (`*`) on a variable or lock name, or a suppression line (`race:..`, `location:..`, `deadlock:..`, `atomicity:..`, `held:..`); give it several times for several patterns |
/// | `iterations = N` | runs the body N times with seeded random yields at tracked accesses and lock acquires; a failure names its seed, and `RACEWAY_SEED=<seed>` replays that one iteration |
///
/// The yields of `iterations` happen on the recording thread: they reorder threads and the tasks
/// of a `multi_thread` runtime, while on a `current_thread` runtime tasks interleave only at
/// `.await`s. With instrumentation compiled out it is a plain `#[test]` / `#[tokio::test]`.
///
/// ```
/// // (A doctest compiles without `--test`, which leaves `#[test]` functions out: the
/// // repository's `tests/test_attribute.rs` runs these.)
/// #[raceway::test(expect_race = "balance")]
/// fn unsynchronised_deposits_race() {
///     let h = raceway::thread::spawn(|| raceway::track_write("balance", &0, &1));
///     raceway::track_write("balance", &0, &2);
///     h.join().unwrap();
/// }
///
/// #[raceway::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn joined_writes_are_ordered() -> Result<(), String> {
///     raceway::spawn(async { raceway::track_write("x", &0, &1) }).await.map_err(|e| e.to_string())?;
///     raceway::track_write("x", &1, &2);
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test::expand(args.into(), item.into()).into()
}
