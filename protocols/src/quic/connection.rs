//! One QUIC connection: its handshake, packet spaces, streams, datagrams,
//! path and timers.
//!
//! The [`Quic`](super::Quic) endpoint routes packets to a [`Connection`] by
//! connection id and hands it a [`Ctx`] through which it reaches the
//! endpoint's output queue, RNG, configuration and tickets. After every
//! input the endpoint calls [`Connection::flush`], which builds datagrams
//! while there is something to send and the congestion window, the pacer
//! and the anti-amplification limit allow, then re-arms the timers.
//!
//! # Handshake (RFC 9000 §7, RFC 9001 §4, modelled as [`handshake`])
//!
//! ```text
//! client                                             server
//! Initial[ClientHello] (+ 0-RTT[STREAM…]) ─────────►
//!                        ◄───────── Initial[ServerHello, ACK]
//!                                   Handshake[EE, Cert, CV, Finished]
//!                                   1-RTT[ACK of 0-RTT…]
//! Initial[ACK] Handshake[ACK, Finished] 1-RTT[STREAM…] ─►
//!                        ◄───────── 1-RTT[HANDSHAKE_DONE, NewSessionTicket, ACK]
//! ```
//!
//! The client's handshake completes on the server's Finished (one RTT);
//! its first 1-RTT data leaves with its own Finished and arrives 1.5 RTT
//! after it started. With a ticket it sends 0-RTT data in its first flight.
//! Keys are discarded as RFC 9001 §4.9 says: Initial when the client first
//! sends a Handshake packet and when the server first receives one,
//! Handshake when the handshake is confirmed (HANDSHAKE_DONE).
//!
//! # Path and migration (RFC 9000 §8–§9)
//!
//! Until it receives a Handshake packet, a server sends at most three times
//! what it received (anti-amplification). Once the handshake is confirmed,
//! a non-probing packet with the highest packet number so far arriving from
//! a new address (a peer whose NAT rebound it: the same connection id from
//! another [`NodeId`]) moves the connection there: it sends to the new
//! address at once, within the anti-amplification limit, and validates it
//! with PATH_CHALLENGE / PATH_RESPONSE (re-sent every PTO, given up after
//! max(3 PTO, 6 · kInitialRtt), which reverts to the old address). On
//! validation the congestion controller and RTT estimator start over
//! (§9.4).
//!
//! # Congestion control of the handshake
//!
//! Initial and Handshake packets are not held back by the congestion
//! window (they count in bytes in flight all the same); the handshake is a
//! few kilobytes, bounded by the anti-amplification limit. This departs
//! from RFC 9002 §7 to avoid a deadlock of its pseudocode: if a client's
//! Finished is lost while 1-RTT data the server cannot read yet fills the
//! window, no ACK can open the window, and the PTO, which ignores
//! application data until the handshake is confirmed, is not armed.
//!
//! [`handshake`]: super::handshake

use std::collections::VecDeque;

use rand::RngCore;
use sim_core::{Duration, Instant, NodeId, Output, SimRng};

use super::ack::AckState;
use super::cc::{initial_window, new_controller};
use super::handshake::{Message, Ticket, Tickets, TransportParams, UNEXPECTED};
use super::pacing::Pacer;
use super::packet::{
    datagram_header_len, decode_packet_number, packet_number_len, Frame, Header, PacketType, Repr,
    ACK_DELAY_EXPONENT, MIN_INITIAL_DATAGRAM, TAG_LEN,
};
use super::recovery::{
    AckContext, Outcome, Recovery, SentPacket, Space, Timeout, TimerContext, INITIAL_RTT,
};
use super::streams::{Limits, RecvBuf, SendBuf, Streams};
use super::{CloseReason, PathStats, QuicConfig, QuicNote, TransportError};
use crate::transport::TransportEvent;

/// What a sent packet carried that must be settled when it is acknowledged
/// or declared lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SentFrame {
    /// Stream bytes (and maybe the FIN).
    Stream {
        id: u64,
        offset: u64,
        len: u64,
        fin: bool,
    },
    /// Crypto bytes of the packet's space.
    Crypto { offset: u64, len: u64 },
    /// An ACK frame reporting up to `largest`.
    Ack { largest: u64 },
    /// MAX_DATA.
    MaxData,
    /// MAX_STREAM_DATA for a stream.
    MaxStreamData { id: u64 },
    /// MAX_STREAMS.
    MaxStreams,
    /// HANDSHAKE_DONE.
    HandshakeDone,
}

/// The endpoint state a connection works with.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) out: &'a mut VecDeque<Output<TransportEvent<QuicNote>>>,
    pub(crate) rng: &'a mut SimRng,
    pub(crate) config: &'a QuicConfig,
    pub(crate) tickets: &'a mut Tickets,
}

impl Ctx<'_> {
    fn note(&mut self, note: QuicNote) {
        self.out
            .push_back(Output::Event(TransportEvent::Note(note)));
    }
}

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Client,
    Server,
}

/// What the handshake waits for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// The client waits for ServerHello, the server for ClientHello.
    Hello,
    /// The client waits for EncryptedExtensions.
    Extensions,
    /// The client waits for Certificate.
    Certificate,
    /// The client waits for CertificateVerify.
    CertificateVerify,
    /// Each waits for the other's Finished.
    Finished,
    /// The handshake is complete.
    Done,
}

/// Early data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ZeroRtt {
    None,
    /// The client sends 0-RTT and does not know the answer yet.
    Attempted,
    Accepted,
    Rejected,
}

/// The connection's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// This side closed: it answers packets with its CONNECTION_CLOSE
    /// (at most once per PTO) until `until` (RFC 9000 §10.2.1).
    Closing {
        until: Instant,
        app: bool,
        code: u64,
        last_sent: Instant,
    },
    /// The peer closed: silence until `until` (RFC 9000 §10.2.2).
    Draining {
        until: Instant,
    },
    /// Gone; the endpoint forgets it.
    Closed,
}

/// The connection's timers, as an array of deadlines.
#[derive(Clone, Copy, Debug)]
enum Timer {
    LossDetection,
    Ack,
    Idle,
    Pacing,
    Path,
    Close,
}

