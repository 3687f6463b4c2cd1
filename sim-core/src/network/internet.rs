//! An all-pairs internet model for large overlays.
//!
//! Every node can reach every other. A node sits in a region and has an access
//! class (uplink and downlink rates with drop-tail queues); a datagram waits in
//! the sender's uplink queue, crosses the core with the region-to-region one-way
//! latency (plus optional jitter and loss), then waits in the receiver's
//! downlink queue. Nothing is stored per pair: per node there are a region, a
//! class and two transmitter clocks (about 20 bytes), so 10⁶ nodes fit easily.
//!
//! Departure from per-link streams: the core's jitter and loss draw from one RNG
//! stream for the whole model rather than one per pair, because a stream per
//! pair cannot be stored at this scale. The run is still deterministic: the
//! kernel draws in its deterministic event order.

use serde::{Deserialize, Serialize};

use super::link::Transmitter;
use super::loss::{Loss, LossState};
use super::{LinkChange, Network, NetworkError};
use crate::dist::Dist;
use crate::metrics::DropCause;
use crate::protocol::NodeId;
use crate::rng::SimRng;
use crate::time::{Duration, Instant};
use crate::units::{Bandwidth, ByteSize};

/// The core of the internet model, as a scenario writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternetConfig {
    /// Region names, in matrix order.
    pub regions: Vec<String>,
    /// One-way latency from region i (row) to region j (column).
    pub latency: Vec<Vec<Duration>>,
    /// Extra per-packet delay drawn from this distribution.
    #[serde(default)]
    pub jitter: Option<Dist>,
    /// Loss in the core.
    #[serde(default)]
    pub loss: Loss,
    /// Largest datagram carried.
    #[serde(default)]
    pub mtu: Option<ByteSize>,
    /// Keep each sender's packets to each region first-in first-out, so
    /// that jitter never reorders a flow (see [`LinkConfig::in_order`](super::LinkConfig::in_order)):
    /// a packet arrives no earlier than the one its sender sent before it
    /// into the same region, as if the jitter were the queue on that path.
    /// Costs 8 bytes per node and region. Default off.
    #[serde(default)]
    pub in_order: bool,
}

impl InternetConfig {
    /// Checks the matrix shape and the parameters.
    pub fn validate(&self) -> Result<(), String> {
        let r = self.regions.len();
        if r == 0 || r > usize::from(u16::MAX) {
            return Err(format!("between 1 and {} regions, not {r}", u16::MAX));
        }
        if self.latency.len() != r || self.latency.iter().any(|row| row.len() != r) {
            return Err(format!(
                "a {r}×{r} latency matrix, one row and one column per region"
            ));
        }
        if let Some(j) = &self.jitter {
            j.validate()?;
        }
        self.loss.validate()
    }
}

/// A node's access link, as a scenario writes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessClass {
    /// Uplink rate; `None` is unlimited.
    pub up: Option<Bandwidth>,
    /// Downlink rate; `None` is unlimited.
    pub down: Option<Bandwidth>,
    /// Size of each direction's drop-tail queue; `None` is unbounded.
    pub queue: Option<ByteSize>,
}

/// The all-pairs internet model. See the module docs of `sim_core::network`.
#[derive(Debug)]
pub struct InternetNetwork {
    latency: Vec<Duration>,
    regions: usize,
    jitter: Option<Dist>,
    loss: LossState,
    mtu: Option<ByteSize>,
    classes: Vec<AccessClass>,
    node_region: Vec<u16>,
    node_class: Vec<u16>,
    uplink: Vec<Transmitter>,
    downlink: Vec<Transmitter>,
    /// With `in_order`: when the last packet from node i into region r
    /// arrives, at `i * regions + r`; empty otherwise.
    last_arrival: Vec<Instant>,
    rng: SimRng,
}

impl InternetNetwork {
    /// Builds the model: `node_region[i]` and `node_class[i]` place node i.
    ///
    /// # Panics
    /// If the config is invalid or a node names a region or class that does
    /// not exist (the scenario layer validates both first).
    pub fn new(
        config: InternetConfig,
        classes: Vec<AccessClass>,
        node_region: Vec<u16>,
        node_class: Vec<u16>,
        rng: SimRng,
    ) -> Self {
        config.validate().expect("valid internet config");
        assert_eq!(node_region.len(), node_class.len());
        assert!(node_region
            .iter()
            .all(|&r| usize::from(r) < config.regions.len()));
        assert!(node_class.iter().all(|&c| usize::from(c) < classes.len()));
        let n = node_region.len();
        let last_arrival = if config.in_order {
            vec![Instant::ZERO; n * config.regions.len()]
        } else {
            Vec::new()
        };
        InternetNetwork {
            last_arrival,
            regions: config.regions.len(),
            latency: config.latency.into_iter().flatten().collect(),
            jitter: config.jitter,
            loss: LossState::new(config.loss),
            mtu: config.mtu,
            classes,
            node_region,
            node_class,
            uplink: vec![Transmitter::default(); n],
            downlink: vec![Transmitter::default(); n],
            rng,
        }
    }

