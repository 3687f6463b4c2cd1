//! A radio model for BLE meshes: positions, ranges, mobility, connection
//! events and airtime.
//!
//! # Who hears whom
//!
//! Every node has a position in the plane (metres; see [`Mobility`] for how
//! it moves) and a radio range `r` (its device class's, typically 10–100 m).
//! Nodes `a` and `b` are linked at time `t` while
//!
//! ```text
//! distance(a, b, t) ≤ min(r_a, r_b)
//! ```
//!
//! so links are symmetric and a weak radio limits both directions (the
//! weaker side would miss the acknowledgements of a BLE connection anyway).
//! A datagram to a node out of range is dropped as `no_route`; a link-layer
//! broadcast ([`NodeId::BROADCAST`]) reaches every node in range at the
//! moment it is sent. Range and loss are decided at send time: a node that
//! walks away during the few milliseconds a packet waits for its connection
//! event still receives it.
//!
//! Finding the nodes in range uses a uniform grid (cells at least
//! `max range + 2 · max speed · refresh` wide) rebuilt at most once per
//! `refresh` of virtual time: within a refresh no node moves more than
//! `max speed · refresh`, so every node in range at the query time is in
//! one of the 3 × 3 cells around the sender's cell at the last rebuild, and
//! each candidate's exact distance at the query time decides. Answers are
//! therefore exact, and a query touches only nearby cells. With no moving
//! node the grid is built once. Rebuilds and position queries never draw
//! random numbers that matter elsewhere: each node's trajectory depends on
//! the seed and its id alone.
//!
//! # Loss
//!
//! Inside range, a packet is lost with the probability of the optional
//! log-distance path-loss model ([`PathLoss`]) and, independently, of the
//! optional flat [`Loss`] model. Without either, nothing is lost in range.
//! Path loss is the log-distance model with log-normal shadowing,
//!
//! ```text
//! P(d) = P_tx − PL(d₀) − 10·n·log₁₀(d / d₀) + X,   X ~ N(0, σ²) dB,
//! lost  ⇔  P(d) < S (the receiver's sensitivity),
//! p_loss(d) = Φ((S − P̄(d)) / σ),
//! ```
//!
//! calibrated per link by its range `r` instead of by the four radio
//! constants: the link budget P_tx − PL(d₀) − S is chosen so that
//! p_loss(r) = `edge_loss`, which gives
//!
//! ```text
//! p_loss(d) = Φ( Φ⁻¹(edge_loss) + (10·n / σ) · log₁₀(d / r) ).
//! ```
//!
//! Loss then grows smoothly toward the edge and vanishes close by (with the
//! defaults n = 2, σ = 4 dB, edge_loss = 50 %: 27 % at 0.75 r, 6.6 % at
//! r / 2, 0.13 % at r / 4). To use measured radio constants instead, pick the
//! range they imply: r = d₀ · 10^((P_tx − PL(d₀) − S + σ·Φ⁻¹(edge_loss)) / (10·n)).
//! Beyond r the link does not exist, which cuts off the shadowing tail (a
//! real radio would, rarely, hear a node slightly farther away).
//!
//! The flat model's state (the Gilbert-Elliott chain) and every loss draw
//! come from one stream for the whole model ([`Domain::Network`], 0, 0), as
//! in the internet model: a stream per pair cannot be stored when pairs come
//! and go. Each send draws a fixed number of values (one for path loss when
//! it is on, then the flat model's), so the run is deterministic.
//!
//! # Timing
//!
//! A datagram of `len` bytes (at most the `mtu`, 244 B by default: the ATT
//! payload of a 251-byte LE data PDU, larger ones are dropped as `mtu`) is
//! sent in one link-layer packet whose airtime is
//! `(len + packet_overhead) · 8 / data_rate`; the sender's radio is then held
//! for a further `packet_gap` (the two inter-frame spaces and the peer's
//! empty acknowledgement). The defaults model the LE 1M PHY: 1 Mbit/s, 17
//! bytes of overhead (preamble 1, access address 4, header 2, CRC 3, L2CAP 4,
//! ATT 3) and 380 µs (2 × T_IFS 150 µs + an 80 µs empty PDU), so a full
//! 244-byte packet holds the radio 2468 µs: an application throughput of
//! about 790 kbit/s, the usual best case for BLE 4.2/5 with data-length
//! extension. For LE 2M set `data_rate: "2Mbps"` and `packet_gap: "340us"`.
//!
//! Each node's radio sends one packet at a time, first in first out. A
//! packet starts at the next connection event of its link at or after the
//! radio is free, except that a packet to the same peer as the packet just
//! before it, queued while that one was still on the air, follows it in the
//! same connection event (BLE's "more data"), so a burst to one peer is
//! sent back to back. Each link's events are every `connection_interval`
//! (30 ms by default), at a phase in [0, interval) hashed from the seed and
//! the two ids (smaller first: one connection serves both directions), so
//! a packet on an idle radio waits less than one interval. Arrival is the
//! end of the packet's airtime plus the propagation delay (distance / c,
//! rounded up to the nanosecond). With `queue` set, a radio holding that
//! many packets (waiting or on the air) drops the next as `queue_full`.
//! (This is not link.rs's byte-counting `Transmitter`: a packet also waits
//! for its connection event, so the radio's backlog is not its busy time
//! times a rate, and a BLE controller's buffers hold packets, not bytes.)
//!
//! # Departures from BLE
//!
//! - Connections are implicit: every pair in range is connected, with no
//!   connection set-up, no limit on the number of connections, no channel
//!   hopping and no collisions or interference between links.
//! - One radio queue per node in FIFO order, where a real controller keeps a
//!   queue per connection and interleaves their events; a connection event
//!   is never cut short by the next one.
//! - A link-layer broadcast is one packet per node in range, each over its
//!   own connection (as a mesh over GATT connections sends it), not one
//!   advertisement that every scanner hears at once.
//! - Advertising is not simulated here: discovery is the protocol's business
//!   (the BLE mesh announces itself every `announce_interval` and hears
//!   announces only in its scan windows, which is what advertising and
//!   scanning intervals decide on a real phone).
//! - The receiver has no queue of its own (the default [`Network::arrive`]).
//! - Space is two-dimensional and free: no walls, no antenna patterns.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::loss::{Loss, LossState};
use super::mobility::{Mobility, Point, Trajectory};
use super::spatial::Grid;
use super::{LinkChange, Network, NetworkError};
use crate::dist::{bernoulli, standard_normal_quantile};
use crate::metrics::DropCause;
use crate::protocol::NodeId;
use crate::rng::{Domain, RngStreams, SimRng};
use crate::time::{Duration, Instant};
use crate::units::{Bandwidth, ByteSize};

