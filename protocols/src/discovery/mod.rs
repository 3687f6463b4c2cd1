//! Discovery: the seeds' serverless peer registry (seeds 000 and 001) and
//! its browser clients, over HTTPS.
//!
//! Peers [`Register`](DiscoveryCommand::Register) with the registry, keep
//! their registration alive with heartbeats, and
//! [`Discover`](DiscoveryCommand::Discover) each other, optionally by
//! archetype. A registration dies a TTL after its last register or
//! heartbeat, so a peer that stops heartbeating silently
//! ([`StopHeartbeats`](DiscoveryCommand::StopHeartbeats)) is returned until
//! then and never after.
//!
//! # Tour
//!
//! - this file: the node ([`Discovery`]: a [`Server`] or a [`Client`]), its
//!   commands and events, and how they map to the kernel's observations;
//! - [`api`]: the JSON bodies of the seeds' four endpoints (`POST /register`,
//!   `GET /discover?archetype=…`, `POST /heartbeat`, `GET /health`);
//! - [`http`]: the HTTP/1.1 messages that carry them, as a browser's
//!   `fetch` and API Gateway write them;
//! - TLS 1.3 around every message, and the handshake that opens a
//!   connection, as the bytes they cost: [`signaling::tls`](crate::signaling::tls),
//!   the model of the same browser-to-API-Gateway link the signaling server
//!   uses;
//! - `registry.rs`: the TTL table ([`Registry`]);
//! - `server.rs`: the platform model (capacity, FIFO queue, 503s, cold
//!   starts) and the bill ([`Usage`], [`Cost`]);
//! - `client.rs`: connection, requests, heartbeat timer;
//! - `clock.rs`: virtual time as the UTC timestamps the JSON carries;
//! - `config.rs`: [`DiscoveryConfig`], the server's and the clients'
//!   parameters with the seeds' defaults.
//!
//! # The model
//!
//! - The registry applies the TTL rule exactly: a registration last
//!   refreshed (registered or heartbeaten) at `s` is alive at `t` exactly
//!   when `s <= t < s + ttl`; it is removed, with a
//!   [`DiscoveryEvent::Expired`], at `s + ttl`.
//! - The server is a serverless platform: requests start first-in
//!   first-out at most [`capacity`](ServerConfig::capacity) per second,
//!   run in parallel for [`processing_delay`](ServerConfig::processing_delay),
//!   beyond [`queue_limit`](ServerConfig::queue_limit) waiting are answered
//!   503, and the first request after an idle spell longer than
//!   [`cold_start_after`](ServerConfig::cold_start_after) pays
//!   [`cold_start_delay`](ServerConfig::cold_start_delay). A request takes
//!   effect, and is answered, when it completes. [`Usage`] counts requests
//!   by kind and billed time; [`Usage::cost`] prices them.
//! - A client keeps one keep-alive HTTPS connection (a TLS handshake when
//!   it opens, again after it idles out), heartbeats on a timer from its
//!   register command, registers again when a heartbeat is answered 404,
//!   and times out requests that get no answer.
//! - Metrics: a discover request is a message ([`Observe`]: `DiscoverSent`
//!   is `Sent` expecting 1 delivery, `Discovered` is `Delivered` after 2
//!   hops), so the kernel measures discovery latency and success. Each
//!   [`DiscoveryEvent::Discovered`] lists the peers returned with their
//!   `last_seen` and the registry's `as_of` time, so a dead peer's
//!   staleness is `as_of` minus its death; the server reports every
//!   request served or rejected and every expiry.
//!
//! # Wire
//!
//! A datagram is a whole TLS flight: a ClientHello (517 B), the server's
//! handshake flight (3,094 B), or TLS records holding one HTTP message,
//! 22 B per record of up to 16 KiB, with the client's ChangeCipherSpec and
//! Finished (64 B) in front of its first request on a connection. With a
//! UUID peer id, two archetypes and the seed's 42-byte metadata, a
//! register request is 840 B on the wire, a heartbeat 720 B, a discover
//! 633 B, a health check 614 B, and a discover response 269 B plus about
//! 213 B per peer returned (`typical_sizes_on_the_wire` in the tests).
//!
//! # Departures from the seeds
//!
//! - Expiry is exact, where DynamoDB's TTL deletes expired items lazily
//!   (within days): the registry's answers are what the seeds' TTL is for.
//! - Peer ids are random UUIDs (a node restarted with fresh state registers
//!   under a new id, and its old registration lingers until its TTL), and
//!   addresses encode the node ([`api::Address`]) so that a discover
//!   response names nodes.
//! - Requests carry an `X-Request-Id` that the server echoes: datagrams can
//!   be lost and reordered, where TCP would keep responses in order.
//! - Bodies carry the union of the two seeds' fields where they differ.
//! - TCP, its round trip and the browser's CORS preflight are not modelled;
//!   TLS is (sizes, and a one-round-trip handshake per connection).
//! - Malformed requests are dropped and counted, not answered 400: the
//!   simulated clients never send them.
//! - The cost defaults reproduce seed 001's table (and seed 000's
//!   100-peer row); the database price is the one its "$0.01/day" implies.
//!   Seed 000's 10- and 1000-peer rows ("~$1-2", "~$30-50") grow slower
//!   than the request count, so no per-request price reproduces them; the
//!   model gives $0.57 and $57 a month.
//!
//! # Example: a peer registers, another finds it
//!
//! ```
//! use std::collections::VecDeque;
//!
//! use protocols::discovery::{Discovery, DiscoveryCommand, DiscoveryConfig, DiscoveryEvent};
//! use rand::SeedableRng;
//! use sim_core::{Duration, Instant, NodeId, Output, Protocol, SimRng};
//!
//! /// Gives `node` a command and delivers every datagram that causes at once.
//! fn exchange(nodes: &mut [Discovery], now: Instant, node: usize, cmd: DiscoveryCommand)
//!     -> Vec<DiscoveryEvent>
//! {
//!     nodes[node].handle_command(now, cmd);
//!     let (mut events, mut busy) = (Vec::new(), VecDeque::from([node]));
//!     while let Some(n) = busy.pop_front() {
//!         while let Some(output) = nodes[n].poll_output() {
//!             match output {
//!                 Output::Transmit { to, bytes } => {
//!                     nodes[to.index()].handle_datagram(now, NodeId(n as u32), &bytes);
//!                     busy.push_back(to.index());
//!                 }
//!                 Output::Event(event) => events.push(event),
//!                 Output::Drop { .. } => unreachable!("only well-formed bytes here"),
//!             }
//!         }
//!     }
//!     events
//! }
//!
//! // A server that answers at once, so that no timer is needed here.
//! let mut config = DiscoveryConfig::default();
//! config.server.processing_delay = Duration::ZERO;
//! config.server.cold_start_delay = Duration::ZERO;
//! let mut rng = SimRng::seed_from_u64(1);
//! let mut nodes = [
//!     Discovery::server(NodeId(0), &config),
//!     Discovery::client(NodeId(1), NodeId(0), &config, &mut rng),
//!     Discovery::client(NodeId(2), NodeId(0), &config, &mut rng),
//! ];
//! let register = DiscoveryCommand::Register { archetypes: vec!["pepino".into()], metadata_size: 0 };
//! exchange(&mut nodes, Instant::ZERO, 1, register);
//!
//! let discover = DiscoveryCommand::Discover { archetype: Some("pepino".into()) };
//! let events = exchange(&mut nodes, Instant::from_nanos(1_000_000_000), 2, discover);
//! let Some(DiscoveryEvent::Discovered { peers, .. }) = events.last() else { panic!() };
//! assert_eq!(peers.len(), 1);
//! assert_eq!(peers[0].node, NodeId(1));
//! assert_eq!(peers[0].last_seen, Instant::ZERO);
//! ```

