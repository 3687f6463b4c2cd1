//! A browser peer of the seed's mesh: its connection to the signaling
//! server, what it knows of the other peers, and its direct connections.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::RngCore;
use sim_core::{DropCause, Duration, Instant, NodeId, Output, Protocol, SimRng};

use super::config::SignalingConfig;
use super::messages::{self, peer_id, Message, SignalKind};
use super::tls::{self, Flight};
use super::webrtc::{Direct, PeerConnection, Step, Unreadable};
use super::websocket::{self, Frame, Opcode, UpgradeResponse};

/// What a workload can ask of a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalingCommand {
    /// Connect to the server and join the mesh (the seed's `mesh.join()`).
    /// Ignored while connected or connecting.
    Join,
    /// Open a direct data channel to peer `to` (one from the bootstrap list
    /// or a `peer_joined` notice). Given before the join completes, the
    /// offer waits for it. Ignored if a connection to `to` exists, or `to`
    /// is this peer or the server.
    Connect {
        /// The peer.
        to: NodeId,
    },
    /// Send an application message of `size` bytes on the open channel to
    /// `to`.
    SendDirect {
        /// The peer.
        to: NodeId,
        /// The message's size in bytes.
        size: u32,
    },
    /// Say `leave` and close the connection to the server. Open channels
    /// stay open: they no longer need the server.
    Leave,
    /// Stop the heartbeats but stay connected, as a browser tab that was
    /// suspended; the server's idle timeout then decides.
    GoSilent,
}

/// Why a direct connection did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupFailure {
    /// The channel was not open within the set-up timeout.
    TimedOut,
    /// The server did not know the peer (`Peer … not found.`).
    PeerNotFound,
}

/// What a peer reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// The server answered the join with the peers already present.
    Joined {
        /// The bootstrap list, in id order.
        peers: Vec<NodeId>,
        /// From the `Join` command to the list's arrival.
        took: Duration,
    },
    /// The server refused the WebSocket upgrade (429: the connection limit).
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// The join did not complete within the set-up timeout.
    JoinTimedOut,
    /// The server closed the connection: 1001 when it idled out, 1008 when
    /// another connection joined with this peer's id.
    Disconnected {
        /// The close frame's status code.
        code: u16,
    },
    /// The server announced a new peer.
    PeerJoined {
        /// The peer.
        peer: NodeId,
    },
    /// The server announced that a peer left or was dropped.
    PeerLeft {
        /// The peer.
        peer: NodeId,
    },
    /// A `Connect` began attempt `attempt`: the kernel's message, expecting
    /// one delivery, the channel opening.
    ConnectStarted {
        /// The attempt's id, unique in the run.
        attempt: u64,
        /// The peer.
        to: NodeId,
    },
    /// The server relayed another peer's offer, answer or candidate here.
    SignalReceived {
        /// Which.
        kind: SignalKind,
        /// The peer that sent it.
        from: NodeId,
    },
    /// A direct data channel to `peer` opened.
    ChannelOpen {
        /// The peer.
        peer: NodeId,
        /// The attempt it completes, where this node asked for it.
        attempt: Option<u64>,
        /// The set-up time: from the `Connect` (or, answering, from the
        /// offer's arrival) to the channel opening.
        setup: Duration,
        /// From the last `Join` command to the channel opening.
        since_join: Duration,
    },
    /// A direct connection did not open.
    SetupFailed {
        /// The peer.
        peer: NodeId,
        /// The attempt, where this node asked for it.
        attempt: Option<u64>,
        /// Why.
        reason: SetupFailure,
    },
    /// A message arrived on a direct channel.
    DataReceived {
        /// The peer that sent it.
        from: NodeId,
        /// Its size in bytes.
        size: u32,
    },
    /// `SendDirect` named a peer with no open channel; nothing was sent.
    NoChannel {
        /// The peer.
        to: NodeId,
    },
}

/// The connection to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Session {
    /// None.
    Idle,
    /// `ClientHello` sent.
    Handshaking,
    /// TLS up; the upgrade request (with this key) sent.
    Upgrading(String),
    /// WebSocket open; `join` sent.
    Joining,
    /// The bootstrap list arrived.
    Joined,
}

