//! The simulation kernel: one event loop over virtual time.
//!
//! # Ordering rule
//!
//! Everything the kernel does is an event with a key (time, sequence). The
//! sequence number is taken from one counter when the event is scheduled, so
//! events due at the same time run first-in first-out, and the whole run is a
//! single total order that does not depend on the machine, the allocator or the
//! number of threads elsewhere in the process.
//!
//! One [`EventQueue`] (a radix heap) holds every pending event: datagrams in
//! flight, the next action of each [`Source`] (workload commands, faults),
//! battery checks, and each node's wake-up, taken from its `poll_timeout`
//! after every drain.
//!
//! A node has at most one pending wake-up. When its deadline changes, the new
//! one is queued and the old entry is left where it is, superseded: the
//! kernel remembers the sequence number of each node's current wake-up and
//! discards any other wake-up entry it pops, without counting it as an event.
//! The order is the one a keyed priority queue with change-of-priority would
//! give (the live wake-up's key is the (time, sequence) of its last change),
//! at the cost of the radix heap's O(1) push instead of a heap's sift through
//! a table of 10⁵ nodes; deadlines change rarely (a heartbeat moves its
//! deadline when it fires), so superseded entries are few.
//!
//! # Windows
//!
//! Where the network promises a lookahead ([`Network::lookahead`]), a run
//! may go in windows of it ([`Simulation::run_in_windows`]): the nodes' own
//! events then live in one queue per lane of nodes, each window's events
//! run in the lanes in parallel, and one thread replays their outputs in
//! order. See [`windows`] for why that is safe and what it changes.
//!
//! # Driving a node
//!
//! Every input to a node follows the sans-IO loop of [`crate::protocol`]: one
//! `handle_*` call, then `poll_output` until `None` (each `Transmit` goes to the
//! [`Network`], each `Event` to the metrics), then `poll_timeout` to refresh the
//! node's wake-up. A wake-up that finds nothing due is harmless: the protocol
//! does nothing.

mod handoff;
pub mod windows;

use std::collections::btree_map::Entry;

use crate::datagram::Datagram;
use crate::energy::{Battery, BatteryChange, EnergyProfile};
use crate::fault::Fault;
use crate::metrics::{
    DeliveryRecord, DropCause, LookupEnd, LookupRecord, MessageRecord, Metrics, NodeEnergy,
};
use crate::network::Network;
use crate::protocol::{BatteryLevel, NodeId, Observation, Observe, Output, Protocol};
use crate::queue::EventQueue;
use crate::rng::{RngStreams, SimRng};
use crate::source::{Action, Script, Source};
use crate::time::Duration;
use crate::time::Instant;
use crate::trace::{TraceHash, TraceKind, TraceRecord};
use windows::{Inbox, Lane, Log, Pending, What};

/// Builds a node's protocol from its id and its RNG stream: called once per
/// node at the start, and again when a node restarts after losing its state.
pub type Builder<P> = Box<dyn FnMut(NodeId, SimRng) -> P>;

/// Receives every trace record in order (for `--trace` files).
pub type TraceSink = Box<dyn FnMut(&TraceRecord)>;

/// A pending event. Datagrams are held as shared [`Datagram`]s (a 16-byte
/// handle), so that an event is 32 bytes and a queue entry 48: entries are
/// moved a few times on their way through the queue, and their size is most
/// of its cost.
enum Event {
    /// A datagram reaches `to`'s edge of the network (`queued` false), or
    /// leaves `to`'s access queue and is handed to its protocol (`queued`
    /// true).
    Packet {
        from: NodeId,
        to: NodeId,
        queued: bool,
        bytes: Datagram,
    },
    /// Source number `.0` has its next action due.
    Source(u32),
    /// Node `.0`'s battery may cross a band boundary by idle drain now.
    Battery(u32),
    /// Node `.0`'s wake-up, if it is still the node's current one (its
    /// sequence number is the node's `wake_seq`).
    Wake(u32),
}

impl Event {
    /// The node whose state the event reads, if it is a node's.
    fn node(&self) -> Option<usize> {
        match *self {
            Event::Packet { to, .. } => Some(to.index()),
            Event::Wake(node) => Some(node as usize),
            Event::Source(_) | Event::Battery(_) => None,
        }
    }
}

