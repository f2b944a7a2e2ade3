//! The tracked *blocking* guards (`std`, `parking_lot`, [`TrackedMutex`](super::TrackedMutex))
//! this thread holds now, so that a `#[traced]` future can tell when it returns `Pending` with
//! one of them still held: the classic executor-blocking bug (a lock held across `.await`).
//!
//! A blocking guard is `!Send`, so it is created and dropped on one thread and a thread-local
//! list is exact. The list holds only guards taken while the SDK listens, usually zero to two: a
//! push on acquire, a removal on release, and a length read per poll of a `#[traced]` future.
//! `tokio` guards are not listed: holding them across `.await` is what they are for.

use crate::event::location::Location;
use crate::event::name::Name;
use crate::event::LockKind;
use std::cell::RefCell;

/// One held blocking guard.
#[derive(Clone, Debug)]
pub(crate) struct Blocking {
    id: u64,
    pub lock_id: Name,
    pub kind: LockKind,
    pub acquired_at: Location,
    /// Already reported as held across an await (once per guard is enough).
    reported: bool,
}

thread_local! {
    static HELD: RefCell<(u64, Vec<Blocking>)> = const { RefCell::new((0, Vec::new())) };
}

/// Removes its guard from the list when dropped.
#[derive(Debug)]
pub(crate) struct Mark(u64);

/// Lists a blocking guard of `lock_id` as held on this thread until the mark is dropped.
pub(crate) fn hold(lock_id: Name, kind: LockKind, acquired_at: Location) -> Option<Mark> {
    HELD.try_with(|h| {
        let mut h = h.borrow_mut();
        h.0 += 1;
        let id = h.0;
        h.1.push(Blocking { id, lock_id, kind, acquired_at, reported: false });
        Mark(id)
    })
    .ok()
}

impl Drop for Mark {
    fn drop(&mut self) {
        let _ = HELD.try_with(|h| {
            let mut h = h.borrow_mut();
            if let Some(i) = h.1.iter().rposition(|b| b.id == self.0) {
                h.1.remove(i);
            }
        });
    }
}

/// How many blocking guards this thread holds (a poll compares it before and after).
#[inline]
pub(crate) fn depth() -> usize {
    HELD.try_with(|h| h.borrow().1.len()).unwrap_or(0)
}

/// The guards taken since the list was `depth` long and not reported yet, marked reported.
pub(crate) fn unreported_since(depth: usize) -> Vec<Blocking> {
    HELD.try_with(|h| {
        let mut h = h.borrow_mut();
        let start = depth.min(h.1.len());
        h.1[start..]
            .iter_mut()
            .filter(|b| !b.reported)
            .map(|b| {
                b.reported = true;
                b.clone()
            })
            .collect()
    })
    .unwrap_or_default()
}
