//! GossipSub's behaviour, checked three ways: one node driven by hand with
//! fake peers whose RPCs the test writes; a few real nodes in a
//! [`TestNet`]; and hundreds of nodes on the kernel ([`Simulation`] over a
//! [`GraphNetwork`]) for the known answers and the property tests.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim_core::network::Loss;
use sim_core::{
    Dist, DropCause, Duration, GraphNetwork, Instant, LinkConfig, NodeId, Observation, Observe,
    Output, Protocol, RngStreams, Simulation, Topology,
};

use super::wire::{self, ControlRepr, IHave, MessageRepr, Prune, RpcRepr, Subscription};
use super::*;
use crate::test_net::TestNet;

const T: TopicId = TopicId(1);
const HB: Duration = Duration::from_secs(1);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn rng(seed: u64) -> SimRng {
    ChaCha8Rng::seed_from_u64(seed)
}

// ----- one node, driven by hand -----

/// The outputs of one or more calls.
#[derive(Debug, Default)]
struct Outs(Vec<Output<GossipEvent>>);

impl Outs {
    fn events(&self) -> Vec<GossipEvent> {
        self.0
            .iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(*e),
                _ => None,
            })
            .collect()
    }

    /// Every transmit, parsed (the node only ever emits valid RPCs).
    fn rpcs(&self) -> Vec<(NodeId, RpcRepr)> {
        self.0
            .iter()
            .filter_map(|o| match o {
                Output::Transmit { to, bytes } => Some((
                    *to,
                    RpcRepr::parse(bytes).expect("the node emits valid RPCs"),
                )),
                _ => None,
            })
            .collect()
    }

    fn grafted(&self) -> BTreeSet<NodeId> {
        self.rpcs()
            .into_iter()
            .filter(|(_, r)| r.control.graft.contains(&T))
            .map(|(to, _)| to)
            .collect()
    }

    fn prunes(&self) -> Vec<(NodeId, Prune)> {
        self.rpcs()
            .into_iter()
            .flat_map(|(to, r)| r.control.prune.into_iter().map(move |p| (to, p)))
            .collect()
    }

    fn iwants(&self) -> Vec<(NodeId, Vec<MessageId>)> {
        self.rpcs()
            .into_iter()
            .filter(|(_, r)| !r.control.iwant.is_empty())
            .map(|(to, r)| (to, r.control.iwant))
            .collect()
    }

    fn ihave_to(&self) -> BTreeSet<NodeId> {
        self.rpcs()
            .into_iter()
            .filter(|(_, r)| !r.control.ihave.is_empty())
            .map(|(to, _)| to)
            .collect()
    }

    fn messages(&self) -> Vec<(NodeId, MessageRepr)> {
        self.rpcs()
            .into_iter()
            .flat_map(|(to, r)| r.messages.into_iter().map(move |m| (to, m)))
            .collect()
    }

    fn extend(&mut self, other: Outs) {
        self.0.extend(other.0);
    }
}

/// Node 0 under test; its peers are fakes whose RPCs the test writes.
struct Harness {
    node: Gossip,
    now: Instant,
}

impl Harness {
    fn new(config: GossipConfig) -> Self {
        Harness {
            node: Gossip::new(NodeId(0), config, rng(7)),
            now: Instant::ZERO,
        }
    }

    /// Node 0 with peers `1..=n`, each subscribed to `T`, and (if
    /// `subscribe`) node 0 subscribed too.
    fn with_peers(config: GossipConfig, n: u32, subscribe: bool) -> Self {
        let mut h = Harness::new(config);
        for p in 1..=n {
            h.cmd(GossipCommand::AddPeer(NodeId(p)));
            h.recv(p, &sub(T, true));
        }
        if subscribe {
            h.cmd(GossipCommand::Subscribe(T));
        }
        h
    }

    fn drain(&mut self) -> Outs {
        let mut outs = Outs::default();
        while let Some(o) = self.node.poll_output() {
            outs.0.push(o);
        }
        outs
    }

    fn cmd(&mut self, c: GossipCommand) -> Outs {
        self.node.handle_command(self.now, c);
        self.drain()
    }

    fn recv(&mut self, from: u32, rpc: &RpcRepr) -> Outs {
        self.recv_bytes(from, &rpc.emit())
    }

    fn recv_bytes(&mut self, from: u32, bytes: &[u8]) -> Outs {
        self.node.handle_datagram(self.now, NodeId(from), bytes);
        self.drain()
    }

    /// Moves time on by `d` (no heartbeat runs).
    fn wait(&mut self, d: Duration) {
        self.now += d;
    }

    /// Runs the next heartbeat.
    fn beat(&mut self) -> Outs {
        self.now = self
            .now
            .max(self.node.poll_timeout().expect("a heartbeat is always due"));
        self.node.handle_timeout(self.now);
        self.drain()
    }

    /// Runs every heartbeat due up to `until`, then sets the clock there.
    fn run_until(&mut self, until: Instant) -> Outs {
        let mut outs = Outs::default();
        while self.node.poll_timeout().is_some_and(|t| t <= until) {
            outs.extend(self.beat());
        }
        self.now = until;
        outs
    }

    fn mesh(&self) -> BTreeSet<NodeId> {
        self.node.mesh(T).iter().copied().collect()
    }

    fn score(&self, p: u32) -> f64 {
        self.node.score(NodeId(p), self.now).unwrap()
    }
}

fn sub(topic: TopicId, subscribe: bool) -> RpcRepr {
    RpcRepr {
        subscriptions: vec![Subscription { subscribe, topic }],
        ..RpcRepr::default()
    }
}

fn control(control: ControlRepr) -> RpcRepr {
    RpcRepr {
        control,
        ..RpcRepr::default()
    }
}

fn graft(topic: TopicId) -> RpcRepr {
    control(ControlRepr {
        graft: vec![topic],
        ..ControlRepr::default()
    })
}

fn prune(topic: TopicId, peers: Vec<NodeId>, backoff: Option<u64>) -> RpcRepr {
    control(ControlRepr {
        prune: vec![Prune {
            topic,
            peers,
            backoff,
        }],
        ..ControlRepr::default()
    })
}

