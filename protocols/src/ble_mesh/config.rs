//! What a scenario can tune about [`BleMesh`](super::BleMesh).
//!
//! Each default names its source: the seed (the mobile transport document,
//! `004_c56df279e838b0ea.txt`), BitChat (its iOS `TransportConfig` and
//! `RelayController`, its Android `PowerManager` and store-and-forward
//! constants), or "ours" where neither gives a number.

use sim_core::{BatteryLevel, ByteSize, Duration};

/// The BLE mesh's parameters, as a scenario file writes them.
///
/// Every field has a default, so an empty map is a valid config; an unknown
/// field is an error. A battery level's [`PowerProfile`], when a scenario
/// sets it, is given in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BleMeshConfig {
    /// The TTL a node gives the messages it originates: how many hops they
    /// may travel (on a line, TTL `t` reaches exactly the `t` next nodes); 0
    /// sends nothing. Default 7 (the seed's `max_hops`, BitChat's
    /// `messageTTLDefault`).
    pub ttl: u8,
    /// The largest datagram the radio carries; a message whose packet would
    /// be larger is fragmented. Default 244 B (the seed's BLE MTU).
    pub mtu: ByteSize,
    /// How many deliveries a broadcast this node originates should produce,
    /// reported in [`BleEvent::Sent`](super::BleEvent::Sent) so that the
    /// kernel can compute the delivery ratio; the scenario sets it to the
    /// number of other nodes. A directed message always expects 1.
    /// Default 0.
    pub expected_recipients: u32,
    /// How many packet keys the duplicate cache holds; when full, the oldest
    /// is forgotten. Default 1,000 (BitChat's message deduplicator).
    pub seen_capacity: u32,
    /// How long the duplicate cache remembers a packet. Default 5 min
    /// (BitChat's message deduplicator).
    pub seen_ttl: Duration,
    /// At this many neighbours or more the neighbourhood is dense and a
    /// relay caps the TTL at [`BleMeshConfig::dense_ttl_cap`]. Default 6
    /// (BitChat's `bleHighDegreeThreshold`).
    pub dense_degree: u32,
    /// In a dense neighbourhood a relay forwards with TTL
    /// `max(2, min(ttl, dense_ttl_cap)) - 1` instead of `ttl - 1`. Default 5
    /// (BitChat's `RelayController`).
    pub dense_ttl_cap: u8,
    /// Up to this many neighbours, relay jitter is drawn from
    /// `jitter_sparse_min..=jitter_sparse_max`. Default 2 (BitChat).
    pub jitter_sparse_degree: u32,
    /// From this many neighbours on, relay jitter is drawn from
    /// `jitter_dense_min..=jitter_dense_max`; in between, both bounds are
    /// interpolated linearly in the degree. Default 10 (BitChat).
    pub jitter_dense_degree: u32,
    /// Least relay jitter in a sparse neighbourhood. Default 10 ms (BitChat).
    pub jitter_sparse_min: Duration,
    /// Most relay jitter in a sparse neighbourhood. Default 40 ms (BitChat).
    pub jitter_sparse_max: Duration,
    /// Least relay jitter in a dense neighbourhood. Default 100 ms
    /// (BitChat).
    pub jitter_dense_min: Duration,
    /// Most relay jitter in a dense neighbourhood. Default 220 ms (BitChat).
    pub jitter_dense_max: Duration,
    /// Whether a copy of a packet arriving during a pending relay's jitter
    /// cancels the relay (BitChat does: in a dense crowd most relays are
    /// redundant). Turning it off relays every first copy, so that a
    /// broadcast reaches the whole connected component within its TTL, at
    /// the price of more transmissions. Default true.
    pub cancel_on_duplicate: bool,
    /// A neighbour whose announce has not been heard for this long is
    /// forgotten. Default 30 s (ours: three announce intervals at high
    /// battery).
    pub neighbour_timeout: Duration,
    /// The most reassemblies in progress; a fragment that starts one more
    /// evicts the oldest. Default 128 (BitChat's
    /// `bleMaxInFlightAssemblies`).
    pub max_reassemblies: u32,
    /// A reassembly not complete this long after its first fragment is
    /// abandoned. Default 30 s (BitChat).
    pub reassembly_timeout: Duration,
    /// The largest message payload: a reassembly that grows past it is
    /// discarded, and a node refuses to send a larger message. Default
    /// 1 MiB (BitChat).
    pub max_message_size: ByteSize,
    /// How long a node waits for the next hop to acknowledge a unicast
    /// before sending it again. Default 500 ms (ours).
    pub ack_timeout: Duration,
    /// How many times an unacknowledged unicast is sent again before the
    /// node gives up on it. Default 3 (ours).
    pub max_resends: u8,
    /// How many directed messages the outbox keeps per recipient; one more
    /// evicts the oldest. Default 100 (BitChat's `MAX_CACHED_MESSAGES`).
    pub outbox_capacity: u32,
    /// How long a directed message waits in the outbox for its recipient.
    /// Default 24 h (BitChat's whitepaper).
    pub outbox_ttl: Duration,
    /// How many times the outbox hands a message to its recipient (each
    /// time with [`BleMeshConfig::max_resends`] resends) before abandoning
    /// it. Default 3 (ours).
    pub outbox_attempts: u8,
    /// Behaviour at 50 % battery and above.
    pub high: PowerProfile,
    /// Behaviour from 20 % to 50 %.
    pub medium: PowerProfile,
    /// Behaviour from 10 % to 20 %.
    pub low: PowerProfile,
    /// Behaviour below 10 %.
    pub critical: PowerProfile,
}

