//! HTX: the seed's framed, reliable, encrypted transport (BetaNet's HTX
//! v1.1 frame), in sans-IO form.
//!
//! An application hands [`Htx`] whole messages
//! ([`TransportCommand::Send`]); the peer's `Htx` hands each up exactly
//! once, whole and in order ([`TransportEvent::Received`]), however the
//! network loses, reorders or duplicates the datagrams between them. [`Htx`]
//! is a [`Transport`], so any protocol runs over it with
//! [`Over`](crate::transport::Over).
//!
//! # Tour
//!
//! - this file: [`Htx`], one node's table of per-peer connections, and
//!   what it reports ([`HtxNote`]);
//! - [`frame`]: the wire format: the seed's header (magic, version/flags,
//!   length, type, sequence, timestamp), payload and CRC-32, and the
//!   payload of each frame type;
//! - `connection`: one peer's connection: handshake, timers, which frame
//!   to send when;
//! - `window`: the send window (fragmentation, sliding window, selective
//!   acknowledgement, loss detection, the peer's credit) and the receive
//!   window (reordering, reassembly, credit);
//! - `rtt`: the RFC 6298 retransmission timer;
//! - [`crypto`]: X25519 key agreement, HKDF-SHA256, AES-256-GCM, nonces;
//! - [`compress`]: LZ4 where it pays;
//! - `config`: [`HtxConfig`].
//!
//! # The model
//!
//! - **Connections.** The first `Send` to a peer opens a connection: a
//!   client hello carrying an X25519 public key and this side's receive
//!   window. The peer answers with a server hello carrying its own; both
//!   derive the session key, and the initiator's data flows after that one
//!   round trip. The responder sends its own data once the initiator's
//!   first sealed frame proves the initiator holds the key, so no frame
//!   ever arrives that its receiver cannot open. A client hello lost is
//!   sent again on the retransmission timer; a server hello lost is sent
//!   again when the repeated client hello arrives. When both sides open at
//!   once, the node with the higher id answers the other's hello with the
//!   key it had offered, keeping what it had queued.
//! - **Reliability.** Each data frame carries a per-direction sequence
//!   number. The receiver acknowledges cumulatively and selectively (up to
//!   32 ranges); an in-order frame's ack may wait for a second frame or
//!   `ack_delay`, anything else is acknowledged at once. The sender resends
//!   a frame that three later transmissions have overtaken, and the oldest
//!   unacknowledged frame when the RFC 6298 timer expires, doubling the
//!   timeout each time. Frames wait in the receiver until the ones before
//!   them arrive; duplicates are acknowledged and dropped.
//! - **Flow control.** Credit in application bytes: each side grants its
//!   peer `receive_window` bytes in its hello and renews the grant to
//!   `consumed + receive_window` whenever half has been used, in a window
//!   update frame (or in the ack that is due anyway). A sender never has
//!   more application bytes sent than the credit granted, so data in flight
//!   and not yet consumed by the receiver never exceeds the window. The
//!   number of unacknowledged frames is capped too (`max_frames_in_flight`).
//! - **Fragmentation.** A message larger than a frame's capacity
//!   ([`HtxConfig::data_capacity`]) is cut into several data frames, the
//!   last with the end flag; fragments are cut when they leave, no larger
//!   than the credit left. The receiver appends in-order fragments to the
//!   message being reassembled and hands it up at the end flag.
//! - **Compression and encryption.** Each data fragment is LZ4-compressed
//!   if that makes it smaller (a flag says so), then every frame but the
//!   hellos is sealed with AES-256-GCM, the header as associated data. The
//!   modelled mode keeps every size and does no cipher work.
//! - **Rejection.** A frame that fails its CRC or its tag, or does not
//!   parse, is dropped — one [`Output::Drop`] with
//!   [`DropCause::Malformed`] and one [`HtxNote::Rejected`] — and changes
//!   nothing. An authentic frame that makes no sense (an ack of frames never
//!   sent) is dropped the same way, though it still counts as a sign of
//!   life; a data frame beyond the credit granted is dropped with
//!   [`DropCause::QueueFull`].
//! - **Closing.** A connection that hears nothing from its peer for
//!   `idle_timeout` sends a close frame and is forgotten; so is one whose
//!   peer sends a close frame (a close frame for a connection already
//!   forgotten is ignored), or one whose peer comes back with a new key (a
//!   restart). What it had not delivered is counted in
//!   [`HtxNote::Closed`]. The next `Send` opens a new connection.
//! - **Determinism.** Keys come only from the RNG given to [`Htx::new`];
//!   connections live in a `BTreeMap`, so timeouts are handled in peer
//!   order; time is integer nanoseconds.
//!
//! # Departures
//!
//! - From the seed's drawing: the length field is 24 bits, not one byte (a
//!   byte cannot describe the seed's own 65,536-byte frames); version and
//!   flags share byte 1 as two nibbles. See [`frame`].
//! - From Betanet's HTX specification, which frames differently (a uint24
//!   length, a type, a varint stream id; a TLS-like handshake, Noise XK
//!   inner keys): the seed's layout is the one implemented; there are no
//!   streams (one ordered message channel per peer pair), and the
//!   handshake is an unauthenticated ephemeral X25519 exchange, since the
//!   seed names no identity keys. Betanet's 50 % window-update rule is
//!   kept.
//! - Retransmissions repeat a data frame byte for byte, timestamp
//!   included, so that a nonce never seals two different frames; RTT
//!   samples therefore follow Karn's rule rather than the timestamp, which
//!   is carried for fidelity to the format and for traces.
//! - No congestion control: the seed's HTX has a sliding window and flow
//!   control only; the QUIC-like transport models congestion.
//!
//! # Example
//!
//! ```
//! use protocols::htx::{Htx, HtxConfig, HtxNote};
//! use protocols::transport::{TransportCommand, TransportEvent};
//! use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
//! use sim_core::{Instant, NodeId, Output, Protocol};
//!
//! let config = HtxConfig::default();
//! let mut a = Htx::new(NodeId(0), config, ChaCha8Rng::seed_from_u64(1));
//! let mut b = Htx::new(NodeId(1), config, ChaCha8Rng::seed_from_u64(2));
//! let now = Instant::ZERO;
//!
//! // Carries every datagram `from` transmits to `to`; returns `from`'s events.
//! fn carry(from: &mut Htx, to: &mut Htx, now: Instant) -> Vec<TransportEvent<HtxNote>> {
//!     let mut events = Vec::new();
//!     while let Some(output) = from.poll_output() {
//!         match output {
//!             Output::Transmit { bytes, .. } => to.handle_datagram(now, from.id(), &bytes),
//!             Output::Event(e) => events.push(e),
//!             Output::Drop { .. } => unreachable!("nothing is malformed here"),
//!         }
//!     }
//!     events
//! }
//!
//! a.handle_command(now, TransportCommand::Send { to: NodeId(1), bytes: b"hello".to_vec() });
//! carry(&mut a, &mut b, now); // the client hello
//! carry(&mut b, &mut a, now); // the server hello
//! carry(&mut a, &mut b, now); // the data, sealed
//! let hello = TransportEvent::Received { from: NodeId(0), bytes: b"hello".to_vec() };
//! assert!(carry(&mut b, &mut a, now).contains(&hello));
//! ```

