//! The seed's signaling server: connections, the joined peers, the relay,
//! heartbeats, the connection limit and the idle timeout.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::convert::Infallible;

use sim_core::{DropCause, Instant, NodeId, Output, Protocol};

use super::config::SignalingConfig;
use super::messages::{self, BootstrapPeer, Message, SignalKind};
use super::tls::{self, Flight};
use super::websocket::{self, Frame, Opcode};

/// What the server reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// A connection joined; `peers` are now joined.
    PeerJoined {
        /// The connection (the peer's node).
        peer: NodeId,
        /// How many peers are joined, this one included.
        peers: u32,
    },
    /// A joined peer was removed and the others told (`peer_left`), except
    /// for [`Removal::Replaced`], where its id stays present.
    PeerRemoved {
        /// The connection.
        peer: NodeId,
        /// Why.
        reason: Removal,
    },
    /// An upgrade was refused with 429: the connection limit was reached.
    Refused {
        /// The client.
        client: NodeId,
    },
    /// An offer, answer or candidate was relayed.
    Relayed {
        /// Which.
        kind: SignalKind,
        /// The sender.
        from: NodeId,
        /// The addressee.
        to: NodeId,
    },
    /// A relay's addressee is not joined; the sender got an error.
    Unroutable {
        /// Which.
        kind: SignalKind,
        /// The sender.
        from: NodeId,
    },
}

/// Why a joined peer was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// It sent `leave`.
    Left,
    /// Its connection ended: a close frame, or a new connection from the
    /// same node (a browser that restarted).
    Closed,
    /// Nothing arrived on its connection for the idle timeout.
    IdleTimeout,
    /// Another connection joined with its id; it got an error and was
    /// closed.
    Replaced,
}

/// One client connection.
#[derive(Clone, Debug)]
struct Connection {
    /// Whether the HTTP upgrade succeeded (before it, the TLS handshake is
    /// under way).
    upgraded: bool,
    /// When its last datagram arrived.
    last_activity: Instant,
    /// The id it joined with.
    peer_id: Option<String>,
}

/// The signaling server.
///
/// # Methods
///
/// - Getters: [`id`](Server::id), [`config`](Server::config),
///   [`peers`](Server::peers), [`connections`](Server::connections),
///   [`upgraded_connections`](Server::upgraded_connections).
/// - Inputs, from [`Protocol`]: `handle_datagram` (handshakes, frames),
///   `handle_timeout` (idle connections); it takes no commands.
/// - Outputs: `poll_output` (transmits, [`ServerEvent`]s, drops), then
///   `poll_timeout` (the earliest idle deadline).
///
/// # Behaviour
///
/// - **Connections.** A `ClientHello` from a node opens a connection (and
///   ends one that node already had: a client that restarted). The TLS
///   flight goes back; the client's `Finished` arrives with the HTTP
///   upgrade, answered with 101, or with 429 if
///   [`max_connections`](SignalingConfig::max_connections) upgraded
///   connections are open — the refused connection is forgotten.
/// - **Join.** `join` registers the connection's `peerId`, answers
///   `bootstrap_peers` with every other joined peer (in id order, with when
///   each was last heard from), then sends `peer_joined` to each of them. A
///   connection that joins again with its own id gets the list again; with
///   another id, its old id leaves first. If another connection holds the
///   id, that one gets the seed's error, `Another client joined with your
///   ID.`, and a close frame (1008), and is forgotten.
/// - **Relay.** `offer`, `answer` and `candidate` go to the connection
///   joined as `to`, unchanged but for `from`, which is set to the
///   sender's id; an unknown `to` gets `Peer … not found.` back.
/// - **Heartbeats.** `ping` is answered with `pong`.
/// - **Leave and cleanup.** `leave` removes the peer and tells the others
///   (`peer_left`); so does the end of a joined connection: a close frame
///   (echoed), a restart, or the idle timeout.
/// - **Idle timeout.** A connection on which no datagram arrived for
///   [`idle_timeout`](SignalingConfig::idle_timeout) — heartbeats count —
///   is closed (close frame 1001, API Gateway's "going away") and
///   forgotten.
/// - Bytes that do not parse, frames that break RFC 6455 (an unmasked
///   client frame) and text that is not a message give one
///   `Output::Drop { cause: DropCause::Malformed, .. }`; text that is not a
///   message is also answered with `Invalid JSON message format.`, as the
///   seed's server does. Well-formed datagrams that fit no connection (a
///   close frame after the connection ended) are ignored.
#[derive(Clone, Debug)]
pub struct Server {
    id: NodeId,
    config: SignalingConfig,
    connections: BTreeMap<NodeId, Connection>,
    /// Joined peers: id → connection.
    peers: BTreeMap<String, NodeId>,
    /// The timer table: each connection's idle deadline, earliest first.
    idle: BTreeSet<(Instant, NodeId)>,
    upgraded: u32,
    outputs: VecDeque<Output<ServerEvent>>,
}

