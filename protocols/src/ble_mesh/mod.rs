//! BLE mesh: BitChat's Bluetooth Low Energy mesh (the seed's "BitChat
//! transport"): hop-limited flooding with jittered, cancellable relays,
//! fragmentation, directed messages with hop-by-hop acknowledgements,
//! store-and-forward, duty-cycled discovery and a battery-aware policy.
//!
//! # Tour
//!
//! - [`packet`]: BitChat's binary packet (version, type, TTL, timestamp,
//!   flags, sender and recipient ids, payload, signature), its
//!   [`MessageType`]s, the 8-byte [`PeerId`], and the key duplicates are
//!   recognised by;
//! - [`message`]: what a message packet's payload holds (an id, the origin's
//!   TTL, the content) and what an acknowledgement's does;
//! - [`fragment`]: BitChat's fragment header, splitting, and the bounded
//!   reassembly table;
//! - `relay`: BitChat's relay decision (TTL, dense-neighbourhood cap,
//!   degree-scaled jitter) and the relays waiting on their jitter;
//! - `neighbours`: the neighbour table, fed by announces;
//! - `ack`: unicasts waiting for the next hop's acknowledgement;
//! - `outbox`: store-and-forward of directed messages;
//! - `config`: [`BleMeshConfig`] and the per-battery-level
//!   [`PowerProfile`]s;
//! - this file: the machine, [`BleMesh`], its [`BleCommand`]s and
//!   [`BleEvent`]s.
//!
//! # The model
//!
//! **Link layer.** A node sends to every radio in range with
//! [`NodeId::BROADCAST`] (the kernel's radio model hands each node in range a
//! copy) and to one neighbour by its [`NodeId`]. Data reaches a node whether
//! or not it scans: BLE exchanges data over connections, and only discovery
//! depends on scanning.
//!
//! **Discovery and duty cycle.** Every node broadcasts an announce each
//! `announce_interval` of its current [`PowerProfile`], from a random phase.
//! A node scans for `scan_window` at the start of every `scan_interval`
//! (from a random phase of its own) and hears an announce only if it
//! arrives while it scans; a heard announce makes or refreshes a neighbour,
//! and a neighbour unheard for [`BleMeshConfig::neighbour_timeout`] is
//! forgotten. Shorter windows and longer intervals save energy and cost
//! discovery latency and fresh neighbour tables.
//!
//! **Flooding.** A broadcast message is sent with the configured TTL. A
//! node that receives a packet for the first time (its [`Repr::key`] not in
//! the duplicate cache, which holds about 1,000 keys for 5 min) delivers it
//! if it is for everyone or for this node, and schedules a relay if it is
//! not only for this node: TTL lowered by one (capped first in a dense
//! neighbourhood), after a jitter that grows with the degree. Another copy
//! arriving before the jitter runs out cancels the relay. A broadcast with
//! TTL `t` thus reaches exactly `t` hops on a line, and a node relays each
//! packet at most once while it remembers it.
//!
//! **Fragments.** A message whose packet would exceed the MTU is cut into
//! fragments, each a packet of its own that is relayed like any other;
//! recipients reassemble (at most 128 at a time, 30 s each, 1 MiB each).
//!
//! **Directed messages.** A message sent to one node carries its recipient
//! id; only the recipient delivers it. A node with the recipient among its
//! neighbours — the origin, or a relay — unicasts the packet to it and
//! waits for a hop-by-hop acknowledgement, sending again on a timeout up to
//! a limit; otherwise the packet is flooded. Every directed message also
//! waits in the origin's outbox until the recipient acknowledges it: when
//! the recipient's announce is heard, the outbox hands the message over.
//!
//! **Battery.** [`Protocol::handle_battery`] switches the [`PowerProfile`]:
//! at lower levels the node announces less often, scans less (not at all
//! when critical) and relays less (not at all when critical).
//!
//! # Departures from BitChat, and why
//!
//! - No Noise sessions, signatures or compression: the packet format reads
//!   and writes the signature and the compression flag, but nodes neither
//!   sign nor compress, and a compressed packet is dropped as malformed.
//!   Nor does BitChat's padding to block sizes appear: sizes are the
//!   unpadded ones.
//! - Announces carry no nickname or keys (an empty payload) and TTL 1:
//!   they stand for neighbour discovery only, while BitChat floods them to
//!   build a multi-hop peer list.
//! - A sender id is the node's index ([`PeerId::of`]), not a key
//!   fingerprint; a fragment id is the message id, not 8 random bytes.
//! - A message payload is an 8-byte id, the origin's TTL and the content,
//!   not a `BitchatMessage`; the TTL lets a receiver count hops:
//!   `hops = origin TTL - TTL on arrival + 1`, exact unless a dense relay
//!   capped the TTL, after which it overstates the hops by what the cap
//!   removed.
//! - Relay jitter is interpolated linearly between BitChat's sparse and
//!   dense ranges instead of stepping through its four, and sparse
//!   neighbourhoods do not cap a message's TTL at 6 as BitChat does, so
//!   that TTL `t` means `t` hops; directed packets and fragments follow the
//!   same relay rule as messages.
//! - Acknowledgements are hop by hop (standing for BLE's GATT write with
//!   response); BitChat's delivery ACK is end to end.
//! - Only the origin keeps an outbox (BitChat's relays also cache messages
//!   for their favourite peers), and it keeps every directed message until
//!   acknowledged, since without end-to-end acknowledgements the origin
//!   cannot tell whether a flood reached the recipient; a message the flood
//!   did deliver is handed over again later and counted as a duplicate.
//!
//! # Example: a broadcast crossing one relay
//!
//! ```
//! use protocols::ble_mesh::{BleCommand, BleEvent, BleMesh, BleMeshConfig};
//! use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
//! use sim_core::{Duration, Instant, NodeId, Output, Protocol};
//!
//! let mut config = BleMeshConfig { ttl: 2, ..BleMeshConfig::default() };
//! config.high.announce_interval = Duration::ZERO; // no announces here
//! let node = |i| BleMesh::new(NodeId(i), config, ChaCha8Rng::seed_from_u64(i.into()));
//! let (mut origin, mut relay) = (node(0), node(1));
//! let now = Instant::ZERO;
//!
//! origin.handle_command(now, BleCommand::Broadcast { size: 20 });
//! let Some(Output::Event(BleEvent::Sent { msg, .. })) = origin.poll_output() else { panic!() };
//! let Some(Output::Transmit { to: NodeId::BROADCAST, bytes }) = origin.poll_output() else {
//!     panic!()
//! };
//!
//! relay.handle_datagram(now, NodeId(0), &bytes);
//! let delivered = BleEvent::Delivered { msg, hops: 1, from: NodeId(0) };
//! assert_eq!(relay.poll_output(), Some(Output::Event(delivered)));
//! // TTL 2 allows one more hop: the relay waits out its jitter first.
//! assert!(relay.poll_output().is_none());
//! let due = relay.poll_timeout().expect("a relay is waiting");
//! relay.handle_timeout(due);
//! assert_eq!(relay.poll_output(), Some(Output::Event(BleEvent::Relayed { msg })));
//! assert!(matches!(
//!     relay.poll_output(),
//!     Some(Output::Transmit { to: NodeId::BROADCAST, .. })
//! ));
//! ```

