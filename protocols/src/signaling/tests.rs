//! The signaling service, driven whole: by the kernel over constant-delay
//! links where time matters, by the in-test network where bytes do.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand::SeedableRng;
use sim_core::network::{GraphNetwork, LinkConfig};
use sim_core::{
    Dist, DropCause, Duration, Fault, Instant, NodeId, Output, RngStreams, SimRng, Simulation,
};

use super::messages::{Message, SignalKind};
use super::tls::{self, Flight};
use super::websocket::{self, Frame, Opcode};
use super::*;
use crate::test_net::TestNet;

const SERVER: NodeId = NodeId(0);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at_ms(n: u64) -> Instant {
    Instant::ZERO + ms(n)
}

/// Node 0 is the server, every other node a peer; both take `config`
/// otherwise.
fn node(id: NodeId, config: SignalingConfig, rng: SimRng) -> SignalingNode {
    let role = if id == SERVER {
        Role::Server
    } else {
        Role::Peer
    };
    SignalingNode::new(id, SignalingConfig { role, ..config }, rng)
}

type Sim = Simulation<SignalingNode, GraphNetwork>;

/// `nodes` nodes joined by `links` (`a`, `b`, one-way delay in ms), each a
/// constant-delay link both ways.
fn simulation(nodes: u32, links: &[(u32, u32, u64)], config: SignalingConfig) -> Sim {
    let streams = RngStreams::new(7);
    let mut net = GraphNetwork::new(nodes, streams);
    for &(a, b, delay) in links {
        let link = LinkConfig {
            latency: Dist::Constant(ms(delay)),
            ..LinkConfig::default()
        };
        net.add_link(NodeId(a), NodeId(b), link.clone(), link);
    }
    let mut sim = Simulation::new(streams, net, Box::new(move |id, rng| node(id, config, rng)));
    sim.record_events();
    sim
}

/// The server and `peers` peers, each `delay` ms from it.
fn star(peers: u32, delay: u64, config: SignalingConfig) -> Sim {
    let links: Vec<_> = (1..=peers).map(|p| (0, p, delay)).collect();
    simulation(peers + 1, &links, config)
}

fn peer_events(sim: &Sim, node: u32) -> Vec<(Instant, PeerEvent)> {
    sim.events()
        .iter()
        .filter(|(_, n, _)| *n == NodeId(node))
        .filter_map(|(at, _, e)| match e {
            SignalingEvent::Peer(e) => Some((*at, e.clone())),
            SignalingEvent::Server(_) => None,
        })
        .collect()
}

fn server_events(sim: &Sim) -> Vec<(Instant, ServerEvent)> {
    sim.events()
        .iter()
        .filter_map(|(at, _, e)| match e {
            SignalingEvent::Server(e) => Some((*at, *e)),
            SignalingEvent::Peer(_) => None,
        })
        .collect()
}

fn peer(sim: &Sim, node: u32) -> &Peer {
    sim.node(NodeId(node))
        .and_then(|n| n.peer())
        .expect("a peer")
}

fn server(sim: &Sim) -> &Server {
    sim.node(SERVER)
        .and_then(|n| n.server())
        .expect("the server")
}

fn server_peers(sim: &Sim) -> BTreeSet<NodeId> {
    server(sim).peers().map(|(_, node)| node).collect()
}

fn nodes(ids: &[u32]) -> BTreeSet<NodeId> {
    ids.iter().map(|&n| NodeId(n)).collect()
}

