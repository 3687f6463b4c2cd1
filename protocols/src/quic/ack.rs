//! What one packet number space received, and the acknowledgements it owes
//! (RFC 9000 §13.2).
//!
//! - Every packet number received is kept (as ranges) to report it and to
//!   discard duplicates.
//! - Initial and Handshake packets, packets that arrive out of order (below
//!   the largest, or leaving a gap) and every
//!   `ack_eliciting_threshold`-th ack-eliciting packet are acknowledged at
//!   once; otherwise the ACK waits at most `max_ack_delay` (§13.2.1–2).
//!   Packets that are not ack-eliciting are only acknowledged along with
//!   something else.
//! - An ACK frame reports at most [`MAX_ACK_RANGES`] ranges, the highest.
//!   Once the peer acknowledges a packet that carried an ACK frame, the
//!   packet numbers up to that frame's largest are no longer reported
//!   (§13.2.4) nor accepted: a packet that late counts as a duplicate, and
//!   the peer, which has declared it lost, sends its frames again.

use sim_core::{Duration, Instant};

use super::packet::{AckFrame, ACK_DELAY_EXPONENT};
use super::ranges::RangeSet;

/// The most ranges one ACK frame reports.
pub const MAX_ACK_RANGES: usize = 64;

/// The receive side of one packet number space.
#[derive(Clone, Debug, Default)]
pub(crate) struct AckState {
    /// Packet numbers received at or above `floor`.
    received: RangeSet,
    /// Packet numbers below this are neither reported nor accepted.
    floor: u64,
    /// The largest packet number received, and when.
    largest: Option<(u64, Instant)>,
    /// Ack-eliciting packets received since the last ACK sent.
    unacked_eliciting: u32,
    /// Whether any packet arrived since the last ACK sent.
    new_since_ack: bool,
    /// Whether the next ACK should go at once.
    immediate: bool,
    /// When a delayed ACK is due.
    deadline: Option<Instant>,
}

impl AckState {
    /// The largest packet number received.
    pub(crate) fn largest(&self) -> Option<u64> {
        self.largest.map(|(pn, _)| pn)
    }

    /// Whether `pn` was already received (or is too old to accept).
    pub(crate) fn is_duplicate(&self, pn: u64) -> bool {
        pn < self.floor || self.received.contains(pn)
    }

    /// Records packet `pn`. `immediate` says the space acknowledges at once
    /// (Initial, Handshake); otherwise the `threshold`-th ack-eliciting
    /// packet or `max_ack_delay` triggers the ACK.
    pub(crate) fn on_packet(
        &mut self,
        pn: u64,
        now: Instant,
        ack_eliciting: bool,
        immediate: bool,
        max_ack_delay: Duration,
        threshold: u32,
    ) {
        let out_of_order = self.largest.is_some_and(|(l, _)| pn < l || pn > l + 1);
        self.received.insert(pn..pn + 1);
        if self.largest.is_none_or(|(l, _)| pn > l) {
            self.largest = Some((pn, now));
        }
        self.new_since_ack = true;
        if ack_eliciting {
            self.unacked_eliciting += 1;
            if immediate || out_of_order || self.unacked_eliciting >= threshold.max(1) {
                self.immediate = true;
            } else if self.deadline.is_none() {
                self.deadline = Some(now.saturating_add(max_ack_delay));
            }
        }
    }

    /// Whether an ACK should be sent now even on its own.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.unacked_eliciting > 0 && (self.immediate || self.deadline.is_some_and(|d| d <= now))
    }

    /// When a delayed ACK is due, if one is pending.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline.filter(|_| self.unacked_eliciting > 0)
    }

    /// The ACK frame to send now, if anything arrived since the last one.
    pub(crate) fn frame(&self, now: Instant) -> Option<AckFrame> {
        if !self.new_since_ack {
            return None;
        }
        let (_, at) = self.largest?;
        let ranges: Vec<_> = self.received.iter_desc().take(MAX_ACK_RANGES).collect();
        if ranges.is_empty() {
            return None;
        }
        let micros = now.saturating_duration_since(at).as_nanos() / 1_000;
        Some(AckFrame {
            delay: micros >> ACK_DELAY_EXPONENT,
            ranges,
        })
    }

    /// An ACK frame was sent.
    pub(crate) fn on_ack_sent(&mut self) {
        self.unacked_eliciting = 0;
        self.new_since_ack = false;
        self.immediate = false;
        self.deadline = None;
    }

    /// The peer acknowledged a packet carrying an ACK frame whose largest
    /// was `largest`: stop reporting (and accepting) up to it.
    pub(crate) fn on_ack_acked(&mut self, largest: u64) {
        if largest + 1 > self.floor {
            self.floor = largest + 1;
            self.received.remove(0..self.floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: Duration = Duration::from_millis(25);

    fn pairs(frame: &AckFrame) -> Vec<(u64, u64)> {
        frame.ranges.iter().map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn every_second_packet_or_max_ack_delay_triggers_an_ack() {
        let mut ack = AckState::default();
        let t0 = Instant::ZERO;
        ack.on_packet(0, t0, true, false, DELAY, 2);
        assert!(!ack.is_due(t0));
        assert_eq!(ack.deadline(), Some(t0 + DELAY));
        assert!(ack.is_due(t0 + DELAY));
        ack.on_packet(1, t0, true, false, DELAY, 2);
        assert!(ack.is_due(t0));
        let frame = ack.frame(t0 + Duration::from_micros(80)).unwrap();
        assert_eq!(pairs(&frame), [(0, 2)]);
        assert_eq!(frame.delay, 10, "80 µs in units of 8 µs");
        ack.on_ack_sent();
        assert!(ack.frame(t0).is_none());
    }

    #[test]
    fn gaps_are_acknowledged_at_once_and_reported_as_ranges() {
        let mut ack = AckState::default();
        let t0 = Instant::ZERO;
        ack.on_packet(0, t0, true, false, DELAY, 10);
        ack.on_packet(3, t0, true, false, DELAY, 10);
        assert!(ack.is_due(t0), "a gap");
        ack.on_packet(1, t0, false, false, DELAY, 10);
        assert_eq!(pairs(&ack.frame(t0).unwrap()), [(3, 4), (0, 2)]);
        assert!(ack.is_duplicate(1) && !ack.is_duplicate(2));
        ack.on_ack_acked(1);
        assert_eq!(pairs(&ack.frame(t0).unwrap()), [(3, 4)]);
        assert!(ack.is_duplicate(0), "below the floor");
    }
}