pub mod api;
mod client;
mod clock;
mod config;
pub mod http;
mod registry;
mod server;

#[cfg(test)]
mod tests;

use sim_core::{Duration, Instant, NodeId, Observation, Observe, Output, Protocol, SimRng};

pub use api::RequestKind;
pub use client::Client;
pub use config::{ClientConfig, CostConfig, DiscoveryConfig, ServerConfig};
pub use registry::{Entry, Registry};
pub use server::{Cost, Counts, Server, Usage, MONTH};

/// What a workload can ask of a client (a server ignores commands).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryCommand {
    /// `POST /register` with these archetypes and metadata of about
    /// `metadata_size` bytes of JSON (at least the seed's 42-byte example;
    /// exact from 51 bytes on), then heartbeat every
    /// [`heartbeat_interval`](ClientConfig::heartbeat_interval). Registering
    /// again replaces the registration and restarts the heartbeat timer.
    Register {
        /// What the peer offers.
        archetypes: Vec<String>,
        /// The metadata's size in bytes.
        metadata_size: u32,
    },
    /// `GET /discover`, filtered by `archetype` if given.
    Discover {
        /// Only peers that list this archetype; `None` for all.
        archetype: Option<String>,
    },
    /// `GET /health`.
    Health,
    /// Stop heartbeating, as a peer that dies silently does: its
    /// registration lives out its TTL.
    StopHeartbeats,
}

/// A peer a discover response returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoundPeer {
    /// The node registered.
    pub node: NodeId,
    /// Its last register or heartbeat as the registry stamped it (to the
    /// microsecond: the JSON's resolution).
    pub last_seen: Instant,
}