const TIMERS: usize = 6;

/// PTO probes sent per expiry (RFC 9002 §6.2.4 allows up to two).
const PROBES: u8 = 2;
/// The crypto stream may run at most this far ahead of what was read
/// (RFC 9000 §7.5 requires at least 4096 bytes).
const MAX_CRYPTO_BUFFER: u64 = 1 << 16;
/// CONNECTION_CLOSE code an application close becomes in Initial and
/// Handshake packets (RFC 9000 §10.2.3).
const APPLICATION_ERROR: u64 = 0x0c;

/// One packet number space's own state.
#[derive(Debug, Default)]
struct PacketSpace {
    next_pn: u64,
    ack: AckState,
    crypto_send: SendBuf,
    crypto_recv: RecvBuf,
    /// How far the handshake read the crypto stream.
    crypto_read: usize,
    /// PTO probes still to send.
    probes: u8,
    discarded: bool,
}

/// A PATH_CHALLENGE in progress.
#[derive(Clone, Copy, Debug)]
struct Challenge {
    data: [u8; 8],
    /// The last validated address, to fall back to.
    previous: NodeId,
    /// Whether the challenge must be (re)sent.
    pending: bool,
    retry: Instant,
    deadline: Instant,
}

/// The current path to the peer.
#[derive(Clone, Copy, Debug)]
struct Path {
    /// Whether the peer's address is validated (no amplification limit).
    validated: bool,
    /// Bytes received from and sent to this address, for the limit.
    received: u64,
    sent: u64,
    challenge: Option<Challenge>,
    /// A PATH_RESPONSE to send.
    response: Option<[u8; 8]>,
}

/// A packet being assembled.
#[derive(Debug)]
struct Built {
    space: Space,
    header: Header,
    payload: Vec<u8>,
    frames: Vec<SentFrame>,
    ack_eliciting: bool,
    /// Whether it carries PADDING (which puts it in flight).
    padded: bool,
}

/// Why a flush stopped sending ack-eliciting packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Blocked {
    No,
    Congestion,
    Pacing,
    Amplification,
}

/// One QUIC connection.
#[derive(Debug)]
pub(crate) struct Connection {
    role: Role,
    local_cid: u64,
    peer_cid: u64,
    /// Whether the client switched to the server's connection id yet.
    peer_cid_known: bool,
    peer: NodeId,
    spaces: [PacketSpace; 3],
    recovery: Recovery,
    streams: Streams,
    pacer: Pacer,
    stage: Stage,
    psk: bool,
    zero_rtt: ZeroRtt,
    confirmed: bool,
    /// Whether the peer validated this endpoint's address (a client learns
    /// it from a Handshake ACK or confirmation).
    peer_validated: bool,
    /// The peer's `max_datagram_frame_size`, once known.
    peer_datagram_limit: Option<u64>,
    path: Path,
    datagrams: VecDeque<Vec<u8>>,
    timers: [Option<Instant>; TIMERS],
    state: State,
    handshake_done_pending: bool,
    idle_timeout: Duration,
    /// Whether the idle timer restarts on the next ack-eliciting send
    /// (RFC 9000 §10.1).
    idle_restart_on_send: bool,
    app_limited: bool,
    mds: u64,
    packets_sent: u64,
    packets_lost: u64,
}

/// This endpoint's transport parameters.
fn local_params(config: &QuicConfig) -> TransportParams {
    TransportParams {
        idle_timeout: config.idle_timeout,
        max_udp_payload_size: config.mds(),
        limits: Limits {
            max_data: config.initial_max_data,
            max_stream_data: config.initial_max_stream_data,
            max_streams: config.max_concurrent_streams,
        },
        max_ack_delay: config.max_ack_delay,
        max_datagram_frame_size: u64::from(config.max_datagram_frame_size),
    }
}

impl Connection {
    fn new(
        role: Role,
        now: Instant,
        peer: NodeId,
        local_cid: u64,
        peer_cid: u64,
        config: &QuicConfig,
    ) -> Self {
        let mds = config.mds();
        let params = local_params(config);
        let mut timers = [None; TIMERS];
        timers[Timer::Idle as usize] =
            (config.idle_timeout > Duration::ZERO).then(|| now.saturating_add(config.idle_timeout));
        Connection {
            role,
            local_cid,
            peer_cid,
            peer_cid_known: role == Role::Server,
            peer,
            spaces: Default::default(),
            recovery: Recovery::new(
                now,
                new_controller(config.congestion_control, mds),
                Duration::ZERO,
            ),
            streams: Streams::new(role == Role::Server, params.limits),
            pacer: Pacer::new(now, initial_window(mds)),
            stage: Stage::Hello,
            psk: false,
            zero_rtt: ZeroRtt::None,
            confirmed: false,
            peer_validated: role == Role::Server,
            peer_datagram_limit: None,
            path: Path {
                validated: role == Role::Client,
                received: 0,
                sent: 0,
                challenge: None,
                response: None,
            },
            datagrams: VecDeque::new(),
            timers,
            state: State::Open,
            handshake_done_pending: false,
            idle_timeout: config.idle_timeout,
            idle_restart_on_send: false,
            app_limited: true,
            mds,
            packets_sent: 0,
            packets_lost: 0,
        }
    }

    /// A client connection to `peer`, its ClientHello queued; with a
    /// `ticket` it resumes, and sends 0-RTT if the config allows.
    pub(crate) fn client(
        now: Instant,
        peer: NodeId,
        local_cid: u64,
        initial_dcid: u64,
        ticket: Option<Ticket>,
        ctx: &mut Ctx<'_>,
    ) -> Self {
        let mut conn =
            Connection::new(Role::Client, now, peer, local_cid, initial_dcid, ctx.config);
        let early_data = ticket.is_some() && ctx.config.zero_rtt;
        if let Some(ticket) = ticket.filter(|_| early_data) {
            conn.zero_rtt = ZeroRtt::Attempted;
            conn.set_peer_params(&ticket.params);
        }
        let hello = Message::ClientHello {
            params: local_params(ctx.config),
            ticket: ticket.map(|t| t.id),
            early_data,
        };
        conn.write_crypto(Space::Initial, &hello, ctx.config);
        conn
    }