fn ihave(topic: TopicId, ids: Vec<MessageId>) -> RpcRepr {
    control(ControlRepr {
        ihave: vec![IHave { topic, ids }],
        ..ControlRepr::default()
    })
}

fn iwant(ids: Vec<MessageId>) -> RpcRepr {
    control(ControlRepr {
        iwant: ids,
        ..ControlRepr::default()
    })
}

fn id(author: u32, seq: u32) -> MessageId {
    MessageId::new(NodeId(author), seq)
}

fn message(id: MessageId, hops: u32) -> RpcRepr {
    RpcRepr {
        messages: vec![MessageRepr {
            id,
            topic: T,
            data_len: 100,
            hops,
        }],
        ..RpcRepr::default()
    }
}

/// A message that fails validation: it carries a signature.
fn signed_message(seq: u32) -> Vec<u8> {
    use prost::Message as _;
    let mut m = MessageRepr {
        id: id(99, seq),
        topic: T,
        data_len: 10,
        hops: 0,
    }
    .to_proto();
    m.signature = Some(vec![0; 64]);
    wire::proto::Rpc {
        publish: vec![m],
        ..Default::default()
    }
    .encode_length_delimited_to_vec()
}

/// Peers `1..=n` whose connection from node 0 counts as outbound.
fn outbound_of_0(n: u32) -> BTreeSet<NodeId> {
    (1..=n)
        .map(NodeId)
        .filter(|&p| is_outbound(NodeId(0), p))
        .collect()
}

#[test]
fn connection_direction_is_outbound_at_exactly_one_end() {
    let mut outbound = 0;
    for a in 0..64 {
        for b in 0..64 {
            if a != b {
                assert_ne!(
                    is_outbound(NodeId(a), NodeId(b)),
                    is_outbound(NodeId(b), NodeId(a))
                );
                outbound += u32::from(is_outbound(NodeId(a), NodeId(b)));
            }
        }
    }
    assert_eq!(outbound, 64 * 63 / 2);
    assert_eq!(outbound_of_0(20).len(), 10, "about half of a node's peers");
}

#[test]
fn adding_a_peer_tells_it_our_subscriptions() {
    let mut h = Harness::new(GossipConfig::default());
    assert!(
        h.cmd(GossipCommand::AddPeer(NodeId(1))).0.is_empty(),
        "nothing to say yet"
    );
    h.cmd(GossipCommand::Subscribe(TopicId(3)));
    h.cmd(GossipCommand::Subscribe(T));
    let rpcs = h.cmd(GossipCommand::AddPeer(NodeId(2))).rpcs();
    assert_eq!(rpcs.len(), 1);
    assert_eq!(rpcs[0].0, NodeId(2));
    assert_eq!(
        rpcs[0].1.subscriptions,
        [
            Subscription {
                subscribe: true,
                topic: T
            },
            Subscription {
                subscribe: true,
                topic: TopicId(3)
            },
        ]
    );
    assert!(
        h.cmd(GossipCommand::AddPeer(NodeId(2))).0.is_empty(),
        "already a peer"
    );
    assert!(
        h.cmd(GossipCommand::AddPeer(NodeId(0))).0.is_empty(),
        "itself"
    );
}

#[test]
fn subscribing_announces_to_every_peer_and_grafts_d_of_them() {
    let mut h = Harness::with_peers(GossipConfig::default(), 10, false);
    h.cmd(GossipCommand::AddPeer(NodeId(11))); // not in the topic
    let outs = h.cmd(GossipCommand::Subscribe(T));
    let rpcs = outs.rpcs();
    let told: BTreeSet<_> = rpcs
        .iter()
        .filter(|(_, r)| {
            r.subscriptions.contains(&Subscription {
                subscribe: true,
                topic: T,
            })
        })
        .map(|(to, _)| to.0)
        .collect();
    assert_eq!(told, (1..=11).collect());
    assert_eq!(rpcs.len(), 11, "the GRAFT rides on the announcement");
    let grafted = outs.grafted();
    assert_eq!(grafted.len(), 6);
    assert_eq!(grafted, h.mesh());
    assert!(!grafted.contains(&NodeId(11)));
    let events = outs.events();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, GossipEvent::Grafted { topic: T, .. }))
            .count(),
        6
    );
}

#[test]
fn a_mesh_cut_below_d_low_grafts_back_to_d_at_the_next_heartbeat() {
    let config = GossipConfig {
        d_out: 0,
        ..GossipConfig::default()
    };
    let mut h = Harness::with_peers(config, 20, true);
    let before = h.mesh();
    assert_eq!(before.len(), 6);
    // Down to D_low: nothing to do.
    let cut: Vec<_> = before.iter().copied().take(3).collect();
    h.cmd(GossipCommand::RemovePeer(cut[0]));
    h.cmd(GossipCommand::RemovePeer(cut[1]));
    assert_eq!(h.mesh().len(), 4);
    assert!(h.beat().grafted().is_empty());
    // Below D_low: back to D at the next heartbeat.
    let outs = h.cmd(GossipCommand::RemovePeer(cut[2]));
    assert!(outs.events().contains(&GossipEvent::Pruned {
        peer: cut[2],
        topic: T
    }));
    let left = h.mesh();
    assert_eq!(left.len(), 3);
    let grafted = h.beat().grafted();
    assert_eq!(h.mesh().len(), 6);
    assert_eq!(grafted.len(), 3);
    assert!(grafted.is_disjoint(&left));
    assert!(
        grafted.iter().all(|p| !cut.contains(p)),
        "removed peers are gone"
    );
}

