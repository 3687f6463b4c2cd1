//! Property tests of the kernel driving the real protocols.
//!
//! Every property builds a random scenario: 2 to 12 nodes; a random, possibly
//! disconnected set of links, each direction with its own latency distribution
//! (constant, uniform, exponential, Pareto, normal, log-normal), jitter,
//! bandwidth behind a small drop-tail queue, Bernoulli or Gilbert-Elliott loss
//! and an MTU that some datagrams exceed; random workload commands; and random
//! faults (crashes with and without state, restarts, partitions, heals, links
//! going down and up, loss changes). It runs the scenario on
//! [`Simulation`] over [`GraphNetwork`] with the real [`Flood`] and [`Ping`]
//! machines and checks one invariant of the run.
//!
//! Each node runs inside [`Audited`], a test-only wrapper that forwards every
//! call and writes down what the node did in which input call. The kernel
//! builds a fresh wrapper whenever it rebuilds a node that lost its state, so
//! the audit is per incarnation: a node rebuilt fresh may legitimately relay or
//! deliver a message again, a node that kept its state may not.
//!
//! Flood's seen set is given a time to live (200 years) longer than any
//! datagram can be in flight (a latency sample is at most 100 years), so
//! "relays at most once" and "delivers at most once" hold for the whole run,
//! not only while a short-lived seen set remembers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use protocols::flood::{self, Flood, FloodCommand, FloodConfig, FloodEvent};
use protocols::ping::{self, Ping, PingCommand, PingConfig, PingEvent};
use rand_chacha::rand_core::RngCore as _;
use sim_core::network::{LinkChange, Loss};
use sim_core::{
    Bandwidth, Builder, ByteSize, Dist, DropCause, Duration, Fault, GraphNetwork, Instant,
    LinkConfig, Network, NodeId, Observation, Observe, Output, Protocol, RngStreams, SimRng,
    Simulation, TraceKind,
};

/// Longer than any datagram can be in flight, so no seen id is ever forgotten
/// while a copy of it can still arrive.
const SEEN_TTL: Duration = Duration::from_secs(200 * 365 * 24 * 3600);
/// Commands and faults happen before this many microseconds.
const LAST_ACTION_US: u64 = 2_000_000;
/// A point after the last command and fault, but not after every datagram
/// (heavy-tailed latencies can keep one in flight for much longer).
const HORIZON: Instant = Instant::from_nanos(3_000_000_000);

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    }
}

// ----- the stack: Flood or Ping on each node -----

/// Which protocol a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Flood,
    Ping,
}

/// One node's protocol: a local stand-in for the scenarios crate's stack, so
/// that floods and pings (and each other's bytes) share one network.
#[derive(Debug)]
enum Stack {
    Flood(Flood),
    Ping(Ping),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StackCommand {
    Flood(FloodCommand),
    Ping(PingCommand),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StackEvent {
    Flood(FloodEvent),
    Ping(PingEvent),
}

impl Observe for StackEvent {
    fn observe(&self) -> Option<Observation> {
        match self {
            StackEvent::Flood(e) => e.observe(),
            StackEvent::Ping(e) => e.observe(),
        }
    }
}

impl Protocol for Stack {
    type Command = StackCommand;
    type Event = StackEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        match self {
            Stack::Flood(p) => p.handle_datagram(now, from, bytes),
            Stack::Ping(p) => p.handle_datagram(now, from, bytes),
        }
    }
    fn handle_command(&mut self, now: Instant, cmd: StackCommand) {
        match (self, cmd) {
            (Stack::Flood(p), StackCommand::Flood(c)) => p.handle_command(now, c),
            (Stack::Ping(p), StackCommand::Ping(c)) => p.handle_command(now, c),
            // The generator gives each node commands of its own protocol only.
            _ => unreachable!("a command for the other protocol"),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Stack::Flood(p) => p.handle_timeout(now),
            Stack::Ping(p) => p.handle_timeout(now),
        }
    }
    fn poll_output(&mut self) -> Option<Output<StackEvent>> {
        match self {
            Stack::Flood(p) => p.poll_output().map(|o| o.map_event(StackEvent::Flood)),
            Stack::Ping(p) => p.poll_output().map(|o| o.map_event(StackEvent::Ping)),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Stack::Flood(p) => p.poll_timeout(),
            Stack::Ping(p) => p.poll_timeout(),
        }
    }
}

// ----- the audit -----

/// What every wrapper of a run wrote down, shared across rebuilds.
#[derive(Debug, Default)]
struct Audit {
    /// Wrappers built so far; each wrapper's number is its incarnation.
    incarnations: u32,
    /// Every input call: (incarnation, node, time).
    inputs: Vec<(u32, NodeId, Instant)>,
    /// Every flood datagram transmitted: (incarnation, node, input call, id).
    flood_transmits: Vec<(u32, NodeId, u64, u64)>,
    /// The length of every flood or ping datagram transmitted, by its id.
    lengths: Vec<(u64, usize)>,
    /// Every delivery reported: (incarnation, node, time, message).
    deliveries: Vec<(u32, NodeId, Instant, u64)>,
    /// Inputs whose time went backwards.
    time_reversals: Vec<String>,
}

/// A test-only protocol that forwards every call to `inner` and writes down,
/// per incarnation, each input call and what it produced.
#[derive(Debug)]
struct Audited<P> {
    inner: P,
    node: NodeId,
    incarnation: u32,
    /// Input calls so far; outputs are attributed to the latest.
    calls: u64,
    now: Option<Instant>,
    audit: Arc<Mutex<Audit>>,
}

impl<P> Audited<P> {
    fn new(inner: P, node: NodeId, audit: Arc<Mutex<Audit>>) -> Self {
        let incarnation = {
            let mut a = audit.lock().unwrap();
            a.incarnations += 1;
            a.incarnations - 1
        };
        Audited {
            inner,
            node,
            incarnation,
            calls: 0,
            now: None,
            audit,
        }
    }

