//! QUIC-like transport: connections with a 1-RTT handshake and 0-RTT
//! resumption, multiplexed streams with flow control and priorities,
//! unreliable datagrams, connection migration, and RFC 9002's loss
//! recovery, congestion control and pacing, in sans-IO form.
//!
//! [`Quic`] is one endpoint (one node). It is a [`Transport`]: an
//! application's [`TransportCommand::Send`] to a peer becomes one message
//! on a new unidirectional stream of the connection to that peer (opened
//! on the first send), and arrives at the peer as exactly one
//! [`TransportEvent::Received`]. Because each message has a stream of its
//! own, a lost packet holds up only the message whose bytes it carried,
//! never the others (no head-of-line blocking between messages). Beyond
//! the transport contract, [`Quic::send`] takes a priority,
//! [`Quic::send_datagram`] sends an unreliable DATAGRAM (RFC 9221; it
//! arrives as a `Received` too, or not at all), [`Quic::close`] closes a
//! connection and [`Quic::path_stats`] reads its congestion window and RTT.
//! [`QuicNote`]s report what the transport itself does.
//!
//! # Tour
//!
//! - `mod.rs` (this file): the endpoint — routing packets to connections
//!   by connection id, opening client connections, accepting server ones,
//!   tickets — and the public types;
//! - `connection.rs`: one connection's handshake, frame processing,
//!   packet assembly (coalescing, padding, anti-amplification), path
//!   validation and timers;
//! - [`packet`]: the wire format, packets and frames;
//! - `handshake.rs`: the modelled TLS 1.3 messages with their sizes,
//!   transport parameters, session tickets;
//! - [`recovery`]: RFC 9002 loss detection, RTT estimation, PTO,
//!   persistent congestion;
//! - [`cc`]: the [`CongestionController`](cc::CongestionController) trait,
//!   [`NewReno`](cc::NewReno) and [`Cubic`](cc::Cubic);
//! - `pacing.rs`: the pacer (RFC 9002 §7.7);
//! - `streams.rs`: send and receive buffers, flow control, priorities;
//! - `ack.rs`: what each packet number space received and when to
//!   acknowledge it; `ranges.rs`: the range set everything counts in;
//! - `config.rs`: [`QuicConfig`].
//!
//! # The model
//!
//! - **Handshake.** A modelled TLS 1.3 handshake with TLS's messages at
//!   realistic sizes (see `handshake.rs`: a 280-byte ClientHello, a
//!   1508-byte Certificate…) in CRYPTO frames at the right encryption
//!   levels; no cryptography is done, but every packet carries a 16-byte
//!   AEAD tag, and the client's Initial datagrams are padded to 1200 bytes.
//!   The client's handshake completes after one round trip, and its first
//!   data arrives 1.5 RTT after it started. The server issues a session
//!   ticket; the next connection to the same server resumes with it (no
//!   certificate) and sends 0-RTT data in its first flight.
//! - **Packets.** Three packet number spaces (Initial, Handshake,
//!   application data) with their own ACKs, coalesced packets, packet
//!   numbers truncated as RFC 9000 says, ACK frames with ranges and ack
//!   delay.
//! - **Recovery.** RFC 9002 as written: packet and time thresholds, PTO
//!   with backoff, persistent congestion, NewReno (or CUBIC), pacing.
//! - **Streams.** One unidirectional stream per message, FIN-delimited;
//!   per-stream and connection flow control (MAX_STREAM_DATA, MAX_DATA)
//!   and stream limits (MAX_STREAMS); the lowest priority value goes first.
//! - **Migration.** A peer's packets arriving from a new [`NodeId`] with the
//!   same connection id (a NAT rebinding: the peer itself does not know) move
//!   the connection there after PATH_CHALLENGE / PATH_RESPONSE validates
//!   the new address; [`QuicNote::Migrated`] reports it, and
//!   [`TransportEvent::Received`] names the new address from then on.
//! - **Close.** [`Quic::close`] sends CONNECTION_CLOSE; idle connections
//!   time out after the negotiated idle timeout (at least 3 PTOs).
//!
//! # Departures from RFC 9000 / 9002, and why
//!
//! - No encryption, header protection, key updates, Retry or version
//!   negotiation: the simulator needs their sizes and round trips, not
//!   their secrecy. Sizes are kept (tag, padding, handshake messages).
//! - A packet that fails to parse, or carries a frame its packet type may
//!   not, is dropped and counted ([`DropCause::Malformed`]) instead of
//!   closing the connection: without AEAD this is what a corrupted packet
//!   looks like, and a real endpoint would drop it on decryption failure.
//!   Semantic violations (flow control, stream limits, final size, ACK of
//!   an unsent packet) close the connection with the RFC's error code.
//! - Each side uses one 8-byte connection id for the connection's life (no
//!   NEW_CONNECTION_ID / RETIRE_CONNECTION_ID), so a migration is linkable;
//!   only the peer's address changes (no endpoint-initiated probing of
//!   alternative paths, since a node cannot choose its own address here).
//! - No RESET_STREAM / STOP_SENDING (messages are never cancelled), no
//!   bidirectional streams, no BLOCKED frames (they are advisory), no
//!   NEW_TOKEN (address validation tokens only matter with Retry), no ECN.
//! - Initial and Handshake packets are not held back by the congestion
//!   window (they still count in flight): RFC 9002's pseudocode can
//!   deadlock when a client's Finished is lost behind 1-RTT data the
//!   server cannot read yet (see `connection.rs`).
//! - Persistent congestion is recognised only among packets with
//!   consecutive numbers declared lost together (see [`recovery`]): never
//!   more often than RFC 9002 says, sometimes less.
//! - Packets below the ACK floor (those older than an ACK the peer has
//!   acknowledged) are discarded as duplicates (see `ack.rs`).
//!
//! # Example: a message, handshake included
//!
//! ```
//! use protocols::quic::{Quic, QuicConfig};
//! use protocols::transport::{TransportCommand, TransportEvent};
//! use rand::SeedableRng;
//! use sim_core::{Instant, NodeId, Output, Protocol, SimRng};
//!
//! let mut nodes = [
//!     Quic::new(NodeId(0), QuicConfig::default(), SimRng::seed_from_u64(1)),
//!     Quic::new(NodeId(1), QuicConfig::default(), SimRng::seed_from_u64(2)),
//! ];
//! let now = Instant::ZERO;
//! nodes[0].handle_command(now, TransportCommand::Send { to: NodeId(1), bytes: b"hello".to_vec() });
//! // Carry datagrams back and forth, in order and without delay, until
//! // both are quiet.
//! let mut in_flight = std::collections::VecDeque::new();
//! let mut received = Vec::new();
//! loop {
//!     for (i, node) in nodes.iter_mut().enumerate() {
//!         while let Some(output) = node.poll_output() {
//!             match output {
//!                 Output::Transmit { to, bytes } => in_flight.push_back((to.index(), NodeId(i as u32), bytes)),
//!                 Output::Event(TransportEvent::Received { from, bytes }) => received.push((from, bytes)),
//!                 _ => {}
//!             }
//!         }
//!     }
//!     let Some((to, from, bytes)) = in_flight.pop_front() else { break };
//!     nodes[to].handle_datagram(now, from, &bytes);
//! }
//! assert_eq!(received, [(NodeId(0), b"hello".to_vec())]);
//! assert!(nodes[0].path_stats(NodeId(1)).is_some_and(|s| s.handshake_confirmed));
//! ```

