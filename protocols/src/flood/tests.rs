use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use sim_core::{DropCause, Duration, Instant, NodeId, Observation, Observe, Output, Protocol};

use super::wire::{self, Repr};
use super::{Flood, FloodCommand, FloodConfig, FloodEvent};
use crate::test_net::TestNet;

/// A flood network over `adjacency`, node `i` flooding to `adjacency[i]`.
fn network(adjacency: &[Vec<u32>], config: FloodConfig) -> TestNet<Flood> {
    let nodes = adjacency
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let neighbours = ns.iter().map(|&n| NodeId(n)).collect();
            Flood::new(NodeId(i as u32), neighbours, config)
        })
        .collect();
    TestNet::new(nodes)
}

fn line(n: u32) -> Vec<Vec<u32>> {
    (0..n)
        .map(|i| {
            let mut ns = Vec::new();
            if i > 0 {
                ns.push(i - 1);
            }
            if i + 1 < n {
                ns.push(i + 1);
            }
            ns
        })
        .collect()
}

fn ring(n: u32) -> Vec<Vec<u32>> {
    (0..n).map(|i| vec![(i + n - 1) % n, (i + 1) % n]).collect()
}

fn with_hop_limit(hop_limit: u8) -> FloodConfig {
    FloodConfig {
        hop_limit,
        ..FloodConfig::default()
    }
}

fn broadcast(size: u32) -> FloodCommand {
    FloodCommand::Broadcast { size }
}

/// `(node, msg, hops)` for every delivery, in the order they happened.
fn deliveries(net: &TestNet<Flood>) -> Vec<(u32, u64, u32)> {
    net.events()
        .filter_map(|(node, e)| match *e {
            FloodEvent::Delivered { msg, hops, .. } => Some((node.0, msg, hops)),
            _ => None,
        })
        .collect()
}

/// Every transmit: `(call, from, to, repr)`.
fn transmits(net: &TestNet<Flood>) -> Vec<(usize, NodeId, NodeId, Repr)> {
    net.log
        .iter()
        .filter_map(|r| match &r.output {
            Output::Transmit { to, bytes } => {
                let packet =
                    wire::Packet::new_checked(&bytes[..]).expect("flood emits valid bytes");
                Some((r.call, r.node, *to, Repr::parse(&packet).unwrap()))
            }
            _ => None,
        })
        .collect()
}

/// How many distinct inputs made each `(node, msg)` transmit.
fn sending_calls(net: &TestNet<Flood>) -> BTreeMap<(NodeId, u64), BTreeSet<usize>> {
    let mut calls: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
    for (call, from, _, repr) in transmits(net) {
        calls.entry((from, repr.id)).or_default().insert(call);
    }
    calls
}

#[test]
fn on_a_line_hop_limit_h_reaches_exactly_the_next_h_nodes() {
    for h in [0u8, 1, 2, 3, 7, 18, 19, 25, 255] {
        let mut net = network(&line(20), with_hop_limit(h));
        net.command(NodeId(0), broadcast(10));
        net.run();

        let reached: Vec<_> = deliveries(&net)
            .into_iter()
            .map(|(n, _, hops)| (n, hops))
            .collect();
        let expected: Vec<_> = (1..=u32::from(h).min(19)).map(|n| (n, n)).collect();
        assert_eq!(reached, expected, "hop limit {h}");
        for ((node, _), calls) in sending_calls(&net) {
            assert_eq!(calls.len(), 1, "hop limit {h}: {node} sent more than once");
        }
        // One copy per hop travelled: nobody sends a copy that may go no further.
        assert_eq!(transmits(&net).len(), expected.len(), "hop limit {h}");
    }
}

#[test]
fn relays_step_the_hop_fields_and_skip_the_sender() {
    let mut net = network(&line(5), with_hop_limit(3));
    net.command(NodeId(0), broadcast(5));
    net.run();
    let sent: Vec<_> = transmits(&net)
        .into_iter()
        .map(|(_, from, to, r)| (from.0, to.0, r.hop_limit, r.hops, r.payload_len))
        .collect();
    assert_eq!(sent, [(0, 1, 3, 0, 5), (1, 2, 2, 1, 5), (2, 3, 1, 2, 5)]);
}

