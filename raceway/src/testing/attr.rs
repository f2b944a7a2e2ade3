//! The runtime of `#[raceway::test]`: runs the test body captured (once, or `iterations` times
//! under schedule fuzzing), and fails the test with the full report when it has a finding that
//! is neither expected (`expect_race`) nor allowed (`allow`).
//!
//! Each run is its own [`capture`](super::capture): tests running in parallel threads of one
//! `cargo test` process keep their events apart, and under `cargo nextest` (one process per test)
//! nothing else is needed either.

use super::{capture, capture_async};
use crate::analyzer::{Report, Suppressions};
use crate::stage::fuzz;
use std::future::Future;

/// The attribute's options, as the macro writes them.
#[doc(hidden)]
#[derive(Debug)]
pub struct TestOptions {
    /// The test function's name, for messages.
    pub name: &'static str,
    /// `expect_race = "var"`.
    pub expect_race: Option<&'static str>,
    /// `allow = ".."`, each given pattern.
    pub allow: &'static [&'static str],
    /// `iterations = N` (1 without the option).
    pub iterations: u32,
}

/// What a test body may return: `()` or a `Result` (an `Err` fails the test as in `#[test]`).
#[doc(hidden)]
pub trait TestOutput {
    /// Whether this output fails the test: the remaining iterations are not run.
    fn failed(&self) -> bool;
}

impl TestOutput for () {
    fn failed(&self) -> bool {
        false
    }
}

impl<T, E> TestOutput for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}

/// Runs a synchronous test body (the function `#[raceway::test]` generates calls this).
#[doc(hidden)]
#[track_caller]
pub fn run_test<R: TestOutput>(options: &TestOptions, mut body: impl FnMut() -> R) -> R {
    let mut plan = Plan::new(options);
    let mut last = None;
    while let Some(run) = plan.next_run() {
        let _fuzz = run.seed.map(fuzz::start);
        let note = PanicNote(&run);
        let captured = capture(&mut body);
        drop(note);
        if let Some(output) = plan.judge(&run, captured.output, captured.report) {
            return output;
        }
        last = plan.last.take();
    }
    plan.finish();
    last.expect("at least one iteration ran")
}

/// Runs an asynchronous test body, each iteration a new future from `body`.
#[doc(hidden)]
pub async fn run_test_async<R: TestOutput, F: Future<Output = R>>(
    options: &TestOptions,
    mut body: impl FnMut() -> F,
) -> R {
    let mut plan = Plan::new(options);
    let mut last = None;
    while let Some(run) = plan.next_run() {
        let _fuzz = run.seed.map(fuzz::start);
        let note = PanicNote(&run);
        let captured = capture_async(body()).await;
        drop(note);
        if let Some(output) = plan.judge(&run, captured.output, captured.report) {
            return output;
        }
        last = plan.last.take();
    }
    plan.finish();
    last.expect("at least one iteration ran")
}

/// One run of the body.
struct Run {
    /// 1-based.
    iteration: u32,
    /// The fuzzing seed; `None` for a plain run (no `iterations`).
    seed: Option<u64>,
}

impl Run {
    fn describe(&self, of: u32) -> String {
        match self.seed {
            Some(seed) => {
                format!("iteration {} of {of}, seed {seed}: replay it with RACEWAY_SEED={seed}", self.iteration)
            }
            None => "a single run".to_owned(),
        }
    }
}

/// Says which iteration and seed were running when the body panicked: the panic is the test's
/// own failure, but the seed is what makes it reproducible.
struct PanicNote<'a>(&'a Run);

impl Drop for PanicNote<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(seed) = self.0.seed {
                eprintln!(
                    "[raceway] the test panicked in iteration {}, seed {seed}: replay it with RACEWAY_SEED={seed}",
                    self.0.iteration
                );
            }
        }
    }
}

