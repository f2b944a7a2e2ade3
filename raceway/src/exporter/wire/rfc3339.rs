//! Event timestamps as RFC 3339, formatted only when the exporter serializes (the server
//! requires an offset: we always write `Z`). Hand-written rather than `chrono`/`time`: the
//! exporter writes one per event, and caching the calendar part per second is what made
//! timestamps drop out of its profile (BENCHMARKS.md, "wire").

use std::cell::Cell;

/// `YYYY-MM-DDTHH:MM:SS.` of one second: the part of a timestamp that a batch's events share.
type SecondPrefix = [u8; 20];

thread_local! {
    // Events of a batch were recorded within milliseconds of each other, so the calendar
    // computation (divisions by eras, years and months) is done once per second, not per event.
    static LAST_SECOND: Cell<(u64, SecondPrefix)> = const { Cell::new((u64::MAX, [0; 20])) };
}

/// Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microsecond precision, UTC) byte by byte.
pub(crate) fn write_rfc3339(out: &mut Vec<u8>, nanos: u64) {
    let secs = nanos / 1_000_000_000;
    let micros = ((nanos % 1_000_000_000) / 1_000) as usize;
    let head = LAST_SECOND
        .try_with(|cache| {
            let (cached, head) = cache.get();
            if cached == secs {
                return head;
            }
            let head = second_prefix(secs);
            cache.set((secs, head));
            head
        })
        // The thread is exiting (its locals are gone): compute without the cache.
        .unwrap_or_else(|_| second_prefix(secs));
    let mut buf = [0u8; 27];
    buf[..20].copy_from_slice(&head);
    put2(&mut buf[20..], micros / 10_000);
    put2(&mut buf[22..], micros / 100 % 100);
    put2(&mut buf[24..], micros % 100);
    buf[26] = b'Z';
    out.extend_from_slice(&buf);
}

fn second_prefix(secs: u64) -> SecondPrefix {
    let days = (secs / 86_400) as i64;
    let rem = (secs % 86_400) as usize;
    let (y, m, d) = civil_from_days(days);
    // A u64 of nanoseconds ends in 2554: the year always has four digits.
    let y = y as usize;
    let mut b = *b"0000-00-00T00:00:00.";
    put2(&mut b[0..], y / 100 % 100);
    put2(&mut b[2..], y % 100);
    put2(&mut b[5..], m as usize);
    put2(&mut b[8..], d as usize);
    put2(&mut b[11..], rem / 3600);
    put2(&mut b[14..], rem % 3600 / 60);
    put2(&mut b[17..], rem % 60);
    b
}

/// Two decimal digits of `n` (< 100) at the start of `dst`.
#[inline]
fn put2(dst: &mut [u8], n: usize) {
    dst[0] = b'0' + (n / 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(n: u64) -> String {
        let mut s = Vec::new();
        write_rfc3339(&mut s, n);
        String::from_utf8(s).unwrap()
    }

    /// The formatting this module used before it wrote bytes itself (`core::fmt`), kept as the
    /// reference the fast writer must equal.
    fn reference(nanos: u64) -> String {
        let secs = nanos / 1_000_000_000;
        let micros = (nanos % 1_000_000_000) / 1_000;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(fmt(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(fmt(1_735_732_800_123_456_789), "2025-01-01T12:00:00.123456Z");
        // Leap day.
        assert_eq!(fmt(1_709_164_800_000_000_000), "2024-02-29T00:00:00.000000Z");
        assert_eq!(fmt(951_782_400_000_000_000), "2000-02-29T00:00:00.000000Z");
        // 2100 is not a leap year.
        assert_eq!(fmt(4_107_456_000_000_000_000), "2100-02-28T00:00:00.000000Z");
        assert_eq!(fmt(4_107_542_399_999_999_999), "2100-02-28T23:59:59.999999Z");
        assert_eq!(fmt(4_107_542_400_000_000_000), "2100-03-01T00:00:00.000000Z");
        assert_eq!(fmt(u64::MAX), "2554-07-21T23:34:33.709551Z");
    }

    #[test]
    fn byte_writer_equals_the_fmt_reference_over_every_day_and_edge_of_the_range() {
        const DAY: u64 = 86_400 * 1_000_000_000;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut instants = vec![0, 1, 999, 1_000, 999_999_999, 1_000_000_000, u64::MAX, u64::MAX - 1];
        // Every day from 1970 to the end of the u64 range: its first and last nanosecond and a
        // random instant inside it (covers every leap day, month end and year end).
        let mut day = 0u64;
        while let Some(start) = day.checked_mul(DAY) {
            instants.push(start);
            if let Some(end) = start.checked_add(DAY - 1) {
                instants.push(end);
            }
            instants.push(start.saturating_add(next() % DAY));
            day += 1;
        }
        for _ in 0..100_000 {
            instants.push(next());
        }
        for n in instants {
            assert_eq!(fmt(n), reference(n), "{n}");
        }
    }

    #[test]
    fn the_per_second_cache_never_serves_another_second() {
        let base = 1_735_732_800_000_000_000u64;
        // Same second with changing fractions, then alternating seconds.
        for n in [base, base + 1_000, base + 999_999_999, base + 1_000_000_000, base, base + 86_400_000_000_000, base] {
            assert_eq!(fmt(n), reference(n));
        }
    }
}
