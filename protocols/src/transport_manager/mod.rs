//! The seed's multi-transport manager: a transport that holds several
//! (BitChat/BLE mesh, BetaNet/HTX, QUIC, a WebSocket-like relay, raw
//! datagrams) and picks one per message.
//!
//! # Tour
//!
//! - this file: [`TransportManager`], its notes ([`TmNote`]) and counters
//!   ([`TmStats`]), and the one-byte tag that says which inner transport a
//!   datagram belongs to;
//! - [`policy`]: the seed's selection rules as data ([`Policy`]), how
//!   their conflicts are resolved, and simpler policies to compare;
//! - [`route`]: direct → mesh → server reachability, and the candidate
//!   order (failover order) for a message;
//! - [`fragment`]: the manager's frames (data fragments with the seed's id,
//!   sequence, total and CRC-32; acknowledgements) and reassembly;
//! - [`qos`]: the seed's four priority queues;
//! - [`relay`]: the WebSocket-like relay through a server node;
//! - [`mesh`]: the BLE mesh carrying bytes;
//! - [`config`]: the parameters, [`TransportManagerConfig`].
//!
//! # The model
//!
//! - **A message's life.** [`TransportManager::send`] (or a
//!   [`TransportCommand::Send`], at normal priority) queues the message at
//!   its priority; a full queue drops it ([`TmNote::QueueDropped`]). While
//!   fewer than `max_in_flight` messages await acknowledgement, the oldest
//!   message of the highest priority leaves: the policy ranks the
//!   transports this node holds for its situation (recipient's device
//!   type, size, battery, the path's quality, priority), the routing table
//!   keeps those that reach the peer in the order to try them, and the
//!   first is chosen ([`TmNote::Chosen`]; none: [`TmNote::NoRoute`]).
//! - **Fragmentation.** The message is cut into data frames no larger
//!   than the chosen transport's MTU (raw: `raw_mtu`; HTX: a frame's
//!   capacity; QUIC: `quic_mtu`; mesh: what one BLE packet carries;
//!   relay: `relay_mtu`), each handed to that transport as one message.
//!   The receiver reassembles (giving up after `reassembly_timeout`,
//!   [`TmNote::ReassemblyTimedOut`]), hands the message up once per
//!   sender and id, and acknowledges it over the transport it came by.
//! - **Failover.** A message not acknowledged within the transport's ack
//!   timeout is sent again, whole, over the next candidate
//!   ([`TmNote::Failover`]), at most `max_attempts` transports in all
//!   ([`TmNote::GaveUp`]); the transport that failed goes last for that
//!   peer for `route_timeout`.
//! - **Network quality.** Per peer, from the manager's own
//!   acknowledgements: a smoothed RTT (1/8 gain, from the attempt that
//!   was acknowledged) and a smoothed loss rate (1/8 gain: an ack counts
//!   0, an ack timeout 1000 ‰), classified by the policy's thresholds;
//!   unknown (the rule silent) until the first sample, or fixed by
//!   [`TransportManagerConfig::quality`]. Measuring end to end over every
//!   transport alike, rather than reading HTX's or QUIC's own RTT, keeps
//!   the estimate comparable across transports, the mesh and the relay
//!   included.
//! - **Battery.** [`Protocol::handle_battery`] sets the band the policy
//!   reads, and is passed to the mesh (its power profile).
//!
//! # Wire
//!
//! Every datagram this manager sends starts with a tag naming the inner
//! transport whose bytes follow, so that one transport's bytes are never
//! handed to another; a datagram with an unknown tag, or the tag of a
//! transport this node does not hold, is dropped as
//! [`DropCause::Malformed`].
//!
//! | tag          | transport |
//! |--------------|-----------|
//! | `0x42` (`B`) | BitChat (BLE mesh packets) |
//! | `0x48` (`H`) | BetaNet (HTX frames) |
//! | `0x51` (`Q`) | QUIC packets |
//! | `0x57` (`W`) | WebSocket relay frames ([`relay`]) |
//! | `0x52` (`R`) | raw: the manager frame itself |
//!
//! Inside each transport's messages travel the manager's frames
//! ([`fragment`]: 18 bytes of header per fragment, 10-byte acks).
//!
//! # Departures
//!
//! - The seed's rules are combined by a precedence this module chose
//!   ([`policy`] explains it); thresholds for network quality are ours.
//! - The relay server comes last among the candidates wherever a policy
//!   ranks WebSocket: the seed's routing falls back to the server only when
//!   no direct or mesh route exists.
//! - A full emergency queue refuses like any other ([`qos`]).
//! - Failover is driven by the manager's end-to-end acknowledgements, not
//!   by the inner transports' notes, so that it works alike over all of
//!   them (a closed connection shows as a missing acknowledgement).
//! - Fog nodes (the seed's fourth device type) have no row in its
//!   selection table, so none here.
//!
//! # Example
//!
//! ```
//! use protocols::transport::TransportCommand;
//! use protocols::transport_manager::{TmNote, TransportKind, TransportManager, TransportManagerConfig};
//! use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
//! use sim_core::{Instant, NodeId, Output, Protocol};
//!
//! let config = TransportManagerConfig { mesh: None, ..TransportManagerConfig::default() };
//! let mut a = TransportManager::new(NodeId(0), config, ChaCha8Rng::seed_from_u64(1));
//! a.handle_command(Instant::ZERO, TransportCommand::Send { to: NodeId(1), bytes: vec![0; 4000] });
//! let chosen = std::iter::from_fn(|| a.poll_output()).find_map(|o| match o {
//!     Output::Event(protocols::transport::TransportEvent::Note(TmNote::Chosen { kind, .. })) => Some(kind),
//!     _ => None,
//! });
//! // A mobile phone at full battery, no estimate yet, 4 kB: BetaNet.
//! assert_eq!(chosen, Some(TransportKind::BetaNet));
//! ```