mod ack;
mod config;
pub mod fragment;
pub mod message;
mod neighbours;
mod outbox;
pub mod packet;
mod relay;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use sim_core::dist::uniform_below;
use sim_core::{
    BatteryLevel, ByteSize, DropCause, Instant, NodeId, Observation, Observe, Output, Protocol,
    SimRng,
};

pub use crate::seen::SeenCache;
pub use config::{BleMeshConfig, PowerProfile};
pub use neighbours::Neighbours;
pub use packet::{MessageType, PeerId, Repr};

use ack::{AckWaits, Due};
use fragment::{Fragment, Progress, Reassemblies};
use outbox::{Outbox, Resolution};
use relay::{Pending, PendingRelays};

/// What a workload can ask of a [`BleMesh`] node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BleCommand {
    /// Originate a public message with `size` bytes of content, for every
    /// node within the TTL.
    Broadcast {
        /// The content's length in bytes.
        size: u32,
    },
    /// Originate a private message with `size` bytes of content for `to`.
    Send {
        /// The recipient.
        to: NodeId,
        /// The content's length in bytes.
        size: u32,
    },
}

/// What a [`BleMesh`] node reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BleEvent {
    /// This node originated message `msg`.
    Sent {
        /// The message's id.
        msg: u64,
        /// The deliveries expected: [`BleMeshConfig::expected_recipients`]
        /// for a broadcast, 1 for a directed message.
        expected: u32,
    },
    /// Message `msg` arrived here, for this node, for the first time.
    Delivered {
        /// The message's id.
        msg: u64,
        /// Hops its copy travelled (its last fragment's, if fragmented).
        hops: u32,
        /// The neighbour it came from (this node, for a message to itself).
        from: NodeId,
    },
    /// This node forwarded message `msg` for the first time (reported once
    /// per message, however many fragments and copies).
    Relayed {
        /// The message's id.
        msg: u64,
    },
    /// Another copy of message `msg` arrived (of a fragmented message: of
    /// its first fragment, so that each copy counts once).
    Duplicate {
        /// The message's id.
        msg: u64,
        /// The neighbour it came from.
        from: NodeId,
    },
    /// A relay of a packet of message `msg` was cancelled: another copy
    /// arrived during its jitter.
    RelayCancelled {
        /// The message's id.
        msg: u64,
    },
    /// A command asked for a message larger than
    /// [`BleMeshConfig::max_message_size`] (or than 65,535 fragments); it was
    /// not sent.
    TooLarge {
        /// The content's length asked for.
        size: u32,
    },
    /// A reassembly of message `msg` was abandoned incomplete after
    /// [`BleMeshConfig::reassembly_timeout`].
    ReassemblyTimedOut {
        /// The fragment id (the message's id).
        msg: u64,
    },
    /// A reassembly of message `msg` was discarded: evicted by a newer one
    /// when [`BleMeshConfig::max_reassemblies`] were in progress, or grown
    /// past [`BleMeshConfig::max_message_size`].
    ReassemblyDropped {
        /// The fragment id (the message's id).
        msg: u64,
    },
    /// A unicast of message `msg` to `to` was not acknowledged in time and
    /// was sent again.
    Retransmitted {
        /// The message's id.
        msg: u64,
        /// The neighbour.
        to: NodeId,
    },
    /// A unicast of message `msg` to `to` was never acknowledged, after
    /// [`BleMeshConfig::max_resends`] resends.
    ResendGaveUp {
        /// The message's id.
        msg: u64,
        /// The neighbour.
        to: NodeId,
    },
    /// The recipient `to` acknowledged every packet of directed message
    /// `msg`: it left the outbox.
    OutboxDelivered {
        /// The message's id.
        msg: u64,
        /// The recipient.
        to: NodeId,
    },
    /// Directed message `msg` waited [`BleMeshConfig::outbox_ttl`] without
    /// reaching `to`.
    OutboxExpired {
        /// The message's id.
        msg: u64,
        /// The recipient.
        to: NodeId,
    },
    /// Directed message `msg` left the outbox without reaching `to`: its
    /// hand-overs ran out, or newer messages took its place.
    OutboxAbandoned {
        /// The message's id.
        msg: u64,
        /// The recipient.
        to: NodeId,
    },
    /// `peer`'s announce was heard: it is a neighbour now.
    NeighbourUp {
        /// The neighbour.
        peer: NodeId,
    },
    /// `peer` went unheard for [`BleMeshConfig::neighbour_timeout`].
    NeighbourDown {
        /// The former neighbour.
        peer: NodeId,
    },
}