#[test]
fn a_mesh_above_d_high_prunes_to_d_keeping_d_out_outbound_peers() {
    let config = GossipConfig {
        d_high: 8,
        ..GossipConfig::default()
    };
    let mut h = Harness::with_peers(config, 24, true);
    let outbound = outbound_of_0(24);
    for p in 1..=24 {
        let outs = h.recv(p, &graft(T));
        let accepted = h.mesh().contains(&NodeId(p));
        // Refused only when full and inbound, with a PRUNE carrying PX.
        if !accepted {
            assert!(!outbound.contains(&NodeId(p)));
            let prunes = outs.prunes();
            assert_eq!(prunes.len(), 1);
            assert_eq!(prunes[0].1.backoff, Some(60));
            assert!(!prunes[0].1.peers.is_empty());
        }
    }
    let before = h.mesh();
    assert!(before.len() > 8, "outbound peers were accepted past D_high");

    let outs = h.beat();
    let after = h.mesh();
    assert_eq!(after.len(), 6);
    assert!(after.is_subset(&before));
    assert!(after.intersection(&outbound).count() >= 2, "D_out kept");
    let prunes = outs.prunes();
    assert_eq!(prunes.len(), before.len() - 6);
    for (to, p) in &prunes {
        assert!(!after.contains(to));
        assert_eq!(p.backoff, Some(60));
        assert!(
            !p.peers.is_empty() && !p.peers.contains(to),
            "PX names others"
        );
        assert!(h.node.backoff().until(T, *to).is_some());
    }
}

#[test]
fn a_pruned_peer_is_not_regrafted_before_its_backoff_ends() {
    let config = GossipConfig {
        d_out: 0,
        ..GossipConfig::default()
    };
    let mut h = Harness::with_peers(config, 1, true);
    assert_eq!(h.mesh(), [NodeId(1)].into());
    h.wait(secs(5));
    let pruned_at = h.now;
    let outs = h.recv(1, &prune(T, vec![], Some(30)));
    assert!(outs.events().contains(&GossipEvent::Pruned {
        peer: NodeId(1),
        topic: T
    }));
    assert!(h.mesh().is_empty());

    // The mesh is below D_low, but its only candidate is backing off.
    let outs = h.run_until(pruned_at + secs(30));
    assert!(outs.grafted().is_empty());
    // One heartbeat of slack after the backoff, it is grafted again.
    let mut regrafted = None;
    for _ in 0..3 {
        if !h.beat().grafted().is_empty() {
            regrafted = Some(h.now);
            break;
        }
    }
    let regrafted = regrafted.expect("grafted after the backoff");
    assert!(regrafted >= pruned_at + secs(31));
    assert!(regrafted <= pruned_at + secs(32));
}

#[test]
fn a_graft_during_backoff_is_pruned_and_penalised() {
    let mut h = Harness::with_peers(GossipConfig::default(), 1, true);
    h.recv(1, &prune(T, vec![], None)); // backoff: prune_backoff, 60 s
    h.wait(secs(10));
    let outs = h.recv(1, &graft(T));
    assert!(h.mesh().is_empty());
    let prunes = outs.prunes();
    assert_eq!(prunes.len(), 1);
    assert!(prunes[0].1.peers.is_empty(), "no PX to a misbehaving peer");
    assert_eq!(
        h.node
            .peers()
            .get(NodeId(1))
            .unwrap()
            .score
            .behaviour_penalty(),
        1.0
    );
    assert!(h.score(1) < 0.0);
}

#[test]
fn grafts_for_topics_we_do_not_subscribe_to_are_ignored() {
    let mut h = Harness::with_peers(GossipConfig::default(), 1, true);
    let outs = h.recv(1, &graft(TopicId(9)));
    assert!(outs.0.is_empty(), "v1.1: no PRUNE, no PX");
}

#[test]
fn unsubscribing_prunes_the_mesh_with_the_unsubscribe_backoff() {
    let mut h = Harness::with_peers(GossipConfig::default(), 8, true);
    let mesh = h.mesh();
    let outs = h.cmd(GossipCommand::Unsubscribe(T));
    assert!(!h.node.is_subscribed(T));
    let prunes = outs.prunes();
    assert_eq!(
        prunes.iter().map(|(to, _)| *to).collect::<BTreeSet<_>>(),
        mesh
    );
    assert!(prunes.iter().all(|(_, p)| p.backoff == Some(10)));
    let told = outs
        .rpcs()
        .iter()
        .filter(|(_, r)| {
            r.subscriptions
                == [Subscription {
                    subscribe: false,
                    topic: T,
                }]
        })
        .count();
    assert_eq!(told, 8);
}

