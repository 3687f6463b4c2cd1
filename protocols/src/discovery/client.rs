//! A peer of the registry: the seeds' WASM client in a browser (register,
//! heartbeat on a timer, discover, health check) over one keep-alive HTTPS
//! connection to the server.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::RngCore;
use sim_core::{DropCause, Duration, Instant, NodeId, Output, Protocol, SimRng};

use super::api::{
    Address, DiscoverResponse, HealthResponse, HeartbeatRequest, HeartbeatResponse,
    RegisterRequest, RegisterResponse, Request, RequestKind,
};
use super::config::ClientConfig;
use super::http::{self, NOT_FOUND, OK};
use super::{DiscoveryCommand, DiscoveryEvent, FoundPeer};
use crate::signaling::tls::{self, Flight};

/// What the client registers with, kept to register again.
#[derive(Clone, Debug)]
struct Registration {
    archetypes: Vec<String>,
    metadata: serde_json::Value,
}

/// The connection to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Connection {
    Closed,
    /// A ClientHello is out; the handshake is abandoned at `deadline`.
    Handshaking {
        deadline: Instant,
    },
    /// Open since the handshake; `finished_sent` once the client's
    /// `Finished` has gone out in front of a request.
    Open {
        last_active: Instant,
        finished_sent: bool,
    },
}

/// A request awaiting its response.
#[derive(Clone, Copy, Debug)]
struct Pending {
    kind: RequestKind,
    issued: Instant,
    deadline: Instant,
}

/// A peer's state machine.
///
/// # Connection
///
/// The first request opens the connection with a TLS handshake (one round
/// trip, [`signaling::tls`](crate::signaling::tls)); requests issued
/// meanwhile wait for it, and the first goes out behind the client's
/// `Finished`. A
/// connection unused for [`connection_idle_timeout`](ClientConfig::connection_idle_timeout)
/// is taken as closed by the server, and the next request opens a new one.
/// A handshake that gets no answer within
/// [`request_timeout`](ClientConfig::request_timeout) is abandoned (the
/// requests waiting for it time out), and the next request tries again.
///
/// # Requests
///
/// Every request has an id, `(node id << 32) | sequence`, sent in
/// [`REQUEST_ID`](super::http::REQUEST_ID) and echoed in the response. A
/// request is answered once or times out after `request_timeout`; late,
/// duplicate and unknown responses are ignored.
///
/// # Heartbeats
///
/// After [`Register`](DiscoveryCommand::Register) the client sends a
/// heartbeat every [`heartbeat_interval`](ClientConfig::heartbeat_interval),
/// counted from the register command (as `setInterval` does), until
/// [`StopHeartbeats`](DiscoveryCommand::StopHeartbeats). A heartbeat answered
/// 404 (the registration has expired, for example after lost heartbeats)
/// makes the client register again at once with what it registered last.
///
/// # Methods
///
/// - Getters: [`id`](Client::id), [`server`](Client::server),
///   [`config`](Client::config), [`peer_id`](Client::peer_id),
///   [`outstanding`](Client::outstanding),
///   [`heartbeating`](Client::heartbeating).
/// - Inputs, from [`Protocol`]: [`handle_command`](Protocol::handle_command)
///   issues requests; [`handle_datagram`](Protocol::handle_datagram) takes
///   the handshake and responses; [`handle_timeout`](Protocol::handle_timeout)
///   sends heartbeats and times requests out.
/// - Outputs: requests and ClientHellos to the server, the client's
///   [`DiscoveryEvent`]s, and a `Drop` for bytes that are not a flight or
///   response the server sends.
///
/// # Behaviour
///
/// - Every input first does what is due at `now`: requests whose deadline
///   has come time out, then a due heartbeat is sent (one, however many
///   intervals were missed).
/// - A response whose body is not the JSON its endpoint returns is dropped
///   as malformed; its request stays outstanding.
/// - Datagrams from other nodes than the server are ignored unless
///   malformed.
#[derive(Clone, Debug)]
pub struct Client {
    id: NodeId,
    server: NodeId,
    config: ClientConfig,
    peer_id: String,
    next_seq: u32,
    registration: Option<Registration>,
    next_heartbeat: Option<Instant>,
    connection: Connection,
    /// Requests issued while the connection was not open: id and HTTP bytes.
    waiting: VecDeque<(u64, Vec<u8>)>,
    pending: BTreeMap<u64, Pending>,
    /// (deadline, id) of every pending request, earliest first.
    deadlines: BTreeSet<(Instant, u64)>,
    outputs: VecDeque<Output<DiscoveryEvent>>,
}

