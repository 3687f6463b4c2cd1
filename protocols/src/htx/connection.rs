//! One peer's connection: its handshake, its windows, its timers, and the
//! frames it sends.
//!
//! A connection is opened by a `send` to a peer it does not have (this side
//! is the initiator: a client hello goes out, and data waits for the server
//! hello) or by a client hello from one (the responder: a server hello goes
//! back, and its own data waits until the initiator's first sealed frame
//! proves that the initiator holds the key). Everything after the hellos is
//! sealed. The [`Htx`](super::Htx) owns the connections and routes frames
//! and timeouts to them; a connection marks itself closed and the `Htx`
//! removes it.
//!
//! Timers are plain data: one deadline per [`Timer`] kind.
//!
//! - `Retransmit`: the RFC 6298 timer. While the client hello is
//!   unanswered it resends the hello; later it resends the lowest
//!   unacknowledged data frame. Each expiry doubles the timeout; an ack that
//!   acknowledges something new restarts it.
//! - `Ack`: a delayed acknowledgement (see
//!   [`HtxConfig::ack_delay`](super::HtxConfig::ack_delay)).
//! - `Idle`: nothing heard from the peer for `idle_timeout`.
//! - `Keepalive`: nothing sent for `keepalive`: send a ping.

use std::collections::VecDeque;

use sim_core::{Duration, Instant, NodeId, Output};

use super::compress::{compress, decompress};
use super::config::Compression;
use super::crypto::{KeyPair, Role, Session};
use super::frame::{
    Ack, Body, Flags, Hello, Kind, Packet, Repr, KEY_LEN, MAX_SACK_RANGES, TAG_LEN,
};
use super::rtt::Rtt;
use super::window::{Arrival, RecvWindow, SendWindow};
use super::{CloseReason, HtxConfig, HtxNote, PeerStats, Reject};
use crate::transport::TransportEvent;

/// What one input makes a connection do, and where its outputs go.
#[derive(Debug)]
pub(super) struct Ctx<'a> {
    /// The input's time.
    pub(super) now: Instant,
    /// The node's parameters.
    pub(super) config: &'a HtxConfig,
    /// The node's output queue.
    pub(super) out: &'a mut VecDeque<Output<TransportEvent<HtxNote>>>,
}

impl Ctx<'_> {
    pub(super) fn note(&mut self, note: HtxNote) {
        self.out
            .push_back(Output::Event(TransportEvent::Note(note)));
    }
}

/// The kinds of deadline a connection keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Retransmit,
    Ack,
    Idle,
    Keepalive,
}

impl Timer {
    /// In the order a due set is handled: idling out first.
    const ALL: [Timer; 4] = [Timer::Idle, Timer::Retransmit, Timer::Ack, Timer::Keepalive];
}

/// Where the handshake stands.
#[derive(Debug)]
enum Handshake {
    /// Initiator: the client hello is out (kept, to be sent again).
    HelloSent { keys: KeyPair, hello: Vec<u8> },
    /// Responder: the server hello is out (kept, to answer a repeated
    /// client hello); waiting for the initiator's first sealed frame.
    Answered { server_hello: Vec<u8> },
    /// Data flows both ways.
    Established,
}

/// One peer's connection.
#[derive(Debug)]
pub(super) struct Connection {
    peer: NodeId,
    handshake: Handshake,
    /// The keys, once agreed.
    session: Option<Session>,
    /// The peer's hello key, once known: tells a repeated client hello
    /// from a restarted peer's.
    peer_public: Option<[u8; KEY_LEN]>,
    /// When this side's hello left: the handshake RTT's start.
    opened: Instant,
    send: SendWindow,
    recv: RecvWindow,
    rtt: Rtt,
    /// The next sequence number of a sealed frame that is not data.
    control_seq: u32,
    /// In-order data frames not yet acknowledged.
    pending_acks: u32,
    /// Whether data is waiting for credit (noted once per stall).
    stalled: bool,
    timers: [Option<Instant>; Timer::ALL.len()],
    closed: Option<CloseReason>,
}

