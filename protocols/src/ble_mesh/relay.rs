//! Relaying: whether a packet is forwarded, with which TTL, after how long,
//! and the relays waiting for their jitter to run out.
//!
//! BitChat's `RelayController`, for the packets this model relays:
//!
//! - a copy that arrives with TTL 1 or less is not relayed;
//! - in a dense neighbourhood (degree at least
//!   [`BleMeshConfig::dense_degree`]) the TTL is first capped:
//!   `max(2, min(ttl, dense_ttl_cap))`; then it is lowered by one;
//! - the relay waits a jitter drawn uniformly from a range that grows with
//!   the degree: `jitter_sparse_min..=jitter_sparse_max` up to
//!   `jitter_sparse_degree` neighbours, `jitter_dense_min..=jitter_dense_max`
//!   from `jitter_dense_degree` on, both bounds interpolated linearly in
//!   between (BitChat steps through 10–40, 60–150, 80–180 and 100–220 ms);
//! - a relay still waiting when another copy of its packet arrives is
//!   cancelled: some neighbour already covered the area.
//!
//! [`BleMeshConfig::dense_degree`]: super::BleMeshConfig::dense_degree

use sim_core::dist::uniform_below;
use sim_core::{Duration, Instant, NodeId, SimRng};

use super::BleMeshConfig;

/// The TTL a relay forwards a copy that arrived with `ttl` at a node with
/// `degree` neighbours, or `None` if the copy goes no further.
pub(super) fn relay_ttl(config: &BleMeshConfig, ttl: u8, degree: usize) -> Option<u8> {
    if ttl <= 1 {
        return None;
    }
    let limit = if degree >= config.dense_degree as usize {
        ttl.min(config.dense_ttl_cap).max(2)
    } else {
        ttl
    };
    Some(limit - 1)
}

/// The range relay jitter is drawn from at a node with `degree` neighbours.
pub(super) fn jitter_range(config: &BleMeshConfig, degree: usize) -> (Duration, Duration) {
    let (lo, hi, d) = (
        u64::from(config.jitter_sparse_degree),
        u64::from(config.jitter_dense_degree),
        degree as u64,
    );
    let between = |sparse: Duration, dense: Duration| {
        if d >= hi {
            dense
        } else if d <= lo {
            sparse
        } else {
            let (a, b) = (i128::from(sparse.as_nanos()), i128::from(dense.as_nanos()));
            let nanos = a + (b - a) * i128::from(d - lo) / i128::from(hi - lo);
            Duration::from_nanos(nanos as u64)
        }
    };
    let min = between(config.jitter_sparse_min, config.jitter_dense_min);
    let max = between(config.jitter_sparse_max, config.jitter_dense_max);
    (min.min(max), min.max(max))
}

/// A jitter drawn from [`jitter_range`].
pub(super) fn jitter(config: &BleMeshConfig, degree: usize, rng: &mut SimRng) -> Duration {
    let (min, max) = jitter_range(config, degree);
    let spread = max.as_nanos() - min.as_nanos();
    Duration::from_nanos(min.as_nanos() + uniform_below(rng, spread.saturating_add(1).max(1)))
}

/// A relay waiting for its jitter to run out.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    /// When it goes out.
    pub(super) due: Instant,
    /// The key of the packet it forwards.
    pub(super) key: u64,
    /// The message the packet belongs to.
    pub(super) msg: u64,
    /// The packet's recipient, if it is directed to a node.
    pub(super) recipient: Option<NodeId>,
    /// The packet with its TTL already lowered.
    pub(super) bytes: Vec<u8>,
}

/// The relays waiting at one node, in the order they were scheduled.
///
/// A node holds only the relays of the last few hundred milliseconds, so a
/// vector scanned whole is the cheapest store.
#[derive(Clone, Debug, Default)]
pub(super) struct PendingRelays {
    waiting: Vec<Pending>,
}

