//! What a run's discovery registries and signaling servers did, folded from
//! the protocol events the kernel recorded.
//!
//! A run whose scenario has a discovery or signaling group records those
//! groups' events (`Simulation::record_events_where`); at the end [`Services::collect`]
//! reads them once, with the faults the kernel applied and the servers'
//! final state, into the figures of `summary.json`'s `discovery` and
//! `signaling` objects and the rows of `discovery.csv`. Other runs record
//! nothing and pay nothing. Everything here is ordered (vectors in event
//! order, `BTreeMap`s by node), so the figures are a pure function of the
//! run.
//!
//! # Staleness
//!
//! A discover response lists registrations, each with the node that
//! registered it and its `last_seen`, and the registry's `as_of` time. A
//! returned peer is *stale* when, at `as_of`, the peer behind it no longer
//! keeps it alive, and then it is stale by `as_of` minus the time it
//! stopped:
//!
//! - a client heartbeats from a `Register` command until a `StopHeartbeats`
//!   command ([`DiscoveryNote::Heartbeats`] reports both), or until its
//!   node crashes or its battery runs out;
//! - a node restarted with its state kept heartbeats again from the
//!   restart; one restarted with fresh state is a new client (a new peer
//!   id), so a registration of its earlier incarnation stays dead;
//! - a registration belongs to the incarnation of its node that was alive
//!   when it was last refreshed (the latest whose start is at or before
//!   `last_seen`): a heartbeat still in flight when its peer died refreshes
//!   the dead peer's registration, which is then stale from the death on.
//!
//! The registry returns a registration until `last_seen + ttl` and never
//! after, so a peer that dies just after a heartbeat is returned stale for
//! up to a TTL, one that dies just before its next heartbeat for up to
//! `ttl − heartbeat_interval` more than that.

use std::collections::BTreeMap;

use protocols::discovery::{Cost, Counts, DiscoveryEvent, FoundPeer, RequestKind};
use protocols::signaling::{PeerEvent, Removal, ServerEvent, SignalingEvent};
use protocols::transport::Layered;
use sim_core::{Duration, Instant, NodeId, TraceKind, TraceRecord};

use crate::build::{Layout, ScenarioSim};
use crate::schema::{ProtocolSpec, Scenario};
use crate::stack::{DiscoveryNote, Stack, StackEvent};
use crate::transport::{Node, NodeEvent};

/// Whether the run of `scenario` needs its protocol events recorded: it has
/// a discovery or signaling group.
pub fn needs_events(scenario: &Scenario) -> bool {
    scenario.groups.iter().any(|g| {
        matches!(
            g.protocol,
            ProtocolSpec::Discovery(_) | ProtocolSpec::Signaling(_)
        )
    })
}

/// The figures of a run's discovery and signaling groups.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Services {
    /// Where the scenario runs discovery.
    pub discovery: Option<DiscoveryFigures>,
    /// Where the scenario runs signaling.
    pub signaling: Option<SignalingFigures>,
}

/// One discover request answered 200.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscoverResponse {
    /// The client that asked.
    pub node: NodeId,
    /// The request's message id.
    pub msg: u64,
    /// When the registry took its view.
    pub as_of: Instant,
    /// When the response arrived.
    pub at: Instant,
    /// Peers returned.
    pub returned: u32,
    /// The staleness of each stale peer returned, in the response's order.
    pub stale: Vec<Duration>,
}

/// What the registries and their clients did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiscoveryFigures {
    /// Discover requests issued.
    pub discovers: u64,
    /// Every discover answered 200, in the order the answers arrived.
    pub responses: Vec<DiscoverResponse>,
    /// Discovers answered 503 (the registry's queue was full).
    pub unavailable: u64,
    /// Discovers that got no answer within the request timeout.
    pub timed_out: u64,
    /// Clients whose heartbeats ended while their registration might still
    /// be returned: `StopHeartbeats`, a crash or an empty battery.
    pub deaths: u64,
    /// Registrations the TTL removed.
    pub expired: u64,
    /// Requests the registries served, by kind.
    pub served: Counts,
    /// Requests answered 503, by kind.
    pub rejected: Counts,
    /// How long each served request waited in the queue, in service order.
    pub queue_waits: Vec<Duration>,
    /// Requests that paid a cold start.
    pub cold_starts: u64,
    /// What the registries' usage cost over the run, summed over them.
    pub cost: Cost,
    /// The same extrapolated to a 30-day month.
    pub monthly: Cost,
}