pub mod config;
pub mod fragment;
pub mod mesh;
pub mod policy;
pub mod qos;
pub mod relay;
pub mod route;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rand::{RngCore, SeedableRng};
use sim_core::{
    BatteryLevel, Datagram, DropCause, Duration, Instant, NodeId, Output, Protocol, SimRng,
};

pub use config::TransportManagerConfig;
pub use policy::{DeviceType, Policy, PolicyChoice, Quality, Situation, TransportKind};
pub use qos::{Priority, QueueSizes};
pub use route::Route;

use crate::ble_mesh::BleEvent;
use crate::htx::{Htx, HtxNote};
use crate::quic::{Quic, QuicNote};
use crate::transport::{Raw, Transport, TransportCommand, TransportEvent};
use fragment::{Frame, Incomplete, Progress, Reassemblies};
use mesh::Mesh;
use qos::Queues;
use relay::{Relay, RelayNote};
use route::Routes;

/// What the manager reports besides messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TmNote {
    /// Attempt `attempt` (0: the first choice) of message `msg` left over
    /// `kind`, in `fragments` frames.
    Chosen {
        /// The message's id (per sender).
        msg: u64,
        /// The peer.
        to: NodeId,
        /// The transport.
        kind: TransportKind,
        /// The route it takes.
        route: Route,
        /// 0 for the first choice, then one per failover.
        attempt: u8,
        /// Frames it was cut into.
        fragments: u16,
        /// The message's length.
        len: usize,
    },
    /// Message `msg` was not acknowledged over `failed`; it goes over
    /// `next`.
    Failover {
        /// The message's id.
        msg: u64,
        /// The peer.
        to: NodeId,
        /// The transport that failed.
        failed: TransportKind,
        /// The one tried next.
        next: TransportKind,
    },
    /// The peer acknowledged message `msg`.
    Delivered {
        /// The message's id.
        msg: u64,
        /// The peer.
        to: NodeId,
        /// The transport of the attempt acknowledged.
        kind: TransportKind,
        /// Transports tried.
        attempts: u8,
        /// From the first choice to the acknowledgement.
        latency: Duration,
    },
    /// Message `msg` was not acknowledged over any of `attempts`
    /// transports; it is given up.
    GaveUp {
        /// The message's id.
        msg: u64,
        /// The peer.
        to: NodeId,
        /// Transports tried.
        attempts: u8,
    },
    /// No transport this node holds reaches `to` (or the policy allows
    /// none): message `msg` is dropped.
    NoRoute {
        /// The message's id.
        msg: u64,
        /// The peer.
        to: NodeId,
        /// The message's length.
        len: usize,
    },
    /// A message for `to` found its priority's queue full and was dropped.
    QueueDropped {
        /// The peer.
        to: NodeId,
        /// Its priority.
        priority: Priority,
        /// Its length.
        len: usize,
    },
    /// Message `msg` from `from` arrived whole over `kind` and was handed
    /// up.
    Arrived {
        /// The sender.
        from: NodeId,
        /// The message's id.
        msg: u64,
        /// The transport.
        kind: TransportKind,
        /// Frames it came in.
        fragments: u16,
    },
    /// A message from `from` missed fragments for `reassembly_timeout`.
    ReassemblyTimedOut {
        /// The sender.
        from: NodeId,
        /// The message's id.
        msg: u64,
        /// Fragments that arrived.
        received: u16,
        /// Fragments it has.
        total: u16,
    },
    /// An HTX note.
    Htx(HtxNote),
    /// A QUIC note.
    Quic(QuicNote),
    /// A BLE mesh event.
    Mesh(BleEvent),
    /// A relay note.
    Relay(RelayNote),
}

