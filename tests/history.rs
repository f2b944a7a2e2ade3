//! A program's thousandth task costs what its first did: a task that spawns and joins children
//! carries one clock component per child *running*, not per child ever joined, so events stay
//! small and spawning stays constant-time however long the program has run.

use raceway::testing::capture;
use raceway::{assert_no_races, assert_race, Event};
use std::collections::HashSet;

fn components(e: &Event) -> usize {
    e.clock.components().count()
}

#[test]
fn a_supervisor_that_joins_one_job_at_a_time_carries_one_component_for_all_of_them() {
    let c = capture(|| {
        for job in 0..2_000u64 {
            raceway::thread::spawn(move || raceway::track_write("ledger", &job, &(job + 1))).join().unwrap();
        }
        raceway::track_read("ledger", &2_000);
    });
    let widest = c.events.iter().map(components).max().unwrap();
    assert!(widest <= 2, "the supervisor and the job it runs: {widest} components");
    // Sequential jobs are ordered (each spawned after the previous one was joined): no race.
    assert_no_races!(c);
    // Each job ran as a task of its own while it ran (the jobs share an identity only because
    // each starts after the previous one ended).
    let writers: HashSet<_> =
        c.events.iter().filter(|e| matches!(e.kind, raceway::EventKind::StateChange { .. })).map(|e| e.task).collect();
    assert!(!writers.is_empty());
    let json = raceway::wire_json(&c.events);
    let largest = json.iter().map(String::len).max().unwrap();
    assert!(largest < 1024, "the largest event is {largest} bytes on the wire");
}

#[test]
fn waves_of_tasks_carry_at_most_one_component_per_task_of_a_wave() {
    let c = capture(|| {
        for wave in 0..20u64 {
            let tasks: Vec<_> = (0..50u64)
                .map(|i| raceway::thread::spawn(move || raceway::track_write(format!("slot.{i}"), &wave, &(wave + 1))))
                .collect();
            for t in tasks {
                t.join().unwrap();
            }
        }
    });
    let widest = c.events.iter().map(components).max().unwrap();
    assert!(widest <= 52, "50 tasks of a wave, the supervisor: {widest} components");
    assert_no_races!(c);
    let largest = raceway::wire_json(&c.events).iter().map(String::len).max().unwrap();
    assert!(largest < 8 * 1024, "{largest} bytes");
}

#[test]
fn a_joined_childs_identity_is_taken_over_only_by_a_later_child_of_the_joiner() {
    // Two concurrent children of one wave never share an identity, so their race is still found.
    let c = capture(|| {
        raceway::thread::spawn(|| raceway::track_write("x", &0, &1)).join().unwrap();
        let a = raceway::thread::spawn(|| raceway::track_write("y", &0, &1));
        let b = raceway::thread::spawn(|| raceway::track_write("y", &0, &2));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_race!(c, on = "y", severity = Critical);
}

/// The time per task stays flat: the last thousand of 10,000 sequential jobs cost no more than
/// 5× the first thousand, a margin for a busy machine (it was quadratic: 8,000 jobs took 12× as long as 2,000).
#[test]
fn the_thousandth_job_costs_what_the_first_did() {
    let time_jobs = |n: u64| {
        let start = std::time::Instant::now();
        for job in 0..n {
            raceway::thread::spawn(move || raceway::track_write("t", &job, &(job + 1))).join().unwrap();
        }
        start.elapsed()
    };
    let c = capture(|| {
        let first = time_jobs(1_000);
        time_jobs(8_000);
        let last = time_jobs(1_000);
        (first, last)
    });
    let (first, last) = c.output;
    assert!(last < first * 5 + std::time::Duration::from_millis(100), "first {first:?}, last {last:?}");
}
