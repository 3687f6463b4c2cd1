//! The registry's server: the seeds' Lambda behind API Gateway, with its
//! queue, its cold starts, its request counts and what they cost.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;

use sim_core::{DropCause, Duration, Instant, NodeId, Output, Protocol};

use super::api::{
    to_json, Address, DiscoverResponse, ErrorResponse, HealthResponse, HeartbeatResponse,
    PeerRecord, RegisterResponse, Request, RequestKind, Timestamp, HEALTHY, HEARTBEAT_UPDATED,
    PEER_NOT_FOUND, REGISTERED, UNAVAILABLE,
};
use super::config::{CostConfig, ServerConfig};
use super::http::{self, Response, NOT_FOUND, OK, SERVICE_UNAVAILABLE};
use super::registry::Registry;
use super::DiscoveryEvent;
use crate::signaling::tls::{self, Flight};

/// The month a cost is scaled to: 30 days.
pub const MONTH: Duration = Duration::from_secs(30 * 86_400);

/// A count per request kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `POST /register`.
    pub register: u64,
    /// `POST /heartbeat`.
    pub heartbeat: u64,
    /// `GET /discover`.
    pub discover: u64,
    /// `GET /health`.
    pub health: u64,
}

impl Counts {
    /// The count of `kind`.
    pub fn get(&self, kind: RequestKind) -> u64 {
        match kind {
            RequestKind::Register => self.register,
            RequestKind::Heartbeat => self.heartbeat,
            RequestKind::Discover => self.discover,
            RequestKind::Health => self.health,
        }
    }

    /// All kinds together.
    pub fn total(&self) -> u64 {
        self.register + self.heartbeat + self.discover + self.health
    }

    fn add(&mut self, kind: RequestKind) {
        let count = match kind {
            RequestKind::Register => &mut self.register,
            RequestKind::Heartbeat => &mut self.heartbeat,
            RequestKind::Discover => &mut self.discover,
            RequestKind::Health => &mut self.health,
        };
        *count += 1;
    }
}

/// What the server has done, for the bill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Requests answered by the function, by kind.
    pub served: Counts,
    /// Requests answered 503 because the queue was full, by kind.
    pub rejected: Counts,
    /// The function's billed duration, summed over requests: each
    /// request's processing, plus its cold start if it paid one, rounded up
    /// to the millisecond as Lambda bills.
    pub billed: Duration,
}

impl Usage {
    /// What this usage costs at `prices`, in dollars by service:
    ///
    /// ```text
    /// gateway  = requests × gateway_per_million / 10⁶
    /// function = requests × function_per_million / 10⁶
    ///          + billed seconds × memory_mb / 1024 × function_per_gb_second
    /// database = (registers + heartbeats + discovers) × database_per_million / 10⁶
    /// ```
    ///
    /// where `requests` counts the served requests; rejected ones cost
    /// nothing. [`Cost::per_month`] scales a cost over a window to a 30-day
    /// month, as seed 001 does ($0.18/day → "~$5-10/month").
    pub fn cost(&self, prices: &CostConfig) -> Cost {
        let requests = self.served.total() as f64;
        let database_ops =
            (self.served.register + self.served.heartbeat + self.served.discover) as f64;
        let gb_seconds = self.billed.as_secs_f64() * f64::from(prices.function_memory_mb) / 1024.0;
        Cost {
            gateway: requests * prices.gateway_per_million / 1e6,
            function: requests * prices.function_per_million / 1e6
                + gb_seconds * prices.function_per_gb_second,
            database: database_ops * prices.database_per_million / 1e6,
        }
    }
}

/// A cost in US dollars, by service.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cost {
    /// API Gateway.
    pub gateway: f64,
    /// Lambda: invocations and compute.
    pub function: f64,
    /// DynamoDB.
    pub database: f64,
}

impl Cost {
    /// All services together.
    pub fn total(&self) -> f64 {
        self.gateway + self.function + self.database
    }

    /// This cost, incurred over `window`, extrapolated to a [`MONTH`]
    /// (zero for an empty window).
    pub fn per_month(&self, window: Duration) -> Cost {
        if window == Duration::ZERO {
            return Cost::default();
        }
        let k = MONTH.as_secs_f64() / window.as_secs_f64();
        Cost {
            gateway: self.gateway * k,
            function: self.function * k,
            database: self.database * k,
        }
    }
}