impl Observe for BleEvent {
    /// `Sent`, `Delivered`, `Relayed` and `Duplicate` are message-level
    /// facts; the rest are the mesh's own.
    fn observe(&self) -> Option<Observation> {
        match *self {
            BleEvent::Sent { msg, expected } => Some(Observation::Sent { msg, expected }),
            BleEvent::Delivered { msg, hops, .. } => Some(Observation::Delivered { msg, hops }),
            BleEvent::Relayed { msg } => Some(Observation::Relayed { msg }),
            BleEvent::Duplicate { msg, .. } => Some(Observation::Duplicate { msg }),
            _ => None,
        }
    }
}

/// The content of a message delivered here, kept for
/// [`BleMesh::take_content`] by a node built
/// [`keeping_content`](BleMesh::keeping_content): how a transport carries
/// its own bytes over the mesh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    /// The message's id.
    pub msg: u64,
    /// The node that originated it.
    pub origin: NodeId,
    /// Its content, after the message header.
    pub bytes: Vec<u8>,
}

/// One node's BLE mesh state machine.
///
/// # Methods
///
/// - Getters: [`id`](BleMesh::id), [`config`](BleMesh::config),
///   [`battery_level`](BleMesh::battery_level),
///   [`neighbours`](BleMesh::neighbours), [`seen`](BleMesh::seen).
/// - Inputs, from [`Protocol`]: [`handle_command`](Protocol::handle_command)
///   originates a message; [`handle_datagram`](Protocol::handle_datagram)
///   takes an announce, an acknowledgement or a data packet;
///   [`handle_timeout`](Protocol::handle_timeout) sends due relays,
///   resends and announces and expires neighbours, reassemblies and
///   outbox entries; [`handle_battery`](Protocol::handle_battery) switches
///   the power profile.
/// - Outputs, from [`Protocol`]: [`poll_output`](Protocol::poll_output)
///   yields events, transmits and drops in the order they arose (an event
///   before the transmit it explains); [`poll_timeout`](Protocol::poll_timeout)
///   is the earliest of the next announce, relay, resend and expiry.
///
/// Every input first does what is due at its `now`.
///
/// # Behaviour
///
/// - Message ids are `(origin node id << 32) | sequence`, the sequence
///   counting from 0 (or [`with_initial_seq`](BleMesh::with_initial_seq))
///   and wrapping after 2³² messages.
/// - The origin puts its own packets in its duplicate cache, so it neither
///   delivers nor relays them when copies come back.
/// - Bytes that are not a packet this model reads (including a compressed
///   one, a message payload shorter than its header, a malformed fragment
///   and an acknowledgement whose payload is not 8 bytes) give exactly one
///   `Output::Drop { cause: DropCause::Malformed, .. }` and nothing else; a
///   data packet with TTL 0 gives one [`DropCause::Expired`] drop.
/// - An announce heard while not scanning, and an acknowledgement for
///   another node or for nothing this node waits on, are ignored.
/// - A message to the node itself is delivered at once, with 0 hops.
/// - A node built [`keeping_content`](BleMesh::keeping_content) also keeps
///   each delivered message's content and origin until
///   [`take_content`](BleMesh::take_content) takes them; with
///   [`send_bytes`](BleMesh::send_bytes) it carries given bytes instead
///   of a size's worth of pattern.
#[derive(Clone, Debug)]
pub struct BleMesh {
    id: NodeId,
    config: BleMeshConfig,
    rng: SimRng,
    level: BatteryLevel,
    next_seq: u32,
    /// Added to the time to place this node's scans in each interval.
    scan_phase: u64,
    next_announce: Option<Instant>,
    neighbours: Neighbours,
    seen: SeenCache,
    /// The messages this node has reported relaying.
    relayed: SeenCache,
    relays: PendingRelays,
    acks: AckWaits,
    outbox: Outbox,
    reassemblies: Reassemblies,
    /// Delivered contents, kept only when `Some`.
    contents: Option<VecDeque<Content>>,
    /// The earliest deadline, kept up to date after every input.
    wakeup: Option<Instant>,
    outputs: VecDeque<Output<BleEvent>>,
}

