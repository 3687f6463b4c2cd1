use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand::SeedableRng;
use sim_core::{
    BatteryLevel, DropCause, Duration, Instant, NodeId, Observation, Observe, Output, Protocol,
    SimRng,
};

use super::fragment::Fragment;
use super::message::Header;
use super::packet::{flags, MessageType, PeerId, Repr};
use super::relay::jitter_range;
use super::{BleCommand, BleEvent, BleMesh, BleMeshConfig, PowerProfile};
use crate::test_net::TestNet;

// ----- helpers -----

fn secs(n: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn node(i: u32, config: BleMeshConfig) -> BleMesh {
    BleMesh::new(NodeId(i), config, SimRng::seed_from_u64(u64::from(i)))
}

/// A mesh over `adjacency` (the radio links), node `i` being `NodeId(i)`.
fn network(adjacency: &[Vec<u32>], config: BleMeshConfig) -> TestNet<BleMesh> {
    let nodes = (0..adjacency.len() as u32)
        .map(|i| node(i, config))
        .collect();
    TestNet::new(nodes).with_links(adjacency)
}

/// The same, after 15 s of announces: every node knows its neighbours.
fn warm_network(adjacency: &[Vec<u32>], config: BleMeshConfig) -> TestNet<BleMesh> {
    let mut net = network(adjacency, config);
    net.run_until(secs(15));
    net
}

fn line(n: u32) -> Vec<Vec<u32>> {
    (0..n)
        .map(|i| {
            (i.saturating_sub(1)..(i + 2).min(n))
                .filter(|&j| j != i)
                .collect()
        })
        .collect()
}

/// An undirected graph on `n` nodes from a list of edges (self-loops and
/// repeats allowed: the mesh must cope with them).
fn graph(n: u32, edges: &[(u32, u32)]) -> Vec<Vec<u32>> {
    let mut adjacency = vec![Vec::new(); n as usize];
    for &(a, b) in edges {
        adjacency[(a % n) as usize].push(b % n);
    }
    adjacency
}

fn with_ttl(ttl: u8) -> BleMeshConfig {
    BleMeshConfig {
        ttl,
        ..BleMeshConfig::default()
    }
}

fn broadcast(size: u32) -> BleCommand {
    BleCommand::Broadcast { size }
}

fn send(to: u32, size: u32) -> BleCommand {
    BleCommand::Send {
        to: NodeId(to),
        size,
    }
}

/// A transmit in the log, parsed.
struct Tx<'a> {
    at: Instant,
    from: NodeId,
    to: NodeId,
    repr: Repr<'a>,
}

impl Tx<'_> {
    /// The message a data packet belongs to.
    fn msg(&self) -> Option<u64> {
        match self.repr.kind {
            MessageType::Message => Header::parse(self.repr.payload).map(|h| h.id),
            kind if kind.is_fragment() => {
                Fragment::parse(kind, self.repr.payload).ok().map(|f| f.id)
            }
            _ => None,
        }
    }
}

fn transmits(net: &TestNet<BleMesh>) -> Vec<Tx<'_>> {
    net.log
        .iter()
        .filter_map(|r| match &r.output {
            Output::Transmit { to, bytes } => Some(Tx {
                at: r.at,
                from: r.node,
                to: *to,
                repr: Repr::from_bytes(bytes).expect("the mesh emits valid packets"),
            }),
            _ => None,
        })
        .collect()
}

/// The transmits of message `msg`'s packets.
fn transmits_of(net: &TestNet<BleMesh>, msg: u64) -> Vec<Tx<'_>> {
    transmits(net)
        .into_iter()
        .filter(|t| t.msg() == Some(msg))
        .collect()
}

/// `(node, msg, hops)` for every delivery, in the order they happened.
fn deliveries(net: &TestNet<BleMesh>) -> Vec<(u32, u64, u32)> {
    net.events()
        .filter_map(|(node, e)| match *e {
            BleEvent::Delivered { msg, hops, .. } => Some((node.0, msg, hops)),
            _ => None,
        })
        .collect()
}

/// The id of the message node `node` sent last.
fn last_sent(net: &TestNet<BleMesh>, node: u32) -> u64 {
    net.events()
        .filter_map(|(n, e)| match *e {
            BleEvent::Sent { msg, .. } if n.0 == node => Some(msg),
            _ => None,
        })
        .last()
        .expect("the node sent a message")
}

/// How many events of node `node` match `pred`.
fn count(net: &TestNet<BleMesh>, node: u32, pred: impl Fn(&BleEvent) -> bool) -> usize {
    net.events()
        .filter(|&(n, e)| n.0 == node && pred(e))
        .count()
}

fn drain(node: &mut BleMesh) -> Vec<Output<BleEvent>> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