    /// A server connection for a client at `peer` whose Initial named
    /// `client_cid` as its source connection id.
    pub(crate) fn server(
        now: Instant,
        peer: NodeId,
        local_cid: u64,
        client_cid: u64,
        config: &QuicConfig,
    ) -> Self {
        Connection::new(Role::Server, now, peer, local_cid, client_cid, config)
    }

    // ----- getters -----

    /// The peer's current address.
    pub(crate) fn peer(&self) -> NodeId {
        self.peer
    }

    /// Whether the connection still carries data (not closing or gone).
    pub(crate) fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Whether the endpoint may forget it.
    pub(crate) fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Counters and estimates for tests and metrics.
    pub(crate) fn stats(&self) -> PathStats {
        PathStats {
            cwnd: self.recovery.window(),
            ssthresh: self.recovery.ssthresh(),
            bytes_in_flight: self.recovery.bytes_in_flight(),
            smoothed_rtt: self.recovery.rtt.smoothed(),
            min_rtt: self.recovery.rtt.min(),
            pto_count: self.recovery.pto_count(),
            packets_sent: self.packets_sent,
            packets_lost: self.packets_lost,
            handshake_confirmed: self.confirmed,
        }
    }

    /// The earliest timer.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    // ----- application input -----

    /// Queues a message on a new stream.
    pub(crate) fn send_message(&mut self, bytes: Vec<u8>, priority: u8) {
        self.streams.push_message(bytes, priority);
    }

    /// Queues an unreliable datagram; the oldest queued one is dropped if
    /// the queue is full.
    pub(crate) fn send_datagram(&mut self, bytes: Vec<u8>, ctx: &mut Ctx<'_>) {
        if self.datagrams.len() >= ctx.config.datagram_queue.max(1) as usize {
            self.datagrams.pop_front();
            ctx.note(QuicNote::DatagramDropped { peer: self.peer });
        }
        self.datagrams.push_back(bytes);
    }

    /// Closes the connection (an application close with code 0).
    pub(crate) fn close(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        if self.state != State::Open {
            return;
        }
        self.note_closed(CloseReason::Local, ctx);
        self.start_closing(now, true, 0, ctx);
    }

    // ----- packets in -----

    /// Whether packets of type `ty` can be read now.
    fn can_read(&self, ty: PacketType) -> bool {
        match ty {
            PacketType::Initial => !self.spaces[0].discarded,
            PacketType::Handshake => self.stage != Stage::Hello && !self.spaces[1].discarded,
            PacketType::ZeroRtt => self.role == Role::Server && self.zero_rtt == ZeroRtt::Accepted,
            PacketType::Short => self.stage == Stage::Done,
        }
    }

    /// Counts a datagram of `len` bytes from `from` towards the
    /// anti-amplification allowance (RFC 9000 §8: all bytes received,
    /// whether or not its packets could be read).
    pub(crate) fn on_datagram(&mut self, from: NodeId, len: usize) {
        if from == self.peer {
            self.path.received += len as u64;
        }
    }

    /// Takes one parsed packet from `from`.
    pub(crate) fn handle_packet(
        &mut self,
        now: Instant,
        from: NodeId,
        repr: &Repr<'_>,
        ctx: &mut Ctx<'_>,
    ) {
        match self.state {
            State::Open => {}
            State::Closing { last_sent, .. } => {
                if now >= last_sent.saturating_add(self.recovery.pto(Space::Data)) {
                    self.send_close(now, ctx);
                }
                return;
            }
            State::Draining { .. } | State::Closed => return,
        }
        let ty = repr.header.ty;
        let space = space_of(ty);
        if !self.can_read(ty) || (from != self.peer && (ty != PacketType::Short || !self.confirmed))
        {
            return;
        }
        let sp = &mut self.spaces[space.index()];
        let pn = decode_packet_number(sp.ack.largest(), repr.header.pn, repr.header.pn_len);
        if sp.ack.is_duplicate(pn) {
            return;
        }
        let largest_before = sp.ack.largest();
        let ack_eliciting = repr.frames.iter().any(Frame::is_ack_eliciting);
        sp.ack.on_packet(
            pn,
            now,
            ack_eliciting,
            space != Space::Data,
            ctx.config.max_ack_delay,
            ctx.config.ack_eliciting_threshold,
        );
        if self.role == Role::Client && ty != PacketType::Short && !self.peer_cid_known {
            self.peer_cid = repr.header.scid;
            self.peer_cid_known = true;
        }
        if self.role == Role::Server && ty == PacketType::Handshake {
            // A Handshake packet proves the client's address (RFC 9000
            // §8.1) and retires the Initial keys (RFC 9001 §4.9.1).
            self.path.validated = true;
            self.discard(Space::Initial, now);
        }
        self.timers[Timer::Idle as usize] = self.idle_deadline(now);
        self.idle_restart_on_send = true;
        if from != self.peer {
            let newest = largest_before.is_none_or(|l| pn > l);
            if newest && repr.frames.iter().any(|f| !f.is_probing()) {
                self.migrate(now, from, ctx);
            }
        }
        for frame in &repr.frames {
            if let Err(error) = self.on_frame(now, space, frame, ctx) {
                self.fail(now, error, ctx);
            }
            if self.state != State::Open {
                return;
            }
        }
    }