/// What a message carries: a size's worth of [`message::content_byte`]
/// pattern, or given bytes.
#[derive(Clone, Copy, Debug)]
enum Body<'a> {
    Pattern(u32),
    Bytes(&'a [u8]),
}

/// A size as a length in memory (saturating where `usize` is narrower).
fn len_of(size: ByteSize) -> usize {
    usize::try_from(size.0).unwrap_or(usize::MAX)
}

/// Phases are drawn below this many nanoseconds (about 18 minutes), far
/// more than any scan interval.
const PHASE_RANGE: u64 = 1 << 40;

impl BleMesh {
    /// A node with address `id` at full battery, knowing no neighbours.
    /// `rng` places its first announce and its scans at random phases,
    /// draws relay jitter and relay chances.
    pub fn new(id: NodeId, config: BleMeshConfig, mut rng: SimRng) -> Self {
        let scan_phase = uniform_below(&mut rng, PHASE_RANGE);
        let interval = config.high.announce_interval.as_nanos();
        let next_announce =
            (interval > 0).then(|| Instant::from_nanos(uniform_below(&mut rng, interval)));
        let mut node = BleMesh {
            id,
            config,
            rng,
            level: BatteryLevel::High,
            next_seq: 0,
            scan_phase,
            next_announce,
            neighbours: Neighbours::new(config.neighbour_timeout),
            seen: SeenCache::new(config.seen_ttl)
                .with_capacity_limit(config.seen_capacity as usize),
            relayed: SeenCache::new(config.seen_ttl),
            relays: PendingRelays::default(),
            acks: AckWaits::new(config.ack_timeout, config.max_resends),
            outbox: Outbox::new(
                config.outbox_capacity as usize,
                config.outbox_ttl,
                config.outbox_attempts,
            ),
            reassemblies: Reassemblies::new(
                config.max_reassemblies as usize,
                len_of(config.max_message_size),
                config.reassembly_timeout,
            ),
            contents: None,
            wakeup: None,
            outputs: VecDeque::new(),
        };
        node.refresh_wakeup();
        node
    }