impl PendingRelays {
    /// Schedules `relay`.
    pub(super) fn push(&mut self, relay: Pending) {
        self.waiting.push(relay);
    }

    /// Cancels the relay of packet `key`, returning its message id if one
    /// was waiting.
    pub(super) fn cancel(&mut self, key: u64) -> Option<u64> {
        let i = self.waiting.iter().position(|r| r.key == key)?;
        Some(self.waiting.remove(i).msg)
    }

    /// Takes the relays due at `now`, earliest first (ties in the order they
    /// were scheduled).
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<Pending> {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() {
            if self.waiting[i].due <= now {
                due.push(self.waiting.remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|r| r.due);
        due
    }

    /// When the next relay is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.waiting.iter().map(|r| r.due).min()
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ttl_is_lowered_by_one_and_capped_where_dense() {
        let config = BleMeshConfig::default();
        assert_eq!(relay_ttl(&config, 0, 1), None);
        assert_eq!(relay_ttl(&config, 1, 1), None);
        assert_eq!(relay_ttl(&config, 2, 1), Some(1));
        assert_eq!(relay_ttl(&config, 7, 5), Some(6));
        // Dense from 6 neighbours: cap 5, then one less.
        assert_eq!(relay_ttl(&config, 7, 6), Some(4));
        assert_eq!(relay_ttl(&config, 4, 20), Some(3));
        assert_eq!(relay_ttl(&config, 2, 20), Some(1));
        let tight = BleMeshConfig {
            dense_ttl_cap: 0,
            ..config
        };
        assert_eq!(
            relay_ttl(&tight, 7, 20),
            Some(1),
            "the cap never goes below 2"
        );
    }

    #[test]
    fn jitter_grows_with_degree_between_the_sparse_and_dense_ranges() {
        let config = BleMeshConfig::default();
        for degree in [0, 1, 2] {
            assert_eq!(jitter_range(&config, degree), (ms(10), ms(40)));
        }
        for degree in [10, 11, 1000] {
            assert_eq!(jitter_range(&config, degree), (ms(100), ms(220)));
        }
        // Half way: (10 + 100) / 2 and (40 + 220) / 2.
        assert_eq!(jitter_range(&config, 6), (ms(55), ms(130)));
        let ranges: Vec<_> = (2..=10).map(|d| jitter_range(&config, d)).collect();
        assert!(ranges
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));

        let mut rng = SimRng::seed_from_u64(1);
        for degree in 0..15 {
            let (min, max) = jitter_range(&config, degree);
            for _ in 0..50 {
                let j = jitter(&config, degree, &mut rng);
                assert!(min <= j && j <= max, "degree {degree}: {j:?}");
            }
        }
    }

    #[test]
    fn one_degree_threshold_splits_sparse_from_dense() {
        let config = BleMeshConfig {
            jitter_sparse_degree: 4,
            jitter_dense_degree: 4,
            ..BleMeshConfig::default()
        };
        assert_eq!(jitter_range(&config, 3), (ms(10), ms(40)));
        assert_eq!(jitter_range(&config, 4), (ms(100), ms(220)));
    }

    #[test]
    fn relays_are_cancelled_by_key_and_taken_when_due() {
        let at = |n| Instant::ZERO + ms(n);
        let relay = |due, key| Pending {
            due: at(due),
            key,
            msg: key * 10,
            recipient: None,
            bytes: Vec::new(),
        };
        let mut relays = PendingRelays::default();
        relays.push(relay(30, 1));
        relays.push(relay(10, 2));
        relays.push(relay(20, 3));
        assert_eq!(relays.next_due(), Some(at(10)));
        assert_eq!(relays.cancel(3), Some(30));
        assert_eq!(relays.cancel(3), None);
        assert!(relays.take_due(at(5)).is_empty());
        let due: Vec<_> = relays.take_due(at(30)).iter().map(|r| r.key).collect();
        assert_eq!(due, [2, 1]);
        assert!(relays.waiting.is_empty());
    }
}