/// A request in the queue.
#[derive(Clone, Debug)]
struct Arrival {
    from: NodeId,
    id: u64,
    request: Request,
    arrived: Instant,
}

/// A request that has started.
#[derive(Clone, Debug)]
struct Job {
    arrival: Arrival,
    started: Instant,
    cold: bool,
}

/// What [`Server::advance`] does next; at equal times, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Expire,
    Complete,
    Start,
}

/// The registry's server state machine.
///
/// # The platform model
///
/// - The gateway terminates TLS: it answers a ClientHello at once with its
///   handshake flight; handshakes are neither queued, counted nor billed.
/// - Requests wait in one first-in first-out queue and start at most
///   [`capacity`](ServerConfig::capacity) per second: each starts at
///   `max(arrival, previous start + 1 / capacity)`. Started requests run in
///   parallel (the platform adds instances) and take
///   [`processing_delay`](ServerConfig::processing_delay). The wait in the
///   queue is therefore the waiting time of a single server with constant
///   service time `1 / capacity` (M/D/1 under Poisson arrivals).
/// - A request that arrives while [`queue_limit`](ServerConfig::queue_limit)
///   requests already wait is answered 503 at once and counted as rejected.
/// - The function is cold before its first request and after an idle
///   spell (no request running) longer than
///   [`cold_start_after`](ServerConfig::cold_start_after): the request that
///   starts it pays [`cold_start_delay`](ServerConfig::cold_start_delay),
///   and requests starting while it boots wait for the boot to end.
/// - A request takes effect when it completes: the registry stamps it, and
///   the response leaves, at that instant.
///
/// # Methods
///
/// - Getters: [`id`](Server::id), [`config`](Server::config),
///   [`registry`](Server::registry), [`usage`](Server::usage),
///   [`waiting`](Server::waiting), [`running`](Server::running),
///   [`monthly_cost`](Server::monthly_cost).
/// - Inputs, from [`Protocol`]: [`handle_datagram`](Protocol::handle_datagram)
///   answers handshakes and queues requests;
///   [`handle_timeout`](Protocol::handle_timeout) starts and completes
///   requests and expires registrations. It takes no commands.
/// - Outputs: responses, [`DiscoveryEvent::Served`],
///   [`DiscoveryEvent::Rejected`] and [`DiscoveryEvent::Expired`], and a
///   `Drop` for bytes that are not a request of the API.
///
/// # Behaviour
///
/// - Every input first does everything due at or before `now`, in time
///   order (at equal times: expiries, then completions, then starts), so
///   the outputs do not depend on when the driver wakes it.
/// - Bytes that are not a ClientHello or a well-formed request to one of
///   the four endpoints give exactly one
///   `Output::Drop { cause: DropCause::Malformed, .. }` and nothing else
///   (a real gateway would answer 400 or 404; the simulated clients never
///   send such requests).
#[derive(Clone, Debug)]
pub struct Server {
    id: NodeId,
    config: ServerConfig,
    /// The least time between two starts: 1 / capacity.
    start_interval: Duration,
    registry: Registry,
    queue: VecDeque<Arrival>,
    /// The earliest time the next request may start.
    next_start: Instant,
    /// When the last started request completes; `None` before the first.
    busy_until: Option<Instant>,
    /// When the function's current instance finished (or finishes)
    /// booting.
    ready_at: Instant,
    /// Started requests by (completion time, start order).
    running: BTreeMap<(Instant, u64), Job>,
    started: u64,
    usage: Usage,
    outputs: VecDeque<Output<DiscoveryEvent>>,
}

