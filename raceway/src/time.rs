//! Event timestamps: taken as nanoseconds since the Unix epoch, formatted as RFC 3339 only when
//! the exporter serializes (the server requires an offset: we always write `Z`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 if the clock is before 1970: never panics).
#[inline]
pub(crate) fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microsecond precision, UTC).
pub(crate) fn write_rfc3339(out: &mut String, nanos: u64) {
    use std::fmt::Write;
    let secs = nanos / 1_000_000_000;
    let micros = (nanos % 1_000_000_000) / 1_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z", rem / 3600, (rem % 3600) / 60, rem % 60);
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
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
        let mut s = String::new();
        write_rfc3339(&mut s, n);
        s
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(fmt(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(fmt(1_735_732_800_123_456_789), "2025-01-01T12:00:00.123456Z");
        // Leap day.
        assert_eq!(fmt(1_709_164_800_000_000_000), "2024-02-29T00:00:00.000000Z");
        assert_eq!(fmt(951_782_400_000_000_000), "2000-02-29T00:00:00.000000Z");
    }
}
