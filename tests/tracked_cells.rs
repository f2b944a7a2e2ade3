//! `Tracked<T>` and `#[raceway::shared]`: the recorded accesses, their names and locations, and
//! what the race analysis makes of them under concurrency.

use raceway::testing::{capture, capture_async};
use raceway::{Event, EventKind, Tracked, VarName};
use serde_json::json;
use std::sync::Arc;

/// (variable, access, old, new, line) of every StateChange, lock events as ("lock"/"unlock", id).
fn accesses(events: &[Event]) -> Vec<(String, String, serde_json::Value, serde_json::Value, u32)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StateChange { variable, old_value, new_value, location, access_type } => Some((
                variable.to_string(),
                access_type.as_str().to_string(),
                old_value.clone(),
                new_value.clone(),
                location.line,
            )),
            EventKind::LockAcquire { lock_id, location, .. } => {
                Some((lock_id.to_string(), "lock".into(), json!(null), json!(null), location.line))
            }
            EventKind::LockRelease { lock_id, location, .. } => {
                Some((lock_id.to_string(), "unlock".into(), json!(null), json!(null), location.line))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn get_set_and_update_record_reads_writes_and_the_cells_own_lock_at_the_callers_line() {
    let c = capture(|| {
        let cell = Tracked::new("tracked_cells::balance", 100u64);
        let line = line!() + 1;
        let seen = cell.get();
        cell.set(seen - 30);
        let doubled = cell.update(|v| {
            *v *= 2;
            *v
        });
        (doubled, cell.name().to_string(), line)
    });
    let (doubled, name, line) = c.output;
    assert_eq!(doubled, 140);
    let upd = format!("{name}.update");
    assert_eq!(
        accesses(&c.events),
        vec![
            (name.clone(), "Read".into(), json!(null), json!(100), line),
            (name.clone(), "Write".into(), json!(100), json!(70), line + 1),
            (upd.clone(), "lock".into(), json!(null), json!(null), line + 2),
            (name.clone(), "Read".into(), json!(null), json!(70), line + 2),
            (name.clone(), "Write".into(), json!(70), json!(140), line + 2),
            (upd, "unlock".into(), json!(null), json!(null), line + 2),
        ]
    );
    assert!(c.events.iter().all(|e| match &e.kind {
        EventKind::StateChange { location, .. } => location.file == file!(),
        _ => true,
    }));
}

#[test]
fn two_cells_never_share_a_name_unless_it_is_asked_for() {
    let a = Tracked::new("tracked_cells::dup", 0);
    let b = Tracked::new("tracked_cells::dup", 0);
    let c = Tracked::new_debug("tracked_cells::dup", 0);
    assert_eq!(a.name(), "tracked_cells::dup");
    assert_eq!(b.name(), "tracked_cells::dup#2");
    assert_eq!(c.name(), "tracked_cells::dup#3");
    let x = Tracked::new(VarName::exact("tracked_cells::row[1]"), 0);
    let y = Tracked::new(VarName::exact("tracked_cells::row[1]"), 0);
    assert_eq!(x.name(), y.name());
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    Busy(u8),
}

#[test]
fn values_that_are_not_serialize_are_recorded_by_debug_or_type_name() {
    struct Opaque;
    let c = capture(|| {
        let p = Tracked::new_debug("tracked_cells::phase", Phase::Idle);
        p.set(Phase::Busy(2));
        let o = Tracked::new_opaque("tracked_cells::opaque", Opaque);
        o.set(Opaque);
    });
    let a = accesses(&c.events);
    assert_eq!((a[0].2.clone(), a[0].3.clone()), (json!("Idle"), json!("Busy(2)")));
    let opaque = json!(format!("<{}>", std::any::type_name::<Opaque>()));
    assert_eq!((a[1].2.clone(), a[1].3.clone()), (opaque.clone(), opaque));
}

/// Two tasks each doing `get` then `set` on one cell: the classic lost update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_then_set_in_two_tasks_is_reported_as_a_race() {
    let c = capture_async(async {
        let cell = Arc::new(Tracked::new("tracked_cells::lost_update", 10i64));
        let (c1, c2) = (cell.clone(), cell.clone());
        let a = raceway::spawn(async move { c1.set(c1.get() + 1) });
        let b = raceway::spawn(async move { c2.set(c2.get() + 1) });
        a.await.unwrap();
        b.await.unwrap();
        cell.name().to_string()
    })
    .await;
    let report = raceway::analyze(&c.events);
    assert!(!report.races.is_empty(), "{report}");
    assert!(report.races.iter().all(|r| r.variable == c.output));
    assert!(report.races.iter().any(|r| r.severity == raceway::Severity::Critical), "write/write: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_are_not_reported_but_a_set_racing_with_an_update_is() {
    let updates = capture_async(async {
        let cell = Arc::new(Tracked::new("tracked_cells::counter", 0u32));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = cell.clone();
                raceway::spawn(async move { c.update(|v| *v += 1) })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        cell.get()
    })
    .await;
    assert_eq!(updates.output, 4);
    assert!(raceway::analyze(&updates.events).is_clean(), "{}", raceway::analyze(&updates.events));

    let mixed = capture_async(async {
        let cell = Arc::new(Tracked::new("tracked_cells::mixed", 0u32));
        let (c1, c2) = (cell.clone(), cell.clone());
        let a = raceway::spawn(async move { c1.update(|v| *v += 1) });
        let b = raceway::spawn(async move { c2.set(7) });
        a.await.unwrap();
        b.await.unwrap();
    })
    .await;
    let report = raceway::analyze(&mixed.events);
    assert!(!report.races.is_empty(), "a plain set is not protected by the update lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accesses_ordered_by_spawn_and_join_are_not_races() {
    let c = capture_async(async {
        let cell = Arc::new(Tracked::new("tracked_cells::ordered", 1));
        cell.set(2);
        let c1 = cell.clone();
        raceway::spawn(async move { c1.set(c1.get() * 3) }).await.unwrap();
        cell.get()
    })
    .await;
    assert_eq!(c.output, 6);
    assert!(raceway::analyze(&c.events).is_clean());
}

#[test]
fn a_panic_inside_update_records_the_release_and_leaves_the_cell_usable() {
    let c = capture(|| {
        let cell = Tracked::new("tracked_cells::poisoned", 1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cell.update(|v| {
                *v = 5;
                panic!("inside update");
            })
        }))
        .is_err();
        (panicked, cell.get())
    });
    assert_eq!(c.output, (true, 5));
    let kinds: Vec<String> = accesses(&c.events).into_iter().map(|a| a.1).collect();
    assert_eq!(kinds, ["lock", "Read", "unlock", "Read"]);
}

