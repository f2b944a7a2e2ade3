//! Event timestamps for the hot path: wall-clock nanoseconds from the CPU's time-stamp counter.
//!
//! `SystemTime::now()` costs ~35 ns on the project's VM (a vDSO call doing the same TSC read plus
//! a seqlock and conversions); reading the counter directly costs ~10 ns. The exporter thread
//! calibrates the counter against `SystemTime` ([`calibrate`], called every round) and publishes
//! a linear conversion; recording threads read the counter and apply it. Until calibrated, on
//! other architectures, or when the kernel itself does not trust the TSC (its clocksource is not
//! `tsc`), timestamps come from `SystemTime`.
//!
//! Timestamps are for display and timelines: race verdicts come from `parent_id` chains and
//! vector clocks (contract §3), so a re-anchoring step of a few microseconds is harmless.

/// Nanoseconds since the Unix epoch.
#[inline(always)]
pub(crate) fn now_nanos() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if let Some(ns) = tsc::now() {
        return ns;
    }
    system_nanos()
}

/// Nanoseconds since the Unix epoch from `SystemTime` (0 if the clock is before 1970: never
/// panics).
#[inline]
pub(crate) fn system_nanos() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Refreshes the counter's calibration; cheap when not due. Called by the exporter thread.
pub(crate) fn calibrate() {
    #[cfg(target_arch = "x86_64")]
    tsc::calibrate();
}

