//! The protocol stack a node runs, chosen per group by the scenario.
//!
//! The kernel drives one protocol type per run; a scenario may mix protocols
//! across groups, so the stack is an enum that forwards each call to the
//! protocol inside. Datagrams of one protocol reaching a node of another are
//! malformed input to it, counted and dropped like any other.
//!
//! The large protocols (GossipSub, Kademlia, libp2p nodes) are boxed, so
//! that a run of small ones (flood, ping) does not pay for their size per node.
//!
//! A stand-alone GossipSub node needs work at start that its builder cannot
//! do (adding its peers and subscribing, which send messages, while a builder
//! runs before the node's clock starts): [`StartUp`] holds that
//! work and does it on the node's first wake-up, at time zero for nodes built
//! at the start and at restart time for nodes rebuilt after a crash.
//!
//! Two more wrappers give the run what a bare protocol keeps to itself:
//! [`DiscoveryStack`] reports when a workload command starts or stops a
//! client's heartbeats (the staleness figures date a peer's death by it),
//! and [`SignalingStack`] resolves a `SendDirect` to "one of my open
//! channels", which the workload cannot know.

use protocols::ble_mesh::{BleCommand, BleEvent, BleMesh};
use protocols::dht::{Dht, DhtCommand, DhtEvent};
use protocols::discovery::{Discovery, DiscoveryCommand, DiscoveryEvent};
use protocols::flood::{Flood, FloodCommand, FloodEvent};
use protocols::gossip::{Gossip, GossipCommand, GossipEvent};
use protocols::libp2p::{Libp2pCommand, Libp2pEvent, Libp2pNode};
use protocols::ping::{Ping, PingCommand, PingEvent};
use protocols::signaling::{SignalingCommand, SignalingEvent, SignalingNode};
use sim_core::{BatteryLevel, Instant, NodeId, Observation, Observe, Output, Protocol};

/// A protocol with commands to run on its first wake-up.
///
/// `repr(C)`, commands first: every input checks them, and so they share a
/// cache line with the start of `inner` (whose hot fields come first).
#[derive(Debug)]
#[repr(C)]
pub struct StartUp<P: Protocol> {
    pending: Vec<P::Command>,
    inner: P,
}

impl<P: Protocol> StartUp<P> {
    /// `inner`, which gets `commands` when the node first runs.
    pub fn new(inner: P, commands: Vec<P::Command>) -> Self {
        StartUp {
            inner,
            pending: commands,
        }
    }
    /// The protocol.
    pub fn inner(&self) -> &P {
        &self.inner
    }
    fn start(&mut self, now: Instant) {
        if self.pending.is_empty() {
            return;
        }
        for cmd in std::mem::take(&mut self.pending) {
            self.inner.handle_command(now, cmd);
        }
    }
}

impl<P: Protocol> Protocol for StartUp<P> {
    type Command = P::Command;
    type Event = P::Event;
    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.start(now);
        self.inner.handle_datagram(now, from, bytes);
    }
    fn handle_command(&mut self, now: Instant, cmd: P::Command) {
        self.start(now);
        self.inner.handle_command(now, cmd);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.start(now);
        self.inner.handle_timeout(now);
    }
    fn poll_output(&mut self) -> Option<Output<P::Event>> {
        self.inner.poll_output()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            self.inner.poll_timeout()
        } else {
            Some(Instant::ZERO)
        }
    }
    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        self.inner.handle_battery(now, level);
    }
    fn prefetch(&self, round: u32) {
        self.inner.prefetch(round);
    }
}

/// What a discovery node reports: its protocol's events, and when a
/// command turned its heartbeats on or off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryNote {
    /// The protocol's event.
    Event(DiscoveryEvent),
    /// A `Register` started the client's heartbeats (`true`), or a
    /// `StopHeartbeats` stopped them (`false`). Only changes are reported:
    /// registering again while heartbeating, or stopping twice, is not.
    Heartbeats(bool),
}

impl Observe for DiscoveryNote {
    fn observe(&self) -> Option<Observation> {
        match self {
            DiscoveryNote::Event(e) => e.observe(),
            DiscoveryNote::Heartbeats(_) => None,
        }
    }
}

/// A discovery node that reports its heartbeats' changes
/// ([`DiscoveryNote::Heartbeats`]); otherwise the protocol as it is.
#[derive(Debug)]
pub struct DiscoveryStack {
    inner: Discovery,
    /// A change not yet polled.
    changed: Option<bool>,
}

impl DiscoveryStack {
    /// Wraps `inner`.
    pub fn new(inner: Discovery) -> Self {
        DiscoveryStack {
            inner,
            changed: None,
        }
    }
    /// The protocol.
    pub fn inner(&self) -> &Discovery {
        &self.inner
    }
    fn heartbeating(&self) -> bool {
        self.inner.as_client().is_some_and(|c| c.heartbeating())
    }
}