pub mod compress;
mod config;
mod connection;
pub mod crypto;
pub mod frame;
mod rtt;
mod window;

#[cfg(test)]
mod tests;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};

use sim_core::{DropCause, Duration, Instant, NodeId, Output, Protocol, SimRng};

pub use config::{Compression, Encryption, HtxConfig, MAX_FRAMES_AHEAD, MIN_FRAME_SIZE};

use crate::transport::{Transport, TransportCommand, TransportEvent};
use connection::{Connection, Ctx};
use crypto::{KeyPair, Role};
use frame::{Flags, Hello, Kind, Packet, Repr};
use window::SendWindow;

/// What [`Htx`] reports besides the application's messages, for its own
/// metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HtxNote {
    /// A connection's handshake completed: for the initiator, at the server
    /// hello; for the responder, at the initiator's first sealed frame.
    Established {
        /// The peer.
        peer: NodeId,
        /// Whether this side sent the client hello.
        initiator: bool,
        /// From this side's hello to completion (hello retransmissions
        /// included).
        handshake_rtt: Duration,
    },
    /// A frame was sent again.
    Retransmitted {
        /// The peer.
        peer: NodeId,
        /// [`Kind::ClientHello`] or [`Kind::Data`].
        kind: Kind,
        /// The data frame's sequence number (0 for a hello).
        seq: u32,
        /// Whether the retransmission timer fired (otherwise, later frames
        /// had been acknowledged).
        timeout: bool,
    },
    /// A frame was dropped (and counted as an [`Output::Drop`]).
    Rejected {
        /// Who sent it.
        peer: NodeId,
        /// Why.
        reason: Reject,
    },
    /// Data waits for the peer's credit (once per stall).
    WindowStalled {
        /// The peer.
        peer: NodeId,
    },
    /// A connection ended and was forgotten.
    Closed {
        /// The peer.
        peer: NodeId,
        /// Why.
        reason: CloseReason,
        /// Messages to the peer not known to have arrived, now lost.
        undelivered: usize,
    },
}

