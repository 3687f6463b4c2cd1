//! Endpoint tests: the handshake's round trips, 0-RTT, head-of-line
//! blocking, throughput and fairness on a bottleneck, the Mathis relation
//! under random loss, migration, robustness to arbitrary bytes, exactly-once
//! delivery under loss and reordering, and QUIC under an application.
//!
//! [`Net`] is a small deterministic network in virtual time for the tests
//! that need delays and bandwidth: each directed link is a FIFO bottleneck
//! (a rate, a drop-tail buffer), then a propagation delay, then a seeded
//! Bernoulli loss. Events run in (time, insertion) order.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rand::{RngCore, SeedableRng};
use sim_core::{DropCause, Duration, Instant, NodeId, Output, Protocol, SimRng};

use super::packet::{Frame, Packet, PacketType, Repr};
use super::{CloseReason, CongestionControl, Quic, QuicConfig, QuicNote, DEFAULT_PRIORITY};
use crate::ping::{Ping, PingCommand, PingConfig, PingEvent};
use crate::test_net::TestNet;
use crate::transport::{Layered, Over, TransportCommand, TransportEvent};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at_ms(n: u64) -> Instant {
    Instant::ZERO + ms(n)
}

fn node(i: u32, config: QuicConfig) -> Quic {
    Quic::new(
        NodeId(i),
        config,
        SimRng::seed_from_u64(1000 + u64::from(i)),
    )
}

/// A directed link: a bottleneck of `rate` bits per second (none: no
/// queueing) with a `buffer`-byte drop-tail queue, then `delay`, then loss
/// with probability `loss`.
#[derive(Clone, Debug)]
struct Link {
    rate: Option<u64>,
    buffer: u64,
    delay: Duration,
    loss: f64,
    busy_until: Instant,
}

impl Link {
    fn delay(delay: Duration) -> Self {
        Link {
            rate: None,
            buffer: u64::MAX,
            delay,
            loss: 0.0,
            busy_until: Instant::ZERO,
        }
    }

    /// A bottleneck of `mbps` with a buffer of one bandwidth-delay product
    /// for round-trip time `rtt`.
    fn bottleneck(mbps: u64, delay: Duration, rtt: Duration) -> Self {
        let rate = mbps * 1_000_000;
        Link {
            rate: Some(rate),
            buffer: rate / 8 * rtt.as_nanos() / 1_000_000_000,
            ..Link::delay(delay)
        }
    }

    fn lossy(self, loss: f64) -> Self {
        Link { loss, ..self }
    }
}

#[derive(Debug)]
enum Event {
    Deliver {
        to: usize,
        from: NodeId,
        bytes: Vec<u8>,
    },
    Wake(usize),
}

/// Keeps (false) or drops (true) a datagram from one address to another.
type Filter = Box<dyn FnMut(NodeId, NodeId, &[u8]) -> bool>;

/// QUIC endpoints over links, in virtual time.
struct Net {
    nodes: Vec<Quic>,
    now: Instant,
    events: BTreeMap<(Instant, u64), Event>,
    seq: u64,
    links: Vec<Link>,
    /// (from node, to node) → link.
    routes: BTreeMap<(usize, usize), usize>,
    wake: Vec<Option<Instant>>,
    rng: SimRng,
    /// Node `.0` is also reachable at address `.1` and sends from it from
    /// time `.2` until `.3` (a NAT rebinding).
    rebind: Option<(usize, NodeId, Instant, Instant)>,
    filter: Option<Filter>,
    /// Every event: (time, node, event).
    log: Vec<(Instant, usize, TransportEvent<super::QuicNote>)>,
    /// Messages received per node.
    delivered: Vec<usize>,
    drops: Vec<(usize, DropCause)>,
}

impl Net {
    fn new(nodes: Vec<Quic>) -> Self {
        let n = nodes.len();
        Net {
            nodes,
            now: Instant::ZERO,
            events: BTreeMap::new(),
            seq: 0,
            links: Vec::new(),
            routes: BTreeMap::new(),
            wake: vec![None; n],
            rng: SimRng::seed_from_u64(7),
            rebind: None,
            filter: None,
            log: Vec::new(),
            delivered: vec![0; n],
            drops: Vec::new(),
        }
    }