/// The speed of light, in metres per nanosecond.
const LIGHT_M_PER_NS: f64 = 0.299_792_458;

/// Relative and absolute widening of grid cells (metres), so that float
/// rounding in positions can never hide a neighbour.
const SLACK: f64 = 1e-9;

/// The radio model's parameters, as a scenario writes them. Every field has
/// a default; the module docs of `network/radio.rs` explain the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadioConfig {
    /// Width and height of the field in metres, corner at the origin; it
    /// sizes the neighbour grid (nodes may stray outside it). Default
    /// (100, 100).
    pub area: (f64, f64),
    /// How long the neighbour grid may age before it is rebuilt; a longer
    /// refresh means fewer rebuilds but bigger cells. Default 1 s.
    pub refresh: Duration,
    /// Largest datagram; larger ones are dropped. Default 244 B.
    pub mtu: ByteSize,
    /// The PHY's bit rate. Default 1 Mbit/s (LE 1M).
    pub data_rate: Bandwidth,
    /// Bytes each packet carries besides the datagram. Default 17 B.
    pub packet_overhead: ByteSize,
    /// Radio time after each packet's airtime (inter-frame spaces and the
    /// acknowledgement). Default 380 µs.
    pub packet_gap: Duration,
    /// Time between a link's connection events; zero sends at once.
    /// Default 30 ms (BLE allows 7.5 ms to 4 s).
    pub connection_interval: Duration,
    /// How many packets a radio holds (waiting or on the air) before it
    /// drops the next; `None` is unbounded. Default `None`.
    pub queue: Option<u32>,
    /// Distance-dependent loss; `None` loses nothing in range. Default
    /// `None`.
    pub path_loss: Option<PathLoss>,
    /// Flat loss on every packet, on top of path loss. Default none.
    pub loss: Loss,
}

impl Default for RadioConfig {
    fn default() -> Self {
        RadioConfig {
            area: (100.0, 100.0),
            refresh: Duration::from_secs(1),
            mtu: ByteSize(244),
            data_rate: Bandwidth::from_bps(1_000_000).expect("positive rate"),
            packet_overhead: ByteSize(17),
            packet_gap: Duration::from_micros(380),
            connection_interval: Duration::from_millis(30),
            queue: None,
            path_loss: None,
            loss: Loss::None,
        }
    }
}

impl RadioConfig {
    /// Checks the parameters; the message says what was expected.
    pub fn validate(&self) -> Result<(), String> {
        let (w, h) = self.area;
        if !(w >= 0.0 && h >= 0.0 && w.is_finite() && h.is_finite()) {
            return Err(format!(
                "area = ({w}, {h}) must be a width and a height in metres"
            ));
        }
        if self.mtu.0 == 0 {
            return Err("mtu must be at least 1B".into());
        }
        if self.queue == Some(0) {
            return Err("queue must hold at least one packet".into());
        }
        if let Some(p) = &self.path_loss {
            p.validate()?;
        }
        self.loss.validate()
    }

    /// How long a datagram of `len` bytes is on the air:
    /// `(len + packet_overhead) · 8 / data_rate`.
    pub fn airtime(&self, len: usize) -> Duration {
        self.data_rate
            .transmit_time(len as u64 + self.packet_overhead.0)
    }
}

/// Log-distance path loss with log-normal shadowing (exponent n, σ dB),
/// its link budget calibrated so that a link of range r loses `edge_loss` at
/// r: p_loss(d) = Φ(Φ⁻¹(edge_loss) + (10n/σ)·log₁₀(d/r)). The module docs of
/// `network/radio.rs` derive it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathLoss {
    /// Path-loss exponent n: 2 in free space, 2.5–4 indoors. Default 2.
    pub exponent: f64,
    /// Shadowing standard deviation σ in dB; typically 4–8. Default 4.
    pub shadowing_db: f64,
    /// Loss probability at exactly the link's range, strictly between 0
    /// and 1. Default 0.5.
    pub edge_loss: f64,
}