/// Counters, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TmStats {
    /// Messages that left the queues.
    pub started: u64,
    /// Messages acknowledged.
    pub delivered: u64,
    /// Failovers.
    pub failovers: u64,
    /// Messages given up after their attempts.
    pub gave_up: u64,
    /// Messages no transport could take.
    pub no_route: u64,
    /// Messages dropped at full queues.
    pub queue_dropped: u64,
    /// Reassemblies given up.
    pub reassembly_timeouts: u64,
}

/// A message waiting in a queue.
#[derive(Clone, Debug)]
struct Queued {
    to: NodeId,
    bytes: Vec<u8>,
}

/// A message sent and not yet acknowledged.
#[derive(Clone, Debug)]
struct InFlight {
    to: NodeId,
    bytes: Vec<u8>,
    priority: Priority,
    candidates: Vec<TransportKind>,
    attempt: u8,
    first_sent: Instant,
    sent_at: Instant,
    deadline: Instant,
}

/// A peer's path estimate.
#[derive(Clone, Copy, Debug, Default)]
struct Path {
    srtt: Option<Duration>,
    loss_permille: u32,
}

impl Path {
    fn sample(&mut self, rtt: Option<Duration>) {
        let lost = if rtt.is_some() { 0 } else { 1000 };
        self.loss_permille = (self.loss_permille * 7 + lost) / 8;
        if let Some(rtt) = rtt {
            self.srtt = Some(match self.srtt {
                None => rtt,
                Some(s) => Duration::from_nanos((s.as_nanos() * 7 + rtt.as_nanos()) / 8),
            });
        }
    }
}

const TAGS: [(TransportKind, u8); 5] = [
    (TransportKind::BitChat, b'B'),
    (TransportKind::BetaNet, b'H'),
    (TransportKind::Quic, b'Q'),
    (TransportKind::WebSocket, b'W'),
    (TransportKind::Raw, b'R'),
];

fn tag_of(kind: TransportKind) -> u8 {
    TAGS.iter().find(|(k, _)| *k == kind).map_or(0, |&(_, t)| t)
}

fn kind_of(tag: u8) -> Option<TransportKind> {
    TAGS.iter().find(|(_, t)| *t == tag).map(|&(k, _)| k)
}

/// The inner transport a datagram of a manager belongs to, from its tag
/// (none for bytes no manager sent): what a network model needs to put
/// BitChat's packets on the radio and the rest on IP.
pub fn transport_of(datagram: &[u8]) -> Option<TransportKind> {
    datagram.first().copied().and_then(kind_of)
}

