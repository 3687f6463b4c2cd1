use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand::SeedableRng;
use sim_core::dist::exponential_f64;
use sim_core::{
    DropCause, Duration, Instant, NodeId, Observation, Observe, Output, Protocol, SimRng,
};

use super::api::{
    self, Address, DiscoverResponse, ErrorResponse, HealthResponse, HeartbeatRequest,
    HeartbeatResponse, PeerRecord, RegisterRequest, RegisterResponse, Request, Timestamp,
};
use super::client::{metadata_of_size, BASE_METADATA_LEN, MIN_PADDED_METADATA};
use super::http::{self, Response};
use super::*;
use crate::signaling::tls::{self, Flight};
use crate::test_net::TestNet;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

fn at(d: Duration) -> Instant {
    Instant::ZERO + d
}

/// A server that answers every request the instant it arrives.
fn instant_config(ttl: Duration) -> DiscoveryConfig {
    let mut config = DiscoveryConfig::default();
    config.server.ttl = ttl;
    config.server.processing_delay = Duration::ZERO;
    config.server.cold_start_delay = Duration::ZERO;
    config.server.capacity = f64::INFINITY;
    config
}

/// Node 0 the server, nodes 1..=clients its clients.
fn network(clients: u32, config: &DiscoveryConfig) -> TestNet<Discovery> {
    let mut rng = SimRng::seed_from_u64(7);
    let mut nodes = vec![Discovery::server(NodeId(0), config)];
    for i in 1..=clients {
        nodes.push(Discovery::client(NodeId(i), NodeId(0), config, &mut rng));
    }
    TestNet::new(nodes)
}