/// An announce from `from`, as it would send it at time zero.
fn announce_from(from: u32) -> Vec<u8> {
    Repr {
        kind: MessageType::Announce,
        ttl: 1,
        timestamp: 0,
        sender: PeerId(u64::from(from)),
        recipient: None,
        payload: &[],
        signature: None,
        compressed: false,
    }
    .to_bytes()
}

/// A node with announces off (so that its outputs are only what a test
/// provokes) that has heard the announces of `neighbours` at time zero.
fn quiet_node(i: u32, neighbours: &[u32], config: BleMeshConfig) -> BleMesh {
    let mut config = config;
    config.high.announce_interval = Duration::ZERO;
    let mut node = node(i, config);
    for &n in neighbours {
        node.handle_datagram(Instant::ZERO, NodeId(n), &announce_from(n));
    }
    drain(&mut node);
    node
}

/// The one transmit in `outputs`.
fn the_transmit(outputs: &[Output<BleEvent>]) -> (NodeId, Vec<u8>) {
    let mut found = outputs.iter().filter_map(|o| match o {
        Output::Transmit { to, bytes } => Some((*to, bytes.to_vec())),
        _ => None,
    });
    let transmit = found.next().expect("a transmit");
    assert!(found.next().is_none(), "only one transmit: {outputs:?}");
    transmit
}

fn events(outputs: &[Output<BleEvent>]) -> Vec<BleEvent> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(*e),
            _ => None,
        })
        .collect()
}

// ----- flooding -----

#[test]
fn on_a_line_ttl_t_reaches_exactly_the_next_t_nodes() {
    for ttl in [0u8, 1, 2, 3, 7, 12] {
        let mut net = warm_network(&line(10), with_ttl(ttl));
        net.command(NodeId(0), broadcast(30));
        net.run_until(secs(20));
        let msg = last_sent(&net, 0);

        let reached: Vec<_> = deliveries(&net)
            .into_iter()
            .map(|(n, m, hops)| {
                assert_eq!(m, msg);
                (n, hops)
            })
            .collect();
        let expected: Vec<_> = (1..=u32::from(ttl).min(9)).map(|n| (n, n)).collect();
        assert_eq!(reached, expected, "TTL {ttl}");

        // Each node within reach but the last sends the message once: the
        // origin and the relays, one transmission per node reached.
        let senders: Vec<_> = transmits_of(&net, msg).iter().map(|t| t.from.0).collect();
        let expected: Vec<u32> = (0..u32::from(ttl).min(10)).collect();
        assert_eq!(senders, expected, "TTL {ttl}");
        assert!(senders.len() <= reached.len() + 1, "TTL {ttl}");
    }
}

#[test]
fn relays_lower_the_ttl_after_a_sparse_jitter() {
    let mut net = warm_network(&line(4), with_ttl(3));
    net.command(NodeId(0), broadcast(5));
    let sent_at = net.now;
    net.run_until(secs(20));
    let msg = last_sent(&net, 0);
    let hops: Vec<_> = transmits_of(&net, msg)
        .iter()
        .map(|t| (t.from.0, t.to, t.repr.ttl))
        .collect();
    let all = NodeId::BROADCAST;
    assert_eq!(hops, [(0, all, 3), (1, all, 2), (2, all, 1)]);
    // Degree 2: each relay waits 10 to 40 ms.
    let times: Vec<_> = transmits_of(&net, msg).iter().map(|t| t.at).collect();
    for pair in times.windows(2) {
        let wait = pair[1].saturating_duration_since(pair[0]);
        assert!(ms(10) <= wait && wait <= ms(40), "{wait:?}");
    }
    assert_eq!(times[0], sent_at);
}

#[test]
fn a_dense_neighbourhood_caps_the_ttl_and_waits_longer() {
    // A star: node 0 in the middle of 7 leaves.
    let star: Vec<Vec<u32>> = (0..8)
        .map(|i| if i == 0 { (1..8).collect() } else { vec![0] })
        .collect();
    let mut net = warm_network(&star, BleMeshConfig::default());
    assert_eq!(net.nodes[0].neighbours().len(), 7);
    net.command(NodeId(1), broadcast(5));
    let sent_at = net.now;
    net.run_until(secs(20));
    let msg = last_sent(&net, 1);
    let relay = transmits_of(&net, msg)
        .into_iter()
        .find(|t| t.from == NodeId(0))
        .expect("the hub relays");
    // Degree 7 is dense (≥ 6): TTL 7 is capped at 5, then lowered.
    assert_eq!(relay.repr.ttl, 4);
    let (min, max) = jitter_range(&BleMeshConfig::default(), 7);
    let wait = relay.at.saturating_duration_since(sent_at);
    assert!(
        min <= wait && wait <= max,
        "{wait:?} not in {min:?}..={max:?}"
    );
    assert!(min > ms(40), "denser waits longer than sparse");
    // The leaves deliver the relayed copy: hops counted from the TTL
    // overstate its two hops by the two the cap removed.
    let leaf_hops: BTreeSet<_> = deliveries(&net)
        .into_iter()
        .filter(|&(n, _, _)| n > 1)
        .map(|(_, _, hops)| hops)
        .collect();
    assert_eq!(leaf_hops, BTreeSet::from([4]));
}

