//! What a scenario can tune about [`Flood`](super::Flood).

use sim_core::Duration;

/// Flood's parameters, as a scenario file writes them.
///
/// Every field has a default, so an empty map is a valid config; an unknown
/// field is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FloodConfig {
    /// How many hops a message this node originates may travel. On a line,
    /// a message with hop limit `h` reaches exactly the `h` nodes after its
    /// origin; 0 sends nothing. Default 7.
    pub hop_limit: u8,
    /// How long a node remembers a message id it has seen, and so refuses to
    /// deliver or relay that message again. Default 2 min.
    pub seen_ttl: Duration,
    /// How many deliveries a message this node originates should produce,
    /// reported in [`FloodEvent::Sent`](super::FloodEvent::Sent) so that the
    /// kernel can compute the delivery ratio. The scenario sets it to the
    /// number of nodes the flood should reach. Default 0.
    pub expected_recipients: u32,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig {
            hop_limit: 7,
            seen_ttl: Duration::from_secs(120),
            expected_recipients: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    fn from_map(fields: &[(&'static str, &'static str)]) -> Result<FloodConfig, Error> {
        FloodConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        assert_eq!(from_map(&[]), Ok(FloodConfig::default()));
        assert_eq!(
            from_map(&[("seen_ttl", "30s")]),
            Ok(FloodConfig {
                seen_ttl: Duration::from_secs(30),
                ..FloodConfig::default()
            })
        );
    }

    #[test]
    fn unknown_fields_are_errors() {
        assert!(from_map(&[("hop_limt", "7")]).is_err());
    }
}