/// Gives `node` a command now, delivers what follows, and returns the
/// events `node` reported meanwhile.
fn command(net: &mut TestNet<Discovery>, node: u32, cmd: DiscoveryCommand) -> Vec<DiscoveryEvent> {
    let before = net.log.len();
    net.command(NodeId(node), cmd);
    net.run();
    net.log[before..]
        .iter()
        .filter(|r| r.node == NodeId(node))
        .filter_map(|r| match &r.output {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn register(archetypes: &[&str]) -> DiscoveryCommand {
    DiscoveryCommand::Register {
        archetypes: archetypes.iter().map(|a| a.to_string()).collect(),
        metadata_size: 0,
    }
}

/// The nodes `node` finds by discovering now.
fn discover(net: &mut TestNet<Discovery>, node: u32, archetype: Option<&str>) -> BTreeSet<NodeId> {
    let cmd = DiscoveryCommand::Discover {
        archetype: archetype.map(str::to_string),
    };
    let events = command(net, node, cmd);
    let Some(DiscoveryEvent::Discovered { peers, .. }) = events.last() else {
        panic!("no discover response: {events:?}");
    };
    peers.iter().map(|p| p.node).collect()
}

fn nodes(ids: &[u32]) -> BTreeSet<NodeId> {
    ids.iter().map(|&i| NodeId(i)).collect()
}

fn register_request(node: u32, peer_id: &str, archetypes: &[&str]) -> Request {
    Request::Register(RegisterRequest {
        peer_id: peer_id.to_string(),
        address: Address(NodeId(node)),
        port: 9000,
        archetypes: archetypes.iter().map(|a| a.to_string()).collect(),
        metadata: metadata_of_size(0),
    })
}

fn sealed(id: u64, request: &Request) -> Vec<u8> {
    tls::seal(&http::emit_request(id, request))
}

/// What the client's `Finished` (and ChangeCipherSpec) add to the first
/// request on a connection.
fn finished_len() -> usize {
    tls::client_finished(b"x").len() - tls::seal(b"x").len()
}

/// A server driven directly, woken at its deadlines as the kernel does.
struct Driven {
    server: Server,
    /// (time, request id, status, body) of every response.
    responses: Vec<(Instant, u64, u16, Vec<u8>)>,
    events: Vec<DiscoveryEvent>,
    drops: usize,
}

impl Driven {
    fn new(config: ServerConfig) -> Self {
        Driven {
            server: Server::new(NodeId(0), config),
            responses: Vec::new(),
            events: Vec::new(),
            drops: 0,
        }
    }

    fn wake_until(&mut self, until: Instant) {
        while let Some(due) = self.server.poll_timeout().filter(|&due| due <= until) {
            self.server.handle_timeout(due);
            self.collect(due);
        }
    }

    fn send(&mut self, now: Instant, from: u32, id: u64, request: &Request) {
        self.wake_until(now);
        self.server
            .handle_datagram(now, NodeId(from), &sealed(id, request));
        self.collect(now);
    }

    fn collect(&mut self, now: Instant) {
        while let Some(output) = self.server.poll_output() {
            match output {
                Output::Transmit { bytes, .. } => {
                    let Ok(Flight::ApplicationData(plaintext)) = tls::parse(&bytes) else {
                        panic!("the server sent a non-response");
                    };
                    let r = http::parse_response(&plaintext).expect("a well-formed response");
                    self.responses.push((now, r.id, r.status, r.body));
                }
                Output::Event(e) => self.events.push(e),
                Output::Drop { .. } => self.drops += 1,
            }
        }
    }

    /// When the response to `id` left.
    fn answered_at(&self, id: u64) -> Instant {
        self.responses
            .iter()
            .find(|r| r.1 == id)
            .map(|r| r.0)
            .expect("answered")
    }
}

// ---------------------------------------------------------------- wire

fn every_request() -> Vec<Request> {
    vec![
        register_request(3, "peer-123", &["pepino", "ethics"]),
        register_request(1 << 24, "uuid-1", &[]),
        Request::Heartbeat(HeartbeatRequest {
            peer_id: "peer-123".to_string(),
        }),
        Request::Discover { archetype: None },
        Request::Discover {
            archetype: Some("pepino".to_string()),
        },
        Request::Discover {
            archetype: Some("tensor provider/ñ&x=1%+".to_string()),
        },
        Request::Health,
    ]
}

#[test]
fn every_request_round_trips_through_http_and_tls() {
    assert_eq!(finished_len(), 64);
    for (id, request) in every_request().into_iter().enumerate() {
        let id = id as u64 * 0x1_0000_0001;
        let message = http::emit_request(id, &request);
        let sealed = tls::seal(&message);
        assert_eq!(sealed.len(), message.len() + tls::SEALED_OVERHEAD);
        let Ok(Flight::ApplicationData(plaintext)) = tls::parse(&sealed) else {
            panic!("{request:?} does not open");
        };
        assert_eq!(http::parse_request(&plaintext), Ok((id, request.clone())));
        let first = tls::client_finished(&message);
        assert_eq!(first.len(), sealed.len() + finished_len());
        let Ok(Flight::ClientFinished(plaintext)) = tls::parse(&first) else {
            panic!("{request:?} does not open");
        };
        assert_eq!(http::parse_request(&plaintext), Ok((id, request)));
    }
}

#[test]
fn requests_look_like_a_browsers() {
    let message = http::emit_request(7, &register_request(3, "peer-123", &["pepino"]));
    let text = String::from_utf8(message).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with(
        "POST /dev/register HTTP/1.1\r\nHost: abcdef1234.execute-api.us-east-1.amazonaws.com\r\n"
    ));
    for header in [
        "Content-Type: application/json",
        "Origin: http://localhost:8080",
        "Sec-Fetch-Mode: cors",
        "X-Request-Id: 7",
    ] {
        assert!(head.contains(header), "{header}");
    }
    assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
    assert_eq!(
        body,
        r#"{"peer_id":"peer-123","address":"10.0.0.3","port":9000,"archetypes":["pepino"],"metadata":{"client":"aurora-wasm","version":"1.0.0"}}"#
    );
    let discover = http::emit_request(
        8,
        &Request::Discover {
            archetype: Some("a b".into()),
        },
    );
    let discover = String::from_utf8(discover).unwrap();
    assert!(discover.starts_with("GET /dev/discover?archetype=a%20b HTTP/1.1\r\n"));
    assert!(!discover.contains("Content-Length"));
}

#[test]
fn every_response_round_trips_with_its_json() {
    let t = at(secs(300));
    let peers = vec![
        PeerRecord {
            peer_id: "peer-456".to_string(),
            address: Address(NodeId(4)),
            port: 9001,
            archetypes: vec!["pepino".to_string(), "tensor-provider".to_string()],
            last_seen: Timestamp(at(ms(1500))),
            metadata: serde_json::json!({ "version": "1.0.0" }),
        },
        PeerRecord {
            peer_id: "peer-v6".to_string(),
            address: Address(NodeId(u32::MAX)),
            port: 1,
            archetypes: vec![],
            last_seen: Timestamp(Instant::ZERO),
            metadata: serde_json::Value::Null,
        },
    ];
    let bodies: Vec<(u16, Vec<u8>)> = vec![
        (
            http::OK,
            api::to_json(&RegisterResponse {
                message: api::REGISTERED.into(),
                peer_id: "p".into(),
                ttl_expires: Timestamp(t),
            }),
        ),
        (
            http::OK,
            api::to_json(&HeartbeatResponse {
                message: api::HEARTBEAT_UPDATED.into(),
                peer_id: "p".into(),
                timestamp: Timestamp(t),
                ttl_expires: Timestamp(t + secs(300)),
            }),
        ),
        (
            http::OK,
            api::to_json(&DiscoverResponse {
                count: 2,
                peers: peers.clone(),
                timestamp: Timestamp(t),
            }),
        ),
        (
            http::OK,
            api::to_json(&HealthResponse {
                status: api::HEALTHY.into(),
            }),
        ),
        (
            http::NOT_FOUND,
            api::to_json(&ErrorResponse {
                error: api::PEER_NOT_FOUND.into(),
            }),
        ),
        (
            http::SERVICE_UNAVAILABLE,
            api::to_json(&ErrorResponse {
                error: api::UNAVAILABLE.into(),
            }),
        ),
    ];
    for (status, body) in bodies {
        let response = Response {
            id: u64::MAX,
            status,
            body,
        };
        let bytes = tls::seal(&http::emit_response(&response, t));
        let Ok(Flight::ApplicationData(plaintext)) = tls::parse(&bytes) else {
            panic!("does not open");
        };
        assert_eq!(http::parse_response(&plaintext), Ok(response));
    }
    let json = api::to_json(&DiscoverResponse {
        count: 2,
        peers: peers.clone(),
        timestamp: Timestamp(t),
    });
    let back: DiscoverResponse = serde_json::from_slice(&json).unwrap();
    assert_eq!(back.peers, peers);
    let text = String::from_utf8(json).unwrap();
    assert!(text.contains(r#""address":"10.0.0.4""#), "{text}");
    assert!(text.contains(r#""address":"fd00::ffff:ffff""#), "{text}");
    assert!(
        text.contains(r#""last_seen":"2025-10-02T12:00:01.500000Z""#),
        "{text}"
    );
    assert!(
        text.contains(r#""timestamp":"2025-10-02T12:05:00.000000Z""#),
        "{text}"
    );
}

#[test]
fn the_seeds_example_bodies_parse() {
    let register: RegisterRequest = serde_json::from_str(
        r#"{"peer_id": "peer-123", "address": "10.0.0.100", "port": 9000,
            "archetypes": ["pepino", "ethics"],
            "metadata": {"version": "1.0.0", "capabilities": ["tensor-exchange"]}}"#,
    )
    .unwrap();
    assert_eq!(register.address, Address(NodeId(100)));
    let heartbeat: HeartbeatResponse = serde_json::from_str(
        r#"{"message": "Heartbeat updated", "peer_id": "uuid-or-identifier",
            "timestamp": "2025-10-02T12:00:00", "ttl_expires": "2025-10-02T12:05:00Z"}"#,
    )
    .unwrap();
    assert_eq!(heartbeat.ttl_expires, Timestamp(at(secs(300))));
    // The seeds' own example address is not a simulated node's.
    assert!(serde_json::from_str::<HeartbeatRequest>(r#"{"peer_id": 5}"#).is_err());
    assert!(serde_json::from_str::<Address>(r#""192.168.1.100""#).is_err());
    assert!(serde_json::from_str::<Address>(r#""fd00::5""#).is_err());
}

#[test]
fn metadata_has_the_size_asked_for() {
    let len = |size| api::to_json(&metadata_of_size(size)).len();
    assert_eq!(BASE_METADATA_LEN, 42);
    assert_eq!(len(0), BASE_METADATA_LEN);
    assert_eq!(len(BASE_METADATA_LEN as u32), BASE_METADATA_LEN);
    assert_eq!(len(BASE_METADATA_LEN as u32 + 1), MIN_PADDED_METADATA);
    for size in [MIN_PADDED_METADATA as u32, 100, 4096] {
        assert_eq!(len(size), size as usize);
    }
}

#[test]
fn malformed_requests_give_exactly_one_drop() {
    let valid = String::from_utf8(http::emit_request(1, &Request::Health)).unwrap();
    let register =
        String::from_utf8(http::emit_request(2, &register_request(1, "p", &[]))).unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("unknown route", valid.replace("/dev/health", "/dev/status")),
        ("no stage", valid.replace("/dev/health", "/health")),
        (
            "wrong method",
            valid.replace("GET /dev/health", "PUT /dev/health"),
        ),
        ("HTTP/1.0", valid.replace("HTTP/1.1", "HTTP/1.0")),
        ("no request id", valid.replace("X-Request-Id: 1\r\n", "")),
        (
            "two request ids",
            valid.replace(
                "X-Request-Id: 1\r\n",
                "X-Request-Id: 1\r\nx-request-id: 1\r\n",
            ),
        ),
        (
            "GET with a body",
            valid.replace("Accept: */*\r\n", "Content-Length: 2\r\n") + "{}",
        ),
        ("short body", register[..register.len() - 1].to_string()),
        ("bad JSON", register.replace("\"peer_id\"", "\"peer-id\"")),
        (
            "foreign address",
            register.replace("10.0.0.1", "192.168.1.100"),
        ),
        (
            "bad query",
            valid.replace("/dev/health", "/dev/discover?archetype=%G0"),
        ),
        ("no blank line", valid.replace("\r\n\r\n", "\r\n")),
        (
            "header without colon",
            valid.replace("Accept: */*", "Accept */*"),
        ),
    ];
    for (what, message) in cases {
        let bytes = tls::seal(message.as_bytes());
        let mut server = Server::new(NodeId(0), instant_config(secs(300)).server);
        server.handle_datagram(Instant::ZERO, NodeId(5), &bytes);
        let outputs: Vec<_> = std::iter::from_fn(|| server.poll_output()).collect();
        assert_eq!(
            outputs,
            [Output::Drop {
                from: NodeId(5),
                len: bytes.len(),
                cause: DropCause::Malformed
            }],
            "{what}"
        );
    }
}

#[test]
fn sizes_include_the_tls_records_and_handshake() {
    let config = instant_config(secs(300));
    let mut net = network(2, &config);
    command(&mut net, 1, register(&["pepino"]));
    let sent: Vec<(NodeId, usize)> = net
        .log
        .iter()
        .filter_map(|r| match &r.output {
            Output::Transmit { bytes, .. } => Some((r.node, bytes.len())),
            _ => None,
        })
        .collect();
    let Some(Discovery::Client(client)) = net.nodes.get(1) else {
        panic!()
    };
    let peer_id = client.peer_id().to_string();
    let request = Request::Register(RegisterRequest {
        peer_id: peer_id.clone(),
        address: Address(NodeId(1)),
        port: 9000,
        archetypes: vec!["pepino".into()],
        metadata: metadata_of_size(0),
    });
    let request_len = http::emit_request(1 << 32, &request).len();
    let response_len = http::emit_response(
        &Response {
            id: 1 << 32,
            status: http::OK,
            body: api::to_json(&RegisterResponse {
                message: api::REGISTERED.into(),
                peer_id,
                ttl_expires: Timestamp(at(secs(300))),
            }),
        },
        Instant::ZERO,
    )
    .len();
    assert_eq!(
        sent,
        [
            (NodeId(1), 517),
            (NodeId(0), 3094),
            (
                NodeId(1),
                finished_len() + tls::SEALED_OVERHEAD + request_len
            ),
            (NodeId(0), tls::SEALED_OVERHEAD + response_len),
        ]
    );
    // A heartbeat on the open connection costs no Finished.
    let before = net.log.len();
    net.run_until(at(secs(30)));
    let heartbeat = net.log[before..]
        .iter()
        .find_map(|r| match &r.output {
            Output::Transmit { bytes, .. } if r.node == NodeId(1) => Some(bytes.len()),
            _ => None,
        })
        .unwrap();
    let message = http::emit_request(
        1 << 32 | 1,
        &Request::Heartbeat(HeartbeatRequest {
            peer_id: net.nodes[1].as_client().unwrap().peer_id().into(),
        }),
    );
    assert_eq!(heartbeat, tls::SEALED_OVERHEAD + message.len());
}

#[test]
fn a_discover_response_of_many_peers_spans_several_records() {
    let mut driven = Driven::new(instant_config(secs(300)).server);
    for p in 0..200 {
        driven.send(
            Instant::ZERO,
            p + 1,
            p.into(),
            &register_request(p + 1, &format!("peer-{p:03}"), &["pepino"]),
        );
    }
    driven.server.handle_datagram(
        Instant::ZERO,
        NodeId(1),
        &sealed(999, &Request::Discover { archetype: None }),
    );
    let Some(bytes) = std::iter::from_fn(|| driven.server.poll_output()).find_map(|o| match o {
        Output::Transmit { bytes, .. } => Some(bytes),
        _ => None,
    }) else {
        panic!("no response")
    };
    let Ok(Flight::ApplicationData(plaintext)) = tls::parse(&bytes) else {
        panic!()
    };
    let records = plaintext.len().div_ceil(tls::MAX_PLAINTEXT);
    assert!(records >= 2, "{} bytes", plaintext.len());
    assert_eq!(
        bytes.len(),
        plaintext.len() + records * tls::SEALED_OVERHEAD
    );
    let response = http::parse_response(&plaintext).unwrap();
    let body: DiscoverResponse = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body.count, 200);
}

proptest! {
    #[test]
    fn requests_round_trip(
        id in any::<u64>(),
        node in any::<u32>(),
        peer_id in "\\PC{0,40}",
        archetypes in proptest::collection::vec("\\PC{0,12}", 0..5),
        metadata_size in 0u32..300,
        archetype in proptest::option::of("\\PC{0,20}"),
        port in any::<u16>(),
    ) {
        let requests = [
            Request::Register(RegisterRequest {
                peer_id: peer_id.clone(),
                address: Address(NodeId(node)),
                port,
                archetypes,
                metadata: metadata_of_size(metadata_size),
            }),
            Request::Heartbeat(HeartbeatRequest { peer_id }),
            Request::Discover { archetype },
        ];
        for request in requests {
            let Ok(Flight::ApplicationData(plaintext)) = tls::parse(&sealed(id, &request)) else {
                panic!("does not open");
            };
            prop_assert_eq!(http::parse_request(&plaintext), Ok((id, request)));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_are_counted(
        garbage in proptest::collection::vec(any::<u8>(), 0..200),
        wrap in 0u8..3,
        flip in any::<prop::sample::Index>(),
        to_server in any::<bool>(),
    ) {
        // Raw garbage, garbage in TLS records, or a valid request with one
        // byte changed.
        let bytes = match wrap {
            0 => garbage,
            1 => tls::seal(&garbage),
            _ => {
                let mut bytes = sealed(1 << 32, &register_request(1, "p", &["a"]));
                let i = flip.index(bytes.len());
                bytes[i] ^= garbage.first().copied().unwrap_or(1).max(1);
                bytes
            }
        };
        let config = instant_config(secs(300));
        let mut node = if to_server {
            Discovery::server(NodeId(0), &config)
        } else {
            let mut rng = SimRng::seed_from_u64(1);
            let mut client = Discovery::client(NodeId(1), NodeId(0), &config, &mut rng);
            client.handle_command(Instant::ZERO, DiscoveryCommand::Health);
            while client.poll_output().is_some() {}
            client
        };
        node.handle_datagram(Instant::ZERO, NodeId(0), &bytes);
        let outputs: Vec<_> = std::iter::from_fn(|| node.poll_output()).collect();
        let drops = outputs.iter().filter(|o| matches!(o, Output::Drop { .. })).count();
        let valid_request = match tls::parse(&bytes) {
            Ok(Flight::ApplicationData(p) | Flight::ClientFinished(p)) => http::parse_request(&p).is_ok(),
            flight => flight == Ok(Flight::ClientHello),
        };
        if to_server {
            prop_assert_eq!(drops, usize::from(!valid_request));
            if !valid_request {
                prop_assert_eq!(outputs.len(), 1);
            }
        } else {
            prop_assert!(drops <= 1);
            prop_assert!(outputs.len() <= 1);
        }
    }
}

// ---------------------------------------------------------------- TTL

#[test]
fn a_silent_peer_is_returned_until_its_ttl_passes_and_never_after() {
    let ttl = secs(300);
    let mut net = network(2, &instant_config(ttl));
    command(&mut net, 1, register(&["pepino"]));
    // Heartbeats at 30, 60 and 90 s; then silence.
    net.run_until(at(secs(100)));
    command(&mut net, 1, DiscoveryCommand::StopHeartbeats);
    let last = at(secs(90));
    let dead = last + ttl;

    net.run_until(Instant::from_nanos(dead.as_nanos() - 1));
    assert_eq!(discover(&mut net, 2, Some("pepino")), nodes(&[1]));
    assert!(!net
        .events()
        .any(|(_, e)| matches!(e, DiscoveryEvent::Expired { .. })));

    net.run_until(dead);
    assert_eq!(discover(&mut net, 2, Some("pepino")), nodes(&[]));
    let expired: Vec<_> = net
        .events()
        .filter(|(_, e)| matches!(e, DiscoveryEvent::Expired { .. }))
        .collect();
    assert_eq!(expired.len(), 1);
    let (
        node,
        DiscoveryEvent::Expired {
            peer,
            registered_at,
            last_heartbeat,
            at: when,
            ..
        },
    ) = expired[0]
    else {
        unreachable!()
    };
    assert_eq!(
        (node, *peer, *registered_at, *last_heartbeat, *when),
        (NodeId(0), NodeId(1), Instant::ZERO, last, dead)
    );
    net.run_until(dead + secs(3600));
    assert_eq!(discover(&mut net, 2, None), nodes(&[]));
}

#[test]
fn the_registry_stamps_a_request_when_it_completes() {
    // Default server (20 ms to process, 250 ms more for the first request),
    // with no rate limit.
    let mut config = DiscoveryConfig::default();
    config.server.capacity = f64::INFINITY;
    let mut net = network(3, &config);
    command(&mut net, 1, register(&[]));
    command(&mut net, 1, DiscoveryCommand::StopHeartbeats);
    net.run_until(at(secs(1)));
    let stamped = at(ms(270));
    let server = net.nodes[0].as_server().unwrap();
    let peer_id = net.nodes[1].as_client().unwrap().peer_id();
    assert_eq!(server.registry().get(peer_id).unwrap().last_seen, stamped);

    // A discover sees the registry as it is when it completes, 20 ms after
    // it is issued: the last issue that still finds peer 1 is 1 ns before
    // 270 ms + 5 min − 20 ms. Clients 2 and 3 ask 1 ns apart.
    let boundary = stamped + (config.server.ttl - config.server.processing_delay);
    let just_before = Instant::from_nanos(boundary.as_nanos() - 1);
    net.run_until(just_before);
    net.command(NodeId(2), DiscoveryCommand::Discover { archetype: None });
    net.run_until(boundary);
    net.command(NodeId(3), DiscoveryCommand::Discover { archetype: None });
    net.run_until(boundary + secs(1));
    let found: Vec<_> = net
        .events()
        .filter_map(|(node, e)| match e {
            DiscoveryEvent::Discovered { peers, as_of, .. } => Some((node, peers.clone(), *as_of)),
            _ => None,
        })
        .collect();
    let micros = |t: Instant| at(Duration::from_micros(t.as_nanos() / 1000));
    assert_eq!(
        found,
        [
            (
                NodeId(2),
                vec![FoundPeer {
                    node: NodeId(1),
                    last_seen: stamped
                }],
                micros(just_before + ms(20))
            ),
            (NodeId(3), vec![], micros(boundary + ms(20))),
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn archetype_filters_return_exactly_the_matching_peers(
        offers in proptest::collection::vec(0u8..32, 1..8),
    ) {
        const ARCHETYPES: [&str; 5] = ["pepino", "ethics", "tensor-provider", "relay", "a b&c"];
        let mut net = network(offers.len() as u32 + 1, &instant_config(secs(300)));
        for (i, &mask) in offers.iter().enumerate() {
            let mine: Vec<&str> = (0..5).filter(|b| mask >> b & 1 == 1).map(|b| ARCHETYPES[b]).collect();
            command(&mut net, i as u32 + 1, register(&mine));
        }
        let asker = offers.len() as u32 + 1;
        for (b, archetype) in ARCHETYPES.iter().enumerate() {
            let expected: BTreeSet<NodeId> = offers
                .iter()
                .enumerate()
                .filter(|&(_, mask)| mask >> b & 1 == 1)
                .map(|(i, _)| NodeId(i as u32 + 1))
                .collect();
            prop_assert_eq!(discover(&mut net, asker, Some(archetype)), expected);
        }
        let everyone: BTreeSet<NodeId> = (1..asker).map(NodeId).collect();
        prop_assert_eq!(discover(&mut net, asker, None), everyone);
        prop_assert_eq!(discover(&mut net, asker, Some("pepin")), BTreeSet::new());
    }

    /// Clients join, stop heartbeating and discover at random times; every
    /// discover returns exactly the peers whose last refresh (register or
    /// heartbeat tick) is less than a TTL old.
    #[test]
    fn the_registry_follows_the_ttl_rule_under_random_schedules(
        ttl_s in 1u64..120,
        interval_s in 5u64..90,
        ops in proptest::collection::vec((0u64..40_000, 1u32..=4, 0u8..3), 1..25),
    ) {
        let ttl = secs(ttl_s);
        let interval = secs(interval_s);
        let mut config = instant_config(ttl);
        config.client.heartbeat_interval = interval;
        let mut net = network(4, &config);
        // Per client: the last register time, and when it stopped heartbeating.
        let mut model: BTreeMap<u32, (Instant, Option<Instant>)> = BTreeMap::new();
        let alive = |model: &BTreeMap<u32, (Instant, Option<Instant>)>, t: Instant| -> BTreeSet<NodeId> {
            model
                .iter()
                .filter(|(_, &(registered, stopped))| {
                    let until = stopped.map_or(t, |s| s.min(t));
                    let ticks = (until - registered).as_nanos() / interval.as_nanos();
                    let last = registered + Duration::from_nanos(ticks * interval.as_nanos());
                    t < last + ttl
                })
                .map(|(&c, _)| NodeId(c))
                .collect()
        };
        let mut now = Instant::ZERO;
        for (gap_ms, client, op) in ops {
            now += ms(gap_ms);
            net.run_until(now);
            match op {
                0 => {
                    command(&mut net, client, register(&[]));
                    model.insert(client, (now, None));
                }
                1 => {
                    command(&mut net, client, DiscoveryCommand::StopHeartbeats);
                    if let Some((_, stopped)) = model.get_mut(&client) {
                        stopped.get_or_insert(now);
                    }
                }
                _ => prop_assert_eq!(discover(&mut net, client, None), alive(&model, now), "at {}", now),
            }
        }
    }
}

/// The server alone, fed register, heartbeat and discover requests at
/// random times: statuses, discover sets and expiry events all follow the
/// TTL rule computed independently.
#[test]
fn the_server_follows_the_ttl_rule_request_by_request() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(128));
    let strategy = (
        1u64..100,
        proptest::collection::vec((0u64..30, 0u32..5, 0u8..3), 1..60),
    );
    runner
        .run(&strategy, |(ttl_ms, ops)| {
            let ttl = ms(ttl_ms);
            let mut driven = Driven::new(instant_config(ttl).server);
            let mut expires: BTreeMap<u32, Instant> = BTreeMap::new();
            let mut expected_expiries = Vec::new();
            let mut now = Instant::ZERO;
            for (i, &(gap, peer, op)) in ops.iter().enumerate() {
                now += ms(gap);
                let dead: Vec<u32> = expires
                    .iter()
                    .filter(|(_, &e)| e <= now)
                    .map(|(&p, _)| p)
                    .collect();
                for p in dead {
                    expected_expiries.push((expires.remove(&p).unwrap(), NodeId(p + 1)));
                }
                let id = i as u64;
                let peer_id = format!("peer-{peer}");
                match op {
                    0 => {
                        driven.send(
                            now,
                            peer + 1,
                            id,
                            &register_request(peer + 1, &peer_id, &[]),
                        );
                        expires.insert(peer, now + ttl);
                    }
                    1 => {
                        driven.send(
                            now,
                            peer + 1,
                            id,
                            &Request::Heartbeat(HeartbeatRequest { peer_id }),
                        );
                        let status = driven.responses.last().unwrap().2;
                        match expires.get_mut(&peer) {
                            Some(e) => {
                                prop_assert_eq!(status, http::OK);
                                *e = now + ttl;
                            }
                            None => prop_assert_eq!(status, http::NOT_FOUND),
                        }
                    }
                    _ => {
                        driven.send(now, peer + 1, id, &Request::Discover { archetype: None });
                        let body: DiscoverResponse =
                            serde_json::from_slice(&driven.responses.last().unwrap().3).unwrap();
                        let got: BTreeSet<NodeId> =
                            body.peers.iter().map(|p| p.address.0).collect();
                        let want: BTreeSet<NodeId> =
                            expires.keys().map(|&p| NodeId(p + 1)).collect();
                        prop_assert_eq!(got, want);
                        prop_assert_eq!(body.timestamp, Timestamp(now));
                    }
                }
            }
            driven.wake_until(Instant::MAX);
            expected_expiries.extend(expires.iter().map(|(&p, &e)| (e, NodeId(p + 1))));
            expected_expiries.sort();
            let mut got: Vec<(Instant, NodeId)> = driven
                .events
                .iter()
                .filter_map(|e| match e {
                    DiscoveryEvent::Expired { peer, at, .. } => Some((*at, *peer)),
                    _ => None,
                })
                .collect();
            got.sort();
            prop_assert_eq!(got, expected_expiries);
            prop_assert_eq!(driven.drops, 0);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_heartbeat_after_expiry_registers_again() {
    let mut config = instant_config(secs(10));
    config.client.heartbeat_interval = secs(30);
    let mut net = network(2, &config);
    command(&mut net, 1, register(&["pepino"]));
    let before = net.log.len();
    net.run_until(at(secs(30)));
    let answers: Vec<(RequestKind, u16)> = net.log[before..]
        .iter()
        .filter_map(|r| match &r.output {
            Output::Event(DiscoveryEvent::Answered {
                request, status, ..
            }) => Some((*request, *status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        answers,
        [
            (RequestKind::Heartbeat, http::NOT_FOUND),
            (RequestKind::Register, http::OK)
        ]
    );
    assert_eq!(discover(&mut net, 2, None), nodes(&[1]));
}

// ---------------------------------------------------------------- server model

/// Latencies (response time − arrival) of requests arriving at `arrivals`.
fn latencies(config: ServerConfig, arrivals: &[Instant]) -> (Driven, Vec<Duration>) {
    let mut driven = Driven::new(config);
    for (i, &t) in arrivals.iter().enumerate() {
        driven.send(t, 1, i as u64, &Request::Health);
    }
    driven.wake_until(Instant::MAX);
    let latencies = arrivals
        .iter()
        .enumerate()
        .map(|(i, &t)| driven.answered_at(i as u64) - t)
        .collect();
    (driven, latencies)
}

fn mean_ms(durations: &[Duration]) -> f64 {
    durations.iter().map(|d| d.as_millis_f64()).sum::<f64>() / durations.len() as f64
}

fn poisson(rate: f64, n: usize, seed: u64) -> Vec<Instant> {
    let mut rng = SimRng::seed_from_u64(seed);
    let mut t = 0.0;
    (0..n)
        .map(|_| {
            t += exponential_f64(&mut rng, 1e9 / rate);
            Instant::from_nanos(t as u64)
        })
        .collect()
}

fn capacity_config(capacity: f64) -> ServerConfig {
    ServerConfig {
        capacity,
        processing_delay: ms(20),
        cold_start_delay: Duration::ZERO,
        queue_limit: u32::MAX,
        ..ServerConfig::default()
    }
}

#[test]
fn well_below_capacity_latency_is_the_processing_delay() {
    // λ = 10/s against 100/s: M/D/1 wait ρ / (2μ(1 − ρ)) = 0.56 ms.
    let (_, latencies) = latencies(capacity_config(100.0), &poisson(10.0, 5_000, 1));
    let mean = mean_ms(&latencies);
    assert!((20.0..21.0).contains(&mean), "mean latency {mean} ms");
    assert!(latencies.iter().all(|&l| l >= ms(20)));
}

#[test]
fn queueing_matches_m_d_1() {
    // λ = 50/s against 100/s: mean wait ρ / (2μ(1 − ρ)) = 5 ms.
    let (driven, _) = latencies(capacity_config(100.0), &poisson(50.0, 100_000, 2));
    let waits: Vec<Duration> = driven
        .events
        .iter()
        .filter_map(|e| match e {
            DiscoveryEvent::Served { queued, .. } => Some(*queued),
            _ => None,
        })
        .collect();
    let mean = mean_ms(&waits);
    assert!(
        (mean - 5.0).abs() < 0.25,
        "mean wait {mean} ms, M/D/1 says 5 ms"
    );
}

#[test]
fn above_capacity_the_queue_grows_and_latency_rises() {
    // 200/s against 100/s: request i arrives at 5i ms and starts at 10i ms.
    let arrivals: Vec<Instant> = (0..200).map(|i| at(ms(5 * i))).collect();
    let mut driven = Driven::new(capacity_config(100.0));
    let mut waiting = Vec::new();
    for (i, &t) in arrivals.iter().enumerate() {
        driven.send(t, 1, i as u64, &Request::Health);
        waiting.push(driven.server.waiting());
    }
    driven.wake_until(Instant::MAX);
    for (i, &t) in arrivals.iter().enumerate() {
        assert_eq!(
            driven.answered_at(i as u64) - t,
            ms(20 + 5 * i as u64),
            "request {i}"
        );
    }
    assert!(waiting.windows(20).all(|w| w[19] > w[0]), "{waiting:?}");
    assert_eq!(waiting[199], 100);
    assert_eq!(driven.server.usage().rejected.total(), 0);
}

#[test]
fn a_full_queue_answers_503_and_counts_it() {
    let config = ServerConfig {
        queue_limit: 10,
        ..capacity_config(100.0)
    };
    let mut driven = Driven::new(config);
    for i in 0..50 {
        driven.send(Instant::ZERO, 1, i, &Request::Health);
    }
    // One starts at once, ten wait, 39 are turned away at once.
    let rejected: Vec<u64> = driven
        .responses
        .iter()
        .filter(|r| r.2 == http::SERVICE_UNAVAILABLE)
        .map(|r| {
            assert_eq!(r.0, Instant::ZERO);
            let body: ErrorResponse = serde_json::from_slice(&r.3).unwrap();
            assert_eq!(body.error, api::UNAVAILABLE);
            r.1
        })
        .collect();
    assert_eq!(rejected, (11..50).collect::<Vec<_>>());
    assert_eq!(driven.server.usage().rejected.health, 39);
    let events = driven
        .events
        .iter()
        .filter(|e| matches!(e, DiscoveryEvent::Rejected { .. }));
    assert_eq!(events.count(), 39);
    driven.wake_until(Instant::MAX);
    assert_eq!(driven.server.usage().served.health, 11);
    assert_eq!(
        driven.responses.iter().filter(|r| r.2 == http::OK).count(),
        11
    );
}

#[test]
fn a_cold_start_is_paid_exactly_when_idle_longer_than_the_threshold() {
    let config = ServerConfig {
        cold_start_after: secs(600),
        cold_start_delay: ms(250),
        processing_delay: ms(20),
        capacity: f64::INFINITY,
        ..ServerConfig::default()
    };
    let mut driven = Driven::new(config);
    // The first request boots the function; one arriving during the boot
    // waits for it without paying another.
    driven.send(Instant::ZERO, 1, 0, &Request::Health);
    driven.send(at(ms(100)), 1, 1, &Request::Health);
    let booted_done = at(ms(270));
    // Idle exactly the threshold: warm. Idle 1 ns longer: cold.
    let warm = booted_done + secs(600);
    driven.send(warm, 1, 2, &Request::Health);
    let warm_done = warm + ms(20);
    let cold = warm_done + secs(600) + Duration::from_nanos(1);
    driven.send(cold, 1, 3, &Request::Health);
    driven.wake_until(Instant::MAX);
    let colds: Vec<bool> = driven
        .events
        .iter()
        .filter_map(|e| match e {
            DiscoveryEvent::Served { cold_start, .. } => Some(*cold_start),
            _ => None,
        })
        .collect();
    assert_eq!(colds, [true, false, false, true]);
    let done: Vec<Instant> = (0..4).map(|i| driven.answered_at(i)).collect();
    assert_eq!(done, [booted_done, booted_done, warm_done, cold + ms(270)]);
    // Billed: 270 + 20 + 20 + 270 ms.
    assert_eq!(driven.server.usage().billed, ms(580));
}

#[test]
fn the_health_check_answers() {
    let mut net = network(1, &DiscoveryConfig::default());
    net.command(NodeId(1), DiscoveryCommand::Health);
    net.run_until(at(secs(1)));
    let answered: Vec<_> = net
        .events()
        .filter(|(_, e)| {
            matches!(
                e,
                DiscoveryEvent::Answered { .. } | DiscoveryEvent::Served { .. }
            )
        })
        .map(|(n, e)| (n, e.clone()))
        .collect();
    assert_eq!(
        answered,
        [
            (
                NodeId(0),
                DiscoveryEvent::Served {
                    request: RequestKind::Health,
                    from: NodeId(1),
                    status: http::OK,
                    queued: Duration::ZERO,
                    cold_start: true
                }
            ),
            (
                NodeId(1),
                DiscoveryEvent::Answered {
                    request: RequestKind::Health,
                    status: http::OK,
                    rtt: ms(270)
                }
            ),
        ]
    );
}

// ---------------------------------------------------------------- cost

#[test]
fn the_seeds_cost_table_is_reproduced_from_its_request_counts() {
    // Seed 001: 100 peers, one heartbeat a minute: 144 000 requests a day.
    let requests = 100 * 24 * 60;
    assert_eq!(requests, 144_000);
    let config = ServerConfig::default();
    let usage = Usage {
        served: Counts {
            heartbeat: requests,
            ..Counts::default()
        },
        rejected: Counts::default(),
        billed: config.processing_delay.saturating_mul(requests),
    };
    let day = usage.cost(&config.cost);
    let cents = |dollars: f64| (dollars * 100.0).round() / 100.0;
    // "Lambda: $0.03/day, DynamoDB: $0.01/day, API Gateway: $0.14/day".
    assert_eq!(cents(day.function), 0.03);
    assert_eq!(cents(day.database), 0.01);
    assert_eq!(cents(day.gateway), 0.14);
    // "Total: ~$5-10/month" (seed 000's 100-peer row says the same).
    let month = day.per_month(secs(86_400)).total();
    assert!((5.0..=10.0).contains(&month), "${month}/month");
    assert!((month - 30.0 * day.total()).abs() < 1e-9);
    // Seed 000's other rows grow slower than their request counts; the
    // model's figures for them (quoted in the module docs):
    let month_of = |peers: u64| {
        let requests = peers * 60 * 24 * 30;
        let usage = Usage {
            served: Counts {
                heartbeat: requests,
                ..Counts::default()
            },
            rejected: Counts::default(),
            billed: config.processing_delay.saturating_mul(requests),
        };
        usage.cost(&config.cost).total()
    };
    assert_eq!(cents(month_of(10)), 0.57);
    assert_eq!(month_of(1000).round(), 57.0);
    // The invocation price alone is the seed's $0.0288.
    let invocations = requests as f64 * config.cost.function_per_million / 1e6;
    assert!((invocations - 0.0288).abs() < 1e-12);
}

#[test]
fn an_hour_of_100_peers_heartbeating_each_minute_costs_what_the_seed_says() {
    let mut config = DiscoveryConfig::default();
    config.client.heartbeat_interval = secs(60);
    let mut net = network(100, &config);
    for i in 1..=100u32 {
        net.run_until(at(ms(600 * u64::from(i))));
        net.command(NodeId(i), register(&["pepino"]));
    }
    let hour = at(secs(3600));
    net.run_until(hour);
    let server = net.nodes[0].as_server().unwrap();
    let usage = server.usage();
    assert_eq!(usage.served.register, 100);
    // Client i registers at 0.6i s and beats each minute after; client 100's
    // last beat, at 3600 s, completes after the hour.
    assert_eq!(usage.served.heartbeat, 99 * 59 + 58);
    let month = server.monthly_cost(hour).total();
    assert!((5.0..=10.0).contains(&month), "${month}/month");
}

// ---------------------------------------------------------------- client

#[test]
fn discover_round_trips_are_messages_and_ids_are_unique() {
    assert_eq!(
        DiscoveryEvent::DiscoverSent { msg: 5 }.observe(),
        Some(Observation::Sent {
            msg: 5,
            expected: 1
        })
    );
    let discovered = DiscoveryEvent::Discovered {
        msg: 5,
        peers: vec![],
        as_of: Instant::ZERO,
        at: Instant::ZERO,
    };
    assert_eq!(
        discovered.observe(),
        Some(Observation::Delivered { msg: 5, hops: 2 })
    );
    let others = [
        DiscoveryEvent::Answered {
            request: RequestKind::Discover,
            status: 503,
            rtt: Duration::ZERO,
        },
        DiscoveryEvent::TimedOut {
            request: RequestKind::Discover,
            id: 5,
        },
        DiscoveryEvent::Rejected {
            request: RequestKind::Discover,
            from: NodeId(1),
        },
    ];
    assert!(others.iter().all(|e| e.observe().is_none()));

    let config = instant_config(secs(300));
    let mut rng = SimRng::seed_from_u64(3);
    let server = Discovery::server(NodeId(0), &config);
    let client =
        Discovery::client(NodeId(1), NodeId(0), &config, &mut rng).with_initial_seq(u32::MAX);
    let mut net = TestNet::new(vec![server.with_initial_seq(9), client]);
    let mut ids = Vec::new();
    for _ in 0..3 {
        for e in command(&mut net, 1, DiscoveryCommand::Discover { archetype: None }) {
            if let Some(o) = e.observe() {
                ids.push(o);
            }
        }
    }
    let base = 1u64 << 32;
    assert_eq!(
        ids,
        [
            Observation::Sent {
                msg: base | u64::from(u32::MAX),
                expected: 1
            },
            Observation::Delivered {
                msg: base | u64::from(u32::MAX),
                hops: 2
            },
            Observation::Sent {
                msg: base,
                expected: 1
            },
            Observation::Delivered { msg: base, hops: 2 },
            Observation::Sent {
                msg: base | 1,
                expected: 1
            },
            Observation::Delivered {
                msg: base | 1,
                hops: 2
            },
        ]
    );
}

#[test]
fn peer_ids_are_uuids_from_the_rng() {
    let config = ClientConfig::default();
    let mut rng = SimRng::seed_from_u64(3);
    let a = Client::new(NodeId(1), NodeId(0), config, &mut rng);
    let b = Client::new(NodeId(2), NodeId(0), config, &mut rng);
    let again = Client::new(NodeId(1), NodeId(0), config, &mut SimRng::seed_from_u64(3));
    assert_ne!(a.peer_id(), b.peer_id());
    assert_eq!(a.peer_id(), again.peer_id());
    let id = a.peer_id();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4");
    assert!(id.split('-').map(str::len).eq([8, 4, 4, 4, 12]));
}

#[test]
fn a_connection_is_opened_once_and_again_after_idling() {
    let config = instant_config(secs(300));
    let mut net = network(1, &config);
    let hellos = |net: &TestNet<Discovery>| {
        net.log
            .iter()
            .filter(|r| matches!(&r.output, Output::Transmit { bytes, .. } if r.node == NodeId(1) && tls::parse(bytes) == Ok(Flight::ClientHello)))
            .count()
    };
    command(&mut net, 1, DiscoveryCommand::Health);
    assert_eq!(hellos(&net), 1);
    net.run_until(at(secs(59)));
    command(&mut net, 1, DiscoveryCommand::Health);
    assert_eq!(hellos(&net), 1, "idle 59 s: still open");
    net.run_until(at(secs(119)));
    command(&mut net, 1, DiscoveryCommand::Health);
    assert_eq!(hellos(&net), 2, "idle 60 s: closed");
}

#[test]
fn requests_time_out_when_the_server_is_down() {
    let config = DiscoveryConfig::default();
    let mut net = network(1, &config);
    net.set_down(NodeId(0), true);
    let events = command(&mut net, 1, DiscoveryCommand::Discover { archetype: None });
    let [DiscoveryEvent::DiscoverSent { msg }] = events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        net.nodes[1].poll_timeout(),
        Some(at(config.client.request_timeout))
    );
    net.run_until(at(config.client.request_timeout));
    let timed_out: Vec<_> = net
        .events()
        .filter(|(_, e)| matches!(e, DiscoveryEvent::TimedOut { .. }))
        .collect();
    assert_eq!(
        timed_out,
        [(
            NodeId(1),
            &DiscoveryEvent::TimedOut {
                request: RequestKind::Discover,
                id: msg
            }
        )]
    );
    assert_eq!(net.nodes[1].as_client().unwrap().outstanding(), 0);
}

#[test]
fn a_response_with_the_wrong_body_is_dropped_and_the_request_stays() {
    let mut rng = SimRng::seed_from_u64(3);
    let mut client = Client::new(NodeId(1), NodeId(0), ClientConfig::default(), &mut rng);
    client.handle_command(
        Instant::ZERO,
        DiscoveryCommand::Discover { archetype: None },
    );
    client.handle_datagram(Instant::ZERO, NodeId(0), &tls::server_hello());
    while client.poll_output().is_some() {}
    let id = 1 << 32;
    let reply = |status, body: &[u8]| {
        let response = Response {
            id,
            status,
            body: body.to_vec(),
        };
        tls::seal(&http::emit_response(&response, Instant::ZERO))
    };
    let wrong = reply(http::OK, br#"{"status":"healthy"}"#);
    client.handle_datagram(Instant::ZERO, NodeId(0), &wrong);
    assert_eq!(
        std::iter::from_fn(|| client.poll_output()).collect::<Vec<_>>(),
        [Output::Drop {
            from: NodeId(0),
            len: wrong.len(),
            cause: DropCause::Malformed
        }]
    );
    assert_eq!(client.outstanding(), 1);
    // From another node, even a good answer is ignored.
    client.handle_datagram(Instant::ZERO, NodeId(5), &reply(503, b"{}"));
    assert_eq!(client.poll_output(), None);
    client.handle_datagram(Instant::ZERO, NodeId(0), &reply(503, b"{}"));
    assert_eq!(
        client.poll_output(),
        Some(Output::Event(DiscoveryEvent::Answered {
            request: RequestKind::Discover,
            status: 503,
            rtt: Duration::ZERO
        }))
    );
    assert_eq!(client.outstanding(), 0);
}

/// The sizes the module docs quote: a 36-character UUID peer id, two
/// archetypes, the seed's 42-byte metadata, request id 1.
#[test]
fn typical_sizes_on_the_wire() {
    let uuid = "0123abcd-0123-4567-89ab-0123456789ab";
    let len = |request: Request| sealed(1, &request).len();
    assert_eq!(len(register_request(5, uuid, &["pepino", "ethics"])), 840);
    let heartbeat = HeartbeatRequest {
        peer_id: uuid.into(),
    };
    assert_eq!(len(Request::Heartbeat(heartbeat)), 720);
    let archetype = Some("pepino".to_string());
    assert_eq!(len(Request::Discover { archetype }), 633);
    assert_eq!(len(Request::Health), 614);
    let response_len = |peers: u32| {
        let mut driven = Driven::new(instant_config(secs(300)).server);
        for p in 0..peers {
            let peer_id = format!("{}{p:02}", &uuid[..34]);
            let request = register_request(p + 1, &peer_id, &["pepino", "ethics"]);
            driven.send(Instant::ZERO, p + 1, p.into(), &request);
        }
        let discover = sealed(999, &Request::Discover { archetype: None });
        driven
            .server
            .handle_datagram(Instant::ZERO, NodeId(1), &discover);
        std::iter::from_fn(|| driven.server.poll_output())
            .find_map(|o| match o {
                Output::Transmit { bytes, .. } => Some(bytes.len()),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(response_len(0), 269);
    assert_eq!(response_len(1), 482);
    assert_eq!(response_len(10), 2402);
}