mod ack;
pub mod cc;
mod config;
mod connection;
mod handshake;
mod pacing;
pub mod packet;
mod ranges;
pub mod recovery;
mod streams;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use rand::RngCore;
use sim_core::{DropCause, Duration, Instant, NodeId, Output, Protocol, SimRng};

use crate::transport::{Transport, TransportCommand, TransportEvent};
use connection::{Connection, Ctx};
use handshake::Tickets;
use packet::{
    datagram_header_len, Packet, PacketType, Repr, CID_LEN, MIN_INITIAL_DATAGRAM, TAG_LEN,
};

pub use ack::MAX_ACK_RANGES;
pub use config::{CongestionControl, QuicConfig};
pub use handshake::{
    CERTIFICATE_VERIFY_LEN, CLIENT_HELLO_LEN, ENCRYPTED_EXTENSIONS_LEN, FINISHED_LEN,
    NEW_SESSION_TICKET_LEN, PSK_EXTENSIONS_LEN, SERVER_HELLO_LEN, TICKET_LEN,
};
pub use pacing::PACING_GAIN;
pub use recovery::LossKind;

/// The priority [`TransportCommand::Send`] messages get: RFC 9218's default
/// urgency. Lower values go first.
pub const DEFAULT_PRIORITY: u8 = 3;

