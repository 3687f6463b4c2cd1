//! Loss detection and the probe timeout, as RFC 9002 §5–§7 and Appendix A
//! write them.
//!
//! `Recovery` keeps, per packet number space, the packets sent and not
//! yet acknowledged or lost, and across spaces the RTT estimate, the bytes
//! in flight, the PTO backoff and the congestion controller. The
//! connection tells it what it sent (`on_packet_sent`), what the peer
//! acknowledged (`on_ack_received`) and when its loss detection timer
//! fired (`on_timeout`); it answers with the
//! packets newly acknowledged and newly lost, whose frames the connection
//! then settles or sends again.
//!
//! - RTT (§5): the first sample sets `smoothed_rtt = latest`,
//!   `rttvar = latest / 2`; later samples subtract the peer's ack delay
//!   (capped at its `max_ack_delay` once the handshake is confirmed) when
//!   that does not go below `min_rtt`, and move `rttvar` by ¼ and
//!   `smoothed_rtt` by ⅛. Before any sample, `smoothed_rtt` is
//!   [`INITIAL_RTT`] = 333 ms and `rttvar` half that.
//! - Loss (§6.1): an unacknowledged packet is lost once a packet sent
//!   [`PACKET_THRESHOLD`] = 3 packet numbers after it is acknowledged, or
//!   once it was sent [`TIME_THRESHOLD`] = 9/8 ·
//!   max(smoothed_rtt, latest_rtt) (at least [`GRANULARITY`] = 1 ms)
//!   before an acknowledged later packet arrived; a packet that is not yet
//!   lost by time arms the loss timer for when it would be.
//! - PTO (§6.2): `smoothed_rtt + max(4·rttvar, kGranularity)`, plus the
//!   peer's `max_ack_delay` for application data, doubled per consecutive
//!   PTO, from the last ack-eliciting packet in flight of the earliest
//!   space; application data waits until the handshake is confirmed. With
//!   no sample the first PTO is 333 + 4 · 166.5 = 999 ms.
//! - Persistent congestion (§7.6): newly lost ack-eliciting packets, all
//!   sent after the first RTT sample, with consecutive packet numbers in
//!   one batch, spanning more than
//!   `(smoothed_rtt + max(4·rttvar, kGranularity) + max_ack_delay) ·`
//!   [`PERSISTENT_CONGESTION_THRESHOLD`]. Requiring consecutive numbers
//!   within one batch is stricter than the RFC's "no packet between them
//!   acknowledged", never looser: it can only miss a persistent congestion
//!   whose packets were declared lost at different times.

use std::collections::BTreeMap;
use std::ops::Range;

use sim_core::{Duration, Instant};

use super::cc::CongestionController;
use super::connection::SentFrame;

/// `kPacketThreshold` (RFC 9002 §6.1.1): reordering tolerated, in packets.
pub const PACKET_THRESHOLD: u64 = 3;
/// `kTimeThreshold = 9/8` (RFC 9002 §6.1.2), as numerator and denominator.
pub const TIME_THRESHOLD: (u64, u64) = (9, 8);
/// `kGranularity` (RFC 9002 §6.1.2): the timer granularity, 1 ms.
pub const GRANULARITY: Duration = Duration::from_millis(1);
/// `kInitialRtt` (RFC 9002 §6.2.2): the RTT assumed before any sample.
pub const INITIAL_RTT: Duration = Duration::from_millis(333);
/// `kPersistentCongestionThreshold` (RFC 9002 §7.6.1), in PTO periods.
pub const PERSISTENT_CONGESTION_THRESHOLD: u64 = 3;

/// The packet number spaces (RFC 9000 §12.3), in the order PTOs and
/// coalesced packets consider them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    /// Initial packets.
    Initial,
    /// Handshake packets.
    Handshake,
    /// 0-RTT and 1-RTT packets: application data.
    Data,
}

impl Space {
    /// All three, in order.
    pub const ALL: [Space; 3] = [Space::Initial, Space::Handshake, Space::Data];

    /// The space's index into per-space arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// RFC 9002 §5's RTT estimator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    latest: Duration,
    smoothed: Duration,
    var: Duration,
    min: Duration,
    has_sample: bool,
}

impl Default for RttEstimator {
    /// The estimator before any sample: 333 ms, variation 166.5 ms.
    fn default() -> Self {
        RttEstimator {
            latest: Duration::ZERO,
            smoothed: INITIAL_RTT,
            var: Duration::from_nanos(INITIAL_RTT.as_nanos() / 2),
            min: Duration::ZERO,
            has_sample: false,
        }
    }
}