impl DiscoveryFigures {
    /// Every stale return's staleness, over all responses, sorted.
    pub fn staleness_sorted(&self) -> Vec<Duration> {
        let mut all: Vec<Duration> = self
            .responses
            .iter()
            .flat_map(|r| r.stale.iter().copied())
            .collect();
        all.sort_unstable();
        all
    }

    /// Peers returned, over all responses.
    pub fn returned(&self) -> u64 {
        self.responses.iter().map(|r| u64::from(r.returned)).sum()
    }
}

/// What the signaling servers and peers did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalingFigures {
    /// Joins completed (the bootstrap list arrived).
    pub joins: u64,
    /// From each completed join's `Join` command to its bootstrap list.
    pub join_times: Vec<Duration>,
    /// Upgrades refused with 429: the server's connection limit.
    pub refused: u64,
    /// Joins that did not complete within the set-up timeout.
    pub join_timed_out: u64,
    /// `Connect` attempts started.
    pub connects: u64,
    /// Set-up times of the attempts whose channel opened, in order.
    pub setups: Vec<Duration>,
    /// Attempts that failed (timed out, or the peer was unknown).
    pub setup_failed: u64,
    /// Messages that arrived on direct channels, and their bytes.
    pub direct_messages: u64,
    /// Bytes of those messages.
    pub direct_bytes: u64,
    /// `SendDirect` commands that named a peer without an open channel.
    pub no_channel: u64,
    /// Offers, answers and candidates the servers relayed.
    pub relayed: u64,
    /// Joined peers the servers removed, by reason.
    pub removed: Removed,
}

/// Joined peers removed by a signaling server, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// They said `leave`.
    pub left: u64,
    /// Their connection closed (or their browser restarted).
    pub closed: u64,
    /// Nothing arrived from them for the idle timeout.
    pub idle_timeout: u64,
    /// Another connection joined with their id.
    pub replaced: u64,
}

impl Removed {
    fn add(&mut self, reason: Removal) {
        let count = match reason {
            Removal::Left => &mut self.left,
            Removal::Closed => &mut self.closed,
            Removal::IdleTimeout => &mut self.idle_timeout,
            Removal::Replaced => &mut self.replaced,
        };
        *count += 1;
    }
}

/// A spell of heartbeats, `[start, end)`; `end` is none while it lasts.
type Spell = (Instant, Option<Instant>);

/// A client's heartbeating spells, per incarnation of its node.
#[derive(Debug, Default)]
struct Lives {
    /// Incarnations in order: when each began (zero, or the restart that
    /// rebuilt the node) and its spells `[start, end)` in order (`end` none
    /// while the spell lasts).
    incarnations: Vec<(Instant, Vec<Spell>)>,
    /// Whether a crash that kept the node's state interrupted a spell,
    /// which its restart resumes.
    resume: bool,
    /// Whether the node lost its state: its next restart begins an
    /// incarnation.
    fresh: bool,
}

impl Lives {
    fn spells(&mut self) -> &mut Vec<Spell> {
        if self.incarnations.is_empty() {
            self.incarnations.push((Instant::ZERO, Vec::new()));
        }
        &mut self.incarnations.last_mut().expect("one at least").1
    }

    fn start(&mut self, t: Instant) {
        let spells = self.spells();
        if spells.last().is_none_or(|s| s.1.is_some()) {
            spells.push((t, None));
        }
    }

    /// Ends the open spell at `t`; whether there was one.
    fn stop(&mut self, t: Instant) -> bool {
        match self.spells().last_mut() {
            Some((_, end @ None)) => {
                *end = Some(t);
                true
            }
            _ => false,
        }
    }

    /// The node went down at `t`; whether that ended a spell.
    fn crash(&mut self, t: Instant, lose_state: bool) -> bool {
        let died = self.stop(t);
        self.resume = died && !lose_state;
        self.fresh |= lose_state;
        died
    }