    /// Makes this node number its messages from `seq` on instead of 0.
    ///
    /// A message id is (node << 32) | sequence number, and ids must be unique
    /// in a run; builders start each incarnation of a node at a random
    /// sequence number drawn from its RNG stream, as for
    /// [`Flood::with_initial_seq`](crate::flood::Flood::with_initial_seq).
    pub fn with_initial_seq(mut self, seq: u32) -> Self {
        self.next_seq = seq;
        self
    }

    /// Makes this node keep the content and origin of every message
    /// delivered here, for [`take_content`](BleMesh::take_content).
    pub fn keeping_content(mut self) -> Self {
        self.contents = Some(VecDeque::new());
        self
    }

    /// Originates a private message for `to` carrying `content` (rather
    /// than [`BleCommand::Send`]'s pattern of a given size), exactly as
    /// that command does otherwise. Like a `handle_*` call, it is followed
    /// by draining `poll_output`.
    pub fn send_bytes(&mut self, now: Instant, to: NodeId, content: &[u8]) {
        self.advance(now);
        self.originate(now, Some(to), Body::Bytes(content));
        self.refresh_wakeup();
    }

    /// The oldest delivered content not yet taken (always `None` unless
    /// built [`keeping_content`](BleMesh::keeping_content)).
    pub fn take_content(&mut self) -> Option<Content> {
        self.contents.as_mut()?.pop_front()
    }

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &BleMeshConfig {
        &self.config
    }

    /// The battery level its behaviour follows.
    pub fn battery_level(&self) -> BatteryLevel {
        self.level
    }

    /// The neighbours it knows.
    pub fn neighbours(&self) -> &Neighbours {
        &self.neighbours
    }

    /// The packet keys it remembers.
    pub fn seen(&self) -> &SeenCache {
        &self.seen
    }

    fn profile(&self) -> &PowerProfile {
        self.config.profile(self.level)
    }