impl Server {
    /// A server at address `id` with an empty registry and a cold function.
    ///
    /// A capacity that [`validate`](super::DiscoveryConfig::validate)
    /// rejects (zero, negative, NaN) starts the first request and no other.
    pub fn new(id: NodeId, config: ServerConfig) -> Self {
        let nanos = 1e9 / config.capacity;
        // `as` saturates: an infinite capacity gives 0, a zero one u64::MAX.
        let start_interval = if nanos >= 0.0 {
            Duration::from_nanos(nanos.round() as u64)
        } else {
            Duration::MAX
        };
        Server {
            id,
            config,
            start_interval,
            registry: Registry::new(config.ttl),
            queue: VecDeque::new(),
            next_start: Instant::ZERO,
            busy_until: None,
            ready_at: Instant::ZERO,
            running: BTreeMap::new(),
            started: 0,
            usage: Usage::default(),
            outputs: VecDeque::new(),
        }
    }

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The registrations it holds.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// What it has served and rejected so far, and the billed duration.
    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// How many requests wait to start.
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// How many requests have started and not completed.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// The cost of its usage from time zero to `now`, extrapolated to a
    /// 30-day month.
    pub fn monthly_cost(&self, now: Instant) -> Cost {
        self.usage
            .cost(&self.config.cost)
            .per_month(now.since_start())
    }

    fn drop_malformed(&mut self, from: NodeId, len: usize) {
        self.outputs.push_back(Output::Drop {
            from,
            len,
            cause: DropCause::Malformed,
        });
    }

    fn respond(&mut self, to: NodeId, at: Instant, response: Response) {
        let bytes = tls::seal(&http::emit_response(&response, at));
        self.outputs.push_back(Output::Transmit {
            to,
            bytes: bytes.into(),
        });
    }

    /// Queues a request, starts what may start, and rejects the request if
    /// it leaves too many waiting.
    fn arrive(&mut self, now: Instant, arrival: Arrival) {
        self.queue.push_back(arrival);
        self.advance(now);
        if self.queue.len() <= self.config.queue_limit as usize {
            return;
        }
        let Some(Arrival {
            from, id, request, ..
        }) = self.queue.pop_back()
        else {
            return;
        };
        let kind = request.kind();
        self.usage.rejected.add(kind);
        self.outputs
            .push_back(Output::Event(DiscoveryEvent::Rejected {
                request: kind,
                from,
            }));
        let body = to_json(&ErrorResponse {
            error: UNAVAILABLE.to_string(),
        });
        let status = SERVICE_UNAVAILABLE;
        self.respond(from, now, Response { id, status, body });
    }

    /// Does everything due at or before `now`, in time order.
    fn advance(&mut self, now: Instant) {
        loop {
            let expiry = self.registry.next_expiry();
            let completion = self.running.first_key_value().map(|(&(at, _), _)| at);
            let start = self.queue.front().map(|a| a.arrived.max(self.next_start));
            let next = [
                (expiry, Step::Expire),
                (completion, Step::Complete),
                (start, Step::Start),
            ]
            .into_iter()
            .filter_map(|(at, step)| at.filter(|&at| at <= now).map(|at| (at, step)))
            .min();
            match next {
                None => return,
                Some((at, Step::Expire)) => self.expire(at),
                Some((_, Step::Complete)) => self.complete(),
                Some((at, Step::Start)) => self.start(at),
            }
        }
    }

    fn expire(&mut self, at: Instant) {
        if let Some((peer_id, entry)) = self.registry.pop_expired(at) {
            self.outputs
                .push_back(Output::Event(DiscoveryEvent::Expired {
                    peer: entry.node,
                    peer_id,
                    registered_at: entry.registered_at,
                    last_heartbeat: entry.last_seen,
                    at: entry.expires,
                }));
        }
    }

    /// Starts the request at the head of the queue at `at`.
    fn start(&mut self, at: Instant) {
        let Some(arrival) = self.queue.pop_front() else {
            return;
        };
        let c = &self.config;
        self.next_start = at.saturating_add(self.start_interval);
        let idle_too_long = |busy: Instant| at.saturating_duration_since(busy) > c.cold_start_after;
        let cold = c.cold_start_delay > Duration::ZERO && self.busy_until.is_none_or(idle_too_long);
        if cold {
            self.ready_at = at.saturating_add(c.cold_start_delay);
        }
        let done = at.max(self.ready_at).saturating_add(c.processing_delay);
        self.busy_until = Some(self.busy_until.map_or(done, |busy| busy.max(done)));
        let billed = c.processing_delay.saturating_add(if cold {
            c.cold_start_delay
        } else {
            Duration::ZERO
        });
        let millis = billed.as_nanos().div_ceil(1_000_000);
        self.usage.billed = self
            .usage
            .billed
            .saturating_add(Duration::from_millis(millis));
        let job = Job {
            arrival,
            started: at,
            cold,
        };
        self.running.insert((done, self.started), job);
        self.started += 1;
    }

