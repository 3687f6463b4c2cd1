//! The wall clock the registry's timestamps show: virtual time zero is
//! 2025-10-02T12:00:00Z (the seeds' example date), and a timestamp is that
//! plus the virtual time, in UTC.
//!
//! JSON timestamps are ISO 8601 with microseconds and a `Z`
//! (`2025-10-02T12:05:00.000000Z`), so they carry virtual time to the
//! microsecond; the HTTP `Date` header is the IMF-fixdate of RFC 9110 (whole
//! seconds). Parsing never panics and accepts what seed 001 writes too (no
//! fraction, no `Z`).

use sim_core::Instant;

const NANOS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: u64 = 86_400;

/// Days from 1970-01-01 to `year-month-day` (proleptic Gregorian; Howard
/// Hinnant's `days_from_civil`).
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01, as (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds of virtual time zero: 2025-10-02T12:00:00Z.
const EPOCH_UNIX_SECS: u64 = days_from_civil(2025, 10, 2) as u64 * SECS_PER_DAY + 12 * 3600;

/// (days since 1970, second of the day, nanosecond of the second) at `at`.
fn split(at: Instant) -> (i64, u64, u64) {
    let nanos = at.as_nanos();
    let secs = EPOCH_UNIX_SECS + nanos / NANOS_PER_SEC;
    (
        (secs / SECS_PER_DAY) as i64,
        secs % SECS_PER_DAY,
        nanos % NANOS_PER_SEC,
    )
}

/// `at` as an ISO 8601 UTC timestamp with microseconds.
pub(crate) fn iso8601(at: Instant) -> String {
    let (days, sec_of_day, nanos) = split(at);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (sec_of_day / 3600, sec_of_day / 60 % 60, sec_of_day % 60);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z",
        nanos / 1000
    )
}

/// `at` as an HTTP date, e.g. `Thu, 02 Oct 2025 12:00:00 GMT`.
pub(crate) fn http_date(at: Instant) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, sec_of_day, _) = split(at);
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(mo - 1) as usize],
        sec_of_day / 3600,
        sec_of_day / 60 % 60,
        sec_of_day % 60
    )
}

/// The virtual time an ISO 8601 UTC timestamp names:
/// `YYYY-MM-DDTHH:MM:SS`, then optionally `.` and 1 to 9 digits, then
/// optionally `Z`. `None` for anything else, and for times before virtual
/// time zero or too late for an [`Instant`].
pub(crate) fn parse_iso8601(text: &str) -> Option<Instant> {
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_len = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=month_len).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos = 0u64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&len) {
            return None;
        }
        let digits = number(20..20 + len)? as u64;
        nanos = digits * 10u64.pow(9 - len as u32);
        rest = &fraction[len..];
    }
    if !(rest.is_empty() || rest == b"Z") {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    let unix = days * SECS_PER_DAY + (hour * 3600 + minute * 60 + second) as u64;
    let since_epoch = unix.checked_sub(EPOCH_UNIX_SECS)?;
    since_epoch
        .checked_mul(NANOS_PER_SEC)?
        .checked_add(nanos)
        .map(Instant::from_nanos)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use sim_core::Duration;

    use super::*;

    #[test]
    fn virtual_time_zero_is_the_seeds_example_date() {
        assert_eq!(iso8601(Instant::ZERO), "2025-10-02T12:00:00.000000Z");
        assert_eq!(http_date(Instant::ZERO), "Thu, 02 Oct 2025 12:00:00 GMT");
        let later = Instant::ZERO + Duration::from_secs(300) + Duration::from_micros(7);
        assert_eq!(iso8601(later), "2025-10-02T12:05:00.000007Z");
        // Across a month, a year and a leap day.
        let days = |n: u64| Instant::ZERO + Duration::from_secs(n * SECS_PER_DAY);
        assert_eq!(iso8601(days(30)), "2025-11-01T12:00:00.000000Z");
        assert_eq!(iso8601(days(150)), "2026-03-01T12:00:00.000000Z");
        assert_eq!(http_date(days(880)), "Tue, 29 Feb 2028 12:00:00 GMT");
    }

    #[test]
    fn parses_the_seeds_formats_and_rejects_the_rest() {
        let five_min = Instant::ZERO + Duration::from_secs(300);
        assert_eq!(parse_iso8601("2025-10-02T12:05:00Z"), Some(five_min));
        assert_eq!(parse_iso8601("2025-10-02T12:05:00"), Some(five_min));
        assert_eq!(
            parse_iso8601("2025-10-02T12:05:00.5"),
            Some(five_min + Duration::from_millis(500))
        );
        assert_eq!(
            parse_iso8601("2025-10-02T12:05:00.000000001Z"),
            Some(five_min + Duration::from_nanos(1))
        );
        for bad in [
            "",
            "2025-10-02",
            "2025-10-02T11:59:59Z",
            "2025-13-02T12:00:00Z",
            "2025-02-29T12:00:00Z",
            "2025-10-02T24:00:00Z",
            "2025-10-02T12:00:00.Z",
            "2025-10-02T12:00:00.0000000000Z",
            "2025-10-02T12:00:00+00:00",
            "2025-10-02 12:00:00",
            "9999-12-31T23:59:59Z",
            "+025-10-02T12:00:00Z",
            "2025-10-02T12:00:00Zjunk",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn timestamps_round_trip_to_the_microsecond(nanos in 0u64..(1 << 62)) {
            let at = Instant::from_nanos(nanos);
            let back = parse_iso8601(&iso8601(at)).expect("parses what it writes");
            prop_assert_eq!(back.as_nanos(), nanos / 1000 * 1000);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = parse_iso8601(&text);
        }
    }
}