    fn input(&mut self, now: Instant) {
        let mut audit = self.audit.lock().unwrap();
        if self.now.is_some_and(|before| now < before) {
            audit.time_reversals.push(format!(
                "{} (incarnation {}) got {now} after {:?}",
                self.node, self.incarnation, self.now
            ));
        }
        self.calls += 1;
        self.now = Some(now);
        audit.inputs.push((self.incarnation, self.node, now));
    }
}

impl<P> Protocol for Audited<P>
where
    P: Protocol,
    P::Event: Observe,
{
    type Command = P::Command;
    type Event = P::Event;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.input(now);
        self.inner.handle_datagram(now, from, bytes);
    }
    fn handle_command(&mut self, now: Instant, cmd: P::Command) {
        self.input(now);
        self.inner.handle_command(now, cmd);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.input(now);
        self.inner.handle_timeout(now);
    }
    fn poll_output(&mut self) -> Option<Output<P::Event>> {
        let out = self.inner.poll_output()?;
        let mut audit = self.audit.lock().unwrap();
        match &out {
            Output::Transmit { bytes, .. } => {
                let flood = flood::wire::Packet::new_checked(&bytes[..])
                    .and_then(|p| flood::wire::Repr::parse(&p));
                let ping = ping::wire::Packet::new_checked(&bytes[..])
                    .and_then(|p| ping::wire::Repr::parse(&p));
                if let Ok(repr) = flood {
                    audit
                        .flood_transmits
                        .push((self.incarnation, self.node, self.calls, repr.id));
                    audit.lengths.push((repr.id, bytes.len()));
                } else if let Ok(repr) = ping {
                    audit.lengths.push((repr.id, bytes.len()));
                }
            }
            Output::Event(ev) => {
                if let Some(Observation::Delivered { msg, .. }) = ev.observe() {
                    let at = self.now.unwrap_or(Instant::ZERO);
                    audit
                        .deliveries
                        .push((self.incarnation, self.node, at, msg));
                }
            }
            Output::Drop { .. } => {}
        }
        Some(out)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
}

// ----- scenarios -----

#[derive(Clone, Debug)]
struct LinkSpec {
    a: NodeId,
    b: NodeId,
    forward: LinkConfig,
    backward: LinkConfig,
}

#[derive(Clone, Debug)]
struct Scenario {
    seed: u64,
    kinds: Vec<Kind>,
    hop_limit: u8,
    links: Vec<LinkSpec>,
    commands: Vec<(Instant, NodeId, StackCommand)>,
    /// In the order they are scheduled: by time, ties in list order.
    faults: Vec<(Instant, Fault)>,
}

impl Scenario {
    fn nodes(&self) -> u32 {
        self.kinds.len() as u32
    }
    fn link(&self, from: NodeId, to: NodeId) -> Option<&LinkConfig> {
        self.links.iter().find_map(|l| {
            if (l.a, l.b) == (from, to) {
                Some(&l.forward)
            } else if (l.b, l.a) == (from, to) {
                Some(&l.backward)
            } else {
                None
            }
        })
    }
}

/// Which protocols the nodes run.
#[derive(Clone, Copy, Debug)]
enum Stacks {
    AllFlood,
    Any,
}

fn latency() -> impl Strategy<Value = Dist> {
    let us = Duration::from_micros;
    prop_oneof![
        (0u64..20_000).prop_map(move |t| Dist::Constant(us(t))),
        (0u64..10_000, 0u64..30_000).prop_map(move |(min, span)| Dist::Uniform {
            min: us(min),
            max: us(min + span),
        }),
        (1u64..20_000).prop_map(move |mean| Dist::Exponential { mean: us(mean) }),
        (1u64..10_000, 1.5f64..4.0).prop_map(move |(scale, shape)| Dist::Pareto {
            scale: us(scale),
            shape,
        }),
        (0u64..10_000, 1u64..5_000).prop_map(move |(mean, sd)| Dist::Normal {
            mean: us(mean),
            std_dev: us(sd),
        }),
        (1u64..20_000, 1u64..10_000).prop_map(move |(mean, sd)| Dist::LogNormal {
            mean: us(mean),
            std_dev: us(sd),
        }),
    ]
}

fn loss() -> impl Strategy<Value = Loss> {
    prop_oneof![
        2 => Just(Loss::None),
        1 => (0.0f64..0.5).prop_map(|p| Loss::Bernoulli { p }),
        1 => (0.0f64..0.3, 0.05f64..1.0, 0.0f64..0.1, 0.3f64..=1.0).prop_map(
            |(p_good_bad, p_bad_good, loss_good, loss_bad)| Loss::GilbertElliott {
                p_good_bad,
                p_bad_good,
                loss_good,
                loss_bad,
            }
        ),
    ]
}

fn link_config() -> impl Strategy<Value = LinkConfig> {
    (
        latency(),
        prop_oneof![2 => Just(0u64), 1 => 1u64..5_000],
        // 50 kbps to 10 Mbps, often behind a queue of a few datagrams.
        prop::option::weighted(
            0.4,
            (
                prop_oneof![50_000u64..1_000_000, 1_000_000u64..10_000_000],
                prop::option::weighted(0.7, 50u64..3_000),
            ),
        ),
        loss(),
        // Datagrams are 15 to 616 bytes long.
        prop::option::weighted(0.3, 20u64..700),
        any::<bool>(),
    )
        .prop_map(
            |(latency, jitter, shaped, loss, mtu, in_order)| LinkConfig {
                latency,
                jitter: Duration::from_micros(jitter),
                bandwidth: shaped.map(|(bps, _)| Bandwidth::from_bps(bps).expect("positive")),
                queue: shaped.and_then(|(_, queue)| queue.map(ByteSize)),
                loss,
                mtu: mtu.map(ByteSize),
                in_order,
            },
        )
}

/// A fault as generated, before it is tied to the scenario's links.
#[derive(Clone, Debug)]
enum FaultSpec {
    /// A crash, and a restart `down_for` µs later if any.
    Crash {
        node: u32,
        lose_state: bool,
        down_for: Option<u64>,
    },
    /// A restart of a node that may well be up (then it does nothing).
    Restart {
        node: u32,
    },
    /// A partition by label (0: in no group), healed `heal_after` µs later.
    Partition {
        labels: Vec<u8>,
        heal_after: Option<u64>,
    },
    Heal,
    /// Link number `pick` goes down, and up again `up_after` µs later.
    LinkDown {
        pick: usize,
        up_after: Option<u64>,
    },
    LinkUp {
        pick: usize,
    },
    SetLoss {
        pick: usize,
        loss: Loss,
    },
}

fn fault_spec(n: u32) -> impl Strategy<Value = FaultSpec> {
    let later = prop::option::weighted(0.7, 1u64..1_000_000);
    prop_oneof![
        3 => (0..n, any::<bool>(), later.clone()).prop_map(|(node, lose_state, down_for)| {
            FaultSpec::Crash { node, lose_state, down_for }
        }),
        1 => (0..n).prop_map(|node| FaultSpec::Restart { node }),
        1 => (prop::collection::vec(0u8..3, n as usize), later.clone())
            .prop_map(|(labels, heal_after)| FaultSpec::Partition { labels, heal_after }),
        1 => Just(FaultSpec::Heal),
        2 => (any::<usize>(), later).prop_map(|(pick, up_after)| FaultSpec::LinkDown {
            pick,
            up_after,
        }),
        1 => any::<usize>().prop_map(|pick| FaultSpec::LinkUp { pick }),
        1 => (any::<usize>(), loss()).prop_map(|(pick, loss)| FaultSpec::SetLoss { pick, loss }),
    ]
}

/// A time in µs before `LAST_ACTION_US`: spread out, or in one of a few
/// 5 ms bursts so that queues fill and faults meet traffic.
fn action_time() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..LAST_ACTION_US,
        (0..20u64, 0..5_000u64).prop_map(|(slot, us)| slot * (LAST_ACTION_US / 20) + us),
    ]
}