/// One connection, as numbers: [`Htx::stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerStats {
    /// Whether data flows both ways.
    pub established: bool,
    /// The smoothed round-trip time, once measured.
    pub srtt: Option<Duration>,
    /// The retransmission timeout now.
    pub rto: Duration,
    /// Application bytes sent to the peer in data frames (each once, however
    /// often it was retransmitted): the credit used.
    pub sent_bytes: u64,
    /// Of those, bytes in frames not yet cumulatively acknowledged.
    pub unacked_bytes: u64,
    /// Application bytes received from the peer in order.
    pub received_bytes: u64,
    /// Bytes received out of order, waiting for the frames before them.
    pub held_bytes: u64,
    /// Messages to the peer not known to have arrived.
    pub undelivered: usize,
}

/// Why a frame was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reject {
    /// The CRC did not match: corrupted on the way.
    Crc,
    /// The AEAD tag did not verify, the hello key was unusable, or the frame
    /// was in the other crypto mode.
    Auth,
    /// Not an HTX frame, or a frame that makes no sense (an unknown type, an
    /// ack of frames never sent, a payload that does not parse).
    Malformed,
    /// A sealed frame from a peer without a session to open it.
    NoSession,
    /// A data frame beyond the credit granted.
    OverWindow,
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CloseReason {
    /// Nothing heard from the peer for `idle_timeout`.
    Idle,
    /// The peer sent a close frame.
    Remote,
    /// The peer opened a new connection with a new key (it restarted).
    Replaced,
    /// A sequence number space ran out (after 2³² − 1 frames).
    Exhausted,
}

/// One node's HTX endpoint: a connection per peer.
///
/// # Methods
///
/// - Getters: [`id`](Htx::id), [`config`](Htx::config),
///   [`peers`](Htx::peers), [`stats`](Htx::stats).
/// - Inputs, from [`Protocol`]: [`handle_command`](Protocol::handle_command)
///   queues a message (opening a connection if needed);
///   [`handle_datagram`](Protocol::handle_datagram) takes in a frame;
///   [`handle_timeout`](Protocol::handle_timeout) runs the connections'
///   due timers, in peer order.
/// - Outputs: [`poll_output`](Protocol::poll_output) yields frames,
///   received messages, notes and drops in the order they arose;
///   [`poll_timeout`](Protocol::poll_timeout) is the earliest deadline of
///   any connection.
#[derive(Debug)]
pub struct Htx {
    id: NodeId,
    config: HtxConfig,
    rng: SimRng,
    connections: BTreeMap<NodeId, Connection>,
    out: VecDeque<Output<TransportEvent<HtxNote>>>,
}

impl Transport for Htx {
    type Note = HtxNote;
}

impl Htx {
    /// Node `id`'s endpoint. Every key it makes comes from `rng`.
    pub fn new(id: NodeId, config: HtxConfig, rng: SimRng) -> Self {
        Htx {
            id,
            config,
            rng,
            connections: BTreeMap::new(),
            out: VecDeque::new(),
        }
    }

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &HtxConfig {
        &self.config
    }

    /// The connection to `peer`, if there is one, as numbers.
    pub fn stats(&self, peer: NodeId) -> Option<PeerStats> {
        self.connections.get(&peer).map(Connection::stats)
    }