impl RttEstimator {
    /// Takes an RTT sample `latest` for which the peer reports holding
    /// its acknowledgement for `ack_delay` (RFC 9002 §5.3).
    pub fn update(
        &mut self,
        latest: Duration,
        ack_delay: Duration,
        handshake_confirmed: bool,
        max_ack_delay: Duration,
    ) {
        self.latest = latest;
        if !self.has_sample {
            self.has_sample = true;
            self.min = latest;
            self.smoothed = latest;
            self.var = Duration::from_nanos(latest.as_nanos() / 2);
            return;
        }
        self.min = self.min.min(latest);
        let ack_delay = if handshake_confirmed {
            ack_delay.min(max_ack_delay)
        } else {
            ack_delay
        };
        let adjusted = if latest >= self.min.saturating_add(ack_delay) {
            latest - ack_delay
        } else {
            latest
        };
        let (s, a) = (self.smoothed.as_nanos(), adjusted.as_nanos());
        let sample = s.abs_diff(a);
        self.var = Duration::from_nanos((3 * self.var.as_nanos() + sample) / 4);
        self.smoothed = Duration::from_nanos((7 * s + a) / 8);
    }

    /// The smoothed RTT.
    pub fn smoothed(&self) -> Duration {
        self.smoothed
    }

    /// The RTT variation.
    pub fn var(&self) -> Duration {
        self.var
    }

    /// The latest sample.
    pub fn latest(&self) -> Duration {
        self.latest
    }

    /// The smallest sample.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// Whether any sample was taken.
    pub fn has_sample(&self) -> bool {
        self.has_sample
    }

    /// `smoothed_rtt + max(4·rttvar, kGranularity)`: the PTO before the
    /// ack delay and the backoff.
    pub fn pto_base(&self) -> Duration {
        self.smoothed
            .saturating_add(self.var.saturating_mul(4).max(GRANULARITY))
    }

    /// How long after a packet was sent it is lost by time, given that a
    /// later one was acknowledged: `9/8 · max(smoothed, latest)`, at least
    /// 1 ms.
    pub fn loss_delay(&self) -> Duration {
        let (num, den) = TIME_THRESHOLD;
        let base = self.smoothed.max(self.latest).as_nanos();
        Duration::from_nanos(base.saturating_mul(num) / den).max(GRANULARITY)
    }
}

/// A packet sent and not yet acknowledged or declared lost.
#[derive(Clone, Debug)]
pub(crate) struct SentPacket {
    pub(crate) time_sent: Instant,
    /// Its size on the wire, counted in bytes in flight if `in_flight`.
    pub(crate) size: u64,
    pub(crate) ack_eliciting: bool,
    /// Whether it counts towards bytes in flight (ack-eliciting or padded).
    pub(crate) in_flight: bool,
    /// Whether it was a 0-RTT packet (to be sent again as 1-RTT if the
    /// server refuses early data).
    pub(crate) zero_rtt: bool,
    /// What it carried that needs settling when it is acknowledged or
    /// lost.
    pub(crate) frames: Vec<SentFrame>,
}

/// Which rule declared a packet lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LossKind {
    /// Three later packets were acknowledged (kPacketThreshold).
    PacketThreshold,
    /// It is older than 9/8 RTT and a later packet was acknowledged
    /// (kTimeThreshold).
    TimeThreshold,
}

/// A packet declared lost.
#[derive(Clone, Debug)]
pub(crate) struct Lost {
    pub(crate) pn: u64,
    pub(crate) packet: SentPacket,
    pub(crate) by: LossKind,
}

/// What an ACK or a loss timeout changed.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Packets newly acknowledged, ascending.
    pub(crate) acked: Vec<(u64, SentPacket)>,
    /// Packets newly declared lost, ascending.
    pub(crate) lost: Vec<Lost>,
    /// Whether the congestion window was reduced (a new recovery period
    /// or persistent congestion).
    pub(crate) congestion: bool,
    /// Whether the losses amounted to persistent congestion.
    pub(crate) persistent: bool,
}

/// What a loss detection timeout asks of the connection.
#[derive(Debug)]
pub(crate) enum Timeout {
    /// The loss timer fired: these packets in this space are lost.
    Lost(Space, Outcome),
    /// The PTO fired: send probes in this space.
    Probe(Space),
}