#[test]
fn a_copy_arriving_during_the_jitter_cancels_the_relay() {
    let mut node = quiet_node(1, &[], BleMeshConfig::default());
    let mut origin = quiet_node(0, &[], BleMeshConfig::default());
    origin.handle_command(Instant::ZERO, broadcast(10));
    let (_, bytes) = the_transmit(&drain(&mut origin));

    node.handle_datagram(Instant::ZERO, NodeId(0), &bytes);
    let due = node.poll_timeout().expect("a relay waits");
    assert!(drain(&mut node)
        .iter()
        .all(|o| !matches!(o, Output::Transmit { .. })));
    // A neighbour's relay of the same packet (TTL one less) arrives first.
    let mut relayed = bytes.clone();
    super::packet::Packet::new_unchecked(&mut relayed[..]).set_ttl(6);
    node.handle_datagram(Instant::from_nanos(due.as_nanos() - 1), NodeId(2), &relayed);
    let msg = 0;
    assert_eq!(
        events(&drain(&mut node)),
        [
            BleEvent::RelayCancelled { msg },
            BleEvent::Duplicate {
                msg,
                from: NodeId(2)
            }
        ]
    );
    assert_eq!(node.poll_timeout(), None);
    node.handle_timeout(due);
    assert!(drain(&mut node).is_empty());
}

#[test]
fn on_a_triangle_one_relay_covers_for_the_other() {
    let triangle = vec![vec![1, 2], vec![0, 2], vec![0, 1]];
    let mut net = warm_network(&triangle, BleMeshConfig::default());
    net.command(NodeId(0), broadcast(10));
    net.run_until(secs(20));
    let msg = last_sent(&net, 0);
    let relays: Vec<_> = transmits_of(&net, msg)
        .iter()
        .skip(1)
        .map(|t| t.from.0)
        .collect();
    assert_eq!(relays.len(), 1, "one relay, the other cancelled");
    let quiet = 3 - relays[0];
    assert_eq!(
        count(&net, quiet, |e| matches!(
            e,
            BleEvent::RelayCancelled { .. }
        )),
        1
    );
    assert_eq!(deliveries(&net).len(), 2);
}

#[test]
fn on_a_grid_each_node_transmits_a_message_at_most_once() {
    let side = 6u32;
    let grid: Vec<Vec<u32>> = (0..side * side)
        .map(|i| {
            let (x, y) = (i % side, i / side);
            let mut ns = Vec::new();
            if x > 0 {
                ns.push(i - 1);
            }
            if x + 1 < side {
                ns.push(i + 1);
            }
            if y > 0 {
                ns.push(i - side);
            }
            if y + 1 < side {
                ns.push(i + side);
            }
            ns
        })
        .collect();
    let mut net = warm_network(&grid, BleMeshConfig::default());
    for origin in [14, 0, 35] {
        net.command(NodeId(origin), broadcast(50));
    }
    net.run_until(secs(30));
    for origin in [14, 0, 35] {
        let msg = last_sent(&net, origin);
        let txs = transmits_of(&net, msg);
        let senders: BTreeSet<_> = txs.iter().map(|t| t.from).collect();
        assert_eq!(senders.len(), txs.len(), "a node sent {msg} twice");
        let reached = deliveries(&net).iter().filter(|d| d.1 == msg).count();
        assert!(txs.len() <= reached + 1, "{} > {reached} + 1", txs.len());
        assert!(reached >= 10, "the flood went some way: {reached}");
    }
}

// ----- fragments -----

#[test]
fn a_large_broadcast_is_fragmented_relayed_and_reassembled() {
    let mut net = warm_network(&line(4), BleMeshConfig::default());
    net.command(NodeId(0), broadcast(1000));
    net.run_until(secs(20));
    let msg = last_sent(&net, 0);
    let txs = transmits_of(&net, msg);
    assert!(txs.iter().all(|t| t.repr.buffer_len() <= 244));
    let from_origin = txs.iter().filter(|t| t.from == NodeId(0)).count();
    assert_eq!(from_origin, 5, "1,009 bytes in fragments of 209");
    assert_eq!(txs.len(), 4 * 5, "the origin and three relays, five each");
    assert_eq!(deliveries(&net), [(1, msg, 1), (2, msg, 2), (3, msg, 3)]);
    // One relay and one duplicate per message, not per fragment.
    assert_eq!(count(&net, 1, |e| matches!(e, BleEvent::Relayed { .. })), 1);
    assert_eq!(
        count(&net, 1, |e| matches!(e, BleEvent::Duplicate { .. })),
        1
    );
}

