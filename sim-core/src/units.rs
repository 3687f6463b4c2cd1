//! Quantities with units, as scenario files write them: sizes ("1200B", "4KiB",
//! "1.5MB") and rates ("10Mbps", "250kbps", "1Gbps").
//!
//! Every quantity is an exact integer (bytes, bits per second); text is parsed
//! as an exact decimal, never through floating point, so "1.5MB" is exactly
//! 1,500,000 bytes on every machine. A number without a unit is an error.

use std::fmt;
use std::str::FromStr;

use crate::time::Duration;

/// Why a quantity did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {expected}")]
pub struct UnitError {
    /// The text that was given.
    pub text: String,
    /// What was expected instead.
    pub expected: &'static str,
}

/// Parses `<decimal><unit>` exactly: the value times the unit's scale must be a
/// whole number that fits in a `u64`.
pub(crate) fn parse_scaled(
    text: &str,
    units: &[(&str, u64)],
    expected: &'static str,
) -> Result<u64, UnitError> {
    let err = || UnitError {
        text: text.to_string(),
        expected,
    };
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(err)?;
    let (number, unit) = s.split_at(split);
    let scale = units
        .iter()
        .find(|(name, _)| *name == unit.trim())
        .map(|&(_, scale)| scale)
        .ok_or_else(err)?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(err());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| err())?
    };
    let mut value = whole.checked_mul(scale).ok_or_else(err)?;
    if !frac.is_empty() {
        let digits: u32 = frac.len().try_into().map_err(|_| err())?;
        let denom = 10u64.checked_pow(digits).ok_or_else(err)?;
        let num: u64 = frac.parse().map_err(|_| err())?;
        let scaled = u128::from(num) * u128::from(scale);
        if scaled % u128::from(denom) != 0 {
            return Err(err());
        }
        let part = u64::try_from(scaled / u128::from(denom)).map_err(|_| err())?;
        value = value.checked_add(part).ok_or_else(err)?;
    }
    Ok(value)
}

/// Writes `value` in the first unit (largest first) that shows it exactly with
/// at most three decimals.
pub(crate) fn write_scaled(
    f: &mut fmt::Formatter<'_>,
    value: u64,
    units: &[(&str, u64)],
) -> fmt::Result {
    for &(name, scale) in units {
        if value >= scale && (value % scale) * 1000 % scale == 0 {
            let whole = value / scale;
            let milli = (value % scale) * 1000 / scale;
            return if milli == 0 {
                write!(f, "{whole}{name}")
            } else {
                let frac = format!("{milli:03}");
                write!(f, "{whole}.{}{name}", frac.trim_end_matches('0'))
            };
        }
    }
    let (name, _) = units.last().expect("at least one unit");
    write!(f, "{value}{name}")
}

/// Implements serde's `Serialize`/`Deserialize` for a type through its
/// `Display`/`FromStr`, so that scenario files write quantities as strings with
/// units and a missing unit is a parse error at the value's position.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "a string with a unit")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}
pub(crate) use serde_via_str;

/// A size in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("kB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
];

impl FromStr for ByteSize {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        parse_scaled(
            s,
            SIZE_UNITS,
            "a size such as \"1200B\", \"4KiB\" or \"1.5MB\"",
        )
        .map(ByteSize)
    }
}
impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units: &[(&str, u64)] = if self.0 % 1024 == 0 && self.0 > 0 {
            &[
                ("GiB", 1 << 30),
                ("MiB", 1 << 20),
                ("KiB", 1 << 10),
                ("B", 1),
            ]
        } else {
            &[
                ("GB", 1_000_000_000),
                ("MB", 1_000_000),
                ("kB", 1_000),
                ("B", 1),
            ]
        };
        write_scaled(f, self.0, units)
    }
}
serde_via_str!(ByteSize);

/// A data rate in bits per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bandwidth(u64);

const RATE_UNITS: &[(&str, u64)] = &[
    ("bps", 1),
    ("kbps", 1_000),
    ("Kbps", 1_000),
    ("Mbps", 1_000_000),
    ("Gbps", 1_000_000_000),
];

impl Bandwidth {
    /// A rate of `bps` bits per second; zero is not a rate.
    pub fn from_bps(bps: u64) -> Option<Self> {
        (bps > 0).then_some(Bandwidth(bps))
    }
    /// The rate in bits per second.
    pub fn bps(self) -> u64 {
        self.0
    }
    /// How long `bytes` take to serialize onto a link of this rate, rounded up
    /// to the next nanosecond so that a busy link is never free early.
    pub fn transmit_time(self, bytes: u64) -> Duration {
        let ns = (u128::from(bytes) * 8 * 1_000_000_000).div_ceil(u128::from(self.0));
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
    /// How many bytes this rate moves in `d` (rounded down).
    pub fn bytes_in(self, d: Duration) -> u64 {
        let b = u128::from(self.0) * u128::from(d.as_nanos()) / 8 / 1_000_000_000;
        u64::try_from(b).unwrap_or(u64::MAX)
    }
}
impl FromStr for Bandwidth {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        const EXPECTED: &str = "a positive rate such as \"250kbps\", \"10Mbps\" or \"1Gbps\"";
        let bps = parse_scaled(s, RATE_UNITS, EXPECTED)?;
        Bandwidth::from_bps(bps).ok_or(UnitError {
            text: s.to_string(),
            expected: EXPECTED,
        })
    }
}
impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_scaled(
            f,
            self.0,
            &[
                ("Gbps", 1_000_000_000),
                ("Mbps", 1_000_000),
                ("kbps", 1_000),
                ("bps", 1),
            ],
        )
    }
}
serde_via_str!(Bandwidth);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_exactly() {
        assert_eq!("1200B".parse::<ByteSize>().unwrap(), ByteSize(1200));
        assert_eq!("4KiB".parse::<ByteSize>().unwrap(), ByteSize(4096));
        assert_eq!("1.5MB".parse::<ByteSize>().unwrap(), ByteSize(1_500_000));
        assert!("1.5B".parse::<ByteSize>().is_err());
        assert!("12".parse::<ByteSize>().is_err());
        for n in [1u64, 1000, 1024, 1500, 4096, 1_500_000] {
            let s = ByteSize(n);
            assert_eq!(s.to_string().parse::<ByteSize>().unwrap(), s);
        }
    }

    #[test]
    fn rates_parse_and_time_bytes() {
        let r: Bandwidth = "10Mbps".parse().unwrap();
        assert_eq!(r.bps(), 10_000_000);
        // 1250 bytes = 10,000 bits at 10 Mbit/s = 1 ms.
        assert_eq!(r.transmit_time(1250), Duration::from_millis(1));
        assert_eq!(r.bytes_in(Duration::from_millis(1)), 1250);
        assert!("0Mbps".parse::<Bandwidth>().is_err());
        assert_eq!(
            "2.5Gbps".parse::<Bandwidth>().unwrap().to_string(),
            "2.5Gbps"
        );
    }
}
