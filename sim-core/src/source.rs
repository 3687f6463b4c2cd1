//! Event sources: lazily generated streams of scheduled commands and faults.
//!
//! A workload that sends every 100 ms from 100,000 nodes for an hour would be
//! billions of events if scheduled up front. A source instead yields its
//! actions one at a time in time order; the kernel keeps exactly one pending
//! event per source and asks for the next action when that one runs.

use crate::fault::Fault;
use crate::protocol::NodeId;
use crate::time::Instant;

/// One scheduled action.
#[derive(Clone, Debug, PartialEq)]
pub enum Action<C> {
    /// Give `node` the command `cmd`.
    Command {
        /// The node.
        node: NodeId,
        /// The command.
        cmd: C,
    },
    /// Apply a fault.
    Fault(Fault),
}

/// A stream of actions in non-decreasing time order.
pub trait Source<C> {
    /// The next action and its time, or `None` when the source is done. Times
    /// must not decrease from one call to the next, and must not be earlier
    /// than the time the previous action ran.
    fn next(&mut self) -> Option<(Instant, Action<C>)>;
}

/// A fixed list of actions, sorted by time (stable, so equal times keep their
/// order). Handy for tests and for the faults section of a scenario.
#[derive(Debug)]
pub struct Script<C> {
    actions: std::vec::IntoIter<(Instant, Action<C>)>,
}

impl<C> Script<C> {
    /// The actions, in time order.
    pub fn new(mut actions: Vec<(Instant, Action<C>)>) -> Self {
        actions.sort_by_key(|(t, _)| *t);
        Script {
            actions: actions.into_iter(),
        }
    }
}

impl<C> Source<C> for Script<C> {
    fn next(&mut self) -> Option<(Instant, Action<C>)> {
        self.actions.next()
    }
}