/// Prefetches what the events a few places behind `queue`'s next one will
/// read, in stages (see [`Protocol::prefetch`]): their node's slot, its
/// wake-up time (which every drain compares) and their datagram's first and
/// last bytes, furthest ahead; then the protocol's own rounds, nearer.
/// `nodes` and `wake_at` are the queue's nodes', the first being node
/// `first`. At 10⁵ nodes nearly every event's node is out of cache, and this
/// lets the misses of several events overlap. It changes no state.
fn prefetch_ahead<P: Protocol>(
    queue: &EventQueue<Event>,
    nodes: &[Option<P>],
    wake_at: &[Instant],
    first: usize,
) {
    if let Some(event) = queue.peek_behind(PREFETCH_SLOT) {
        if let Some(i) = event.node() {
            crate::prefetch(&nodes[i - first]);
            crate::prefetch(&wake_at[i - first]);
        }
        if let Event::Packet { bytes, .. } = event {
            crate::prefetch(&bytes[..bytes.len().min(64)]);
            crate::prefetch(&bytes[bytes.len().saturating_sub(64)..]);
        }
    }
    for (round, &distance) in PREFETCH_ROUNDS.iter().enumerate() {
        let node = queue.peek_behind(distance).and_then(Event::node);
        if let Some(Some(p)) = node.map(|i| &nodes[i - first]) {
            p.prefetch(round as u32);
        }
    }
}

/// Runs of fewer nodes keep their nodes' state in cache, where looking ahead
/// to prefetch only costs time (PHOLD with 1,000 LPs ran 10 % slower).
const PREFETCH_MIN_NODES: usize = 10_000;
/// The queue's look-ahead run when the kernel prefetches: enough for the
/// furthest of [`PREFETCH_SLOT`] and [`PREFETCH_ROUNDS`].
const PREFETCH_LOOKAHEAD: usize = 32;
/// How many events behind the next one [`Simulation::prefetch_ahead`] looks
/// for the node slots, and for each round of the protocols' prefetches.
const PREFETCH_SLOT: usize = 12;
const PREFETCH_ROUNDS: [usize; 3] = [9, 6, 3];

/// The look-ahead run a queue of `nodes` nodes' events keeps for
/// prefetching.
fn queue_lookahead(nodes: usize) -> usize {
    if nodes >= PREFETCH_MIN_NODES {
        PREFETCH_LOOKAHEAD
    } else {
        0
    }
}

/// `wake_seq` of a node with no pending wake-up: no queued entry has it.
const NO_WAKEUP: u64 = u64::MAX;

/// A simulation of one protocol type `P` on one network model `N`.
///
/// ```
/// use sim_core::{Instant, NodeId, Simulation, network::{GraphNetwork, LinkConfig}, RngStreams};
/// # use sim_core::{Output, Protocol, Observe, Observation};
/// # use std::collections::VecDeque;
/// # #[derive(Default)] struct Echo { out: VecDeque<Output<Quiet>> }
/// # struct Quiet;
/// # impl Observe for Quiet { fn observe(&self) -> Option<Observation> { None } }
/// # impl Protocol for Echo { type Command = NodeId; type Event = Quiet;
/// #   fn handle_datagram(&mut self, _: Instant, _: NodeId, _: &[u8]) {}
/// #   fn handle_command(&mut self, _: Instant, to: NodeId) { self.out.push_back(Output::Transmit { to, bytes: vec![0; 100].into() }) }
/// #   fn handle_timeout(&mut self, _: Instant) {}
/// #   fn poll_output(&mut self) -> Option<Output<Quiet>> { self.out.pop_front() }
/// #   fn poll_timeout(&self) -> Option<Instant> { None } }
/// let streams = RngStreams::new(7);
/// let mut net = GraphNetwork::new(2, streams);
/// net.add_link(NodeId(0), NodeId(1), LinkConfig::default(), LinkConfig::default());
/// let mut sim = Simulation::new(streams, net, Box::new(|_, _| Echo::default()));
/// sim.schedule_command(Instant::ZERO, NodeId(0), NodeId(1));
/// sim.run_until(Instant::from_nanos(1_000_000_000));
/// assert_eq!(sim.metrics().packets_delivered, 1);
/// ```
pub struct Simulation<P: Protocol, N: Network> {
    now: Instant,
    /// Every pending event, or, when the run is in windows, those that are
    /// not a node's (sources, battery checks).
    queue: EventQueue<Event>,
    /// When the run is in windows: the nodes' datagrams and wake-ups, one
    /// queue per lane of consecutive nodes (see [`windows`]), lane `k`'s
    /// nodes starting at `lane_starts[k]`.
    lanes: Vec<Lane>,
    lane_starts: Vec<usize>,
    /// Node events queued for each lane while it cannot take them.
    inboxes: Vec<Inbox>,
    /// The window the lanes last ran, until the merge has replayed it.
    unmerged: Option<Pending<P::Event>>,
    /// The logs the last merge emptied, for the next window.
    spare_logs: Vec<Log<P::Event>>,
    /// The window width, when the run is in windows.
    window: Option<Duration>,
    /// The next event's sequence number, shared by every queue.
    next_seq: u64,
    /// Each node's pending wake-up (`Instant::MAX` for none), so that an
    /// unchanged deadline costs no queue operation.
    wake_at: Vec<Instant>,
    /// The sequence number of each node's queued wake-up ([`NO_WAKEUP`] for
    /// none): a popped `Event::Wake` with another one is superseded.
    wake_seq: Vec<u64>,
    nodes: Vec<Option<P>>,
    up: Vec<bool>,
    incarnation: Vec<u32>,
    partition: Vec<u16>,
    network: N,
    build: Builder<P>,
    streams: RngStreams,
    sources: Vec<Box<dyn Source<P::Command>>>,
    pending: Vec<Option<Action<P::Command>>>,
    metrics: Metrics,
    hash: TraceHash,
    trace_sink: Option<TraceSink>,
    events: Option<Vec<(Instant, NodeId, P::Event)>>,
    /// Which events [`Simulation::events`] keeps.
    keep_event: fn(&P::Event) -> bool,
    steps: u64,
    started: bool,
    /// Scratch list of a broadcast's receivers, kept to reuse its memory.
    targets: Vec<NodeId>,
    /// Batteries, where the scenario models energy.
    energy: Option<Box<Energy>>,
}