impl Connection {
    fn new(
        peer: NodeId,
        handshake: Handshake,
        session: Option<Session>,
        peer_public: Option<[u8; KEY_LEN]>,
        send: SendWindow,
        ctx: &Ctx,
    ) -> Connection {
        let config = ctx.config;
        let mut conn = Connection {
            peer,
            handshake,
            session,
            peer_public,
            opened: ctx.now,
            send,
            recv: RecvWindow::new(config.window()),
            rtt: Rtt::new(config.initial_rto, config.min_rto, config.max_rto),
            control_seq: 0,
            pending_acks: 0,
            stalled: false,
            timers: [None; Timer::ALL.len()],
            closed: None,
        };
        conn.arm(Timer::Idle, ctx.now.saturating_add(config.idle_timeout));
        conn
    }

    /// Opens a connection to `peer` as the initiator: sends the client
    /// hello.
    pub(super) fn initiate(peer: NodeId, keys: KeyPair, ctx: &mut Ctx) -> Connection {
        let hello = Body::ClientHello(Hello {
            public: keys.public(),
            window: ctx.config.window(),
        });
        let hello = encode(&hello, Flags::NONE, 0, None, ctx);
        let handshake = Handshake::HelloSent {
            keys,
            hello: hello.clone(),
        };
        let mut conn = Connection::new(peer, handshake, None, None, SendWindow::new(0), ctx);
        conn.transmit(hello, ctx);
        conn.arm(Timer::Retransmit, ctx.now.saturating_add(conn.rtt.rto()));
        conn
    }

    /// Answers `peer`'s client hello as the responder, with the `session`
    /// agreed from it and this side's `public` key; `send` holds what this
    /// side already wants to send (after a simultaneous open).
    pub(super) fn answer(
        peer: NodeId,
        session: Session,
        public: [u8; KEY_LEN],
        hello: &Hello,
        mut send: SendWindow,
        ctx: &mut Ctx,
    ) -> Connection {
        let server_hello = Body::ServerHello(Hello {
            public,
            window: ctx.config.window(),
        });
        let server_hello = encode(&server_hello, Flags::NONE, 0, None, ctx);
        send.raise_limit(u64::from(hello.window));
        let handshake = Handshake::Answered {
            server_hello: server_hello.clone(),
        };
        let mut conn = Connection::new(
            peer,
            handshake,
            Some(session),
            Some(hello.public),
            send,
            ctx,
        );
        conn.transmit(server_hello, ctx);
        conn
    }

    /// The initiator's key pair, while its client hello is unanswered.
    pub(super) fn hello_keys(&self) -> Option<&KeyPair> {
        match &self.handshake {
            Handshake::HelloSent { keys, .. } => Some(keys),
            _ => None,
        }
    }

    /// The peer's hello key, once known.
    pub(super) fn peer_public(&self) -> Option<[u8; KEY_LEN]> {
        self.peer_public
    }

    /// Whether data flows.
    pub(super) fn established(&self) -> bool {
        matches!(self.handshake, Handshake::Established)
    }

    /// Why the connection closed, once it has.
    pub(super) fn closed(&self) -> Option<CloseReason> {
        self.closed
    }

    /// Messages the peer has not wholly received.
    pub(super) fn undelivered(&self) -> usize {
        self.send.undelivered()
    }

    /// A snapshot for metrics.
    pub(super) fn stats(&self) -> PeerStats {
        PeerStats {
            established: self.established(),
            srtt: self.rtt.srtt(),
            rto: self.rtt.rto(),
            sent_bytes: self.send.sent_bytes(),
            unacked_bytes: self.send.unacked_bytes(),
            received_bytes: self.recv.consumed(),
            held_bytes: self.recv.held_bytes(),
            undelivered: self.send.undelivered(),
        }
    }