#[test]
fn a_lost_fragment_times_the_reassembly_out() {
    let mut origin = quiet_node(0, &[], BleMeshConfig::default());
    let mut node = quiet_node(1, &[], BleMeshConfig::default());
    origin.handle_command(Instant::ZERO, broadcast(500));
    let fragments: Vec<_> = drain(&mut origin)
        .into_iter()
        .filter_map(|o| match o {
            Output::Transmit { bytes, .. } => Some(bytes),
            _ => None,
        })
        .collect();
    assert_eq!(fragments.len(), 3);
    for bytes in [&fragments[0], &fragments[2]] {
        node.handle_datagram(Instant::ZERO, NodeId(0), bytes);
    }
    let early = drain(&mut node);
    assert!(!events(&early)
        .iter()
        .any(|e| matches!(e, BleEvent::Delivered { .. })));
    // Let the relays go, then wait for the reassembly's deadline.
    node.handle_timeout(secs(1));
    drain(&mut node);
    assert_eq!(node.poll_timeout(), Some(secs(30)));
    node.handle_timeout(secs(30));
    assert_eq!(
        events(&drain(&mut node)),
        [BleEvent::ReassemblyTimedOut { msg: 0 }]
    );
}

#[test]
fn reassemblies_are_limited_in_number_and_size() {
    let config = BleMeshConfig::default();
    let mut origin = quiet_node(0, &[], config);
    let mut node = quiet_node(1, &[], config);
    // 129 two-fragment messages whose first fragments alone arrive.
    for _ in 0..129 {
        origin.handle_command(Instant::ZERO, broadcast(300));
        let first = drain(&mut origin)
            .into_iter()
            .find_map(|o| match o {
                Output::Transmit { bytes, .. } => Some(bytes),
                _ => None,
            })
            .unwrap();
        node.handle_datagram(Instant::ZERO, NodeId(0), &first);
    }
    let dropped: Vec<_> = events(&drain(&mut node))
        .into_iter()
        .filter(|e| matches!(e, BleEvent::ReassemblyDropped { .. }))
        .collect();
    assert_eq!(dropped, [BleEvent::ReassemblyDropped { msg: 0 }]);

    // A receiver that takes at most 1 KiB discards a 2 KiB message.
    let small = BleMeshConfig {
        max_message_size: sim_core::ByteSize(1024),
        ..config
    };
    let mut node = quiet_node(2, &[], small);
    origin.handle_command(Instant::ZERO, broadcast(2048));
    for output in drain(&mut origin) {
        if let Output::Transmit { bytes, .. } = output {
            node.handle_datagram(Instant::ZERO, NodeId(0), &bytes);
        }
    }
    let outcome: Vec<_> = events(&drain(&mut node))
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                BleEvent::ReassemblyDropped { .. } | BleEvent::Delivered { .. }
            )
        })
        .collect();
    assert_eq!(outcome, [BleEvent::ReassemblyDropped { msg: 129 }]);
    // And such a node refuses to send one.
    let mut sender = quiet_node(3, &[], small);
    sender.handle_command(Instant::ZERO, broadcast(2048));
    assert_eq!(
        drain(&mut sender),
        [Output::Event(BleEvent::TooLarge { size: 2048 })]
    );
}

// ----- directed messages -----

#[test]
fn a_message_to_a_neighbour_is_unicast_and_acknowledged() {
    let mut net = warm_network(&line(3), BleMeshConfig::default());
    net.command(NodeId(1), send(2, 40));
    net.run_until(secs(20));
    let msg = last_sent(&net, 1);
    let txs = transmits_of(&net, msg);
    assert_eq!(txs.len(), 1);
    assert_eq!((txs[0].from, txs[0].to), (NodeId(1), NodeId(2)));
    assert_eq!(txs[0].repr.recipient, Some(PeerId(2)));
    assert_eq!(deliveries(&net), [(2, msg, 1)]);
    let acks: Vec<_> = transmits(&net)
        .into_iter()
        .filter(|t| t.repr.kind == MessageType::DeliveryAck)
        .map(|t| (t.from, t.to))
        .collect();
    assert_eq!(acks, [(NodeId(2), NodeId(1))]);
    assert_eq!(
        count(&net, 1, |e| *e
            == BleEvent::OutboxDelivered { msg, to: NodeId(2) }),
        1
    );
    assert_eq!(
        count(&net, 1, |e| matches!(e, BleEvent::Retransmitted { .. })),
        0
    );
}