#[test]
fn a_new_message_is_delivered_once_and_forwarded_to_the_mesh_but_not_back() {
    let mut h = Harness::with_peers(GossipConfig::default(), 10, true);
    let mesh = h.mesh();
    let from = *mesh.iter().next().unwrap();
    let author = 77;
    let outs = h.recv(from.0, &message(id(author, 1), 2));
    assert_eq!(
        outs.events()[..2],
        [
            GossipEvent::Delivered {
                msg: id(author, 1),
                topic: T,
                hops: 3,
                from
            },
            GossipEvent::Relayed { msg: id(author, 1) },
        ]
    );
    let forwarded: BTreeSet<_> = outs.messages().iter().map(|(to, _)| *to).collect();
    let mut others = mesh.clone();
    others.remove(&from);
    assert_eq!(forwarded, others);
    assert!(outs
        .messages()
        .iter()
        .all(|(_, m)| m.hops == 3 && m.data_len == 100));
    // All forwards share one encoding.
    let bytes: BTreeSet<_> = outs
        .0
        .iter()
        .filter_map(|o| match o {
            Output::Transmit { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(bytes.len(), 1);

    let again = h.recv(from.0, &message(id(author, 1), 0));
    assert_eq!(
        again.events(),
        [GossipEvent::Duplicate {
            msg: id(author, 1),
            from
        }]
    );
    assert!(again.rpcs().is_empty());
}

#[test]
fn own_messages_are_never_delivered_or_forwarded() {
    let mut h = Harness::with_peers(GossipConfig::default(), 3, true);
    let outs = h.recv(1, &message(id(0, 12345), 3));
    assert_eq!(
        outs.events(),
        [GossipEvent::Duplicate {
            msg: id(0, 12345),
            from: NodeId(1)
        }]
    );
}

#[test]
fn messages_of_topics_we_do_not_subscribe_to_are_not_delivered() {
    let mut h = Harness::with_peers(GossipConfig::default(), 3, false);
    let outs = h.recv(1, &message(id(9, 1), 0));
    assert!(outs.0.is_empty());
    assert!(h.node.seen().contains(id(9, 1).0));
}

#[test]
fn an_rpc_from_an_unknown_node_makes_it_a_peer() {
    let mut h = Harness::with_peers(GossipConfig::default(), 1, true);
    let outs = h.recv(5, &sub(T, true));
    assert_eq!(
        outs.events(),
        [GossipEvent::InboundPeer { peer: NodeId(5) }]
    );
    assert_eq!(outs.rpcs().len(), 1, "told our subscriptions");
    assert!(h.node.peers().get(NodeId(5)).unwrap().subscribes(T));
}

#[test]
fn malformed_bytes_are_one_drop_and_nothing_else() {
    let mut h = Harness::with_peers(GossipConfig::default(), 1, true);
    for bytes in [&[][..], &[0x05, 1, 2][..], &[0x46, 1, 0, 0][..]] {
        let outs = h.recv_bytes(1, bytes);
        assert_eq!(
            outs.0,
            [Output::Drop {
                from: NodeId(1),
                len: bytes.len(),
                cause: DropCause::Malformed
            }]
        );
    }
    // An unknown sender of garbage does not become a peer.
    h.recv_bytes(9, &[0xff]);
    assert!(!h.node.peers().contains(NodeId(9)));
}

#[test]
fn ihave_for_unseen_ids_is_answered_with_iwant() {
    let mut h = Harness::with_peers(GossipConfig::default(), 3, true);
    h.recv(1, &message(id(50, 1), 0)); // seen
    let outs = h.recv(
        2,
        &ihave(T, vec![id(50, 1), id(50, 2), id(51, 7), id(50, 2)]),
    );
    assert_eq!(outs.iwants(), [(NodeId(2), vec![id(50, 2), id(51, 7)])]);
    assert_eq!(h.node.promises(), 1);
    // Not for a topic we are not in.
    assert!(h
        .recv(2, &ihave(TopicId(9), vec![id(60, 1)]))
        .iwants()
        .is_empty());
    // A promise is kept when the message arrives, from anyone.
    h.recv(3, &message(id(50, 2), 0));
    h.recv(3, &message(id(51, 7), 0));
    assert_eq!(h.node.promises(), 0);
}

#[test]
fn ihave_is_limited_per_peer_and_heartbeat() {
    let config = GossipConfig {
        max_ihave_messages: 2,
        max_ihave_length: 3,
        ..GossipConfig::default()
    };
    let mut h = Harness::with_peers(config, 2, true);
    let asked = |outs: Outs| {
        outs.iwants()
            .iter()
            .map(|(_, ids)| ids.len())
            .sum::<usize>()
    };
    assert_eq!(asked(h.recv(1, &ihave(T, vec![id(5, 1), id(5, 2)]))), 2);
    assert_eq!(
        asked(h.recv(1, &ihave(T, vec![id(5, 3), id(5, 4)]))),
        1,
        "3 ids a beat"
    );
    assert_eq!(
        asked(h.recv(1, &ihave(T, vec![id(5, 5)]))),
        0,
        "2 IHAVEs a beat"
    );
    assert_eq!(asked(h.recv(2, &ihave(T, vec![id(5, 5)]))), 1, "per peer");
    h.beat();
    assert_eq!(
        asked(h.recv(1, &ihave(T, vec![id(5, 6)]))),
        1,
        "reset each beat"
    );
}

#[test]
fn a_broken_promise_costs_a_behaviour_penalty() {
    let mut h = Harness::with_peers(GossipConfig::default(), 2, true);
    h.recv(1, &ihave(T, vec![id(50, 1)]));
    assert_eq!(h.node.promises(), 1);
    let deadline = h.now + secs(3);
    h.run_until(Instant::from_nanos(deadline.as_nanos() - 1));
    assert_eq!(h.node.promises(), 1);
    h.run_until(deadline + HB);
    assert_eq!(h.node.promises(), 0);
    let penalty = h
        .node
        .peers()
        .get(NodeId(1))
        .unwrap()
        .score
        .behaviour_penalty();
    assert!(
        penalty > 0.5,
        "penalised, then decayed at most once: {penalty}"
    );
}

#[test]
fn iwant_is_served_from_the_message_cache_until_it_shifts_out() {
    let mut h = Harness::with_peers(GossipConfig::default(), 2, false);
    h.cmd(GossipCommand::Publish { topic: T, size: 64 });
    let published = id(0, 0);
    let outs = h.recv(1, &iwant(vec![published, id(3, 3)]));
    let served = outs.messages();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].0, NodeId(1));
    assert_eq!(
        served[0].1,
        MessageRepr {
            id: published,
            topic: T,
            data_len: 64,
            hops: 0
        }
    );
    // mcache_len = 5 windows: four shifts keep it, the fifth drops it.
    for _ in 0..4 {
        h.beat();
    }
    assert_eq!(h.recv(2, &iwant(vec![published])).messages().len(), 1);
    h.beat();
    assert!(h.recv(2, &iwant(vec![published])).messages().is_empty());
    assert!(h.node.mcache().is_empty());
}

#[test]
fn iwant_is_served_at_most_gossip_retransmission_times_per_peer() {
    let mut h = Harness::with_peers(GossipConfig::default(), 2, false);
    h.cmd(GossipCommand::Publish { topic: T, size: 8 });
    let served = (0..5)
        .map(|_| h.recv(1, &iwant(vec![id(0, 0)])).messages().len())
        .sum::<usize>();
    assert_eq!(served, 3);
}

/// A gossip-only pair: neither keeps a mesh (D = 0) and publishing does not
/// flood, so a message can only travel by IHAVE → IWANT → message.
#[test]
fn gossip_carries_a_message_between_two_nodes_without_a_mesh() {
    let config = GossipConfig {
        d: 0,
        d_low: 0,
        d_score: 0,
        d_out: 0,
        d_lazy: 1,
        flood_publish: false,
        ..GossipConfig::default()
    };
    let nodes = (0..2)
        .map(|i| Gossip::new(NodeId(i), config, rng(u64::from(i))))
        .collect();
    let mut net = TestNet::new(nodes);
    for (a, b) in [(0, 1), (1, 0)] {
        net.command(NodeId(a), GossipCommand::AddPeer(NodeId(b)));
        net.command(NodeId(a), GossipCommand::Subscribe(T));
    }
    net.run();
    net.command(
        NodeId(0),
        GossipCommand::Publish {
            topic: T,
            size: 500,
        },
    );
    net.run();
    let delivered = |net: &TestNet<Gossip>| {
        net.events()
            .filter_map(|(n, e)| match *e {
                GossipEvent::Delivered { hops, .. } => Some((n, hops)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(delivered(&net).is_empty(), "no mesh, no flood");
    net.advance_to(Instant::ZERO + HB);
    net.run();
    assert_eq!(delivered(&net), [(NodeId(1), 1)]);
    // It went IHAVE (0 → 1), IWANT (1 → 0), then the message (0 → 1).
    let kinds: Vec<_> = net
        .log
        .iter()
        .filter_map(|r| match &r.output {
            Output::Transmit { bytes, .. } => {
                let rpc = RpcRepr::parse(bytes).unwrap();
                if !rpc.control.ihave.is_empty() {
                    Some((r.node.0, "ihave"))
                } else if !rpc.control.iwant.is_empty() {
                    Some((r.node.0, "iwant"))
                } else if !rpc.messages.is_empty() {
                    Some((r.node.0, "message"))
                } else {
                    None
                }
            }
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [(0, "ihave"), (1, "iwant"), (0, "message")]);
}

#[test]
fn flood_publish_reaches_every_topic_peer_above_the_publish_threshold() {
    let mut h = Harness::with_peers(GossipConfig::default(), 10, true);
    h.cmd(GossipCommand::AddPeer(NodeId(11))); // not in the topic
                                               // Peer 3: three invalid messages, P4 = 9 → −90 (below publish, −50).
                                               // Peer 4: two, P4 = 4 → −40 (below gossip, above publish).
    for seq in 0..3 {
        h.recv_bytes(3, &signed_message(seq));
    }
    for seq in 3..5 {
        h.recv_bytes(4, &signed_message(seq));
    }
    assert!(h.score(3) < -50.0 && h.score(4) > -50.0 && h.score(4) < -10.0);
    let outs = h.cmd(GossipCommand::Publish {
        topic: T,
        size: 1024,
    });
    let to: BTreeSet<u32> = outs.messages().iter().map(|(to, _)| to.0).collect();
    assert_eq!(to, [1, 2, 4, 5, 6, 7, 8, 9, 10].into());
    assert_eq!(
        outs.events()[0],
        GossipEvent::Published {
            msg: id(0, 0),
            topic: T,
            expected: 0
        }
    );
}

#[test]
fn without_flood_publish_a_non_subscriber_publishes_through_its_fanout() {
    let config = GossipConfig {
        flood_publish: false,
        ..GossipConfig::default()
    };
    let mut h = Harness::with_peers(config, 10, false);
    let outs = h.cmd(GossipCommand::Publish { topic: T, size: 10 });
    let fanout: BTreeSet<_> = h.node.fanout(T).iter().copied().collect();
    assert_eq!(fanout.len(), 6);
    let to: BTreeSet<_> = outs.messages().iter().map(|(to, _)| *to).collect();
    assert_eq!(to, fanout);
    // The fanout gossips its messages to the other topic peers...
    let gossiped = h.beat().ihave_to();
    assert!(!gossiped.is_empty() && gossiped.is_disjoint(&fanout));
    // ...and is forgotten fanout_ttl after the last publish.
    let last = h.now;
    h.run_until(last + secs(59));
    assert_eq!(h.node.fanout(T).len(), 6);
    h.run_until(last + secs(61));
    assert!(h.node.fanout(T).is_empty());
}

#[test]
fn a_peer_sending_invalid_messages_is_graylisted_and_its_rpcs_ignored() {
    let mut h = Harness::with_peers(GossipConfig::default(), 6, true);
    assert!(h.mesh().contains(&NodeId(1)));
    for seq in 0..3 {
        let outs = h.recv_bytes(1, &signed_message(seq));
        assert!(matches!(
            outs.events()[..],
            [GossipEvent::Invalid {
                from: NodeId(1),
                topic: T,
                reason: Invalid::Signed
            }]
        ));
        assert!(
            outs.rpcs().is_empty(),
            "an invalid message is not forwarded"
        );
    }
    assert!(h.score(1) < h.node.config().thresholds.graylist_threshold);
    let bytes = message(id(40, 1), 0).emit();
    let outs = h.recv_bytes(1, &bytes);
    assert_eq!(
        outs.0,
        [Output::Event(GossipEvent::Ignored {
            from: NodeId(1),
            len: bytes.len()
        })]
    );
    assert!(!h.node.seen().contains(id(40, 1).0), "not even read");
    // The next heartbeat prunes it (negative score), without PX.
    let outs = h.beat();
    assert!(!h.mesh().contains(&NodeId(1)));
    assert!(outs
        .prunes()
        .iter()
        .any(|(to, p)| *to == NodeId(1) && p.peers.is_empty()));
    // And it gets no gossip.
    h.recv(2, &message(id(40, 2), 0));
    for _ in 0..3 {
        assert!(!h.beat().ihave_to().contains(&NodeId(1)));
    }
}

#[test]
fn a_graylisted_peer_cannot_reset_its_score_by_reconnecting() {
    let mut h = Harness::with_peers(GossipConfig::default(), 2, true);
    for seq in 0..3 {
        h.recv_bytes(1, &signed_message(seq));
    }
    h.cmd(GossipCommand::RemovePeer(NodeId(1)));
    assert_eq!(h.node.retained(), 1);
    let outs = h.recv(1, &sub(T, true));
    assert!(matches!(outs.events()[..], [GossipEvent::Ignored { .. }]));
    h.cmd(GossipCommand::AddPeer(NodeId(1)));
    assert!(h.score(1) < -80.0);
    // After retain_score (60 s) an idle score would be forgotten; this one
    // decays too slowly (0.99 a beat), so it is still remembered at 30 s.
    h.cmd(GossipCommand::RemovePeer(NodeId(1)));
    h.run_until(h.now + secs(30));
    assert_eq!(h.node.retained(), 1);
    h.run_until(h.now + secs(31));
    assert_eq!(h.node.retained(), 0);
}

#[test]
fn peer_exchange_from_a_well_scored_peer_adds_peers() {
    let mut h = Harness::with_peers(GossipConfig::default(), 2, true);
    // Peer 1 earns P2 = 13 with first deliveries, 11.7 after a heartbeat's
    // decay (the router's view of a score is refreshed at the heartbeat).
    for seq in 0..13 {
        h.recv(1, &message(id(70, seq), 0));
    }
    assert!(h.score(1) < 10.0, "rewards lag until the heartbeat");
    h.beat();
    assert!(h.score(1) >= 10.0);
    let outs = h.recv(
        1,
        &prune(T, vec![NodeId(2), NodeId(50), NodeId(51), NodeId(0)], None),
    );
    let px: Vec<_> = outs
        .events()
        .into_iter()
        .filter_map(|e| match e {
            GossipEvent::PeerExchange { from, peer, added } => Some((from.0, peer.0, added)),
            _ => None,
        })
        .collect();
    assert_eq!(px, [(1, 50, true), (1, 51, true)]);
    assert!(h.node.peers().contains(NodeId(50)));
    let hellos: BTreeSet<_> = outs.rpcs().iter().map(|(to, _)| to.0).collect();
    assert_eq!(hellos, [50, 51].into());
    // From a peer below accept_px_threshold, PX is ignored.
    let outs = h.recv(2, &prune(T, vec![NodeId(60)], None));
    assert!(outs
        .events()
        .iter()
        .all(|e| !matches!(e, GossipEvent::PeerExchange { .. })));
}

#[test]
fn px_adds_peers_only_below_the_peer_limit() {
    let config = GossipConfig {
        px_peer_limit: 3,
        score: ScoreParams {
            first_message_deliveries_weight: 10.0,
            ..ScoreParams::default()
        },
        ..GossipConfig::default()
    };
    let mut h = Harness::with_peers(config, 2, true);
    h.recv(1, &message(id(70, 1), 0));
    h.recv(1, &message(id(70, 2), 0));
    h.beat();
    let outs = h.recv(1, &prune(T, vec![NodeId(50), NodeId(51)], None));
    let added: Vec<_> = outs
        .events()
        .into_iter()
        .filter_map(|e| match e {
            GossipEvent::PeerExchange { peer, added, .. } => Some((peer.0, added)),
            _ => None,
        })
        .collect();
    assert_eq!(added, [(50, true), (51, false)]);
}

#[test]
fn the_first_heartbeat_is_desynchronised_and_the_phase_kept() {
    let firsts: BTreeSet<_> = (0..1000)
        .map(|seed| {
            let g = Gossip::new(NodeId(0), GossipConfig::default(), rng(seed));
            let t = g.poll_timeout().unwrap();
            assert!(t < Instant::ZERO + HB);
            t
        })
        .collect();
    assert!(firsts.len() > 990, "{} distinct phases", firsts.len());

    let mut g = Gossip::new(NodeId(0), GossipConfig::default(), rng(3));
    let phase = g.poll_timeout().unwrap().as_nanos();
    // Woken 10.5 s late (as a node built at a restart would be).
    let late = Instant::from_nanos(phase + 10_500_000_000);
    g.handle_timeout(late);
    assert_eq!(g.poll_timeout().unwrap().as_nanos(), phase + 11_000_000_000);
    // A stale wake-up does nothing.
    g.handle_timeout(late);
    assert_eq!(g.poll_timeout().unwrap().as_nanos(), phase + 11_000_000_000);
}

#[test]
fn sequence_numbers_start_where_the_builder_says() {
    let mut g = Gossip::new(NodeId(4), GossipConfig::default(), rng(0)).with_initial_seq(u32::MAX);
    for expected in [u32::MAX, 0] {
        g.handle_command(Instant::ZERO, GossipCommand::Publish { topic: T, size: 1 });
        match g.poll_output() {
            Some(Output::Event(GossipEvent::Published { msg, .. })) => {
                assert_eq!(msg, MessageId::new(NodeId(4), expected));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn events_become_the_kernels_observations() {
    let m = id(3, 4);
    let cases = [
        (
            GossipEvent::Published {
                msg: m,
                topic: T,
                expected: 9,
            },
            Some(Observation::Sent {
                msg: m.0,
                expected: 9,
            }),
        ),
        (
            GossipEvent::Delivered {
                msg: m,
                topic: T,
                hops: 2,
                from: NodeId(1),
            },
            Some(Observation::Delivered { msg: m.0, hops: 2 }),
        ),
        (
            GossipEvent::Duplicate {
                msg: m,
                from: NodeId(1),
            },
            Some(Observation::Duplicate { msg: m.0 }),
        ),
        (
            GossipEvent::Relayed { msg: m },
            Some(Observation::Relayed { msg: m.0 }),
        ),
        (
            GossipEvent::Grafted {
                peer: NodeId(1),
                topic: T,
            },
            None,
        ),
    ];
    for (event, observation) in cases {
        assert_eq!(event.observe(), observation, "{event:?}");
    }
}

// ----- many nodes, on the kernel -----

/// A gossip network on the kernel: every pair of nodes has a link (so that
/// peer exchange can connect anyone), but the overlay is `edges`: both ends
/// of each get `AddPeer` at time 0, and every node subscribes to `T`.
fn kernel(
    n: u32,
    edges: &[(u32, u32)],
    config: GossipConfig,
    link: LinkConfig,
    seed: u64,
) -> Simulation<Gossip, GraphNetwork> {
    let streams = RngStreams::new(seed);
    let mut net = GraphNetwork::new(n, streams);
    for a in 0..n {
        for b in a + 1..n {
            net.add_link(NodeId(a), NodeId(b), link.clone(), link.clone());
        }
    }
    let build = move |id: NodeId, mut rng: SimRng| {
        let seq = rng.next_u32();
        Gossip::new(id, config, rng).with_initial_seq(seq)
    };
    let mut sim = Simulation::new(streams, net, Box::new(build));
    sim.record_events();
    for &(a, b) in edges {
        sim.schedule_command(Instant::ZERO, NodeId(a), GossipCommand::AddPeer(NodeId(b)));
        sim.schedule_command(Instant::ZERO, NodeId(b), GossipCommand::AddPeer(NodeId(a)));
    }
    for i in 0..n {
        sim.schedule_command(Instant::ZERO, NodeId(i), GossipCommand::Subscribe(T));
    }
    sim
}

fn random_regular(n: u32, degree: u32, seed: u64) -> Vec<(u32, u32)> {
    let g = Topology::RandomRegular { degree }
        .generate(n, &mut rng(seed))
        .expect("valid topology");
    g.graph
        .edge_indices()
        .filter_map(|e| g.graph.edge_endpoints(e))
        .map(|(a, b)| (a.index() as u32, b.index() as u32))
        .collect()
}

fn wan_link() -> LinkConfig {
    LinkConfig {
        latency: Dist::Uniform {
            min: Duration::from_millis(10),
            max: Duration::from_millis(80),
        },
        ..LinkConfig::default()
    }
}

/// Publishes `count` messages of 1 KiB, one per second from a random
/// publisher, starting at `start`; returns when the last was published.
fn publish_stream(
    sim: &mut Simulation<Gossip, GraphNetwork>,
    n: u32,
    start: Instant,
    count: u32,
    seed: u64,
) -> Instant {
    let mut r = rng(seed);
    let mut at = start;
    for k in 0..count {
        at = start + Duration::from_secs(u64::from(k));
        let publisher = NodeId(r.next_u32() % n);
        sim.schedule_command(
            at,
            publisher,
            GossipCommand::Publish {
                topic: T,
                size: 1024,
            },
        );
    }
    at
}

/// `(node, msg)` for every delivery, in order.
fn deliveries(sim: &Simulation<Gossip, GraphNetwork>) -> Vec<(NodeId, MessageId)> {
    sim.events()
        .iter()
        .filter_map(|(_, node, e)| match *e {
            GossipEvent::Delivered { msg, .. } => Some((*node, msg)),
            _ => None,
        })
        .collect()
}

fn hop_bound(n: u32, d: u32) -> f64 {
    ((f64::from(n)).ln() / f64::from(d).ln()).ceil() + 1.0
}

fn check_full_delivery(sim: &Simulation<Gossip, GraphNetwork>, n: u32, messages: u64) -> f64 {
    let summary = sim.metrics().summary();
    assert_eq!(summary.messages, messages);
    assert_eq!(summary.expected_deliveries, messages * u64::from(n - 1));
    assert_eq!(summary.deliveries, summary.expected_deliveries);
    assert_eq!(summary.delivery_ratio, 1.0);
    let all = deliveries(sim);
    let unique: BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no duplicate deliveries");
    summary.hops_mean
}

#[test]
fn every_subscriber_receives_every_message_on_a_random_regular_graph() {
    let n = 200;
    let config = GossipConfig {
        expected_subscribers: n - 1,
        ..GossipConfig::default()
    };
    let mut sim = kernel(n, &random_regular(n, 16, 1), config, wan_link(), 1);
    let last = publish_stream(&mut sim, n, Instant::ZERO + secs(5), 20, 2);
    sim.run_until(last + secs(5));
    let hops = check_full_delivery(&sim, n, 20);
    eprintln!("random regular, flood publish: mean hops {hops}");
    assert!(hops <= hop_bound(n, 6), "mean hops {hops}");
    // The meshes settled between D_low and D_high.
    for i in 0..n {
        let mesh = sim.node(NodeId(i)).unwrap().mesh(T).len();
        assert!((4..=12).contains(&mesh), "{i}: mesh of {mesh}");
    }
}

#[test]
fn without_flood_publishing_the_mesh_alone_delivers_within_the_hop_bound() {
    let n = 200;
    let config = GossipConfig {
        expected_subscribers: n - 1,
        flood_publish: false,
        ..GossipConfig::default()
    };
    let mut sim = kernel(n, &random_regular(n, 16, 3), config, wan_link(), 3);
    let last = publish_stream(&mut sim, n, Instant::ZERO + secs(5), 20, 4);
    sim.run_until(last + secs(5));
    let hops = check_full_delivery(&sim, n, 20);
    eprintln!("random regular, mesh only: mean hops {hops}");
    assert!(hops <= hop_bound(n, 6), "mean hops {hops}");
    assert!(hops > 2.0, "the mesh, not a flood, carried it: {hops}");
}

#[test]
fn every_subscriber_receives_every_message_on_a_full_graph() {
    let n = 100;
    let edges: Vec<_> = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect();
    let config = GossipConfig {
        expected_subscribers: n - 1,
        ..GossipConfig::default()
    };
    // Equal latencies: the direct copy always arrives first.
    let link = LinkConfig {
        latency: Dist::Constant(Duration::from_millis(20)),
        ..LinkConfig::default()
    };
    let mut sim = kernel(n, &edges, config, link, 5);
    let last = publish_stream(&mut sim, n, Instant::ZERO + secs(3), 10, 6);
    sim.run_until(last + secs(3));
    let hops = check_full_delivery(&sim, n, 10);
    assert_eq!(hops, 1.0, "flood publishing reaches every peer directly");
}

#[test]
fn a_run_is_a_function_of_its_seed() {
    let hash = |seed| {
        let n = 60;
        let config = GossipConfig {
            expected_subscribers: n - 1,
            ..GossipConfig::default()
        };
        let mut sim = kernel(n, &random_regular(n, 8, seed), config, wan_link(), seed);
        let last = publish_stream(&mut sim, n, Instant::ZERO + secs(2), 5, seed);
        sim.run_until(last + secs(3));
        sim.trace_hash()
    };
    assert_eq!(hash(9), hash(9));
    assert_ne!(hash(9), hash(10));
}

// ----- properties under loss and churn -----

#[derive(Clone, Debug)]
enum Action {
    Publish(u32),
    /// Disconnect the pair at the given time and reconnect it later.
    Churn(u32, u32, u64),
    Leave(u32, u64),
}

fn scenario() -> impl Strategy<Value = (u32, u64, f64, Vec<(u64, Action)>)> {
    (5u32..30, any::<u64>(), 0.0f64..0.3).prop_flat_map(|(n, seed, loss)| {
        let action = prop_oneof![
            3 => (0..n).prop_map(Action::Publish),
            2 => (0..n, 0..n, 1u64..20_000).prop_map(|(a, b, ms)| Action::Churn(a, b, ms)),
            1 => (0..n, 1u64..20_000).prop_map(|(a, ms)| Action::Leave(a, ms)),
        ];
        let actions = proptest::collection::vec((0u64..20_000, action), 0..40);
        (Just(n), Just(seed), Just(loss), actions)
    })
}

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    /// On a random graph with lossy links, churning connections and nodes
    /// leaving and rejoining the topic: every delivery is of a message
    /// published earlier, no node delivers a message twice or its own, and
    /// every cache, table and timer stays bounded and drains once the
    /// workload stops.
    #[test]
    fn deliveries_are_published_unique_and_state_stays_bounded(
        (n, seed, p_loss, actions) in scenario(),
    ) {
        let config = GossipConfig {
            expected_subscribers: n - 1,
            seen_ttl: secs(30),
            ..GossipConfig::default()
        };
        let link = LinkConfig {
            loss: Loss::Bernoulli { p: p_loss },
            ..wan_link()
        };
        let edges: Vec<_> = Topology::ErdosRenyi { p: 0.3 }
            .generate(n, &mut rng(seed))
            .map(|g| {
                g.graph
                    .edge_indices()
                    .filter_map(|e| g.graph.edge_endpoints(e))
                    .map(|(a, b)| (a.index() as u32, b.index() as u32))
                    .collect()
            })
            .unwrap_or_default();
        let mut sim = kernel(n, &edges, config, link, seed);
        let ms = |t: u64| Instant::ZERO + secs(1) + Duration::from_millis(t);
        let mut published = 0u64;
        for (t, action) in &actions {
            match *action {
                Action::Publish(node) => {
                    published += 1;
                    sim.schedule_command(ms(*t), NodeId(node), GossipCommand::Publish { topic: T, size: 100 });
                }
                Action::Churn(a, b, back) if a != b => {
                    for (x, y) in [(a, b), (b, a)] {
                        sim.schedule_command(ms(*t), NodeId(x), GossipCommand::RemovePeer(NodeId(y)));
                        sim.schedule_command(ms(t + back), NodeId(x), GossipCommand::AddPeer(NodeId(y)));
                    }
                }
                Action::Churn(..) => {}
                Action::Leave(a, back) => {
                    sim.schedule_command(ms(*t), NodeId(a), GossipCommand::Unsubscribe(T));
                    sim.schedule_command(ms(t + back), NodeId(a), GossipCommand::Subscribe(T));
                }
            }
        }
        let workload_end = ms(40_000);
        sim.run_until(workload_end);

        // Every delivery follows the publication of its message, once per node.
        let mut published_at = BTreeMap::new();
        let mut delivered = BTreeSet::new();
        for (at, node, e) in sim.events() {
            match *e {
                GossipEvent::Published { msg, .. } => {
                    prop_assert!(published_at.insert(msg, *at).is_none(), "id {} reused", msg);
                }
                GossipEvent::Delivered { msg, hops, .. } => {
                    prop_assert!(published_at.get(&msg).is_some_and(|t| t <= at), "{} unpublished", msg);
                    prop_assert!(delivered.insert((*node, msg)), "{} delivered {} twice", node, msg);
                    prop_assert!(msg.from_node() != *node, "{} delivered its own {}", node, msg);
                    prop_assert!(hops >= 1);
                }
                _ => {}
            }
        }
        prop_assert_eq!(published_at.len() as u64, published);
        let m = sim.metrics();
        prop_assert_eq!(m.deliveries_without_send, 0);
        prop_assert_eq!(m.reused_message_ids, 0);

        // Bounded while running...
        let c = config;
        let now = sim.now();
        for i in 0..n {
            let g = sim.node(NodeId(i)).unwrap();
            prop_assert!(g.seen().len() as u64 <= published);
            prop_assert!(g.mcache().windows() <= c.mcache_len as usize);
            prop_assert!(g.mcache().len() as u64 <= published);
            prop_assert!(g.backoff().len() <= n as usize);
            prop_assert!(g.promises() <= (n * c.max_ihave_messages * 5) as usize);
            prop_assert!(g.retained() <= n as usize);
            prop_assert!(g.mesh(T).len() < n as usize);
            prop_assert!(g.peers().len() < n as usize);
            let wake = g.poll_timeout().unwrap();
            prop_assert!(wake > now && wake <= now + c.heartbeat_interval);
        }
        // ...and drained once the workload stops.
        sim.run_until(workload_end + c.seen_ttl + secs(70));
        for i in 0..n {
            let g = sim.node(NodeId(i)).unwrap();
            prop_assert!(g.seen().is_empty());
            prop_assert!(g.mcache().is_empty());
            prop_assert!(g.backoff().is_empty());
            prop_assert_eq!(g.promises(), 0);
            prop_assert_eq!(g.retained(), 0);
        }
    }
}
