//! What a scenario can tune about [`Ping`](super::Ping).

use sim_core::Duration;

/// Ping's parameters, as a scenario file writes them.
///
/// Every field has a default, so `()` or an empty map is a valid config; an
/// unknown field is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PingConfig {
    /// How long a request waits for its response before it is reported as
    /// [`PingEvent::TimedOut`](super::PingEvent::TimedOut) and forgotten.
    /// Default 5 s.
    pub timeout: Duration,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            timeout: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    fn from_map(fields: &[(&'static str, &'static str)]) -> Result<PingConfig, Error> {
        PingConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        assert_eq!(from_map(&[]), Ok(PingConfig::default()));
        assert_eq!(
            from_map(&[("timeout", "250ms")]),
            Ok(PingConfig {
                timeout: Duration::from_millis(250)
            })
        );
    }

    #[test]
    fn unknown_fields_and_missing_units_are_errors() {
        assert!(from_map(&[("timout", "1s")]).is_err());
        assert!(from_map(&[("timeout", "5")]).is_err());
    }
}