impl Server {
    /// A server at `id` with no connection.
    pub fn new(id: NodeId, config: SignalingConfig) -> Self {
        Server {
            id,
            config,
            connections: BTreeMap::new(),
            peers: BTreeMap::new(),
            idle: BTreeSet::new(),
            upgraded: 0,
            outputs: VecDeque::new(),
        }
    }

    /// The server's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &SignalingConfig {
        &self.config
    }

    /// The joined peers: id and connection, in id order.
    pub fn peers(&self) -> impl Iterator<Item = (&str, NodeId)> + '_ {
        self.peers.iter().map(|(id, &node)| (id.as_str(), node))
    }

    /// How many connections are open, in handshake or upgraded.
    pub fn connections(&self) -> usize {
        self.connections.len()
    }

    /// How many connections are upgraded: what the limit counts.
    pub fn upgraded_connections(&self) -> u32 {
        self.upgraded
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, node)) = self.idle.first() {
            if deadline > now {
                break;
            }
            self.idle.pop_first();
            self.close(
                node,
                Removal::IdleTimeout,
                Some(websocket::CLOSE_GOING_AWAY),
            );
        }
    }

    /// When a connection last heard from at `last` idles out.
    fn idle_deadline(&self, last: Instant) -> Instant {
        last.saturating_add(self.config.idle_timeout)
    }

    /// Forgets `node`'s connection, sending a close frame with `code` if
    /// given, and removes the peer joined on it.
    fn close(&mut self, node: NodeId, reason: Removal, code: Option<u16>) {
        let Some(connection) = self.connections.remove(&node) else {
            return;
        };
        self.idle
            .remove(&(self.idle_deadline(connection.last_activity), node));
        if connection.upgraded {
            self.upgraded -= 1;
            if let Some(code) = code {
                self.send_frame(node, &Frame::close(code, None));
            }
        }
        if let Some(peer_id) = connection.peer_id {
            self.unregister(node, &peer_id, reason);
        }
    }

    /// Removes `peer_id`, joined on `node`, and tells the others.
    fn unregister(&mut self, node: NodeId, peer_id: &str, reason: Removal) {
        if self.peers.get(peer_id) != Some(&node) {
            return;
        }
        self.peers.remove(peer_id);
        if let Some(connection) = self.connections.get_mut(&node) {
            connection.peer_id = None;
        }
        let left = Message::PeerLeft {
            peer_id: peer_id.to_owned(),
        };
        self.broadcast(&left);
        self.outputs
            .push_back(Output::Event(ServerEvent::PeerRemoved {
                peer: node,
                reason,
            }));
    }

    fn broadcast(&mut self, message: &Message) {
        let json = message.to_json();
        let to: Vec<NodeId> = self.peers.values().copied().collect();
        for node in to {
            self.send_frame(node, &Frame::text(json.clone(), None));
        }
    }

    fn send(&mut self, to: NodeId, message: &Message) {
        self.send_frame(to, &Frame::text(message.to_json(), None));
    }

    fn send_frame(&mut self, to: NodeId, frame: &Frame) {
        let mut bytes = Vec::with_capacity(frame.buffer_len());
        frame.emit(&mut bytes);
        self.outputs.push_back(Output::Transmit {
            to,
            bytes: tls::seal(&bytes).into(),
        });
    }

    fn malformed(&mut self, from: NodeId, len: usize) {
        self.outputs.push_back(Output::Drop {
            from,
            len,
            cause: DropCause::Malformed,
        });
    }

    /// Records that a datagram arrived on `node`'s connection.
    fn touch(&mut self, node: NodeId, now: Instant) {
        let timeout = self.config.idle_timeout;
        if let Some(connection) = self.connections.get_mut(&node) {
            let last = std::mem::replace(&mut connection.last_activity, now);
            self.idle.remove(&(last.saturating_add(timeout), node));
            self.idle.insert((now.saturating_add(timeout), node));
        }
    }

    fn on_client_hello(&mut self, from: NodeId, now: Instant) {
        self.close(from, Removal::Closed, None);
        self.connections.insert(
            from,
            Connection {
                upgraded: false,
                last_activity: now,
                peer_id: None,
            },
        );
        self.idle.insert((self.idle_deadline(now), from));
        self.outputs.push_back(Output::Transmit {
            to: from,
            bytes: tls::server_hello().into(),
        });
    }

    fn on_upgrade(&mut self, from: NodeId, request: &[u8], len: usize, now: Instant) {
        let Ok(key) = websocket::parse_upgrade_request(request) else {
            self.malformed(from, len);
            return;
        };
        if self.upgraded >= self.config.max_connections {
            self.close(from, Removal::Closed, None);
            self.outputs.push_back(Output::Transmit {
                to: from,
                bytes: tls::seal(&websocket::too_many_requests()).into(),
            });
            self.outputs
                .push_back(Output::Event(ServerEvent::Refused { client: from }));
            return;
        }
        self.touch(from, now);
        if let Some(connection) = self.connections.get_mut(&from) {
            connection.upgraded = true;
            self.upgraded += 1;
        }
        self.outputs.push_back(Output::Transmit {
            to: from,
            bytes: tls::seal(&websocket::switching_protocols(&key)).into(),
        });
    }

    fn on_frames(&mut self, from: NodeId, data: &[u8], len: usize, now: Instant) {
        let Ok(frames) = websocket::frames(data, true) else {
            self.malformed(from, len);
            return;
        };
        self.touch(from, now);
        let mut dropped = false;
        for frame in frames {
            match frame.opcode {
                Opcode::Text => match Message::from_json(&frame.payload) {
                    Some(message) => self.on_message(from, message, now),
                    None => {
                        if !std::mem::replace(&mut dropped, true) {
                            self.malformed(from, len);
                        }
                        let error = Message::Error {
                            message: messages::INVALID_JSON.into(),
                        };
                        self.send(from, &error);
                    }
                },
                Opcode::Close => {
                    let code = frame.close_code().unwrap_or(websocket::CLOSE_NORMAL);
                    self.close(from, Removal::Closed, Some(code));
                    return;
                }
                // Browsers send no binary or control frames but close.
                Opcode::Binary | Opcode::Ping | Opcode::Pong => {}
            }
        }
    }

    fn on_message(&mut self, from: NodeId, message: Message, now: Instant) {
        match message {
            Message::Join { peer_id } => self.join(from, peer_id),
            Message::Leave { .. } => {
                if let Some(peer_id) = self.peer_id_of(from) {
                    self.unregister(from, &peer_id, Removal::Left);
                }
            }
            Message::Ping { .. } => {
                let pong = Message::Pong {
                    timestamp: millis(now),
                };
                self.send(from, &pong);
            }
            message => {
                if let Some((kind, to)) = message.signal() {
                    let to = to.to_owned();
                    self.relay(from, kind, &to, message);
                }
            }
        }
    }

    fn peer_id_of(&self, node: NodeId) -> Option<String> {
        self.connections.get(&node)?.peer_id.clone()
    }

    fn join(&mut self, from: NodeId, peer_id: String) {
        match self.peer_id_of(from) {
            Some(old) if old == peer_id => {}
            Some(old) => self.unregister(from, &old, Removal::Left),
            None => {}
        }
        if let Some(&other) = self.peers.get(&peer_id).filter(|&&n| n != from) {
            let error = Message::Error {
                message: messages::REPLACED.into(),
            };
            self.send(other, &error);
            // The id stays present, on the new connection: no `peer_left`.
            self.peers.remove(&peer_id);
            if let Some(connection) = self.connections.get_mut(&other) {
                connection.peer_id = None;
            }
            self.close(other, Removal::Replaced, Some(websocket::CLOSE_POLICY));
            self.outputs
                .push_back(Output::Event(ServerEvent::PeerRemoved {
                    peer: other,
                    reason: Removal::Replaced,
                }));
        }
        let peers = self
            .peers
            .iter()
            .filter(|(id, _)| **id != peer_id)
            .map(|(id, node)| BootstrapPeer {
                id: id.clone(),
                last_seen: self
                    .connections
                    .get(node)
                    .map_or(0, |c| millis(c.last_activity)),
            })
            .collect();
        self.send(from, &Message::BootstrapPeers { peers });
        if self.peers.get(&peer_id) == Some(&from) {
            return;
        }
        let joined = Message::PeerJoined {
            peer_id: peer_id.clone(),
        };
        self.broadcast(&joined);
        self.peers.insert(peer_id.clone(), from);
        if let Some(connection) = self.connections.get_mut(&from) {
            connection.peer_id = Some(peer_id);
        }
        self.outputs
            .push_back(Output::Event(ServerEvent::PeerJoined {
                peer: from,
                peers: self.peers.len() as u32,
            }));
    }

    fn relay(&mut self, from: NodeId, kind: SignalKind, to: &str, message: Message) {
        let Some(sender) = self.peer_id_of(from) else {
            let error = Message::Error {
                message: messages::NOT_JOINED.into(),
            };
            self.send(from, &error);
            return;
        };
        match self.peers.get(to) {
            Some(&target) => {
                self.send(target, &message.from_sender(&sender));
                self.outputs.push_back(Output::Event(ServerEvent::Relayed {
                    kind,
                    from,
                    to: target,
                }));
            }
            None => {
                let error = Message::Error {
                    message: messages::not_found(to),
                };
                self.send(from, &error);
                self.outputs
                    .push_back(Output::Event(ServerEvent::Unroutable { kind, from }));
            }
        }
    }
}

/// Virtual time in milliseconds, as the messages' timestamps carry it.
fn millis(at: Instant) -> u64 {
    at.as_nanos() / 1_000_000
}

impl Protocol for Server {
    /// A server takes no commands.
    type Command = Infallible;
    type Event = ServerEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.expire(now);
        let Ok(flight) = tls::parse(bytes) else {
            self.malformed(from, bytes.len());
            return;
        };
        let upgraded = self.connections.get(&from).map(|c| c.upgraded);
        match (flight, upgraded) {
            (Flight::ClientHello, _) => self.on_client_hello(from, now),
            (Flight::ClientFinished(request), Some(false)) => {
                self.on_upgrade(from, &request, bytes.len(), now)
            }
            (Flight::ApplicationData(data), Some(true)) => {
                self.on_frames(from, &data, bytes.len(), now)
            }
            // A flight for a connection that has ended or not begun.
            _ => {}
        }
    }

    fn handle_command(&mut self, _now: Instant, command: Infallible) {
        match command {}
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
    }

    fn poll_output(&mut self) -> Option<Output<ServerEvent>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.idle.first().map(|&(deadline, _)| deadline)
    }
}
