//! The process-wide on/off switch every tracking call reads first.

use std::sync::atomic::{AtomicU32, Ordering};

/// Number of reasons to record: an installed client plus active test captures. Zero means every
/// tracking call returns after this one relaxed load.
static LISTENERS: AtomicU32 = AtomicU32::new(0);

/// Whether anything records: compile-time false without the `enabled` feature.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    cfg!(raceway_on) && LISTENERS.load(Ordering::Relaxed) != 0
}

pub(crate) fn add_listener() {
    LISTENERS.fetch_add(1, Ordering::AcqRel);
}

pub(crate) fn remove_listener() {
    LISTENERS.fetch_sub(1, Ordering::AcqRel);
}
