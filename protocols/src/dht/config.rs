//! What a scenario can tune about [`Dht`](super::Dht).
//!
//! The defaults and where they come from (see also the "Implementation
//! notes" of the [module docs](super)):
//!
//! | field | default | paper (2002) | libp2p |
//! |---|---|---|---|
//! | `k` | 20 | 20 | 20 (spec) |
//! | `alpha` | 3 | 3 | 3 (spec; go-libp2p uses 10 in places) |
//! | `request_timeout` | 10 s | — | 10 s (spec's query timeout) |
//! | `refresh_interval` | 10 min | 1 h | 10 min (go-libp2p-kad-dht routing-table refresh; spec bootstrap and rust-libp2p: 5 min) |
//! | `record_ttl` | 24 h | 24 h | 48 h (rust-libp2p) |
//! | `record_replication_interval` | 1 h | 1 h | 1 h (rust-libp2p) |
//! | `record_publication_interval` | 22 h | 24 h | 22 h (rust-libp2p) |
//! | `provider_record_ttl` | 48 h | — | 24 h (spec), 48 h (IPFS, rust-libp2p) |
//! | `provider_publication_interval` | 22 h | — | 22 h (IPFS reprovide), 12 h (rust-libp2p) |
//!
//! The paper republishes a value at the original publisher every 24 h, the
//! very moment it would expire; 22 h (rust-libp2p's choice) leaves a margin.

use sim_core::Duration;

/// The DHT's parameters, as a scenario file writes them.
///
/// Every field has a default, so an empty map is a valid config; an unknown
/// field is an error. A zero interval turns its periodic task off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DhtConfig {
    /// The bucket size and replication factor: a bucket holds `k` peers, a
    /// lookup ends when the `k` closest peers it knows have answered, an
    /// answer names `k` closer peers and a value is stored at `k` nodes.
    /// 1..=255. Default 20.
    pub k: usize,
    /// The most requests one lookup has in flight at a time. At least 1.
    /// Default 3.
    pub alpha: usize,
    /// How long a request may go unanswered before it fails (also for the
    /// pings that decide evictions). Default 10 s.
    pub request_timeout: Duration,
    /// How often a node looks up a random key in every bucket that no
    /// lookup targeted during the last period. Zero: never. Default 10 min.
    pub refresh_interval: Duration,
    /// How many peers wait behind a full bucket for a place. Default 5.
    pub replacement_cache_size: usize,
    /// How long a value lives after it is published. Default 24 h.
    pub record_ttl: Duration,
    /// How often a node holding a value stores it again at the `k` closest
    /// nodes, with its remaining TTL. Zero: never. Default 1 h.
    pub record_replication_interval: Duration,
    /// How often the original publisher stores its value again with a fresh
    /// TTL. Zero: never. Default 22 h.
    pub record_publication_interval: Duration,
    /// How long a provider record lives at the nodes that store it.
    /// Default 48 h.
    pub provider_record_ttl: Duration,
    /// How often a provider announces itself again. Zero: never.
    /// Default 22 h.
    pub provider_publication_interval: Duration,
    /// Whether a node built with bootstrap nodes bootstraps at its first
    /// wake-up, without waiting for a [`DhtCommand::Bootstrap`]. Default
    /// true.
    ///
    /// [`DhtCommand::Bootstrap`]: super::DhtCommand::Bootstrap
    pub bootstrap_on_start: bool,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            k: 20,
            alpha: 3,
            request_timeout: Duration::from_secs(10),
            refresh_interval: Duration::from_secs(10 * 60),
            replacement_cache_size: 5,
            record_ttl: Duration::from_secs(24 * 3600),
            record_replication_interval: Duration::from_secs(3600),
            record_publication_interval: Duration::from_secs(22 * 3600),
            provider_record_ttl: Duration::from_secs(48 * 3600),
            provider_publication_interval: Duration::from_secs(22 * 3600),
            bootstrap_on_start: true,
        }
    }
}

impl DhtConfig {
    /// Checks the values a node cannot work with; `Dht::new` clamps them
    /// instead of failing.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=255).contains(&self.k) {
            return Err(format!("k must be between 1 and 255, not {}", self.k));
        }
        if self.alpha == 0 {
            return Err("alpha must be at least 1".into());
        }
        if self.request_timeout == Duration::ZERO {
            return Err("request_timeout must be longer than zero".into());
        }
        if self.replacement_cache_size > 255 {
            return Err("replacement_cache_size must be at most 255".into());
        }
        if self.record_ttl == Duration::ZERO || self.provider_record_ttl == Duration::ZERO {
            return Err("record TTLs must be longer than zero".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    fn from_map(fields: &[(&'static str, &'static str)]) -> Result<DhtConfig, Error> {
        DhtConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        assert_eq!(from_map(&[]), Ok(DhtConfig::default()));
        assert_eq!(
            from_map(&[("refresh_interval", "1h"), ("record_ttl", "48h")]),
            Ok(DhtConfig {
                refresh_interval: Duration::from_secs(3600),
                record_ttl: Duration::from_secs(48 * 3600),
                ..DhtConfig::default()
            })
        );
        assert_eq!(DhtConfig::default().validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_errors() {
        assert!(from_map(&[("kk", "20")]).is_err());
    }

    #[test]
    fn impossible_values_are_rejected() {
        for bad in [
            DhtConfig {
                k: 0,
                ..DhtConfig::default()
            },
            DhtConfig {
                k: 256,
                ..DhtConfig::default()
            },
            DhtConfig {
                alpha: 0,
                ..DhtConfig::default()
            },
            DhtConfig {
                request_timeout: Duration::ZERO,
                ..DhtConfig::default()
            },
            DhtConfig {
                record_ttl: Duration::ZERO,
                ..DhtConfig::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