/// The kernel's energy book: each node's battery, the band its protocol was
/// last told, and when its next idle-drain check is queued.
struct Energy {
    batteries: Vec<Option<Battery>>,
    told: Vec<BatteryLevel>,
    check_at: Vec<Instant>,
    emptied_at: Vec<Option<Instant>>,
}

impl<P, N> Simulation<P, N>
where
    P: Protocol + Send,
    P::Event: Observe + Send,
    P::Command: 'static,
    N: Network,
{
    /// A simulation of every node of `network`, each built by `build`.
    pub fn new(streams: RngStreams, network: N, mut build: Builder<P>) -> Self {
        let n = network.node_count();
        let nodes = (0..n)
            .map(|i| Some(build(NodeId(i), streams.node(NodeId(i), 0))))
            .collect();
        let n = n as usize;
        let mut queue = EventQueue::new();
        queue.set_lookahead(queue_lookahead(n));
        Simulation {
            now: Instant::ZERO,
            queue,
            lanes: Vec::new(),
            lane_starts: vec![0],
            inboxes: Vec::new(),
            unmerged: None,
            spare_logs: Vec::new(),
            window: None,
            next_seq: 0,
            wake_at: vec![Instant::MAX; n],
            wake_seq: vec![NO_WAKEUP; n],
            nodes,
            up: vec![true; n],
            incarnation: vec![0; n],
            partition: vec![0; n],
            network,
            build,
            streams,
            sources: Vec::new(),
            pending: Vec::new(),
            metrics: Metrics::new(n),
            hash: TraceHash::default(),
            trace_sink: None,
            events: None,
            keep_event: |_| true,
            steps: 0,
            started: false,
            targets: Vec::new(),
            energy: None,
        }
    }

    // ----- getters -----

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }
    /// What the run has measured so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
    /// Ends the simulation, keeping only what it measured.
    pub fn into_metrics(mut self) -> Metrics {
        if let Some(energy) = &mut self.energy {
            for (i, battery) in energy.batteries.iter_mut().enumerate() {
                if let Some(b) = battery.as_mut().filter(|_| self.up[i]) {
                    b.settle(self.now);
                }
            }
            self.metrics.energy = energy
                .batteries
                .iter()
                .zip(&energy.emptied_at)
                .map(|(b, &emptied_at)| {
                    b.as_ref().map(|b| NodeEnergy {
                        spent_j: b.spent_j(),
                        charge: b.charge(),
                        emptied_at,
                    })
                })
                .collect();
        }
        self.metrics
    }
    /// The trace hash of the run so far.
    pub fn trace_hash(&self) -> TraceHash {
        self.hash
    }
    /// Events the kernel has run (datagrams, wake-ups, source actions).
    pub fn steps(&self) -> u64 {
        self.steps
    }
    /// Node `id`'s protocol, if the node exists and has state.
    pub fn node(&self, id: NodeId) -> Option<&P> {
        self.nodes.get(id.index())?.as_ref()
    }
    /// Whether node `id` is up.
    pub fn is_up(&self, id: NodeId) -> bool {
        self.up.get(id.index()).copied().unwrap_or(false)
    }
    /// The window width and the number of lanes, if the run goes in
    /// windows (see [`Simulation::run_in_windows`]).
    pub fn windows(&self) -> Option<(Duration, usize)> {
        self.window.map(|w| (w, self.lanes.len()))
    }
    /// The network model.
    pub fn network(&self) -> &N {
        &self.network
    }
    /// The RNG streams of the run.
    pub fn streams(&self) -> RngStreams {
        self.streams
    }
    /// Protocol events recorded so far (see [`Simulation::record_events`]).
    pub fn events(&self) -> &[(Instant, NodeId, P::Event)] {
        self.events.as_deref().unwrap_or_default()
    }
    /// Takes the protocol events recorded so far, leaving none.
    pub fn take_events(&mut self) -> Vec<(Instant, NodeId, P::Event)> {
        self.events.as_mut().map(std::mem::take).unwrap_or_default()
    }

    // ----- set-up -----

    /// Models energy: node `i` gets a battery with `profiles[i]` (none where
    /// it is `None`). Call before the run starts.
    ///
    /// # Panics
    /// If the run goes in windows, which cannot model energy.
    pub fn model_energy(&mut self, profiles: Vec<Option<EnergyProfile>>) {
        assert!(
            self.window.is_none(),
            "energy is modelled before choosing windows"
        );
        let n = self.nodes.len();
        let mut batteries: Vec<Option<Battery>> = profiles
            .into_iter()
            .map(|p| p.map(|p| Battery::new(p, self.now)))
            .collect();
        batteries.resize_with(n, || None);
        // Protocols start believing the battery is high; a node that starts
        // lower is told at its first drain.
        let told = vec![BatteryLevel::High; n];
        self.energy = Some(Box::new(Energy {
            batteries,
            told,
            check_at: vec![Instant::MAX; n],
            emptied_at: vec![None; n],
        }));
        for i in 0..n {
            self.schedule_battery_check(i);
        }
    }

    /// Runs the nodes in windows of the network's lookahead, in `lanes`
    /// lanes of nodes (see [`windows`]): the calling thread runs the first
    /// and merges the lanes' logs, and each other lane has a thread of its
    /// own.
    /// The results are the same for any number of lanes, one included; they
    /// can differ from a sequential run in the order of events due at the
    /// same nanosecond.
    /// Returns false, and changes nothing, where the run cannot: the
    /// network has no lookahead, or energy is modelled (a battery can take
    /// a node down in the middle of its work). Call before the run starts
    /// and after [`Simulation::model_energy`]; calling it again re-cuts the
    /// lanes.
    ///
    /// # Panics
    /// If the run has started.
    pub fn run_in_windows(&mut self, lanes: usize) -> bool {
        assert!(!self.started, "windows are chosen before the run starts");
        let Some(width) = self.network.lookahead().filter(|w| *w > Duration::ZERO) else {
            return false;
        };
        if self.energy.is_some() {
            return false;
        }
        let n = self.nodes.len();
        self.lane_starts = windows::lane_starts(n, lanes);
        let lookahead = queue_lookahead(n);
        self.lanes = (0..self.lane_starts.len())
            .map(|_| {
                let mut queue = EventQueue::new();
                queue.set_lookahead(lookahead);
                Lane::new(queue, n)
            })
            .collect();
        self.inboxes = self.lanes.iter().map(|_| Inbox::default()).collect();
        self.window = Some(width);
        true
    }

    /// Keeps every protocol event with its time and node, for tests and
    /// analyses that need more than the metrics.
    pub fn record_events(&mut self) {
        self.record_events_where(|_| true);
    }
    /// Keeps the protocol events `keep` accepts, with their times and nodes:
    /// the few an analysis needs, without the memory of all of them.
    pub fn record_events_where(&mut self, keep: fn(&P::Event) -> bool) {
        self.keep_event = keep;
        self.events.get_or_insert_with(Vec::new);
    }
    /// Counts packets, bytes, drops and nodes up per `interval` of virtual
    /// time, into [`Metrics::timeseries`].
    pub fn record_timeseries(&mut self, interval: crate::time::Duration) {
        self.metrics.timeseries = Some(crate::metrics::TimeSeries::new(
            interval,
            self.nodes.len() as u32,
        ));
    }
    /// Sends every trace record, in order, to `sink`.
    pub fn set_trace_sink(&mut self, sink: TraceSink) {
        self.trace_sink = Some(sink);
    }
    /// Adds a stream of scheduled actions.
    pub fn add_source(&mut self, mut source: Box<dyn Source<P::Command>>) {
        let idx = u32::try_from(self.sources.len()).expect("fewer than 2^32 sources");
        let first = source.next();
        self.sources.push(source);
        self.pending.push(None);
        self.park(idx, first);
    }
    /// Gives `node` the command `cmd` at time `at`.
    pub fn schedule_command(&mut self, at: Instant, node: NodeId, cmd: P::Command) {
        self.add_source(Box::new(Script::new(vec![(
            at,
            Action::Command { node, cmd },
        )])));
    }
    /// Applies `fault` at time `at`.
    pub fn schedule_fault(&mut self, at: Instant, fault: Fault) {
        self.add_source(Box::new(Script::new(vec![(at, Action::Fault(fault))])));
    }

    fn park(&mut self, idx: u32, next: Option<(Instant, Action<P::Command>)>) {
        if let Some((at, action)) = next {
            self.pending[idx as usize] = Some(action);
            self.push(at.max(self.now), Event::Source(idx));
        }
    }

    // ----- running -----

    /// Runs every event due at or before `end`, then sets the clock to `end`.
    pub fn run_until(&mut self, end: Instant) {
        self.start();
        match self.window {
            Some(width) => self.run_windows(end, width),
            None => while self.step(end) {},
        }
        self.now = self.now.max(end);
        if let Some(ts) = &mut self.metrics.timeseries {
            ts.close(self.now);
        }
    }

    /// Drains every node once, before the first event.
    fn start(&mut self) {
        if !self.started {
            self.started = true;
            for i in 0..self.nodes.len() {
                self.drain(i);
            }
        }
    }

    /// Runs the next event if it is due at or before `end`; returns whether it
    /// ran one. It runs events one at a time in the sequential order, even
    /// where [`Simulation::run_until`] runs windows.
    pub fn step(&mut self, end: Instant) -> bool {
        self.start();
        for (lane, inbox) in self.lanes.iter_mut().zip(&mut self.inboxes) {
            lane.file(inbox);
        }
        loop {
            let Some((at, seq, lane)) = self.peek_next() else {
                return false;
            };
            if at > end {
                return false;
            }
            let queue = match lane {
                Some(k) => &mut self.lanes[k].queue,
                None => &mut self.queue,
            };
            let (at, event) = queue.pop().expect("peeked");
            if self.run_event(at, seq, event) {
                return true;
            }
        }
    }

    /// The key of the earliest pending event, and the lane whose queue has
    /// it (`None`: the kernel's own).
    fn peek_next(&mut self) -> Option<(Instant, u64, Option<usize>)> {
        let mut next = self.queue.peek_key().map(|(at, seq)| (at, seq, None));
        for (k, lane) in self.lanes.iter_mut().enumerate() {
            if let Some(key) = lane.queue.peek_key() {
                if next.is_none_or(|(at, seq, _)| key < (at, seq)) {
                    next = Some((key.0, key.1, Some(k)));
                }
            }
        }
        next
    }

    /// Runs a popped event; false if it was a superseded wake-up.
    fn run_event(&mut self, at: Instant, seq: u64, event: Event) -> bool {
        if let Event::Wake(node) = event {
            if self.wake_seq[node as usize] != seq {
                return false; // superseded: not an event
            }
        }
        self.now = at;
        self.steps += 1;
        if self.nodes.len() >= PREFETCH_MIN_NODES && self.lanes.is_empty() {
            prefetch_ahead(&self.queue, &self.nodes, &self.wake_at, 0);
            if let Some(i) = self.queue.peek_behind(PREFETCH_SLOT).and_then(Event::node) {
                crate::prefetch(&self.metrics.nodes[i]);
            }
        }
        self.dispatch(event);
        true
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Packet {
                from,
                to,
                queued,
                bytes,
            } => {
                if !self.up[to.index()] {
                    return self.drop_packet(to, from, bytes.len(), DropCause::NodeDown);
                }
                if queued {
                    return self.receive(from, to, &bytes);
                }
                let via = self.network.interface(from, &bytes);
                match self.network.arrive_via(via, self.now, to, bytes.len()) {
                    Ok(at) if at == self.now => self.receive(from, to, &bytes),
                    Ok(at) => {
                        let queued = true;
                        self.push(
                            at,
                            Event::Packet {
                                from,
                                to,
                                queued,
                                bytes,
                            },
                        );
                    }
                    Err(cause) => self.drop_packet(to, from, bytes.len(), cause),
                }
            }
            Event::Source(idx) => {
                let action = self.pending[idx as usize]
                    .take()
                    .expect("a parked source has an action");
                self.apply(action);
                let next = self.sources[idx as usize].next();
                self.park(idx, next);
            }
            Event::Battery(i) => self.battery_check(i as usize),
            Event::Wake(node) => {
                let i = node as usize;
                self.wake_at[i] = Instant::MAX;
                self.wake_seq[i] = NO_WAKEUP;
                self.timeout(i);
            }
        }
    }

    fn receive(&mut self, from: NodeId, to: NodeId, bytes: &[u8]) {
        let i = to.index();
        // The interface only sets the price: ask for it only where energy
        // is modelled, off the hot path of runs without batteries.
        if self.energy.is_some() {
            let via = self.network.interface(from, bytes);
            self.spend(i, |b, now| b.receive(now, via, bytes.len()));
        }
        let Some(node) = self.nodes[i].as_mut().filter(|_| self.up[i]) else {
            return self.drop_packet(to, from, bytes.len(), DropCause::NodeDown);
        };
        node.handle_datagram(self.now, from, bytes);
        self.count_received(from, to, bytes.len());
        self.drain(i);
    }

    /// `to` took a datagram of `len` bytes from `from`.
    fn count_received(&mut self, from: NodeId, to: NodeId, len: usize) {
        let c = &mut self.metrics.nodes[to.index()];
        c.packets_received += 1;
        c.bytes_received += len as u64;
        self.metrics.packets_delivered += 1;
        self.trace(to, TraceKind::Receive, Some(from), len as u64, None);
    }

    fn timeout(&mut self, i: usize) {
        if !self.up[i] {
            return;
        }
        let Some(node) = self.nodes[i].as_mut() else {
            return;
        };
        node.handle_timeout(self.now);
        self.trace(NodeId(i as u32), TraceKind::Timeout, None, 0, None);
        self.drain(i);
    }

    fn apply(&mut self, action: Action<P::Command>) {
        match action {
            Action::Command { node, cmd } => {
                let i = node.index();
                match self.nodes.get_mut(i) {
                    Some(Some(p)) if self.up[i] => {
                        p.handle_command(self.now, cmd);
                        self.trace(node, TraceKind::Command, None, 0, None);
                        self.drain(i);
                    }
                    _ => {
                        self.metrics.commands_to_down_nodes += 1;
                        self.trace(node, TraceKind::Command, None, 0, Some(DropCause::NodeDown));
                    }
                }
            }
            Action::Fault(fault) => self.fault(fault),
        }
    }

    fn fault(&mut self, fault: Fault) {
        match fault {
            Fault::Crash { node, lose_state } => {
                let i = node.index();
                if i >= self.up.len() || !self.up[i] {
                    return;
                }
                self.settle_battery(i);
                self.up[i] = false;
                if lose_state {
                    self.nodes[i] = None;
                }
                self.set_wakeup(i, None);
                self.trace(node, TraceKind::Crash, None, u64::from(lose_state), None);
            }
            Fault::Restart { node } => {
                let i = node.index();
                if i >= self.up.len() || self.up[i] || self.battery_is_empty(i) {
                    return;
                }
                self.resume_battery(i);
                if self.nodes[i].is_none() {
                    self.incarnation[i] += 1;
                    let rng = self.streams.node(node, self.incarnation[i]);
                    self.nodes[i] = Some((self.build)(node, rng));
                }
                self.up[i] = true;
                self.trace(
                    node,
                    TraceKind::Restart,
                    None,
                    u64::from(self.incarnation[i]),
                    None,
                );
                self.drain(i);
            }
            Fault::Partition { groups } => {
                self.partition.fill(0);
                for (g, members) in groups.iter().enumerate() {
                    let label = u16::try_from(g + 1).unwrap_or(u16::MAX);
                    for n in members {
                        if let Some(p) = self.partition.get_mut(n.index()) {
                            *p = label;
                        }
                    }
                }
                self.trace(
                    NodeId(0),
                    TraceKind::Partition,
                    None,
                    groups.len() as u64,
                    None,
                );
            }
            Fault::Heal => {
                self.partition.fill(0);
                self.trace(NodeId(0), TraceKind::Heal, None, 0, None);
            }
            Fault::Link { a, b, change } => {
                // A scenario's link faults are validated against its network
                // before the run, so a refusal here cannot happen for them;
                // it is traced rather than ignored all the same.
                let cause = self
                    .network
                    .change_link(a, b, &change)
                    .err()
                    .map(|_| DropCause::NoRoute);
                self.trace(a, TraceKind::LinkFault, Some(b), 0, cause);
            }
        }
    }

    /// Drains node `i`'s outputs, then refreshes its wake-up.
    fn drain(&mut self, i: usize) {
        let from = NodeId(i as u32);
        loop {
            while let Some(out) = self.nodes[i].as_mut().and_then(P::poll_output) {
                self.emit(from, out);
            }
            // A band crossed while the node worked is told once it is done.
            let Some(level) = self.battery_news(i) else {
                break;
            };
            if let Some(node) = self.nodes[i].as_mut() {
                node.handle_battery(self.now, level);
            }
        }
        let next = self.nodes[i].as_ref().and_then(P::poll_timeout);
        self.set_wakeup(i, next);
    }

    /// Handles one output of node `from`.
    fn emit(&mut self, from: NodeId, out: Output<P::Event>) {
        match out {
            Output::Transmit { to, bytes } if to == NodeId::BROADCAST => {
                self.broadcast(from, bytes)
            }
            Output::Transmit { to, bytes } => self.transmit(from, to, bytes),
            Output::Event(ev) => self.observe(from, ev),
            Output::Drop {
                from: peer,
                len,
                cause,
            } => self.drop_packet(from, peer, len, cause),
        }
    }

    /// Does the kernel's share of an event a lane ran at `time` on `node`
    /// (see [`windows`]): what [`Simulation::dispatch`] does around the
    /// protocol's call, then `outputs` as [`Simulation::drain`] does.
    fn replay(
        &mut self,
        time: Instant,
        node: NodeId,
        what: &What,
        outputs: impl Iterator<Item = Output<P::Event>>,
    ) {
        self.now = time;
        self.steps += 1;
        match *what {
            What::Received { from, len } => self.count_received(from, node, len),
            What::NodeDown { from, len } => self.drop_packet(node, from, len, DropCause::NodeDown),
            What::Woke { ran } => {
                if ran {
                    self.trace(node, TraceKind::Timeout, None, 0, None);
                }
            }
        }
        for out in outputs {
            self.emit(node, out);
        }
    }

    // ----- energy -----

    /// Spends energy from node `i`'s battery (if it has one) as `f` says, and
    /// takes the node down if that empties it.
    fn spend(&mut self, i: usize, f: impl FnOnce(&mut Battery, Instant) -> BatteryChange) {
        let Some(battery) = self.energy.as_mut().and_then(|e| e.batteries[i].as_mut()) else {
            return;
        };
        if f(battery, self.now) == BatteryChange::Empty {
            self.battery_empty(i);
        } else {
            self.schedule_battery_check(i);
        }
    }

    /// Idle drain may have crossed a band boundary at node `i` now.
    fn battery_check(&mut self, i: usize) {
        let due = self
            .energy
            .as_ref()
            .is_some_and(|e| e.check_at[i] == self.now);
        if !due || !self.up[i] {
            return; // superseded by an earlier check, or the node is down
        }
        self.spend(i, Battery::settle);
        if self.up[i] {
            self.drain(i);
        }
    }

    /// Queues a check at the next band crossing node `i`'s idle drain alone
    /// would cause, unless one at or before it is queued already.
    fn schedule_battery_check(&mut self, i: usize) {
        let Some(energy) = self.energy.as_mut() else {
            return;
        };
        let Some(at) = energy.batteries[i]
            .as_ref()
            .and_then(Battery::next_crossing)
        else {
            return;
        };
        let queued = energy.check_at[i];
        if queued <= self.now || at < queued {
            energy.check_at[i] = at;
            self.push(at, Event::Battery(i as u32));
        }
    }

    /// The band node `i`'s protocol has not been told of yet, if any.
    fn battery_news(&mut self, i: usize) -> Option<BatteryLevel> {
        let energy = self.energy.as_mut()?;
        let level = energy.batteries[i].as_ref()?.level();
        if level == energy.told[i] || !self.up[i] {
            return None;
        }
        energy.told[i] = level;
        self.trace(
            NodeId(i as u32),
            TraceKind::Battery,
            None,
            level as u64,
            None,
        );
        Some(level)
    }

    /// Node `i`'s battery ran out: the node goes down for good, its state lost.
    fn battery_empty(&mut self, i: usize) {
        if let Some(energy) = self.energy.as_mut() {
            energy.emptied_at[i] = Some(self.now);
        }
        self.up[i] = false;
        self.nodes[i] = None;
        self.set_wakeup(i, None);
        self.trace(NodeId(i as u32), TraceKind::BatteryEmpty, None, 0, None);
    }

    fn battery_is_empty(&self, i: usize) -> bool {
        self.energy
            .as_ref()
            .and_then(|e| e.batteries[i].as_ref())
            .is_some_and(Battery::is_empty)
    }

    /// A node going down stops drawing idle power: settle it up to now.
    fn settle_battery(&mut self, i: usize) {
        self.spend(i, Battery::settle);
    }

    /// A node coming back up draws idle power again from now.
    fn resume_battery(&mut self, i: usize) {
        if let Some(b) = self.energy.as_mut().and_then(|e| e.batteries[i].as_mut()) {
            b.resume(self.now);
        }
        self.schedule_battery_check(i);
    }

    fn set_wakeup(&mut self, i: usize, at: Option<Instant>) {
        let at = at.map_or(Instant::MAX, |t| t.max(self.now));
        if at == self.wake_at[i] {
            return;
        }
        self.wake_at[i] = at;
        self.wake_seq[i] = if at == Instant::MAX {
            NO_WAKEUP
        } else {
            self.push(at, Event::Wake(i as u32))
        };
    }

    /// Queues `event` at `at` with the next sequence number, which it
    /// returns: in its node's lane's inbox if the run is in windows and it
    /// is a node's event, else in the kernel's queue.
    fn push(&mut self, at: Instant, event: Event) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        match event.node() {
            Some(i) if self.window.is_some() => {
                let lane = self.lane_starts.partition_point(|&s| s <= i) - 1;
                self.inboxes[lane].push(at, seq, event);
            }
            _ => self.queue.push_at(at, seq, event),
        }
        seq
    }

    /// Sends a broadcast as one copy to each node the network reaches now.
    fn broadcast(&mut self, from: NodeId, bytes: Datagram) {
        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        self.network.broadcast_targets(self.now, from, &mut targets);
        if let Some((&last, rest)) = targets.split_last() {
            for &to in rest {
                self.transmit(from, to, bytes.clone());
            }
            self.transmit(from, last, bytes);
        }
        self.targets = targets;
    }

    fn transmit(&mut self, from: NodeId, to: NodeId, bytes: Datagram) {
        let len = bytes.len();
        let c = &mut self.metrics.nodes[from.index()];
        c.packets_sent += 1;
        c.bytes_sent += len as u64;
        self.metrics.packets_sent += 1;
        self.metrics.bytes_sent += len as u64;
        self.trace(from, TraceKind::Send, Some(to), len as u64, None);
        let via = self.network.interface(from, &bytes);
        self.spend(from.index(), |b, now| b.send(now, via, len));
        // (`partition`, not `up`: the lanes hold `up` while a window runs.)
        if to.index() >= self.partition.len() {
            return self.drop_packet(from, to, len, DropCause::NoRoute);
        }
        if self.partition[from.index()] != self.partition[to.index()] {
            return self.drop_packet(from, to, len, DropCause::LinkDown);
        }
        match self.network.send_via(via, self.now, from, to, len) {
            Ok(at) => {
                let queued = false;
                self.push(
                    at,
                    Event::Packet {
                        from,
                        to,
                        queued,
                        bytes,
                    },
                );
            }
            Err(cause) => self.drop_packet(from, to, len, cause),
        }
    }

    fn observe(&mut self, node: NodeId, ev: P::Event) {
        match ev.observe() {
            Some(Observation::Sent { msg, expected }) => {
                let record = MessageRecord {
                    source: node,
                    sent_at: self.now,
                    expected,
                };
                // A reused id keeps its first record (deliveries cannot then
                // look faster than the network) and is counted: a protocol bug.
                match self.metrics.messages.entry(msg) {
                    Entry::Vacant(slot) => {
                        slot.insert(record);
                    }
                    Entry::Occupied(_) => self.metrics.reused_message_ids += 1,
                }
                self.trace(node, TraceKind::MessageSent, None, msg, None);
            }
            Some(Observation::Relayed { .. }) => self.metrics.nodes[node.index()].relays += 1,
            Some(Observation::Duplicate { .. }) => self.metrics.nodes[node.index()].duplicates += 1,
            Some(Observation::LookupStarted { lookup }) => {
                let record = LookupRecord {
                    node,
                    started_at: self.now,
                    done: None,
                };
                if self.metrics.lookups.insert(lookup, record).is_some() {
                    self.metrics.reused_message_ids += 1;
                }
                self.trace(node, TraceKind::LookupStarted, None, lookup, None);
            }
            Some(Observation::LookupDone {
                lookup,
                hops,
                requests,
                success,
            }) => {
                if let Some(l) = self.metrics.lookups.get_mut(&lookup) {
                    l.done = Some(LookupEnd {
                        at: self.now,
                        hops,
                        requests,
                        success,
                    });
                }
                self.trace(node, TraceKind::LookupDone, None, lookup, None);
            }
            Some(Observation::Delivered { msg, hops }) => {
                match self.metrics.messages.get(&msg) {
                    Some(m) => {
                        let record = DeliveryRecord {
                            msg,
                            source: m.source,
                            destination: node,
                            sent_at: m.sent_at,
                            delivered_at: self.now,
                            hops,
                        };
                        self.metrics.deliveries.push(record);
                    }
                    None => self.metrics.deliveries_without_send += 1,
                }
                self.trace(node, TraceKind::MessageDelivered, None, msg, None);
            }
            None => {}
        }
        if let Some(events) = &mut self.events {
            if (self.keep_event)(&ev) {
                events.push((self.now, node, ev));
            }
        }
    }

    fn drop_packet(&mut self, node: NodeId, peer: NodeId, len: usize, cause: DropCause) {
        self.metrics.record_drop(node, cause);
        self.trace(node, TraceKind::Drop, Some(peer), len as u64, Some(cause));
    }

    #[inline]
    fn trace(
        &mut self,
        node: NodeId,
        kind: TraceKind,
        peer: Option<NodeId>,
        size: u64,
        cause: Option<DropCause>,
    ) {
        let record = TraceRecord {
            time: self.now,
            node,
            kind,
            peer,
            size,
            cause,
        };
        self.hash.fold(&record);
        if let Some(ts) = &mut self.metrics.timeseries {
            ts.record(&record);
        }
        if matches!(
            kind,
            TraceKind::Crash
                | TraceKind::BatteryEmpty
                | TraceKind::Restart
                | TraceKind::LinkFault
                | TraceKind::Partition
                | TraceKind::Heal
        ) {
            self.metrics.faults.push(record);
        }
        if let Some(sink) = &mut self.trace_sink {
            sink(&record);
        }
    }
}

impl<P: Protocol, N: Network> std::fmt::Debug for Simulation<P, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("now", &self.now)
            .field("nodes", &self.nodes.len())
            .field("queued", &self.queue.len())
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}
