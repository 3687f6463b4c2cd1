//! Faults on a schedule: crashes and restarts, partitions, link changes, churn.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use rand::RngCore;

use crate::dist::{exponential_f64, uniform_below, Dist};
use crate::network::LinkChange;
use crate::protocol::NodeId;
use crate::rng::SimRng;
use crate::source::{Action, Source};
use crate::time::{Duration, Instant};

/// Something that goes wrong (or right again) at a scheduled time.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The node stops: it receives nothing, its timers do not fire, datagrams
    /// to it are dropped as `node_down`. With `lose_state` its protocol state
    /// is discarded and rebuilt fresh (with a new RNG stream) on restart;
    /// without, it resumes where it stopped.
    Crash {
        /// The node.
        node: NodeId,
        /// Whether the node's state is lost.
        lose_state: bool,
    },
    /// The node comes back up.
    Restart {
        /// The node.
        node: NodeId,
    },
    /// The network splits: nodes in different groups cannot reach each other
    /// (drops count as `link_down`). Nodes in no group form one more group.
    Partition {
        /// The groups.
        groups: Vec<Vec<NodeId>>,
    },
    /// Every partition ends.
    Heal,
    /// One link changes (down, up, new loss).
    Link {
        /// One end.
        a: NodeId,
        /// The other end.
        b: NodeId,
        /// What changes.
        change: LinkChange,
    },
}

/// Churn: nodes leave at Poisson times and come back after a random downtime
/// with fresh state, as peers of a real overlay do.
///
/// Each departure picks uniformly among the nodes of `nodes` that this source
/// has not already taken down.
#[derive(Debug)]
pub struct Churn {
    nodes: Vec<NodeId>,
    down: BTreeSet<NodeId>,
    mean_gap_ns: f64,
    downtime: Dist,
    stop: Instant,
    next_leave: Instant,
    returns: BinaryHeap<Reverse<(Instant, NodeId)>>,
    rng: SimRng,
}

impl Churn {
    /// `rate` departures per second among `nodes`, from `start` to `stop`,
    /// each node back after a `downtime` drawn from the distribution.
    pub fn new(
        nodes: Vec<NodeId>,
        rate_per_sec: f64,
        downtime: Dist,
        start: Instant,
        stop: Instant,
        mut rng: SimRng,
    ) -> Self {
        let mean_gap_ns = 1e9 / rate_per_sec;
        let first = start.saturating_add(gap(&mut rng, mean_gap_ns));
        Churn {
            nodes,
            down: BTreeSet::new(),
            mean_gap_ns,
            downtime,
            stop,
            next_leave: first,
            returns: BinaryHeap::new(),
            rng,
        }
    }
}

fn gap<R: RngCore + ?Sized>(rng: &mut R, mean_ns: f64) -> Duration {
    Duration::from_nanos(exponential_f64(rng, mean_ns).round() as u64)
}

impl<C> Source<C> for Churn {
    fn next(&mut self) -> Option<(Instant, Action<C>)> {
        let leave_due = self.next_leave < self.stop && self.down.len() < self.nodes.len();
        if let Some(&Reverse((at, node))) = self.returns.peek() {
            if !leave_due || at <= self.next_leave {
                self.returns.pop();
                self.down.remove(&node);
                return Some((at, Action::Fault(Fault::Restart { node })));
            }
        }
        if !leave_due {
            return None;
        }
        let at = self.next_leave;
        self.next_leave = at.saturating_add(gap(&mut self.rng, self.mean_gap_ns));
        let up = self.nodes.len() - self.down.len();
        let k = uniform_below(&mut self.rng, up as u64) as usize;
        let node = self
            .nodes
            .iter()
            .copied()
            .filter(|n| !self.down.contains(n))
            .nth(k)?;
        self.down.insert(node);
        let back = at.saturating_add(self.downtime.sample(&mut self.rng));
        self.returns.push(Reverse((back, node)));
        Some((
            at,
            Action::Fault(Fault::Crash {
                node,
                lose_state: true,
            }),
        ))
    }
}