    /// Adds `link` from `a` to `b` and returns its index.
    fn link(&mut self, a: usize, b: usize, link: Link) -> usize {
        self.links.push(link);
        let index = self.links.len() - 1;
        self.routes.insert((a, b), index);
        index
    }

    /// Routes `a` → `b` over an existing link.
    fn route(&mut self, a: usize, b: usize, link: usize) {
        self.routes.insert((a, b), link);
    }

    /// Symmetric links of one-way `delay` (no rate limit) between `a` and
    /// `b`.
    fn connect(&mut self, a: usize, b: usize, delay: Duration) {
        self.link(a, b, Link::delay(delay));
        self.link(b, a, Link::delay(delay));
    }

    fn schedule(&mut self, at: Instant, event: Event) {
        self.events.insert((at, self.seq), event);
        self.seq += 1;
    }

    fn address(&self, node: usize) -> NodeId {
        match self.rebind {
            Some((n, alias, from, until)) if n == node && (from..until).contains(&self.now) => {
                alias
            }
            _ => NodeId(node as u32),
        }
    }

    fn node_at(&self, address: NodeId) -> usize {
        match self.rebind {
            Some((n, alias, _, _)) if alias == address => n,
            _ => address.index(),
        }
    }

    fn transmit(&mut self, from: usize, to: NodeId, bytes: Vec<u8>) {
        let source = self.address(from);
        let dest = self.node_at(to);
        if let Some(filter) = self.filter.as_mut() {
            if filter(source, to, &bytes) {
                return;
            }
        }
        let now = self.now;
        let link = &mut self.links[self.routes[&(from, dest)]];
        let mut leaves = now;
        if let Some(rate) = link.rate {
            let start = link.busy_until.max(now);
            let backlog = (start - now).as_nanos() * rate / 8 / 1_000_000_000;
            if backlog + bytes.len() as u64 > link.buffer {
                return;
            }
            let serialise = Duration::from_nanos(bytes.len() as u64 * 8 * 1_000_000_000 / rate);
            link.busy_until = start + serialise;
            leaves = link.busy_until;
        }
        let arrives = leaves + link.delay;
        let threshold = (link.loss * u64::MAX as f64) as u64;
        if link.loss > 0.0 && self.rng.next_u64() < threshold {
            return;
        }
        self.schedule(
            arrives,
            Event::Deliver {
                to: dest,
                from: source,
                bytes,
            },
        );
    }

    /// Drains node `i`'s outputs and re-arms its wake-up.
    fn drain(&mut self, i: usize) {
        while let Some(output) = self.nodes[i].poll_output() {
            match output {
                Output::Transmit { to, bytes } => self.transmit(i, to, bytes.to_vec()),
                Output::Event(event) => {
                    if matches!(event, TransportEvent::Received { .. }) {
                        self.delivered[i] += 1;
                    }
                    self.log.push((self.now, i, event));
                }
                Output::Drop { cause, .. } => self.drops.push((i, cause)),
            }
        }
        let next = self.nodes[i].poll_timeout();
        if next != self.wake[i] {
            self.wake[i] = next;
            if let Some(at) = next {
                self.schedule(at.max(self.now), Event::Wake(i));
            }
        }
    }

    /// Runs events up to `end`; time is then `end`.
    fn run_until(&mut self, end: Instant) {
        let mut steps = 0u64;
        while let Some(entry) = self.events.first_entry() {
            let (at, _) = *entry.key();
            if at > end {
                break;
            }
            let event = entry.remove();
            self.now = at;
            steps += 1;
            assert!(steps < 50_000_000, "runaway simulation at {at}");
            match event {
                Event::Deliver { to, from, bytes } => {
                    self.nodes[to].handle_datagram(at, from, &bytes);
                    self.drain(to);
                }
                Event::Wake(i) => {
                    if self.wake[i] == Some(at) {
                        self.wake[i] = None;
                        self.nodes[i].handle_timeout(at);
                        self.drain(i);
                    }
                }
            }
        }
        self.now = end;
    }

    /// Runs to `end`, keeping `backlog` messages of 64 KiB from node 0 to
    /// node 1 waiting at node 0, so that the sender never runs dry and its
    /// buffers stay bounded.
    fn run_saturated(&mut self, end: Instant, backlog: usize) {
        let mut sent = 0;
        while self.now < end {
            while sent < self.delivered[1] + backlog {
                self.send(0, 1, message(sent as u32, 65_536));
                sent += 1;
            }
            self.run_until(end.min(self.now + ms(100)));
        }
    }