impl Default for PathLoss {
    fn default() -> Self {
        PathLoss {
            exponent: 2.0,
            shadowing_db: 4.0,
            edge_loss: 0.5,
        }
    }
}

impl PathLoss {
    /// Checks the parameters; the message says what was expected.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |v: f64| v > 0.0 && v.is_finite();
        if !positive(self.exponent) {
            return Err(format!("exponent = {} must be positive", self.exponent));
        }
        if !positive(self.shadowing_db) {
            return Err(format!(
                "shadowing_db = {} must be a positive number of dB",
                self.shadowing_db
            ));
        }
        if !(self.edge_loss > 0.0 && self.edge_loss < 1.0) {
            return Err(format!(
                "edge_loss = {} must be a probability strictly between 0 and 1",
                self.edge_loss
            ));
        }
        Ok(())
    }

    /// The probability that a packet over `distance` metres, on a link of
    /// range `range`, is lost: Φ(Φ⁻¹(edge_loss) + (10n/σ)·log₁₀(d/r)).
    /// Zero at distance zero, `edge_loss` at the range, increasing between.
    pub fn loss_probability(&self, distance: f64, range: f64) -> f64 {
        let slope = 10.0 * self.exponent / self.shadowing_db;
        let z = standard_normal_quantile(self.edge_loss) + slope * libm::log10(distance / range);
        0.5 * libm::erfc(-z / core::f64::consts::SQRT_2)
    }
}

/// One node of the radio model: its range, where it starts and how it moves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RadioNode {
    /// Radio range in metres (the device class's); zero for a node with
    /// no radio, which is never linked (a server on the hybrid model).
    pub range: f64,
    /// Position at time zero.
    pub position: Point,
    /// How it moves from there.
    pub mobility: Mobility,
}

impl RadioNode {
    /// A node of range `range` starting at `position` and moving by
    /// `mobility`.
    pub fn new(range: f64, position: Point, mobility: Mobility) -> Self {
        RadioNode {
            range,
            position,
            mobility,
        }
    }

    /// Checks the parameters; the message says what was expected.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.range >= 0.0 && self.range.is_finite()) {
            return Err(format!(
                "range = {} must be a distance in metres (0: no radio)",
                self.range
            ));
        }
        if !self.position.is_finite() {
            return Err("the position must be a finite point".into());
        }
        self.mobility.validate()
    }
}

/// A node's radio: packets leave one at a time, first in first out.
#[derive(Clone, Debug, Default)]
struct Radio {
    /// When the radio has sent everything accepted so far.
    busy_until: Instant,
    /// The peer of the last packet: its connection event is open while the
    /// radio is busy with it.
    peer: Option<NodeId>,
    /// When each packet still in the radio leaves it (kept only with a
    /// bounded queue).
    pending: VecDeque<Instant>,
}

impl Radio {
    /// Reserves the radio for a packet to `to` that holds it for `slot`:
    /// when the packet starts, or `QueueFull` if `limit` packets are in the
    /// radio. `event` gives the link's first connection event at or after a
    /// time.
    fn reserve(
        &mut self,
        now: Instant,
        to: NodeId,
        slot: Duration,
        limit: Option<u32>,
        event: impl FnOnce(Instant) -> Instant,
    ) -> Result<Instant, DropCause> {
        if let Some(limit) = limit {
            while self.pending.front().is_some_and(|&done| done <= now) {
                self.pending.pop_front();
            }
            if self.pending.len() >= limit as usize {
                return Err(DropCause::QueueFull);
            }
        }
        let start = if now < self.busy_until && self.peer == Some(to) {
            self.busy_until
        } else {
            event(self.busy_until.max(now))
        };
        self.busy_until = start.saturating_add(slot);
        self.peer = Some(to);
        if limit.is_some() {
            self.pending.push_back(self.busy_until);
        }
        Ok(start)
    }
}

/// The link between two nodes in range at a moment.
#[derive(Clone, Copy, Debug)]
struct Reach {
    distance: f64,
    range: f64,
}

/// Whether nodes at `a` and `b` with ranges `ra` and `rb` are linked (never
/// when one has no radio, even at the same spot).
fn linked(a: Point, ra: f64, b: Point, rb: f64) -> bool {
    let r = ra.min(rb);
    r > 0.0 && a.distance2(b) <= r * r
}

/// A 64-bit mix with full avalanche (the SplitMix64 finaliser).
fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The phase in `[0, interval)` of the connection events of the link
/// between `a` and `b` (either order), from the seed and the two ids.
fn link_phase(seed: u64, a: NodeId, b: NodeId, interval: Duration) -> Duration {
    let (lo, hi) = (a.min(b), a.max(b));
    let key = mix64(seed ^ mix64(u64::from(lo.0) << 32 | u64::from(hi.0)));
    Duration::from_nanos(key % interval.as_nanos().max(1))
}

/// The first event at or after `t` of a series at `phase + k · interval`;
/// `t` itself when the interval is zero.
fn next_event(t: Instant, phase: Duration, interval: Duration) -> Instant {
    let (t, p, i) = (t.as_nanos(), phase.as_nanos(), interval.as_nanos());
    if i == 0 {
        return Instant::from_nanos(t);
    }
    if t <= p {
        return Instant::from_nanos(p);
    }
    let k = (t - p).div_ceil(i);
    Instant::from_nanos(p.saturating_add(k.saturating_mul(i)))
}