#[test]
fn a_lost_acknowledgement_makes_the_sender_resend() {
    let config = BleMeshConfig::default();
    let mut sender = quiet_node(0, &[1], config);
    let mut recipient = quiet_node(1, &[0], config);
    sender.handle_command(Instant::ZERO, send(1, 40));
    let (to, bytes) = the_transmit(&drain(&mut sender));
    assert_eq!(to, NodeId(1));

    recipient.handle_datagram(Instant::ZERO, NodeId(0), &bytes);
    let out = drain(&mut recipient);
    assert_eq!(
        events(&out),
        [BleEvent::Delivered {
            msg: 0,
            hops: 1,
            from: NodeId(0)
        }]
    );
    let _lost_ack = the_transmit(&out);

    let timeout = Instant::ZERO + config.ack_timeout;
    assert_eq!(sender.poll_timeout(), Some(timeout));
    sender.handle_timeout(timeout);
    let out = drain(&mut sender);
    assert_eq!(
        events(&out),
        [BleEvent::Retransmitted {
            msg: 0,
            to: NodeId(1)
        }]
    );
    assert_eq!(the_transmit(&out), (NodeId(1), bytes));

    recipient.handle_datagram(timeout, NodeId(0), &the_transmit(&out).1);
    let out = drain(&mut recipient);
    assert_eq!(
        events(&out),
        [BleEvent::Duplicate {
            msg: 0,
            from: NodeId(0)
        }],
        "delivered once"
    );
    let (to, ack) = the_transmit(&out);
    assert_eq!(to, NodeId(0));
    sender.handle_datagram(timeout, NodeId(1), &ack);
    assert_eq!(
        events(&drain(&mut sender)),
        [BleEvent::OutboxDelivered {
            msg: 0,
            to: NodeId(1)
        }]
    );
}

#[test]
fn an_unacknowledged_message_is_resent_then_abandoned() {
    let config = BleMeshConfig::default();
    let mut sender = quiet_node(0, &[1], config);
    sender.handle_command(Instant::ZERO, send(1, 40));
    drain(&mut sender);
    let mut now = Instant::ZERO;
    let mut history = Vec::new();
    for attempt in 0..config.outbox_attempts {
        if attempt > 0 {
            // The recipient's next announce: the outbox hands over again.
            sender.handle_datagram(now, NodeId(1), &announce_from(1));
            assert_eq!(the_transmit(&drain(&mut sender)).0, NodeId(1));
        }
        while let Some(at) = sender.poll_timeout().filter(|&at| at < secs(3600)) {
            now = at;
            sender.handle_timeout(now);
            history.extend(events(&drain(&mut sender)));
        }
    }
    let (msg, to) = (0, NodeId(1));
    let mut expected = Vec::new();
    for _ in 0..config.outbox_attempts {
        expected.extend([BleEvent::Retransmitted { msg, to }; 3]);
        expected.push(BleEvent::ResendGaveUp { msg, to });
    }
    // The last give-up ends the last hand-over; the neighbour, unheard for
    // 30 s, is forgotten along the way.
    expected.push(BleEvent::OutboxAbandoned { msg, to });
    history.retain(|e| !matches!(e, BleEvent::NeighbourDown { .. }));
    assert_eq!(history, expected);
    sender.handle_datagram(now, NodeId(1), &announce_from(1));
    assert!(drain(&mut sender)
        .iter()
        .all(|o| !matches!(o, Output::Transmit { .. })));
}

#[test]
fn a_message_to_a_distant_node_floods_and_its_last_relay_unicasts() {
    let mut net = warm_network(&line(4), BleMeshConfig::default());
    net.command(NodeId(0), send(3, 40));
    net.run_until(secs(20));
    let msg = last_sent(&net, 0);
    let hops: Vec<_> = transmits_of(&net, msg)
        .iter()
        .map(|t| (t.from.0, t.to))
        .collect();
    let all = NodeId::BROADCAST;
    assert_eq!(hops, [(0, all), (1, all), (2, NodeId(3))]);
    assert_eq!(
        deliveries(&net),
        [(3, msg, 3)],
        "only the recipient delivers"
    );
    let acks: Vec<_> = transmits(&net)
        .into_iter()
        .filter(|t| t.repr.kind == MessageType::DeliveryAck)
        .map(|t| (t.from, t.to))
        .collect();
    assert_eq!(acks, [(NodeId(3), NodeId(2))]);
    assert_eq!(
        count(&net, 2, |e| matches!(e, BleEvent::ResendGaveUp { .. })),
        0
    );
    // The origin cannot know: the message stays in its outbox.
    assert_eq!(
        count(&net, 0, |e| matches!(e, BleEvent::OutboxDelivered { .. })),
        0
    );
}