/// One node's transport manager.
///
/// # Methods
///
/// - Inputs, from [`Protocol`]: [`handle_command`](Protocol::handle_command)
///   sends at normal priority, [`send`](TransportManager::send) at any;
///   [`handle_datagram`](Protocol::handle_datagram) hands a tagged datagram
///   to its transport; [`handle_timeout`](Protocol::handle_timeout) runs
///   the inner transports' timers, ack timeouts and reassembly timeouts;
///   [`handle_battery`](Protocol::handle_battery) sets the battery band.
/// - Getters: [`id`](TransportManager::id),
///   [`config`](TransportManager::config),
///   [`policy`](TransportManager::policy),
///   [`stats`](TransportManager::stats),
///   [`queued`](TransportManager::queued),
///   [`quality`](TransportManager::quality),
///   [`candidates`](TransportManager::candidates),
///   [`mesh`](TransportManager::mesh).
#[derive(Debug)]
pub struct TransportManager {
    id: NodeId,
    config: TransportManagerConfig,
    policy: Policy,
    battery: BatteryLevel,
    raw: Option<Raw>,
    htx: Option<Htx>,
    quic: Option<Quic>,
    mesh: Option<Mesh>,
    relay: Option<Relay>,
    routes: Routes,
    queues: Queues<Queued>,
    in_flight: BTreeMap<u64, InFlight>,
    next_msg: u64,
    reassemblies: Reassemblies,
    /// Messages handed up, by sender and id, with when.
    delivered: BTreeMap<(NodeId, u64), Instant>,
    paths: BTreeMap<NodeId, Path>,
    /// Every node's device type, by id, shared by the nodes of a run.
    directory: Option<Arc<[DeviceType]>>,
    stats: TmStats,
    out: VecDeque<Output<TransportEvent<TmNote>>>,
}

impl Transport for TransportManager {
    type Note = TmNote;
}

impl TransportManager {
    /// Node `id`'s manager, at full battery. `rng` seeds each inner
    /// transport's own stream (HTX, QUIC, mesh, in that order, whether
    /// held or not) and the first message id.
    pub fn new(id: NodeId, config: TransportManagerConfig, mut rng: SimRng) -> Self {
        let mut child = || SimRng::seed_from_u64(rng.next_u64());
        let (htx_rng, quic_rng, mesh_rng) = (child(), child(), child());
        let next_msg = u64::from(rng.next_u32()) << 16;
        let relay = (config.relay_server.is_some() || config.serve_relay)
            .then(|| Relay::new(id, config.relay_server, config.serve_relay));
        TransportManager {
            id,
            policy: config.policy.policy(),
            battery: BatteryLevel::High,
            raw: config.raw.then(Raw::default),
            htx: config.htx.map(|c| Htx::new(id, c, htx_rng)),
            quic: config.quic.map(|c| Quic::new(id, c, quic_rng)),
            mesh: config.mesh.map(|c| Mesh::new(id, c, mesh_rng)),
            relay,
            routes: Routes::new(
                config.direct_peers.clone(),
                config.relay_server,
                config.route_timeout,
            ),
            queues: Queues::new(config.queues),
            in_flight: BTreeMap::new(),
            next_msg,
            reassemblies: Reassemblies::new(config.max_reassemblies, config.reassembly_timeout),
            delivered: BTreeMap::new(),
            paths: BTreeMap::new(),
            directory: None,
            stats: TmStats::default(),
            out: VecDeque::new(),
            config,
        }
    }