    fn send(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        self.send_with(from, to, bytes, DEFAULT_PRIORITY);
    }

    fn send_with(&mut self, from: usize, to: usize, bytes: Vec<u8>, priority: u8) {
        self.nodes[from].send(self.now, NodeId(to as u32), bytes, priority);
        self.drain(from);
    }

    /// Messages received: (time, at node, from, bytes).
    fn received(&self) -> Vec<(Instant, usize, NodeId, &[u8])> {
        self.log
            .iter()
            .filter_map(|(t, i, e)| match e {
                TransportEvent::Received { from, bytes } => Some((*t, *i, *from, &bytes[..])),
                TransportEvent::Note(_) => None,
            })
            .collect()
    }

    /// Notes: (time, node, note).
    fn notes(&self) -> Vec<(Instant, usize, QuicNote)> {
        self.log
            .iter()
            .filter_map(|(t, i, e)| match e {
                TransportEvent::Note(n) => Some((*t, *i, *n)),
                TransportEvent::Received { .. } => None,
            })
            .collect()
    }

    /// Application bytes node `node` received in [from, to).
    fn goodput(&self, node: usize, from: Instant, to: Instant) -> f64 {
        let bytes: usize = self
            .received()
            .iter()
            .filter(|(t, i, _, _)| *i == node && *t >= from && *t < to)
            .map(|(_, _, _, b)| b.len())
            .sum();
        bytes as f64 / (to - from).as_secs_f64()
    }
}

/// A pair of endpoints with one-way delay `delay` each way.
fn pair(delay: Duration, config: QuicConfig) -> Net {
    let mut net = Net::new(vec![node(0, config), node(1, config)]);
    net.connect(0, 1, delay);
    net
}

fn message(id: u32, len: usize) -> Vec<u8> {
    let mut bytes = id.to_be_bytes().to_vec();
    bytes.resize(len.max(4), (id % 251) as u8);
    bytes
}