/// The radio network of a BLE mesh. Nodes `a` and `b` are linked while
/// `distance ≤ min(range_a, range_b)`; a datagram waits for its sender's
/// radio, then for its link's next connection event, then takes its airtime.
/// The module docs of `network/radio.rs` explain the model, its defaults and
/// its departures from BLE.
#[derive(Debug)]
pub struct RadioNetwork {
    config: RadioConfig,
    ranges: Vec<f64>,
    paths: Vec<Trajectory>,
    radios: Vec<Radio>,
    grid: Grid,
    built_at: Instant,
    /// Whether any node moves (otherwise the grid is never rebuilt).
    mobile: bool,
    seed: u64,
    rng: SimRng,
    loss: LossState,
}

impl RadioNetwork {
    /// The model of `nodes` (node `i` is `NodeId(i)`) with parameters
    /// `config`; trajectories, link phases and loss draws derive from
    /// `streams`.
    ///
    /// # Panics
    /// If the config or a node is invalid (the scenario layer checks both
    /// first with [`RadioConfig::validate`] and [`RadioNode::validate`]).
    pub fn new(config: RadioConfig, nodes: Vec<RadioNode>, streams: RngStreams) -> Self {
        config.validate().expect("valid radio config");
        for (i, node) in nodes.iter().enumerate() {
            if let Err(e) = node.validate() {
                panic!("radio node {i}: {e}");
            }
        }
        let n = u32::try_from(nodes.len()).expect("fewer than 2^32 nodes");
        let max_range = nodes.iter().map(|x| x.range).fold(0.0, f64::max);
        let max_speed = nodes
            .iter()
            .map(|x| x.mobility.max_speed(x.position))
            .fold(0.0, f64::max);
        let drift = 2.0 * max_speed * config.refresh.as_secs_f64();
        let side = (max_range + drift) * (1.0 + SLACK) + SLACK;
        let mut net = RadioNetwork {
            grid: Grid::new(config.area, side, nodes.len()),
            ranges: nodes.iter().map(|x| x.range).collect(),
            paths: (0..n)
                .zip(&nodes)
                .map(|(i, x)| Trajectory::new(x.position, &x.mobility, streams, i))
                .collect(),
            radios: vec![Radio::default(); nodes.len()],
            built_at: Instant::ZERO,
            mobile: max_speed > 0.0,
            seed: streams.seed(),
            rng: streams.stream(Domain::Network, 0, 0),
            loss: LossState::new(config.loss.clone()),
            config,
        };
        net.rebuild(Instant::ZERO);
        net
    }

    /// The parameters.
    pub fn config(&self) -> &RadioConfig {
        &self.config
    }

    /// Node `node`'s radio range, in metres.
    pub fn range(&self, node: NodeId) -> f64 {
        self.ranges[node.index()]
    }

    /// Where `node` is at `now`. Takes `&mut self` because random-waypoint
    /// legs are drawn lazily; the answer depends on the seed, the node and
    /// `now` only.
    ///
    /// # Panics
    /// If `node` is not in the network.
    pub fn position(&mut self, node: NodeId, now: Instant) -> Point {
        self.paths[node.index()].position(now)
    }

    /// Whether `a` and `b` (distinct nodes of the network) are in range of
    /// each other at `now`.
    pub fn in_range(&mut self, a: NodeId, b: NodeId, now: Instant) -> bool {
        self.reach(now, a, b).is_some()
    }

    /// The link between `a` and `b` at `now`, if they are distinct nodes in
    /// range.
    fn reach(&mut self, now: Instant, a: NodeId, b: NodeId) -> Option<Reach> {
        let n = self.paths.len();
        if a == b || a.index() >= n || b.index() >= n {
            return None;
        }
        let (pa, pb) = (self.position(a, now), self.position(b, now));
        let (ra, rb) = (self.ranges[a.index()], self.ranges[b.index()]);
        linked(pa, ra, pb, rb).then(|| Reach {
            distance: pa.distance(pb),
            range: ra.min(rb),
        })
    }

    /// Rebuilds the grid if it is more than `refresh` away from `now`.
    fn refresh_grid(&mut self, now: Instant) {
        let age = now
            .saturating_duration_since(self.built_at)
            .max(self.built_at.saturating_duration_since(now));
        if self.mobile && age > self.config.refresh {
            self.rebuild(now);
        }
    }

    /// Files every node in the grid under its position at `now`.
    fn rebuild(&mut self, now: Instant) {
        let paths = &mut self.paths;
        self.grid.rebuild(paths.iter_mut().map(|p| p.position(now)));
        self.built_at = now;
    }

    /// Decides whether the packet on `link` is lost: one draw for path loss
    /// (when on), then the flat model's.
    fn lose(&mut self, link: Reach) -> bool {
        let faded = self.config.path_loss.is_some_and(|pl| {
            bernoulli(
                &mut self.rng,
                pl.loss_probability(link.distance, link.range),
            )
        });
        let dropped = self.loss.lose(&mut self.rng);
        faded | dropped
    }
}

impl Network for RadioNetwork {
    fn node_count(&self) -> u32 {
        self.paths.len() as u32
    }