/// The peer's timers.
#[derive(Clone, Copy, Debug)]
enum Timer {
    /// The join's set-up timeout.
    Join = 0,
    /// The next heartbeat.
    Heartbeat = 1,
}

/// A browser peer.
///
/// # Methods
///
/// - Getters: [`id`](Peer::id), [`config`](Peer::config),
///   [`is_joined`](Peer::is_joined), [`known_peers`](Peer::known_peers),
///   [`open_channels`](Peer::open_channels).
/// - Inputs, from [`Protocol`]: `handle_command` ([`SignalingCommand`]),
///   `handle_datagram` (from the server, or direct from a peer),
///   `handle_timeout` (join and set-up timeouts, heartbeats).
/// - Outputs: `poll_output` (transmits, [`PeerEvent`]s, drops), then
///   `poll_timeout`.
///
/// # Behaviour
///
/// - **Join.** TLS handshake, HTTP upgrade, then `join` with the peer's id
///   ([`messages::peer_id`]); `bootstrap_peers` completes it
///   ([`PeerEvent::Joined`]). A 429 ends it ([`PeerEvent::Refused`]); so
///   does the set-up timeout ([`PeerEvent::JoinTimedOut`]).
/// - **Heartbeats.** From the upgrade on, a `ping` every
///   [`heartbeat_interval`](SignalingConfig::heartbeat_interval), until
///   [`SignalingCommand::GoSilent`], `Leave` or the connection's end.
/// - **The mesh.** The bootstrap list and the `peer_joined`/`peer_left`
///   notices keep [`known_peers`](Peer::known_peers).
/// - **Direct connections.** See [`webrtc`](super::webrtc) for the
///   exchange. If two peers' offers cross, the one with the lower node id
///   yields and answers the other's offer (its attempt then completes when
///   that connection opens); the other ignores the crossing offer. Offers
///   for a connection that exists otherwise are ignored (no renegotiation).
///   A `Peer … not found.` error for a connection that is not open fails
///   it.
/// - Every input first runs the timers due at `now`.
/// - Bytes that do not parse — from the server: TLS, frames, JSON, SDP or
///   candidates; from a peer: STUN or DTLS — give one
///   `Output::Drop { cause: DropCause::Malformed, .. }`. Well-formed
///   datagrams that fit no state (late, duplicated, for a connection that
///   is gone) are ignored.
#[derive(Clone, Debug)]
pub struct Peer {
    id: NodeId,
    server: NodeId,
    config: SignalingConfig,
    rng: SimRng,
    next_seq: u32,
    session: Session,
    /// When the last `Join` command came.
    join_started: Instant,
    timers: [Option<Instant>; 2],
    silent: bool,
    known: BTreeSet<NodeId>,
    connections: BTreeMap<NodeId, PeerConnection>,
    /// The set-up deadlines of connections not yet open, earliest first.
    deadlines: BTreeSet<(Instant, NodeId)>,
    outputs: VecDeque<Output<PeerEvent>>,
}

