//! Virtual time: integer nanoseconds, never floating point.
//!
//! [`Instant`] is a point on the simulation clock (nanoseconds since the start of
//! the run); [`Duration`] is a span between two of them. Both are `u64`
//! nanoseconds, so a run can last about 584 years of virtual time and every
//! machine computes the same times bit for bit.
//!
//! Arithmetic that could overflow has a checked form (`checked_add`,
//! `checked_sub`); the operators panic on overflow or underflow, as the integer
//! operators of the standard library do in debug builds, but in every build.
//!
//! Durations parse from text with a unit, as scenario files write them:
//!
//! ```
//! use sim_core::Duration;
//! assert_eq!("250us".parse::<Duration>().unwrap(), Duration::from_micros(250));
//! assert_eq!("1.5s".parse::<Duration>().unwrap(), Duration::from_millis(1500));
//! assert_eq!("2m".parse::<Duration>().unwrap(), Duration::from_secs(120));
//! assert!("40".parse::<Duration>().is_err()); // a unit is required
//! ```

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

use crate::units::{parse_scaled, UnitError};

/// A point in virtual time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Instant {
    /// The start of every run.
    pub const ZERO: Instant = Instant(0);
    /// The largest representable instant; used as "never".
    pub const MAX: Instant = Instant(u64::MAX);

    /// The instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Time since the start as a [`Duration`].
    pub const fn since_start(self) -> Duration {
        Duration(self.0)
    }
    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        self.0.checked_add(d.0).map(Instant)
    }
    /// `self - earlier`, or `None` if `earlier` is later than `self`.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(Duration)
    }
    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
    /// `self + d`, clamped at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);
    /// The longest representable span.
    pub const MAX: Duration = Duration(u64::MAX);

    /// A span of `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> Self {
        Duration(n)
    }
    /// A span of `n` microseconds.
    pub const fn from_micros(n: u64) -> Self {
        Duration(n * 1_000)
    }
    /// A span of `n` milliseconds.
    pub const fn from_millis(n: u64) -> Self {
        Duration(n * 1_000_000)
    }
    /// A span of `n` seconds.
    pub const fn from_secs(n: u64) -> Self {
        Duration(n * 1_000_000_000)
    }
    /// The span in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The span in seconds, for reporting only (never fed back into time).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// The span in milliseconds, for reporting only.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Duration) -> Option<Duration> {
        self.0.checked_add(other.0).map(Duration)
    }
    /// `self - other`, or `None` if `other` is longer.
    pub fn checked_sub(self, other: Duration) -> Option<Duration> {
        self.0.checked_sub(other.0).map(Duration)
    }
    /// `self * k`, or `None` on overflow.
    pub fn checked_mul(self, k: u64) -> Option<Duration> {
        self.0.checked_mul(k).map(Duration)
    }
    /// `self + other`, clamped at [`Duration::MAX`].
    pub fn saturating_add(self, other: Duration) -> Duration {
        Duration(self.0.saturating_add(other.0))
    }
    /// `self * k`, clamped at [`Duration::MAX`].
    pub fn saturating_mul(self, k: u64) -> Duration {
        Duration(self.0.saturating_mul(k))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.checked_add(d).expect("virtual time overflow")
    }
}
impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}
impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.checked_duration_since(earlier)
            .expect("virtual time went backwards")
    }
}
impl Add for Duration {
    type Output = Duration;
    fn add(self, other: Duration) -> Duration {
        self.checked_add(other).expect("duration overflow")
    }
}
impl AddAssign for Duration {
    fn add_assign(&mut self, other: Duration) {
        *self = *self + other;
    }
}
impl Sub for Duration {
    type Output = Duration;
    fn sub(self, other: Duration) -> Duration {
        self.checked_sub(other).expect("negative duration")
    }
}

/// The units a duration may carry, with their length in nanoseconds.
const DURATION_UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("min", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl FromStr for Duration {
    type Err = UnitError;
    /// Parses `<decimal><unit>` with unit one of ns, us (µs), ms, s, m (min),
    /// h, or several such parts in a row ("1h30m", "3m50s"), which add up.
    /// Each part must be a whole number of nanoseconds: "1.5ns" is an error.
    fn from_str(s: &str) -> Result<Self, UnitError> {
        const EXPECTED: &str =
            "a duration such as \"250us\", \"40ms\", \"1.5s\", \"2m\", \"1h\" or \"3m50s\"";
        let err = || UnitError {
            text: s.to_string(),
            expected: EXPECTED,
        };
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(err());
        }
        let mut total = 0u64;
        while !rest.is_empty() {
            let is_number = |c: char| c.is_ascii_digit() || c == '.';
            let number_end = rest.find(|c: char| !is_number(c)).unwrap_or(rest.len());
            let part_end = rest[number_end..]
                .find(is_number)
                .map_or(rest.len(), |i| number_end + i);
            let part =
                parse_scaled(&rest[..part_end], DURATION_UNITS, EXPECTED).map_err(|_| err())?;
            total = total.checked_add(part).ok_or_else(err)?;
            rest = &rest[part_end..];
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    /// Writes the duration in the largest unit that shows it exactly with at
    /// most three decimals, e.g. `1.5s`, `250us`, `17ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::units::write_scaled(
            f,
            self.0,
            &[
                ("h", 3_600_000_000_000),
                ("m", 60_000_000_000),
                ("s", 1_000_000_000),
                ("ms", 1_000_000),
                ("us", 1_000),
                ("ns", 1),
            ],
        )
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", Duration(self.0))
    }
}

crate::units::serde_via_str!(Duration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(
            "10ns".parse::<Duration>().unwrap(),
            Duration::from_nanos(10)
        );
        assert_eq!(
            "250us".parse::<Duration>().unwrap(),
            Duration::from_micros(250)
        );
        assert_eq!(
            "40ms".parse::<Duration>().unwrap(),
            Duration::from_millis(40)
        );
        assert_eq!(
            "1.5s".parse::<Duration>().unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!("2m".parse::<Duration>().unwrap(), Duration::from_secs(120));
        assert_eq!("1h".parse::<Duration>().unwrap(), Duration::from_secs(3600));
        assert_eq!(
            "0.001ms".parse::<Duration>().unwrap(),
            Duration::from_nanos(1000)
        );
    }

    #[test]
    fn parts_add_up() {
        assert_eq!(
            "3m50s".parse::<Duration>().unwrap(),
            Duration::from_secs(230)
        );
        assert_eq!(
            "1h30m".parse::<Duration>().unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            "1s500ms".parse::<Duration>().unwrap(),
            Duration::from_millis(1500)
        );
        for bad in ["1m30", "3m50x", "1h1.5ns"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "",
            "40",
            "ms",
            "1.5ns",
            "-1s",
            "1.2.3s",
            "5 parsecs",
            "99999999999999999999h",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn display_round_trips() {
        for d in [
            0,
            1,
            999,
            1_000,
            250_000,
            1_500_000_000,
            120_000_000_000,
            3_600_000_000_123,
        ] {
            let d = Duration::from_nanos(d);
            assert_eq!(d.to_string().parse::<Duration>().unwrap(), d, "{d}");
        }
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(Instant::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(
            Instant::ZERO.checked_duration_since(Instant::from_nanos(1)),
            None
        );
        assert_eq!(
            Instant::from_nanos(5) - Instant::from_nanos(2),
            Duration::from_nanos(3)
        );
        assert_eq!(Duration::MAX.checked_mul(2), None);
    }
}