    fn send(
        &mut self,
        now: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        let link = self.reach(now, from, to).ok_or(DropCause::NoRoute)?;
        if len as u64 > self.config.mtu.0 {
            return Err(DropCause::Mtu);
        }
        let airtime = self.config.airtime(len);
        let interval = self.config.connection_interval;
        let phase = link_phase(self.seed, from, to, interval);
        let start = self.radios[from.index()].reserve(
            now,
            to,
            airtime + self.config.packet_gap,
            self.config.queue,
            |t| next_event(t, phase, interval),
        )?;
        // The packet took its radio time; now the channel may lose it.
        if self.lose(link) {
            return Err(DropCause::Loss);
        }
        let propagation = Duration::from_nanos(libm::ceil(link.distance / LIGHT_M_PER_NS) as u64);
        Ok(start.saturating_add(airtime + propagation))
    }

    fn change_link(
        &mut self,
        _a: NodeId,
        _b: NodeId,
        _change: &LinkChange,
    ) -> Result<(), NetworkError> {
        Err(NetworkError::NoLinks("radio"))
    }

    /// The airtime of an empty datagram, or `None` for two static nodes out
    /// of range (mobile nodes may always meet).
    fn min_delay(&self, from: NodeId, to: NodeId) -> Option<Duration> {
        let (a, b) = (self.paths.get(from.index())?, self.paths.get(to.index())?);
        if from == to {
            return None;
        }
        if let (Some(pa), Some(pb)) = (a.fixed(), b.fixed()) {
            let (ra, rb) = (self.ranges[from.index()], self.ranges[to.index()]);
            if !linked(pa, ra, pb, rb) {
                return None;
            }
        }
        Some(self.config.airtime(0))
    }

    fn neighbours(&self, _node: NodeId) -> Option<Vec<NodeId>> {
        None
    }

    fn broadcast_targets(&mut self, now: Instant, from: NodeId, out: &mut Vec<NodeId>) {
        let a = from.index();
        if a >= self.paths.len() {
            return;
        }
        self.refresh_grid(now);
        let (pa, ra) = (self.paths[a].position(now), self.ranges[a]);
        let first = out.len();
        for b in self.grid.near(a) {
            let i = b as usize;
            if i != a && linked(pa, ra, self.paths[i].position(now), self.ranges[i]) {
                out.push(NodeId(b));
            }
        }
        out[first..].sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn fixed(range: f64, x: f64, y: f64) -> RadioNode {
        RadioNode::new(range, Point::new(x, y), Mobility::Static)
    }

    fn ms(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn targets(net: &mut RadioNetwork, now: Instant, from: u32) -> Vec<u32> {
        let mut out = Vec::new();
        net.broadcast_targets(now, NodeId(from), &mut out);
        out.into_iter().map(|n| n.0).collect()
    }

    /// Uniform random points in a `side × side` square, from a test stream.
    fn scatter(n: usize, side: f64, seed: u64) -> Vec<Point> {
        let mut rng = SimRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let x = crate::dist::unit_f64(&mut rng) * side;
                Point::new(x, crate::dist::unit_f64(&mut rng) * side)
            })
            .collect()
    }

    #[test]
    fn hand_computed_neighbours_use_the_smaller_range() {
        // A(0,0) r10, B(8,0) r20, C(20,0) r20, D(0,15) r100.
        // A–B 8 ≤ 10; A–C 20 > 10; A–D 15 > 10; B–C 12 ≤ 20;
        // B–D √289 = 17 ≤ 20; C–D 25 > 20.
        let nodes = vec![
            fixed(10.0, 0.0, 0.0),
            fixed(20.0, 8.0, 0.0),
            fixed(20.0, 20.0, 0.0),
            fixed(100.0, 0.0, 15.0),
        ];
        let mut net = RadioNetwork::new(RadioConfig::default(), nodes, RngStreams::new(1));
        let t = Instant::ZERO;
        assert_eq!(targets(&mut net, t, 0), vec![1]);
        assert_eq!(targets(&mut net, t, 1), vec![0, 2, 3]);
        assert_eq!(targets(&mut net, t, 2), vec![1]);
        assert_eq!(targets(&mut net, t, 3), vec![1]);
        assert!(net.in_range(NodeId(1), NodeId(3), t));
        assert!(!net.in_range(NodeId(0), NodeId(3), t));
        assert!(!net.in_range(NodeId(0), NodeId(0), t));
        assert_eq!(
            net.send(t, NodeId(0), NodeId(2), 10),
            Err(DropCause::NoRoute)
        );
        assert_eq!(
            net.send(t, NodeId(0), NodeId(9), 10),
            Err(DropCause::NoRoute)
        );
        assert!(net.send(t, NodeId(3), NodeId(1), 10).is_ok());
        assert_eq!(net.min_delay(NodeId(0), NodeId(2)), None);
        assert_eq!(
            net.min_delay(NodeId(0), NodeId(1)),
            Some(Duration::from_micros(136))
        );
        assert_eq!(net.neighbours(NodeId(0)), None);
        assert_eq!(
            net.change_link(NodeId(0), NodeId(1), &LinkChange::Down),
            Err(NetworkError::NoLinks("radio"))
        );
    }

