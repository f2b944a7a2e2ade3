//! Stale read-modify-writes (issue 14): the check-then-act across two critical sections that no
//! lock-set or happens-before race rule sees, and the programs that look like it but are safe.
//! Every scenario runs 20 times (tasks on a multi-threaded runtime, so the interleaving varies)
//! and must give the same verdict each time.

use raceway::testing::capture_async;
use raceway::{
    assert_atomicity_violation, assert_no_atomicity_violations, assert_no_races, lock, AccessType, Report, Tracked,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const RUNS: usize = 20;

/// The seat inventory of the issue: a tracked counter behind a std mutex.
struct Seats {
    m: Mutex<()>,
    free: Tracked<u32>,
}

impl Seats {
    fn new(free: u32) -> Arc<Self> {
        Arc::new(Seats { m: Mutex::new(()), free: Tracked::new("seats", free) })
    }

    /// The bug: check in one critical section, act in another, with an await in between.
    async fn book_check_then_act(&self) -> bool {
        let free = {
            let _g = lock!(self.m, "seats");
            self.free.get()
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        if free > 0 {
            let _g = lock!(self.m, "seats");
            self.free.set(free - 1);
            return true;
        }
        false
    }

    /// The fix: one critical section from the check to the act.
    async fn book_in_one_section(&self) -> bool {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let _g = lock!(self.m, "seats");
        let free = self.free.get();
        if free > 0 {
            self.free.set(free - 1);
            return true;
        }
        false
    }

    /// The other fix: the cell's own atomic read-modify-write.
    async fn book_with_update(&self) -> bool {
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.free.update(|free| {
            if *free > 0 {
                *free -= 1;
                true
            } else {
                false
            }
        })
    }
}

/// Runs `scenario` 20 times, each under its own capture on a fresh multi-threaded runtime, and
/// returns the reports with the scenario's outputs.
fn twenty_with<F, Fut>(scenario: F) -> Vec<(Report, Fut::Output)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future + Send + 'static,
{
    (0..RUNS)
        .map(|_| {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            let c = rt.block_on(capture_async(scenario()));
            (c.report, c.output)
        })
        .collect()
}

fn twenty<F, Fut>(scenario: F) -> Vec<Report>
where
    F: Fn() -> Fut,
    Fut: std::future::Future + Send + 'static,
{
    twenty_with(scenario).into_iter().map(|(r, _)| r).collect()
}

/// Books concurrently from `tasks` tasks; returns the variable's name (each run's `Tracked` gets
/// its own, `seats#N`).
async fn concurrent_check_then_act(tasks: usize) -> String {
    let seats = Seats::new(1);
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let s = seats.clone();
            raceway::spawn(async move { s.book_check_then_act().await })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    seats.free.name().to_owned()
}

#[test]
fn two_tasks_checking_then_booking_in_separate_critical_sections_is_a_stale_read_modify_write() {
    for (report, seats) in twenty_with(|| concurrent_check_then_act(2)) {
        assert_no_races!(report); // every access holds the lock: only the atomicity rule sees it
        assert_atomicity_violation!(report, on = &seats);
        let v = &report.atomicity[0];
        assert_eq!(v.severity, raceway::Severity::Critical);
        assert_eq!(v.read.access_type, AccessType::Read);
        assert_eq!(v.write.access_type, AccessType::Write);
        assert_eq!(v.other.access_type, AccessType::Write);
        assert_eq!(v.read.task, v.write.task, "the read and the write are one task's");
        assert_ne!(v.other.task, v.write.task, "the interfering write is another task's");
        assert_eq!(v.read.locks.len(), 1, "{report}");
        assert!(v.read.locks[0].starts_with("seats"), "{report}");
        assert_eq!(v.read.locks, v.write.locks, "one lock, taken twice");
        assert!(v.read.location.line < v.write.location.line, "{report}");
        assert_eq!(report.atomicity.len(), 1, "one finding per read/write site pair:\n{report}");
    }
}

#[test]
fn three_tasks_checking_then_booking_are_reported_as_one_site_pair() {
    for (report, seats) in twenty_with(|| concurrent_check_then_act(3)) {
        assert_atomicity_violation!(report, on = &seats);
        assert_eq!(report.atomicity.len(), 1, "{report}");
        assert!(report.atomicity[0].count >= 2, "each task's pair conflicts with another's write:\n{report}");
    }
}

#[test]
fn the_report_text_and_json_name_both_sites_the_other_write_and_the_lock() {
    let (report, seats) = twenty_with(|| concurrent_check_then_act(2)).remove(0);
    let v = &report.atomicity[0];
    let text = report.to_string();
    assert!(text.contains(&format!("stale read-modify-write on `{seats}`")), "{text}");
    let why = format!(
        "why:    the value read at {} may be stale by the time it is written at {}; hold the lock from {} to {} or use `update`",
        v.read.location, v.write.location, v.read.location, v.write.location
    );
    assert!(text.contains(&why), "{text}");
    assert!(text.contains("holding seats"), "{text}");
    assert!(text.contains("other:"), "{text}");
    assert!(report.summary().contains("1 stale read-modify-write"), "{}", report.summary());
    assert!(!report.is_clean());
    let json = report.to_json_value();
    let a = &json["atomicity"][0];
    assert_eq!(a["kind"], "stale_read_modify_write");
    assert_eq!(a["variable"], seats.as_str());
    assert_eq!(a["severity"], "CRITICAL");
    assert_eq!(a["read"]["access_type"], "Read");
    assert!(a["write"]["locks"][0].as_str().unwrap().starts_with("seats"));
    assert_eq!(a["other"]["access_type"], "Write");
    assert!(a["why"].as_str().unwrap().contains("use `update`"));
    assert_eq!(json["clean"], false);
}

#[test]
fn one_critical_section_from_check_to_act_is_not_reported() {
    for report in twenty(|| async {
        // Two seats, so that both tasks write: two writers, yet nothing can come between a
        // task's check and its act.
        let seats = Seats::new(2);
        let (a, b) = (seats.clone(), seats.clone());
        let ha = raceway::spawn(async move { a.book_in_one_section().await });
        let hb = raceway::spawn(async move { b.book_in_one_section().await });
        assert!(ha.await.unwrap() && hb.await.unwrap(), "both bookings succeed");
        assert_eq!(seats.free.get(), 0);
    }) {
        assert_no_atomicity_violations!(report);
        assert!(report.is_clean(), "{report}");
    }
}

#[test]
fn booking_through_update_is_not_reported() {
    for report in twenty(|| async {
        let seats = Seats::new(2);
        let (a, b) = (seats.clone(), seats.clone());
        let ha = raceway::spawn(async move { a.book_with_update().await });
        let hb = raceway::spawn(async move { b.book_with_update().await });
        ha.await.unwrap();
        hb.await.unwrap();
    }) {
        assert!(report.is_clean(), "{report}");
    }
}

#[test]
fn a_second_booking_spawned_after_joining_the_first_is_not_reported() {
    for report in twenty(|| async {
        let seats = Seats::new(2);
        let a = seats.clone();
        raceway::spawn(async move { a.book_check_then_act().await }).await.unwrap();
        let b = seats.clone();
        raceway::spawn(async move { b.book_check_then_act().await }).await.unwrap();
    }) {
        assert!(report.is_clean(), "{report}");
    }
}

#[test]
fn a_single_writer_task_with_concurrent_readers_is_not_reported() {
    for report in twenty(|| async {
        let seats = Seats::new(1);
        let writer = seats.clone();
        let w = raceway::spawn(async move { writer.book_check_then_act().await });
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let s = seats.clone();
                raceway::spawn(async move {
                    let _g = lock!(s.m, "seats");
                    s.free.get()
                })
            })
            .collect();
        w.await.unwrap();
        for r in readers {
            r.await.unwrap();
        }
    }) {
        assert!(report.is_clean(), "{report}");
    }
}