#[raceway::shared]
#[derive(Debug)]
struct Account {
    #[shared(key)]
    owner: String,
    balance: u64,
    #[shared(skip)]
    audit: Vec<String>,
}

#[raceway::shared(name = "Session", constructor = "open")]
struct UserSession<T: Clone + serde::Serialize> {
    visits: u32,
    data: T,
}

#[test]
fn shared_struct_fields_are_tracked_cells_named_after_the_key() {
    let c = capture(|| {
        let acc = Account::new("alice".to_string(), 100, Vec::new());
        let b = acc.balance.get();
        acc.balance.set(b - 25);
        acc.audit.len() + acc.owner.len()
    });
    assert_eq!(c.output, 5);
    let a = accesses(&c.events);
    assert_eq!(a[0].0, "Account[alice].balance");
    assert_eq!((a[1].1.as_str(), &a[1].2, &a[1].3), ("Write", &json!(100), &json!(75)));
    // Same key, same entity: the name is shared on purpose.
    let again = Account::new("alice".to_string(), 0, Vec::new());
    assert_eq!(again.balance.name(), "Account[alice].balance");
}

#[test]
fn shared_structs_without_a_key_get_a_unique_name_per_instance() {
    let a = UserSession::open(0, "x".to_string());
    let b = UserSession::open(0, "y".to_string());
    assert!(a.visits.name().starts_with("Session#") && a.visits.name().ends_with(".visits"), "{}", a.visits.name());
    assert_ne!(a.visits.name(), b.visits.name());
    let c = capture(|| {
        a.data.set("z".into());
        a.visits.update(|v| *v += 1)
    });
    assert_eq!(accesses(&c.events)[0].3, json!("z"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_struct_fields_race_like_tracked_cells() {
    let c = capture_async(async {
        let acc = Arc::new(Account::new("bob".to_string(), 50, Vec::new()));
        let (a1, a2) = (acc.clone(), acc.clone());
        let t1 = raceway::spawn(async move { a1.balance.set(a1.balance.get() - 10) });
        let t2 = raceway::spawn(async move { a2.balance.set(a2.balance.get() - 20) });
        t1.await.unwrap();
        t2.await.unwrap();
    })
    .await;
    let report = raceway::analyze(&c.events);
    assert!(report.races.iter().any(|r| r.variable == "Account[bob].balance"), "{report}");
}

#[test]
fn tracked_cells_and_shared_structs_are_send_and_sync_when_their_values_are() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tracked<u64>>();
    assert_send_sync::<Tracked<Vec<String>>>();
    assert_send_sync::<Account>();
    assert_send_sync::<raceway::TrackedMutex<u64>>();
    assert_send_sync::<raceway::TrackedRwLock<u64>>();
}