    fn on_frame(
        &mut self,
        now: Instant,
        space: Space,
        frame: &Frame<'_>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), TransportError> {
        match *frame {
            Frame::Padding(_) | Frame::Ping => {}
            Frame::Ack(ref ack) => {
                if ack.largest() >= self.spaces[space.index()].next_pn {
                    return Err(TransportError::ProtocolViolation);
                }
                let micros = ack.delay.saturating_mul(1 << ACK_DELAY_EXPONENT);
                let delay = Duration::from_nanos(micros.saturating_mul(1_000));
                if self.role == Role::Client && space == Space::Handshake {
                    self.peer_validated = true;
                }
                let info = AckContext {
                    now,
                    handshake_confirmed: self.confirmed,
                    app_limited: self.app_limited,
                    reset_pto: self.peer_validated,
                };
                let outcome = self
                    .recovery
                    .on_ack_received(space, &ack.ranges, delay, info);
                for (_, packet) in &outcome.acked {
                    for f in &packet.frames {
                        self.on_frame_acked(space, f);
                    }
                }
                self.on_lost(space, outcome, ctx);
            }
            Frame::Crypto { offset, data } => {
                let sp = &mut self.spaces[space.index()];
                if offset + data.len() as u64 > sp.crypto_read as u64 + MAX_CRYPTO_BUFFER {
                    return Err(TransportError::CryptoBufferExceeded);
                }
                sp.crypto_recv.insert(offset, data, false)?;
                self.read_handshake(now, space, ctx)?;
            }
            Frame::Stream {
                id,
                offset,
                data,
                fin,
            } => {
                if let Some(bytes) = self.streams.on_stream_frame(id, offset, data, fin)? {
                    self.deliver(bytes, ctx);
                }
            }
            Frame::MaxData(max) => self.streams.on_max_data(max),
            Frame::MaxStreamData { id, max } => self.streams.on_max_stream_data(id, max)?,
            Frame::MaxStreams { bidi, max } => self.streams.on_max_streams(bidi, max),
            Frame::PathChallenge(data) => self.path.response = Some(data),
            Frame::PathResponse(data) => self.on_path_response(data, ctx),
            Frame::ConnectionClose { app, code, .. } => {
                self.note_closed(CloseReason::Peer { app, code }, ctx);
                self.state = State::Draining {
                    until: now.saturating_add(self.recovery.pto(Space::Data).saturating_mul(3)),
                };
            }
            Frame::HandshakeDone => {
                if self.role == Role::Server {
                    return Err(TransportError::ProtocolViolation);
                }
                self.confirm(now);
            }
            Frame::Datagram(data) => {
                let limit = u64::from(ctx.config.max_datagram_frame_size);
                if frame.buffer_len() as u64 > limit {
                    return Err(TransportError::ProtocolViolation);
                }
                self.deliver(data.to_vec(), ctx);
            }
        }
        Ok(())
    }

    fn deliver(&mut self, bytes: Vec<u8>, ctx: &mut Ctx<'_>) {
        ctx.out.push_back(Output::Event(TransportEvent::Received {
            from: self.peer,
            bytes,
        }));
    }

    /// Settles a frame the peer acknowledged.
    fn on_frame_acked(&mut self, space: Space, frame: &SentFrame) {
        match *frame {
            SentFrame::Stream {
                id,
                offset,
                len,
                fin,
            } => self.streams.on_acked(id, offset, len, fin),
            SentFrame::Crypto { offset, len } => self.spaces[space.index()]
                .crypto_send
                .on_ack(offset, len, false),
            SentFrame::Ack { largest } => self.spaces[space.index()].ack.on_ack_acked(largest),
            SentFrame::MaxData
            | SentFrame::MaxStreamData { .. }
            | SentFrame::MaxStreams
            | SentFrame::HandshakeDone => {}
        }
    }

    /// Queues a lost frame's content to be sent again.
    fn requeue(&mut self, space: Space, frame: &SentFrame) {
        match *frame {
            SentFrame::Stream {
                id,
                offset,
                len,
                fin,
            } => self.streams.on_lost(id, offset, len, fin),
            SentFrame::Crypto { offset, len } => {
                let sp = &mut self.spaces[space.index()];
                if !sp.discarded {
                    sp.crypto_send.on_lost(offset, len, false);
                }
            }
            SentFrame::Ack { .. } => {}
            SentFrame::HandshakeDone => self.handshake_done_pending = true,
            SentFrame::MaxData | SentFrame::MaxStreamData { .. } | SentFrame::MaxStreams => {
                self.streams.on_update_lost(frame)
            }
        }
    }

    /// Reports and requeues what recovery declared lost.
    fn on_lost(&mut self, space: Space, outcome: Outcome, ctx: &mut Ctx<'_>) {
        for lost in &outcome.lost {
            self.packets_lost += 1;
            ctx.note(QuicNote::PacketLost {
                peer: self.peer,
                pn: lost.pn,
                bytes: lost.packet.size,
                by: lost.by,
            });
            for f in &lost.packet.frames {
                self.requeue(space, f);
            }
        }
        if outcome.congestion {
            ctx.note(QuicNote::CongestionEvent {
                peer: self.peer,
                cwnd: self.recovery.window(),
                persistent: outcome.persistent,
            });
        }
    }

    // ----- the handshake -----

    fn write_crypto(&mut self, space: Space, message: &Message, config: &QuicConfig) {
        let mut bytes = Vec::new();
        message.emit(config.certificate_chain, &mut bytes);
        self.spaces[space.index()].crypto_send.write(&bytes);
    }

    /// Reads the handshake messages that have arrived whole at `space`.
    fn read_handshake(
        &mut self,
        now: Instant,
        space: Space,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), TransportError> {
        loop {
            let sp = &mut self.spaces[space.index()];
            let Some((message, len)) =
                Message::read(&sp.crypto_recv.assembled()[sp.crypto_read..])?
            else {
                return Ok(());
            };
            sp.crypto_read += len;
            self.on_message(now, space, message, ctx)?;
        }
    }