fn scenario(stacks: Stacks) -> impl Strategy<Value = Scenario> {
    (2u32..=12)
        .prop_flat_map(move |n| {
            let kinds = match stacks {
                Stacks::AllFlood => Just(vec![Kind::Flood; n as usize]).boxed(),
                Stacks::Any => prop_oneof![
                    Just(vec![Kind::Flood; n as usize]),
                    Just(vec![Kind::Ping; n as usize]),
                    prop::collection::vec(
                        prop_oneof![Just(Kind::Flood), Just(Kind::Ping)],
                        n as usize
                    ),
                ]
                .boxed(),
            };
            (
                any::<u64>(),
                kinds,
                1u8..=8,
                prop::collection::vec(
                    (0..n, 0..n, link_config(), link_config()),
                    0..=3 * n as usize,
                ),
                // (time µs, node, payload or request size, ping target choice)
                prop::collection::vec((action_time(), 0..n, 0u32..600, any::<u32>()), 0..=60),
                prop::collection::vec((action_time(), fault_spec(n)), 0..=8),
            )
        })
        .prop_map(
            |(seed, kinds, hop_limit, raw_links, raw_commands, raw_faults)| {
                build_scenario(seed, kinds, hop_limit, raw_links, raw_commands, raw_faults)
            },
        )
}