    fn restart(&mut self, t: Instant) {
        if std::mem::take(&mut self.fresh) {
            self.incarnations.push((t, Vec::new()));
        } else if std::mem::take(&mut self.resume) {
            self.start(t);
        }
    }

    /// How long before `as_of` the peer behind a registration last
    /// refreshed at `last_seen` stopped keeping it alive; `None` while it
    /// still does (or if nothing is known of it).
    fn staleness(&self, last_seen: Instant, as_of: Instant) -> Option<Duration> {
        let k = self
            .incarnations
            .partition_point(|&(begun, _)| begun <= last_seen);
        let (_, spells) = self.incarnations.get(k.checked_sub(1)?)?;
        // Spells do not overlap: the last one begun by `as_of` says
        // whether the peer was alive then, or since when it was not.
        let &(_, end) = spells.iter().take_while(|&&(s, _)| s <= as_of).last()?;
        let died = end.filter(|&end| end <= as_of)?;
        Some(as_of - died)
    }
}

impl Services {
    /// Reads the figures off a finished simulation of `scenario` that
    /// recorded its events (see [`needs_events`]).
    pub fn collect(scenario: &Scenario, sim: &ScenarioSim) -> Services {
        let has = |p: fn(&ProtocolSpec) -> bool| scenario.groups.iter().any(|g| p(&g.protocol));
        Services {
            discovery: has(|p| matches!(p, ProtocolSpec::Discovery(_)))
                .then(|| discovery(scenario, sim)),
            signaling: has(|p| matches!(p, ProtocolSpec::Signaling(_)))
                .then(|| signaling(sim.events())),
        }
    }
}

/// A node's protocol stack, bare or under its transport.
fn stack_of(node: &Node) -> &Stack {
    match node {
        Node::Bare(stack) => stack,
        Node::Over(over) => over.app(),
    }
}

/// A node event's application event, if it is one.
fn stack_event(event: &NodeEvent) -> Option<&StackEvent> {
    match event {
        Layered::App(e) => Some(e),
        Layered::Transport(_) => None,
    }
}

/// Applies the faults from `faults[*next]` on that happened before `until`
/// (all of them with `None`) to the clients' lives.
fn apply_faults(
    faults: &[TraceRecord],
    next: &mut usize,
    until: Option<Instant>,
    lives: &mut BTreeMap<NodeId, Lives>,
    deaths: &mut u64,
) {
    while let Some(r) = faults
        .get(*next)
        .filter(|r| until.is_none_or(|t| r.time < t))
    {
        *next += 1;
        // A node that never heartbeated has nothing to end.
        let Some(l) = lives.get_mut(&r.node) else {
            continue;
        };
        match r.kind {
            TraceKind::Crash => *deaths += u64::from(l.crash(r.time, r.size == 1)),
            TraceKind::BatteryEmpty => *deaths += u64::from(l.crash(r.time, true)),
            TraceKind::Restart => l.restart(r.time),
            _ => {}
        }
    }
}