impl Peer {
    /// A peer at `id` that joins through node
    /// [`config.server`](SignalingConfig::server), drawing its keys,
    /// credentials and masks from `rng`.
    pub fn new(id: NodeId, config: SignalingConfig, rng: SimRng) -> Self {
        Peer {
            id,
            server: NodeId(config.server),
            config,
            rng,
            next_seq: 0,
            session: Session::Idle,
            join_started: Instant::ZERO,
            timers: [None; 2],
            silent: false,
            known: BTreeSet::new(),
            connections: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Makes this peer number its attempts from `seq` on instead of 0.
    ///
    /// An attempt id is (node << 32) | sequence number, and ids must be
    /// unique in a run; a peer rebuilt after a crash starts at a random
    /// sequence number (see [`SignalingNode::new`](super::SignalingNode::new)).
    pub fn with_initial_seq(mut self, seq: u32) -> Self {
        self.next_seq = seq;
        self
    }

    /// This peer's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &SignalingConfig {
        &self.config
    }

    /// Whether it is joined: the bootstrap list arrived and the connection
    /// has not ended.
    pub fn is_joined(&self) -> bool {
        self.session == Session::Joined
    }

    /// The other joined peers, as the server told it.
    pub fn known_peers(&self) -> &BTreeSet<NodeId> {
        &self.known
    }

    /// The peers it has an open data channel with.
    pub fn open_channels(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.connections
            .iter()
            .filter(|(_, pc)| pc.is_open())
            .map(|(&node, _)| node)
    }

    fn event(&mut self, event: PeerEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn malformed(&mut self, from: NodeId, len: usize) {
        self.outputs.push_back(Output::Drop {
            from,
            len,
            cause: DropCause::Malformed,
        });
    }

    /// Frames `frames` (masked) into one datagram to the server.
    fn send_frames(&mut self, frames: &[Frame]) {
        let mut bytes = Vec::new();
        for frame in frames {
            frame.emit(&mut bytes);
        }
        self.outputs.push_back(Output::Transmit {
            to: self.server,
            bytes: tls::seal(&bytes).into(),
        });
    }

    fn mask(&mut self) -> Option<[u8; 4]> {
        Some(self.rng.next_u32().to_be_bytes())
    }

    fn send(&mut self, message: &Message) {
        let frame = Frame::text(message.to_json(), self.mask());
        self.send_frames(&[frame]);
    }

    /// The connection to the server is gone.
    fn disconnect(&mut self) {
        self.session = Session::Idle;
        self.timers = [None; 2];
        self.silent = false;
        self.known.clear();
    }

    fn run_timers(&mut self, now: Instant) {
        if self.timers[Timer::Join as usize].is_some_and(|at| at <= now) {
            self.disconnect();
            self.event(PeerEvent::JoinTimedOut);
        }
        if let Some(at) = self.timers[Timer::Heartbeat as usize].filter(|&at| at <= now) {
            self.send(&Message::Ping {
                timestamp: now.as_nanos() / 1_000_000,
            });
            self.timers[Timer::Heartbeat as usize] =
                Some(at.saturating_add(self.config.heartbeat_interval).max(now));
        }
        while let Some(&(deadline, node)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(pc) = self.connections.remove(&node) {
                self.event(PeerEvent::SetupFailed {
                    peer: node,
                    attempt: pc.attempt,
                    reason: SetupFailure::TimedOut,
                });
            }
        }
    }

    /// Carries out what connection `node` asked for.
    fn apply(&mut self, now: Instant, node: NodeId, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Signal(message) => self.send(&message),
                Step::Direct(to, bytes) => self.outputs.push_back(Output::Transmit {
                    to,
                    bytes: bytes.into(),
                }),
                Step::Opened => {
                    let Some(pc) = self.connections.get(&node) else {
                        continue;
                    };
                    let (attempt, started, deadline) = (pc.attempt, pc.started, pc.deadline);
                    self.deadlines.remove(&(deadline, node));
                    self.event(PeerEvent::ChannelOpen {
                        peer: node,
                        attempt,
                        setup: now.saturating_duration_since(started),
                        since_join: now.saturating_duration_since(self.join_started),
                    });
                }
                Step::Received(size) => self.event(PeerEvent::DataReceived {
                    from: node,
                    size: size as u32,
                }),
            }
        }
    }

    fn on_server(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(flight) = tls::parse(bytes) else {
            self.malformed(self.server, bytes.len());
            return;
        };
        match (self.session.clone(), flight) {
            (Session::Handshaking, Flight::ServerHello) => {
                let mut random = [0; 16];
                self.rng.fill_bytes(&mut random);
                let key = websocket::new_key(random);
                self.outputs.push_back(Output::Transmit {
                    to: self.server,
                    bytes: tls::client_finished(&websocket::upgrade_request(&key)).into(),
                });
                self.session = Session::Upgrading(key);
            }
            (Session::Upgrading(key), Flight::ApplicationData(data)) => {
                match websocket::parse_upgrade_response(&data, &key) {
                    Ok(UpgradeResponse::Switched) => {
                        self.session = Session::Joining;
                        self.send(&Message::Join {
                            peer_id: peer_id(self.id),
                        });
                        if !self.silent {
                            self.timers[Timer::Heartbeat as usize] =
                                Some(now.saturating_add(self.config.heartbeat_interval));
                        }
                    }
                    Ok(UpgradeResponse::Refused(status)) => {
                        self.disconnect();
                        self.event(PeerEvent::Refused { status });
                    }
                    Err(_) => self.malformed(self.server, bytes.len()),
                }
            }
            (Session::Joining | Session::Joined, Flight::ApplicationData(data)) => {
                self.on_frames(now, &data, bytes.len());
            }
            // Late: for a connection that has ended, or a state it has left.
            _ => {}
        }
    }