impl Client {
    /// A peer at address `id` that talks to the registry at `server`; its
    /// peer id is a UUID v4 drawn from `rng`.
    pub fn new(id: NodeId, server: NodeId, config: ClientConfig, rng: &mut SimRng) -> Self {
        let mut uuid = [0u8; 16];
        rng.fill_bytes(&mut uuid);
        uuid[6] = (uuid[6] & 0x0f) | 0x40;
        uuid[8] = (uuid[8] & 0x3f) | 0x80;
        let hex: String = uuid.iter().map(|b| format!("{b:02x}")).collect();
        let peer_id = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        Client {
            id,
            server,
            config,
            peer_id,
            next_seq: 0,
            registration: None,
            next_heartbeat: None,
            connection: Connection::Closed,
            waiting: VecDeque::new(),
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Makes this node number its requests from `seq` on instead of 0.
    ///
    /// A request id is (node << 32) | sequence number, and the ids of
    /// discover requests are message ids, which must be unique in a run. A
    /// node rebuilt after a crash that lost its state would start again at
    /// 0 and reuse its earlier ids, so builders start each incarnation at a
    /// random sequence number drawn from its RNG stream.
    pub fn with_initial_seq(mut self, seq: u32) -> Self {
        self.next_seq = seq;
        self
    }

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The registry's address.
    pub fn server(&self) -> NodeId {
        self.server
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The peer id it registers under.
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    /// How many requests await a response.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Whether it sends heartbeats.
    pub fn heartbeating(&self) -> bool {
        self.next_heartbeat.is_some()
    }

    /// Times out the requests due at `now`, then sends a due heartbeat.
    fn tick(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(pending) = self.pending.remove(&id) {
                self.waiting.retain(|&(w, _)| w != id);
                self.outputs
                    .push_back(Output::Event(DiscoveryEvent::TimedOut {
                        request: pending.kind,
                        id,
                    }));
            }
        }
        if let Some(due) = self.next_heartbeat.filter(|&due| due <= now) {
            // A zero interval would beat forever at one instant.
            let interval = self.config.heartbeat_interval.max(Duration::from_nanos(1));
            let missed = (now - due).as_nanos() / interval.as_nanos();
            let next = due.saturating_add(interval.saturating_mul(missed.saturating_add(1)));
            self.next_heartbeat = Some(next);
            let peer_id = self.peer_id.clone();
            self.issue(now, Request::Heartbeat(HeartbeatRequest { peer_id }));
        }
    }

    fn register(&mut self, now: Instant) {
        let Some(registration) = &self.registration else {
            return;
        };
        let request = RegisterRequest {
            peer_id: self.peer_id.clone(),
            address: Address(self.id),
            port: self.config.port,
            archetypes: registration.archetypes.clone(),
            metadata: registration.metadata.clone(),
        };
        self.issue(now, Request::Register(request));
    }

    /// Sends `request` now if the connection is open, or once it is.
    fn issue(&mut self, now: Instant, request: Request) {
        let id = (u64::from(self.id.0) << 32) | u64::from(self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        let kind = request.kind();
        if kind == RequestKind::Discover {
            self.outputs
                .push_back(Output::Event(DiscoveryEvent::DiscoverSent { msg: id }));
        }
        let deadline = now.saturating_add(self.config.request_timeout);
        let pending = Pending {
            kind,
            issued: now,
            deadline,
        };
        // Only a sequence that wrapped all the way round can reuse an id
        // that is still pending; the new request then replaces the old one.
        if let Some(old) = self.pending.insert(id, pending) {
            self.deadlines.remove(&(old.deadline, id));
            self.waiting.retain(|&(w, _)| w != id);
        }
        self.deadlines.insert((deadline, id));
        let message = http::emit_request(id, &request);
        match self.connection {
            Connection::Open { last_active, .. }
                if now < last_active.saturating_add(self.config.connection_idle_timeout) =>
            {
                self.send(now, &message)
            }
            Connection::Handshaking { deadline } if now < deadline => {
                self.waiting.push_back((id, message))
            }
            _ => {
                self.connection = Connection::Handshaking { deadline };
                self.outputs.push_back(Output::Transmit {
                    to: self.server,
                    bytes: tls::client_hello().into(),
                });
                self.waiting.push_back((id, message));
            }
        }
    }

    /// Sends an HTTP message on the open connection.
    fn send(&mut self, now: Instant, message: &[u8]) {
        let finished = matches!(
            self.connection,
            Connection::Open {
                finished_sent: false,
                ..
            }
        );
        self.connection = Connection::Open {
            last_active: now,
            finished_sent: true,
        };
        let bytes = if finished {
            tls::client_finished(message)
        } else {
            tls::seal(message)
        };
        self.outputs.push_back(Output::Transmit {
            to: self.server,
            bytes: bytes.into(),
        });
    }

    /// The connection is open: sends what waited for it.
    fn open(&mut self, now: Instant) {
        self.connection = Connection::Open {
            last_active: now,
            finished_sent: false,
        };
        while let Some((_, message)) = self.waiting.pop_front() {
            self.send(now, &message);
        }
    }

    /// Takes a response from the server.
    fn respond(&mut self, now: Instant, from: NodeId, len: usize, response: http::Response) {
        let Some(&pending) = self.pending.get(&response.id) else {
            return;
        };
        if let Connection::Open { finished_sent, .. } = self.connection {
            self.connection = Connection::Open {
                last_active: now,
                finished_sent,
            };
        }
        let Some(event) = answer(now, pending, &response) else {
            self.outputs.push_back(Output::Drop {
                from,
                len,
                cause: DropCause::Malformed,
            });
            return;
        };
        self.pending.remove(&response.id);
        self.deadlines.remove(&(pending.deadline, response.id));
        self.outputs.push_back(Output::Event(event));
        if pending.kind == RequestKind::Heartbeat
            && response.status == NOT_FOUND
            && self.heartbeating()
        {
            self.register(now);
        }
    }
}

/// The event a response to `pending` makes, or `None` if its body is not
/// the JSON its endpoint returns with a 200 (other statuses' bodies are not
/// read).
fn answer(now: Instant, pending: Pending, response: &http::Response) -> Option<DiscoveryEvent> {
    fn parses<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> bool {
        serde_json::from_slice::<T>(body).is_ok()
    }
    let body = &response.body[..];
    let well_formed = response.status != OK
        || match pending.kind {
            RequestKind::Register => parses::<RegisterResponse>(body),
            RequestKind::Heartbeat => parses::<HeartbeatResponse>(body),
            RequestKind::Health => parses::<HealthResponse>(body),
            RequestKind::Discover => {
                let discovered: DiscoverResponse = serde_json::from_slice(body).ok()?;
                let peers = discovered
                    .peers
                    .iter()
                    .map(|p| FoundPeer {
                        node: p.address.0,
                        last_seen: p.last_seen.0,
                    })
                    .collect();
                return Some(DiscoveryEvent::Discovered {
                    msg: response.id,
                    peers,
                    as_of: discovered.timestamp.0,
                    at: now,
                });
            }
        };
    well_formed.then(|| DiscoveryEvent::Answered {
        request: pending.kind,
        status: response.status,
        rtt: now.saturating_duration_since(pending.issued),
    })
}

/// Register metadata of about `size` bytes of JSON: seed 000's
/// `{"client":"aurora-wasm","version":"1.0.0"}`, padded with a `"pad"`
/// string. It is the smallest such object of at least `size` bytes, so
/// exactly `size` bytes from [`MIN_PADDED_METADATA`] on.
pub(super) fn metadata_of_size(size: u32) -> serde_json::Value {
    let mut metadata = serde_json::json!({ "client": "aurora-wasm", "version": "1.0.0" });
    if size as usize > BASE_METADATA_LEN {
        let pad = (size as usize).saturating_sub(MIN_PADDED_METADATA);
        metadata["pad"] = serde_json::Value::String("x".repeat(pad));
    }
    metadata
}

/// The length of [`metadata_of_size`]'s object without padding.
pub(super) const BASE_METADATA_LEN: usize = r#"{"client":"aurora-wasm","version":"1.0.0"}"#.len();
/// The length of [`metadata_of_size`]'s object with an empty pad.
pub(super) const MIN_PADDED_METADATA: usize = BASE_METADATA_LEN + r#","pad":"""#.len();

impl Protocol for Client {
    type Command = DiscoveryCommand;
    type Event = DiscoveryEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.tick(now);
        let flight = tls::parse(bytes).ok();
        let response = match &flight {
            Some(Flight::ApplicationData(plaintext)) => http::parse_response(plaintext).ok(),
            _ => None,
        };
        match (flight, response) {
            (Some(Flight::ServerHello), _) => {
                let handshaking = matches!(self.connection, Connection::Handshaking { deadline } if now < deadline);
                if from == self.server && handshaking {
                    self.open(now);
                }
            }
            (_, Some(response)) => {
                if from == self.server {
                    self.respond(now, from, bytes.len(), response);
                }
            }
            _ => self.outputs.push_back(Output::Drop {
                from,
                len: bytes.len(),
                cause: DropCause::Malformed,
            }),
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: DiscoveryCommand) {
        self.tick(now);
        match cmd {
            DiscoveryCommand::Register {
                archetypes,
                metadata_size,
            } => {
                self.registration = Some(Registration {
                    archetypes,
                    metadata: metadata_of_size(metadata_size),
                });
                self.next_heartbeat = Some(now.saturating_add(self.config.heartbeat_interval));
                self.register(now);
            }
            DiscoveryCommand::Discover { archetype } => {
                self.issue(now, Request::Discover { archetype })
            }
            DiscoveryCommand::Health => self.issue(now, Request::Health),
            DiscoveryCommand::StopHeartbeats => self.next_heartbeat = None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
    }

    fn poll_output(&mut self) -> Option<Output<DiscoveryEvent>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let deadline = self.deadlines.first().map(|&(at, _)| at);
        deadline.into_iter().chain(self.next_heartbeat).min()
    }
}