#[test]
fn a_stored_message_is_handed_over_when_the_recipient_comes_into_reach() {
    let mut net = warm_network(&[vec![1], vec![0], vec![]], BleMeshConfig::default());
    net.command(NodeId(0), send(2, 40));
    net.run_until(secs(60));
    let msg = last_sent(&net, 0);
    assert!(deliveries(&net).is_empty());

    net.set_link(NodeId(0), NodeId(2), true);
    net.run_until(secs(80));
    assert_eq!(deliveries(&net), [(2, msg, 1)]);
    assert_eq!(
        count(&net, 0, |e| *e
            == BleEvent::OutboxDelivered { msg, to: NodeId(2) }),
        1
    );
    let handed_over = transmits_of(&net, msg)
        .into_iter()
        .find(|t| t.to == NodeId(2))
        .expect("a unicast to the recipient");
    assert!(handed_over.at > secs(60));
}

#[test]
fn stored_messages_expire_or_are_evicted() {
    let config = BleMeshConfig::default();
    let mut net = warm_network(&[vec![1], vec![0], vec![]], config);
    for _ in 0..=config.outbox_capacity {
        net.command(NodeId(0), send(2, 10));
    }
    let first = 0; // node 0's first message
    assert_eq!(
        count(&net, 0, |e| matches!(e, BleEvent::OutboxAbandoned { .. })),
        1
    );
    assert_eq!(
        count(&net, 0, |e| *e
            == BleEvent::OutboxAbandoned {
                msg: first,
                to: NodeId(2)
            }),
        1
    );
    net.run_until(secs(15) + config.outbox_ttl);
    assert_eq!(
        count(&net, 0, |e| matches!(e, BleEvent::OutboxExpired { .. })),
        config.outbox_capacity as usize
    );
    assert!(deliveries(&net).is_empty());
}

// ----- discovery, duty cycle and battery -----

#[test]
fn announces_are_heard_only_during_scan_windows() {
    let mut config = BleMeshConfig::default();
    config.high = PowerProfile {
        scan_window: Duration::from_secs(2),
        scan_interval: Duration::from_secs(10),
        ..config.high
    };
    let mut node = quiet_node(0, &[], config);
    // Announces from ten different nodes, one a second: the node scans two
    // seconds in ten, so it hears exactly two, one second apart.
    let mut heard = Vec::new();
    for k in 1..=10 {
        node.handle_datagram(secs(k), NodeId(k as u32), &announce_from(k as u32));
        if events(&drain(&mut node))
            == [BleEvent::NeighbourUp {
                peer: NodeId(k as u32),
            }]
        {
            heard.push(k);
        }
    }
    assert_eq!(heard.len(), 2, "{heard:?}");
    assert!(heard[1] - heard[0] == 1 || heard == [1, 10], "{heard:?}");
}

#[test]
fn neighbours_come_and_go_with_their_announces() {
    let mut net = warm_network(&line(2), BleMeshConfig::default());
    assert_eq!(
        count(&net, 0, |e| *e == BleEvent::NeighbourUp { peer: NodeId(1) }),
        1
    );
    net.set_link(NodeId(0), NodeId(1), false);
    net.run_until(secs(60));
    assert_eq!(
        count(&net, 0, |e| *e
            == BleEvent::NeighbourDown { peer: NodeId(1) }),
        1
    );
    assert!(net.nodes[0].neighbours().is_empty());
}

#[test]
fn a_critical_node_neither_relays_nor_scans() {
    let mut net = network(&line(3), BleMeshConfig::default());
    net.battery(NodeId(1), BatteryLevel::Critical);
    assert_eq!(net.nodes[1].battery_level(), BatteryLevel::Critical);
    net.run_until(secs(15));
    assert!(net.nodes[1].neighbours().is_empty(), "discovery is off");
    assert!(
        net.nodes[0].neighbours().contains(NodeId(1)),
        "it still announces"
    );

    net.command(NodeId(0), broadcast(20));
    net.run_until(secs(20));
    let msg = last_sent(&net, 0);
    assert_eq!(
        deliveries(&net),
        [(1, msg, 1)],
        "it delivers but does not relay"
    );
    assert_eq!(transmits_of(&net, msg).len(), 1);
}

#[test]
fn a_low_node_relays_about_half_of_what_it_could() {
    let mut net = warm_network(&line(3), BleMeshConfig::default());
    net.battery(NodeId(1), BatteryLevel::Low);
    for _ in 0..200 {
        net.command(NodeId(0), broadcast(20));
    }
    net.run_until(secs(30));
    let relayed = count(&net, 1, |e| matches!(e, BleEvent::Relayed { .. }));
    assert!((70..=130).contains(&relayed), "{relayed} of 200");
}

#[test]
fn the_announce_interval_follows_the_battery_level() {
    let config = BleMeshConfig::default();
    let mut net = network(&[vec![]], config);
    let mut start = secs(0);
    for level in [
        BatteryLevel::High,
        BatteryLevel::Medium,
        BatteryLevel::Low,
        BatteryLevel::Critical,
        BatteryLevel::High,
    ] {
        net.battery(NodeId(0), level);
        let interval = config.profile(level).announce_interval;
        let end = start + interval.saturating_mul(4);
        net.run_until(end);
        let times: Vec<_> = transmits(&net)
            .into_iter()
            .filter(|t| t.repr.kind == MessageType::Announce && t.at > start)
            .map(|t| t.at)
            .collect();
        assert!(times.len() >= 3, "{level:?}: {times:?}");
        // The first announce keeps the old schedule if that comes sooner.
        for pair in times[1..].windows(2) {
            assert_eq!(
                pair[1].saturating_duration_since(pair[0]),
                interval,
                "{level:?}"
            );
        }
        start = end;
    }
}

