//! One direction of a graph link: propagation delay, bandwidth with a drop-tail
//! queue, loss, MTU and an up/down state.
//!
//! The queue is exact for a FIFO drop-tail byte queue without keeping the
//! packets: the link remembers when its transmitter will have sent everything
//! accepted so far (`busy_until`). At rate R the backlog at `now` is the bytes
//! still to send, R·(busy_until − now); a packet that would push it past the
//! queue's size is dropped, otherwise it leaves at busy_until + len/R. So both
//! serialization and queueing delay are real, and an M/M/1 link has the M/M/1
//! delay (a fidelity test holds it to that).

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::loss::{Loss, LossState};
use crate::dist::Dist;
use crate::metrics::DropCause;
use crate::time::{Duration, Instant};
use crate::units::{Bandwidth, ByteSize};

/// A link direction as a scenario writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// Propagation delay, drawn per packet.
    pub latency: Dist,
    /// Extra delay drawn uniformly from [0, jitter] per packet.
    pub jitter: Duration,
    /// Transmit rate; `None` means unlimited (no serialization delay).
    pub bandwidth: Option<Bandwidth>,
    /// Size of the drop-tail queue in front of the transmitter; `None` means
    /// unbounded. Only meaningful with a bandwidth.
    pub queue: Option<ByteSize>,
    /// Loss model.
    pub loss: Loss,
    /// Largest datagram the link carries; larger ones are dropped.
    pub mtu: Option<ByteSize>,
    /// Keep the link first-in first-out: a packet never arrives before one
    /// sent earlier, however their latency and jitter draws fall (it waits
    /// for it, as behind a queue). Off by default: each packet's delay is
    /// drawn on its own, so packets can overtake each other, as under
    /// netem; reliable transports (QUIC, HTX) and the signaling server's
    /// WebSocket stream take that for loss or disorder.
    pub in_order: bool,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Dist::Constant(Duration::from_millis(1)),
            jitter: Duration::ZERO,
            bandwidth: None,
            queue: None,
            loss: Loss::None,
            mtu: None,
            in_order: false,
        }
    }
}

impl LinkConfig {
    /// Checks the parameters; the message says what was expected.
    pub fn validate(&self) -> Result<(), String> {
        self.latency.validate()?;
        self.loss.validate()?;
        if self.queue.is_some() && self.bandwidth.is_none() {
            return Err("a queue size needs a bandwidth: without one nothing ever waits".into());
        }
        if self.mtu == Some(ByteSize(0)) {
            return Err("mtu must be at least 1B".into());
        }
        Ok(())
    }
    /// The smallest delay a packet of zero bytes can have on this link.
    pub fn min_delay(&self) -> Duration {
        self.latency.lower_bound()
    }
}

/// A transmitter with a FIFO drop-tail byte queue in front of it (see the
/// module docs): the one queueing rule shared by graph links and the internet
/// model's access links.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transmitter {
    busy_until: Instant,
}

impl Transmitter {
    /// Queues `len` bytes at `now` for a transmitter of `rate` behind a queue of
    /// `queue` bytes (unbounded if `None`): when the last bit leaves, or
    /// `QueueFull`. With no rate, the bytes leave at once.
    pub fn enqueue(
        &mut self,
        now: Instant,
        len: u64,
        rate: Option<Bandwidth>,
        queue: Option<ByteSize>,
    ) -> Result<Instant, DropCause> {
        let Some(rate) = rate else { return Ok(now) };
        let backlog = rate.bytes_in(self.busy_until.saturating_duration_since(now));
        if queue.is_some_and(|q| backlog + len > q.0) {
            return Err(DropCause::QueueFull);
        }
        self.busy_until = self.busy_until.max(now) + rate.transmit_time(len);
        Ok(self.busy_until)
    }
}

/// A link direction with its state.
#[derive(Clone, Debug)]
pub struct LinkState {
    config: LinkConfig,
    loss: LossState,
    transmitter: Transmitter,
    up: bool,
    /// When the last packet accepted arrives, for `in_order`.
    last_arrival: Instant,
}