    fn core_latency(&self, from: NodeId, to: NodeId) -> Duration {
        let (rf, rt) = (self.node_region[from.index()], self.node_region[to.index()]);
        self.latency[usize::from(rf) * self.regions + usize::from(rt)]
    }

    fn class(&self, node: NodeId) -> &AccessClass {
        &self.classes[usize::from(self.node_class[node.index()])]
    }
}

impl Network for InternetNetwork {
    fn node_count(&self) -> u32 {
        self.node_region.len() as u32
    }

    fn send(
        &mut self,
        now: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        let len = len as u64;
        if self.mtu.is_some_and(|m| len > m.0) {
            return Err(DropCause::Mtu);
        }
        let class = self.class(from);
        let (rate, queue) = (class.up, class.queue);
        let departs = self.uplink[from.index()].enqueue(now, len, rate, queue)?;
        if self.loss.lose(&mut self.rng) {
            return Err(DropCause::Loss);
        }
        let mut delay = self.core_latency(from, to);
        if let Some(jitter) = &self.jitter {
            delay += jitter.sample(&mut self.rng);
        }
        let mut arrives = departs.saturating_add(delay);
        if !self.last_arrival.is_empty() {
            let path = from.index() * self.regions + usize::from(self.node_region[to.index()]);
            arrives = arrives.max(self.last_arrival[path]);
            self.last_arrival[path] = arrives;
        }
        Ok(arrives)
    }

    /// The shortest core latency, where no access class shapes downlinks
    /// (a downlink queue is state the receiver's arrivals share).
    fn lookahead(&self) -> Option<Duration> {
        if self.classes.iter().any(|c| c.down.is_some()) {
            return None;
        }
        self.latency.iter().copied().min()
    }

    fn arrive(&mut self, now: Instant, to: NodeId, len: usize) -> Result<Instant, DropCause> {
        let class = self.class(to);
        let (rate, queue) = (class.down, class.queue);
        self.downlink[to.index()].enqueue(now, len as u64, rate, queue)
    }

    fn change_link(
        &mut self,
        _a: NodeId,
        _b: NodeId,
        _change: &LinkChange,
    ) -> Result<(), NetworkError> {
        Err(NetworkError::NoLinks("internet"))
    }

    fn min_delay(&self, from: NodeId, to: NodeId) -> Option<Duration> {
        let jitter = self
            .jitter
            .as_ref()
            .map_or(Duration::ZERO, Dist::lower_bound);
        Some(self.core_latency(from, to) + jitter)
    }

    fn neighbours(&self, _node: NodeId) -> Option<Vec<NodeId>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Domain, RngStreams};

    /// Node 0 in "near" sends to nodes 1 and 2 in "far" (80 ms) and to node
    /// 3 in "near" (5 ms), 100 µs apart, with 0–40 ms of jitter.
    fn sends(in_order: bool) -> Vec<(u32, Instant)> {
        let ms = Duration::from_millis;
        let config = InternetConfig {
            regions: vec!["near".into(), "far".into()],
            latency: vec![vec![ms(5), ms(80)], vec![ms(80), ms(5)]],
            jitter: Some(Dist::Uniform {
                min: Duration::ZERO,
                max: ms(40),
            }),
            loss: Loss::None,
            mtu: None,
            in_order,
        };
        let rng = RngStreams::new(9).stream(Domain::Network, 0, 0);
        let mut net = InternetNetwork::new(
            config,
            vec![AccessClass::default()],
            vec![0, 1, 1, 0],
            vec![0; 4],
            rng,
        );
        (0..300u64)
            .map(|k| {
                let to = [1, 2, 3][(k % 3) as usize];
                let at = Instant::from_nanos(k * 100_000);
                (to, net.send(at, NodeId(0), NodeId(to), 100).unwrap())
            })
            .collect()
    }

    #[test]
    fn in_order_keeps_each_senders_packets_to_a_region_in_order() {
        let in_region = |v: &[(u32, Instant)], far: bool| -> Vec<Instant> {
            v.iter()
                .filter(|(to, _)| (*to != 3) == far)
                .map(|&(_, t)| t)
                .collect()
        };
        let monotonic = |v: &[Instant]| v.windows(2).all(|w| w[1] >= w[0]);
        let (free, kept) = (sends(false), sends(true));
        assert!(!monotonic(&in_region(&free, true)), "jitter reorders");
        assert!(monotonic(&in_region(&kept, true)));
        assert!(monotonic(&in_region(&kept, false)));
        // The near packets are not held behind the far ones.
        let near = in_region(&kept, false);
        assert!(near[0] < Instant::ZERO + Duration::from_millis(80));
    }
}