fn id_of(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

// ----- handshake and resumption -----

#[test]
fn the_first_pto_fires_after_999_ms_and_doubles() {
    let mut client = node(0, QuicConfig::default());
    client.handle_command(
        Instant::ZERO,
        TransportCommand::Send {
            to: NodeId(1),
            bytes: vec![1; 10],
        },
    );
    let sizes: Vec<usize> = std::iter::from_fn(|| client.poll_output())
        .filter_map(|o| match o {
            Output::Transmit { bytes, .. } => Some(bytes.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [1200], "one Initial, padded to 1200 bytes");
    assert_eq!(client.poll_timeout(), Some(at_ms(999)));
    client.handle_timeout(at_ms(999));
    let outputs: Vec<_> = std::iter::from_fn(|| client.poll_output()).collect();
    assert!(
        outputs.contains(&Output::Event(TransportEvent::Note(QuicNote::Pto {
            peer: NodeId(1),
            count: 1
        })))
    );
    let probes = outputs
        .iter()
        .filter(|o| matches!(o, Output::Transmit { .. }))
        .count();
    assert_eq!(probes, 2, "two probes: the ClientHello again, then a PING");
    assert_eq!(client.poll_timeout(), Some(at_ms(999 + 1998)));
}

#[test]
fn the_handshake_takes_one_round_trip_and_data_arrives_after_one_and_a_half() {
    let mut net = pair(ms(50), QuicConfig::default());
    net.send(0, 1, b"first".to_vec());
    net.run_until(at_ms(1000));
    let received = net.received();
    assert_eq!(received.len(), 1);
    let (t, at, from, bytes) = received[0];
    assert_eq!((at, from, bytes), (1, NodeId(0), &b"first"[..]));
    assert_eq!(t, at_ms(150), "1.5 RTT after the client started");
    let done: Vec<_> = net
        .notes()
        .into_iter()
        .filter_map(|(t, i, n)| match n {
            QuicNote::HandshakeDone { rtt, resumed, .. } => Some((t, i, rtt, resumed)),
            _ => None,
        })
        .collect();
    assert_eq!(done[0], (at_ms(100), 0, ms(100), false), "client: one RTT");
    assert_eq!(done[1].0, at_ms(150), "server: on the client's Finished");
    assert!(net.nodes[0].has_ticket(NodeId(1), net.now));
}

/// The first connection, closed, then a message at 3 s with the ticket.
fn resume(net: &mut Net) {
    net.send(0, 1, b"first".to_vec());
    net.run_until(at_ms(1000));
    net.nodes[0].close(net.now, NodeId(1));
    net.drain(0);
    net.run_until(at_ms(3000));
    assert!(net.nodes[0].path_stats(NodeId(1)).is_none(), "closed");
    net.send(0, 1, b"early".to_vec());
    net.run_until(at_ms(4000));
}

#[test]
fn a_resumed_connection_sends_zero_rtt_data_in_its_first_flight() {
    let mut net = pair(ms(50), QuicConfig::default());
    resume(&mut net);
    let received = net.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        (received[1].0, received[1].3),
        (at_ms(3050), &b"early"[..]),
        "half an RTT"
    );
    let notes = net.notes();
    assert!(notes.contains(&(
        at_ms(3050),
        1,
        QuicNote::ZeroRtt {
            peer: NodeId(0),
            accepted: true
        }
    )));
    assert!(notes.iter().any(|&(t, i, n)| t == at_ms(3100)
        && i == 0
        && matches!(n, QuicNote::HandshakeDone { resumed: true, .. })));
    assert!(notes.iter().any(|&(_, i, n)| i == 1
        && matches!(
            n,
            QuicNote::Closed {
                reason: CloseReason::Peer { app: true, code: 0 },
                ..
            }
        )));
}

#[test]
fn refused_zero_rtt_data_is_sent_again_after_the_handshake() {
    let mut net = pair(ms(50), QuicConfig::default());
    net.send(0, 1, b"first".to_vec());
    net.run_until(at_ms(1000));
    net.nodes[0].close(net.now, NodeId(1));
    net.drain(0);
    net.run_until(at_ms(3000));
    // The server restarts and forgets the tickets it issued.
    net.nodes[1] = node(1, QuicConfig::default());
    net.wake[1] = None;
    net.send(0, 1, b"early".to_vec());
    net.run_until(at_ms(5000));
    let received = net.received();
    assert_eq!(received.len(), 2, "delivered exactly once");
    assert_eq!(
        (received[1].0, received[1].3),
        (at_ms(3150), &b"early"[..]),
        "as 1-RTT data"
    );
    assert!(net.notes().contains(&(
        at_ms(3100),
        0,
        QuicNote::ZeroRtt {
            peer: NodeId(1),
            accepted: false
        }
    )));
}

#[test]
fn an_idle_connection_times_out_on_both_sides() {
    let config = QuicConfig {
        idle_timeout: Duration::from_secs(5),
        ..QuicConfig::default()
    };
    let mut net = pair(ms(10), config);
    net.send(0, 1, b"x".to_vec());
    net.run_until(at_ms(20_000));
    let closed: Vec<_> = net
        .notes()
        .into_iter()
        .filter(|(_, _, n)| {
            matches!(
                n,
                QuicNote::Closed {
                    reason: CloseReason::IdleTimeout,
                    unsent: 0,
                    ..
                }
            )
        })
        .map(|(t, i, _)| (i, t))
        .collect();
    assert_eq!(closed.len(), 2);
    for (_, t) in closed {
        assert!(t > at_ms(5000) && t < at_ms(5200), "closed at {t}");
    }
    assert!(net.nodes[0].poll_timeout().is_none() && net.nodes[1].poll_timeout().is_none());
}

// ----- streams -----

/// Stream ids of the STREAM frames in a datagram.
fn stream_ids(bytes: &[u8]) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut rest = bytes;
    while let Ok(packet) = Packet::new_checked(rest) {
        rest = &rest[packet.packet_len()..];
        if let Ok(repr) = Repr::parse(&packet) {
            for frame in repr.frames {
                if let Frame::Stream { id, .. } = frame {
                    ids.push(id);
                }
            }
        }
    }
    ids
}

#[test]
fn a_lost_packet_of_one_message_does_not_delay_another() {
    let mut net = pair(ms(50), QuicConfig::default());
    net.send(0, 1, b"warm-up".to_vec());
    net.run_until(at_ms(1000));
    // Lose the first packet carrying message A (client stream 6).
    let mut lost = false;
    net.filter = Some(Box::new(move |_, _, bytes| {
        let hit = !lost && stream_ids(bytes).contains(&6);
        lost |= hit;
        hit
    }));
    net.send(0, 1, message(1, 3000));
    net.send(0, 1, message(2, 3000));
    net.run_until(at_ms(3000));
    let times: BTreeMap<u8, Instant> = net.received().iter().map(|r| (r.3[3], r.0)).collect();
    assert_eq!(times[&2], at_ms(1050), "B arrives one way later, unblocked");
    assert!(
        times[&1] >= at_ms(1150),
        "A waits for a retransmission: {}",
        times[&1]
    );
}

#[test]
fn an_urgent_message_overtakes_a_bulk_one() {
    let mut net = Net::new(vec![
        node(0, QuicConfig::default()),
        node(1, QuicConfig::default()),
    ]);
    net.link(0, 1, Link::bottleneck(1, ms(10), ms(20)));
    net.link(1, 0, Link::delay(ms(10)));
    net.send(0, 1, b"warm-up".to_vec());
    net.run_until(at_ms(1000));
    net.send_with(0, 1, message(1, 200_000), 7);
    net.send_with(0, 1, message(2, 1000), 0);
    net.run_until(at_ms(10_000));
    let order: Vec<u8> = net.received().iter().skip(1).map(|r| r.3[3]).collect();
    assert_eq!(order, [2, 1]);
}

#[test]
fn small_flow_control_windows_still_carry_large_messages() {
    let config = QuicConfig {
        initial_max_data: 20_000,
        initial_max_stream_data: 8_000,
        max_concurrent_streams: 2,
        ..QuicConfig::default()
    };
    let mut net = pair(ms(5), config);
    for i in 0..5 {
        net.send(0, 1, message(i, 50_000));
    }
    net.run_until(at_ms(20_000));
    let got: Vec<u8> = net.received().iter().map(|r| r.3[3]).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert!(net
        .received()
        .iter()
        .all(|r| r.3 == message(id_of(r.3), 50_000)));
}

#[test]
fn datagrams_arrive_once_or_not_at_all_and_must_fit_a_packet() {
    let mut net = pair(ms(20), QuicConfig::default());
    net.nodes[0]
        .send_datagram(net.now, NodeId(1), b"unreliable".to_vec())
        .unwrap();
    net.drain(0);
    assert_eq!(
        net.nodes[0].send_datagram(net.now, NodeId(1), vec![0; 1200]),
        Err(super::DatagramError::TooLarge)
    );
    net.run_until(at_ms(1000));
    assert_eq!(net.received().len(), 1);
    assert_eq!(net.received()[0].3, b"unreliable");
}

#[test]
fn datagrams_a_peer_refuses_are_dropped_and_noted() {
    let refuses = QuicConfig {
        max_datagram_frame_size: 0,
        ..QuicConfig::default()
    };
    let mut net = Net::new(vec![node(0, QuicConfig::default()), node(1, refuses)]);
    net.connect(0, 1, ms(20));
    net.nodes[0]
        .send_datagram(net.now, NodeId(1), b"unwanted".to_vec())
        .unwrap();
    net.drain(0);
    net.run_until(at_ms(1000));
    assert!(net.received().is_empty());
    assert!(net
        .notes()
        .iter()
        .any(|&(_, i, n)| i == 0 && n == QuicNote::DatagramDropped { peer: NodeId(1) }));
}

// ----- congestion control on a bottleneck -----

/// A bulk transfer of `messages` × 64 KiB from node 0 to node 1 over a
/// 10 Mbit/s bottleneck with a one-BDP buffer and 40 ms RTT.
fn bulk(cc: CongestionControl, seconds: u64) -> (Net, f64) {
    let config = QuicConfig {
        congestion_control: cc,
        ..QuicConfig::default()
    };
    let mut net = Net::new(vec![node(0, config), node(1, config)]);
    net.link(0, 1, Link::bottleneck(10, ms(20), ms(40)));
    net.link(1, 0, Link::delay(ms(20)));
    for i in 0..(seconds as u32 * 20) {
        net.send(0, 1, message(i, 65_536));
    }
    net.run_until(at_ms(seconds * 1000));
    let goodput = net.goodput(1, at_ms(2000), at_ms(seconds * 1000));
    (net, goodput * 8.0 / 10e6)
}

#[test]
fn one_long_flow_fills_a_bottleneck() {
    for cc in [CongestionControl::NewReno, CongestionControl::Cubic] {
        let (net, utilisation) = bulk(cc, 20);
        println!(
            "{cc:?}: goodput {:.1} % of the link rate",
            utilisation * 100.0
        );
        assert!(utilisation >= 0.90, "{cc:?}: {utilisation}");
        let losses = net
            .notes()
            .iter()
            .filter(|(_, _, n)| matches!(n, QuicNote::PacketLost { .. }))
            .count();
        assert!(losses > 0, "the buffer overflows now and then");
    }
}

#[test]
fn two_flows_share_a_bottleneck_fairly() {
    let mut net = Net::new((0..4).map(|i| node(i, QuicConfig::default())).collect());
    let shared = net.link(0, 2, Link::bottleneck(10, ms(20), ms(40)));
    net.route(1, 3, shared);
    net.link(2, 0, Link::delay(ms(20)));
    net.link(3, 1, Link::delay(ms(20)));
    for i in 0..800 {
        net.send(0, 2, message(i, 65_536));
    }
    net.run_until(at_ms(2000));
    for i in 0..800 {
        net.send(1, 3, message(i, 65_536));
    }
    let end = at_ms(40_000);
    net.run_until(end);
    let x: Vec<f64> = [2, 3]
        .iter()
        .map(|&n| net.goodput(n, at_ms(10_000), end))
        .collect();
    let jain = (x[0] + x[1]).powi(2) / (2.0 * (x[0] * x[0] + x[1] * x[1]));
    let total = (x[0] + x[1]) * 8.0 / 10e6;
    println!(
        "flows {:.0} and {:.0} B/s: Jain {jain:.3}, {:.1} % of the link",
        x[0],
        x[1],
        total * 100.0
    );
    assert!(jain >= 0.9, "Jain index {jain}");
    assert!(total >= 0.9, "utilisation {total}");
}

/// Goodput under random loss `p` on a 50 ms RTT path without a bandwidth
/// limit, over the Mathis prediction (MSS / RTT) · 1.22 / √p, with the
/// propagation RTT; also the sender's smoothed RTT at the end.
fn mathis_ratio(p: f64, seconds: u64) -> (f64, Duration) {
    let mut net = Net::new(vec![
        node(0, QuicConfig::default()),
        node(1, QuicConfig::default()),
    ]);
    net.link(0, 1, Link::delay(ms(25)).lossy(p));
    net.link(1, 0, Link::delay(ms(25)));
    let end = at_ms(seconds * 1000);
    net.run_saturated(end, 64);
    let goodput = net.goodput(1, at_ms(5000), end);
    // The application bytes one full packet carries: 1200 bytes less a
    // short header (1 + 8 + 2), the tag (16) and a STREAM frame header
    // (type, 1-byte id, 4-byte offset, 2-byte length).
    let mss = 1200.0 - 11.0 - 16.0 - 8.0;
    let predicted = mss / 0.050 * 1.22 / p.sqrt();
    let srtt = net.nodes[0].path_stats(NodeId(1)).unwrap().smoothed_rtt;
    (goodput / predicted, srtt)
}

/// Mathis et al. derive C = √(3/2) ≈ 1.22 for a sawtooth with periodic
/// losses; under random losses the window varies more, a burst of losses
/// in one window costs one reduction, and the highest rates time out now
/// and then, so the measured ratio differs by some tens of percent. We
/// measured 0.91, 0.87, 0.90 and 0.80 for p = 0.1 %, 0.5 %, 1 % and 2 %
/// and accept ±30 %.
#[test]
fn goodput_under_random_loss_follows_the_mathis_relation() {
    for (p, seconds) in [(0.001, 200), (0.005, 100), (0.01, 60), (0.02, 60)] {
        let (ratio, srtt) = mathis_ratio(p, seconds);
        println!("p = {p}: goodput / Mathis = {ratio:.2} (smoothed RTT {srtt})");
        assert!((0.7..=1.3).contains(&ratio), "p = {p}: ratio {ratio}");
    }
}

// ----- migration -----

#[test]
fn a_transfer_survives_the_client_changing_address() {
    let mut net = Net::new(vec![
        node(0, QuicConfig::default()),
        node(1, QuicConfig::default()),
    ]);
    net.link(0, 1, Link::bottleneck(10, ms(20), ms(40)));
    net.link(1, 0, Link::delay(ms(20)));
    net.rebind = Some((0, NodeId(2), at_ms(2000), Instant::MAX));
    for i in 0..64 {
        net.send(0, 1, message(i, 65_536));
    }
    net.run_until(at_ms(20_000));
    let received = net.received();
    assert_eq!(received.len(), 64, "every message arrives");
    assert!(received.iter().all(|r| r.3 == message(id_of(r.3), 65_536)));
    assert!(received.iter().any(|r| r.2 == NodeId(0)) && received.iter().any(|r| r.2 == NodeId(2)));
    let migrated: Vec<_> = net
        .notes()
        .into_iter()
        .filter(|(_, _, n)| matches!(n, QuicNote::Migrated { .. }))
        .collect();
    assert_eq!(migrated.len(), 1);
    let (t, i, note) = migrated[0];
    assert_eq!(
        (i, note),
        (
            1,
            QuicNote::Migrated {
                from: NodeId(0),
                to: NodeId(2)
            }
        )
    );
    // A round trip for the challenge, plus the data queued ahead of the
    // first packet from the new address and of the response (up to one
    // BDP, 40 ms, each).
    assert!(t > at_ms(2040) && t < at_ms(2200), "validated at {t}");
    assert!(net.nodes[1].path_stats(NodeId(2)).is_some());
}

#[test]
fn a_new_address_that_fails_validation_is_abandoned() {
    let mut net = Net::new(vec![
        node(0, QuicConfig::default()),
        node(1, QuicConfig::default()),
    ]);
    net.link(0, 1, Link::bottleneck(10, ms(20), ms(40)));
    net.link(1, 0, Link::delay(ms(20)));
    // The client's packets appear from address 2 between 1 s and 1.5 s,
    // but nothing sent to address 2 arrives: that path cannot be
    // validated, and the connection must come back to address 0.
    net.rebind = Some((0, NodeId(2), at_ms(1000), at_ms(1500)));
    net.filter = Some(Box::new(|_, to, _| to == NodeId(2)));
    for i in 0..40 {
        net.send(0, 1, message(i, 65_536));
    }
    net.run_until(at_ms(30_000));
    let failed: Vec<_> = net
        .notes()
        .into_iter()
        .filter(|(_, _, n)| matches!(n, QuicNote::MigrationFailed { .. }))
        .collect();
    assert!(!failed.is_empty());
    assert_eq!(
        failed[0].2,
        QuicNote::MigrationFailed {
            from: NodeId(2),
            back_to: NodeId(0)
        }
    );
    assert_eq!(
        net.received().len(),
        40,
        "the old path still carries it all"
    );
}

// ----- robustness -----

/// The datagrams of a complete handshake and one message, as the server
/// receives them, and the server after them.
fn established() -> (Quic, Vec<Vec<u8>>) {
    let mut to_server = Vec::new();
    let mut client = node(0, QuicConfig::default());
    let mut server = node(1, QuicConfig::default());
    let mut now = Instant::ZERO;
    client.send(now, NodeId(1), message(1, 2000), DEFAULT_PRIORITY);
    for _ in 0..10 {
        now += ms(10);
        let up: Vec<Vec<u8>> = std::iter::from_fn(|| client.poll_output())
            .filter_map(|o| match o {
                Output::Transmit { bytes, .. } => Some(bytes.to_vec()),
                _ => None,
            })
            .collect();
        for bytes in &up {
            server.handle_datagram(now, NodeId(0), bytes);
        }
        to_server.extend(up);
        let down: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_output())
            .filter_map(|o| match o {
                Output::Transmit { bytes, .. } => Some(bytes.to_vec()),
                _ => None,
            })
            .collect();
        for bytes in &down {
            client.handle_datagram(now, NodeId(1), bytes);
        }
    }
    (server, to_server)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_and_are_counted(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let mut endpoint = node(0, QuicConfig::default());
        endpoint.handle_datagram(Instant::ZERO, NodeId(9), &bytes);
        let outputs: Vec<_> = std::iter::from_fn(|| endpoint.poll_output()).collect();
        let received = outputs
            .iter()
            .any(|o| matches!(o, Output::Event(TransportEvent::Received { .. })));
        prop_assert!(!received, "nothing is delivered");
        if !bytes.is_empty() && Packet::new_checked(&bytes[..]).is_err() {
            prop_assert_eq!(
                &outputs[..],
                &[Output::Drop { from: NodeId(9), len: bytes.len(), cause: DropCause::Malformed }][..]
            );
        }
    }

    #[test]
    fn corrupted_packets_of_a_live_connection_never_panic(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (mut server, datagrams) = established();
        let mut bytes = which.get(&datagrams).clone();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1).max(1));
        server.handle_datagram(at_ms(200), NodeId(0), &bytes);
        while server.poll_output().is_some() {}
        server.handle_timeout(at_ms(60_000));
        while server.poll_output().is_some() {}
    }

    #[test]
    fn every_message_arrives_exactly_once_despite_loss_and_reordering(
        loss in 0.0..0.3f64,
        seed in any::<u64>(),
        sizes in proptest::collection::vec((any::<bool>(), 0usize..8000), 1..40),
    ) {
        let config = QuicConfig { idle_timeout: Duration::from_secs(3600), ..QuicConfig::default() };
        let nodes = vec![node(0, config), node(1, config)];
        let mut net = TestNet::new(nodes).lossy(loss, seed).reordered(seed ^ 1);
        let mut sent: [Vec<Vec<u8>>; 2] = Default::default();
        for (i, (from_server, size)) in sizes.into_iter().enumerate() {
            let from = usize::from(from_server);
            let bytes = message(i as u32, size);
            sent[1 - from].push(bytes.clone());
            net.command(NodeId(from as u32), TransportCommand::Send { to: NodeId(1 - from as u32), bytes });
        }
        net.run_until(Instant::ZERO + Duration::from_secs(1800));
        let mut got: [Vec<Vec<u8>>; 2] = Default::default();
        for (node, event) in net.events() {
            if let TransportEvent::Received { from, bytes } = event {
                prop_assert_eq!(from.index(), 1 - node.index());
                got[node.index()].push(bytes.clone());
            }
        }
        for i in 0..2 {
            sent[i].sort();
            got[i].sort();
            let ids = |v: &[Vec<u8>]| v.iter().map(|b| (id_of(b), b.len())).collect::<Vec<_>>();
            prop_assert_eq!(ids(&got[i]), ids(&sent[i]), "node {}", i);
            prop_assert!(got[i] == sent[i], "node {} received altered bytes", i);
        }
    }
}