    fn on_message(
        &mut self,
        now: Instant,
        space: Space,
        message: Message,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), TransportError> {
        let config = ctx.config;
        match (self.role, space, self.stage, message) {
            (
                Role::Server,
                Space::Initial,
                Stage::Hello,
                Message::ClientHello {
                    params,
                    ticket,
                    early_data,
                },
            ) => {
                self.set_peer_params(&params);
                self.psk = ticket.is_some_and(|id| ctx.tickets.redeem(id, now));
                let accepted = self.psk && early_data && config.zero_rtt;
                if early_data {
                    self.zero_rtt = if accepted {
                        ZeroRtt::Accepted
                    } else {
                        ZeroRtt::Rejected
                    };
                    ctx.note(QuicNote::ZeroRtt {
                        peer: self.peer,
                        accepted,
                    });
                }
                self.write_crypto(
                    Space::Initial,
                    &Message::ServerHello { psk: self.psk },
                    config,
                );
                let extensions = Message::EncryptedExtensions {
                    params: local_params(config),
                    early_data: accepted,
                };
                self.write_crypto(Space::Handshake, &extensions, config);
                if !self.psk {
                    self.write_crypto(Space::Handshake, &Message::Certificate, config);
                    self.write_crypto(Space::Handshake, &Message::CertificateVerify, config);
                }
                self.write_crypto(Space::Handshake, &Message::Finished, config);
                self.stage = Stage::Finished;
            }
            (Role::Client, Space::Initial, Stage::Hello, Message::ServerHello { psk }) => {
                self.psk = psk;
                self.stage = Stage::Extensions;
            }
            (
                Role::Client,
                Space::Handshake,
                Stage::Extensions,
                Message::EncryptedExtensions { params, early_data },
            ) => {
                self.set_peer_params(&params);
                if self.zero_rtt == ZeroRtt::Attempted {
                    self.zero_rtt = if early_data {
                        ZeroRtt::Accepted
                    } else {
                        ZeroRtt::Rejected
                    };
                }
                self.stage = if self.psk {
                    Stage::Finished
                } else {
                    Stage::Certificate
                };
            }
            (Role::Client, Space::Handshake, Stage::Certificate, Message::Certificate) => {
                self.stage = Stage::CertificateVerify;
            }
            (
                Role::Client,
                Space::Handshake,
                Stage::CertificateVerify,
                Message::CertificateVerify,
            ) => {
                self.stage = Stage::Finished;
            }
            (Role::Client, Space::Handshake, Stage::Finished, Message::Finished) => {
                self.write_crypto(Space::Handshake, &Message::Finished, config);
                self.stage = Stage::Done;
                match self.zero_rtt {
                    ZeroRtt::Rejected => {
                        // Everything sent as 0-RTT goes again as 1-RTT.
                        for packet in self.recovery.remove_zero_rtt() {
                            for f in &packet.frames {
                                self.requeue(Space::Data, f);
                            }
                        }
                        ctx.note(QuicNote::ZeroRtt {
                            peer: self.peer,
                            accepted: false,
                        });
                    }
                    ZeroRtt::Accepted => ctx.note(QuicNote::ZeroRtt {
                        peer: self.peer,
                        accepted: true,
                    }),
                    ZeroRtt::None | ZeroRtt::Attempted => {}
                }
                self.note_handshake_done(ctx);
            }
            (Role::Server, Space::Handshake, Stage::Finished, Message::Finished) => {
                self.stage = Stage::Done;
                self.confirm(now);
                self.handshake_done_pending = true;
                let id = ctx.rng.next_u64();
                let expires = now.saturating_add(config.ticket_lifetime);
                ctx.tickets.issue(id, expires, now);
                let ticket = Message::NewSessionTicket {
                    lifetime: config.ticket_lifetime,
                    id,
                    params: local_params(config),
                };
                self.write_crypto(Space::Data, &ticket, config);
                self.note_handshake_done(ctx);
            }
            (
                Role::Client,
                Space::Data,
                Stage::Done,
                Message::NewSessionTicket {
                    lifetime,
                    id,
                    params,
                },
            ) => {
                let expires = now.saturating_add(lifetime);
                ctx.tickets.hold(
                    self.peer,
                    Ticket {
                        id,
                        params,
                        expires,
                    },
                );
            }
            _ => return Err(UNEXPECTED),
        }
        Ok(())
    }

    fn note_handshake_done(&self, ctx: &mut Ctx<'_>) {
        ctx.note(QuicNote::HandshakeDone {
            peer: self.peer,
            rtt: self.recovery.rtt.smoothed(),
            resumed: self.psk,
        });
    }

    /// Takes the peer's transport parameters (or those remembered in a
    /// ticket).
    fn set_peer_params(&mut self, params: &TransportParams) {
        self.streams.set_peer_limits(params.limits);
        self.recovery.max_ack_delay = params.max_ack_delay;
        self.peer_datagram_limit = Some(params.max_datagram_frame_size);
        // The idle timeout is the smaller of the two, zero meaning none
        // (RFC 9000 §10.1).
        if params.idle_timeout > Duration::ZERO {
            self.idle_timeout = if self.idle_timeout == Duration::ZERO {
                params.idle_timeout
            } else {
                self.idle_timeout.min(params.idle_timeout)
            };
        }
    }

    /// When the connection times out if nothing happens from `now` on: the
    /// negotiated idle timeout, but at least three PTOs (RFC 9000 §10.1).
    fn idle_deadline(&self, now: Instant) -> Option<Instant> {
        (self.idle_timeout > Duration::ZERO).then(|| {
            let pto = self.recovery.pto(Space::Data).saturating_mul(3);
            now.saturating_add(self.idle_timeout.max(pto))
        })
    }

    /// The handshake is confirmed: Handshake keys go (RFC 9001 §4.9.2).
    fn confirm(&mut self, now: Instant) {
        self.confirmed = true;
        self.peer_validated = true;
        self.discard(Space::Handshake, now);
    }

    fn discard(&mut self, space: Space, now: Instant) {
        let sp = &mut self.spaces[space.index()];
        if !sp.discarded {
            *sp = PacketSpace {
                next_pn: sp.next_pn,
                discarded: true,
                ..PacketSpace::default()
            };
            self.recovery.discard(space, now);
        }
    }

    // ----- path -----

    fn migrate(&mut self, now: Instant, to: NodeId, ctx: &mut Ctx<'_>) {
        if self.path.challenge.is_some_and(|c| c.previous == to) {
            // Back to the last validated address before the new one was
            // validated: that one is abandoned, and needs no validation.
            let abandoned = self.peer;
            self.abandon_path(to);
            ctx.note(QuicNote::MigrationFailed {
                from: abandoned,
                back_to: to,
            });
            return;
        }
        let pto = self.recovery.pto(Space::Data);
        let previous = self.path.challenge.map_or(self.peer, |c| c.previous);
        let mut data = [0; 8];
        ctx.rng.fill_bytes(&mut data);
        self.peer = to;
        self.path = Path {
            validated: false,
            received: 0,
            sent: 0,
            challenge: Some(Challenge {
                data,
                previous,
                pending: true,
                retry: now.saturating_add(pto),
                deadline: now
                    .saturating_add(pto.saturating_mul(3).max(INITIAL_RTT.saturating_mul(6))),
            }),
            response: None,
        };
    }

