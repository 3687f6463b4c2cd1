//! What a scenario can tune about a [`SignalingNode`](super::SignalingNode).

use serde::{Deserialize, Serialize};
use sim_core::Duration;

/// Which side of the signaling service a node plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// The seed's signaling server (the Lambda behind API Gateway).
    Server,
    /// A browser peer: joins through the server, then connects directly.
    #[default]
    Peer,
}

/// A signaling node's parameters, as a scenario file writes them.
///
/// One struct serves both roles: a server reads `idle_timeout` and
/// `max_connections`, a peer reads `server`, `heartbeat_interval` and
/// `setup_timeout`. Every field has a default, so an empty map is a valid
/// config; an unknown field is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalingConfig {
    /// The node's role. Default [`Role::Peer`].
    pub role: Role,
    /// The node index of the server a peer connects to. Default 0.
    pub server: u32,
    /// How often a peer sends its `ping` heartbeat while connected: the
    /// seed's `heartbeatInterval: 30000`. Default 30 s.
    pub heartbeat_interval: Duration,
    /// How long the server keeps a connection from which no frame has
    /// arrived (heartbeats count): the seed's "timeout after 2 hours of
    /// inactivity". Default 2 h.
    pub idle_timeout: Duration,
    /// How many upgraded WebSocket connections the server holds at once; the
    /// next upgrade is refused with HTTP 429. The seed's "1,000 concurrent
    /// connections per API by default". Default 1000.
    pub max_connections: u32,
    /// How long a peer waits for a join (Join to the bootstrap list) or a
    /// direct connection (Connect, or an offer received, to the data channel
    /// open) before it gives up. Default 30 s.
    pub setup_timeout: Duration,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        SignalingConfig {
            role: Role::Peer,
            server: 0,
            heartbeat_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(2 * 60 * 60),
            max_connections: 1000,
            setup_timeout: Duration::from_secs(30),
        }
    }
}

impl SignalingConfig {
    /// Checks that the timers can run: every interval and timeout must be
    /// positive (a zero heartbeat interval would beat forever at one
    /// instant). The message names the first that is not.
    pub fn validate(&self) -> Result<(), String> {
        for (value, name) in [
            (self.heartbeat_interval, "heartbeat_interval"),
            (self.idle_timeout, "idle_timeout"),
            (self.setup_timeout, "setup_timeout"),
        ] {
            if value == Duration::ZERO {
                return Err(format!("a positive {name}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    fn from_map(fields: &[(&'static str, &'static str)]) -> Result<SignalingConfig, Error> {
        SignalingConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        assert_eq!(from_map(&[]), Ok(SignalingConfig::default()));
        assert_eq!(
            from_map(&[("role", "Server"), ("idle_timeout", "90s")]),
            Ok(SignalingConfig {
                role: Role::Server,
                idle_timeout: Duration::from_secs(90),
                ..SignalingConfig::default()
            })
        );
    }

    #[test]
    fn validate_names_the_zero_timer() {
        assert_eq!(SignalingConfig::default().validate(), Ok(()));
        let zero = SignalingConfig {
            setup_timeout: Duration::ZERO,
            ..SignalingConfig::default()
        };
        assert_eq!(zero.validate(), Err("a positive setup_timeout".into()));
    }

    #[test]
    fn unknown_fields_and_missing_units_are_errors() {
        assert!(from_map(&[("heartbeat", "30s")]).is_err());
        assert!(from_map(&[("idle_timeout", "7200")]).is_err());
    }
}