    /// Looks up peers' device types in `directory` (indexed by node id)
    /// where [`TransportManagerConfig::peer_devices`] does not list them: a
    /// run's device classes, held once for all its nodes.
    pub fn with_directory(mut self, directory: Arc<[DeviceType]>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &TransportManagerConfig {
        &self.config
    }

    /// The policy it selects by.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Its counters.
    pub fn stats(&self) -> TmStats {
        self.stats
    }

    /// Messages waiting at `priority`.
    pub fn queued(&self, priority: Priority) -> usize {
        self.queues.len(priority)
    }

    /// The mesh transport, if held.
    pub fn mesh(&self) -> Option<&Mesh> {
        self.mesh.as_ref()
    }

    /// The quality of the path to `peer`: the configured one, or the
    /// estimate once there is one.
    pub fn quality(&self, peer: NodeId) -> Option<Quality> {
        self.config.quality.or_else(|| {
            let path = self.paths.get(&peer)?;
            let srtt = path.srtt.unwrap_or(Duration::ZERO);
            Some(self.policy.quality.classify(srtt, path.loss_permille))
        })
    }

    /// The transports a message of `len` bytes at `priority` to `to` would
    /// try now, in order.
    pub fn candidates(&self, to: NodeId, len: usize, priority: Priority) -> Vec<TransportKind> {
        let situation = Situation {
            device: self.device_of(to),
            size: len,
            battery: self.battery,
            quality: self.quality(to),
            priority,
        };
        let ranked: Vec<TransportKind> = self
            .policy
            .rank(&situation)
            .into_iter()
            .filter(|&k| self.holds(k))
            .collect();
        let neighbour = self
            .mesh
            .as_ref()
            .is_some_and(|m| m.ble().neighbours().contains(to));
        self.routes.candidates(to, &ranked, neighbour)
    }

    /// Queues `bytes` for `to` at `priority`. Like the `handle_*` calls, it
    /// is followed by draining `poll_output`.
    pub fn send(&mut self, now: Instant, to: NodeId, bytes: Vec<u8>, priority: Priority) {
        self.forget(now);
        let len = bytes.len();
        if self.queues.push(priority, Queued { to, bytes }).is_err() {
            self.stats.queue_dropped += 1;
            self.note(TmNote::QueueDropped { to, priority, len });
        }
        self.settle(now);
    }

    /// `peer`'s device type: configured, from the directory, or else taken
    /// to be this node's.
    fn device_of(&self, peer: NodeId) -> DeviceType {
        let listed = self.config.peer_devices.get(&peer).copied();
        listed
            .or_else(|| self.directory.as_ref()?.get(peer.index()).copied())
            .unwrap_or(self.config.device)
    }

    fn holds(&self, kind: TransportKind) -> bool {
        match kind {
            TransportKind::BitChat => self.mesh.is_some(),
            TransportKind::BetaNet => self.htx.is_some(),
            TransportKind::Quic => self.quic.is_some(),
            TransportKind::WebSocket => self.relay.is_some() && self.config.relay_server.is_some(),
            TransportKind::Raw => self.raw.is_some(),
        }
    }

    fn mtu(&self, kind: TransportKind) -> usize {
        match kind {
            TransportKind::BitChat => self.mesh.as_ref().map_or(0, Mesh::mtu),
            TransportKind::BetaNet => self.htx.as_ref().map_or(0, |h| h.config().data_capacity()),
            TransportKind::Quic => self.config.quic_mtu,
            TransportKind::WebSocket => self.config.relay_mtu,
            TransportKind::Raw => self.config.raw_mtu,
        }
    }

    fn ack_timeout(&self, kind: TransportKind) -> Duration {
        match kind {
            TransportKind::BitChat => self.config.mesh_ack_timeout,
            _ => self.config.ack_timeout,
        }
    }

    fn note(&mut self, note: TmNote) {
        self.out
            .push_back(Output::Event(TransportEvent::Note(note)));
    }

    /// Forgets routes, failures and delivered ids older than the route
    /// timeout.
    fn forget(&mut self, now: Instant) {
        self.routes.expire(now);
        let keep = self.config.route_timeout;
        self.delivered
            .retain(|_, at| now.saturating_duration_since(*at) < keep);
    }

    // ----- the inner transports -----

    /// Hands `bytes` to the transport of `kind` for `to`.
    fn inner_send(
        &mut self,
        now: Instant,
        kind: TransportKind,
        to: NodeId,
        bytes: Vec<u8>,
        priority: Priority,
    ) {
        let cmd = TransportCommand::Send { to, bytes };
        match kind {
            TransportKind::BitChat => self.mesh.as_mut().map(|t| t.handle_command(now, cmd)),
            TransportKind::BetaNet => self.htx.as_mut().map(|t| t.handle_command(now, cmd)),
            TransportKind::Quic => self.quic.as_mut().map(|t| {
                let TransportCommand::Send { to, bytes } = cmd;
                t.send(now, to, bytes, priority.quic())
            }),
            TransportKind::WebSocket => self.relay.as_mut().map(|t| t.handle_command(now, cmd)),
            TransportKind::Raw => self.raw.as_mut().map(|t| t.handle_command(now, cmd)),
        };
    }

    /// Hands a datagram to the transport of `kind`; false if not held.
    fn inner_datagram(
        &mut self,
        now: Instant,
        kind: TransportKind,
        from: NodeId,
        bytes: &[u8],
    ) -> bool {
        match kind {
            TransportKind::BitChat => self
                .mesh
                .as_mut()
                .map(|t| t.handle_datagram(now, from, bytes)),
            TransportKind::BetaNet => self
                .htx
                .as_mut()
                .map(|t| t.handle_datagram(now, from, bytes)),
            TransportKind::Quic => self
                .quic
                .as_mut()
                .map(|t| t.handle_datagram(now, from, bytes)),
            TransportKind::WebSocket => self
                .relay
                .as_mut()
                .map(|t| t.handle_datagram(now, from, bytes)),
            TransportKind::Raw => self
                .raw
                .as_mut()
                .map(|t| t.handle_datagram(now, from, bytes)),
        }
        .is_some()
    }

    fn inner_timeout(&self, kind: TransportKind) -> Option<Instant> {
        match kind {
            TransportKind::BitChat => self.mesh.as_ref()?.poll_timeout(),
            TransportKind::BetaNet => self.htx.as_ref()?.poll_timeout(),
            TransportKind::Quic => self.quic.as_ref()?.poll_timeout(),
            TransportKind::WebSocket => self.relay.as_ref()?.poll_timeout(),
            TransportKind::Raw => self.raw.as_ref()?.poll_timeout(),
        }
    }

    fn inner_handle_timeout(&mut self, now: Instant, kind: TransportKind) {
        match kind {
            TransportKind::BitChat => self.mesh.as_mut().map(|t| t.handle_timeout(now)),
            TransportKind::BetaNet => self.htx.as_mut().map(|t| t.handle_timeout(now)),
            TransportKind::Quic => self.quic.as_mut().map(|t| t.handle_timeout(now)),
            TransportKind::WebSocket => self.relay.as_mut().map(|t| t.handle_timeout(now)),
            TransportKind::Raw => self.raw.as_mut().map(|t| t.handle_timeout(now)),
        };
    }

    fn inner_poll(&mut self, kind: TransportKind) -> Option<Output<TransportEvent<TmNote>>> {
        match kind {
            TransportKind::BitChat => {
                let o = self.mesh.as_mut()?.poll_output()?;
                Some(o.map_event(|e| e.map_note(TmNote::Mesh)))
            }
            TransportKind::BetaNet => {
                let o = self.htx.as_mut()?.poll_output()?;
                Some(o.map_event(|e| e.map_note(TmNote::Htx)))
            }
            TransportKind::Quic => {
                let o = self.quic.as_mut()?.poll_output()?;
                Some(o.map_event(|e| e.map_note(TmNote::Quic)))
            }
            TransportKind::WebSocket => {
                let o = self.relay.as_mut()?.poll_output()?;
                Some(o.map_event(|e| e.map_note(TmNote::Relay)))
            }
            TransportKind::Raw => {
                let o = self.raw.as_mut()?.poll_output()?;
                Some(o.map_event(|e| e.map_note(|n| match n {})))
            }
        }
    }

    /// Drains the inner transports until they are quiet: their datagrams
    /// leave tagged, their messages are read as manager frames (which may
    /// make them send acknowledgements), their notes and drops pass up.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            for kind in TransportKind::ALL {
                while let Some(output) = self.inner_poll(kind) {
                    moved = true;
                    match output {
                        Output::Transmit { to, bytes } => {
                            let tagged = Datagram::zeroed(bytes.len() + 1, |b| {
                                b[0] = tag_of(kind);
                                b[1..].copy_from_slice(&bytes);
                            });
                            self.out.push_back(Output::Transmit { to, bytes: tagged });
                        }
                        Output::Event(TransportEvent::Received { from, bytes }) => {
                            self.on_frame(now, kind, from, &bytes)
                        }
                        other => self.out.push_back(other),
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Pumps, and starts queued messages while the window allows, until
    /// nothing moves.
    fn settle(&mut self, now: Instant) {
        loop {
            self.pump(now);
            if !self.start_queued(now) {
                break;
            }
        }
    }

    // ----- sending -----

    /// Starts queued messages while fewer than `max_in_flight` are in
    /// flight; whether it started (or dropped) any.
    fn start_queued(&mut self, now: Instant) -> bool {
        let mut any = false;
        while self.in_flight.len() < self.config.max_in_flight {
            let Some((priority, Queued { to, bytes })) = self.queues.pop() else {
                break;
            };
            any = true;
            let msg = self.next_msg;
            self.next_msg = self.next_msg.wrapping_add(1);
            self.stats.started += 1;
            let candidates = self.candidates(to, bytes.len(), priority);
            if candidates.is_empty() {
                self.stats.no_route += 1;
                let len = bytes.len();
                self.note(TmNote::NoRoute { msg, to, len });
                continue;
            }
            self.in_flight.insert(
                msg,
                InFlight {
                    to,
                    bytes,
                    priority,
                    candidates,
                    attempt: 0,
                    first_sent: now,
                    sent_at: now,
                    deadline: now,
                },
            );
            self.attempt(now, msg);
        }
        any
    }

    /// Sends message `msg` over its current candidate.
    fn attempt(&mut self, now: Instant, msg: u64) {
        let Some(f) = self.in_flight.get(&msg) else {
            return;
        };
        let (to, attempt, priority) = (f.to, f.attempt, f.priority);
        let kind = f.candidates[usize::from(attempt)];
        let mtu = self.mtu(kind);
        let Some(frames) = fragment::split(msg, attempt, &f.bytes, mtu) else {
            // More fragments than a message can have over this transport.
            self.fail(now, msg, false);
            return;
        };
        let (len, fragments) = (f.bytes.len(), frames.len() as u16);
        let deadline = now.saturating_add(self.ack_timeout(kind));
        if let Some(f) = self.in_flight.get_mut(&msg) {
            f.sent_at = now;
            f.deadline = deadline;
        }
        self.note(TmNote::Chosen {
            msg,
            to,
            kind,
            route: kind.route(),
            attempt,
            fragments,
            len,
        });
        for frame in frames {
            self.inner_send(now, kind, to, frame, priority);
        }
    }

    /// Message `msg`'s current attempt failed (`unacked`: for want of an
    /// acknowledgement): fail over, or give up.
    fn fail(&mut self, now: Instant, msg: u64, unacked: bool) {
        let Some(f) = self.in_flight.get_mut(&msg) else {
            return;
        };
        let (to, failed) = (f.to, f.candidates[usize::from(f.attempt)]);
        let next = f.attempt + 1;
        let limit = usize::from(self.config.max_attempts).min(f.candidates.len());
        let next_kind = (usize::from(next) < limit).then(|| f.candidates[usize::from(next)]);
        if next_kind.is_some() {
            f.attempt = next;
        }
        if unacked {
            self.routes.failed(now, to, failed);
            self.paths.entry(to).or_default().sample(None);
        }
        match next_kind {
            Some(next_kind) => {
                self.stats.failovers += 1;
                self.note(TmNote::Failover {
                    msg,
                    to,
                    failed,
                    next: next_kind,
                });
                self.attempt(now, msg);
            }
            None => {
                self.in_flight.remove(&msg);
                self.stats.gave_up += 1;
                self.note(TmNote::GaveUp {
                    msg,
                    to,
                    attempts: next,
                });
            }
        }
    }

    // ----- receiving -----

    fn on_frame(&mut self, now: Instant, kind: TransportKind, from: NodeId, bytes: &[u8]) {
        let frame = match Frame::parse(bytes) {
            Ok(frame) => frame,
            Err(_) => {
                let len = bytes.len();
                let cause = DropCause::Malformed;
                self.out.push_back(Output::Drop { from, len, cause });
                return;
            }
        };
        match frame {
            Frame::Ack { msg, attempt } => self.on_ack(now, from, msg, attempt),
            Frame::Data(fragment) => {
                self.routes.heard(now, from, kind.route());
                let (msg, attempt) = (fragment.msg, fragment.attempt);
                let ack = Frame::Ack { msg, attempt }.to_bytes();
                if self.delivered.contains_key(&(from, msg)) {
                    self.inner_send(now, kind, from, ack, Priority::High);
                    return;
                }
                match self.reassemblies.add(now, from, &fragment) {
                    Progress::Pending => {}
                    Progress::Complete(message) => {
                        self.delivered.insert((from, msg), now);
                        self.inner_send(now, kind, from, ack, Priority::High);
                        self.out.push_back(Output::Event(TransportEvent::Received {
                            from,
                            bytes: message,
                        }));
                        self.note(TmNote::Arrived {
                            from,
                            msg,
                            kind,
                            fragments: fragment.total,
                        });
                    }
                    Progress::Inconsistent => self.out.push_back(Output::Drop {
                        from,
                        len: bytes.len(),
                        cause: DropCause::Malformed,
                    }),
                    Progress::Full => self.out.push_back(Output::Drop {
                        from,
                        len: bytes.len(),
                        cause: DropCause::QueueFull,
                    }),
                }
            }
        }
    }

    fn on_ack(&mut self, now: Instant, from: NodeId, msg: u64, attempt: u8) {
        if self.in_flight.get(&msg).is_none_or(|f| f.to != from) {
            return;
        }
        let Some(f) = self.in_flight.remove(&msg) else {
            return;
        };
        // Karn: only the attempt still current times the path.
        let rtt = (attempt == f.attempt).then(|| now.saturating_duration_since(f.sent_at));
        if rtt.is_some() {
            self.paths.entry(from).or_default().sample(rtt);
        }
        self.stats.delivered += 1;
        self.note(TmNote::Delivered {
            msg,
            to: from,
            kind: f.candidates[usize::from(attempt.min(f.attempt))],
            attempts: f.attempt + 1,
            latency: now.saturating_duration_since(f.first_sent),
        });
    }
}

impl Protocol for TransportManager {
    type Command = TransportCommand;
    type Event = TransportEvent<TmNote>;

    /// Hands a tagged datagram to its transport; anything else is dropped
    /// as malformed.
    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.forget(now);
        let held = match bytes.split_first() {
            Some((&tag, rest)) => {
                kind_of(tag).is_some_and(|kind| self.inner_datagram(now, kind, from, rest))
            }
            None => false,
        };
        if !held {
            let (len, cause) = (bytes.len(), DropCause::Malformed);
            self.out.push_back(Output::Drop { from, len, cause });
        }
        self.settle(now);
    }

    /// Sends at [`Priority::Normal`].
    fn handle_command(
        &mut self,
        now: Instant,
        TransportCommand::Send { to, bytes }: TransportCommand,
    ) {
        self.send(now, to, bytes, Priority::Normal);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.forget(now);
        for kind in TransportKind::ALL {
            if self.inner_timeout(kind).is_some_and(|at| at <= now) {
                self.inner_handle_timeout(now, kind);
            }
        }
        self.pump(now);
        let due: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(&msg, _)| msg)
            .collect();
        for msg in due {
            self.fail(now, msg, true);
        }
        let mut incomplete = Vec::new();
        self.reassemblies.expire(now, &mut incomplete);
        for Incomplete {
            from,
            msg,
            received,
            total,
        } in incomplete
        {
            self.stats.reassembly_timeouts += 1;
            self.note(TmNote::ReassemblyTimedOut {
                from,
                msg,
                received,
                total,
            });
        }
        self.settle(now);
    }

    fn poll_output(&mut self) -> Option<Output<Self::Event>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        TransportKind::ALL
            .into_iter()
            .filter_map(|k| self.inner_timeout(k))
            .chain(self.in_flight.values().map(|f| f.deadline))
            .chain(self.reassemblies.next_deadline())
            .min()
    }

    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        self.battery = level;
        if let Some(mesh) = &mut self.mesh {
            mesh.handle_battery(now, level);
        }
        self.settle(now);
    }
}