// ----- under an application -----

#[test]
fn ping_runs_over_quic_through_the_test_network() {
    let over = |i| {
        Over::new(
            Ping::new(NodeId(i), PingConfig::default()),
            node(i, QuicConfig::default()),
        )
    };
    let mut net = TestNet::new(vec![over(0), over(1)]);
    net.command(
        NodeId(0),
        PingCommand {
            to: NodeId(1),
            size: 64,
        },
    );
    net.run_until(Instant::ZERO + Duration::from_secs(2));
    let replies = net
        .events()
        .filter(|(n, e)| {
            *n == NodeId(0)
                && matches!(
                    e,
                    Layered::App(PingEvent::Reply {
                        from: NodeId(1),
                        ..
                    })
                )
        })
        .count();
    assert_eq!(replies, 1);
    let handshakes = net
        .events()
        .filter(|(_, e)| matches!(e, Layered::Transport(QuicNote::HandshakeDone { .. })))
        .count();
    assert_eq!(handshakes, 2, "one connection, both ends");
    assert!(net.nodes.iter().all(|n| n
        .transport()
        .path_stats(NodeId(1 - n.transport().id().0))
        .is_some()));
}

#[test]
fn initial_packets_are_padded_and_long_headers_name_both_connection_ids() {
    let mut client = node(0, QuicConfig::default());
    client.send(Instant::ZERO, NodeId(1), vec![], DEFAULT_PRIORITY);
    let Some(Output::Transmit { bytes, .. }) = client.poll_output() else {
        panic!("an Initial")
    };
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.packet_type(), PacketType::Initial);
    assert!(packet.scid().is_some());
    let repr = Repr::parse(&packet).unwrap();
    assert!(
        matches!(repr.frames[0], Frame::Crypto { offset: 0, data } if data.len() == super::CLIENT_HELLO_LEN)
    );
}
