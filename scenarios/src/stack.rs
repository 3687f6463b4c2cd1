//! The protocol stack a node runs, chosen per group by the scenario.
//!
//! The kernel drives one protocol type per run; a scenario may mix protocols
//! across groups, so the stack is an enum that forwards each call to the
//! protocol inside. Datagrams of one protocol reaching a node of another are
//! malformed input to it, counted and dropped like any other.

use protocols::flood::{Flood, FloodCommand, FloodEvent};
use protocols::ping::{Ping, PingCommand, PingEvent};
use sim_core::{Instant, NodeId, Observation, Observe, Output, Protocol};

/// A node's protocol.
#[derive(Debug)]
pub enum Stack {
    /// Ping.
    Ping(Ping),
    /// Flood.
    Flood(Flood),
}

/// A command for whichever protocol a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackCommand {
    /// For a ping node.
    Ping(PingCommand),
    /// For a flood node.
    Flood(FloodCommand),
}

/// An event from whichever protocol a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackEvent {
    /// From a ping node.
    Ping(PingEvent),
    /// From a flood node.
    Flood(FloodEvent),
}

impl Observe for StackEvent {
    fn observe(&self) -> Option<Observation> {
        match self {
            StackEvent::Ping(e) => e.observe(),
            StackEvent::Flood(e) => e.observe(),
        }
    }
}

impl Protocol for Stack {
    type Command = StackCommand;
    type Event = StackEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        match self {
            Stack::Ping(p) => p.handle_datagram(now, from, bytes),
            Stack::Flood(p) => p.handle_datagram(now, from, bytes),
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: StackCommand) {
        // The scenario checks that each workload fits its group's protocol, so
        // a mismatched command cannot be scheduled; it would be ignored.
        match (self, cmd) {
            (Stack::Ping(p), StackCommand::Ping(c)) => p.handle_command(now, c),
            (Stack::Flood(p), StackCommand::Flood(c)) => p.handle_command(now, c),
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Stack::Ping(p) => p.handle_timeout(now),
            Stack::Flood(p) => p.handle_timeout(now),
        }
    }

    fn poll_output(&mut self) -> Option<Output<StackEvent>> {
        match self {
            Stack::Ping(p) => p.poll_output().map(|o| o.map_event(StackEvent::Ping)),
            Stack::Flood(p) => p.poll_output().map(|o| o.map_event(StackEvent::Flood)),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Stack::Ping(p) => p.poll_timeout(),
            Stack::Flood(p) => p.poll_timeout(),
        }
    }
}