struct Plan<'a, R> {
    options: &'a TestOptions,
    allow: Suppressions,
    /// Seeds to run, in order (a single `None` without `iterations`).
    seeds: Vec<Option<u64>>,
    next: usize,
    /// Whether the expected race was seen in some iteration.
    expected_seen: bool,
    /// The last iteration's report, for the message when the expected race never showed.
    last_report: Report,
    last: Option<R>,
    /// How many iterations ran.
    ran: u32,
}

impl<'a, R: TestOutput> Plan<'a, R> {
    #[track_caller]
    fn new(options: &'a TestOptions) -> Self {
        let (allow, problems) = Suppressions::from_patterns(options.allow.iter().copied());
        if !problems.is_empty() {
            panic!("#[raceway::test] on `{}`: bad `allow` pattern: {}", options.name, problems.join("; "));
        }
        let seeds = if options.iterations > 1 {
            match replay_seed() {
                Some(seed) => vec![Some(seed)],
                None => {
                    let base = fresh_seed();
                    (0..options.iterations as u64).map(|i| Some(fuzz::splitmix(base.wrapping_add(i)))).collect()
                }
            }
        } else {
            vec![None]
        };
        Plan {
            options,
            allow,
            seeds,
            next: 0,
            expected_seen: false,
            last_report: Report::default(),
            last: None,
            ran: 0,
        }
    }

    fn next_run(&mut self) -> Option<Run> {
        // Once the expected race was seen, the remaining iterations could only add noise.
        if self.expected_seen {
            return None;
        }
        let seed = *self.seeds.get(self.next)?;
        self.next += 1;
        Some(Run { iteration: self.next as u32, seed })
    }

    /// Fails the test (panics) when the report has an unexpected finding; returns the output
    /// when the body itself failed (the test fails as `#[test]` would); else keeps it in `last`.
    fn judge(&mut self, run: &Run, output: R, mut report: Report) -> Option<R> {
        self.ran += 1;
        self.allow.apply(&mut report);
        if let Some(var) = self.options.expect_race {
            if report.races_on(var).next().is_some() {
                self.expected_seen = true;
            }
        }
        let unexpected = {
            let mut rest = report.clone();
            if let Some(var) = self.options.expect_race {
                // A group of races at one pair of sites may list other variables too: those
                // are not expected, so the group is expected only when it is all `var`.
                rest.races.retain(|r| r.variable != var || r.variables.iter().any(|v| v != var));
            }
            !rest.is_clean()
        };
        if unexpected {
            let of = self.seeds.len() as u32;
            let expected = match self.options.expect_race {
                Some(v) => format!(" (besides the expected race on `{v}`)"),
                None => String::new(),
            };
            // Before the panic: CI's SARIF upload and HTML artifact need the failing test's report.
            #[cfg(raceway_on)]
            crate::analyzer::write_test_files(&report, self.options.name);
            panic!(
                "#[raceway::test] `{}` found a race, potential deadlock or other finding{expected} in {}:\n{report}",
                self.options.name,
                run.describe(of)
            );
        }
        self.last_report = report;
        if output.failed() {
            return Some(output);
        }
        self.last = Some(output);
        None
    }

    fn finish(&self) {
        if let (Some(var), false) = (self.options.expect_race, self.expected_seen) {
            let runs = if self.ran == 1 { "1 run".to_owned() } else { format!("{} runs", self.ran) };
            panic!(
                "#[raceway::test] `{}` expected a race on `{var}`, none found in {runs}; the last run's report:\n{}",
                self.options.name, self.last_report
            );
        }
    }
}

/// `RACEWAY_SEED=<n>`: replay one iteration.
fn replay_seed() -> Option<u64> {
    let v = std::env::var("RACEWAY_SEED").ok()?;
    match v.trim().parse() {
        Ok(seed) => Some(seed),
        Err(_) => panic!("RACEWAY_SEED={v:?} is not an unsigned integer"),
    }
}

/// A seed that differs between runs and between tests started at the same instant.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // `RandomState` is seeded by the OS once per process and bumped per instance.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    // Seeds are printed for humans to paste: keep them short.
    h.finish() % 1_000_000_000
}
