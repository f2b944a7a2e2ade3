//! Tasks the SDK did not see start — futures spawned with plain `tokio::spawn`, a `JoinSet`,
//! `spawn_local` — each get a logical task of their own, kept across `.await` and worker
//! migration, with all their events in one trace; and the verdict on such a program is the same
//! on every run. Each scenario runs 20 times.

mod support;

use raceway::testing::capture_async;
use raceway::{assert_race, Config, Tracked};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

const RUNS: usize = 20;

/// `get`, yield, `set`: the read-modify-write of a lost update, across an `.await`.
async fn increment(cell: Arc<Tracked<u64>>) {
    let v = cell.get();
    tokio::task::yield_now().await;
    cell.set(v + 1);
}

#[test]
fn two_plain_tokio_spawn_tasks_race_on_every_run_of_a_current_thread_runtime() {
    for run in 0..RUNS {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let c = rt.block_on(capture_async(async {
            let cell = Arc::new(Tracked::new(raceway::VarName::exact("plain.counter"), 0u64));
            let a = tokio::spawn(increment(cell.clone()));
            let b = tokio::spawn(increment(cell.clone()));
            a.await.unwrap();
            b.await.unwrap();
        }));
        assert_race!(c, on = "plain.counter", severity = Critical);
        // The report says why such a race may be one the SDK could not rule out.
        let race = c.report.races_on("plain.counter").next().unwrap();
        let note = race.unordered_hint().expect("plain tasks are marked");
        assert!(note.contains("spawned outside raceway"), "{note}");
        assert!(c.report.to_string().contains("note:   "), "{}", c.report);
        // Two tasks, one identity each: 2 reads and 2 writes from exactly two thread ids.
        let tasks: HashSet<_> = c.events.iter().map(|e| e.task).collect();
        assert_eq!(tasks.len(), 2, "run {run}: one task per spawned task");
    }
}

#[test]
fn a_joinset_race_is_found_on_every_run() {
    for _ in 0..RUNS {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let c = rt.block_on(capture_async(async {
            let cell = Arc::new(Tracked::new(raceway::VarName::exact("joinset.counter"), 0u64));
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..2 {
                set.spawn(increment(cell.clone()));
            }
            while set.join_next().await.is_some() {}
        }));
        assert_race!(c, on = "joinset.counter", severity = Critical);
    }
}

#[test]
fn a_spawn_local_race_is_found_on_every_run() {
    for _ in 0..RUNS {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        let c = local.block_on(
            &rt,
            capture_async(async {
                let cell = Arc::new(Tracked::new(raceway::VarName::exact("local.counter"), 0u64));
                let a = tokio::task::spawn_local(increment(cell.clone()));
                let b = tokio::task::spawn_local(increment(cell.clone()));
                a.await.unwrap();
                b.await.unwrap();
            }),
        );
        assert_race!(c, on = "local.counter", severity = Critical);
    }
}

