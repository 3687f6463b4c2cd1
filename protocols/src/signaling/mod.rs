//! The seed's WebSocket signaling server and its browser peers
//! (`shared/seeds/002…`): peers join a mesh through the server, learn who is
//! there, exchange WebRTC offers, answers and ICE candidates through it, and
//! then talk directly.
//!
//! # Tour
//!
//! - this file: [`SignalingNode`], a node in either role, what it reports
//!   ([`SignalingEvent`]) and what the kernel measures of it ([`Observe`]);
//! - `server`: [`Server`]: connections, the joined peers, the relay,
//!   heartbeats, the 1,000-connection limit and the 2-hour idle timeout;
//! - `peer`: [`Peer`]: join, the bootstrap list and notices, heartbeats,
//!   and its direct connections; the commands ([`SignalingCommand`]);
//! - [`webrtc`]: one side of a WebRTC connection, leg by leg, with the
//!   set-up time it adds up to;
//! - the bytes: [`messages`] (the JSON messages), [`websocket`] (RFC 6455
//!   frames and the HTTP upgrade), [`tls`] (the TLS 1.3 under `wss://`),
//!   [`sdp`] (offers, answers, candidates), [`stun`] (ICE checks), [`dtls`]
//!   (the direct path's handshake) and [`sctp`] (the data channel);
//! - `config`: [`SignalingConfig`].
//!
//! # The model
//!
//! - **Join.** A peer's `Join` is a TLS 1.3 handshake (one round trip), the
//!   WebSocket upgrade (one), then `{"type":"join","peerId":…}`, answered
//!   with `bootstrap_peers`, the peers already present (one): a peer at
//!   one-way delay `s` from the server has joined `6s` after `Join`. The
//!   others hear `peer_joined`.
//! - **Heartbeats.** Every 30 s a connected peer sends `ping` and the
//!   server answers `pong`.
//! - **Relay and direct connection.** `Connect` sends an `offer` and a
//!   trickled `candidate` through the server, which relays each, unchanged
//!   but for `from`, to the peer named in `to`; the answer and its
//!   candidate come back the same way. Then the peers talk directly: a STUN
//!   check, the DTLS handshake, the SCTP association and the data channel's
//!   opening, `2(s₁+s₂) + 8d` after `Connect` for delays `s₁`, `s₂` to the
//!   server and `d` between the peers (the table is in [`webrtc`]). The
//!   channel then carries `SendDirect` messages.
//! - **Leave and cleanup.** `leave`, a close frame, a restarted client or
//!   the idle timeout removes a peer, and the others hear `peer_left`.
//! - **Limits.** The 1,001st WebSocket upgrade is refused with API
//!   Gateway's `429 Too Many Requests`; once one closes, the next is
//!   accepted. A connection from which nothing arrived for 2 hours is closed
//!   (close frame 1001).
//!
//! # Wire sizes
//!
//! | what                                   | bytes on the wire                              |
//! |----------------------------------------|------------------------------------------------|
//! | TLS handshake                          | 517, 3,094, then 64 + 22 + the upgrade request |
//! | upgrade request / 101 / 429            | 524 / 129 / 117, each + 22 (TLS record)        |
//! | a message, client → server             | JSON + 6 (masked frame header) + 22 (TLS record); + 2 from 126 bytes of JSON |
//! | a message, server → client             | JSON + 2 (frame header) + 22; + 2 from 126 bytes |
//! | `join` / `ping`                        | 95 / 61 to 64                                  |
//! | `bootstrap_peers`                      | 61 + about 69 per peer (999 peers: 69,087)     |
//! | `peer_joined`, `peer_left`             | 98, 96                                         |
//! | `offer` or `answer` / `candidate`      | 645 sent, 641 relayed / 305, 301               |
//! | STUN check / response                  | 92 / 76                                        |
//! | DTLS flights                           | 169, 758, 688, 75                              |
//! | SCTP opening, in DTLS records          | 81, 341, 377, 73                               |
//! | a `SendDirect` of `n` bytes            | `n` + 65 (DTLS 37, SCTP 12, DATA 16), `n` padded to 4 |
//!
//! A datagram is a piece of a TCP stream, so it can be larger than a link
//! MTU (the TLS server flight, a long bootstrap list): give the network no
//! MTU, or one above the largest bootstrap list.
//!
//! # What the kernel measures
//!
//! Each `Connect` is a message: [`PeerEvent::ConnectStarted`] is
//! [`Observation::Sent`] with one expected delivery, and the offerer's
//! [`PeerEvent::ChannelOpen`] is its [`Observation::Delivered`] (one hop:
//! the channel is direct). The kernel's latency is therefore the set-up
//! time, and its delivery ratio the share of attempts that opened.
//! Attempt ids are `(node << 32) | sequence`, the sequence starting at a
//! number drawn from the node's RNG, so a restarted peer does not reuse
//! them. Channel messages are events ([`PeerEvent::DataReceived`]), not
//! kernel messages, so they do not mix with set-up times.
//!
//! # Departures from the seed, and why
//!
//! - **The bootstrap list has every peer present**, as the seed says ("new
//!   peers receive a list of existing peers"); the p2pmesh server behind
//!   the seed sends the 5 closest by XOR distance. It is sent even when
//!   empty, so that a peer knows it has joined; p2pmesh sends nothing then.
//! - **No rooms.** The seed's `join` carries only `peerId`: one mesh per
//!   server.
//! - **Idle means no datagram at all.** The seed's connections "timeout
//!   after 2 hours of inactivity", and its clients heartbeat every 30 s
//!   "to prevent connection timeout": so every datagram, heartbeats
//!   included, restarts the idle timer. A heartbeating peer is never
//!   dropped; one that goes silent is dropped 2 hours after its last
//!   datagram. (API Gateway itself has a 10-minute idle timeout and a
//!   2-hour maximum connection duration; the seed merges them.
//!   `idle_timeout` can be set to 10 minutes.) The server has no rule of
//!   its own about missed heartbeats; the seed has none.
//! - **`ping` is answered.** The seed's AWS transport sends
//!   `{"type":"ping","timestamp":…}` and expects `pong`; its Lambda has no
//!   case for `ping` (it would answer "Unknown message type"). Here the
//!   server answers `pong`.
//! - **Peer ids** are the node index in 40 hex digits: the size of
//!   p2pmesh's ids, and a peer can tell which node an id names.
//! - **The relay is typed.** A relayed message is re-serialised from its
//!   parsed form, so fields this model does not know are not relayed
//!   (p2pmesh spreads the whole object); a relay from a connection that has
//!   not joined is refused (p2pmesh would relay it with `from: null`).
//! - **No reconnection.** The seed's transport reconnects every 5 s, up to
//!   10 times; here a workload sends `Join` again.
//! - **The server answers at once.** Lambda's cold starts and DynamoDB
//!   round trips are not modelled.
//! - **Transport.** Each datagram is whole TLS records carrying whole
//!   WebSocket frames; TCP's handshake, acknowledgements and
//!   retransmissions are not modelled, and nothing on the direct path is
//!   retransmitted either: a lost datagram stalls what it belonged to until
//!   a timeout. Peers have host candidates only: the network has no NATs.
//!
//! # Example: a peer joins an empty mesh
//!
//! ```
//! use std::collections::VecDeque;
//! use protocols::signaling::{
//!     PeerEvent, Role, SignalingCommand, SignalingConfig, SignalingEvent, SignalingNode,
//! };
//! use rand::SeedableRng;
//! use sim_core::{Instant, NodeId, Output, Protocol, SimRng};
//!
//! let server = SignalingConfig { role: Role::Server, ..SignalingConfig::default() };
//! let mut nodes = [
//!     SignalingNode::new(NodeId(0), server, SimRng::seed_from_u64(0)),
//!     SignalingNode::new(NodeId(1), SignalingConfig::default(), SimRng::seed_from_u64(1)),
//! ];
//! let now = Instant::ZERO;
//! nodes[1].handle_command(now, SignalingCommand::Join);
//!
//! // Carry datagrams between the two, first in first out, until both are quiet.
//! let (mut in_flight, mut events) = (VecDeque::new(), Vec::new());
//! let mut node = 1;
//! loop {
//!     while let Some(output) = nodes[node].poll_output() {
//!         match output {
//!             Output::Transmit { to, bytes } => in_flight.push_back((node, to, bytes)),
//!             Output::Event(event) => events.push(event),
//!             Output::Drop { .. } => unreachable!("nothing is malformed"),
//!         }
//!     }
//!     let Some((from, to, bytes)) = in_flight.pop_front() else { break };
//!     nodes[to.index()].handle_datagram(now, NodeId(from as u32), &bytes);
//!     node = to.index();
//! }
//! assert!(events.contains(&SignalingEvent::Peer(PeerEvent::Joined {
//!     peers: vec![],
//!     took: sim_core::Duration::ZERO,
//! })));
//! ```

