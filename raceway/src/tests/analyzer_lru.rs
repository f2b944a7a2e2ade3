//! The analyzer's memory over a long life: past `max_variables`, the least recently used
//! variables are forgotten and counted; forgetting can miss a race, never invent one.

use crate::analyzer::Analyzer;
use crate::event::Event;
use crate::instrument::task::thread;
use crate::instrument::track::track_write;
use crate::testing::capture;

fn analyse(max: usize, events: &[Event]) -> crate::analyzer::Report {
    let mut a = Analyzer::with_max_variables(max);
    for e in events {
        a.observe(e);
    }
    a.report()
}

/// `n` distinct variables written once each, by the running task.
fn touch_many(prefix: &str, n: usize) {
    for i in 0..n {
        track_write(format!("{prefix}[{i}]"), &0, &1);
    }
}

#[test]
fn past_the_cap_the_least_recently_used_variables_are_forgotten_and_counted() {
    let c = capture(|| touch_many("acct", 10_000));
    let report = analyse(1_000, &c.events);
    assert_eq!(report.variables, 10_000, "every variable seen is counted");
    assert!(report.variables_forgotten >= 9_000, "{}", report.variables_forgotten);
    assert!(
        report.summary().contains("variables forgotten (LRU); races on them may be missed"),
        "{}",
        report.summary()
    );
    // Within the cap nothing is forgotten and the summary says nothing of it.
    let report = analyse(10_000, &c.events);
    assert_eq!((report.variables, report.variables_forgotten), (10_000, 0));
    assert!(!report.summary().contains("forgotten"));
}

#[test]
fn a_variable_in_use_is_kept_however_many_others_pass_through() {
    // The racing variable is touched between every batch of others: it stays recent, so the
    // race of the child's write with the parent's later one is still found with a tiny cap.
    let c = capture(|| {
        let h = thread::spawn(|| {
            for round in 0..50 {
                track_write("hot", &round, &(round + 1));
                touch_many(&format!("child{round}"), 10);
            }
        });
        for round in 0..50 {
            track_write("hot", &round, &(round + 2));
            touch_many(&format!("parent{round}"), 10);
        }
        h.join().unwrap();
    });
    let report = analyse(16, &c.events);
    assert!(report.variables_forgotten > 0, "the cap was exceeded");
    assert_eq!(report.races_on("hot").count(), 1, "{report}");
}

#[test]
fn a_forgotten_variable_starts_afresh_and_never_makes_a_false_race() {
    // The child writes `x`, the parent joins it and writes `x` again: ordered, no race. In
    // between, enough other variables pass through to forget `x` at every cap tried.
    let c = capture(|| {
        let h = thread::spawn(|| {
            track_write("x", &0, &1);
            touch_many("child", 100);
        });
        h.join().unwrap();
        touch_many("parent", 100);
        track_write("x", &1, &2);
    });
    for max in [1, 2, 8, 64, 1_000] {
        let report = analyse(max, &c.events);
        assert!(report.is_clean(), "cap {max}: {report}");
    }
}

#[test]
fn forgetting_can_miss_a_race_and_the_report_says_so() {
    // Two concurrent writes to `x` with many variables between them: within the cap the race is
    // found; with a small cap one write may be forgotten before the other is compared, and the
    // summary then warns that races may be missed.
    let c = capture(|| {
        let h = thread::spawn(|| {
            track_write("x", &0, &1);
            touch_many("noise", 100);
        });
        track_write("x", &0, &2);
        h.join().unwrap();
    });
    assert_eq!(analyse(1_000, &c.events).races_on("x").count(), 1, "found within the cap");
    let report = analyse(8, &c.events);
    assert!(report.variables_forgotten > 0 && report.summary().contains("may be missed"));
}
