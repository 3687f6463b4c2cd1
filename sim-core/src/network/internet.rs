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
        InternetNetwork {
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
        Ok(departs.saturating_add(delay))
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