/// What a [`Quic`] endpoint reports about its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuicNote {
    /// The handshake with `peer` completed (the client on the server's
    /// Finished, the server on the client's), with the smoothed RTT then.
    HandshakeDone {
        /// The peer.
        peer: NodeId,
        /// The smoothed RTT at completion.
        rtt: Duration,
        /// Whether it resumed with a ticket (no certificate).
        resumed: bool,
    },
    /// The server accepted or refused the client's 0-RTT data (reported by
    /// both sides; refused data is sent again as 1-RTT).
    ZeroRtt {
        /// The peer.
        peer: NodeId,
        /// Whether the early data was accepted.
        accepted: bool,
    },
    /// A packet to `peer` was declared lost.
    PacketLost {
        /// The peer.
        peer: NodeId,
        /// Its packet number.
        pn: u64,
        /// Its size.
        bytes: u64,
        /// Which rule found it.
        by: LossKind,
    },
    /// The probe timeout fired: `count` consecutive PTOs.
    Pto {
        /// The peer.
        peer: NodeId,
        /// Consecutive PTOs so far.
        count: u32,
    },
    /// The congestion window shrank: a new recovery period, or persistent
    /// congestion.
    CongestionEvent {
        /// The peer.
        peer: NodeId,
        /// The new window.
        cwnd: u64,
        /// Whether it was persistent congestion (window at the minimum).
        persistent: bool,
    },
    /// The peer moved from one address to another and the new one was
    /// validated.
    Migrated {
        /// The old address.
        from: NodeId,
        /// The new address.
        to: NodeId,
    },
    /// A new address of the peer failed validation, or the peer came back
    /// to its old address before it was validated; the connection went
    /// back to the old one.
    MigrationFailed {
        /// The address that failed.
        from: NodeId,
        /// The address the connection went back to.
        back_to: NodeId,
    },
    /// A queued datagram was dropped: the queue was full, or the peer does
    /// not accept datagrams that large.
    DatagramDropped {
        /// The peer.
        peer: NodeId,
    },
    /// The connection to `peer` ended; `unsent` messages were not fully
    /// delivered.
    Closed {
        /// The peer.
        peer: NodeId,
        /// Why.
        reason: CloseReason,
        /// Messages not acknowledged in full when it ended.
        unsent: u64,
    },
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// [`Quic::close`] was called.
    Local,
    /// The peer sent CONNECTION_CLOSE.
    Peer {
        /// Whether it was an application close.
        app: bool,
        /// The error code.
        code: u64,
    },
    /// Nothing was heard for the idle timeout.
    IdleTimeout,
    /// The peer broke the protocol; this endpoint closed.
    Error(TransportError),
}

