//! The neighbour table: the nodes whose announces this node heard lately.
//!
//! A node learns its neighbours only from their announces, and hears an
//! announce only while it scans (see [`PowerProfile`](super::PowerProfile)):
//! the scan duty cycle trades discovery latency and neighbour freshness for
//! energy. A neighbour unheard for the timeout is forgotten. The degree (how
//! many neighbours) sets the relay jitter and the dense-neighbourhood TTL
//! cap; membership decides whether a directed packet goes straight to its
//! recipient.

use std::collections::BTreeMap;

use sim_core::{Duration, Instant, NodeId};

/// Neighbours and when each was last heard.
#[derive(Clone, Debug)]
pub struct Neighbours {
    timeout: Duration,
    last_heard: BTreeMap<NodeId, Instant>,
}

impl Neighbours {
    /// No neighbours; each heard one is kept for `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Neighbours {
            timeout,
            last_heard: BTreeMap::new(),
        }
    }

    /// `node`'s announce was heard at `now`. Returns whether it is new.
    pub fn heard(&mut self, now: Instant, node: NodeId) -> bool {
        self.last_heard.insert(node, now).is_none()
    }

    /// Forgets the neighbours unheard since `now - timeout` or earlier,
    /// pushing them onto `gone` in node order.
    pub fn expire(&mut self, now: Instant, gone: &mut Vec<NodeId>) {
        let timeout = self.timeout;
        self.last_heard.retain(|&node, &mut heard| {
            let alive = heard.saturating_add(timeout) > now;
            if !alive {
                gone.push(node);
            }
            alive
        });
    }

    /// When the next neighbour will be forgotten, if any is known.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.last_heard
            .values()
            .min()
            .map(|&heard| heard.saturating_add(self.timeout))
    }

    /// Whether `node` is a neighbour.
    pub fn contains(&self, node: NodeId) -> bool {
        self.last_heard.contains_key(&node)
    }

    /// How many neighbours there are: the node's degree.
    pub fn len(&self) -> usize {
        self.last_heard.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.last_heard.is_empty()
    }

    /// The neighbours, in node order.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.last_heard.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    #[test]
    fn a_neighbour_lives_until_the_timeout_after_it_was_last_heard() {
        let mut table = Neighbours::new(Duration::from_secs(30));
        assert!(table.heard(at(0), NodeId(4)));
        assert!(table.heard(at(5), NodeId(2)));
        assert!(!table.heard(at(10), NodeId(4)), "heard again: not new");
        assert_eq!(table.next_expiry(), Some(at(35)));
        assert_eq!(table.iter().collect::<Vec<_>>(), [NodeId(2), NodeId(4)]);

        let mut gone = Vec::new();
        table.expire(at(34), &mut gone);
        assert!(gone.is_empty() && table.len() == 2);
        table.expire(at(35), &mut gone);
        assert_eq!(gone, [NodeId(2)]);
        assert!(table.contains(NodeId(4)) && !table.contains(NodeId(2)));
        table.expire(at(40), &mut gone);
        assert_eq!(gone, [NodeId(2), NodeId(4)]);
        assert!(table.is_empty() && table.next_expiry().is_none());
    }
}
