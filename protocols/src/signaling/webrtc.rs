//! One side of a WebRTC connection between two peers: the offer/answer and
//! candidate exchange through the server, then the direct path — an ICE
//! connectivity check, the DTLS handshake, the SCTP association and the
//! data channel's opening — and the channel's messages.
//!
//! # The exchange, leg by leg
//!
//! The offerer (the peer that was told to `Connect`) is the ICE controlling
//! agent, the DTLS server (`a=setup:actpass` answered by `a=setup:active`)
//! and opens the data channel. With one-way delays `s₁` (offerer–server),
//! `s₂` (server–answerer) and `d` (between the peers):
//!
//! | legs | what                                                                 |
//! |------|----------------------------------------------------------------------|
//! | s₁+s₂ | `offer`, then the offerer's `candidate`, relayed to the answerer    |
//! | s₂+s₁ | `answer`, then the answerer's `candidate`, relayed back             |
//! | d    | STUN Binding request (nominating) to the answerer's candidate        |
//! | d    | Binding response, and at once DTLS flight 1 (`ClientHello`)          |
//! | d    | DTLS flight 4 (`ServerHello` … `ServerHelloDone`)                    |
//! | d    | DTLS flight 5 (… `Finished`)                                         |
//! | d    | DTLS flight 6 (`Finished`), and at once SCTP `INIT`                  |
//! | d    | `INIT ACK`                                                          |
//! | d    | `COOKIE ECHO` with DCEP `DATA_CHANNEL_OPEN`: the answerer's channel opens |
//! | d    | `COOKIE ACK` with DCEP `DATA_CHANNEL_ACK`: the offerer's channel opens |
//!
//! So the offerer's channel opens `2(s₁+s₂) + 8d` after its offer leaves,
//! and the answerer's `s₁+s₂ + 7d` after the offer arrives there.
//!
//! # Implementation notes
//!
//! - Only the controlling agent checks connectivity; the answerer answers
//!   (the controlled agent's own checks run in parallel in a browser and do
//!   not change when the channel opens). The answerer answers a check only
//!   once it has the offerer's candidate, which trickles in right behind the
//!   offer, and only if the check's `USERNAME` matches both fragments.
//! - A peer's candidate address is its own node (no NATs), so a direct
//!   datagram from node `x` belongs to the connection with peer `x`.
//! - Nothing on the direct path is retransmitted: a lost datagram stalls the
//!   attempt until its set-up timeout.

use rand::RngCore;
use sim_core::{Instant, NodeId};

use super::dtls::{self, Dtls, Flight};
use super::messages::{peer_id, IceCandidate, Message};
use super::sctp::{self, Chunk};
use super::sdp::{self, LocalDescription};
use super::stun::Stun;

/// The priority of the peer-reflexive candidate a check would create, as
/// Chrome computes it for a UDP IPv6 host path.
const PRFLX_PRIORITY: u32 = 1_853_824_767;

/// Which side of the exchange this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// Sent the offer: ICE controlling, DTLS server, opens the channel.
    Offerer,
    /// Answered it: ICE controlled, DTLS client.
    Answerer,
}

/// How far the connection has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// The offerer waits for its own join before its offer can leave.
    AwaitingJoin,
    /// Descriptions and candidates are on their way through the server.
    Signaling,
    /// The offerer's connectivity check is out.
    Checking([u8; 12]),
    /// The DTLS handshake is under way.
    Dtls,
    /// DTLS is up; the SCTP association is opening.
    Sctp,
    /// The data channel is open.
    Open,
}

/// What the connection wants done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send this message to the server, for the other peer.
    Signal(Message),
    /// Send this datagram straight to the other peer's node.
    Direct(NodeId, Vec<u8>),
    /// The data channel opened.
    Opened,
    /// An application message of this many bytes arrived on the channel.
    Received(usize),
}

/// A direct-path datagram, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Direct<'a> {
    /// An ICE connectivity check or its answer.
    Stun(Stun),
    /// A DTLS flight or record.
    Dtls(Dtls<'a>),
}

