//! Hop-by-hop acknowledgements: the unicasts a node waits to hear
//! acknowledged, sent again on a timeout, given up after a set number of
//! resends.
//!
//! A node that receives a packet addressed to it answers the neighbour it
//! came from with a [`MessageType::DeliveryAck`] naming the packet's key,
//! for every copy (an earlier acknowledgement may have been lost). A node
//! that unicast the packet stops waiting; any other ignores it. BLE gets
//! the same effect from GATT writes with response; BitChat's own
//! `DeliveryAck` is end to end, from the recipient to the origin.
//!
//! [`MessageType::DeliveryAck`]: super::packet::MessageType::DeliveryAck

use sim_core::{Duration, Instant, NodeId};

/// A unicast waiting for its acknowledgement.
#[derive(Clone, Debug)]
pub(super) struct Unacked {
    /// The neighbour it was sent to.
    pub(super) to: NodeId,
    /// The packet's key, which the acknowledgement names.
    pub(super) key: u64,
    /// The message the packet belongs to.
    pub(super) msg: u64,
    /// The packet, to send again.
    pub(super) bytes: Vec<u8>,
    /// When it is sent again or given up.
    pub(super) due: Instant,
    /// How many times it has been sent again.
    pub(super) resends: u8,
    /// Whether it came from the outbox (which learns how it ended).
    pub(super) from_outbox: bool,
}

/// What a due wait turns into.
#[derive(Clone, Debug)]
pub(super) enum Due {
    /// Send `bytes` to `to` again (the wait goes on).
    Resend {
        /// The neighbour.
        to: NodeId,
        /// The message.
        msg: u64,
        /// The packet.
        bytes: Vec<u8>,
    },
    /// No acknowledgement after every resend: the wait is over.
    GaveUp(Unacked),
}

/// The unicasts a node waits on, in the order they were sent.
#[derive(Clone, Debug)]
pub(super) struct AckWaits {
    timeout: Duration,
    max_resends: u8,
    waiting: Vec<Unacked>,
}

impl AckWaits {
    /// Nothing waiting; each unicast is sent again after `timeout` without
    /// an acknowledgement, at most `max_resends` times.
    pub(super) fn new(timeout: Duration, max_resends: u8) -> Self {
        AckWaits {
            timeout,
            max_resends,
            waiting: Vec::new(),
        }
    }

    /// Waits for `to` to acknowledge packet `key` of message `msg`, sent
    /// at `now` as `bytes`.
    pub(super) fn push(
        &mut self,
        now: Instant,
        to: NodeId,
        key: u64,
        msg: u64,
        bytes: Vec<u8>,
        from_outbox: bool,
    ) {
        self.waiting.push(Unacked {
            to,
            key,
            msg,
            bytes,
            due: now.saturating_add(self.timeout),
            resends: 0,
            from_outbox,
        });
    }

    /// `from` acknowledged packet `key`: the wait it ends, if any.
    pub(super) fn ack(&mut self, from: NodeId, key: u64) -> Option<Unacked> {
        let i = self
            .waiting
            .iter()
            .position(|w| w.to == from && w.key == key)?;
        Some(self.waiting.remove(i))
    }

    /// The waits due at `now`, in the order they were sent: resends (their
    /// next deadline set) and give-ups (removed).
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<Due> {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() {
            let wait = &mut self.waiting[i];
            if wait.due > now {
                i += 1;
            } else if wait.resends < self.max_resends {
                wait.resends += 1;
                wait.due = now.saturating_add(self.timeout);
                due.push(Due::Resend {
                    to: wait.to,
                    msg: wait.msg,
                    bytes: wait.bytes.clone(),
                });
                i += 1;
            } else {
                due.push(Due::GaveUp(self.waiting.remove(i)));
            }
        }
        due
    }

    /// When the next wait is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.waiting.iter().map(|w| w.due).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(n)
    }

    #[test]
    fn a_wait_is_resent_then_given_up_unless_acknowledged() {
        let mut waits = AckWaits::new(Duration::from_millis(100), 2);
        waits.push(ms(0), NodeId(1), 11, 1, vec![1], false);
        waits.push(ms(10), NodeId(2), 22, 2, vec![2], true);
        assert_eq!(waits.next_due(), Some(ms(100)));
        assert!(waits.ack(NodeId(2), 11).is_none(), "the wrong neighbour");

        let resends = |due: Vec<Due>| -> Vec<(NodeId, u64)> {
            due.into_iter()
                .map(|d| match d {
                    Due::Resend { to, msg, .. } => (to, msg),
                    Due::GaveUp(w) => panic!("gave up on {w:?}"),
                })
                .collect()
        };
        assert_eq!(resends(waits.take_due(ms(100))), [(NodeId(1), 1)]);
        assert_eq!(resends(waits.take_due(ms(110))), [(NodeId(2), 2)]);
        let acked = waits.ack(NodeId(2), 22).expect("waiting");
        assert!(acked.from_outbox && acked.resends == 1);

        assert_eq!(resends(waits.take_due(ms(200))), [(NodeId(1), 1)]);
        let due = waits.take_due(ms(300));
        assert!(matches!(&due[..], [Due::GaveUp(w)] if w.key == 11 && w.resends == 2));
        assert_eq!(waits.next_due(), None);
    }
}