/// One space's sent packets and loss state.
#[derive(Debug, Default)]
struct LossSpace {
    sent: BTreeMap<u64, SentPacket>,
    largest_acked: Option<u64>,
    loss_time: Option<Instant>,
    last_ack_eliciting: Option<Instant>,
    ack_eliciting_in_flight: u64,
}

/// What the loss detection timer depends on besides the packets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerContext {
    pub(crate) now: Instant,
    pub(crate) handshake_confirmed: bool,
    /// Whether the peer has validated this endpoint's address (always for
    /// a server; for a client once the handshake is acknowledged).
    pub(crate) peer_validated: bool,
    /// Whether Handshake keys are available (for the client's
    /// anti-deadlock probe).
    pub(crate) has_handshake_keys: bool,
    /// Whether the anti-amplification limit stops the server from sending.
    pub(crate) amplification_blocked: bool,
}

/// What an ACK's processing depends on besides the ACK.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AckContext {
    pub(crate) now: Instant,
    pub(crate) handshake_confirmed: bool,
    /// Whether the sender left the window unfilled (RFC 9002 §7.8).
    pub(crate) app_limited: bool,
    /// Whether the peer validated our address, so that the PTO backoff
    /// may be reset (RFC 9002 §6.2.1).
    pub(crate) reset_pto: bool,
}

/// Loss detection, PTO and congestion control for one connection.
#[derive(Debug)]
pub(crate) struct Recovery {
    pub(crate) rtt: RttEstimator,
    spaces: [LossSpace; 3],
    pto_count: u32,
    bytes_in_flight: u64,
    cc: Box<dyn CongestionController>,
    /// The peer's `max_ack_delay`.
    pub(crate) max_ack_delay: Duration,
    first_rtt_sample: Option<Instant>,
    /// When RFC 9002 last set the loss detection timer (a packet in flight
    /// sent, an ACK received, a timeout, keys discarded): what the
    /// client's anti-deadlock PTO counts from.
    armed_at: Instant,
}

impl Recovery {
    /// Fresh state at `now` with congestion controller `cc`.
    pub(crate) fn new(
        now: Instant,
        cc: Box<dyn CongestionController>,
        max_ack_delay: Duration,
    ) -> Self {
        Recovery {
            rtt: RttEstimator::default(),
            spaces: Default::default(),
            pto_count: 0,
            bytes_in_flight: 0,
            cc,
            max_ack_delay,
            first_rtt_sample: None,
            armed_at: now,
        }
    }

    /// Starts over on a new path (RFC 9000 §9.4): a fresh RTT estimator
    /// and congestion controller; the packets in flight stay tracked.
    pub(crate) fn reset_path(&mut self, cc: Box<dyn CongestionController>) {
        self.rtt = RttEstimator::default();
        self.cc = cc;
        self.pto_count = 0;
        self.first_rtt_sample = None;
    }

    /// The congestion window.
    pub(crate) fn window(&self) -> u64 {
        self.cc.window()
    }

    /// The slow-start threshold, once set.
    pub(crate) fn ssthresh(&self) -> Option<u64> {
        self.cc.ssthresh()
    }

    /// Bytes in flight, all spaces.
    pub(crate) fn bytes_in_flight(&self) -> u64 {
        self.bytes_in_flight
    }

    /// Consecutive PTOs without an acknowledgement.
    pub(crate) fn pto_count(&self) -> u32 {
        self.pto_count
    }

    /// The largest packet number the peer acknowledged in `space`.
    pub(crate) fn largest_acked(&self, space: Space) -> Option<u64> {
        self.spaces[space.index()].largest_acked
    }

    /// Whether any ack-eliciting packet is in flight in `space`.
    pub(crate) fn has_in_flight(&self, space: Space) -> bool {
        self.spaces[space.index()].ack_eliciting_in_flight > 0
    }

    /// The PTO period, without backoff, for `space`.
    pub(crate) fn pto(&self, space: Space) -> Duration {
        let base = self.rtt.pto_base();
        match space {
            Space::Data => base.saturating_add(self.max_ack_delay),
            _ => base,
        }
    }