impl<'a> Direct<'a> {
    /// The datagram `bytes`, told apart by its first byte as RFC 7983 does
    /// (0–3 STUN, 20–63 DTLS); `None` if it is neither.
    pub(crate) fn parse(bytes: &'a [u8]) -> Option<Direct<'a>> {
        match bytes.first()? {
            0..=3 => Stun::parse(bytes).ok().map(Direct::Stun),
            20..=63 => dtls::parse(bytes).ok().map(Direct::Dtls),
            _ => None,
        }
    }
}

/// A signal (SDP or candidate), or a notice naming a peer, that is not what
/// a browser or the server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unreadable;

/// One side of a connection to one other peer.
#[derive(Clone, Debug)]
pub(crate) struct PeerConnection {
    me: NodeId,
    remote: NodeId,
    side: Side,
    stage: Stage,
    local: LocalDescription,
    remote_ufrag: Option<String>,
    /// The other peer's host candidate: its node and port.
    remote_candidate: Option<(NodeId, u16)>,
    /// The `Connect` this connection serves, if this node asked for it.
    pub(crate) attempt: Option<u64>,
    /// When negotiation began here: the `Connect`, or the offer's arrival.
    pub(crate) started: Instant,
    /// When the attempt is given up if the channel is not open by then.
    pub(crate) deadline: Instant,
    tiebreaker: u64,
    /// This side's SCTP verification tag (also its first TSN).
    local_tag: u32,
    /// The other side's verification tag, once known.
    remote_tag: u32,
    next_tsn: u32,
    /// The next DTLS application-data record's sequence number (epoch 1;
    /// `Finished` took 0).
    next_record: u64,
    /// The data channel's label.
    label: String,
}

impl PeerConnection {
    fn new(me: NodeId, remote: NodeId, side: Side, stage: Stage, rng: &mut impl RngCore) -> Self {
        let local = LocalDescription::new(rng);
        let mut label = [0; 20];
        rng.fill_bytes(&mut label);
        let local_tag = rng.next_u32().max(1);
        PeerConnection {
            me,
            remote,
            side,
            stage,
            local,
            remote_ufrag: None,
            remote_candidate: None,
            attempt: None,
            started: Instant::ZERO,
            deadline: Instant::ZERO,
            tiebreaker: rng.next_u64(),
            local_tag,
            remote_tag: 0,
            next_tsn: local_tag,
            next_record: 1,
            label: label.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// This node's side of attempt `attempt` to reach `remote`, begun at
    /// `now`; it sends its offer when [`start`](Self::start) is called.
    pub(crate) fn offerer(
        me: NodeId,
        remote: NodeId,
        attempt: u64,
        now: Instant,
        deadline: Instant,
        rng: &mut impl RngCore,
    ) -> Self {
        PeerConnection {
            attempt: Some(attempt),
            started: now,
            deadline,
            ..PeerConnection::new(me, remote, Side::Offerer, Stage::AwaitingJoin, rng)
        }
    }

    /// The answering side for `remote`'s offer `sdp`, and its answer and
    /// candidate. `attempt`, `started` and `deadline` carry over from this
    /// node's own offer when it yields to the other's (glare).
    pub(crate) fn answerer(
        me: NodeId,
        remote: NodeId,
        sdp: &str,
        (attempt, started, deadline): (Option<u64>, Instant, Instant),
        rng: &mut impl RngCore,
    ) -> Result<(Self, Vec<Step>), Unreadable> {
        let ufrag = sdp::ice_ufrag(sdp).ok_or(Unreadable)?.to_owned();
        let pc = PeerConnection {
            remote_ufrag: Some(ufrag),
            attempt,
            started,
            deadline,
            ..PeerConnection::new(me, remote, Side::Answerer, Stage::Signaling, rng)
        };
        let answer = Message::Answer {
            to: peer_id(remote),
            from: Some(peer_id(me)),
            sdp: pc.local.answer(),
        };
        let steps = vec![Step::Signal(answer), pc.candidate()];
        Ok((pc, steps))
    }

    /// The offerer's offer and candidate, once it has joined.
    pub(crate) fn start(&mut self) -> Vec<Step> {
        if self.stage != Stage::AwaitingJoin {
            return Vec::new();
        }
        self.stage = Stage::Signaling;
        let offer = Message::Offer {
            to: peer_id(self.remote),
            from: Some(peer_id(self.me)),
            sdp: self.local.offer(),
        };
        vec![Step::Signal(offer), self.candidate()]
    }

    fn candidate(&self) -> Step {
        Step::Signal(Message::Candidate {
            to: peer_id(self.remote),
            from: Some(peer_id(self.me)),
            candidate: self.local.candidate(self.me),
        })
    }

    /// Whether this side sent an offer that has not been answered: the
    /// state in which two offers can cross (glare).
    pub(crate) fn is_offering(&self) -> bool {
        self.side == Side::Offerer && matches!(self.stage, Stage::AwaitingJoin | Stage::Signaling)
    }

    /// Whether the data channel is open.
    pub(crate) fn is_open(&self) -> bool {
        self.stage == Stage::Open
    }

    /// The other peer's answer arrived.
    pub(crate) fn on_answer(
        &mut self,
        sdp: &str,
        rng: &mut impl RngCore,
    ) -> Result<Vec<Step>, Unreadable> {
        let ufrag = sdp::ice_ufrag(sdp).ok_or(Unreadable)?;
        if self.side == Side::Offerer && self.stage == Stage::Signaling {
            self.remote_ufrag.get_or_insert_with(|| ufrag.to_owned());
        }
        Ok(self.check(rng))
    }

    /// One of the other peer's candidates arrived.
    pub(crate) fn on_candidate(
        &mut self,
        candidate: &IceCandidate,
        rng: &mut impl RngCore,
    ) -> Result<Vec<Step>, Unreadable> {
        let address = sdp::candidate_address(candidate).ok_or(Unreadable)?;
        self.remote_candidate.get_or_insert(address);
        Ok(self.check(rng))
    }

    /// The offerer's connectivity check, once it has the answer and a
    /// candidate.
    fn check(&mut self, rng: &mut impl RngCore) -> Vec<Step> {
        let (Side::Offerer, Stage::Signaling, Some(ufrag), Some((node, _))) = (
            self.side,
            self.stage,
            &self.remote_ufrag,
            self.remote_candidate,
        ) else {
            return Vec::new();
        };
        let mut transaction = [0; 12];
        rng.fill_bytes(&mut transaction);
        let request = Stun::Request {
            transaction,
            username: format!("{ufrag}:{}", self.local.ufrag),
            priority: PRFLX_PRIORITY,
            tiebreaker: self.tiebreaker,
        };
        self.stage = Stage::Checking(transaction);
        vec![Step::Direct(node, request.to_bytes())]
    }

    /// A direct datagram from the other peer's node `from`.
    pub(crate) fn on_direct(&mut self, from: NodeId, datagram: Direct<'_>) -> Vec<Step> {
        let mut steps = Vec::new();
        match (self.side, self.stage, datagram) {
            (
                Side::Answerer,
                Stage::Signaling,
                Direct::Stun(Stun::Request {
                    transaction,
                    username,
                    ..
                }),
            ) => {
                let (Some(ufrag), Some((node, port))) = (&self.remote_ufrag, self.remote_candidate)
                else {
                    return steps;
                };
                if node != from || username != format!("{}:{ufrag}", self.local.ufrag) {
                    return steps;
                }
                let response = Stun::Response {
                    transaction,
                    mapped: (sdp::address_of(from), port),
                };
                steps.push(Step::Direct(from, response.to_bytes()));
                // The DTLS client starts as soon as the pair is nominated.
                steps.push(Step::Direct(from, Flight::ClientHello.to_bytes()));
                self.stage = Stage::Dtls;
            }
            (
                Side::Offerer,
                Stage::Checking(expected),
                Direct::Stun(Stun::Response { transaction, .. }),
            ) if transaction == expected => {
                self.stage = Stage::Dtls;
            }
            (Side::Offerer, Stage::Dtls, Direct::Dtls(Dtls::Flight(Flight::ClientHello))) => {
                steps.push(Step::Direct(from, Flight::ServerHello.to_bytes()));
            }
            (Side::Offerer, Stage::Dtls, Direct::Dtls(Dtls::Flight(Flight::ClientFinished))) => {
                steps.push(Step::Direct(from, Flight::ServerFinished.to_bytes()));
                let init = sctp::Packet {
                    tag: 0,
                    chunks: vec![Chunk::Init {
                        tag: self.local_tag,
                    }],
                };
                steps.push(self.record(&init));
                self.stage = Stage::Sctp;
            }
            (Side::Answerer, Stage::Dtls, Direct::Dtls(Dtls::Flight(Flight::ServerHello))) => {
                steps.push(Step::Direct(from, Flight::ClientFinished.to_bytes()));
            }
            (Side::Answerer, Stage::Dtls, Direct::Dtls(Dtls::Flight(Flight::ServerFinished))) => {
                self.stage = Stage::Sctp;
            }
            (_, Stage::Sctp | Stage::Open, Direct::Dtls(Dtls::ApplicationData(data))) => {
                if let Ok(packet) = sctp::Packet::parse(data) {
                    self.on_sctp(&packet, &mut steps);
                }
            }
            // A datagram this stage does not expect: a duplicate or a stray.
            _ => {}
        }
        steps
    }

    fn on_sctp(&mut self, packet: &sctp::Packet<'_>, steps: &mut Vec<Step>) {
        let messages: Vec<sctp::Message> = packet
            .chunks
            .iter()
            .filter_map(|chunk| match *chunk {
                Chunk::Data { ppid, payload, .. } => sctp::message(ppid, payload).ok(),
                _ => None,
            })
            .collect();
        match (self.side, self.stage, packet.chunks.first()) {
            (Side::Answerer, Stage::Sctp, Some(&Chunk::Init { tag })) => {
                self.remote_tag = tag;
                let ack = sctp::Packet {
                    tag,
                    chunks: vec![Chunk::InitAck {
                        tag: self.local_tag,
                    }],
                };
                steps.push(self.record(&ack));
            }
            (Side::Offerer, Stage::Sctp, Some(&Chunk::InitAck { tag })) => {
                self.remote_tag = tag;
                let open = sctp::open_message(&self.label);
                let tsn = self.take_tsn();
                let echo = sctp::Packet {
                    tag,
                    chunks: vec![Chunk::CookieEcho, sctp::dcep(tsn, &open)],
                };
                steps.push(self.record(&echo));
            }
            (Side::Answerer, Stage::Sctp, Some(Chunk::CookieEcho))
                if messages == [sctp::Message::Open] =>
            {
                let tsn = self.take_tsn();
                let ack = sctp::Packet {
                    tag: self.remote_tag,
                    chunks: vec![Chunk::CookieAck, sctp::dcep(tsn, sctp::ACK_MESSAGE)],
                };
                steps.push(self.record(&ack));
                self.stage = Stage::Open;
                steps.push(Step::Opened);
            }
            (Side::Offerer, Stage::Sctp, Some(Chunk::CookieAck))
                if messages == [sctp::Message::Ack] =>
            {
                self.stage = Stage::Open;
                steps.push(Step::Opened);
            }
            (_, Stage::Open, _) => {
                for message in messages {
                    if let sctp::Message::Application(size) = message {
                        steps.push(Step::Received(size));
                    }
                }
            }
            _ => {}
        }
    }

    /// An application message of `size` bytes on the open channel.
    pub(crate) fn send(&mut self, size: usize) -> Option<Step> {
        if !self.is_open() {
            return None;
        }
        let payload = vec![0; size];
        let tsn = self.take_tsn();
        let packet = sctp::Packet {
            tag: self.remote_tag,
            chunks: vec![sctp::binary(tsn, &payload)],
        };
        Some(self.record(&packet))
    }

    fn take_tsn(&mut self) -> u32 {
        let tsn = self.next_tsn;
        self.next_tsn = self.next_tsn.wrapping_add(1);
        tsn
    }

    /// `packet` in a DTLS record to the other peer.
    fn record(&mut self, packet: &sctp::Packet<'_>) -> Step {
        let seq = self.next_record;
        self.next_record += 1;
        Step::Direct(self.remote, dtls::application_data(seq, &packet.to_bytes()))
    }
}