/// Transport errors this endpoint closes a connection with (RFC 9000 §20).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// FLOW_CONTROL_ERROR (0x03): more data than the limits allowed.
    #[error("flow control error")]
    FlowControl,
    /// STREAM_LIMIT_ERROR (0x04): a stream beyond the stream limit.
    #[error("stream limit error")]
    StreamLimit,
    /// STREAM_STATE_ERROR (0x05): a frame for a stream in the wrong state.
    #[error("stream state error")]
    StreamState,
    /// FINAL_SIZE_ERROR (0x06): a stream's final size changed.
    #[error("final size error")]
    FinalSize,
    /// TRANSPORT_PARAMETER_ERROR (0x08).
    #[error("transport parameter error")]
    TransportParameter,
    /// PROTOCOL_VIOLATION (0x0a).
    #[error("protocol violation")]
    ProtocolViolation,
    /// CRYPTO_BUFFER_EXCEEDED (0x0d).
    #[error("crypto buffer exceeded")]
    CryptoBufferExceeded,
    /// CRYPTO_ERROR (0x100 + TLS alert).
    #[error("crypto error (TLS alert {0})")]
    Crypto(u8),
}

impl TransportError {
    /// The error code on the wire.
    pub fn code(self) -> u64 {
        match self {
            TransportError::FlowControl => 0x03,
            TransportError::StreamLimit => 0x04,
            TransportError::StreamState => 0x05,
            TransportError::FinalSize => 0x06,
            TransportError::TransportParameter => 0x08,
            TransportError::ProtocolViolation => 0x0a,
            TransportError::CryptoBufferExceeded => 0x0d,
            TransportError::Crypto(alert) => 0x100 + u64::from(alert),
        }
    }
}

/// Why [`Quic::send_datagram`] refused a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// It cannot fit in one packet of the maximum datagram size.
    #[error("datagram larger than a packet can carry")]
    TooLarge,
}

/// A connection's congestion and RTT state, for tests and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathStats {
    /// The congestion window, in bytes.
    pub cwnd: u64,
    /// The slow-start threshold, once set.
    pub ssthresh: Option<u64>,
    /// Bytes in flight.
    pub bytes_in_flight: u64,
    /// The smoothed RTT.
    pub smoothed_rtt: Duration,
    /// The smallest RTT sample.
    pub min_rtt: Duration,
    /// Consecutive PTOs.
    pub pto_count: u32,
    /// Packets sent.
    pub packets_sent: u64,
    /// Packets declared lost.
    pub packets_lost: u64,
    /// Whether the handshake is confirmed.
    pub handshake_confirmed: bool,
}

/// One QUIC endpoint: every connection of one node.
///
/// # Methods
///
/// - Inputs, from [`Protocol`]: [`handle_command`](Protocol::handle_command)
///   sends a message at [`DEFAULT_PRIORITY`];
///   [`handle_datagram`](Protocol::handle_datagram) takes a UDP datagram;
///   [`handle_timeout`](Protocol::handle_timeout) runs the timers due.
/// - More inputs: [`send`](Quic::send) (with a priority),
///   [`send_datagram`](Quic::send_datagram), [`close`](Quic::close). Like
///   the `handle_*` calls, each is followed by draining `poll_output`.
/// - Getters: [`id`](Quic::id), [`config`](Quic::config),
///   [`path_stats`](Quic::path_stats), [`has_ticket`](Quic::has_ticket).
///
/// # Behaviour
///
/// - One connection per peer for sending: the first message to a peer
///   opens it (as client), and a connection a peer opened (as server)
///   carries this endpoint's messages to that peer too. If both open at
///   once, each side sends on its own and receives on both.
/// - Connection ids are drawn from the RNG given to [`Quic::new`]; so are
///   ticket ids and PATH_CHALLENGE data. Nothing else is random.
/// - A datagram is read packet by packet; a packet that does not parse is
///   one `Output::Drop` with [`DropCause::Malformed`] (as is an Initial in
///   a datagram under 1200 bytes), a packet for no known connection one
///   with [`DropCause::Expired`] (a connection that closed or timed out).
///   Packets coalesced behind one with another connection id are ignored
///   (RFC 9000 §12.2).
#[derive(Debug)]
pub struct Quic {
    id: NodeId,
    config: QuicConfig,
    rng: SimRng,
    /// Connections by local connection id.
    conns: BTreeMap<u64, Connection>,
    /// A client's first destination id → the server connection it opened.
    aliases: BTreeMap<u64, u64>,
    /// The connection that carries messages to each peer.
    by_peer: BTreeMap<NodeId, u64>,
    tickets: Tickets,
    out: VecDeque<Output<TransportEvent<QuicNote>>>,
}