    /// Completes the earliest running request: applies it and answers.
    fn complete(&mut self) {
        let Some(((at, _), job)) = self.running.pop_first() else {
            return;
        };
        let Arrival {
            from,
            id,
            request,
            arrived,
        } = job.arrival;
        let kind = request.kind();
        let (status, body) = self.apply(at, request);
        self.usage.served.add(kind);
        self.outputs
            .push_back(Output::Event(DiscoveryEvent::Served {
                request: kind,
                from,
                status,
                queued: job.started.saturating_duration_since(arrived),
                cold_start: job.cold,
            }));
        self.respond(from, at, Response { id, status, body });
    }

    /// What the function does with `request` at `at`: the status and body.
    fn apply(&mut self, at: Instant, request: Request) -> (u16, Vec<u8>) {
        match request {
            Request::Register(register) => {
                let peer_id = register.peer_id.clone();
                let expires = self.registry.register(at, register);
                let body = RegisterResponse {
                    message: REGISTERED.to_string(),
                    peer_id,
                    ttl_expires: Timestamp(expires),
                };
                (OK, to_json(&body))
            }
            Request::Heartbeat(heartbeat) => {
                match self.registry.heartbeat(at, &heartbeat.peer_id) {
                    Some(expires) => {
                        let body = HeartbeatResponse {
                            message: HEARTBEAT_UPDATED.to_string(),
                            peer_id: heartbeat.peer_id,
                            timestamp: Timestamp(at),
                            ttl_expires: Timestamp(expires),
                        };
                        (OK, to_json(&body))
                    }
                    None => {
                        let body = ErrorResponse {
                            error: PEER_NOT_FOUND.to_string(),
                        };
                        (NOT_FOUND, to_json(&body))
                    }
                }
            }
            Request::Discover { archetype } => {
                let peers: Vec<PeerRecord> = self
                    .registry
                    .alive(at, archetype.as_deref())
                    .map(|(peer_id, e)| PeerRecord {
                        peer_id: peer_id.to_string(),
                        address: Address(e.node),
                        port: e.port,
                        archetypes: e.archetypes.clone(),
                        last_seen: Timestamp(e.last_seen),
                        metadata: e.metadata.clone(),
                    })
                    .collect();
                let body = DiscoverResponse {
                    count: peers.len() as u64,
                    peers,
                    timestamp: Timestamp(at),
                };
                (OK, to_json(&body))
            }
            Request::Health => {
                let body = HealthResponse {
                    status: HEALTHY.to_string(),
                };
                (OK, to_json(&body))
            }
        }
    }
}

impl Protocol for Server {
    type Command = Infallible;
    type Event = DiscoveryEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.advance(now);
        match tls::parse(bytes) {
            Ok(Flight::ClientHello) => self.outputs.push_back(Output::Transmit {
                to: from,
                bytes: tls::server_hello().into(),
            }),
            Ok(Flight::ClientFinished(plaintext) | Flight::ApplicationData(plaintext)) => {
                match http::parse_request(&plaintext) {
                    Ok((id, request)) => {
                        let arrival = Arrival {
                            from,
                            id,
                            request,
                            arrived: now,
                        };
                        self.arrive(now, arrival);
                    }
                    Err(_) => self.drop_malformed(from, bytes.len()),
                }
            }
            Ok(Flight::ServerHello) | Err(_) => self.drop_malformed(from, bytes.len()),
        }
    }

    fn handle_command(&mut self, _now: Instant, cmd: Infallible) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    fn poll_output(&mut self) -> Option<Output<DiscoveryEvent>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self.registry.next_expiry();
        let completion = self.running.first_key_value().map(|(&(at, _), _)| at);
        let start = self.queue.front().map(|a| a.arrived.max(self.next_start));
        [expiry, completion, start].into_iter().flatten().min()
    }
}