    fn on_frames(&mut self, now: Instant, data: &[u8], len: usize) {
        let Ok(frames) = websocket::frames(data, false) else {
            self.malformed(self.server, len);
            return;
        };
        // Frames and JSON are checked before anything is acted on.
        let mut messages = Vec::new();
        let mut close = None;
        for frame in &frames {
            match frame.opcode {
                Opcode::Text => match Message::from_json(&frame.payload) {
                    Some(message) => messages.push(message),
                    None => {
                        self.malformed(self.server, len);
                        return;
                    }
                },
                Opcode::Close => {
                    close = Some(frame.close_code().unwrap_or(websocket::CLOSE_NORMAL));
                    break;
                }
                Opcode::Binary | Opcode::Ping | Opcode::Pong => {}
            }
        }
        for message in messages {
            if self.on_message(now, message).is_err() {
                self.malformed(self.server, len);
                return;
            }
        }
        if let Some(code) = close {
            // Echo the close, as RFC 6455 asks.
            let echo = Frame::close(code, self.mask());
            self.send_frames(&[echo]);
            self.disconnect();
            self.event(PeerEvent::Disconnected { code });
        }
    }

    /// Acts on one message from the server.
    fn on_message(&mut self, now: Instant, message: Message) -> Result<(), Unreadable> {
        match message {
            Message::BootstrapPeers { peers } if self.session == Session::Joining => {
                self.known = peers
                    .iter()
                    .filter_map(|p| messages::node_of(&p.id))
                    .collect();
                self.session = Session::Joined;
                self.timers[Timer::Join as usize] = None;
                self.event(PeerEvent::Joined {
                    peers: self.known.iter().copied().collect(),
                    took: now.saturating_duration_since(self.join_started),
                });
                let waiting: Vec<NodeId> = self.connections.keys().copied().collect();
                for node in waiting {
                    if let Some(pc) = self.connections.get_mut(&node) {
                        let steps = pc.start();
                        self.apply(now, node, steps);
                    }
                }
            }
            Message::PeerJoined { peer_id } => {
                let peer = messages::node_of(&peer_id).ok_or(Unreadable)?;
                self.known.insert(peer);
                self.event(PeerEvent::PeerJoined { peer });
            }
            Message::PeerLeft { peer_id } => {
                let peer = messages::node_of(&peer_id).ok_or(Unreadable)?;
                self.known.remove(&peer);
                self.event(PeerEvent::PeerLeft { peer });
            }
            Message::Error { message } => {
                let Some(peer) = messages::parse_not_found(&message).and_then(messages::node_of)
                else {
                    return Ok(());
                };
                if self.connections.get(&peer).is_some_and(|pc| !pc.is_open()) {
                    if let Some(pc) = self.connections.remove(&peer) {
                        self.deadlines.remove(&(pc.deadline, peer));
                        self.event(PeerEvent::SetupFailed {
                            peer,
                            attempt: pc.attempt,
                            reason: SetupFailure::PeerNotFound,
                        });
                    }
                }
            }
            message => {
                if let Some((kind, _)) = message.signal() {
                    return self.on_signal(now, kind, message);
                }
            }
        }
        Ok(())
    }