/// Calibrates the counter now if it never was: a first rate from a [`tsc::FIRST_BASELINE_NS`]
/// baseline, spent waiting on the calling thread (the delivery thread, as it starts). Before this,
/// the first 50 ms to a flush interval after `init` recorded every event through `SystemTime`
/// (~35 ns instead of ~10), which made the first figures of a benchmark (and the first requests
/// of a service) bimodal (BENCHMARKS.md, issue 17). [`calibrate`] refines the rate later.
pub(crate) fn calibrate_at_start() {
    #[cfg(target_arch = "x86_64")]
    {
        tsc::calibrate();
        if tsc::waiting_for_first_rate() {
            std::thread::sleep(std::time::Duration::from_nanos(tsc::FIRST_BASELINE_NS));
            tsc::calibrate();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod tsc {
    use super::system_nanos;
    use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
    use std::sync::Mutex;

    /// The published conversion `ns = base_ns + (ticks - base_ticks) * mult >> 32`, behind a
    /// sequence lock (odd `SEQ`: being written). `MULT == 0`: not calibrated, use `SystemTime`.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    static BASE_TICKS: AtomicU64 = AtomicU64::new(0);
    static BASE_NS: AtomicU64 = AtomicU64::new(0);
    static MULT: AtomicU64 = AtomicU64::new(0);
    /// Set for good once the counter misbehaved (went backwards, rate jumped).
    static DISTRUSTED: AtomicBool = AtomicBool::new(false);

    /// Shortest baseline for a first rate estimate, and how often to re-anchor after (each
    /// re-anchor also refines the rate, over the baseline from the first anchor). A 2 ms
    /// baseline read to within ~50 ns (the best of three anchors) gives the rate to ~25 ppm:
    /// 25 µs of drift per second at most, corrected at the next re-anchor.
    pub(super) const FIRST_BASELINE_NS: u64 = 2_000_000;
    const REANCHOR_NS: u64 = 1_000_000_000;

    /// Whether a first anchor was taken and no rate is published yet.
    pub(super) fn waiting_for_first_rate() -> bool {
        !DISTRUSTED.load(Ordering::Relaxed)
            && MULT.load(Ordering::Relaxed) == 0
            && STATE.lock().map(|s| s.first.is_some()).unwrap_or(false)
    }

    #[inline(always)]
    fn ticks() -> u64 {
        // SAFETY: `rdtsc` exists on every x86_64 CPU and has no preconditions.
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
    }

    #[inline(always)]
    pub(super) fn now() -> Option<u64> {
        let seq = SEQ.load(Ordering::Acquire);
        let mult = MULT.load(Ordering::Relaxed);
        let base_ticks = BASE_TICKS.load(Ordering::Relaxed);
        let base_ns = BASE_NS.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if mult == 0 || seq & 1 == 1 || SEQ.load(Ordering::Relaxed) != seq {
            return None;
        }
        let delta = ticks().wrapping_sub(base_ticks);
        // A reading from before the anchor (another core's counter a hair behind) wraps to a huge
        // delta: use the anchor rather than a time in the far future.
        if delta > (1 << 62) {
            return Some(base_ns);
        }
        Some(base_ns + ((delta as u128 * mult as u128) >> 32) as u64)
    }

    /// A (ticks, ns) pair read as close together as possible (best of three).
    fn anchor() -> (u64, u64) {
        let mut best = (u64::MAX, 0, 0);
        for _ in 0..3 {
            let t0 = ticks();
            let ns = system_nanos();
            let t1 = ticks();
            let spread = t1.wrapping_sub(t0);
            if spread < best.0 {
                best = (spread, t0 + spread / 2, ns);
            }
        }
        (best.1, best.2)
    }

    struct State {
        /// The first anchor: the longest baseline for the rate.
        first: Option<(u64, u64)>,
        last_anchor_ns: u64,
    }

    static STATE: Mutex<State> = Mutex::new(State { first: None, last_anchor_ns: 0 });

    pub(super) fn calibrate() {
        if DISTRUSTED.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut state) = STATE.try_lock() else { return };
        let Some(first) = state.first else {
            if !kernel_trusts_tsc() {
                DISTRUSTED.store(true, Ordering::Relaxed);
                return;
            }
            let a = anchor();
            *state = State { first: Some(a), last_anchor_ns: a.1 };
            return;
        };
        let now_ns = system_nanos();
        let published = MULT.load(Ordering::Relaxed) != 0;
        let due = if published { REANCHOR_NS } else { FIRST_BASELINE_NS };
        if now_ns.saturating_sub(state.last_anchor_ns) < due {
            return;
        }
        let (t, ns) = anchor();
        let (dt, dns) = (t.wrapping_sub(first.0), ns.saturating_sub(first.1));
        if t <= first.0 || dns == 0 {
            // Counter went backwards or the wall clock was set back: stop using the counter.
            distrust();
            return;
        }
        let mult = ((dns as u128) << 32) / dt as u128;
        let old = MULT.load(Ordering::Relaxed);
        if mult == 0 || mult > u64::MAX as u128 || (old != 0 && (mult as u64).abs_diff(old) > old / 100) {
            // The rate moved by more than 1%: the wall clock jumped or the counter is not stable.
            distrust();
            return;
        }
        publish(t, ns, mult as u64);
        state.last_anchor_ns = ns;
    }

    fn publish(base_ticks: u64, base_ns: u64, mult: u64) {
        let seq = SEQ.load(Ordering::Relaxed);
        SEQ.store(seq + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        BASE_TICKS.store(base_ticks, Ordering::Relaxed);
        BASE_NS.store(base_ns, Ordering::Relaxed);
        MULT.store(mult, Ordering::Relaxed);
        SEQ.store(seq + 2, Ordering::Release);
    }

    fn distrust() {
        DISTRUSTED.store(true, Ordering::Relaxed);
        publish(0, 0, 0);
    }

    /// Linux only uses the TSC as its clocksource when it found it synchronized across CPUs and
    /// constant-rate; elsewhere (or when unreadable) we do not either.
    fn kernel_trusts_tsc() -> bool {
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .is_ok_and(|s| s.trim() == "tsc")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn calibrated_timestamps_track_the_system_clock() {
            calibrate();
            std::thread::sleep(std::time::Duration::from_millis(60));
            calibrate();
            if MULT.load(Ordering::Relaxed) == 0 {
                // Not an x86 host whose kernel uses the TSC: the fallback is SystemTime itself.
                assert!(DISTRUSTED.load(Ordering::Relaxed) || !kernel_trusts_tsc());
                return;
            }
            for _ in 0..20 {
                let before = system_nanos();
                let ours = now().expect("calibrated");
                let after = system_nanos();
                // Within 200 µs of the system clock (the first baseline bounds the rate error).
                assert!(ours + 200_000 >= before && ours <= after + 200_000, "{before} {ours} {after}");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}