/// On a multi-thread runtime, with the process-wide analyzer: each plain task keeps one identity
/// and one trace while it moves between worker threads, and the race is found on every run.
#[test]
fn plain_tasks_keep_one_identity_and_one_trace_across_worker_migration() {
    let _serial = support::serial();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let mut found = 0;
    for run in 0..RUNS {
        // One program run per client: the report covers this run only.
        let guard = raceway::init(Config::default().service_name("plain-spawn")).unwrap();
        let name = format!("migrating.counter.{run}");
        rt.block_on(async {
            let cell = Arc::new(Tracked::new(raceway::VarName::exact(name.clone()), 0u64));
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let cell = cell.clone();
                    tokio::spawn(async move {
                        for _ in 0..5 {
                            let v = cell.get();
                            tokio::time::sleep(Duration::from_micros(50)).await;
                            cell.set(v + 1);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        let report = raceway::report();
        if report.races_on(&name).next().is_some() {
            found += 1;
        }
        drop(guard);
    }
    assert_eq!(found, RUNS, "the race is found on every run");
}

/// What the server receives: every event of one plain task carries one thread id and one trace.
#[test]
fn a_plain_task_s_events_share_one_thread_id_and_one_trace_on_the_wire() {
    let _serial = support::serial();
    let collector = support::collector::Collector::start();
    let guard = raceway::init(
        Config::default()
            .server_url(collector.url())
            .service_name("plain-wire")
            .flush_interval(Duration::from_millis(20)),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                tokio::spawn(async move {
                    for step in 0..10u64 {
                        raceway::track_write(format!("wire.{i}"), &step, &(step + 1));
                        tokio::time::sleep(Duration::from_micros(100)).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert!(raceway::flush());
    drop(guard);
    let events: Vec<serde_json::Value> = collector.requests().iter().flat_map(|(r, _)| r.events()).collect();
    support::assert_parents_first_and_no_duplicates(&events);
    for e in &events {
        support::server_types::parse_event(e); // every event deserializes into the server's types
    }
    let mut by_var: HashMap<String, (HashSet<String>, HashSet<String>)> = HashMap::new();
    for e in &events {
        if let Some(var) = e["kind"]["StateChange"]["variable"].as_str() {
            let entry = by_var.entry(var.to_owned()).or_default();
            entry.0.insert(e["metadata"]["thread_id"].as_str().unwrap().to_owned());
            entry.1.insert(e["trace_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(by_var.len(), 8);
    for (var, (threads, traces)) in by_var {
        assert_eq!(threads.len(), 1, "{var}: one task, one thread_id: {threads:?}");
        assert_eq!(traces.len(), 1, "{var}: one task, one trace: {traces:?}");
    }
}

/// Runs `program` once per run under a fresh client with the embedded analyzer, and returns on
/// how many runs a race on `var` was reported.
fn runs_with_a_race_on(var: &str, program: impl Fn()) -> usize {
    let _serial = support::serial();
    let mut found = 0;
    for _ in 0..RUNS {
        let guard = raceway::init(Config::default().service_name("plain-threads")).unwrap();
        program();
        if raceway::report().races_on(var).next().is_some() {
            found += 1;
        }
        drop(guard);
    }
    found
}

#[test]
fn two_spawn_blocking_closures_race_on_every_run() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let found = runs_with_a_race_on("blocking.counter", || {
        rt.block_on(async {
            let cell = Arc::new(Tracked::new(raceway::VarName::exact("blocking.counter"), 0u64));
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let cell = cell.clone();
                    tokio::task::spawn_blocking(move || {
                        let v = cell.get();
                        cell.set(v + 1);
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
    });
    assert_eq!(found, RUNS);
}

#[test]
fn two_scoped_threads_race_on_every_run_and_two_plain_threads_too() {
    let found = runs_with_a_race_on("scoped.counter", || {
        let cell = Tracked::new(raceway::VarName::exact("scoped.counter"), 0u64);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let v = cell.get();
                    cell.set(v + 1);
                });
            }
        });
    });
    assert_eq!(found, RUNS);
    let found = runs_with_a_race_on("threads.counter", || {
        let cell = Arc::new(Tracked::new(raceway::VarName::exact("threads.counter"), 0u64));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let cell = cell.clone();
                std::thread::spawn(move || {
                    let v = cell.get();
                    cell.set(v + 1);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
    assert_eq!(found, RUNS);
}

/// A value whose `Serialize` panics (user code, run while the event is being staged).
struct Boom;

impl serde::Serialize for Boom {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("boom")
    }
}

/// A panic in a value's `Serialize` while a plain task records must not leave the thread's own
/// task holding the plain task's identity (the plain task's state is swapped into the thread's
/// slot while it records, and put back even when the recording unwinds).
#[test]
fn a_panicking_serialize_in_a_plain_task_leaves_both_identities_intact() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let c = rt.block_on(capture_async(async {
        raceway::track_write("root.before", &0, &1);
        tokio::spawn(async {
            raceway::track_write("plain.before", &0, &1);
            let unwound = std::panic::catch_unwind(|| raceway::track_write("plain.boom", &0, &Boom));
            assert!(unwound.is_err(), "the user's panic propagates, as it would without raceway");
            raceway::track_write("plain.after", &0, &1);
        })
        .await
        .unwrap();
        raceway::track_write("root.after", &0, &1);
    }));
    let task_of = |var: &str| {
        c.events
            .iter()
            .find(|e| matches!(&e.kind, raceway::EventKind::StateChange { variable, .. } if variable.as_str() == var))
            .unwrap_or_else(|| panic!("{var} recorded: {:#?}", c.events))
            .task
    };
    assert_eq!(task_of("plain.before"), task_of("plain.after"), "the plain task keeps its identity");
    assert_eq!(task_of("root.before"), task_of("root.after"), "the root task keeps its identity");
    assert_ne!(task_of("root.before"), task_of("plain.before"));
}