    /// Records a packet sent (RFC 9002 A.5).
    pub(crate) fn on_packet_sent(&mut self, space: Space, pn: u64, packet: SentPacket) {
        let s = &mut self.spaces[space.index()];
        if packet.in_flight {
            self.armed_at = packet.time_sent;
            if packet.ack_eliciting {
                s.last_ack_eliciting = Some(packet.time_sent);
                s.ack_eliciting_in_flight += 1;
            }
            self.bytes_in_flight += packet.size;
        }
        s.sent.insert(pn, packet);
    }

    /// Takes a packet out of flight.
    fn remove_from_flight(&mut self, space: Space, packet: &SentPacket) {
        if packet.in_flight {
            self.bytes_in_flight = self.bytes_in_flight.saturating_sub(packet.size);
            if packet.ack_eliciting {
                let s = &mut self.spaces[space.index()];
                s.ack_eliciting_in_flight = s.ack_eliciting_in_flight.saturating_sub(1);
            }
        }
    }

    /// Processes an ACK of `ranges` (highest first) in `space` (RFC 9002
    /// A.7): RTT sample, loss detection, congestion control. The caller
    /// has checked that the peer acknowledges only packets that were sent.
    pub(crate) fn on_ack_received(
        &mut self,
        space: Space,
        ranges: &[Range<u64>],
        ack_delay: Duration,
        ctx: AckContext,
    ) -> Outcome {
        let now = ctx.now;
        let mut outcome = Outcome::default();
        let Some(largest) = ranges.first().map(|r| r.end - 1) else {
            return outcome;
        };
        self.armed_at = now;
        let s = &mut self.spaces[space.index()];
        s.largest_acked = Some(s.largest_acked.map_or(largest, |l| l.max(largest)));
        for range in ranges.iter().rev() {
            let pns: Vec<u64> = s.sent.range(range.clone()).map(|(&pn, _)| pn).collect();
            for pn in pns {
                if let Some(packet) = s.sent.remove(&pn) {
                    outcome.acked.push((pn, packet));
                }
            }
        }
        if outcome.acked.is_empty() {
            return outcome;
        }
        outcome.acked.sort_unstable_by_key(|&(pn, _)| pn);
        if let Some((_, newest)) = outcome.acked.last().filter(|(pn, _)| *pn == largest) {
            if outcome.acked.iter().any(|(_, p)| p.ack_eliciting) {
                let latest = now.saturating_duration_since(newest.time_sent);
                // Initial and Handshake acknowledgements are not delayed on
                // purpose; their ack delay is ignored (§5.3).
                let delay = if space == Space::Data {
                    ack_delay
                } else {
                    Duration::ZERO
                };
                self.rtt
                    .update(latest, delay, ctx.handshake_confirmed, self.max_ack_delay);
                self.first_rtt_sample.get_or_insert(now);
            }
        }
        for (_, packet) in &outcome.acked {
            self.remove_from_flight(space, packet);
        }
        let lost = self.detect_lost(space, now);
        self.on_packets_lost(now, &lost, &mut outcome);
        outcome.lost = lost;
        for (_, packet) in &outcome.acked {
            if packet.in_flight {
                self.cc.on_ack(
                    now,
                    packet.time_sent,
                    packet.size,
                    &self.rtt,
                    ctx.app_limited,
                );
            }
        }
        if ctx.reset_pto {
            self.pto_count = 0;
        }
        outcome
    }

    /// RFC 9002 A.10: declares lost what the thresholds say is lost, and
    /// sets the space's loss time for the next packet that will be.
    fn detect_lost(&mut self, space: Space, now: Instant) -> Vec<Lost> {
        let loss_delay = self.rtt.loss_delay();
        let s = &mut self.spaces[space.index()];
        s.loss_time = None;
        let Some(largest_acked) = s.largest_acked else {
            return Vec::new();
        };
        let lost_send_time = now.as_nanos().checked_sub(loss_delay.as_nanos());
        let mut lost = Vec::new();
        for (&pn, packet) in s.sent.range(..=largest_acked) {
            let by = if largest_acked >= pn + PACKET_THRESHOLD {
                LossKind::PacketThreshold
            } else if lost_send_time.is_some_and(|t| packet.time_sent.as_nanos() <= t) {
                LossKind::TimeThreshold
            } else {
                let at = packet.time_sent.saturating_add(loss_delay);
                s.loss_time = Some(s.loss_time.map_or(at, |t| t.min(at)));
                continue;
            };
            lost.push((pn, by));
        }
        let mut out = Vec::with_capacity(lost.len());
        for (pn, by) in lost {
            if let Some(packet) = self.spaces[space.index()].sent.remove(&pn) {
                self.remove_from_flight(space, &packet);
                out.push(Lost { pn, packet, by });
            }
        }
        out
    }