#[test]
fn on_a_ring_every_node_delivers_once_and_relays_at_most_once() {
    for seed in [None, Some(1), Some(2), Some(3)] {
        let mut net = network(&ring(12), with_hop_limit(20));
        if let Some(seed) = seed {
            net = net.reordered(seed);
        }
        net.command(NodeId(0), broadcast(0));
        net.run();

        let delivered: Vec<_> = deliveries(&net).into_iter().map(|(n, _, _)| n).collect();
        let unique: BTreeSet<_> = delivered.iter().copied().collect();
        assert_eq!(delivered.len(), 11, "seed {seed:?}");
        assert_eq!(unique, (1..12).collect(), "seed {seed:?}");
        for ((node, _), calls) in sending_calls(&net) {
            assert_eq!(calls.len(), 1, "seed {seed:?}: {node} relayed twice");
        }
        // The two fronts meet: the node(s) where they meet see a duplicate.
        assert!(net
            .events()
            .any(|(_, e)| matches!(e, FloodEvent::Duplicate { .. })));
        assert!(
            !deliveries(&net).iter().any(|&(n, _, _)| n == 0),
            "the origin never delivers its own message"
        );
    }
}

#[test]
fn broadcast_reports_sent_with_the_expected_recipients() {
    let config = FloodConfig {
        expected_recipients: 11,
        ..FloodConfig::default()
    };
    let mut origin = Flood::new(NodeId(3), vec![NodeId(4)], config);
    origin.handle_command(Instant::ZERO, broadcast(100));
    let msg = 3 << 32;
    let event = FloodEvent::Sent { msg, expected: 11 };
    assert_eq!(origin.poll_output(), Some(Output::Event(event)));
    let Some(Output::Transmit { to, bytes }) = origin.poll_output() else {
        panic!("expected a transmit");
    };
    assert_eq!((to, bytes.len()), (NodeId(4), wire::HEADER_LEN + 100));
    assert_eq!(origin.poll_output(), None);
    assert_eq!(
        event.observe(),
        Some(Observation::Sent { msg, expected: 11 })
    );
    let delivered = FloodEvent::Delivered {
        msg,
        hops: 3,
        from: NodeId(4),
    };
    assert_eq!(
        delivered.observe(),
        Some(Observation::Delivered { msg, hops: 3 })
    );
    assert_eq!(
        FloodEvent::Duplicate {
            msg,
            from: NodeId(4)
        }
        .observe(),
        None
    );
}

#[test]
fn neighbours_are_sorted_deduplicated_and_exclude_self() {
    let flood = Flood::new(
        NodeId(2),
        vec![NodeId(5), NodeId(2), NodeId(1), NodeId(5)],
        FloodConfig::default(),
    );
    assert_eq!(flood.neighbours(), [NodeId(1), NodeId(5)]);
}

#[test]
fn seen_ids_expire_after_the_ttl() {
    let config = FloodConfig {
        seen_ttl: Duration::from_secs(30),
        ..FloodConfig::default()
    };
    let mut net = network(&line(3), config);
    net.now = Instant::ZERO + Duration::from_secs(1);
    net.command(NodeId(0), broadcast(0));
    net.run();
    let deadline = Instant::ZERO + Duration::from_secs(31);
    for node in &net.nodes {
        assert_eq!(node.poll_timeout(), Some(deadline));
    }

    net.advance_to(Instant::from_nanos(deadline.as_nanos() - 1));
    assert!(net.nodes.iter().all(|n| n.seen().len() == 1));
    net.advance_to(deadline);
    assert!(net.nodes.iter().all(|n| n.seen().is_empty()));
    assert!(net.nodes.iter().all(|n| n.poll_timeout().is_none()));
}