#[test]
fn a_read_for_logging_then_a_much_later_write_of_another_variable_is_not_reported() {
    for report in twenty(|| async {
        let seats = Seats::new(1);
        let audit = Arc::new((Mutex::new(()), Tracked::new("audit.last", 0u32)));
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (s, audit) = (seats.clone(), audit.clone());
                raceway::spawn(async move {
                    let seen = {
                        let _g = lock!(s.m, "seats");
                        s.free.get() // read for a log line only
                    };
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let _g = lock!(audit.0, "audit");
                    audit.1.set(seen + i); // another variable entirely
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    }) {
        assert_no_atomicity_violations!(report);
    }
}

#[test]
fn a_check_then_act_that_did_not_interleave_in_this_run_is_still_reported() {
    // The second booking starts after the first finished, but only by timing (an untracked
    // channel): nothing the program does orders them, so another schedule interleaves them.
    for _ in 0..RUNS {
        let c = raceway::testing::capture(|| {
            let seats = Seats::new(2);
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let first = {
                let s = seats.clone();
                raceway::thread::spawn(move || {
                    book_blocking(&s);
                    tx.send(()).unwrap();
                })
            };
            let second = {
                let s = seats.clone();
                raceway::thread::spawn(move || {
                    rx.recv().unwrap();
                    book_blocking(&s);
                })
            };
            first.join().unwrap();
            second.join().unwrap();
            seats.free.name().to_owned()
        });
        assert_no_races!(c);
        assert_atomicity_violation!(c, on = &c.output);
        assert_eq!(c.report.atomicity[0].count, 2, "each pair against the other's write:\n{}", c.report);
    }
}

/// The check-then-act of [`Seats::book_check_then_act`] on a plain thread.
fn book_blocking(s: &Seats) {
    let free = {
        let _g = lock!(s.m, "seats");
        s.free.get()
    };
    if free > 0 {
        let _g = lock!(s.m, "seats");
        s.free.set(free - 1);
    }
}

#[test]
fn a_second_booking_that_waits_for_the_first_through_a_tracked_channel_is_not_reported() {
    // The same two threads as above, but the handoff is `raceway::sync`'s channel: the program
    // orders the second booking after the first, so no schedule puts one inside the other.
    for _ in 0..RUNS {
        let c = raceway::testing::capture(|| {
            let seats = Seats::new(2);
            let (tx, rx) = raceway::sync::std_mpsc::channel::<()>();
            let first = {
                let s = seats.clone();
                raceway::thread::spawn(move || {
                    book_blocking(&s);
                    tx.send(()).unwrap();
                })
            };
            let second = {
                let s = seats.clone();
                raceway::thread::spawn(move || {
                    rx.recv().unwrap();
                    book_blocking(&s);
                })
            };
            first.join().unwrap();
            second.join().unwrap();
        });
        assert!(c.report.is_clean(), "{}", c.report);
    }
}