// ----- inputs that go nowhere -----

#[test]
fn malformed_packets_give_exactly_one_drop() {
    let mut origin = quiet_node(0, &[], BleMeshConfig::default());
    origin.handle_command(Instant::ZERO, send(1, 4));
    let valid = the_transmit(&drain(&mut origin)).1;
    let repr = Repr::from_bytes(&valid).unwrap();
    let short_payload = [0u8; 8];
    let fragment_of_announce = Fragment {
        id: 1,
        index: 0,
        total: 2,
        original: MessageType::Announce,
        data: &[1],
    }
    .to_payload();
    let cases: Vec<(&str, Vec<u8>, DropCause)> = vec![
        ("empty", Vec::new(), DropCause::Malformed),
        (
            "truncated",
            valid[..valid.len() - 1].to_vec(),
            DropCause::Malformed,
        ),
        (
            "wrong version",
            [&[2u8][..], &valid[1..]].concat(),
            DropCause::Malformed,
        ),
        (
            "compressed",
            Repr {
                compressed: true,
                ..repr
            }
            .to_bytes(),
            DropCause::Malformed,
        ),
        (
            "message shorter than its header",
            Repr {
                payload: &short_payload,
                ..repr
            }
            .to_bytes(),
            DropCause::Malformed,
        ),
        (
            "fragment of an announce",
            Repr {
                kind: MessageType::FragmentStart,
                payload: &fragment_of_announce,
                ..repr
            }
            .to_bytes(),
            DropCause::Malformed,
        ),
        (
            "ack of the wrong length",
            Repr {
                kind: MessageType::DeliveryAck,
                ..repr
            }
            .to_bytes(),
            DropCause::Malformed,
        ),
        (
            "no hops left",
            Repr { ttl: 0, ..repr }.to_bytes(),
            DropCause::Expired,
        ),
    ];
    for (what, bytes, cause) in cases {
        let mut node = quiet_node(1, &[], BleMeshConfig::default());
        node.handle_datagram(Instant::ZERO, NodeId(0), &bytes);
        assert_eq!(
            drain(&mut node),
            [Output::Drop {
                from: NodeId(0),
                len: bytes.len(),
                cause
            }],
            "{what}"
        );
        assert!(node.seen().is_empty(), "{what}");
    }
}

#[test]
fn events_map_to_observations() {
    let msg = 7;
    let cases = [
        (
            BleEvent::Sent { msg, expected: 3 },
            Some(Observation::Sent { msg, expected: 3 }),
        ),
        (
            BleEvent::Delivered {
                msg,
                hops: 2,
                from: NodeId(1),
            },
            Some(Observation::Delivered { msg, hops: 2 }),
        ),
        (
            BleEvent::Relayed { msg },
            Some(Observation::Relayed { msg }),
        ),
        (
            BleEvent::Duplicate {
                msg,
                from: NodeId(1),
            },
            Some(Observation::Duplicate { msg }),
        ),
        (BleEvent::RelayCancelled { msg }, None),
        (BleEvent::OutboxExpired { msg, to: NodeId(1) }, None),
    ];
    for (event, observation) in cases {
        assert_eq!(event.observe(), observation, "{event:?}");
    }
}

#[test]
fn sent_reports_the_expected_deliveries() {
    let config = BleMeshConfig {
        expected_recipients: 41,
        ..BleMeshConfig::default()
    };
    let mut node = quiet_node(3, &[], config).with_initial_seq(9);
    node.handle_command(Instant::ZERO, broadcast(1));
    node.handle_command(Instant::ZERO, send(4, 1));
    node.handle_command(Instant::ZERO, send(3, 1));
    let sent = events(&drain(&mut node));
    let id = |seq: u64| (3 << 32) | seq;
    assert_eq!(
        sent,
        [
            BleEvent::Sent {
                msg: id(9),
                expected: 41
            },
            BleEvent::Sent {
                msg: id(10),
                expected: 1
            },
            BleEvent::Sent {
                msg: id(11),
                expected: 1
            },
            BleEvent::Delivered {
                msg: id(11),
                hops: 0,
                from: NodeId(3)
            },
        ]
    );
}