type RawLink = (u32, u32, LinkConfig, LinkConfig);

fn build_scenario(
    seed: u64,
    kinds: Vec<Kind>,
    hop_limit: u8,
    raw_links: Vec<RawLink>,
    raw_commands: Vec<(u64, u32, u32, u32)>,
    raw_faults: Vec<(u64, FaultSpec)>,
) -> Scenario {
    let n = kinds.len() as u32;
    let mut pairs = BTreeSet::new();
    let mut links = Vec::new();
    for (a, b, forward, backward) in raw_links {
        if a == b || !pairs.insert((a.min(b), a.max(b))) {
            continue;
        }
        forward.validate().expect("a valid link");
        backward.validate().expect("a valid link");
        links.push(LinkSpec {
            a: NodeId(a),
            b: NodeId(b),
            forward,
            backward,
        });
    }
    let neighbours = |node: u32| -> Vec<NodeId> {
        links
            .iter()
            .filter_map(|l| {
                if l.a.0 == node {
                    Some(l.b)
                } else if l.b.0 == node {
                    Some(l.a)
                } else {
                    None
                }
            })
            .collect()
    };
    let commands = raw_commands
        .into_iter()
        .map(|(at, node, size, choice)| {
            let cmd = match kinds[node as usize] {
                Kind::Flood => StackCommand::Flood(FloodCommand::Broadcast { size }),
                Kind::Ping => {
                    // Mostly a neighbour; sometimes any node, itself included,
                    // which the graph cannot reach (`no_route`).
                    let around = neighbours(node);
                    let to = if choice % 8 == 0 || around.is_empty() {
                        NodeId(choice % n)
                    } else {
                        around[(choice / 8) as usize % around.len()]
                    };
                    StackCommand::Ping(PingCommand { to, size })
                }
            };
            (Instant::from_nanos(at * 1_000), NodeId(node), cmd)
        })
        .collect();
    // A link fault names one of the links, or a pair with none when there
    // are none (the network refuses it; the kernel traces the refusal).
    let pair = |pick: usize| match links.get(pick.checked_rem(links.len()).unwrap_or(0)) {
        Some(l) => (l.a, l.b),
        None => (NodeId(0), NodeId(1)),
    };
    let link_fault = |pick: usize, change: LinkChange| {
        let (a, b) = pair(pick);
        Fault::Link { a, b, change }
    };
    let mut faults = Vec::new();
    for (at, spec) in raw_faults {
        let at_ns = at * 1_000;
        let mut push = |after_us: u64, fault: Fault| {
            faults.push((Instant::from_nanos(at_ns + after_us * 1_000), fault));
        };
        match spec {
            FaultSpec::Crash {
                node,
                lose_state,
                down_for,
            } => {
                let node = NodeId(node);
                push(0, Fault::Crash { node, lose_state });
                if let Some(d) = down_for {
                    push(d, Fault::Restart { node });
                }
            }
            FaultSpec::Restart { node } => push(0, Fault::Restart { node: NodeId(node) }),
            FaultSpec::Partition { labels, heal_after } => {
                let groups = (1..3)
                    .map(|g| {
                        (0..n)
                            .filter(|&i| labels[i as usize] == g)
                            .map(NodeId)
                            .collect()
                    })
                    .collect();
                push(0, Fault::Partition { groups });
                if let Some(d) = heal_after {
                    push(d, Fault::Heal);
                }
            }
            FaultSpec::Heal => push(0, Fault::Heal),
            FaultSpec::LinkDown { pick, up_after } => {
                push(0, link_fault(pick, LinkChange::Down));
                if let Some(d) = up_after {
                    push(d, link_fault(pick, LinkChange::Up));
                }
            }
            FaultSpec::LinkUp { pick } => push(0, link_fault(pick, LinkChange::Up)),
            FaultSpec::SetLoss { pick, loss } => {
                push(0, link_fault(pick, LinkChange::SetLoss(loss)))
            }
        }
    }
    faults.sort_by_key(|&(at, _)| at);
    Scenario {
        seed,
        kinds,
        hop_limit,
        links,
        commands,
        faults,
    }
}