    /// Labels of the connected components of the unit-disk graph of
    /// `points` with radius `r`, by union-find over all pairs.
    fn unit_disk_components(points: &[Point], r: f64) -> Vec<usize> {
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut parent: Vec<usize> = (0..points.len()).collect();
        for i in 0..points.len() {
            for j in i + 1..points.len() {
                let (dx, dy) = (points[i].x - points[j].x, points[i].y - points[j].y);
                if dx * dx + dy * dy <= r * r {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
            }
        }
        (0..points.len()).map(|i| root(&mut parent, i)).collect()
    }

    /// Component labels by breadth-first search over `broadcast_targets`.
    fn multi_hop_components(net: &mut RadioNetwork) -> Vec<usize> {
        let n = net.node_count() as usize;
        let mut label = vec![usize::MAX; n];
        for s in 0..n {
            if label[s] != usize::MAX {
                continue;
            }
            label[s] = s;
            let mut frontier = vec![s as u32];
            while let Some(u) = frontier.pop() {
                for v in targets(net, Instant::ZERO, u) {
                    if label[v as usize] == usize::MAX {
                        label[v as usize] = s;
                        frontier.push(v);
                    }
                }
            }
        }
        label
    }

    fn connected_pairs(label: &[usize]) -> usize {
        (0..label.len())
            .flat_map(|i| (i + 1..label.len()).map(move |j| (i, j)))
            .filter(|&(i, j)| label[i] == label[j])
            .count()
    }

    #[test]
    fn multi_hop_reach_is_the_unit_disk_graphs_components() {
        // Around the percolation threshold the components are many and
        // varied, which makes the comparison sharp.
        for (seed, r) in [(1, 25.0), (2, 30.0), (3, 35.0), (4, 40.0)] {
            let points = scatter(400, 500.0, seed);
            let nodes = points.iter().map(|p| fixed(r, p.x, p.y)).collect();
            let config = RadioConfig {
                area: (500.0, 500.0),
                ..RadioConfig::default()
            };
            let mut net = RadioNetwork::new(config, nodes, RngStreams::new(seed));
            let want = unit_disk_components(&points, r);
            let got = multi_hop_components(&mut net);
            for i in 0..points.len() {
                for j in i + 1..points.len() {
                    assert_eq!(
                        got[i] == got[j],
                        want[i] == want[j],
                        "seed {seed}: nodes {i} and {j}"
                    );
                }
            }
            let pairs = (400 * 399 / 2) as f64;
            let (g, w) = (connected_pairs(&got), connected_pairs(&want));
            assert_eq!(g as f64 / pairs, w as f64 / pairs);
            assert!(0 < w && (w as f64) < pairs, "seed {seed}: a trivial case");
        }
    }

    fn walkers(n: usize, speed_max: f64, refresh: Duration, seed: u64) -> RadioNetwork {
        let points = scatter(n, 300.0, seed);
        let nodes = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                // Mixed classes and a few static nodes.
                let range = [15.0, 30.0, 60.0][i % 3];
                let mobility = if i % 5 == 0 {
                    Mobility::Static
                } else {
                    Mobility::RandomWaypoint {
                        speed_min: 0.5,
                        speed_max,
                        pause: Duration::from_secs(2),
                        area: (300.0, 300.0),
                    }
                };
                RadioNode::new(range, *p, mobility)
            })
            .collect();
        let config = RadioConfig {
            area: (300.0, 300.0),
            refresh,
            ..RadioConfig::default()
        };
        RadioNetwork::new(config, nodes, RngStreams::new(seed))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn grid_answers_equal_brute_force_under_mobility(
            seed in 0u64..1_000,
            n in 2usize..120,
            speed_max in 0.5f64..20.0,
            refresh_ms in 1u64..5_000,
            steps in proptest::collection::vec(0u64..3_000, 1..40),
        ) {
            let mut net = walkers(n, speed_max, Duration::from_millis(refresh_ms), seed);
            let mut now = Instant::ZERO;
            for (k, step) in steps.into_iter().enumerate() {
                now += Duration::from_millis(step);
                let from = (k * 7 + seed as usize) % n;
                let got = targets(&mut net, now, from as u32);
                let here = net.position(NodeId(from as u32), now);
                let want: Vec<u32> = (0..n as u32)
                    .filter(|&b| b as usize != from)
                    .filter(|&b| {
                        let r = net.range(NodeId(b)).min(net.range(NodeId(from as u32)));
                        net.position(NodeId(b), now).distance2(here) <= r * r
                    })
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn scenarios_write_the_config_in_ron() {
        let text = r#"(
            area: (500.0, 300.0),
            connection_interval: "15ms",
            data_rate: "2Mbps",
            queue: Some(32),
            path_loss: Some((exponent: 3.0)),
        )"#;
        let config: RadioConfig = ron::from_str(text).unwrap();
        assert_eq!(config.area, (500.0, 300.0));
        assert_eq!(config.connection_interval, Duration::from_millis(15));
        assert_eq!(config.path_loss.unwrap().shadowing_db, 4.0);
        assert_eq!(config.mtu, ByteSize(244));
        assert!(ron::from_str::<RadioConfig>("(range: 5.0)").is_err());
        let walk =
            "RandomWaypoint(speed_min: 0.5, speed_max: 1.5, pause: \"10s\", area: (50.0, 50.0))";
        assert!(ron::from_str::<Mobility>(walk).unwrap().validate().is_ok());
        let script = r#"Scripted(waypoints: [("10s", (x: 5.0, y: 0.0))])"#;
        assert!(ron::from_str::<Mobility>(script)
            .unwrap()
            .validate()
            .is_ok());
    }

    #[test]
    fn mtu_drops_larger_datagrams() {
        let nodes = vec![fixed(10.0, 0.0, 0.0), fixed(10.0, 5.0, 0.0)];
        let mut net = RadioNetwork::new(RadioConfig::default(), nodes, RngStreams::new(3));
        let (a, b) = (NodeId(0), NodeId(1));
        assert_eq!(net.send(ms(0), a, b, 245), Err(DropCause::Mtu));
        assert!(net.send(ms(0), a, b, 244).is_ok());
    }

    #[test]
    fn default_timing_is_the_documented_throughput() {
        let config = RadioConfig::default();
        // (244 + 17) B at 1 Mbit/s, then 380 µs of gap.
        assert_eq!(config.airtime(244), Duration::from_micros(2088));
        let slot = config.airtime(244) + config.packet_gap;
        let kbps = 244.0 * 8.0 / slot.as_secs_f64() / 1e3;
        assert!((790.0..792.0).contains(&kbps), "{kbps}");
    }

    #[test]
    fn back_to_back_packets_are_serialised() {
        let nodes = vec![
            fixed(50.0, 0.0, 0.0),
            fixed(50.0, 30.0, 0.0),
            fixed(50.0, 0.0, 30.0),
        ];
        let mut net = RadioNetwork::new(RadioConfig::default(), nodes, RngStreams::new(5));
        let slot = net.config().airtime(200) + net.config().packet_gap;
        let (a, b, c) = (NodeId(0), NodeId(1), NodeId(2));
        // A burst to one peer goes out back to back in one connection event.
        let first = net.send(ms(0), a, b, 200).unwrap();
        let second = net.send(ms(0), a, b, 200).unwrap();
        assert_eq!(second - first, slot);
        // A packet to another peer waits for the radio, then for its link's
        // event: at least the airtime later, at most an interval more.
        let third = net.send(ms(0), a, c, 200).unwrap();
        assert!(third >= second + slot, "{third} vs {second}");
        assert!(third < second + slot + Duration::from_millis(30));
    }

    #[test]
    fn connection_events_wait_less_than_an_interval() {
        let interval = Duration::from_millis(30);
        let points = scatter(40, 20.0, 8);
        let nodes = points.iter().map(|p| fixed(50.0, p.x, p.y)).collect();
        let mut net = RadioNetwork::new(RadioConfig::default(), nodes, RngStreams::new(8));
        let mut waits = Vec::new();
        for k in 0..400u32 {
            // One packet every 50 ms: each finds its radio idle.
            let now = ms(50 * u64::from(k));
            let (from, to) = (NodeId(k % 40), NodeId((k * 7 + 3) % 40));
            if from == to {
                continue;
            }
            let at = net.send(now, from, to, 100).unwrap();
            let distance = net.position(from, now).distance(net.position(to, now));
            let propagation = libm::ceil(distance / LIGHT_M_PER_NS) as u64;
            let air = net.config().airtime(100).as_nanos();
            let start = Instant::from_nanos(at.as_nanos() - air - propagation);
            let wait = start - now;
            assert!(wait < interval, "{wait}");
            // The link's events keep one phase, whichever end sends.
            let phase = link_phase(8, to, from, interval);
            assert_eq!(start.as_nanos() % interval.as_nanos(), phase.as_nanos());
            waits.push(wait.as_nanos());
        }
        // Phases spread over the interval rather than bunching.
        let mean = waits.iter().sum::<u64>() as f64 / waits.len() as f64;
        assert!((10e6..20e6).contains(&mean), "mean wait {mean} ns");
    }

    #[test]
    fn a_full_radio_queue_drops() {
        let config = RadioConfig {
            queue: Some(2),
            ..RadioConfig::default()
        };
        let nodes = vec![fixed(10.0, 0.0, 0.0), fixed(10.0, 5.0, 0.0)];
        let mut net = RadioNetwork::new(config, nodes, RngStreams::new(3));
        let (a, b) = (NodeId(0), NodeId(1));
        let second = net.send(ms(0), a, b, 100).and(net.send(ms(0), a, b, 100));
        assert!(second.is_ok());
        assert_eq!(net.send(ms(0), a, b, 100), Err(DropCause::QueueFull));
        // When the second arrives the first has left: room for one more.
        let later = second.unwrap();
        assert!(net.send(later, a, b, 100).is_ok());
        assert_eq!(net.send(later, a, b, 100), Err(DropCause::QueueFull));
    }

    #[test]
    fn path_loss_grows_with_distance_to_the_calibrated_edge() {
        let pl = PathLoss::default();
        let p = |d: f64| pl.loss_probability(d, 40.0);
        assert_eq!(p(0.0), 0.0);
        assert!(p(2.0) < 1e-6, "{}", p(2.0));
        assert!((p(40.0) - 0.5).abs() < 1e-12);
        assert!((p(20.0) - 0.0662).abs() < 1e-3, "{}", p(20.0));
        let mut last = 0.0;
        for k in 1..=400 {
            let now = p(f64::from(k) * 0.1);
            assert!(now >= last, "not monotone at {k}");
            last = now;
        }
        let steep = PathLoss {
            edge_loss: 0.1,
            ..pl
        };
        assert!((steep.loss_probability(40.0, 40.0) - 0.1).abs() < 1e-12);
        assert!(PathLoss {
            edge_loss: 1.0,
            ..pl
        }
        .validate()
        .is_err());
        assert!(PathLoss {
            exponent: 0.0,
            ..pl
        }
        .validate()
        .is_err());
    }

    #[test]
    fn measured_loss_matches_path_loss() {
        for d in [16.0, 30.0, 38.0] {
            let config = RadioConfig {
                path_loss: Some(PathLoss::default()),
                ..RadioConfig::default()
            };
            let nodes = vec![fixed(40.0, 0.0, 0.0), fixed(40.0, d, 0.0)];
            let mut net = RadioNetwork::new(config, nodes, RngStreams::new(11));
            let sends = 40_000;
            let lost = (0..sends)
                .filter(|&k| {
                    let r = net.send(ms(40 * k), NodeId(0), NodeId(1), 20);
                    r == Err(DropCause::Loss)
                })
                .count();
            let want = PathLoss::default().loss_probability(d, 40.0);
            let got = lost as f64 / sends as f64;
            // Four binomial standard deviations.
            let tolerance = 4.0 * (want * (1.0 - want) / sends as f64).sqrt();
            assert!((got - want).abs() < tolerance, "d = {d}: {got} vs {want}");
        }
    }

    #[test]
    fn flat_loss_applies_in_range() {
        let config = RadioConfig {
            loss: Loss::Bernoulli { p: 1.0 },
            ..RadioConfig::default()
        };
        let nodes = vec![fixed(10.0, 0.0, 0.0), fixed(10.0, 1.0, 0.0)];
        let mut net = RadioNetwork::new(config, nodes, RngStreams::new(3));
        assert_eq!(
            net.send(ms(0), NodeId(0), NodeId(1), 10),
            Err(DropCause::Loss)
        );
    }

    /// Every answer of a fixed mix of queries on a mobile, lossy network.
    fn script(seed: u64) -> Vec<String> {
        let mut net = walkers(60, 3.0, Duration::from_millis(500), seed);
        net.config.path_loss = Some(PathLoss::default());
        let mut log = Vec::new();
        for k in 0..2_000u64 {
            let now = ms(37 * k);
            let from = (k * 13 % 60) as u32;
            let near = targets(&mut net, now, from);
            for &to in &near {
                log.push(format!(
                    "{:?}",
                    net.send(now, NodeId(from), NodeId(to), 100)
                ));
            }
            log.push(format!("{near:?} {:?}", net.position(NodeId(from), now)));
        }
        log
    }

    #[test]
    fn same_seed_same_answers() {
        let a = script(21);
        assert_eq!(a, script(21));
        assert_ne!(a, script(22));
        assert!(a.iter().any(|l| l.contains("Loss")) && a.iter().any(|l| l.contains("Ok")));
    }

    #[test]
    fn positions_do_not_depend_on_the_query_pattern() {
        let end = Instant::ZERO + Duration::from_secs(600);
        let mut often = walkers(30, 2.0, Duration::from_secs(1), 4);
        for s in 0..600 {
            let now = Instant::ZERO + Duration::from_secs(s);
            let mut out = Vec::new();
            often.broadcast_targets(now, NodeId((s % 30) as u32), &mut out);
        }
        let mut once = walkers(30, 2.0, Duration::from_secs(1), 4);
        for i in 0..30 {
            let node = NodeId(i);
            assert_eq!(often.position(node, end), once.position(node, end));
        }
    }

    #[test]
    fn ten_thousand_walking_phones_hear_their_neighbours() {
        // 10k walkers at 0.5–2 m/s in a 1 km square, 30–60 m ranges (about
        // 30–110 neighbours each); every node broadcasts once a second for
        // 10 s of virtual time and sends to each neighbour. (Speed is
        // measured by ble-festival-10k.ron, not here.)
        let n = 10_000;
        let points = scatter(n, 1_000.0, 99);
        let nodes = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mobility = Mobility::RandomWaypoint {
                    speed_min: 0.5,
                    speed_max: 2.0,
                    pause: Duration::from_secs(5),
                    area: (1_000.0, 1_000.0),
                };
                RadioNode::new([30.0, 60.0][i % 2], *p, mobility)
            })
            .collect();
        let config = RadioConfig {
            area: (1_000.0, 1_000.0),
            ..RadioConfig::default()
        };
        let mut net = RadioNetwork::new(config, nodes, RngStreams::new(99));
        let mut out = Vec::new();
        let (mut heard, mut delivered) = (0usize, 0usize);
        for k in 0..10 * n as u64 {
            let now = Instant::from_nanos(k * 100_000); // 10 per ms: 10 s
            let from = NodeId((k % n as u64) as u32);
            out.clear();
            net.broadcast_targets(now, from, &mut out);
            heard += out.len();
            for &to in &out {
                delivered += usize::from(net.send(now, from, to, 100).is_ok());
            }
        }
        let mean = heard as f64 / (10 * n) as f64;
        assert!((20.0..120.0).contains(&mean), "{mean} neighbours");
        assert_eq!(delivered, heard);
    }
}