    fn on_signal(
        &mut self,
        now: Instant,
        kind: SignalKind,
        message: Message,
    ) -> Result<(), Unreadable> {
        let from = message
            .sender()
            .and_then(messages::node_of)
            .ok_or(Unreadable)?;
        let steps = match (message, self.connections.get_mut(&from)) {
            (Message::Offer { sdp, .. }, existing) => {
                let carried = match existing {
                    None => Some((None, now, now.saturating_add(self.config.setup_timeout))),
                    // Glare: the lower id yields, keeping its attempt.
                    Some(pc) if pc.is_offering() && self.id < from => {
                        Some((pc.attempt, pc.started, pc.deadline))
                    }
                    Some(_) => None,
                };
                match carried {
                    Some(carried) => {
                        let (pc, steps) =
                            PeerConnection::answerer(self.id, from, &sdp, carried, &mut self.rng)?;
                        if let Some(old) = self.connections.insert(from, pc) {
                            self.deadlines.remove(&(old.deadline, from));
                        }
                        self.deadlines.insert((carried.2, from));
                        steps
                    }
                    None => Vec::new(),
                }
            }
            (Message::Answer { sdp, .. }, Some(pc)) => pc.on_answer(&sdp, &mut self.rng)?,
            (Message::Candidate { candidate, .. }, Some(pc)) => {
                pc.on_candidate(&candidate, &mut self.rng)?
            }
            _ => Vec::new(),
        };
        self.event(PeerEvent::SignalReceived { kind, from });
        self.apply(now, from, steps);
        Ok(())
    }

    fn on_direct(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        let Some(datagram) = Direct::parse(bytes) else {
            self.malformed(from, bytes.len());
            return;
        };
        if let Some(pc) = self.connections.get_mut(&from) {
            let steps = pc.on_direct(from, datagram);
            self.apply(now, from, steps);
        }
    }
}

impl Protocol for Peer {
    type Command = SignalingCommand;
    type Event = PeerEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.run_timers(now);
        if from == self.server {
            self.on_server(now, bytes);
        } else {
            self.on_direct(now, from, bytes);
        }
    }

    fn handle_command(&mut self, now: Instant, command: SignalingCommand) {
        self.run_timers(now);
        match command {
            SignalingCommand::Join => {
                if self.session != Session::Idle {
                    return;
                }
                self.session = Session::Handshaking;
                self.join_started = now;
                self.timers[Timer::Join as usize] =
                    Some(now.saturating_add(self.config.setup_timeout));
                self.outputs.push_back(Output::Transmit {
                    to: self.server,
                    bytes: tls::client_hello().into(),
                });
            }
            SignalingCommand::Connect { to } => {
                if to == self.id || to == self.server || self.connections.contains_key(&to) {
                    return;
                }
                let attempt = (u64::from(self.id.0) << 32) | u64::from(self.next_seq);
                self.next_seq = self.next_seq.wrapping_add(1);
                self.event(PeerEvent::ConnectStarted { attempt, to });
                let deadline = now.saturating_add(self.config.setup_timeout);
                let mut pc =
                    PeerConnection::offerer(self.id, to, attempt, now, deadline, &mut self.rng);
                let steps = if self.is_joined() {
                    pc.start()
                } else {
                    Vec::new()
                };
                self.connections.insert(to, pc);
                self.deadlines.insert((deadline, to));
                self.apply(now, to, steps);
            }
            SignalingCommand::SendDirect { to, size } => {
                match self
                    .connections
                    .get_mut(&to)
                    .and_then(|pc| pc.send(size as usize))
                {
                    Some(step) => self.apply(now, to, vec![step]),
                    None => self.event(PeerEvent::NoChannel { to }),
                }
            }
            SignalingCommand::Leave => {
                if matches!(self.session, Session::Joining | Session::Joined) {
                    let leave = Frame::text(
                        Message::Leave {
                            peer_id: peer_id(self.id),
                        }
                        .to_json(),
                        self.mask(),
                    );
                    let close = Frame::close(websocket::CLOSE_NORMAL, self.mask());
                    self.send_frames(&[leave, close]);
                }
                self.disconnect();
            }
            SignalingCommand::GoSilent => {
                self.silent = true;
                self.timers[Timer::Heartbeat as usize] = None;
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.run_timers(now);
    }

    fn poll_output(&mut self) -> Option<Output<PeerEvent>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let deadline = self.deadlines.first().map(|&(at, _)| at);
        self.timers.iter().flatten().copied().chain(deadline).min()
    }
}