mod config;
pub mod dtls;
pub mod messages;
mod peer;
pub mod sctp;
pub mod sdp;
mod server;
pub mod stun;
pub mod tls;
pub mod webrtc;
pub mod websocket;

#[cfg(test)]
mod tests;

use rand::RngCore;
use sim_core::{Instant, NodeId, Observation, Observe, Output, Protocol, SimRng};

pub use config::{Role, SignalingConfig};
pub use peer::{Peer, PeerEvent, SetupFailure, SignalingCommand};
pub use server::{Removal, Server, ServerEvent};

/// What a signaling node reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalingEvent {
    /// From the server.
    Server(ServerEvent),
    /// From a peer.
    Peer(PeerEvent),
}

impl Observe for SignalingEvent {
    /// A `Connect` is a message expecting one delivery; the offerer's
    /// channel opening delivers it, one hop away.
    fn observe(&self) -> Option<Observation> {
        match *self {
            SignalingEvent::Peer(PeerEvent::ConnectStarted { attempt, .. }) => {
                Some(Observation::Sent {
                    msg: attempt,
                    expected: 1,
                })
            }
            SignalingEvent::Peer(PeerEvent::ChannelOpen {
                attempt: Some(attempt),
                ..
            }) => Some(Observation::Delivered {
                msg: attempt,
                hops: 1,
            }),
            _ => None,
        }
    }
}

