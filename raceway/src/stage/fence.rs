//! An asymmetric memory barrier: the rare side of a handshake pays for the fence, so that the
//! common side needs none.
//!
//! A recording thread locks its own staging buffer for every event it records, and other threads
//! (the delivery thread collecting what quiet threads staged, a thread taking over a moved task)
//! lock it now and then. An ordinary lock costs the owner an atomic read-modify-write per event,
//! and on x86 that instruction also waits for every earlier store to reach the cache: a third of
//! `track_write`'s time (BENCHMARKS.md, issue 17). With this module the owner announces itself
//! with a plain store and checks for a claim with a plain load, and a thread that claims the buffer
//! calls [`heavy`] between its claim and its check, which makes every thread of the process run
//! a full barrier. Either the claimer sees the owner inside, or the owner sees the claim
//! (Dekker's handshake, as in liburcu and folly's `asymmetricHeavyBarrier`).
//!
//! The heavy barrier is Linux's `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: it interrupts only
//! the CPUs running this process's threads, and costs microseconds. Where it is missing (other
//! systems, kernels before 4.14, a seccomp profile without it) [`asymmetric`] is false and the
//! buffers use an ordinary atomic lock on both sides. The choice is made once, before the first
//! buffer exists ([`init`]), and never changes, so both sides of every handshake agree on it.

use std::sync::atomic::{AtomicU8, Ordering};

const UNKNOWN: u8 = 0;
const ASYMMETRIC: u8 = 1;
const SYMMETRIC: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Decides, once, whether the asymmetric handshake is available. Called before any buffer is
/// created; cheap after the first call.
pub(crate) fn init() {
    if MODE.load(Ordering::Acquire) != UNKNOWN {
        return;
    }
    static DECIDE: std::sync::Once = std::sync::Once::new();
    DECIDE.call_once(|| {
        let mode = if sys::register() { ASYMMETRIC } else { SYMMETRIC };
        MODE.store(mode, Ordering::Release);
    });
}

/// Whether the owners of staging buffers may use the light side of the handshake ([`init`] must
/// have run: buffers call it when created).
#[inline(always)]
pub(crate) fn asymmetric() -> bool {
    MODE.load(Ordering::Relaxed) == ASYMMETRIC
}

/// The light side: keeps the compiler from moving the owner's check above its announcement. The
/// processor may still reorder them; [`heavy`] accounts for that.
#[inline(always)]
pub(crate) fn light() {
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// The heavy side: returns once every thread of the process has run a full memory barrier (only
/// called when [`asymmetric`] is true).
pub(crate) fn heavy() {
    std::sync::atomic::fence(Ordering::SeqCst);
    sys::barrier();
}

#[cfg(target_os = "linux")]
mod sys {
    // From <linux/membarrier.h>; the `libc` crate does not name them on every target.
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

    fn membarrier(cmd: libc::c_int) -> bool {
        // SAFETY: `membarrier` takes two integers and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_uint, 0 as libc::c_int) == 0 }
    }

    /// Registers the process for expedited barriers, and checks that one works: after that the
    /// kernel guarantees them (a failure later would be a kernel bug).
    pub(super) fn register() -> bool {
        // Interpreters of the program (Miri) do not implement the call: the ordinary lock then.
        !cfg!(miri)
            && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
            && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
    }

    pub(super) fn barrier() {
        if !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
            // Cannot happen once registered (see `register`). Should it anyway, a context switch
            // of every other thread also orders their memory; sleeping makes one likely, which is
            // the best left to do.
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn barrier() {}
}