    /// The peers this node has a connection with, ascending.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.connections.keys().copied()
    }

    /// Takes in one frame; `Err` if it is dropped.
    fn receive(&mut self, now: Instant, from: NodeId, bytes: &[u8]) -> Result<(), Reject> {
        let packet = Packet::new_checked(bytes).map_err(|e| match e {
            frame::Error::Crc => Reject::Crc,
            _ => Reject::Malformed,
        })?;
        let repr = Repr::parse(&packet).map_err(|_| Reject::Malformed)?;
        if repr.flags.contains(Flags::MODELLED) != self.config.modelled() {
            return Err(Reject::Auth);
        }
        if !repr.kind.sealed() {
            let hello = Hello::parse(packet.payload()).map_err(|_| Reject::Malformed)?;
            return if repr.kind == Kind::ClientHello {
                self.on_client_hello(now, from, &hello)
            } else {
                self.on_server_hello(now, from, &hello)
            };
        }
        let Some(conn) = self.connections.get_mut(&from) else {
            // A close for a connection already forgotten (both ends idled
            // out at once) needs nothing and is not counted.
            return match repr.kind {
                Kind::Close => Ok(()),
                _ => Err(Reject::NoSession),
            };
        };
        let mut ctx = Ctx {
            now,
            config: &self.config,
            out: &mut self.out,
        };
        conn.on_sealed(&packet, &repr, &mut ctx)
    }

    /// A client hello: a new connection, a simultaneous open, a repeated
    /// hello, or a restarted peer.
    fn on_client_hello(&mut self, now: Instant, from: NodeId, hello: &Hello) -> Result<(), Reject> {
        let mut ctx = Ctx {
            now,
            config: &self.config,
            out: &mut self.out,
        };
        if let Some(keys) = self.connections.get(&from).and_then(Connection::hello_keys) {
            // Both sides opened at once: the higher id answers, with the key
            // it offered.
            if self.id < from {
                return Ok(());
            }
            let session = keys
                .agree(Role::Responder, &hello.public)
                .map_err(|_| Reject::Auth)?;
            let public = keys.public();
            if let Some(ours) = self.connections.remove(&from) {
                let conn =
                    Connection::answer(from, session, public, hello, ours.into_send(), &mut ctx);
                self.connections.insert(from, conn);
            }
            return Ok(());
        }
        if let Some(conn) = self.connections.get_mut(&from) {
            if conn.peer_public() == Some(hello.public) {
                conn.repeat_server_hello(&mut ctx);
                return Ok(());
            }
        }
        let keys = KeyPair::generate(&mut self.rng, self.config.modelled());
        let session = keys
            .agree(Role::Responder, &hello.public)
            .map_err(|_| Reject::Auth)?;
        if let Some(old) = self.connections.remove(&from) {
            ctx.note(HtxNote::Closed {
                peer: from,
                reason: CloseReason::Replaced,
                undelivered: old.undelivered(),
            });
        }
        let send = SendWindow::new(0);
        let conn = Connection::answer(from, session, keys.public(), hello, send, &mut ctx);
        self.connections.insert(from, conn);
        Ok(())
    }

    /// A server hello: the answer to this side's client hello, or a stale
    /// copy (ignored).
    fn on_server_hello(&mut self, now: Instant, from: NodeId, hello: &Hello) -> Result<(), Reject> {
        let conn = self.connections.get_mut(&from).ok_or(Reject::NoSession)?;
        let mut ctx = Ctx {
            now,
            config: &self.config,
            out: &mut self.out,
        };
        conn.on_server_hello(hello, &mut ctx)
    }

    /// Forgets `peer`'s connection if it has closed.
    fn reap(&mut self, peer: NodeId) {
        let Some(conn) = self.connections.get(&peer) else {
            return;
        };
        if let Some(reason) = conn.closed() {
            let undelivered = conn.undelivered();
            self.connections.remove(&peer);
            self.out
                .push_back(Output::Event(TransportEvent::Note(HtxNote::Closed {
                    peer,
                    reason,
                    undelivered,
                })));
        }
    }
}

impl Protocol for Htx {
    type Command = TransportCommand;
    type Event = TransportEvent<HtxNote>;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        if let Err(reason) = self.receive(now, from, bytes) {
            let cause = match reason {
                Reject::OverWindow => DropCause::QueueFull,
                _ => DropCause::Malformed,
            };
            self.out.push_back(Output::Drop {
                from,
                len: bytes.len(),
                cause,
            });
            self.out
                .push_back(Output::Event(TransportEvent::Note(HtxNote::Rejected {
                    peer: from,
                    reason,
                })));
        }
        self.reap(from);
    }

    fn handle_command(
        &mut self,
        now: Instant,
        TransportCommand::Send { to, bytes }: TransportCommand,
    ) {
        let mut ctx = Ctx {
            now,
            config: &self.config,
            out: &mut self.out,
        };
        let conn = match self.connections.entry(to) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let keys = KeyPair::generate(&mut self.rng, self.config.modelled());
                entry.insert(Connection::initiate(to, keys, &mut ctx))
            }
        };
        conn.push(bytes, &mut ctx);
        self.reap(to);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<NodeId> = self
            .connections
            .iter()
            .filter(|(_, c)| c.poll_timeout().is_some_and(|at| at <= now))
            .map(|(&peer, _)| peer)
            .collect();
        for peer in due {
            let mut ctx = Ctx {
                now,
                config: &self.config,
                out: &mut self.out,
            };
            if let Some(conn) = self.connections.get_mut(&peer) {
                conn.on_timeout(&mut ctx);
            }
            self.reap(peer);
        }
    }

    fn poll_output(&mut self) -> Option<Output<Self::Event>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.connections
            .values()
            .filter_map(Connection::poll_timeout)
            .min()
    }
}