impl Protocol for DiscoveryStack {
    type Command = DiscoveryCommand;
    type Event = DiscoveryNote;
    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.inner.handle_datagram(now, from, bytes);
    }
    fn handle_command(&mut self, now: Instant, cmd: DiscoveryCommand) {
        let before = self.heartbeating();
        self.inner.handle_command(now, cmd);
        let after = self.heartbeating();
        if after != before {
            self.changed = Some(after);
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
    }
    fn poll_output(&mut self) -> Option<Output<DiscoveryNote>> {
        // The change comes first: the command caused it before any output.
        if let Some(on) = self.changed.take() {
            return Some(Output::Event(DiscoveryNote::Heartbeats(on)));
        }
        self.inner
            .poll_output()
            .map(|o| o.map_event(DiscoveryNote::Event))
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
}

/// What a workload asks of a signaling node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalingOrder {
    /// A command as the protocol takes it.
    Command(SignalingCommand),
    /// `SendDirect` of `size` bytes to the peer's open channel number
    /// `pick mod n` (in node order) of the `n` it has; nothing if it has
    /// none.
    SendOnChannel {
        /// The message's size in bytes.
        size: u32,
        /// Which channel, drawn by the workload.
        pick: u32,
    },
}

/// A signaling node that takes [`SignalingOrder`]s; otherwise the protocol
/// as it is.
#[derive(Debug)]
pub struct SignalingStack {
    inner: SignalingNode,
}

impl SignalingStack {
    /// Wraps `inner`.
    pub fn new(inner: SignalingNode) -> Self {
        SignalingStack { inner }
    }
}

impl Protocol for SignalingStack {
    type Command = SignalingOrder;
    type Event = SignalingEvent;
    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.inner.handle_datagram(now, from, bytes);
    }
    fn handle_command(&mut self, now: Instant, order: SignalingOrder) {
        let cmd = match order {
            SignalingOrder::Command(cmd) => Some(cmd),
            SignalingOrder::SendOnChannel { size, pick } => self.inner.peer().and_then(|p| {
                let open = p.open_channels().count();
                let to = p.open_channels().nth(pick as usize % open.max(1))?;
                Some(SignalingCommand::SendDirect { to, size })
            }),
        };
        match cmd {
            Some(cmd) => self.inner.handle_command(now, cmd),
            // Nothing to send: still bring the timers up to `now`.
            None => self.inner.handle_timeout(now),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
    }
    fn poll_output(&mut self) -> Option<Output<SignalingEvent>> {
        self.inner.poll_output()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
}

macro_rules! stack {
    ($($variant:ident($proto:ty, $cmd:ty, $event:ty)),* $(,)?) => {
        /// A node's protocol.
        #[derive(Debug)]
        pub enum Stack {
            $(#[doc = concat!("A ", stringify!($variant), " node.")] $variant($proto),)*
        }

        /// A command for whichever protocol a node runs (not `Copy`: a
        /// discovery `Register` carries its archetypes).
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum StackCommand {
            $(#[doc = concat!("For a ", stringify!($variant), " node.")] $variant($cmd),)*
        }

        /// An event from whichever protocol a node runs.
        #[derive(Clone, Debug, PartialEq)]
        pub enum StackEvent {
            $(#[doc = concat!("From a ", stringify!($variant), " node.")] $variant($event),)*
        }

        impl Observe for StackEvent {
            fn observe(&self) -> Option<Observation> {
                match self {
                    $(StackEvent::$variant(e) => e.observe(),)*
                }
            }
        }

        impl Protocol for Stack {
            type Command = StackCommand;
            type Event = StackEvent;

            fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
                match self {
                    $(Stack::$variant(p) => p.handle_datagram(now, from, bytes),)*
                }
            }

            fn handle_command(&mut self, now: Instant, cmd: StackCommand) {
                // The scenario checks that each workload fits its group's
                // protocol, so a mismatched command cannot be scheduled.
                match (self, cmd) {
                    $((Stack::$variant(p), StackCommand::$variant(c)) => p.handle_command(now, c),)*
                    _ => {}
                }
            }

            fn handle_timeout(&mut self, now: Instant) {
                match self {
                    $(Stack::$variant(p) => p.handle_timeout(now),)*
                }
            }

            fn poll_output(&mut self) -> Option<Output<StackEvent>> {
                match self {
                    $(Stack::$variant(p) => p.poll_output().map(|o| o.map_event(StackEvent::$variant)),)*
                }
            }

            fn poll_timeout(&self) -> Option<Instant> {
                match self {
                    $(Stack::$variant(p) => p.poll_timeout(),)*
                }
            }

            fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
                match self {
                    $(Stack::$variant(p) => p.handle_battery(now, level),)*
                }
            }

            fn prefetch(&self, round: u32) {
                match self {
                    $(Stack::$variant(p) => p.prefetch(round),)*
                }
            }
        }
    };
}

// Every variant is boxed, so that a node's slot in the kernel's table is a
// tag and a pointer: 16 bytes rather than 160 (an inline `Flood`). At 10⁵
// nodes that table then fits in a core's L2 cache and its pages in the TLB.
stack! {
    Ping(Box<Ping>, PingCommand, PingEvent),
    Flood(Box<Flood>, FloodCommand, FloodEvent),
    Gossip(Box<StartUp<Gossip>>, GossipCommand, GossipEvent),
    Dht(Box<Dht>, DhtCommand, DhtEvent),
    Libp2p(Box<Libp2pNode>, Libp2pCommand, Libp2pEvent),
    BleMesh(Box<BleMesh>, BleCommand, BleEvent),
    Discovery(Box<DiscoveryStack>, DiscoveryCommand, DiscoveryNote),
    Signaling(Box<SignalingStack>, SignalingOrder, SignalingEvent),
}