// ----- running -----

type Sim = Simulation<Audited<Stack>, GraphNetwork>;

struct Run {
    sim: Sim,
    audit: Arc<Mutex<Audit>>,
    /// Every datagram handed to a protocol, as (receiver, sender).
    receives: Arc<Mutex<Vec<(NodeId, NodeId)>>>,
}

/// Builds the scenario's simulation with RNG streams from `seed`.
fn start(s: &Scenario, seed: u64) -> Run {
    let streams = RngStreams::new(seed);
    let mut net = GraphNetwork::new(s.nodes(), streams);
    for l in &s.links {
        net.add_link(l.a, l.b, l.forward.clone(), l.backward.clone());
    }
    let neighbours: Vec<Vec<NodeId>> = (0..s.nodes())
        .map(|i| net.neighbours(NodeId(i)).unwrap_or_default())
        .collect();
    let config = FloodConfig {
        hop_limit: s.hop_limit,
        seen_ttl: SEEN_TTL,
        expected_recipients: s.nodes() - 1,
    };
    let kinds = s.kinds.clone();
    let audit = Arc::new(Mutex::new(Audit::default()));
    let shared = Arc::clone(&audit);
    // As the scenario builder does: each incarnation numbers its messages
    // from a random point, so a rebuilt node does not reuse its old ids.
    let build: Builder<Audited<Stack>> = Box::new(move |id, mut rng: SimRng| {
        let seq = rng.next_u32();
        let inner = match kinds[id.index()] {
            Kind::Flood => Stack::Flood(
                Flood::new(id, neighbours[id.index()].clone(), config).with_initial_seq(seq),
            ),
            Kind::Ping => Stack::Ping(Ping::new(id, PingConfig::default()).with_initial_seq(seq)),
        };
        Audited::new(inner, id, Arc::clone(&shared))
    });
    let mut sim = Simulation::new(streams, net, build);
    sim.record_events();
    let receives = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&receives);
    sim.set_trace_sink(Box::new(move |r| {
        if r.kind == TraceKind::Receive {
            sink.lock()
                .unwrap()
                .push((r.node, r.peer.expect("a receive has a sender")));
        }
    }));
    for &(at, node, cmd) in &s.commands {
        sim.schedule_command(at, node, cmd);
    }
    for (at, fault) in &s.faults {
        sim.schedule_fault(*at, fault.clone());
    }
    Run {
        sim,
        audit,
        receives,
    }
}

/// Runs the scenario until nothing is left to happen: every datagram has
/// arrived or been dropped and every timer has fired.
fn run_to_end(s: &Scenario) -> Run {
    let mut run = start(s, s.seed);
    run.sim.run_until(Instant::MAX);
    run
}

/// Shortest-path delays of a datagram of `len` bytes between every pair of
/// nodes, each directed link weighing `network.min_delay` plus the time to
/// serialize `len` bytes at its bandwidth; `None` where there is no path.
fn distances(net: &GraphNetwork, len: usize) -> Vec<Vec<Option<u64>>> {
    let n = net.node_count() as usize;
    (0..n)
        .map(|source| {
            let mut dist = vec![None; n];
            let mut done = vec![false; n];
            dist[source] = Some(0u64);
            // Dijkstra with a linear scan: n is at most 12.
            while let Some(u) = (0..n)
                .filter(|&u| !done[u] && dist[u].is_some())
                .min_by_key(|&u| dist[u])
            {
                done[u] = true;
                let du = dist[u].expect("picked a reached node");
                let from = NodeId(u as u32);
                for to in net.neighbours(from).unwrap_or_default() {
                    let serialize = net
                        .link(from, to)
                        .and_then(|l| l.config().bandwidth)
                        .map_or(0, |rate| rate.transmit_time(len as u64).as_nanos());
                    let w = net.min_delay(from, to).expect("a link").as_nanos() + serialize;
                    let v = to.index();
                    if dist[v].is_none_or(|dv| du + w < dv) {
                        dist[v] = Some(du + w);
                    }
                }
            }
            dist
        })
        .collect()
}

/// The message id of a `Sent` event.
fn sent(ev: &StackEvent) -> Option<u64> {
    match ev.observe() {
        Some(Observation::Sent { msg, .. }) => Some(msg),
        _ => None,
    }
}