    fn on_path_response(&mut self, data: [u8; 8], ctx: &mut Ctx<'_>) {
        let Some(challenge) = self.path.challenge.filter(|c| c.data == data) else {
            return;
        };
        self.path.challenge = None;
        self.path.validated = true;
        self.recovery
            .reset_path(new_controller(ctx.config.congestion_control, self.mds));
        ctx.note(QuicNote::Migrated {
            from: challenge.previous,
            to: self.peer,
        });
    }

    /// Goes back to the validated address `to`.
    fn abandon_path(&mut self, to: NodeId) {
        self.peer = to;
        self.path = Path {
            validated: true,
            received: 0,
            sent: 0,
            challenge: None,
            response: None,
        };
    }

    fn on_path_timer(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let Some(challenge) = self.path.challenge else {
            return;
        };
        if now >= challenge.deadline {
            let failed = self.peer;
            self.abandon_path(challenge.previous);
            ctx.note(QuicNote::MigrationFailed {
                from: failed,
                back_to: self.peer,
            });
        } else if now >= challenge.retry {
            let retry = now.saturating_add(self.recovery.pto(Space::Data));
            self.path.challenge = Some(Challenge {
                pending: true,
                retry,
                ..challenge
            });
        }
    }

    // ----- timers -----

    fn timer_context(&self, now: Instant) -> TimerContext {
        TimerContext {
            now,
            handshake_confirmed: self.confirmed,
            peer_validated: self.peer_validated,
            has_handshake_keys: self.stage != Stage::Hello && !self.spaces[1].discarded,
            amplification_blocked: !self.path.validated && self.path.sent >= 3 * self.path.received,
        }
    }

    /// Runs whatever timers are due at `now`, then sends.
    pub(crate) fn handle_timeout(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let due = |t: Timer, timers: &[Option<Instant>; TIMERS]| {
            timers[t as usize].is_some_and(|at| at <= now)
        };
        match self.state {
            State::Open => {}
            State::Closing { until, .. } | State::Draining { until } => {
                if until <= now {
                    self.state = State::Closed;
                    self.timers = [None; TIMERS];
                }
                return;
            }
            State::Closed => return,
        }
        if due(Timer::Idle, &self.timers) {
            self.note_closed(CloseReason::IdleTimeout, ctx);
            self.state = State::Closed;
            self.timers = [None; TIMERS];
            return;
        }
        if due(Timer::LossDetection, &self.timers) {
            self.on_loss_timeout(now, ctx);
        }
        if due(Timer::Path, &self.timers) {
            self.on_path_timer(now, ctx);
        }
        self.flush(now, ctx);
    }

    fn on_loss_timeout(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let tctx = self.timer_context(now);
        match self.recovery.on_timeout(&tctx) {
            Some(Timeout::Lost(space, outcome)) => self.on_lost(space, outcome, ctx),
            Some(Timeout::Probe(space)) => {
                ctx.note(QuicNote::Pto {
                    peer: self.peer,
                    count: self.recovery.pto_count(),
                });
                self.spaces[space.index()].probes = PROBES;
                if !self.has_new_data(space) {
                    // Nothing new to probe with: send the oldest data in
                    // flight again (RFC 9002 §6.2.4).
                    let frames = self
                        .recovery
                        .oldest_in_flight(space)
                        .map(<[SentFrame]>::to_vec);
                    for f in frames.iter().flatten() {
                        self.requeue(space, f);
                    }
                }
            }
            None => {}
        }
    }

    /// Whether `space` has data never sent.
    fn has_new_data(&self, space: Space) -> bool {
        let sp = &self.spaces[space.index()];
        sp.crypto_send.has_data()
            || (space == Space::Data && (self.streams.has_data() || !self.datagrams.is_empty()))
    }

    fn set_timers(&mut self, now: Instant) {
        let loss = match self.state {
            State::Open => self.recovery.loss_detection_timer(&self.timer_context(now)),
            _ => None,
        };
        self.timers[Timer::LossDetection as usize] = loss;
        // A delayed ACK that could not go (no keys, amplification) waits
        // for the next packet instead of waking us in a loop.
        self.timers[Timer::Ack as usize] = self.spaces[Space::Data.index()]
            .ack
            .deadline()
            .filter(|&d| d > now);
        self.timers[Timer::Path as usize] = self.path.challenge.map(|c| c.retry.min(c.deadline));
        self.timers[Timer::Close as usize] = match self.state {
            State::Closing { until, .. } | State::Draining { until } => Some(until),
            _ => None,
        };
        if self.state != State::Open {
            for t in [
                Timer::LossDetection,
                Timer::Ack,
                Timer::Idle,
                Timer::Pacing,
                Timer::Path,
            ] {
                self.timers[t as usize] = None;
            }
        }
    }

    // ----- closing -----

    fn note_closed(&self, reason: CloseReason, ctx: &mut Ctx<'_>) {
        ctx.note(QuicNote::Closed {
            peer: self.peer,
            reason,
            unsent: self.streams.unfinished() as u64,
        });
    }

    /// Closes on a protocol error of the peer's.
    fn fail(&mut self, now: Instant, error: TransportError, ctx: &mut Ctx<'_>) {
        if self.state == State::Open {
            self.note_closed(CloseReason::Error(error), ctx);
            self.start_closing(now, false, error.code(), ctx);
        }
    }

    fn start_closing(&mut self, now: Instant, app: bool, code: u64, ctx: &mut Ctx<'_>) {
        self.state = State::Closing {
            until: now.saturating_add(self.recovery.pto(Space::Data).saturating_mul(3)),
            app,
            code,
            last_sent: now,
        };
        self.send_close(now, ctx);
        self.set_timers(now);
    }