    /// RFC 9002 B.8 (OnPacketsLost): one congestion event for the newest
    /// lost packet, and persistent congestion if the losses span it.
    fn on_packets_lost(&mut self, now: Instant, lost: &[Lost], outcome: &mut Outcome) {
        let Some(newest) = lost
            .iter()
            .filter(|l| l.packet.in_flight)
            .map(|l| l.packet.time_sent)
            .max()
        else {
            return;
        };
        let before = self.cc.window();
        self.cc.on_congestion_event(now, newest);
        if self.in_persistent_congestion(lost) {
            self.cc.on_persistent_congestion();
            outcome.persistent = true;
        }
        outcome.congestion = outcome.persistent || self.cc.window() < before;
    }

    /// RFC 9002 §7.6.2, restricted to consecutive packet numbers within
    /// this batch of losses (see the module docs).
    fn in_persistent_congestion(&self, lost: &[Lost]) -> bool {
        let Some(first_sample) = self.first_rtt_sample else {
            return false;
        };
        let period = self
            .rtt
            .pto_base()
            .saturating_add(self.max_ack_delay)
            .saturating_mul(PERSISTENT_CONGESTION_THRESHOLD);
        let mut start: Option<Instant> = None;
        let mut previous: Option<u64> = None;
        for l in lost {
            if l.packet.time_sent < first_sample || previous.is_none_or(|p| p + 1 != l.pn) {
                start = None;
            }
            previous = Some(l.pn);
            if l.packet.time_sent < first_sample || !l.packet.ack_eliciting {
                continue;
            }
            match start {
                None => start = Some(l.packet.time_sent),
                Some(s) if l.packet.time_sent.saturating_duration_since(s) > period => return true,
                Some(_) => {}
            }
        }
        false
    }

    /// The earliest loss time of any space.
    fn earliest_loss_time(&self) -> Option<(Space, Instant)> {
        Space::ALL
            .iter()
            .filter_map(|&sp| self.spaces[sp.index()].loss_time.map(|t| (sp, t)))
            .min_by_key(|&(_, t)| t)
    }

    /// RFC 9002 A.8 (GetPtoTimeAndSpace).
    fn pto_time_and_space(&self, ctx: &TimerContext) -> Option<(Space, Instant)> {
        let backoff = 1u64 << self.pto_count.min(30);
        let duration = self.rtt.pto_base().saturating_mul(backoff);
        if Space::ALL.iter().all(|&sp| !self.has_in_flight(sp)) {
            // The client's anti-deadlock probe.
            let space = if ctx.has_handshake_keys {
                Space::Handshake
            } else {
                Space::Initial
            };
            return Some((space, self.armed_at.saturating_add(duration)));
        }
        let mut best: Option<(Space, Instant)> = None;
        for space in Space::ALL {
            let s = &self.spaces[space.index()];
            let Some(last) = s
                .last_ack_eliciting
                .filter(|_| s.ack_eliciting_in_flight > 0)
            else {
                continue;
            };
            let mut d = duration;
            if space == Space::Data {
                if !ctx.handshake_confirmed {
                    break;
                }
                d = d.saturating_add(self.max_ack_delay.saturating_mul(backoff));
            }
            let at = last.saturating_add(d);
            if best.is_none_or(|(_, b)| at < b) {
                best = Some((space, at));
            }
        }
        best
    }

    /// RFC 9002 A.8 (SetLossDetectionTimer): when the loss detection timer
    /// should fire, if at all.
    pub(crate) fn loss_detection_timer(&self, ctx: &TimerContext) -> Option<Instant> {
        if let Some((_, t)) = self.earliest_loss_time() {
            return Some(t);
        }
        if ctx.amplification_blocked {
            return None;
        }
        let nothing_in_flight = Space::ALL.iter().all(|&sp| !self.has_in_flight(sp));
        if nothing_in_flight && ctx.peer_validated {
            return None;
        }
        self.pto_time_and_space(ctx).map(|(_, t)| t)
    }