fn discovery(scenario: &Scenario, sim: &ScenarioSim) -> DiscoveryFigures {
    let mut f = DiscoveryFigures::default();
    let mut lives: BTreeMap<NodeId, Lives> = BTreeMap::new();
    // Answers, judged once every death is known.
    let mut answers: Vec<(NodeId, u64, &[FoundPeer], Instant, Instant)> = Vec::new();
    let faults = &sim.metrics().faults;
    let mut next_fault = 0;
    for (t, node, event) in sim.events() {
        let Some(StackEvent::Discovery(note)) = stack_event(event) else {
            continue;
        };
        // At one instant, events first: a command the node took at the
        // instant it crashed came before the crash.
        apply_faults(faults, &mut next_fault, Some(*t), &mut lives, &mut f.deaths);
        match note {
            DiscoveryNote::Heartbeats(true) => lives.entry(*node).or_default().start(*t),
            DiscoveryNote::Heartbeats(false) => {
                f.deaths += u64::from(lives.entry(*node).or_default().stop(*t));
            }
            DiscoveryNote::Event(e) => match e {
                DiscoveryEvent::DiscoverSent { .. } => f.discovers += 1,
                DiscoveryEvent::Discovered {
                    msg,
                    peers,
                    as_of,
                    at,
                } => answers.push((*node, *msg, peers, *as_of, *at)),
                DiscoveryEvent::Answered {
                    request: RequestKind::Discover,
                    ..
                } => f.unavailable += 1,
                DiscoveryEvent::TimedOut {
                    request: RequestKind::Discover,
                    ..
                } => f.timed_out += 1,
                DiscoveryEvent::Served {
                    queued, cold_start, ..
                } => {
                    f.queue_waits.push(*queued);
                    f.cold_starts += u64::from(*cold_start);
                }
                DiscoveryEvent::Expired { .. } => f.expired += 1,
                _ => {}
            },
        }
    }
    apply_faults(faults, &mut next_fault, None, &mut lives, &mut f.deaths);
    let unknown = Lives::default();
    f.responses = answers
        .into_iter()
        .map(|(node, msg, peers, as_of, at)| DiscoverResponse {
            node,
            msg,
            as_of,
            at,
            returned: peers.len() as u32,
            stale: peers
                .iter()
                .filter_map(|p| {
                    let l = lives.get(&p.node).unwrap_or(&unknown);
                    l.staleness(p.last_seen, as_of)
                })
                .collect(),
        })
        .collect();
    // The bill: each registry's usage as it stands at the end (a registry
    // rebuilt after losing its state starts a new bill, as a redeployed
    // stack would).
    let window = scenario.duration;
    let layout = Layout::of(scenario);
    for (g, group) in scenario.groups.iter().enumerate() {
        if !matches!(&group.protocol, ProtocolSpec::Discovery(d) if d.server.is_none()) {
            continue;
        }
        for id in layout.range(g).map(NodeId) {
            let Some(Stack::Discovery(d)) = sim.node(id).map(stack_of) else {
                continue;
            };
            let Some(server) = d.inner().as_server() else {
                continue;
            };
            let usage = server.usage();
            add_counts(&mut f.served, &usage.served);
            add_counts(&mut f.rejected, &usage.rejected);
            let cost = usage.cost(&server.config().cost);
            f.cost = add_costs(f.cost, cost);
            f.monthly = add_costs(f.monthly, cost.per_month(window));
        }
    }
    f
}

fn add_counts(to: &mut Counts, c: &Counts) {
    to.register += c.register;
    to.heartbeat += c.heartbeat;
    to.discover += c.discover;
    to.health += c.health;
}

fn add_costs(a: Cost, b: Cost) -> Cost {
    Cost {
        gateway: a.gateway + b.gateway,
        function: a.function + b.function,
        database: a.database + b.database,
    }
}

fn signaling(events: &[(Instant, NodeId, NodeEvent)]) -> SignalingFigures {
    let mut f = SignalingFigures::default();
    for (_, _, event) in events {
        let Some(StackEvent::Signaling(e)) = stack_event(event) else {
            continue;
        };
        match e {
            SignalingEvent::Peer(p) => match p {
                PeerEvent::Joined { took, .. } => {
                    f.joins += 1;
                    f.join_times.push(*took);
                }
                PeerEvent::Refused { .. } => f.refused += 1,
                PeerEvent::JoinTimedOut => f.join_timed_out += 1,
                PeerEvent::ConnectStarted { .. } => f.connects += 1,
                PeerEvent::ChannelOpen {
                    attempt: Some(_),
                    setup,
                    ..
                } => f.setups.push(*setup),
                PeerEvent::SetupFailed {
                    attempt: Some(_), ..
                } => f.setup_failed += 1,
                PeerEvent::DataReceived { size, .. } => {
                    f.direct_messages += 1;
                    f.direct_bytes += u64::from(*size);
                }
                PeerEvent::NoChannel { .. } => f.no_channel += 1,
                _ => {}
            },
            SignalingEvent::Server(s) => match s {
                ServerEvent::Relayed { .. } => f.relayed += 1,
                ServerEvent::PeerRemoved { reason, .. } => f.removed.add(*reason),
                _ => {}
            },
        }
    }
    f
}