    /// Sends CONNECTION_CLOSE in the highest space that has keys.
    fn send_close(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let State::Closing {
            until, app, code, ..
        } = self.state
        else {
            return;
        };
        self.state = State::Closing {
            until,
            app,
            code,
            last_sent: now,
        };
        let (space, ty) = if self.stage == Stage::Done
            || (self.role == Role::Server && self.stage == Stage::Finished)
        {
            (Space::Data, PacketType::Short)
        } else if self.stage != Stage::Hello && !self.spaces[1].discarded {
            (Space::Handshake, PacketType::Handshake)
        } else {
            (Space::Initial, PacketType::Initial)
        };
        let long = ty != PacketType::Short;
        let frame = Frame::ConnectionClose {
            app: app && !long,
            code: if app && long { APPLICATION_ERROR } else { code },
            frame_type: 0,
            reason: &[],
        };
        let mut payload = Vec::new();
        frame.emit(&mut payload);
        let header = self.header(ty, self.spaces[space.index()].next_pn, space);
        self.spaces[space.index()].next_pn += 1;
        if ty == PacketType::Initial {
            let size = header.buffer_len(payload.len()) + payload.len() + TAG_LEN;
            payload.resize(payload.len() + MIN_INITIAL_DATAGRAM.saturating_sub(size), 0);
        }
        let mut bytes = Vec::new();
        header.emit(&payload, &mut bytes);
        ctx.out.push_back(Output::Transmit {
            to: self.peer,
            bytes: bytes.into(),
        });
    }

    // ----- packets out -----

    fn header(&self, ty: PacketType, pn: u64, space: Space) -> Header {
        Header {
            ty,
            dcid: self.peer_cid,
            scid: self.local_cid,
            pn,
            pn_len: packet_number_len(pn, self.recovery.largest_acked(space)),
        }
    }

    /// The packet type application data goes in now, if any.
    fn data_packet_type(&self) -> Option<PacketType> {
        let short = match self.role {
            Role::Client => self.stage == Stage::Done,
            Role::Server => matches!(self.stage, Stage::Finished | Stage::Done),
        };
        if short {
            Some(PacketType::Short)
        } else if self.zero_rtt == ZeroRtt::Attempted {
            Some(PacketType::ZeroRtt)
        } else {
            None
        }
    }

    /// The packet type `space` can be sent in now, if any.
    fn packet_type(&self, space: Space) -> Option<PacketType> {
        match space {
            Space::Initial => (!self.spaces[0].discarded).then_some(PacketType::Initial),
            Space::Handshake => (self.stage != Stage::Hello && !self.spaces[1].discarded)
                .then_some(PacketType::Handshake),
            Space::Data => self.data_packet_type(),
        }
    }

    /// Sends everything that may be sent now, then re-arms the timers.
    pub(crate) fn flush(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        if self.state != State::Open {
            self.set_timers(now);
            return;
        }
        self.timers[Timer::Pacing as usize] = None;
        let mut blocked = Blocked::No;
        while let Some(bytes) = self.build_datagram(now, &mut blocked, ctx) {
            ctx.out.push_back(Output::Transmit {
                to: self.peer,
                bytes: bytes.into(),
            });
        }
        self.app_limited =
            blocked == Blocked::No && self.recovery.bytes_in_flight() < self.recovery.window();
        self.set_timers(now);
    }

    /// Builds one datagram of coalesced packets, or `None` if nothing may
    /// be sent.
    fn build_datagram(
        &mut self,
        now: Instant,
        blocked: &mut Blocked,
        ctx: &mut Ctx<'_>,
    ) -> Option<Vec<u8>> {
        let mut budget = self.mds as usize;
        if !self.path.validated {
            let allowance = (3 * self.path.received).saturating_sub(self.path.sent);
            budget = budget.min(usize::try_from(allowance).unwrap_or(usize::MAX));
        }
        let mut packets: Vec<Built> = Vec::new();
        let mut used = 0;
        for space in Space::ALL {
            let Some(ty) = self.packet_type(space) else {
                continue;
            };
            if let Some(p) = self.build_packet(now, space, ty, budget - used, blocked, ctx) {
                used += p.header.buffer_len(p.payload.len()) + p.payload.len() + TAG_LEN;
                packets.push(p);
            }
        }
        if packets.is_empty() {
            if !self.path.validated && budget < self.mds as usize {
                *blocked = Blocked::Amplification;
            }
            return None;
        }
        // RFC 9000 §14.1: datagrams with a client's Initial, or with an
        // ack-eliciting Initial, are padded to 1200 bytes.
        let initial = packets.iter().any(|p| {
            p.header.ty == PacketType::Initial && (self.role == Role::Client || p.ack_eliciting)
        });
        if initial && used < MIN_INITIAL_DATAGRAM {
            let pad = (MIN_INITIAL_DATAGRAM - used).min(budget - used);
            if let Some(last) = packets.last_mut() {
                last.payload.resize(last.payload.len() + pad, 0);
                last.padded |= pad > 0;
            }
        }
        let mut bytes = Vec::with_capacity(self.mds as usize);
        let mut sent_handshake = false;
        for p in packets {
            let start = bytes.len();
            p.header.emit(&p.payload, &mut bytes);
            let size = (bytes.len() - start) as u64;
            sent_handshake |= p.header.ty == PacketType::Handshake;
            if p.ack_eliciting && p.space == Space::Data {
                self.pacer.on_sent(size);
            }
            self.packets_sent += 1;
            self.recovery.on_packet_sent(
                p.space,
                p.header.pn,
                SentPacket {
                    time_sent: now,
                    size,
                    ack_eliciting: p.ack_eliciting,
                    in_flight: p.ack_eliciting || p.padded,
                    zero_rtt: p.header.ty == PacketType::ZeroRtt,
                    frames: p.frames,
                },
            );
            if p.ack_eliciting && self.idle_restart_on_send {
                self.idle_restart_on_send = false;
                self.timers[Timer::Idle as usize] = self.idle_deadline(now);
            }
        }
        self.path.sent += bytes.len() as u64;
        if self.role == Role::Client && sent_handshake {
            self.discard(Space::Initial, now);
        }
        Some(bytes)
    }

