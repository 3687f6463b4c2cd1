//! The v1.1 backoff table: which (topic, peer) pairs may not be grafted yet.

use sim_core::{Duration, Instant, NodeId};

use super::wire::TopicId;

/// Deadlines before which a peer may not be grafted again in a topic.
///
/// Both sides of a PRUNE record one: the pruning node for the peer it
/// pruned, the pruned node for the peer that pruned it (with the backoff the
/// PRUNE carried). A deadline only ever moves later.
///
/// # Implementation notes
///
/// A `Vec` scanned linearly: a node holds a backoff for the few peers it
/// pruned or was pruned by in the last minute, so the table stays small and
/// a scan beats a map's allocation per entry. Entries are forgotten by
/// [`expire`](BackoffTable::expire) one slack after their deadline, so that
/// the heartbeat's own grafting can wait out the slack the spec asks for.
#[derive(Clone, Debug, Default)]
pub struct BackoffTable {
    entries: Vec<(TopicId, NodeId, Instant)>,
}

impl BackoffTable {
    /// An empty table.
    pub fn new() -> Self {
        BackoffTable::default()
    }

    /// Backs `peer` off in `topic` until at least `until`.
    pub fn set(&mut self, topic: TopicId, peer: NodeId, until: Instant) {
        match self
            .entries
            .iter_mut()
            .find(|(t, p, _)| *t == topic && *p == peer)
        {
            Some((_, _, at)) => *at = (*at).max(until),
            None => self.entries.push((topic, peer, until)),
        }
    }

    /// The deadline for `peer` in `topic`, if there is one.
    pub fn until(&self, topic: TopicId, peer: NodeId) -> Option<Instant> {
        self.entries
            .iter()
            .find(|(t, p, _)| *t == topic && *p == peer)
            .map(|&(_, _, at)| at)
    }

    /// Whether `peer` is backed off in `topic` at `now`, counting `slack`
    /// after the deadline.
    pub fn is_backing_off(
        &self,
        topic: TopicId,
        peer: NodeId,
        now: Instant,
        slack: Duration,
    ) -> bool {
        self.until(topic, peer)
            .is_some_and(|at| now < at.saturating_add(slack))
    }

    /// Forgets the entries whose deadline plus `slack` is at or before `now`.
    pub fn expire(&mut self, now: Instant, slack: Duration) {
        self.entries
            .retain(|&(_, _, at)| at.saturating_add(slack) > now);
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(s)
    }

    #[test]
    fn a_backoff_only_grows_and_expires_after_its_slack() {
        let mut b = BackoffTable::new();
        let (t, p) = (TopicId(1), NodeId(2));
        b.set(t, p, at(60));
        b.set(t, p, at(10));
        assert_eq!(b.until(t, p), Some(at(60)));
        assert_eq!(b.until(TopicId(2), p), None);
        let slack = Duration::from_secs(1);
        assert!(b.is_backing_off(t, p, at(60), slack));
        assert!(!b.is_backing_off(t, p, at(61), slack));
        assert!(!b.is_backing_off(t, p, at(60), Duration::ZERO));
        b.expire(at(60), slack);
        assert_eq!(b.len(), 1);
        b.expire(at(61), slack);
        assert!(b.is_empty());
    }
}
