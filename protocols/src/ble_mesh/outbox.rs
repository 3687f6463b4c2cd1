//! Store-and-forward: the directed messages a node has originated and not
//! yet seen acknowledged by their recipient, queued per recipient.
//!
//! Every directed message a node originates waits here. When the recipient
//! is a neighbour (its announce was heard lately), the node hands the
//! message over at once, by unicast with hop-by-hop acknowledgements; when
//! it is not, the node floods the message and keeps it, and hands it over
//! whenever it hears the recipient's announce. A message leaves the outbox
//! when every one of its packets is acknowledged, when it expires, when its
//! hand-overs run out, or when a newer message to the same recipient needs
//! its place.

use std::collections::{BTreeMap, VecDeque};

use sim_core::{Duration, Instant, NodeId};

/// A message waiting for its recipient.
#[derive(Clone, Debug)]
struct Entry {
    msg: u64,
    /// How many hand-overs it has had.
    attempts: u8,
    /// How many of its packets are out waiting for an acknowledgement.
    in_flight: usize,
    /// Its packets not yet acknowledged: key and bytes.
    packets: Vec<(u64, Vec<u8>)>,
}

/// How a message left the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Resolution {
    /// Every packet was acknowledged by the recipient.
    Delivered(u64),
    /// Its hand-overs ran out before that.
    Abandoned(u64),
}

/// One node's outbox.
#[derive(Clone, Debug)]
pub(super) struct Outbox {
    capacity: usize,
    ttl: Duration,
    max_attempts: u8,
    queues: BTreeMap<NodeId, VecDeque<Entry>>,
    /// Every entry's expiry, in the order they were queued (so sorted); an
    /// entry that left early leaves its expiry behind, skipped.
    expiries: VecDeque<(Instant, NodeId, u64)>,
}

impl Outbox {
    /// An empty outbox keeping at most `capacity` messages (at least one)
    /// per recipient, each for `ttl`, each handed over at most
    /// `max_attempts` times.
    pub(super) fn new(capacity: usize, ttl: Duration, max_attempts: u8) -> Self {
        Outbox {
            capacity: capacity.max(1),
            ttl,
            max_attempts,
            queues: BTreeMap::new(),
            expiries: VecDeque::new(),
        }
    }

    /// Queues message `msg` for `to` as `packets` (key and bytes each).
    /// Returns the message it evicted to make room, if any.
    pub(super) fn push(
        &mut self,
        now: Instant,
        to: NodeId,
        msg: u64,
        packets: Vec<(u64, Vec<u8>)>,
    ) -> Option<u64> {
        let queue = self.queues.entry(to).or_default();
        let evicted = if queue.len() >= self.capacity {
            queue.pop_front().map(|e| e.msg)
        } else {
            None
        };
        queue.push_back(Entry {
            msg,
            attempts: 0,
            in_flight: 0,
            packets,
        });
        self.expiries
            .push_back((now.saturating_add(self.ttl), to, msg));
        evicted
    }

    /// Hands over what waits for `to`: every message not already out with
    /// hand-overs left counts one more, and its unacknowledged packets come
    /// back (message, key, bytes) for the caller to unicast.
    pub(super) fn hand_over(&mut self, to: NodeId) -> Vec<(u64, u64, Vec<u8>)> {
        let mut out = Vec::new();
        let Some(queue) = self.queues.get_mut(&to) else {
            return out;
        };
        for entry in queue {
            if entry.in_flight > 0 || entry.attempts >= self.max_attempts {
                continue;
            }
            entry.attempts += 1;
            entry.in_flight = entry.packets.len();
            out.extend(
                entry
                    .packets
                    .iter()
                    .map(|(key, bytes)| (entry.msg, *key, bytes.clone())),
            );
        }
        out
    }