impl Quic {
    /// An endpoint at address `id`, without connections. `rng` (the node's
    /// stream) draws connection ids, ticket ids and path challenges.
    pub fn new(id: NodeId, config: QuicConfig, rng: SimRng) -> Self {
        Quic {
            id,
            config,
            rng,
            conns: BTreeMap::new(),
            aliases: BTreeMap::new(),
            by_peer: BTreeMap::new(),
            tickets: Tickets::default(),
            out: VecDeque::new(),
        }
    }

    /// This endpoint's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &QuicConfig {
        &self.config
    }

    /// The congestion and RTT state of the connection that carries
    /// messages to `peer`.
    pub fn path_stats(&self, peer: NodeId) -> Option<PathStats> {
        let cid = self.by_peer.get(&peer)?;
        self.conns.get(cid).map(Connection::stats)
    }

    /// Whether this endpoint holds a session ticket for `peer`, so that its
    /// next connection there resumes with 0-RTT.
    pub fn has_ticket(&self, peer: NodeId, now: Instant) -> bool {
        self.tickets.holds(peer, now)
    }

    /// Sends `bytes` to `to` as one message, on a new stream at
    /// `priority` (lower goes first; [`DEFAULT_PRIORITY`] is 3).
    pub fn send(&mut self, now: Instant, to: NodeId, bytes: Vec<u8>, priority: u8) {
        let cid = self.connection_to(now, to);
        self.drive(cid, |conn, ctx| {
            conn.send_message(bytes, priority);
            conn.flush(now, ctx);
        });
    }

    /// Sends `bytes` to `to` as an unreliable DATAGRAM frame (RFC 9221):
    /// congestion controlled, never retransmitted, delivered at most once
    /// as a [`TransportEvent::Received`]. Fails if it could never fit in
    /// one packet.
    pub fn send_datagram(
        &mut self,
        now: Instant,
        to: NodeId,
        bytes: Vec<u8>,
    ) -> Result<(), DatagramError> {
        let short_header = 1 + CID_LEN + 4;
        let frame = datagram_header_len(bytes.len()) + bytes.len();
        if short_header + frame + TAG_LEN > self.config.mds() as usize {
            return Err(DatagramError::TooLarge);
        }
        let cid = self.connection_to(now, to);
        self.drive(cid, |conn, ctx| {
            conn.send_datagram(bytes, ctx);
            conn.flush(now, ctx);
        });
        Ok(())
    }

    /// Closes the connection that carries messages to `peer`, if any.
    pub fn close(&mut self, now: Instant, peer: NodeId) {
        if let Some(&cid) = self.by_peer.get(&peer) {
            self.drive(cid, |conn, ctx| conn.close(now, ctx));
        }
    }

    /// A connection id no connection uses.
    fn fresh_cid(&mut self) -> u64 {
        loop {
            let cid = self.rng.next_u64();
            if !self.conns.contains_key(&cid) && !self.aliases.contains_key(&cid) {
                return cid;
            }
        }
    }

    /// The connection that carries messages to `to`, opened if need be.
    fn connection_to(&mut self, now: Instant, to: NodeId) -> u64 {
        if let Some(&cid) = self.by_peer.get(&to) {
            return cid;
        }
        let cid = self.fresh_cid();
        let initial_dcid = self.rng.next_u64();
        let ticket = self.tickets.take(to, now);
        let mut ctx = Ctx {
            out: &mut self.out,
            rng: &mut self.rng,
            config: &self.config,
            tickets: &mut self.tickets,
        };
        let conn = Connection::client(now, to, cid, initial_dcid, ticket, &mut ctx);
        self.conns.insert(cid, conn);
        self.by_peer.insert(to, cid);
        cid
    }

    /// Runs `f` on connection `cid`, then keeps the peer map in step with
    /// where the connection now sends, and forgets it once it is closed.
    fn drive(&mut self, cid: u64, f: impl FnOnce(&mut Connection, &mut Ctx<'_>)) {
        let Some(conn) = self.conns.get_mut(&cid) else {
            return;
        };
        let before = conn.peer();
        let mut ctx = Ctx {
            out: &mut self.out,
            rng: &mut self.rng,
            config: &self.config,
            tickets: &mut self.tickets,
        };
        f(conn, &mut ctx);
        let (after, open, closed) = (conn.peer(), conn.is_open(), conn.is_closed());
        if self.by_peer.get(&before) == Some(&cid) && (after != before || !open) {
            self.by_peer.remove(&before);
        }
        if open && after != before {
            self.by_peer.insert(after, cid);
        }
        if closed {
            self.conns.remove(&cid);
            self.aliases.retain(|_, c| *c != cid);
        }
    }

    fn drop_bytes(&mut self, from: NodeId, len: usize, cause: DropCause) {
        self.out.push_back(Output::Drop { from, len, cause });
    }

    /// The connection a packet with destination id `dcid` belongs to; a
    /// new server connection for a client's first Initial.
    fn route(
        &mut self,
        now: Instant,
        from: NodeId,
        repr: &Repr<'_>,
        datagram_len: usize,
    ) -> Result<u64, DropCause> {
        let dcid = repr.header.dcid;
        if self.conns.contains_key(&dcid) {
            return Ok(dcid);
        }
        if let Some(&cid) = self.aliases.get(&dcid) {
            return Ok(cid);
        }
        if repr.header.ty != PacketType::Initial {
            return Err(DropCause::Expired);
        }
        if datagram_len < MIN_INITIAL_DATAGRAM {
            return Err(DropCause::Malformed);
        }
        let cid = self.fresh_cid();
        let conn = Connection::server(now, from, cid, repr.header.scid, &self.config);
        self.conns.insert(cid, conn);
        self.aliases.insert(dcid, cid);
        self.by_peer.entry(from).or_insert(cid);
        Ok(cid)
    }
}

