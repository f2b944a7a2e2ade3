//! A blocking lock guard (`std`, `parking_lot`) held across an `.await` (issue 14): reported by the
//! embedded analyzer with the acquire site and the `#[traced]` function that awaited; `tokio`
//! guards and guards dropped before the await are not. Each scenario runs 20 times.

mod support;

use raceway::testing::capture_async;
use raceway::{lock, traced, Report};
use std::sync::Mutex;
use std::time::Duration;

const RUNS: usize = 20;

fn twenty<Fut: std::future::Future>(scenario: impl Fn() -> Fut) -> Vec<Report> {
    (0..RUNS)
        .map(|_| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(capture_async(scenario())).report
        })
        .collect()
}

/// The line of `lock!` in [`refresh_holding_std_guard`].
const STD_ACQUIRE_LINE: u32 = line!() + 4;

#[traced]
async fn refresh_holding_std_guard(cache: &Mutex<u32>) {
    let mut g = lock!(cache, "cache");
    tokio::time::sleep(Duration::from_millis(1)).await;
    *g += 1;
}

#[traced]
async fn refresh_holding_tokio_guard(cache: &tokio::sync::Mutex<u32>) {
    let mut g = lock!(cache, "cache").await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    *g += 1;
}

#[traced]
async fn refresh_dropping_std_guard_first(cache: &Mutex<u32>) {
    let seen = *lock!(cache, "cache");
    tokio::time::sleep(Duration::from_millis(1)).await;
    let mut g = lock!(cache, "cache");
    *g = seen + 1;
}

/// The guard lives in a helper type, where clippy's `await_holding_lock` does not look.
struct Session<'a> {
    _cache: raceway::LockGuard<std::sync::MutexGuard<'a, u32>>,
}

#[traced]
async fn refresh_with_guard_in_helper(cache: &Mutex<u32>) {
    let session = Session { _cache: lock!(cache, "cache") };
    tokio::task::yield_now().await;
    drop(session);
}

#[test]
fn a_std_mutex_guard_held_over_sleep_await_is_reported_with_both_sites() {
    for report in twenty(|| async {
        let cache = Mutex::new(0);
        refresh_holding_std_guard(&cache).await;
    }) {
        assert_eq!(report.held_across_await.len(), 1, "{report}");
        let h = &report.held_across_await[0];
        assert!(h.lock.starts_with("cache@"), "{report}");
        assert_eq!(h.lock_type, raceway::LockKind::Mutex);
        assert_eq!((h.acquired_at.file, h.acquired_at.line), (file!(), STD_ACQUIRE_LINE));
        assert_eq!(h.function, "refresh_holding_std_guard");
        assert_eq!(h.function_at.file, file!());
        assert_eq!(h.count, 1, "one guard over one await, reported once");
        assert!(report.races.is_empty() && report.atomicity.is_empty(), "{report}");
        assert!(!report.is_clean());
        let text = report.to_string();
        assert!(text.contains("held across an .await"), "{text}");
        assert!(text.contains(&format!("{}:{STD_ACQUIRE_LINE}", file!())), "{text}");
        assert!(text.contains("in `refresh_holding_std_guard`"), "{text}");
        let json = report.to_json_value();
        assert_eq!(json["held_across_await"][0]["kind"], "lock_held_across_await");
        assert_eq!(json["held_across_await"][0]["acquired_at"]["line"], STD_ACQUIRE_LINE);
    }
}

#[test]
fn a_guard_kept_in_a_helper_type_over_an_await_is_reported() {
    for report in twenty(|| async {
        let cache = Mutex::new(0);
        refresh_with_guard_in_helper(&cache).await;
    }) {
        assert_eq!(report.held_across_await.len(), 1, "{report}");
        assert_eq!(report.held_across_await[0].function, "refresh_with_guard_in_helper");
    }
}

#[test]
fn a_tokio_mutex_guard_over_an_await_is_not_reported() {
    for report in twenty(|| async {
        let cache = tokio::sync::Mutex::new(0);
        refresh_holding_tokio_guard(&cache).await;
    }) {
        assert!(report.is_clean(), "{report}");
    }
}

#[test]
fn a_std_guard_dropped_before_the_await_is_not_reported() {
    for report in twenty(|| async {
        let cache = Mutex::new(0);
        refresh_dropping_std_guard_first(&cache).await;
        assert_eq!(*cache.lock().unwrap(), 1);
    }) {
        assert!(report.held_across_await.is_empty(), "{report}");
        assert!(report.is_clean(), "{report}");
    }
}

#[test]
fn the_event_reaches_the_server_as_a_custom_event_the_strict_mirror_accepts() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let c = rt.block_on(capture_async(async {
        let cache = Mutex::new(0);
        refresh_holding_std_guard(&cache).await;
    }));
    let wire = raceway::wire_json(&c.events);
    let held: Vec<&String> = wire.iter().filter(|e| e.contains("lock_held_across_await")).collect();
    assert_eq!(held.len(), 1, "{wire:#?}");
    assert!(held[0].contains("\"Custom\":{\"name\":\"lock_held_across_await\""), "{}", held[0]);
    for e in &wire {
        support::server_types::parse_event(&serde_json::from_str(e).unwrap());
    }
}