    /// RFC 9002 A.9 (OnLossDetectionTimeout).
    pub(crate) fn on_timeout(&mut self, ctx: &TimerContext) -> Option<Timeout> {
        if let Some((space, _)) = self.earliest_loss_time().filter(|&(_, t)| t <= ctx.now) {
            let lost = self.detect_lost(space, ctx.now);
            let mut outcome = Outcome::default();
            self.on_packets_lost(ctx.now, &lost, &mut outcome);
            outcome.lost = lost;
            return Some(Timeout::Lost(space, outcome));
        }
        let (space, at) = self.pto_time_and_space(ctx)?;
        if at > ctx.now {
            return None;
        }
        self.pto_count += 1;
        self.armed_at = ctx.now;
        Some(Timeout::Probe(space))
    }

    /// The frames of the oldest ack-eliciting packet in flight in `space`,
    /// for a probe to carry again when there is nothing new to send.
    pub(crate) fn oldest_in_flight(&self, space: Space) -> Option<&[SentFrame]> {
        self.spaces[space.index()]
            .sent
            .values()
            .find(|p| p.ack_eliciting && p.in_flight)
            .map(|p| &p.frames[..])
    }

    /// Forgets a space whose keys are discarded (RFC 9002 A.11).
    pub(crate) fn discard(&mut self, space: Space, now: Instant) {
        self.armed_at = now;
        let s = std::mem::take(&mut self.spaces[space.index()]);
        for packet in s.sent.values() {
            self.remove_from_flight(space, packet);
        }
        self.spaces[space.index()] = LossSpace {
            largest_acked: s.largest_acked,
            ..LossSpace::default()
        };
        self.pto_count = 0;
    }