    /// A handed-over packet `key` to `to` was acknowledged (`acked`) or
    /// given up on. Returns how its message left the outbox, if it did:
    /// delivered once every packet is acknowledged, abandoned once nothing
    /// is out and no hand-over is left.
    pub(super) fn resolve(&mut self, to: NodeId, key: u64, acked: bool) -> Option<Resolution> {
        let queue = self.queues.get_mut(&to)?;
        let i = queue
            .iter()
            .position(|e| e.in_flight > 0 && e.packets.iter().any(|&(k, _)| k == key))?;
        let entry = &mut queue[i];
        entry.in_flight -= 1;
        if acked {
            entry.packets.retain(|&(k, _)| k != key);
        }
        let resolution = if entry.packets.is_empty() {
            Resolution::Delivered(entry.msg)
        } else if entry.in_flight == 0 && entry.attempts >= self.max_attempts {
            Resolution::Abandoned(entry.msg)
        } else {
            return None;
        };
        queue.remove(i);
        if queue.is_empty() {
            self.queues.remove(&to);
        }
        Some(resolution)
    }

    /// Removes the messages whose time is up at `now`, pushing
    /// (recipient, message) onto `expired`.
    pub(super) fn expire(&mut self, now: Instant, expired: &mut Vec<(NodeId, u64)>) {
        while let Some(&(deadline, to, msg)) = self.expiries.front() {
            if deadline > now {
                break;
            }
            self.expiries.pop_front();
            let Some(queue) = self.queues.get_mut(&to) else {
                continue;
            };
            if let Some(i) = queue.iter().position(|e| e.msg == msg) {
                queue.remove(i);
                expired.push((to, msg));
            }
            if queue.is_empty() {
                self.queues.remove(&to);
            }
        }
    }

    /// The earliest expiry queued (its message may have left already: a
    /// wake-up then finds nothing to do).
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.expiries.front().map(|&(deadline, _, _)| deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TO: NodeId = NodeId(9);

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    fn waiting(outbox: &Outbox) -> usize {
        outbox.queues.get(&TO).map_or(0, VecDeque::len)
    }

    fn outbox() -> Outbox {
        Outbox::new(2, Duration::from_secs(100), 2)
    }

    fn packets(keys: &[u64]) -> Vec<(u64, Vec<u8>)> {
        keys.iter().map(|&k| (k, vec![k as u8])).collect()
    }

    #[test]
    fn a_message_is_delivered_once_every_packet_is_acknowledged() {
        let mut outbox = outbox();
        assert_eq!(outbox.push(at(0), TO, 1, packets(&[10, 11])), None);
        let out = outbox.hand_over(TO);
        assert_eq!(out, [(1, 10, vec![10]), (1, 11, vec![11])]);
        assert!(outbox.hand_over(TO).is_empty(), "already out");
        assert_eq!(outbox.resolve(TO, 10, true), None);
        assert_eq!(outbox.resolve(TO, 10, true), None, "acknowledged twice");
        assert_eq!(outbox.resolve(TO, 11, true), Some(Resolution::Delivered(1)));
        assert_eq!(waiting(&outbox), 0);
    }

    #[test]
    fn a_message_is_abandoned_when_its_hand_overs_run_out() {
        let mut outbox = outbox();
        outbox.push(at(0), TO, 1, packets(&[10, 11]));
        outbox.hand_over(TO);
        assert_eq!(outbox.resolve(TO, 10, false), None);
        assert_eq!(outbox.resolve(TO, 11, true), None, "one hand-over left");
        // Only the packet still unacknowledged goes out again.
        assert_eq!(outbox.hand_over(TO), [(1, 10, vec![10])]);
        assert_eq!(
            outbox.resolve(TO, 10, false),
            Some(Resolution::Abandoned(1))
        );
        assert_eq!(waiting(&outbox), 0);
    }

    #[test]
    fn a_full_queue_evicts_its_oldest_and_messages_expire() {
        let mut outbox = outbox();
        outbox.push(at(0), TO, 1, packets(&[10]));
        outbox.push(at(1), TO, 2, packets(&[20]));
        assert_eq!(outbox.push(at(2), TO, 3, packets(&[30])), Some(1));
        assert_eq!(waiting(&outbox), 2);
        assert_eq!(outbox.next_expiry(), Some(at(100)));

        let mut expired = Vec::new();
        outbox.expire(at(100), &mut expired);
        assert!(expired.is_empty(), "message 1 left already");
        outbox.expire(at(101), &mut expired);
        assert_eq!(expired, [(TO, 2)]);
        outbox.expire(at(102), &mut expired);
        assert_eq!(expired, [(TO, 2), (TO, 3)]);
        assert_eq!(outbox.next_expiry(), None);
    }
}