/// What a discovery node reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// Client: a discover request was issued (it may wait for the
    /// handshake before it leaves).
    DiscoverSent {
        /// The request's id, a message id unique in the run.
        msg: u64,
    },
    /// Client: a discover request was answered 200.
    Discovered {
        /// The request's id.
        msg: u64,
        /// The peers returned, in the response's order (by peer id), the
        /// asking node included if it is registered.
        peers: Vec<FoundPeer>,
        /// When the registry took the view (its `timestamp`, to the
        /// microsecond): a peer dead since `d` is `as_of - d` stale.
        as_of: Instant,
        /// When the response arrived.
        at: Instant,
    },
    /// Client: any other response (register, heartbeat, health, and a
    /// discover answered 503).
    Answered {
        /// The endpoint called.
        request: RequestKind,
        /// The status: 200, 404 (heartbeat for an expired registration) or
        /// 503 (queue full).
        status: u16,
        /// From the request's issue to the response.
        rtt: Duration,
    },
    /// Client: a request got no response within the timeout.
    TimedOut {
        /// The endpoint called.
        request: RequestKind,
        /// The request's id.
        id: u64,
    },
    /// Server: the function answered a request.
    Served {
        /// The endpoint.
        request: RequestKind,
        /// Who asked.
        from: NodeId,
        /// The status sent.
        status: u16,
        /// How long it waited in the queue.
        queued: Duration,
        /// Whether it paid a cold start.
        cold_start: bool,
    },
    /// Server: a request found the queue full and was answered 503.
    Rejected {
        /// The endpoint.
        request: RequestKind,
        /// Who asked.
        from: NodeId,
    },
    /// Server: a registration's TTL ran out and it was removed.
    Expired {
        /// The node it registered.
        peer: NodeId,
        /// Its peer id.
        peer_id: String,
        /// When it registered.
        registered_at: Instant,
        /// Its last register or heartbeat.
        last_heartbeat: Instant,
        /// When it expired: `last_heartbeat + ttl`.
        at: Instant,
    },
}

impl Observe for DiscoveryEvent {
    /// A discover request is a message expecting one delivery: its 200
    /// response, two hops later. Nothing else is a message.
    fn observe(&self) -> Option<Observation> {
        match *self {
            DiscoveryEvent::DiscoverSent { msg } => Some(Observation::Sent { msg, expected: 1 }),
            DiscoveryEvent::Discovered { msg, .. } => Some(Observation::Delivered { msg, hops: 2 }),
            _ => None,
        }
    }
}

/// A discovery node: the registry's server or one of its clients.
#[derive(Clone, Debug)]
pub enum Discovery {
    /// The registry.
    Server(Server),
    /// A peer.
    Client(Client),
}

impl Discovery {
    /// The registry at `id`, with `config.server`.
    pub fn server(id: NodeId, config: &DiscoveryConfig) -> Self {
        Discovery::Server(Server::new(id, config.server))
    }

    /// A peer at `id` of the registry at `server`, with `config.client`; its
    /// peer id is drawn from `rng`.
    pub fn client(id: NodeId, server: NodeId, config: &DiscoveryConfig, rng: &mut SimRng) -> Self {
        Discovery::Client(Client::new(id, server, config.client, rng))
    }

    /// A client numbers its requests from `seq` on (see
    /// [`Client::with_initial_seq`]); a server has no ids and is unchanged.
    pub fn with_initial_seq(self, seq: u32) -> Self {
        match self {
            Discovery::Client(c) => Discovery::Client(c.with_initial_seq(seq)),
            server => server,
        }
    }

    /// The server, if this node is one.
    pub fn as_server(&self) -> Option<&Server> {
        match self {
            Discovery::Server(s) => Some(s),
            Discovery::Client(_) => None,
        }
    }

    /// The client, if this node is one.
    pub fn as_client(&self) -> Option<&Client> {
        match self {
            Discovery::Client(c) => Some(c),
            Discovery::Server(_) => None,
        }
    }
}

impl Protocol for Discovery {
    type Command = DiscoveryCommand;
    type Event = DiscoveryEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        match self {
            Discovery::Server(s) => s.handle_datagram(now, from, bytes),
            Discovery::Client(c) => c.handle_datagram(now, from, bytes),
        }
    }

    /// A client's commands; a server ignores them, only advancing to `now`.
    fn handle_command(&mut self, now: Instant, cmd: DiscoveryCommand) {
        match self {
            Discovery::Server(s) => s.handle_timeout(now),
            Discovery::Client(c) => c.handle_command(now, cmd),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Discovery::Server(s) => s.handle_timeout(now),
            Discovery::Client(c) => c.handle_timeout(now),
        }
    }

    fn poll_output(&mut self) -> Option<Output<DiscoveryEvent>> {
        match self {
            Discovery::Server(s) => s.poll_output(),
            Discovery::Client(c) => c.poll_output(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Discovery::Server(s) => s.poll_timeout(),
            Discovery::Client(c) => c.poll_timeout(),
        }
    }
}
