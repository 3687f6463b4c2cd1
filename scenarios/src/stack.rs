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

use protocols::ble_mesh::{BleCommand, BleEvent, BleMesh};
use protocols::dht::{Dht, DhtCommand, DhtEvent};
use protocols::flood::{Flood, FloodCommand, FloodEvent};
use protocols::gossip::{Gossip, GossipCommand, GossipEvent};
use protocols::libp2p::{Libp2pCommand, Libp2pEvent, Libp2pNode};
use protocols::ping::{Ping, PingCommand, PingEvent};
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

macro_rules! stack {
    ($($variant:ident($proto:ty, $cmd:ty, $event:ty)),* $(,)?) => {
        /// A node's protocol.
        #[derive(Debug)]
        pub enum Stack {
            $(#[doc = concat!("A ", stringify!($variant), " node.")] $variant($proto),)*
        }

        /// A command for whichever protocol a node runs.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

stack! {
    Ping(Ping, PingCommand, PingEvent),
    Flood(Flood, FloodCommand, FloodEvent),
    Gossip(Box<StartUp<Gossip>>, GossipCommand, GossipEvent),
    Dht(Box<Dht>, DhtCommand, DhtEvent),
    Libp2p(Box<Libp2pNode>, Libp2pCommand, Libp2pEvent),
    BleMesh(Box<BleMesh>, BleCommand, BleEvent),
}