    fn event(&mut self, event: BleEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn transmit(&mut self, to: NodeId, bytes: Vec<u8>) {
        self.outputs.push_back(Output::Transmit {
            to,
            bytes: bytes.into(),
        });
    }

    fn drop_input(&mut self, from: NodeId, len: usize, cause: DropCause) {
        self.outputs.push_back(Output::Drop { from, len, cause });
    }

    /// A packet from this node, made at `now`.
    fn repr<'a>(
        &self,
        now: Instant,
        kind: MessageType,
        ttl: u8,
        recipient: Option<NodeId>,
        payload: &'a [u8],
    ) -> Repr<'a> {
        Repr {
            kind,
            ttl,
            timestamp: now.as_nanos() / 1_000_000,
            sender: PeerId::of(self.id),
            recipient: recipient.map(PeerId::of),
            payload,
            signature: None,
            compressed: false,
        }
    }

    /// Whether to do something that happens `percent` times in a hundred.
    fn chance(&mut self, percent: u8) -> bool {
        match percent {
            0 => false,
            100.. => true,
            p => uniform_below(&mut self.rng, 100) < u64::from(p),
        }
    }

    // ----- originating -----

    fn originate(&mut self, now: Instant, to: Option<NodeId>, body: Body<'_>) {
        let msg = (u64::from(self.id.0) << 32) | u64::from(self.next_seq);
        let header = message::Header {
            id: msg,
            origin_ttl: self.config.ttl,
        };
        let size = match body {
            Body::Pattern(size) => size,
            Body::Bytes(bytes) => u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        };
        let payload_len = message::HEADER_LEN as u64 + u64::from(size);
        let packets = (payload_len <= self.config.max_message_size.0)
            .then(|| {
                let payload = match body {
                    Body::Pattern(size) => header.with_content(size as usize),
                    Body::Bytes(bytes) => header.with_bytes(bytes),
                };
                self.packets(now, to, msg, &payload)
            })
            .flatten();
        let Some(packets) = packets else {
            self.event(BleEvent::TooLarge { size });
            return;
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        let expected = to.map_or(self.config.expected_recipients, |_| 1);
        self.event(BleEvent::Sent { msg, expected });
        if to == Some(self.id) {
            let from = self.id;
            self.event(BleEvent::Delivered { msg, hops: 0, from });
            if let (Some(contents), Body::Bytes(bytes)) = (&mut self.contents, body) {
                let bytes = bytes.to_vec();
                contents.push_back(Content {
                    msg,
                    origin: from,
                    bytes,
                });
            }
            return;
        }
        if self.config.ttl == 0 {
            return;
        }
        for &(key, _) in &packets {
            self.seen.insert(now, key);
        }
        let Some(to) = to else {
            for (_, bytes) in packets {
                self.transmit(NodeId::BROADCAST, bytes);
            }
            return;
        };
        let flood = (!self.neighbours.contains(to)).then(|| packets.clone());
        if let Some(evicted) = self.outbox.push(now, to, msg, packets) {
            self.event(BleEvent::OutboxAbandoned { msg: evicted, to });
        }
        match flood {
            None => self.hand_over(now, to),
            Some(packets) => {
                for (_, bytes) in packets {
                    self.transmit(NodeId::BROADCAST, bytes);
                }
            }
        }
    }

    /// Message `msg`'s payload as packets (key and bytes each): one message
    /// packet if it fits the MTU, fragments otherwise; `None` if it would
    /// take more than 65,535 fragments.
    fn packets(
        &self,
        now: Instant,
        to: Option<NodeId>,
        msg: u64,
        payload: &[u8],
    ) -> Option<Vec<(u64, Vec<u8>)>> {
        let whole = self.repr(now, MessageType::Message, self.config.ttl, to, payload);
        let mtu = len_of(self.config.mtu);
        if whole.buffer_len() <= mtu && payload.len() <= usize::from(u16::MAX) {
            return Some(vec![(whole.key(), whole.to_bytes())]);
        }
        let overhead = whole.buffer_len() - payload.len() + fragment::HEADER_LEN;
        let max_data = mtu
            .saturating_sub(overhead)
            .min(usize::from(u16::MAX) - fragment::HEADER_LEN);
        let fragments = fragment::split(msg, MessageType::Message, payload, max_data)?;
        let mut packets = Vec::with_capacity(fragments.len());
        for fragment in &fragments {
            let payload = fragment.to_payload();
            let repr = self.repr(now, fragment.kind(), self.config.ttl, to, &payload);
            packets.push((repr.key(), repr.to_bytes()));
        }
        Some(packets)
    }

    /// Unicasts to `to` what its outbox queue holds, waiting for
    /// acknowledgements.
    fn hand_over(&mut self, now: Instant, to: NodeId) {
        for (msg, key, bytes) in self.outbox.hand_over(to) {
            self.acks.push(now, to, key, msg, bytes.clone(), true);
            self.transmit(to, bytes);
        }
    }

    // ----- receiving -----

    fn receive(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        let Ok(repr) = Repr::from_bytes(bytes) else {
            self.drop_input(from, bytes.len(), DropCause::Malformed);
            return;
        };
        match repr.kind {
            MessageType::Announce => self.on_announce(now, from),
            MessageType::DeliveryAck => self.on_ack(from, &repr, bytes.len()),
            _ => self.on_data(now, from, &repr, bytes),
        }
    }

    fn on_announce(&mut self, now: Instant, from: NodeId) {
        let phase = now.as_nanos().wrapping_add(self.scan_phase);
        if !self.profile().is_scanning(phase) {
            return;
        }
        if self.neighbours.heard(now, from) {
            self.event(BleEvent::NeighbourUp { peer: from });
        }
        self.hand_over(now, from);
    }

    fn on_ack(&mut self, from: NodeId, repr: &Repr<'_>, len: usize) {
        let Some(key) = message::parse_ack(repr.payload) else {
            self.drop_input(from, len, DropCause::Malformed);
            return;
        };
        if repr.recipient != Some(PeerId::of(self.id)) {
            return;
        }
        let Some(wait) = self.acks.ack(from, key) else {
            return;
        };
        if wait.from_outbox {
            self.resolve(from, key, true);
        }
    }

    /// Reports how an outbox packet's hand-over ended.
    fn resolve(&mut self, to: NodeId, key: u64, acked: bool) {
        match self.outbox.resolve(to, key, acked) {
            Some(Resolution::Delivered(msg)) => self.event(BleEvent::OutboxDelivered { msg, to }),
            Some(Resolution::Abandoned(msg)) => self.event(BleEvent::OutboxAbandoned { msg, to }),
            None => {}
        }
    }

    fn on_data(&mut self, now: Instant, from: NodeId, repr: &Repr<'_>, bytes: &[u8]) {
        if repr.ttl == 0 {
            self.drop_input(from, bytes.len(), DropCause::Expired);
            return;
        }
        // What the payload says, if this model can read it (it cannot
        // decompress): the message id, whether this packet stands for a
        // copy of the message (for duplicate counting) and, for a fragment,
        // the fragment.
        let parsed = match repr.kind {
            _ if repr.compressed => None,
            MessageType::Message => {
                message::Header::parse(repr.payload).map(|h| (h.id, true, None))
            }
            kind => Fragment::parse(kind, repr.payload)
                .ok()
                .filter(|f| f.original == MessageType::Message)
                .map(|f| (f.id, f.index == 0, Some(f))),
        };
        let Some((msg, whole_copy, fragment)) = parsed else {
            self.drop_input(from, bytes.len(), DropCause::Malformed);
            return;
        };
        let key = repr.key();
        let to_me = repr.recipient == Some(PeerId::of(self.id));
        if to_me {
            self.send_ack(now, from, key);
        }
        if !self.seen.insert(now, key) {
            let cancelled = self
                .config
                .cancel_on_duplicate
                .then(|| self.relays.cancel(key))
                .flatten();
            if let Some(msg) = cancelled {
                self.event(BleEvent::RelayCancelled { msg });
            }
            if whole_copy {
                self.event(BleEvent::Duplicate { msg, from });
            }
            return;
        }
        if to_me || repr.recipient.is_none() {
            match fragment {
                None => self.deliver(from, repr, repr.payload, bytes.len()),
                Some(fragment) => self.reassemble(now, from, repr, &fragment, bytes.len()),
            }
        }
        if !to_me {
            self.schedule_relay(now, repr, key, msg, bytes);
        }
    }

    fn send_ack(&mut self, now: Instant, to: NodeId, key: u64) {
        let payload = key.to_be_bytes();
        let ack = self.repr(now, MessageType::DeliveryAck, 1, Some(to), &payload);
        self.transmit(to, ack.to_bytes());
    }

    /// Delivers the message whose payload is `payload`, carried by `repr`
    /// (its last fragment, if fragmented).
    fn deliver(&mut self, from: NodeId, repr: &Repr<'_>, payload: &[u8], len: usize) {
        let Some(header) = message::Header::parse(payload) else {
            self.drop_input(from, len, DropCause::Malformed);
            return;
        };
        let hops = u32::from(header.origin_ttl.saturating_sub(repr.ttl)) + 1;
        self.event(BleEvent::Delivered {
            msg: header.id,
            hops,
            from,
        });
        if let (Some(contents), Some(origin)) = (&mut self.contents, repr.sender.node()) {
            contents.push_back(Content {
                msg: header.id,
                origin,
                bytes: payload[message::HEADER_LEN..].to_vec(),
            });
        }
    }

    fn reassemble(
        &mut self,
        now: Instant,
        from: NodeId,
        repr: &Repr<'_>,
        fragment: &Fragment<'_>,
        len: usize,
    ) {
        let (progress, evicted) = self.reassemblies.add(now, repr.sender, fragment);
        if let Some(msg) = evicted {
            self.event(BleEvent::ReassemblyDropped { msg });
        }
        match progress {
            Progress::Pending => {}
            Progress::Complete(payload) => self.deliver(from, repr, &payload, len),
            Progress::Discarded => self.event(BleEvent::ReassemblyDropped { msg: fragment.id }),
            Progress::Inconsistent => self.drop_input(from, len, DropCause::Malformed),
        }
    }

    fn schedule_relay(&mut self, now: Instant, repr: &Repr<'_>, key: u64, msg: u64, bytes: &[u8]) {
        let degree = self.neighbours.len();
        let Some(ttl) = relay::relay_ttl(&self.config, repr.ttl, degree) else {
            return;
        };
        if !self.chance(self.profile().relay_percent) {
            return;
        }
        let mut copy = bytes.to_vec();
        packet::Packet::new_unchecked(&mut copy[..]).set_ttl(ttl);
        let jitter = relay::jitter(&self.config, degree, &mut self.rng);
        self.relays.push(Pending {
            due: now.saturating_add(jitter),
            key,
            msg,
            recipient: repr.recipient.and_then(PeerId::node),
            bytes: copy,
        });
    }

    // ----- timers -----

    /// Does everything due at `now`.
    fn advance(&mut self, now: Instant) {
        self.seen.expire(now);
        self.relayed.expire(now);
        if self.wakeup.is_none_or(|at| at > now) {
            return;
        }
        let mut gone = Vec::new();
        self.neighbours.expire(now, &mut gone);
        for peer in gone {
            self.event(BleEvent::NeighbourDown { peer });
        }
        let mut timed_out = Vec::new();
        self.reassemblies.expire(now, &mut timed_out);
        for msg in timed_out {
            self.event(BleEvent::ReassemblyTimedOut { msg });
        }
        let mut expired = Vec::new();
        self.outbox.expire(now, &mut expired);
        for (to, msg) in expired {
            self.event(BleEvent::OutboxExpired { msg, to });
        }
        for relay in self.relays.take_due(now) {
            self.send_relay(now, relay);
        }
        for due in self.acks.take_due(now) {
            match due {
                Due::Resend { to, msg, bytes } => {
                    self.event(BleEvent::Retransmitted { msg, to });
                    self.transmit(to, bytes);
                }
                Due::GaveUp(wait) => {
                    let (msg, to) = (wait.msg, wait.to);
                    self.event(BleEvent::ResendGaveUp { msg, to });
                    if wait.from_outbox {
                        self.resolve(to, wait.key, false);
                    }
                }
            }
        }
        if self.next_announce.is_some_and(|at| at <= now) {
            let announce = self.repr(now, MessageType::Announce, 1, None, &[]);
            self.transmit(NodeId::BROADCAST, announce.to_bytes());
            self.schedule_announce(now, None);
        }
    }

    /// The next announce: one interval of the current profile after `now`,
    /// or `sooner` if that comes first; none if the interval is zero.
    fn schedule_announce(&mut self, now: Instant, sooner: Option<Instant>) {
        let interval = self.profile().announce_interval;
        let next = (interval.as_nanos() > 0).then(|| now.saturating_add(interval));
        self.next_announce = match (next, sooner) {
            (Some(next), Some(sooner)) => Some(next.min(sooner)),
            (next, _) => next,
        };
    }

    fn send_relay(&mut self, now: Instant, relay: Pending) {
        let to = match relay.recipient {
            Some(recipient) if self.neighbours.contains(recipient) => {
                let bytes = relay.bytes.clone();
                self.acks
                    .push(now, recipient, relay.key, relay.msg, bytes, false);
                recipient
            }
            _ => NodeId::BROADCAST,
        };
        if self.relayed.insert(now, relay.msg) {
            self.event(BleEvent::Relayed { msg: relay.msg });
        }
        self.transmit(to, relay.bytes);
    }

    fn refresh_wakeup(&mut self) {
        self.wakeup = [
            self.next_announce,
            self.neighbours.next_expiry(),
            self.reassemblies.next_deadline(),
            self.outbox.next_expiry(),
            self.relays.next_due(),
            self.acks.next_due(),
        ]
        .into_iter()
        .flatten()
        .min();
    }
}

impl Protocol for BleMesh {
    type Command = BleCommand;
    type Event = BleEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.advance(now);
        self.receive(now, from, bytes);
        self.refresh_wakeup();
    }

    fn handle_command(&mut self, now: Instant, cmd: BleCommand) {
        self.advance(now);
        match cmd {
            BleCommand::Broadcast { size } => self.originate(now, None, Body::Pattern(size)),
            BleCommand::Send { to, size } => self.originate(now, Some(to), Body::Pattern(size)),
        }
        self.refresh_wakeup();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.refresh_wakeup();
    }

    fn poll_output(&mut self) -> Option<Output<BleEvent>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.wakeup
    }

    /// Switches to `level`'s [`PowerProfile`]; the next announce comes no
    /// later than one new interval from now.
    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        self.advance(now);
        self.level = level;
        let sooner = self.next_announce;
        self.schedule_announce(now, sooner);
        self.refresh_wakeup();
    }
}