impl LinkState {
    /// A fresh, idle, up link.
    pub fn new(config: LinkConfig) -> Self {
        LinkState {
            loss: LossState::new(config.loss.clone()),
            config,
            transmitter: Transmitter::default(),
            up: true,
            last_arrival: Instant::ZERO,
        }
    }
    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }
    /// Whether the link is up.
    pub fn is_up(&self) -> bool {
        self.up
    }
    /// Brings the link up or down.
    pub fn set_up(&mut self, up: bool) {
        self.up = up;
    }
    /// Replaces the loss model.
    pub fn set_loss(&mut self, loss: Loss) {
        self.loss = LossState::new(loss.clone());
        self.config.loss = loss;
    }
    /// A packet of `len` bytes enters the link at `now`: when it arrives at the
    /// far end, or why it is dropped.
    pub fn transmit<R: RngCore + ?Sized>(
        &mut self,
        now: Instant,
        len: usize,
        rng: &mut R,
    ) -> Result<Instant, DropCause> {
        if !self.up {
            return Err(DropCause::LinkDown);
        }
        let len = len as u64;
        if self.config.mtu.is_some_and(|mtu| len > mtu.0) {
            return Err(DropCause::Mtu);
        }
        let departs =
            self.transmitter
                .enqueue(now, len, self.config.bandwidth, self.config.queue)?;
        // The packet occupied the transmitter; now the wire may lose it.
        if self.loss.lose(rng) {
            return Err(DropCause::Loss);
        }
        let mut delay = self.config.latency.sample(rng);
        if self.config.jitter > Duration::ZERO {
            delay += Dist::Uniform {
                min: Duration::ZERO,
                max: self.config.jitter,
            }
            .sample(rng);
        }
        let mut arrives = departs.saturating_add(delay);
        if self.config.in_order {
            arrives = arrives.max(self.last_arrival);
            self.last_arrival = arrives;
        }
        Ok(arrives)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(1)
    }

    #[test]
    fn serialization_and_queueing_delay() {
        let mut link = LinkState::new(LinkConfig {
            latency: Dist::Constant(Duration::from_millis(10)),
            bandwidth: Some("8Mbps".parse().unwrap()), // 1 byte per µs
            queue: Some(ByteSize(2500)),
            ..LinkConfig::default()
        });
        let t0 = Instant::ZERO;
        let mut r = rng();
        // 1000 B take 1 ms to serialize, then 10 ms on the wire.
        assert_eq!(
            link.transmit(t0, 1000, &mut r),
            Ok(Instant::from_nanos(11_000_000))
        );
        // The second waits behind the first.
        assert_eq!(
            link.transmit(t0, 1000, &mut r),
            Ok(Instant::from_nanos(12_000_000))
        );
        // 2000 B are queued; 1000 more would exceed 2500.
        assert_eq!(link.transmit(t0, 1000, &mut r), Err(DropCause::QueueFull));
        // Half a millisecond later 500 B have left: 1500 queued, 1000 fits.
        assert_eq!(
            link.transmit(Instant::from_nanos(500_000), 1000, &mut r),
            Ok(Instant::from_nanos(13_000_000))
        );
    }

    /// Packets sent 100 µs apart with 0–20 ms of jitter: drawn on their own
    /// they overtake each other; in order, none arrives before an earlier
    /// one, and none earlier than its own draw would have it.
    #[test]
    fn jitter_reorders_unless_the_link_is_kept_in_order() {
        let config = |in_order| LinkConfig {
            latency: Dist::Constant(Duration::from_millis(10)),
            jitter: Duration::from_millis(20),
            in_order,
            ..LinkConfig::default()
        };
        let send = |in_order| {
            let mut link = LinkState::new(config(in_order));
            let mut r = rng();
            (0..200u64)
                .map(|k| {
                    let at = Instant::from_nanos(k * 100_000);
                    link.transmit(at, 100, &mut r).unwrap()
                })
                .collect::<Vec<_>>()
        };
        let (free, kept) = (send(false), send(true));
        assert!(free.windows(2).any(|w| w[1] < w[0]), "jitter reorders");
        assert!(kept.windows(2).all(|w| w[1] >= w[0]), "in order");
        for (k, (f, o)) in free.iter().zip(&kept).enumerate() {
            // The same draws: in order only ever waits for an earlier packet.
            let earlier = free[..=k].iter().max().unwrap();
            assert_eq!(o, earlier.max(f), "packet {k}");
        }
    }

    #[test]
    fn mtu_and_down() {
        let mut link = LinkState::new(LinkConfig {
            mtu: Some(ByteSize(244)),
            ..LinkConfig::default()
        });
        assert_eq!(
            link.transmit(Instant::ZERO, 245, &mut rng()),
            Err(DropCause::Mtu)
        );
        assert!(link.transmit(Instant::ZERO, 244, &mut rng()).is_ok());
        link.set_up(false);
        assert_eq!(
            link.transmit(Instant::ZERO, 10, &mut rng()),
            Err(DropCause::LinkDown)
        );
    }
}