/// What a node does at one battery level: how often it announces itself,
/// how much of the time it scans for announces, and how willingly it relays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerProfile {
    /// Time between two announces; zero announces never.
    pub announce_interval: Duration,
    /// How long each scan lasts; announces are heard only while scanning.
    /// Zero never scans; `scan_window >= scan_interval` scans all the time.
    pub scan_window: Duration,
    /// Time from the start of one scan to the start of the next.
    pub scan_interval: Duration,
    /// The chance, in percent (0 to 100), that the node relays a packet it
    /// could relay.
    pub relay_percent: u8,
}

impl PowerProfile {
    /// Whether a node with this profile is scanning at `t` nanoseconds into
    /// its own scan schedule (its random phase added to the time).
    pub fn is_scanning(&self, t: u64) -> bool {
        let (window, interval) = (self.scan_window.as_nanos(), self.scan_interval.as_nanos());
        window > 0 && (window >= interval || t % interval < window)
    }
}

impl BleMeshConfig {
    /// The profile in force at battery level `level`.
    pub fn profile(&self, level: BatteryLevel) -> &PowerProfile {
        match level {
            BatteryLevel::High => &self.high,
            BatteryLevel::Medium => &self.medium,
            BatteryLevel::Low => &self.low,
            BatteryLevel::Critical => &self.critical,
        }
    }
}