#[test]
fn a_copy_arriving_after_its_id_expired_is_delivered_again() {
    let config = FloodConfig {
        seen_ttl: Duration::from_secs(30),
        ..FloodConfig::default()
    };
    let mut node = Flood::new(NodeId(1), vec![NodeId(0)], config);
    let copy = Repr {
        id: 9,
        hop_limit: 1,
        hops: 0,
        payload_len: 0,
    }
    .to_bytes();
    let delivered = Output::Event(FloodEvent::Delivered {
        msg: 9,
        hops: 1,
        from: NodeId(0),
    });
    node.handle_datagram(Instant::ZERO, NodeId(0), &copy);
    assert_eq!(node.poll_output(), Some(delivered.clone()));
    node.handle_datagram(Instant::ZERO, NodeId(0), &copy);
    let duplicate = FloodEvent::Duplicate {
        msg: 9,
        from: NodeId(0),
    };
    assert_eq!(node.poll_output(), Some(Output::Event(duplicate)));
    // No handle_timeout: the datagram input expires the id itself.
    node.handle_datagram(Instant::ZERO + Duration::from_secs(30), NodeId(0), &copy);
    assert_eq!(node.poll_output(), Some(delivered));
}

fn drain(flood: &mut Flood) -> Vec<Output<FloodEvent>> {
    std::iter::from_fn(|| flood.poll_output()).collect()
}