impl Transport for Quic {
    type Note = QuicNote;
}

impl Protocol for Quic {
    type Command = TransportCommand;
    type Event = TransportEvent<QuicNote>;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        let mut rest = bytes;
        // The first packet's destination id, and its connection.
        let mut routed: Option<(u64, u64)> = None;
        while !rest.is_empty() {
            let packet = match Packet::new_checked(rest) {
                Ok(packet) => packet,
                Err(_) => {
                    self.drop_bytes(from, rest.len(), DropCause::Malformed);
                    break;
                }
            };
            let len = packet.packet_len();
            rest = &rest[len..];
            if routed.is_some_and(|(dcid, _)| dcid != packet.dcid()) {
                continue;
            }
            let repr = match Repr::parse(&packet) {
                Ok(repr) => repr,
                Err(_) => {
                    self.drop_bytes(from, len, DropCause::Malformed);
                    continue;
                }
            };
            let cid = match routed {
                Some((_, cid)) => cid,
                None => match self.route(now, from, &repr, bytes.len()) {
                    Ok(cid) => cid,
                    Err(cause) => {
                        self.drop_bytes(from, len, cause);
                        continue;
                    }
                },
            };
            routed = Some((repr.header.dcid, cid));
            self.drive(cid, |conn, ctx| conn.handle_packet(now, from, &repr, ctx));
        }
        if let Some((_, cid)) = routed {
            self.drive(cid, |conn, ctx| {
                conn.on_datagram(from, bytes.len());
                conn.flush(now, ctx);
            });
        }
    }

    fn handle_command(
        &mut self,
        now: Instant,
        TransportCommand::Send { to, bytes }: TransportCommand,
    ) {
        self.send(now, to, bytes, DEFAULT_PRIORITY);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.poll_timeout().is_some_and(|t| t <= now))
            .map(|(&cid, _)| cid)
            .collect();
        for cid in due {
            self.drive(cid, |conn, ctx| conn.handle_timeout(now, ctx));
        }
    }

    fn poll_output(&mut self) -> Option<Output<Self::Event>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(Connection::poll_timeout)
            .min()
    }
}