#[test]
fn a_directed_packet_carries_the_recipient_flag() {
    let mut origin = quiet_node(0, &[], BleMeshConfig::default());
    origin.handle_command(Instant::ZERO, send(5, 4));
    let bytes = the_transmit(&drain(&mut origin)).1;
    assert_eq!(bytes[11] & flags::HAS_RECIPIENT, flags::HAS_RECIPIENT);
    assert_eq!(Repr::from_bytes(&bytes).unwrap().recipient, Some(PeerId(5)));
}

// ----- properties -----

proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..120),
        kind in proptest::sample::select(vec![0x01u8, 0x04, 0x05, 0x06, 0x07, 0x0A]),
        true_lengths in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if true_lengths && bytes.len() >= super::packet::BROADCAST_OVERHEAD {
            // A plausible header, so that the payload parsers run too.
            let payload_len = bytes.len() - super::packet::BROADCAST_OVERHEAD;
            bytes[0] = super::packet::VERSION;
            bytes[1] = kind;
            bytes[11] = 0;
            bytes[12..14].copy_from_slice(&(payload_len as u16).to_be_bytes());
        }
        let mut node = quiet_node(0, &[1], BleMeshConfig::default());
        node.handle_datagram(Instant::ZERO, NodeId(1), &bytes);
        let outputs = drain(&mut node);
        if Repr::from_bytes(&bytes).is_err() {
            prop_assert_eq!(
                outputs,
                vec![Output::Drop { from: NodeId(1), len: bytes.len(), cause: DropCause::Malformed }]
            );
        }
    }

    /// On any graph, with loss, broadcasts and directed messages: every
    /// delivered message was sent, no node delivers a message twice, a
    /// directed message is delivered only at its recipient, and no node
    /// broadcasts a packet twice or reports relaying a message twice.
    #[test]
    fn meshes_on_random_graphs_keep_their_invariants(
        n in 2u32..10,
        edges in proptest::collection::vec((0u32..10, 0u32..10), 0..25),
        loss in 0.0f64..0.3,
        commands in proptest::collection::vec((0u32..10, proptest::option::of(0u32..10), 0u32..700), 1..6),
        seed in any::<u64>(),
    ) {
        let adjacency = graph(n, &edges);
        let mut net = network(&adjacency, BleMeshConfig::default()).lossy(loss, seed);
        net.run_until(secs(15));
        let mut recipient_of = BTreeMap::new();
        for (origin, to, size) in commands {
            let (origin, to) = (origin % n, to.map(|t| t % n));
            let cmd = match to {
                Some(to) => send(to, size),
                None => broadcast(size),
            };
            net.command(NodeId(origin), cmd);
            recipient_of.insert(last_sent(&net, origin), to);
        }
        net.run_until(secs(90));

        let mut delivered = BTreeSet::new();
        for (node, msg, hops) in deliveries(&net) {
            let Some(&to) = recipient_of.get(&msg) else {
                return Err(TestCaseError::fail(format!("n{node} delivered {msg}, never sent")));
            };
            prop_assert!(delivered.insert((node, msg)), "n{} delivered {} twice", node, msg);
            prop_assert!(to.is_none_or(|to| to == node), "{} delivered at n{}", msg, node);
            prop_assert!(hops <= 7);
        }
        let mut broadcasts = BTreeMap::new();
        for t in transmits(&net) {
            if t.to == NodeId::BROADCAST && t.msg().is_some() {
                *broadcasts.entry((t.from, t.repr.key())).or_insert(0) += 1;
            }
        }
        prop_assert!(broadcasts.values().all(|&c| c == 1), "a packet broadcast twice by one node");
        let mut relayed = BTreeSet::new();
        for (node, e) in net.events() {
            if let BleEvent::Relayed { msg } = *e {
                prop_assert!(relayed.insert((node, msg)), "{} relayed {} twice", node, msg);
            }
        }
    }
}

// ----- carrying given bytes -----

#[test]
fn given_bytes_arrive_whole_and_are_kept_with_their_origin() {
    let config = BleMeshConfig::default();
    let mut a = quiet_node(0, &[1], config);
    let mut b = quiet_node(1, &[0], config).keeping_content();
    // Larger than one packet: it goes in fragments.
    let content: Vec<u8> = (0..700u32).map(|i| (i * 7 % 251) as u8).collect();
    a.send_bytes(Instant::ZERO, NodeId(1), &content);
    let mut fragments = 0;
    for output in drain(&mut a) {
        if let Output::Transmit { to, bytes } = output {
            assert_eq!(to, NodeId(1));
            b.handle_datagram(Instant::ZERO, NodeId(0), &bytes);
            fragments += 1;
        }
    }
    assert!(fragments > 1);
    let kept = b.take_content().expect("the message arrived");
    assert_eq!((kept.origin, kept.bytes), (NodeId(0), content));
    assert!(b.take_content().is_none());
    // A node not keeping content keeps nothing.
    a.send_bytes(Instant::ZERO, NodeId(0), b"self");
    assert!(a.take_content().is_none());
}