    /// Takes the 0-RTT packets out of flight and hands them back, when the
    /// server refused early data (RFC 9002 §6.4 footnote, RFC 9001 §4.6.2).
    pub(crate) fn remove_zero_rtt(&mut self) -> Vec<SentPacket> {
        let pns: Vec<u64> = self.spaces[Space::Data.index()]
            .sent
            .iter()
            .filter(|(_, p)| p.zero_rtt)
            .map(|(&pn, _)| pn)
            .collect();
        let mut out = Vec::with_capacity(pns.len());
        for pn in pns {
            if let Some(packet) = self.spaces[Space::Data.index()].sent.remove(&pn) {
                self.remove_from_flight(Space::Data, &packet);
                out.push(packet);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::cc::NewReno;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn at(n: u64) -> Instant {
        Instant::ZERO + ms(n)
    }

    fn recovery() -> Recovery {
        Recovery::new(Instant::ZERO, Box::new(NewReno::new(1200)), ms(25))
    }

    fn send(r: &mut Recovery, pn: u64, time: Instant) {
        let packet = SentPacket {
            time_sent: time,
            size: 1200,
            ack_eliciting: true,
            in_flight: true,
            zero_rtt: false,
            frames: Vec::new(),
        };
        r.on_packet_sent(Space::Data, pn, packet);
    }

    fn ctx(now: Instant) -> TimerContext {
        TimerContext {
            now,
            handshake_confirmed: true,
            peer_validated: true,
            has_handshake_keys: true,
            amplification_blocked: false,
        }
    }

    /// An ACK of the packet numbers `lo..hi`.
    fn ack(r: &mut Recovery, (lo, hi): (u64, u64), now: Instant) -> Outcome {
        let ctx = AckContext {
            now,
            handshake_confirmed: true,
            app_limited: false,
            reset_pto: true,
        };
        r.on_ack_received(
            Space::Data,
            std::slice::from_ref(&(lo..hi)),
            Duration::ZERO,
            ctx,
        )
    }

    #[test]
    fn the_first_pto_without_a_sample_is_999_ms() {
        let mut r = recovery();
        r.on_packet_sent(
            Space::Initial,
            0,
            SentPacket {
                time_sent: at(0),
                size: 1200,
                ack_eliciting: true,
                in_flight: true,
                zero_rtt: false,
                frames: Vec::new(),
            },
        );
        let c = TimerContext {
            handshake_confirmed: false,
            peer_validated: false,
            has_handshake_keys: false,
            ..ctx(at(0))
        };
        assert_eq!(RttEstimator::default().pto_base(), ms(999));
        assert_eq!(r.loss_detection_timer(&c), Some(at(999)));
        // Each consecutive PTO doubles it.
        assert!(matches!(
            r.on_timeout(&TimerContext { now: at(999), ..c }),
            Some(Timeout::Probe(Space::Initial))
        ));
        assert_eq!(r.loss_detection_timer(&c), Some(at(1998)));
    }

    #[test]
    fn rtt_samples_follow_rfc_9002_section_5() {
        let mut rtt = RttEstimator::default();
        rtt.update(ms(100), ms(0), true, ms(25));
        assert_eq!(
            (rtt.smoothed(), rtt.var(), rtt.min()),
            (ms(100), ms(50), ms(100))
        );
        // 140 ms with 20 ms of ack delay: adjusted 120 ms.
        rtt.update(ms(140), ms(20), true, ms(25));
        assert_eq!(rtt.smoothed(), Duration::from_micros(102_500));
        assert_eq!(rtt.var(), Duration::from_micros(42_500));
        // The ack delay is capped at max_ack_delay once confirmed.
        let mut capped = rtt.clone();
        capped.update(ms(200), ms(100), true, ms(25));
        let mut uncapped = rtt.clone();
        uncapped.update(ms(200), ms(100), false, ms(25));
        assert!(capped.smoothed() > uncapped.smoothed());
        assert_eq!(rtt.pto_base(), Duration::from_micros(102_500 + 4 * 42_500));
    }

    #[test]
    fn a_packet_is_lost_once_three_later_ones_are_acknowledged() {
        let mut r = recovery();
        for pn in 0..6 {
            send(&mut r, pn, at(0));
        }
        let outcome = ack(&mut r, (1, 3), at(10));
        assert!(outcome.lost.is_empty(), "two later packets are not enough");
        let outcome = ack(&mut r, (3, 4), at(11));
        let lost: Vec<_> = outcome.lost.iter().map(|l| (l.pn, l.by)).collect();
        assert_eq!(lost, [(0, LossKind::PacketThreshold)]);
        assert!(outcome.congestion);
        assert_eq!(
            r.window(),
            7200,
            "halved from 14 400 (slow start grew it by two)"
        );
    }

    #[test]
    fn a_packet_is_lost_nine_eighths_of_an_rtt_after_it_was_sent() {
        let mut r = recovery();
        send(&mut r, 0, at(0));
        send(&mut r, 1, at(0));
        // 1 is acknowledged at 80 ms: RTT 80 ms; 0 is not yet lost.
        let outcome = ack(&mut r, (1, 2), at(80));
        assert!(outcome.lost.is_empty());
        // Loss delay 9/8 · 80 ms = 90 ms after 0 was sent.
        assert_eq!(r.loss_detection_timer(&ctx(at(80))), Some(at(90)));
        assert!(r.on_timeout(&ctx(at(89))).is_none());
        let Some(Timeout::Lost(Space::Data, outcome)) = r.on_timeout(&ctx(at(90))) else {
            panic!("loss timer")
        };
        let lost: Vec<_> = outcome.lost.iter().map(|l| (l.pn, l.by)).collect();
        assert_eq!(lost, [(0, LossKind::TimeThreshold)]);
    }

    #[test]
    fn the_pto_adds_max_ack_delay_for_application_data_and_doubles() {
        let mut r = recovery();
        send(&mut r, 0, at(0));
        send(&mut r, 1, at(0));
        ack(&mut r, (0, 1), at(100));
        send(&mut r, 2, at(100));
        // srtt 100, rttvar 50: 100 + 200 + 25 = 325 ms after the last send.
        assert_eq!(r.loss_detection_timer(&ctx(at(100))), Some(at(425)));
        assert!(matches!(
            r.on_timeout(&ctx(at(425))),
            Some(Timeout::Probe(Space::Data))
        ));
        assert_eq!(r.loss_detection_timer(&ctx(at(425))), Some(at(750)));
    }

    #[test]
    fn losses_spanning_three_ptos_are_persistent_congestion() {
        let mut r = recovery();
        send(&mut r, 0, at(0));
        ack(&mut r, (0, 1), at(100));
        // The PTO period is about 300 ms; three of them span less than the
        // second between the first and the last loss.
        for (pn, t) in [(1, 100), (2, 600), (3, 1100)] {
            send(&mut r, pn, at(t));
        }
        for pn in 4..7 {
            send(&mut r, pn, at(1200));
        }
        let outcome = ack(&mut r, (4, 7), at(1300));
        assert_eq!(outcome.lost.len(), 3);
        assert!(outcome.persistent);
        // The window collapsed to 2 · mds and recovery ended, so the three
        // packets acknowledged with it grow it again in slow start (RFC
        // 9002 B.8 then B.5).
        assert_eq!(r.window(), 2400 + 3 * 1200);
    }
}