/// Every `Joined` of `node`: the bootstrap list and how long it took.
fn joins(sim: &Sim, node: u32) -> Vec<(Vec<NodeId>, Duration)> {
    peer_events(sim, node)
        .into_iter()
        .filter_map(|(_, e)| match e {
            PeerEvent::Joined { peers, took } => Some((peers, took)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_join_is_answered_with_exactly_the_peers_present() {
    let mut sim = star(4, 10, SignalingConfig::default());
    sim.schedule_command(at_ms(0), NodeId(1), SignalingCommand::Join);
    sim.schedule_command(at_ms(1000), NodeId(2), SignalingCommand::Join);
    sim.schedule_command(at_ms(2000), NodeId(3), SignalingCommand::Join);
    sim.schedule_command(at_ms(3000), NodeId(2), SignalingCommand::Leave);
    sim.schedule_command(at_ms(4000), NodeId(4), SignalingCommand::Join);
    sim.run_until(at_ms(5000));

    // TLS, the upgrade and the join: three round trips of 20 ms.
    let took = ms(60);
    assert_eq!(joins(&sim, 1), [(vec![], took)]);
    assert_eq!(joins(&sim, 2), [(vec![NodeId(1)], took)]);
    assert_eq!(joins(&sim, 3), [(vec![NodeId(1), NodeId(2)], took)]);
    assert_eq!(joins(&sim, 4), [(vec![NodeId(1), NodeId(3)], took)]);
    assert_eq!(server_peers(&sim), nodes(&[1, 3, 4]));
    assert_eq!(peer(&sim, 1).known_peers(), &nodes(&[3, 4]));
    assert_eq!(peer(&sim, 3).known_peers(), &nodes(&[1, 4]));
    assert_eq!(peer(&sim, 4).known_peers(), &nodes(&[1, 3]));
    assert!(!peer(&sim, 2).is_joined());
}

#[test]
fn leaving_or_dropping_removes_the_peer_and_tells_the_others() {
    let mut sim = star(3, 10, SignalingConfig::default());
    for p in 1..=3 {
        sim.schedule_command(at_ms(0), NodeId(p), SignalingCommand::Join);
    }
    sim.schedule_command(at_ms(1000), NodeId(2), SignalingCommand::Leave);
    // Node 3's browser dies and comes back: its new connection ends the old.
    sim.schedule_fault(
        at_ms(2000),
        Fault::Crash {
            node: NodeId(3),
            lose_state: true,
        },
    );
    sim.schedule_fault(at_ms(2500), Fault::Restart { node: NodeId(3) });
    sim.schedule_command(at_ms(3000), NodeId(3), SignalingCommand::Join);
    sim.run_until(at_ms(4000));

    let removed: Vec<_> = server_events(&sim)
        .into_iter()
        .filter(|(_, e)| matches!(e, ServerEvent::PeerRemoved { .. }))
        .collect();
    assert_eq!(
        removed,
        [
            (
                at_ms(1010),
                ServerEvent::PeerRemoved {
                    peer: NodeId(2),
                    reason: Removal::Left
                }
            ),
            (
                at_ms(3010),
                ServerEvent::PeerRemoved {
                    peer: NodeId(3),
                    reason: Removal::Closed
                }
            ),
        ]
    );
    let notices: Vec<_> = peer_events(&sim, 1)
        .into_iter()
        .filter(|(at, _)| *at > at_ms(100))
        .collect();
    assert_eq!(
        notices,
        [
            (at_ms(1020), PeerEvent::PeerLeft { peer: NodeId(2) }),
            (at_ms(3020), PeerEvent::PeerLeft { peer: NodeId(3) }),
            (at_ms(3060), PeerEvent::PeerJoined { peer: NodeId(3) }),
        ]
    );
    assert_eq!(server_peers(&sim), nodes(&[1, 3]));
    assert_eq!(peer(&sim, 1).known_peers(), &nodes(&[3]));
    // Node 3's new incarnation joined with node 1 present.
    assert_eq!(
        joins(&sim, 3).last().map(|j| j.0.clone()),
        Some(vec![NodeId(1)])
    );
}

#[test]
fn the_1001st_connection_is_refused_until_one_closes() {
    let mut sim = star(1001, 5, SignalingConfig::default());
    for p in 1..=1000 {
        sim.schedule_command(at_ms(u64::from(p)), NodeId(p), SignalingCommand::Join);
    }
    sim.schedule_command(at_ms(2000), NodeId(1001), SignalingCommand::Join);
    sim.schedule_command(at_ms(3000), NodeId(1), SignalingCommand::Leave);
    sim.schedule_command(at_ms(4000), NodeId(1001), SignalingCommand::Join);

    sim.run_until(at_ms(2100));
    assert_eq!(server(&sim).upgraded_connections(), 1000);
    // The refused connection is forgotten.
    assert_eq!(server(&sim).connections(), 1000);
    assert_eq!(server_peers(&sim).len(), 1000);
    assert!(!peer(&sim, 1001).is_joined());
    assert_eq!(
        peer_events(&sim, 1001),
        [(
            at_ms(2020),
            PeerEvent::Refused {
                status: websocket::TOO_MANY_REQUESTS
            }
        )]
    );

    sim.run_until(at_ms(5000));
    assert!(peer(&sim, 1001).is_joined());
    assert_eq!(joins(&sim, 1001)[0].0.len(), 999);
    assert_eq!(server(&sim).upgraded_connections(), 1000);
    assert!(!server_peers(&sim).contains(&NodeId(1)));
}

#[test]
fn a_silent_peer_idles_out_two_hours_after_its_last_datagram_and_a_heartbeating_one_stays() {
    let mut sim = star(2, 10, SignalingConfig::default());
    sim.schedule_command(at_ms(0), NodeId(1), SignalingCommand::Join);
    sim.schedule_command(at_ms(0), NodeId(2), SignalingCommand::Join);
    sim.schedule_command(at_ms(45_000), NodeId(2), SignalingCommand::GoSilent);

    // Heartbeats start at the upgrade (40 ms) and come every 30 s; node 2's
    // last leaves at 30.040 s and arrives at 30.050 s.
    let two_hours = Duration::from_secs(2 * 60 * 60);
    let idle_out = at_ms(30_050) + two_hours;
    sim.run_until(Instant::from_nanos(idle_out.as_nanos() - 1));
    assert_eq!(server_peers(&sim), nodes(&[1, 2]));

    sim.run_until(idle_out + ms(100));
    assert_eq!(server_peers(&sim), nodes(&[1]));
    assert!(server_events(&sim).contains(&(
        idle_out,
        ServerEvent::PeerRemoved {
            peer: NodeId(2),
            reason: Removal::IdleTimeout
        }
    )));
    assert_eq!(
        peer_events(&sim, 2).last(),
        Some(&(
            idle_out + ms(10),
            PeerEvent::Disconnected {
                code: websocket::CLOSE_GOING_AWAY
            }
        ))
    );
    assert_eq!(
        peer_events(&sim, 1).last(),
        Some(&(idle_out + ms(10), PeerEvent::PeerLeft { peer: NodeId(2) }))
    );

    // Node 1 only ever heartbeats, and is kept long past two hours.
    sim.run_until(at_ms(5 * 60 * 60 * 1000));
    assert_eq!(server_peers(&sim), nodes(&[1]));
    assert!(peer(&sim, 1).is_joined());
}

#[test]
fn two_peers_open_a_direct_channel_in_the_sum_of_the_modelled_round_trips() {
    // Server–A 10 ms, server–B 15 ms, A–B 7 ms, one way.
    let (a, b) = (1, 2);
    let (s1, s2, d) = (10, 15, 7);
    let mut sim = simulation(
        3,
        &[(0, a, s1), (0, b, s2), (a, b, d)],
        SignalingConfig::default(),
    );
    sim.schedule_command(at_ms(0), NodeId(b), SignalingCommand::Join);
    sim.schedule_command(at_ms(1000), NodeId(a), SignalingCommand::Join);
    sim.schedule_command(
        at_ms(1000),
        NodeId(a),
        SignalingCommand::Connect { to: NodeId(b) },
    );
    sim.run_until(at_ms(2000));

    // A joins in 3 round trips to the server (TLS, upgrade, join), then its
    // offer and candidate go through the server and the answer and
    // candidate come back (2(s1 + s2)), then the direct path takes 8 legs:
    // STUN request; response + ClientHello; flight 4; flight 5; flight 6 +
    // INIT; INIT ACK; COOKIE ECHO + OPEN; COOKIE ACK + ACK.
    let join = 6 * s1;
    let signaling = 2 * (s1 + s2);
    let direct = 8 * d;
    let setup = ms(join + signaling + direct);
    assert_eq!(setup, ms(166));
    let opened: Vec<_> = peer_events(&sim, a)
        .into_iter()
        .filter(|(_, e)| matches!(e, PeerEvent::ChannelOpen { .. }))
        .collect();
    let attempt = peer_events(&sim, a)
        .iter()
        .find_map(|(_, e)| match e {
            PeerEvent::ConnectStarted { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .expect("the attempt started");
    assert_eq!(
        opened,
        [(
            at_ms(1000) + setup,
            PeerEvent::ChannelOpen {
                peer: NodeId(b),
                attempt: Some(attempt),
                setup,
                since_join: setup,
            }
        )]
    );
    // B's side opens one leg earlier, timed from the offer's arrival.
    let offer_arrives = 1000 + join + s1 + s2;
    let b_setup = ms(s1 + s2 + 7 * d);
    assert!(peer_events(&sim, b).contains(&(
        at_ms(offer_arrives) + b_setup,
        PeerEvent::ChannelOpen {
            peer: NodeId(a),
            attempt: None,
            setup: b_setup,
            since_join: ms(offer_arrives + s1 + s2 + 7 * d),
        }
    )));
    let signals = |node: u32| -> Vec<SignalKind> {
        peer_events(&sim, node)
            .into_iter()
            .filter_map(|(_, e)| match e {
                PeerEvent::SignalReceived { kind, .. } => Some(kind),
                _ => None,
            })
            .collect()
    };
    assert_eq!(signals(b), [SignalKind::Offer, SignalKind::Candidate]);
    assert_eq!(signals(a), [SignalKind::Answer, SignalKind::Candidate]);

    // The kernel measured the same set-up time through `Observe`.
    let summary = sim.metrics().summary();
    assert_eq!((summary.messages, summary.deliveries), (1, 1));
    assert_eq!(summary.latency.p50, 166.0);

    // Then the channel carries data directly, one leg.
    sim.schedule_command(
        at_ms(2000),
        NodeId(a),
        SignalingCommand::SendDirect {
            to: NodeId(b),
            size: 1000,
        },
    );
    sim.schedule_command(
        at_ms(2000),
        NodeId(b),
        SignalingCommand::SendDirect {
            to: NodeId(0),
            size: 1,
        },
    );
    sim.run_until(at_ms(3000));
    assert!(peer_events(&sim, b).contains(&(
        at_ms(2000 + d),
        PeerEvent::DataReceived {
            from: NodeId(a),
            size: 1000
        }
    )));
    assert!(peer_events(&sim, b).contains(&(at_ms(2000), PeerEvent::NoChannel { to: NodeId(0) })));
}

#[test]
fn crossing_offers_open_one_channel_and_complete_both_attempts() {
    let mut sim = simulation(
        3,
        &[(0, 1, 10), (0, 2, 10), (1, 2, 5)],
        SignalingConfig::default(),
    );
    for p in [1, 2] {
        sim.schedule_command(at_ms(0), NodeId(p), SignalingCommand::Join);
    }
    sim.schedule_command(
        at_ms(1000),
        NodeId(1),
        SignalingCommand::Connect { to: NodeId(2) },
    );
    sim.schedule_command(
        at_ms(1000),
        NodeId(2),
        SignalingCommand::Connect { to: NodeId(1) },
    );
    sim.run_until(at_ms(2000));

    // Node 1 (the lower id) yields and answers node 2's offer, which
    // arrived at 1.020 s: node 2's channel opens 2·20 + 8·5 ms after its
    // offer left, node 1's 20 + 7·5 ms after that offer arrived.
    let open = |node: u32| -> Vec<(Instant, Duration)> {
        peer_events(&sim, node)
            .into_iter()
            .filter_map(|(at, e)| match e {
                PeerEvent::ChannelOpen {
                    attempt: Some(_),
                    setup,
                    ..
                } => Some((at, setup)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(open(2), [(at_ms(1080), ms(80))]);
    assert_eq!(open(1), [(at_ms(1075), ms(75))]);
    let summary = sim.metrics().summary();
    assert_eq!((summary.messages, summary.deliveries), (2, 2));
}

#[test]
fn attempts_fail_for_unknown_and_unresponsive_peers() {
    let mut sim = star(3, 10, SignalingConfig::default());
    for p in [1, 2] {
        sim.schedule_command(at_ms(0), NodeId(p), SignalingCommand::Join);
    }
    sim.schedule_fault(
        at_ms(500),
        Fault::Crash {
            node: NodeId(2),
            lose_state: false,
        },
    );
    sim.schedule_command(
        at_ms(1000),
        NodeId(1),
        SignalingCommand::Connect { to: NodeId(2) },
    );
    sim.schedule_command(
        at_ms(1000),
        NodeId(1),
        SignalingCommand::Connect { to: NodeId(3) },
    );
    sim.run_until(at_ms(40_000));

    let failures: Vec<_> = peer_events(&sim, 1)
        .into_iter()
        .filter_map(|(at, e)| match e {
            PeerEvent::SetupFailed { peer, reason, .. } => Some((at, peer, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        [
            (at_ms(1020), NodeId(3), SetupFailure::PeerNotFound),
            (at_ms(31_000), NodeId(2), SetupFailure::TimedOut),
        ]
    );
    let summary = sim.metrics().summary();
    assert_eq!((summary.messages, summary.deliveries), (2, 0));
}

/// A zero-delay network of the server and `peers` peers.
fn test_net(peers: u32) -> TestNet<SignalingNode> {
    let nodes = (0..=peers)
        .map(|i| {
            node(
                NodeId(i),
                SignalingConfig::default(),
                SimRng::seed_from_u64(u64::from(i)),
            )
        })
        .collect();
    TestNet::new(nodes)
}

/// The text frames in a datagram of application data.
fn texts(bytes: &[u8], masked: bool) -> Vec<Vec<u8>> {
    let Ok(Flight::ApplicationData(data)) = tls::parse(bytes) else {
        return Vec::new();
    };
    websocket::frames(&data, masked)
        .expect("the service sends valid frames")
        .into_iter()
        .filter(|f| f.opcode == Opcode::Text)
        .map(|f| f.payload)
        .collect()
}

fn is_offer(text: &[u8]) -> bool {
    matches!(Message::from_json(text), Some(Message::Offer { .. }))
}

#[test]
fn the_server_relays_an_offer_only_to_its_addressee_unchanged() {
    let mut net = test_net(3);
    for p in 1..=3 {
        net.command(NodeId(p), SignalingCommand::Join);
        net.run();
    }
    let before = net.log.len();
    net.command(NodeId(1), SignalingCommand::Connect { to: NodeId(3) });
    net.run();

    let mut sent = Vec::new();
    let mut relayed = Vec::new();
    for record in &net.log[before..] {
        if let Output::Transmit { to, bytes } = &record.output {
            let from_server = record.node == SERVER;
            for text in texts(bytes, !from_server)
                .into_iter()
                .filter(|t| is_offer(t))
            {
                if from_server {
                    relayed.push((*to, text));
                } else {
                    sent.push((record.node, *to, text));
                }
            }
        }
    }
    assert_eq!(sent.len(), 1);
    let (sender, to, text) = &sent[0];
    assert_eq!((*sender, *to), (NodeId(1), SERVER));
    // Byte for byte the JSON node 1 sent, and only to node 3.
    assert_eq!(relayed, [(NodeId(3), text.clone())]);
    assert!(net.events().all(|(node, e)| node != NodeId(2)
        || !matches!(e, SignalingEvent::Peer(PeerEvent::SignalReceived { .. }))));
    let channels: Vec<NodeId> = net.nodes[1].peer().unwrap().open_channels().collect();
    assert_eq!(channels, [NodeId(3)]);
}

/// Hands `node` the datagram `bytes` as if from `from`; what it output.
fn inject(
    net: &mut TestNet<SignalingNode>,
    node: NodeId,
    from: NodeId,
    bytes: &[u8],
) -> Vec<Output<SignalingEvent>> {
    let before = net.log.len();
    net.inject(node, from, bytes);
    net.log[before..].iter().map(|r| r.output.clone()).collect()
}

fn drops(outputs: &[Output<SignalingEvent>]) -> Vec<(usize, DropCause)> {
    outputs
        .iter()
        .filter_map(|o| match *o {
            Output::Drop { len, cause, .. } => Some((len, cause)),
            _ => None,
        })
        .collect()
}

#[test]
fn text_that_is_not_a_message_is_answered_and_counted() {
    let mut net = test_net(1);
    net.command(NodeId(1), SignalingCommand::Join);
    net.run();

    let mut frame = Vec::new();
    Frame::text(b"{\"type\":\"dance\"}".to_vec(), Some([1, 2, 3, 4])).emit(&mut frame);
    let bytes = tls::seal(&frame);
    let outputs = inject(&mut net, SERVER, NodeId(1), &bytes);
    assert_eq!(drops(&outputs), [(bytes.len(), DropCause::Malformed)]);
    let replies: Vec<Option<Message>> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Transmit { bytes, .. } => Some(texts(bytes, false)),
            _ => None,
        })
        .flatten()
        .map(|t| Message::from_json(&t))
        .collect();
    assert_eq!(
        replies,
        [Some(Message::Error {
            message: "Invalid JSON message format.".into()
        })]
    );

    // An unmasked frame from a client breaks RFC 6455: dropped, unanswered.
    let mut frame = Vec::new();
    Frame::text(b"{\"type\":\"ping\",\"timestamp\":1}".to_vec(), None).emit(&mut frame);
    let bytes = tls::seal(&frame);
    assert_eq!(
        inject(&mut net, SERVER, NodeId(1), &bytes),
        [Output::Drop {
            from: NodeId(1),
            len: bytes.len(),
            cause: DropCause::Malformed
        }]
    );
}

/// A datagram sent: sender, receiver, bytes.
type Datagram = (NodeId, NodeId, Vec<u8>);

/// A network in every state a datagram can meet: peers 1 and 2 joined with
/// a channel open between them, peer 3's `ClientHello` on its way, and
/// every datagram that set this up.
fn busy_net() -> (TestNet<SignalingNode>, Vec<Datagram>) {
    let mut net = test_net(3);
    for p in [1, 2] {
        net.command(NodeId(p), SignalingCommand::Join);
        net.run();
    }
    net.command(NodeId(1), SignalingCommand::Connect { to: NodeId(2) });
    net.run();
    net.command(
        NodeId(1),
        SignalingCommand::SendDirect {
            to: NodeId(2),
            size: 300,
        },
    );
    net.run();
    net.command(NodeId(3), SignalingCommand::Join);
    let datagrams = net
        .log
        .iter()
        .filter_map(|r| match &r.output {
            Output::Transmit { to, bytes } => Some((r.node, *to, bytes.to_vec())),
            _ => None,
        })
        .collect();
    (net, datagrams)
}

/// Where garbage is injected: (receiver, claimed sender).
const TARGETS: [(u32, u32); 7] = [(0, 1), (0, 3), (0, 9), (1, 0), (1, 2), (1, 5), (3, 0)];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_never_panics_and_is_one_counted_drop(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let (mut net, _) = busy_net();
        for (to, from) in TARGETS {
            let outputs = inject(&mut net, NodeId(to), NodeId(from), &bytes);
            let drops = drops(&outputs);
            prop_assert!(drops.len() <= 1);
            prop_assert!(drops.iter().all(|&d| d == (bytes.len(), DropCause::Malformed)));
            // Bytes that start like nothing the service sends are dropped.
            if bytes.first().is_none_or(|&b| b == 0xFF) {
                prop_assert_eq!(drops.len(), 1);
            }
        }
    }

    #[test]
    fn damaged_datagrams_never_panic(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        flip in 1..=255u8,
        cut in any::<bool>(),
    ) {
        let (mut net, datagrams) = busy_net();
        let (from, to, bytes) = pick.get(&datagrams);
        let mut bytes = bytes.clone();
        let i = at.index(bytes.len());
        if cut {
            bytes.truncate(i);
        } else {
            bytes[i] ^= flip;
        }
        let outputs = inject(&mut net, *to, *from, &bytes);
        prop_assert!(drops(&outputs).len() <= 1);
    }
}

/// A command of a join/leave/silence schedule.
#[derive(Clone, Copy, Debug)]
enum Act {
    Join,
    Leave,
    GoSilent,
}

/// What the schedule alone says of a peer.
#[derive(Clone, Copy, Debug, Default)]
struct Expected {
    /// Joined and not left.
    joined: bool,
    /// Since when it has sent no heartbeat (a `GoSilent` while joined, or
    /// a join after one).
    silent_since: Option<u64>,
    /// A `GoSilent` given while not joined: the next join is silent.
    silent_pending: bool,
    /// The server may have dropped it before a later command: unknown
    /// until the next `Leave`.
    unknown: bool,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The server's peer list is the set of peers that are connected and
    /// not idled out: exactly the peers that think they are joined, and,
    /// where the schedule decides it, the peers the schedule says.
    #[test]
    fn the_peer_list_follows_joins_leaves_and_silence(
        schedule in proptest::collection::vec(
            (0..600u64, 1..=6u32, prop_oneof![Just(Act::Join), Just(Act::Leave), Just(Act::GoSilent)]),
            1..30,
        ),
    ) {
        // A short idle timeout, so that silence matters within the run.
        let idle = 100;
        let config = SignalingConfig { idle_timeout: Duration::from_secs(idle), ..SignalingConfig::default() };
        let mut sim = star(6, 10, config);
        let mut schedule = schedule;
        schedule.sort_by_key(|&(second, _, _)| second);
        for &(second, p, act) in &schedule {
            let command = match act {
                Act::Join => SignalingCommand::Join,
                Act::Leave => SignalingCommand::Leave,
                Act::GoSilent => SignalingCommand::GoSilent,
            };
            sim.schedule_command(at_ms(second * 1000), NodeId(p), command);
        }

        // Everything happens within 150 ms of a whole second (commands on
        // whole seconds, 10 ms links, idle deadlines 100 s after a
        // datagram), so half past is quiet.
        let mut expected: BTreeMap<u32, Expected> = (1..=6).map(|p| (p, Expected::default())).collect();
        let mut next = schedule.iter().peekable();
        for second in (0..800u64).step_by(10) {
            while let Some(&&(at, p, act)) = next.peek().filter(|c| c.0 <= second) {
                next.next();
                let e = expected.get_mut(&p).unwrap();
                // A silent peer may have idled out between 70 s (its last
                // heartbeat was up to 30 s before it fell silent) and 101 s.
                if e.silent_since.is_some_and(|s| at > s + idle - 30) {
                    e.unknown = true;
                }
                match act {
                    Act::Join if !e.joined => {
                        e.joined = true;
                        e.silent_since = e.silent_pending.then_some(at);
                    }
                    Act::Join => {}
                    Act::Leave => *e = Expected::default(),
                    Act::GoSilent if e.joined => {
                        e.silent_since.get_or_insert(at);
                    }
                    Act::GoSilent => e.silent_pending = true,
                }
            }
            sim.run_until(at_ms(second * 1000 + 500));

            let listed = server_peers(&sim);
            let joined: BTreeSet<NodeId> =
                (1..=6).filter(|&p| peer(&sim, p).is_joined()).map(NodeId).collect();
            prop_assert_eq!(&listed, &joined, "at {} s", second);
            for (&p, e) in &expected {
                let settled = match e.silent_since {
                    _ if e.unknown => None,
                    None => Some(e.joined),
                    Some(s) if second < s + idle - 30 => Some(e.joined),
                    Some(s) if second > s + idle + 1 => Some(false),
                    Some(_) => None,
                };
                if let Some(on_list) = settled {
                    prop_assert_eq!(listed.contains(&NodeId(p)), on_list, "peer {} at {} s", p, second);
                }
            }
        }
    }
}