/// Drops of datagrams the network lost: every cause but the two a protocol
/// reports about bytes it was handed.
fn network_drops(sim: &Sim) -> u64 {
    DropCause::ALL
        .iter()
        .filter(|&&c| !matches!(c, DropCause::Malformed | DropCause::Expired))
        .map(|&c| sim.metrics().drops_of(c))
        .sum()
}

/// The intervals during which each node is down, as the kernel applies the
/// schedule: a crash of a down node and a restart of an up node do nothing.
fn down_intervals(s: &Scenario) -> Vec<(NodeId, Instant, Instant)> {
    let mut down_since: BTreeMap<NodeId, Instant> = BTreeMap::new();
    let mut intervals = Vec::new();
    for (at, fault) in &s.faults {
        match *fault {
            Fault::Crash { node, .. } if node.0 < s.nodes() => {
                down_since.entry(node).or_insert(*at);
            }
            Fault::Restart { node } => {
                if let Some(since) = down_since.remove(&node) {
                    intervals.push((node, since, *at));
                }
            }
            _ => {}
        }
    }
    intervals.extend(
        down_since
            .into_iter()
            .map(|(node, since)| (node, since, Instant::MAX)),
    );
    intervals
}

// ----- properties -----

proptest! {
    #![proptest_config(cases())]

    /// No delivery without a send: the kernel never sees a delivery of an id
    /// no node reported sent; every delivery record names a message of the
    /// message table with the same source, that source is the origin encoded
    /// in the id, and its send time is that of the latest `Sent` event for
    /// the id before the delivery. Deliveries in the metrics and `Delivered`
    /// events are the same list, in the same order.
    #[test]
    fn every_delivery_has_a_send(s in scenario(Stacks::Any)) {
        let run = run_to_end(&s);
        let m = run.sim.metrics();
        prop_assert_eq!(m.deliveries_without_send, 0);
        prop_assert_eq!(m.reused_message_ids, 0);
        let mut latest_sent: BTreeMap<u64, (Instant, NodeId)> = BTreeMap::new();
        let mut records = m.deliveries.iter();
        for &(at, node, ev) in run.sim.events() {
            if let Some(msg) = sent(&ev) {
                latest_sent.insert(msg, (at, node));
            }
            let Some(Observation::Delivered { msg, hops }) = ev.observe() else {
                continue;
            };
            let d = records.next();
            prop_assert!(d.is_some(), "Delivered event of {} with no record", msg);
            let d = d.expect("checked");
            prop_assert_eq!((d.msg, d.destination, d.delivered_at, d.hops), (msg, node, at, hops));
            let record = m.messages.get(&msg);
            prop_assert!(record.is_some(), "delivery of {} not in the message table", msg);
            prop_assert_eq!(record.expect("checked").source, d.source);
            prop_assert_eq!(d.source, NodeId((msg >> 32) as u32));
            let sent = latest_sent.get(&msg);
            prop_assert_eq!(sent.copied(), Some((d.sent_at, d.source)), "delivery {:?}", d);
        }
        prop_assert!(records.next().is_none(), "a delivery record with no Delivered event");
    }

    /// No delivery beats the network: for a message sent once, delivered_at −
    /// sent_at is at least the shortest-path delay from the source to the
    /// destination, each directed link weighing its `min_delay` plus the time
    /// to serialize the message's datagram at the link's bandwidth (so at
    /// least the `min_delay` path); for a ping (delivered back at the pinger)
    /// it is at least the delay there and back. A destination with no path at
    /// all never gets the message.
    #[test]
    fn no_delivery_beats_the_shortest_path(s in scenario(Stacks::Any)) {
        let run = run_to_end(&s);
        let audit = run.audit.lock().unwrap();
        let mut lengths: BTreeMap<u64, BTreeSet<usize>> = BTreeMap::new();
        for &(msg, len) in &audit.lengths {
            lengths.entry(msg).or_default().insert(len);
        }
        let mut dist: BTreeMap<usize, Vec<Vec<Option<u64>>>> = BTreeMap::new();
        let mut sends: BTreeMap<u64, u32> = BTreeMap::new();
        let mut ping_target: BTreeMap<u64, NodeId> = BTreeMap::new();
        for (_, _, ev) in run.sim.events() {
            if let Some(msg) = sent(ev) {
                *sends.entry(msg).or_default() += 1;
            }
            if let StackEvent::Ping(PingEvent::Sent { id, to }) = *ev {
                ping_target.insert(id, to);
            }
        }
        for d in &run.sim.metrics().deliveries {
            // Ids reused by a node rebuilt after a crash are another check's
            // business (see `message_ids_are_unique_across_restarts`).
            if sends.get(&d.msg) != Some(&1) {
                continue;
            }
            // Every copy of a message has the same length: relays re-emit the
            // header they parsed, a ping's response is as long as its request.
            let len = lengths.get(&d.msg).map(|l| l.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(len.as_ref().map(Vec::len), Some(1), "lengths of {:?}", d);
            let len = len.expect("checked")[0];
            let dist = dist.entry(len).or_insert_with(|| distances(run.sim.network(), len));
            let (src, dst) = (d.source.index(), d.destination.index());
            let bound = match ping_target.get(&d.msg) {
                Some(to) => dist[src][to.index()].zip(dist[to.index()][src]).map(|(a, b)| a + b),
                None => dist[src][dst],
            };
            prop_assert!(bound.is_some(), "{:?} delivered with no path", d);
            let bound = bound.expect("checked");
            prop_assert!(
                d.latency().as_nanos() >= bound,
                "{:?}: latency {} ns below the path's {} ns", d, d.latency().as_nanos(), bound
            );
        }
    }

    /// No node relays a flood twice: within one incarnation, all the flood
    /// datagrams a node transmits with a given message id come from a single
    /// input call (the origin's broadcast and a relay count alike). A node
    /// rebuilt after losing its state starts a new incarnation; one that kept
    /// its state does not.
    #[test]
    fn no_node_relays_a_flood_twice(s in scenario(Stacks::AllFlood)) {
        let run = run_to_end(&s);
        let audit = run.audit.lock().unwrap();
        let mut calls: BTreeMap<(u32, u64), (NodeId, BTreeSet<u64>)> = BTreeMap::new();
        for &(incarnation, node, call, msg) in &audit.flood_transmits {
            calls.entry((incarnation, msg)).or_insert((node, BTreeSet::new())).1.insert(call);
        }
        for ((incarnation, msg), (node, calls)) in &calls {
            prop_assert!(
                calls.len() == 1,
                "{} (incarnation {}) sent {:#x} in calls {:?}", node, incarnation, msg, calls
            );
        }
    }

    /// No duplicate delivery: within one incarnation, a node reports each
    /// message delivered at most once.
    #[test]
    fn no_duplicate_delivery_per_incarnation(s in scenario(Stacks::Any)) {
        let run = run_to_end(&s);
        let audit = run.audit.lock().unwrap();
        let mut seen = BTreeMap::new();
        for &(incarnation, node, at, msg) in &audit.deliveries {
            let first = seen.insert((incarnation, msg), at);
            prop_assert!(
                first.is_none(),
                "{} (incarnation {}) delivered {:#x} at {:?} and again at {}",
                node, incarnation, msg, first, at
            );
        }
        prop_assert!(audit.time_reversals.is_empty(), "{:?}", audit.time_reversals);
    }

    /// Determinism: the same scenario and seed give the same trace hash, the
    /// same metrics and the same events, whether run in one go or stopped
    /// half-way and resumed. A different seed gives a different hash when
    /// the run handed a protocol at least two datagrams over links whose
    /// latency is spread over a millisecond or more: a draw of such a latency
    /// repeats to the nanosecond with a chance below 10⁻⁵, two below 10⁻¹⁰.
    #[test]
    fn same_seed_same_run(s in scenario(Stacks::Any)) {
        let once = run_to_end(&s);
        let mut resumed = start(&s, s.seed);
        resumed.sim.run_until(HORIZON);
        resumed.sim.run_until(Instant::MAX);
        prop_assert_eq!(once.sim.trace_hash().value(), resumed.sim.trace_hash().value());
        prop_assert_eq!(
            format!("{:?}", once.sim.metrics()),
            format!("{:?}", resumed.sim.metrics())
        );
        prop_assert_eq!(once.sim.events(), resumed.sim.events());
        prop_assert_eq!(once.sim.steps(), resumed.sim.steps());

        let spread = |d: &Dist| match *d {
            Dist::Constant(_) => false,
            Dist::Uniform { min, max } => max.as_nanos() - min.as_nanos() >= 1_000_000,
            Dist::Exponential { mean } => mean >= Duration::from_millis(1),
            Dist::Normal { std_dev, .. } | Dist::LogNormal { std_dev, .. } => {
                std_dev >= Duration::from_millis(1)
            }
            Dist::Pareto { scale, .. } => scale >= Duration::from_millis(1),
        };
        let random_receives = once
            .receives
            .lock().unwrap()
            .iter()
            .filter(|&&(to, from)| s.link(from, to).is_some_and(|l| spread(&l.latency)))
            .count();
        if random_receives >= 2 {
            let mut other = start(&s, s.seed ^ 0x9e37_79b9_7f4a_7c15);
            other.sim.run_until(Instant::MAX);
            prop_assert_ne!(once.sim.trace_hash().value(), other.sim.trace_hash().value());
        }
    }

    /// Conservation: every datagram handed to the network is delivered to a
    /// protocol or dropped by the network, once. With nothing in flight,
    /// packets_sent = packets_delivered + drops of every cause but
    /// `malformed` and `expired` (those are a protocol's verdicts on
    /// datagrams already counted delivered, so they are at most
    /// packets_delivered); while datagrams are in flight the right side is
    /// smaller. Each `Transmit` a protocol outputs is one send, and the
    /// per-node counters add up to the totals.
    #[test]
    fn every_datagram_is_accounted_for(s in scenario(Stacks::Any)) {
        let mut run = start(&s, s.seed);
        run.sim.run_until(HORIZON);
        let m = run.sim.metrics();
        prop_assert!(m.packets_sent >= m.packets_delivered + network_drops(&run.sim));
        run.sim.run_until(Instant::MAX);
        let m = run.sim.metrics();
        prop_assert_eq!(
            m.packets_sent,
            m.packets_delivered + network_drops(&run.sim),
            "drops {:?}", m.drops
        );
        prop_assert!(
            m.drops_of(DropCause::Malformed) + m.drops_of(DropCause::Expired) <= m.packets_delivered
        );
        prop_assert_eq!(m.nodes.iter().map(|c| c.packets_sent).sum::<u64>(), m.packets_sent);
        prop_assert_eq!(m.nodes.iter().map(|c| c.bytes_sent).sum::<u64>(), m.bytes_sent);
        prop_assert_eq!(
            m.nodes.iter().map(|c| c.packets_received).sum::<u64>(),
            m.packets_delivered
        );
        prop_assert_eq!(
            run.receives.lock().unwrap().len() as u64,
            m.packets_delivered,
            "one receive trace record per delivered datagram"
        );
        prop_assert_eq!(
            run.audit.lock().unwrap().lengths.len() as u64,
            m.packets_sent,
            "one send per Transmit a protocol output"
        );
    }

    /// A crashed node is left alone: between a crash and the restart that
    /// ends it, the kernel calls none of the node's `handle_*` (no datagram,
    /// no command, no timer), whether the node kept its state or not.
    #[test]
    fn a_crashed_node_gets_no_input(s in scenario(Stacks::Any)) {
        let run = run_to_end(&s);
        let audit = run.audit.lock().unwrap();
        for (node, since, until) in down_intervals(&s) {
            for &(incarnation, n, at) in &audit.inputs {
                prop_assert!(
                    !(n == node && since < at && at < until),
                    "{} (incarnation {}) got an input at {} while down from {} to {}",
                    node, incarnation, at, since, until
                );
            }
        }
    }
}

/// Message ids are unique in the run, as [`Observation::Sent`] requires: a
/// node rebuilt after losing its state must not reuse the ids of its earlier
/// incarnation (a regression test: both protocols once restarted their
/// sequence at 0, so a copy of the old message still in flight was recorded as
/// a delivery of the new one, too fast, and the new flood was suppressed as a
/// duplicate).
#[test]
fn message_ids_are_unique_across_restarts() {
    let ms = Duration::from_millis;
    let slow = LinkConfig {
        latency: Dist::Constant(ms(100)),
        ..LinkConfig::default()
    };
    let s = Scenario {
        seed: 1,
        kinds: vec![Kind::Flood; 3],
        hop_limit: 4,
        links: vec![
            LinkSpec {
                a: NodeId(0),
                b: NodeId(1),
                forward: slow.clone(),
                backward: slow,
            },
            LinkSpec {
                a: NodeId(0),
                b: NodeId(2),
                forward: LinkConfig::default(),
                backward: LinkConfig::default(),
            },
        ],
        commands: [0, 50]
            .into_iter()
            .map(|t| {
                let cmd = StackCommand::Flood(FloodCommand::Broadcast { size: 10 });
                (Instant::ZERO + ms(t), NodeId(0), cmd)
            })
            .collect(),
        faults: vec![
            (
                Instant::ZERO + ms(10),
                Fault::Crash {
                    node: NodeId(0),
                    lose_state: true,
                },
            ),
            (Instant::ZERO + ms(20), Fault::Restart { node: NodeId(0) }),
        ],
    };
    let run = run_to_end(&s);
    let ids: Vec<u64> = run.sim.events().iter().filter_map(|e| sent(&e.2)).collect();
    assert_eq!(ids.len(), 2, "two broadcasts");
    assert_ne!(
        ids[0],
        ids[1],
        "an id sent twice; deliveries: {:?}",
        run.sim.metrics().deliveries
    );
    assert_eq!(run.sim.metrics().reused_message_ids, 0);
}