    /// Whether `space` has ack-eliciting frames to send in a `ty` packet.
    fn wants_to_send(&self, space: Space, ty: PacketType) -> bool {
        let sp = &self.spaces[space.index()];
        if sp.probes > 0 || (ty != PacketType::ZeroRtt && sp.crypto_send.has_data()) {
            return true;
        }
        space == Space::Data
            && (self.streams.has_data()
                || self.streams.has_updates()
                || !self.datagrams.is_empty()
                || (ty == PacketType::Short
                    && (self.handshake_done_pending
                        || self.path.response.is_some()
                        || self.path.challenge.is_some_and(|c| c.pending))))
    }

    /// Builds one packet of `space` in at most `room` bytes.
    fn build_packet(
        &mut self,
        now: Instant,
        space: Space,
        ty: PacketType,
        room: usize,
        blocked: &mut Blocked,
        ctx: &mut Ctx<'_>,
    ) -> Option<Built> {
        let header = self.header(ty, self.spaces[space.index()].next_pn, space);
        let overhead = header.buffer_len(room) + TAG_LEN;
        if room < overhead + 8 {
            return None;
        }
        let room = room - overhead;
        let sp = &self.spaces[space.index()];
        let probe = sp.probes > 0;
        let ack = if ty == PacketType::ZeroRtt {
            None
        } else {
            sp.ack.frame(now)
        };
        let ack_due = ack.is_some() && sp.ack.is_due(now);
        let mut allow = self.wants_to_send(space, ty);
        // Only application data waits for the congestion window and the
        // pacer (see the module docs).
        if allow && !probe && space == Space::Data {
            if self.recovery.bytes_in_flight() + self.mds > self.recovery.window() {
                *blocked = Blocked::Congestion;
                allow = false;
            } else if ctx.config.pacing {
                let srtt = self.recovery.rtt.smoothed();
                let at = self
                    .pacer
                    .release_time(now, self.mds, self.recovery.window(), srtt);
                if at > now {
                    *blocked = Blocked::Pacing;
                    self.timers[Timer::Pacing as usize] = Some(at);
                    allow = false;
                }
            }
        }
        if !allow && !ack_due {
            return None;
        }
        let mut payload = Vec::with_capacity(room);
        let mut frames = Vec::new();
        if let Some(ack) = ack {
            let largest = ack.largest();
            let frame = Frame::Ack(ack);
            if frame.buffer_len() <= room {
                frame.emit(&mut payload);
                frames.push(SentFrame::Ack { largest });
                self.spaces[space.index()].ack.on_ack_sent();
            }
        }
        let acks_only = payload.len();
        if allow {
            self.write_frames(space, ty, &mut payload, room, &mut frames, ctx);
        }
        let sp = &mut self.spaces[space.index()];
        let mut ack_eliciting = payload.len() > acks_only;
        if probe && !ack_eliciting && payload.len() < room {
            Frame::Ping.emit(&mut payload);
            ack_eliciting = true;
        }
        if probe && ack_eliciting {
            sp.probes -= 1;
        }
        if payload.is_empty() {
            return None;
        }
        // Header protection samples 4 bytes past the packet number's start
        // (RFC 9001 §5.4.2): pad short payloads.
        let short = 4usize.saturating_sub(header.pn_len + payload.len());
        payload.resize(payload.len() + short, 0);
        sp.next_pn += 1;
        Some(Built {
            space,
            header,
            payload,
            frames,
            ack_eliciting,
            padded: short > 0,
        })
    }

    /// Writes the ack-eliciting frames of a packet: path and handshake
    /// control, flow-control updates, CRYPTO, DATAGRAM, then STREAM.
    fn write_frames(
        &mut self,
        space: Space,
        ty: PacketType,
        payload: &mut Vec<u8>,
        room: usize,
        frames: &mut Vec<SentFrame>,
        ctx: &mut Ctx<'_>,
    ) {
        let fits =
            |payload: &Vec<u8>, frame: &Frame<'_>| payload.len() + frame.buffer_len() <= room;
        if ty == PacketType::Short {
            if let Some(data) = self.path.response {
                let frame = Frame::PathResponse(data);
                if fits(payload, &frame) {
                    frame.emit(payload);
                    self.path.response = None;
                }
            }
            if let Some(challenge) = self.path.challenge.as_mut().filter(|c| c.pending) {
                let frame = Frame::PathChallenge(challenge.data);
                if fits(payload, &frame) {
                    frame.emit(payload);
                    challenge.pending = false;
                }
            }
            if self.handshake_done_pending && fits(payload, &Frame::HandshakeDone) {
                Frame::HandshakeDone.emit(payload);
                frames.push(SentFrame::HandshakeDone);
                self.handshake_done_pending = false;
            }
        }
        if space == Space::Data {
            self.streams
                .write_updates(payload, room.saturating_sub(payload.len()), frames);
        }
        if ty != PacketType::ZeroRtt {
            let crypto = &mut self.spaces[space.index()].crypto_send;
            loop {
                let header = 1 + 8 + 2;
                let Some(left) = room.checked_sub(payload.len() + header).filter(|&l| l > 0) else {
                    break;
                };
                let Some((offset, len, _)) = crypto.next_segment(left, u64::MAX) else {
                    break;
                };
                Frame::Crypto {
                    offset,
                    data: crypto.bytes(offset, len),
                }
                .emit(payload);
                frames.push(SentFrame::Crypto {
                    offset,
                    len: len as u64,
                });
            }
        }
        if space != Space::Data {
            return;
        }
        while let Some(data) = self.datagrams.front() {
            let frame_len = datagram_header_len(data.len()) + data.len();
            if self
                .peer_datagram_limit
                .is_some_and(|limit| frame_len as u64 > limit)
            {
                self.datagrams.pop_front();
                ctx.note(QuicNote::DatagramDropped { peer: self.peer });
                continue;
            }
            if payload.len() + frame_len > room {
                break;
            }
            Frame::Datagram(data).emit(payload);
            self.datagrams.pop_front();
        }
        self.streams
            .write_frames(payload, room.saturating_sub(payload.len()), frames);
    }
}

/// The space a packet type's packets are numbered in.
fn space_of(ty: PacketType) -> Space {
    match ty {
        PacketType::Initial => Space::Initial,
        PacketType::Handshake => Space::Handshake,
        PacketType::ZeroRtt | PacketType::Short => Space::Data,
    }
}