impl Default for BleMeshConfig {
    fn default() -> Self {
        BleMeshConfig {
            ttl: 7,
            mtu: ByteSize(244),
            expected_recipients: 0,
            seen_capacity: 1_000,
            seen_ttl: Duration::from_secs(300),
            dense_degree: 6,
            dense_ttl_cap: 5,
            jitter_sparse_degree: 2,
            jitter_dense_degree: 10,
            jitter_sparse_min: Duration::from_millis(10),
            jitter_sparse_max: Duration::from_millis(40),
            jitter_dense_min: Duration::from_millis(100),
            jitter_dense_max: Duration::from_millis(220),
            cancel_on_duplicate: true,
            neighbour_timeout: Duration::from_secs(30),
            max_reassemblies: 128,
            reassembly_timeout: Duration::from_secs(30),
            max_message_size: ByteSize(1 << 20),
            ack_timeout: Duration::from_millis(500),
            max_resends: 3,
            outbox_capacity: 100,
            outbox_ttl: Duration::from_secs(24 * 3600),
            outbox_attempts: 3,
            // The seed's `advertisement_interval` (10 s) and `scan_interval`
            // (5 s); each scan lasts the whole interval, as BitChat's
            // Android PERFORMANCE mode scans without a duty cycle.
            high: PowerProfile {
                announce_interval: Duration::from_secs(10),
                scan_window: Duration::from_secs(5),
                scan_interval: Duration::from_secs(5),
                relay_percent: 100,
            },
            // Somewhat longer announces (ours, twice high's); BitChat's
            // BALANCED duty cycle, 8 s on and 2 s off.
            medium: PowerProfile {
                announce_interval: Duration::from_secs(20),
                scan_window: Duration::from_secs(8),
                scan_interval: Duration::from_secs(10),
                relay_percent: 100,
            },
            // Announces every minute (ours); BitChat's POWER_SAVER duty
            // cycle, 2 s on and 8 s off; relays half of what it could (ours).
            low: PowerProfile {
                announce_interval: Duration::from_secs(60),
                scan_window: Duration::from_secs(2),
                scan_interval: Duration::from_secs(10),
                relay_percent: 50,
            },
            // The seed's critical policy: a 5 min heartbeat, discovery
            // disabled (no scanning) and one connection (no relaying).
            critical: PowerProfile {
                announce_interval: Duration::from_secs(300),
                scan_window: Duration::ZERO,
                scan_interval: Duration::from_secs(10),
                relay_percent: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    fn from_map(fields: &[(&'static str, &'static str)]) -> Result<BleMeshConfig, Error> {
        BleMeshConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        assert_eq!(from_map(&[]), Ok(BleMeshConfig::default()));
        assert_eq!(
            from_map(&[("mtu", "512B"), ("outbox_ttl", "12h")]),
            Ok(BleMeshConfig {
                mtu: ByteSize(512),
                outbox_ttl: Duration::from_secs(12 * 3600),
                ..BleMeshConfig::default()
            })
        );
    }

    #[test]
    fn unknown_fields_are_errors() {
        assert!(from_map(&[("tll", "7")]).is_err());
    }

    #[test]
    fn lower_battery_levels_announce_scan_and_relay_less() {
        let config = BleMeshConfig::default();
        let levels = [
            BatteryLevel::High,
            BatteryLevel::Medium,
            BatteryLevel::Low,
            BatteryLevel::Critical,
        ];
        for pair in levels.windows(2) {
            let (more, less) = (config.profile(pair[0]), config.profile(pair[1]));
            assert!(less.announce_interval > more.announce_interval, "{pair:?}");
            let duty = |p: &PowerProfile| {
                p.scan_window.as_nanos().min(p.scan_interval.as_nanos()) * 1000
                    / p.scan_interval.as_nanos()
            };
            assert!(duty(less) < duty(more), "{pair:?}");
            assert!(less.relay_percent <= more.relay_percent, "{pair:?}");
        }
        assert_eq!(config.critical.relay_percent, 0);
    }

    #[test]
    fn scanning_follows_the_window_within_each_interval() {
        let profile = PowerProfile {
            announce_interval: Duration::from_secs(10),
            scan_window: Duration::from_secs(2),
            scan_interval: Duration::from_secs(10),
            relay_percent: 100,
        };
        let s = |secs: u64| profile.is_scanning(secs * 1_000_000_000);
        assert!(s(0) && s(1) && !s(2) && !s(9) && s(10) && s(11) && !s(12));
        let never = PowerProfile {
            scan_window: Duration::ZERO,
            ..profile
        };
        assert!(!never.is_scanning(0) && !never.is_scanning(5));
        let always = PowerProfile {
            scan_window: Duration::from_secs(10),
            scan_interval: Duration::ZERO,
            ..profile
        };
        assert!(always.is_scanning(0) && always.is_scanning(123_456));
    }
}