    /// The connection's send window, to carry into a new connection.
    pub(super) fn into_send(self) -> SendWindow {
        self.send
    }

    /// The earliest deadline.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    fn arm(&mut self, timer: Timer, at: Instant) {
        self.timers[timer as usize] = Some(at);
    }

    fn disarm(&mut self, timer: Timer) {
        self.timers[timer as usize] = None;
    }

    /// Queues an application message and sends what may leave.
    pub(super) fn push(&mut self, bytes: Vec<u8>, ctx: &mut Ctx) {
        self.send.push(bytes);
        self.flush(ctx);
    }

    /// The responder's answer to a repeated client hello: the same server
    /// hello, while the initiator has not shown it has the key.
    pub(super) fn repeat_server_hello(&mut self, ctx: &mut Ctx) {
        if let Handshake::Answered { server_hello, .. } = &self.handshake {
            let bytes = server_hello.clone();
            self.transmit(bytes, ctx);
        }
    }

    /// The server hello: the initiator's session starts. Ignored unless a
    /// client hello is waiting for it.
    pub(super) fn on_server_hello(&mut self, hello: &Hello, ctx: &mut Ctx) -> Result<(), Reject> {
        let Some(keys) = self.hello_keys() else {
            return Ok(());
        };
        let session = keys
            .agree(Role::Initiator, &hello.public)
            .map_err(|_| Reject::Auth)?;
        self.session = Some(session);
        self.peer_public = Some(hello.public);
        self.send.raise_limit(u64::from(hello.window));
        self.disarm(Timer::Retransmit);
        self.heard(ctx);
        self.establish(true, ctx);
        self.flush(ctx);
        Ok(())
    }

    /// A sealed frame from the peer: opened, checked, acted on.
    pub(super) fn on_sealed(
        &mut self,
        packet: &Packet<&[u8]>,
        repr: &Repr,
        ctx: &mut Ctx,
    ) -> Result<(), Reject> {
        let session = self.session.as_ref().ok_or(Reject::NoSession)?;
        let plain = session
            .open(packet.header(), repr.kind, repr.seq, packet.payload())
            .map_err(|_| Reject::Auth)?;
        let body = Body::parse(repr.kind, &plain).map_err(|_| Reject::Malformed)?;
        self.heard(ctx);
        match body {
            Body::Data(bytes) => {
                let bytes = if repr.flags.contains(Flags::COMPRESSED) {
                    decompress(bytes).ok_or(Reject::Malformed)?
                } else {
                    bytes.to_vec()
                };
                self.on_data(repr.seq, bytes, repr.flags.contains(Flags::END), ctx)
            }
            Body::Ack(ack) => self.on_ack(&ack, ctx),
            Body::WindowUpdate(limit) => {
                self.send.raise_limit(limit);
                self.flush(ctx);
                Ok(())
            }
            Body::Ping => {
                self.send_ack(ctx);
                Ok(())
            }
            Body::Close => {
                self.closed = Some(CloseReason::Remote);
                Ok(())
            }
            // A sealed type never parses as a hello.
            Body::ClientHello(_) | Body::ServerHello(_) => Err(Reject::Malformed),
        }
    }

    /// An authentic frame arrived: the idle timer restarts, and a
    /// responder learns that the initiator holds the key.
    fn heard(&mut self, ctx: &mut Ctx) {
        self.arm(Timer::Idle, ctx.now.saturating_add(ctx.config.idle_timeout));
        if matches!(self.handshake, Handshake::Answered { .. }) {
            self.establish(false, ctx);
            self.flush(ctx);
        }
    }

    fn establish(&mut self, initiator: bool, ctx: &mut Ctx) {
        self.handshake = Handshake::Established;
        ctx.note(HtxNote::Established {
            peer: self.peer,
            initiator,
            handshake_rtt: ctx.now.saturating_duration_since(self.opened),
        });
    }

    fn on_data(
        &mut self,
        seq: u32,
        bytes: Vec<u8>,
        end: bool,
        ctx: &mut Ctx,
    ) -> Result<(), Reject> {
        let ack_now = match self.recv.receive(seq, bytes, end) {
            Arrival::Refused => return Err(Reject::OverWindow),
            Arrival::Duplicate | Arrival::Held => true,
            Arrival::InOrder {
                messages,
                filled_gap,
            } => {
                for bytes in messages {
                    ctx.out.push_back(Output::Event(TransportEvent::Received {
                        from: self.peer,
                        bytes,
                    }));
                }
                self.pending_acks += 1;
                filled_gap || self.pending_acks >= 2
            }
        };
        let renewed = self.recv.renew_credit();
        if ack_now {
            self.send_ack(ctx);
        } else {
            if self.timers[Timer::Ack as usize].is_none() {
                self.arm(Timer::Ack, ctx.now.saturating_add(ctx.config.ack_delay));
            }
            if let Some(limit) = renewed {
                self.send_control(&Body::WindowUpdate(limit), ctx);
            }
        }
        Ok(())
    }

    fn on_ack(&mut self, ack: &Ack, ctx: &mut Ctx) -> Result<(), Reject> {
        let acked = self
            .send
            .on_ack(ack, ctx.now)
            .map_err(|_| Reject::Malformed)?;
        if let Some(sample) = acked.rtt {
            self.rtt.sample(sample);
        }
        if acked.progress {
            if self.send.in_flight() {
                self.arm(Timer::Retransmit, ctx.now.saturating_add(self.rtt.rto()));
            } else {
                self.disarm(Timer::Retransmit);
            }
        }
        for seq in acked.lost {
            self.retransmit(seq, false, ctx);
        }
        self.send.raise_limit(ack.limit);
        self.flush(ctx);
        Ok(())
    }

    /// Handles whatever deadlines are due at `ctx.now`.
    pub(super) fn on_timeout(&mut self, ctx: &mut Ctx) {
        for timer in Timer::ALL {
            if self.closed.is_some() {
                return;
            }
            if self.timers[timer as usize].is_none_or(|at| at > ctx.now) {
                continue;
            }
            self.disarm(timer);
            match timer {
                Timer::Idle => self.close(CloseReason::Idle, ctx),
                Timer::Retransmit => self.on_retransmit_timeout(ctx),
                Timer::Ack => self.send_ack(ctx),
                Timer::Keepalive => self.send_control(&Body::Ping, ctx),
            }
        }
    }

    fn on_retransmit_timeout(&mut self, ctx: &mut Ctx) {
        self.rtt.back_off();
        if let Handshake::HelloSent { hello, .. } = &self.handshake {
            let bytes = hello.clone();
            self.transmit(bytes, ctx);
            ctx.note(HtxNote::Retransmitted {
                peer: self.peer,
                kind: Kind::ClientHello,
                seq: 0,
                timeout: true,
            });
        } else if let Some(seq) = self.send.oldest() {
            self.retransmit(seq, true, ctx);
        } else {
            return;
        }
        self.arm(Timer::Retransmit, ctx.now.saturating_add(self.rtt.rto()));
    }

    fn retransmit(&mut self, seq: u32, timeout: bool, ctx: &mut Ctx) {
        if let Some(bytes) = self.send.retransmit(seq, ctx.now) {
            self.transmit(bytes, ctx);
            ctx.note(HtxNote::Retransmitted {
                peer: self.peer,
                kind: Kind::Data,
                seq,
                timeout,
            });
        }
    }

    /// Sends every data frame that may leave now.
    fn flush(&mut self, ctx: &mut Ctx) {
        if !self.established() {
            return;
        }
        let capacity = ctx.config.data_capacity();
        while let Some(fragment) = self.send.cut(capacity, ctx.config.frames_in_flight()) {
            let compressed = match ctx.config.compression {
                Compression::Lz4 => compress(&fragment.bytes),
                Compression::None => None,
            };
            let flags = Flags::NONE
                .with(Flags::END, fragment.end)
                .with(Flags::COMPRESSED, compressed.is_some());
            let payload = compressed.as_deref().unwrap_or(&fragment.bytes);
            let wire = encode(
                &Body::Data(payload),
                flags,
                fragment.seq,
                self.session.as_ref(),
                ctx,
            );
            self.transmit(wire.clone(), ctx);
            self.send.record(&fragment, wire, ctx.now);
            if self.timers[Timer::Retransmit as usize].is_none() {
                self.arm(Timer::Retransmit, ctx.now.saturating_add(self.rtt.rto()));
            }
        }
        if self.send.next_seq() == u32::MAX {
            self.closed = Some(CloseReason::Exhausted);
            return;
        }
        let blocked = self.send.credit_blocked();
        if blocked && !self.stalled {
            ctx.note(HtxNote::WindowStalled { peer: self.peer });
        }
        self.stalled = blocked;
    }

    fn send_ack(&mut self, ctx: &mut Ctx) {
        self.pending_acks = 0;
        self.disarm(Timer::Ack);
        let ack = Body::Ack(Ack {
            cumulative: self.recv.cumulative(),
            limit: self.recv.limit(),
            sacks: self.recv.sacks(MAX_SACK_RANGES),
        });
        self.send_control(&ack, ctx);
    }

    /// Sends a sealed frame that is not data, numbered from the control
    /// sequence. Its last number is never used: the connection closes
    /// instead.
    fn send_control(&mut self, body: &Body, ctx: &mut Ctx) {
        if self.control_seq == u32::MAX {
            self.closed = Some(CloseReason::Exhausted);
            return;
        }
        let seq = self.control_seq;
        self.control_seq += 1;
        let bytes = encode(body, Flags::NONE, seq, self.session.as_ref(), ctx);
        self.transmit(bytes, ctx);
    }

    /// Closes from this side, with a close frame if the peer can open it.
    fn close(&mut self, reason: CloseReason, ctx: &mut Ctx) {
        if self.established() {
            self.send_control(&Body::Close, ctx);
        }
        self.closed = Some(reason);
    }

    fn transmit(&mut self, bytes: Vec<u8>, ctx: &mut Ctx) {
        ctx.out.push_back(Output::Transmit {
            to: self.peer,
            bytes: bytes.into(),
        });
        let keepalive = ctx.config.keepalive;
        if keepalive > Duration::ZERO && self.established() {
            self.arm(Timer::Keepalive, ctx.now.saturating_add(keepalive));
        }
    }
}

/// A whole frame: `body` under a header with `flags` (and the modelled
/// flag, if so configured) and `seq`, sealed with `session` if its type is
/// sealed, and a CRC.
fn encode(body: &Body, flags: Flags, seq: u32, session: Option<&Session>, ctx: &Ctx) -> Vec<u8> {
    let kind = body.kind();
    debug_assert_eq!(kind.sealed(), session.is_some());
    let plain = body.buffer_len();
    let tag = if kind.sealed() { TAG_LEN } else { 0 };
    let repr = Repr {
        kind,
        flags: flags.with(Flags::MODELLED, ctx.config.modelled()),
        seq,
        timestamp: ctx.now,
        payload_len: plain + tag,
    };
    let mut bytes = vec![0; repr.buffer_len()];
    let mut packet = Packet::new_unchecked(&mut bytes[..]);
    repr.emit(&mut packet);
    let (header, payload) = packet.header_and_payload_mut();
    body.emit(&mut payload[..plain]);
    if let Some(session) = session {
        session.seal(header, kind, seq, payload);
    }
    packet.fill_crc();
    bytes
}