#[test]
fn malformed_bytes_give_exactly_one_drop() {
    let valid = Repr {
        id: 1,
        hop_limit: 3,
        hops: 0,
        payload_len: 4,
    }
    .to_bytes();
    let mut wrong_magic = valid.clone();
    wrong_magic[0] = b'P';
    let mut wrong_version = valid.clone();
    wrong_version[1] = 2;
    let mut overrun = valid.clone();
    overrun[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut trailing = valid.clone();
    trailing.push(0);
    let cases: [(&str, &[u8]); 7] = [
        ("empty", &[]),
        ("truncated header", &valid[..wire::HEADER_LEN - 1]),
        ("truncated payload", &valid[..valid.len() - 1]),
        ("trailing bytes", &trailing),
        ("wrong magic", &wrong_magic),
        ("wrong version", &wrong_version),
        ("length overruns the buffer", &overrun),
    ];
    for (what, bytes) in cases {
        let mut node = Flood::new(
            NodeId(0),
            vec![NodeId(1), NodeId(2)],
            FloodConfig::default(),
        );
        node.handle_datagram(Instant::ZERO, NodeId(1), bytes);
        assert_eq!(
            drain(&mut node),
            [Output::Drop {
                from: NodeId(1),
                len: bytes.len(),
                cause: DropCause::Malformed
            }],
            "{what}"
        );
        assert!(node.seen().is_empty(), "{what}");
    }
}

#[test]
fn a_copy_with_no_hops_left_is_dropped_as_expired() {
    let mut node = Flood::new(
        NodeId(0),
        vec![NodeId(1), NodeId(2)],
        FloodConfig::default(),
    );
    let bytes = Repr {
        id: 1,
        hop_limit: 0,
        hops: 4,
        payload_len: 0,
    }
    .to_bytes();
    node.handle_datagram(Instant::ZERO, NodeId(1), &bytes);
    assert_eq!(
        drain(&mut node),
        [Output::Drop {
            from: NodeId(1),
            len: bytes.len(),
            cause: DropCause::Expired
        }]
    );
}

/// Hop distances from `origin` by breadth-first search.
fn distances(adjacency: &[Vec<u32>], origin: u32) -> BTreeMap<u32, u32> {
    let mut dist = BTreeMap::from([(origin, 0)]);
    let mut queue = VecDeque::from([origin]);
    while let Some(u) = queue.pop_front() {
        let d = dist[&u];
        for &v in &adjacency[u as usize] {
            if let Entry::Vacant(entry) = dist.entry(v) {
                entry.insert(d + 1);
                queue.push_back(v);
            }
        }
    }
    dist
}

/// An undirected graph on `n` nodes from a list of edges (self-loops and
/// repeats allowed: the protocol must cope with them).
fn graph(n: u32, edges: &[(u32, u32)]) -> Vec<Vec<u32>> {
    let mut adjacency = vec![Vec::new(); n as usize];
    for &(a, b) in edges {
        let (a, b) = (a % n, b % n);
        adjacency[a as usize].push(b);
        adjacency[b as usize].push(a);
    }
    adjacency
}

proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        valid_prefix in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if valid_prefix && bytes.len() >= 2 {
            bytes[0] = wire::MAGIC;
            bytes[1] = wire::VERSION;
        }
        let mut node = Flood::new(NodeId(0), vec![NodeId(1), NodeId(2)], FloodConfig::default());
        node.handle_datagram(Instant::ZERO, NodeId(1), &bytes);
        let outputs = drain(&mut node);
        let parsed = wire::Packet::new_checked(&bytes[..]).and_then(|p| Repr::parse(&p));
        if parsed.is_err() {
            prop_assert_eq!(
                outputs,
                vec![Output::Drop { from: NodeId(1), len: bytes.len(), cause: DropCause::Malformed }]
            );
        }
    }

    /// On any graph, in any delivery order: every delivered message was
    /// originated, no node delivers or relays a message twice, and no more
    /// copies are sent than the senders have neighbours. In FIFO order a
    /// flood is a breadth-first search, so it also reaches exactly the nodes
    /// within the hop limit, each by a shortest path.
    #[test]
    fn floods_on_random_graphs_keep_their_invariants(
        n in 1u32..12,
        edges in proptest::collection::vec((0u32..12, 0u32..12), 0..30),
        hop_limit in 0u8..8,
        origins in proptest::collection::vec(0u32..12, 1..4),
        seed in proptest::option::of(any::<u64>()),
    ) {
        let adjacency = graph(n, &edges);
        let mut net = network(&adjacency, with_hop_limit(hop_limit));
        if let Some(seed) = seed {
            net = net.reordered(seed);
        }
        let origins: Vec<u32> = origins.into_iter().map(|o| o % n).collect();
        for &origin in &origins {
            net.command(NodeId(origin), broadcast(8));
        }
        net.run();

        let sent: BTreeMap<u64, u32> = net
            .events()
            .filter_map(|(node, e)| match *e {
                FloodEvent::Sent { msg, .. } => Some((msg, node.0)),
                _ => None,
            })
            .collect();
        prop_assert_eq!(sent.len(), origins.len());

        let mut delivered = BTreeSet::new();
        for (node, msg, hops) in deliveries(&net) {
            prop_assert!(sent.contains_key(&msg), "delivered {} never sent", msg);
            prop_assert!(delivered.insert((node, msg)), "n{} delivered {} twice", node, msg);
            prop_assert!(hops <= u32::from(hop_limit));
        }

        for ((node, msg), calls) in sending_calls(&net) {
            prop_assert_eq!(calls.len(), 1, "{} sent {} in {} inputs", node, msg, calls.len());
        }

        let max_degree = net.nodes.iter().map(|f| f.neighbours().len()).max().unwrap_or(0);
        let all = transmits(&net);
        for &msg in sent.keys() {
            let copies: Vec<_> = all.iter().filter(|t| t.3.id == msg).collect();
            let senders: BTreeSet<_> = copies.iter().map(|t| t.1).collect();
            prop_assert!(copies.len() <= senders.len() * max_degree);
            for (_, from, to, repr) in copies {
                prop_assert!(net.nodes[from.index()].neighbours().contains(to));
                prop_assert!(repr.hop_limit >= 1, "a copy with no hops left was sent");
            }
        }

        if seed.is_none() {
            for (&msg, &origin) in &sent {
                let expected: BTreeMap<u32, u32> = distances(&adjacency, origin)
                    .into_iter()
                    .filter(|&(_, d)| d >= 1 && d <= u32::from(hop_limit))
                    .collect();
                let reached: BTreeMap<u32, u32> = deliveries(&net)
                    .into_iter()
                    .filter(|&(_, m, _)| m == msg)
                    .map(|(node, _, hops)| (node, hops))
                    .collect();
                prop_assert_eq!(reached, expected);
            }
        }
    }
}