/// A node of the signaling service, in the role its config gives it.
///
/// It forwards every input to its [`Server`] or [`Peer`] and their outputs
/// back, so the kernel drives one protocol type for every node. A server
/// ignores commands.
#[derive(Clone, Debug)]
pub enum SignalingNode {
    /// The signaling server.
    Server(Server),
    /// A browser peer (boxed: it carries its RNG).
    Peer(Box<Peer>),
}

impl SignalingNode {
    /// A node at `id` in the role `config.role`. A peer draws its first
    /// attempt number, then everything else random, from `rng`, so a node
    /// rebuilt after a crash (with a fresh stream) reuses no attempt id.
    pub fn new(id: NodeId, config: SignalingConfig, mut rng: SimRng) -> Self {
        match config.role {
            Role::Server => SignalingNode::Server(Server::new(id, config)),
            Role::Peer => {
                let seq = rng.next_u32();
                SignalingNode::Peer(Box::new(Peer::new(id, config, rng).with_initial_seq(seq)))
            }
        }
    }

    /// The server, if this node is one.
    pub fn server(&self) -> Option<&Server> {
        match self {
            SignalingNode::Server(server) => Some(server),
            SignalingNode::Peer(_) => None,
        }
    }

    /// The peer, if this node is one.
    pub fn peer(&self) -> Option<&Peer> {
        match self {
            SignalingNode::Server(_) => None,
            SignalingNode::Peer(peer) => Some(peer),
        }
    }
}

impl Protocol for SignalingNode {
    type Command = SignalingCommand;
    type Event = SignalingEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        match self {
            SignalingNode::Server(server) => server.handle_datagram(now, from, bytes),
            SignalingNode::Peer(peer) => peer.handle_datagram(now, from, bytes),
        }
    }

    fn handle_command(&mut self, now: Instant, command: SignalingCommand) {
        if let SignalingNode::Peer(peer) = self {
            peer.handle_command(now, command);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            SignalingNode::Server(server) => server.handle_timeout(now),
            SignalingNode::Peer(peer) => peer.handle_timeout(now),
        }
    }

    fn poll_output(&mut self) -> Option<Output<SignalingEvent>> {
        match self {
            SignalingNode::Server(server) => server
                .poll_output()
                .map(|o| o.map_event(SignalingEvent::Server)),
            SignalingNode::Peer(peer) => peer
                .poll_output()
                .map(|o| o.map_event(SignalingEvent::Peer)),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            SignalingNode::Server(server) => server.poll_timeout(),
            SignalingNode::Peer(peer) => peer.poll_timeout(),
        }
    }
}
