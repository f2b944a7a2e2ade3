//! Schedule fuzzing for `#[raceway::test(iterations = N)]`: while a fuzzing session is active,
//! every tracked access and lock acquire may yield the thread or sleep a few microseconds,
//! decided by a seeded pseudo-random generator, so that repeated runs try other interleavings
//! (and reach the code paths that only some interleavings take).
//!
//! Off, it costs the recording path one relaxed load ([`point`]), and only on calls that already
//! passed the on/off switch: with nothing listening, tracking calls never reach it.
//!
//! The switch is process-wide, not per test: with `cargo test` running tests on parallel threads,
//! a fuzzing test also perturbs the others' timing (never their verdicts beyond what another
//! schedule could do). The seed makes each thread's decisions repeatable; which thread gets which
//! stream is the order in which threads first reach a fuzz point, so a replay follows the same
//! decisions as closely as the OS scheduler allows.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Active sessions; zero: [`point`] returns after one relaxed load.
static ACTIVE: AtomicU32 = AtomicU32::new(0);
/// The seed of the latest session.
static SEED: AtomicU64 = AtomicU64::new(0);
/// Bumped by every session start, so that each thread reseeds its generator.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Threads that reseeded in the current generation: each gets its own stream.
static THREADS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// (generation, generator state).
    static RNG: Cell<(u64, u64)> = const { Cell::new((u64::MAX, 0)) };
}

/// Where a schedule may be perturbed: a tracked access or a lock acquire.
#[inline(always)]
pub(crate) fn point() {
    if ACTIVE.load(Ordering::Relaxed) != 0 {
        perturb();
    }
}

#[cold]
#[inline(never)]
fn perturb() {
    let r = next();
    match r % 16 {
        // A yield lets a runnable thread in; a sleep lets a thread that is still starting (a
        // spawn just made) overtake: together they reorder what a plain run always orders alike.
        0..=5 => std::thread::yield_now(),
        6..=9 => std::thread::sleep(Duration::from_micros((r >> 8) % 300)),
        _ => {}
    }
}

fn next() -> u64 {
    let generation = GENERATION.load(Ordering::Acquire);
    RNG.try_with(|cell| {
        let (g, mut state) = cell.get();
        if g != generation {
            let ordinal = THREADS.fetch_add(1, Ordering::Relaxed);
            state = splitmix(SEED.load(Ordering::Relaxed) ^ splitmix(ordinal));
        }
        state = splitmix(state);
        cell.set((generation, state));
        state
    })
    // Thread teardown: no perturbation.
    .unwrap_or(u64::MAX)
}

/// SplitMix64: a fast, well-mixed step (Steele, Lea, Flood 2014).
pub(crate) fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fuzzing on with `seed` until the session is dropped.
pub(crate) struct Session(());

pub(crate) fn start(seed: u64) -> Session {
    SEED.store(seed, Ordering::Relaxed);
    THREADS.store(0, Ordering::Relaxed);
    GENERATION.fetch_add(1, Ordering::AcqRel);
    ACTIVE.fetch_add(1, Ordering::AcqRel);
    Session(())
}

impl Drop for Session {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_stream_of_decisions() {
        let run = |seed| {
            let _s = start(seed);
            std::thread::spawn(|| (0..8).map(|_| next()).collect::<Vec<_>>()).join().unwrap()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
