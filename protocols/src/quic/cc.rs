//! Congestion control: the [`CongestionController`] trait, [`NewReno`]
//! (RFC 9002 §7 and Appendix B) and [`Cubic`] (RFC 9438).
//!
//! A controller only keeps the window. Bytes in flight, loss detection and
//! the decision of what counts as a congestion event belong to
//! [`recovery`](super::recovery); it calls the controller in RFC 9002's
//! order: on an ACK, first [`on_congestion_event`] for the newly lost
//! packets (and [`on_persistent_congestion`] if they span the persistent
//! congestion period), then [`on_ack`] for each newly acknowledged one.
//!
//! Windows are integer bytes. NewReno's congestion avoidance adds
//! `max_datagram_size · acked / cwnd` per acknowledged packet; it keeps the
//! acknowledged bytes in an accumulator and adds one `max_datagram_size`
//! each time they reach a window, which is the same increase in integer
//! arithmetic, without losing the fractions (RFC 9002 §7.3.3 allows either).
//! Cubic computes its cubic curve in `f64` (plain IEEE arithmetic and
//! `libm::cbrt`, the same bits everywhere) and rounds the window to bytes.
//!
//! [`on_congestion_event`]: CongestionController::on_congestion_event
//! [`on_persistent_congestion`]: CongestionController::on_persistent_congestion
//! [`on_ack`]: CongestionController::on_ack

use std::fmt;

use sim_core::Instant;

use super::recovery::RttEstimator;

/// The initial window's size in full-sized datagrams, before RFC 9002's
/// byte cap: `kInitialWindow = min(10 · mds, max(14720, 2 · mds))` (§7.2).
pub const INITIAL_WINDOW_PACKETS: u64 = 10;
/// The byte cap in the initial window's formula (RFC 9002 §7.2, from RFC
/// 6928).
pub const INITIAL_WINDOW_BYTES: u64 = 14_720;
/// `kMinimumWindow = 2 · mds` (RFC 9002 §7.2): the window never goes below
/// two datagrams.
pub const MINIMUM_WINDOW_PACKETS: u64 = 2;
/// `kLossReductionFactor = 0.5` (RFC 9002 §7.3.2, Appendix B.1), as
/// numerator and denominator: NewReno halves its window on loss.
pub const LOSS_REDUCTION_FACTOR: (u64, u64) = (1, 2);

/// RFC 9002's initial congestion window for a maximum datagram size.
pub fn initial_window(mds: u64) -> u64 {
    (INITIAL_WINDOW_PACKETS * mds).min(INITIAL_WINDOW_BYTES.max(2 * mds))
}

/// RFC 9002's minimum congestion window for a maximum datagram size.
pub fn minimum_window(mds: u64) -> u64 {
    MINIMUM_WINDOW_PACKETS * mds
}

/// A congestion controller: the window, and how acknowledgements and losses
/// move it.
pub trait CongestionController: fmt::Debug + Send {
    /// The congestion window, in bytes.
    fn window(&self) -> u64;
    /// The slow-start threshold, or `None` while it is infinite (before the
    /// first congestion event).
    fn ssthresh(&self) -> Option<u64>;
    /// A packet of `bytes` sent at `sent` was acknowledged at `now`. While
    /// `app_limited` (the sender did not fill the window), the window must
    /// not grow (RFC 9002 §7.8).
    fn on_ack(
        &mut self,
        now: Instant,
        sent: Instant,
        bytes: u64,
        rtt: &RttEstimator,
        app_limited: bool,
    );
    /// Packets sent at or before `sent` were found lost at `now`. At most
    /// one reduction per recovery period: a loss of a packet sent before
    /// the current recovery period began is ignored (RFC 9002 §7.3.2).
    fn on_congestion_event(&mut self, now: Instant, sent: Instant);
    /// Persistent congestion (RFC 9002 §7.6): the window collapses to the
    /// minimum and recovery ends.
    fn on_persistent_congestion(&mut self);
}

/// The recovery-period rule both controllers share: the start of the
/// current period, and whether a packet was sent before it.
#[derive(Clone, Copy, Debug, Default)]
struct RecoveryPeriod {
    start: Option<Instant>,
}

impl RecoveryPeriod {
    /// Whether a packet sent at `sent` belongs to the current recovery
    /// period (RFC 9002's `InCongestionRecovery`).
    fn covers(&self, sent: Instant) -> bool {
        self.start.is_some_and(|start| sent <= start)
    }
}

/// NewReno, as RFC 9002 Appendix B writes it.
#[derive(Clone, Debug)]
pub struct NewReno {
    mds: u64,
    window: u64,
    ssthresh: u64,
    recovery: RecoveryPeriod,
    /// Bytes acknowledged in congestion avoidance since the window last
    /// grew by one datagram.
    acked: u64,
}

impl NewReno {
    /// A controller for datagrams of at most `mds` bytes, at the initial
    /// window.
    pub fn new(mds: u64) -> Self {
        NewReno {
            mds,
            window: initial_window(mds),
            ssthresh: u64::MAX,
            recovery: RecoveryPeriod::default(),
            acked: 0,
        }
    }
}

impl CongestionController for NewReno {
    fn window(&self) -> u64 {
        self.window
    }

    fn ssthresh(&self) -> Option<u64> {
        (self.ssthresh != u64::MAX).then_some(self.ssthresh)
    }

    fn on_ack(&mut self, _now: Instant, sent: Instant, bytes: u64, _: &RttEstimator, app: bool) {
        if app || self.recovery.covers(sent) {
            return;
        }
        if self.window < self.ssthresh {
            // Slow start: one byte of window per byte acknowledged.
            self.window += bytes;
        } else {
            // Congestion avoidance: mds · acked / cwnd, accumulated.
            self.acked += bytes;
            if self.acked >= self.window {
                self.acked -= self.window;
                self.window += self.mds;
            }
        }
    }

    fn on_congestion_event(&mut self, now: Instant, sent: Instant) {
        if self.recovery.covers(sent) {
            return;
        }
        self.recovery.start = Some(now);
        let (num, den) = LOSS_REDUCTION_FACTOR;
        self.ssthresh = self.window * num / den;
        self.window = self.ssthresh.max(minimum_window(self.mds));
        self.acked = 0;
    }

    fn on_persistent_congestion(&mut self) {
        self.window = minimum_window(self.mds);
        self.recovery.start = None;
        self.acked = 0;
    }
}

/// CUBIC's `C` (RFC 9438 §5.1), in segments per second³.
pub const CUBIC_C: f64 = 0.4;
/// CUBIC's multiplicative decrease factor `β_cubic` (RFC 9438 §4.6).
pub const CUBIC_BETA: f64 = 0.7;

/// CUBIC (RFC 9438): NewReno's slow start and recovery periods, with the
/// window in congestion avoidance following `W(t) = C·(t − K)³ + W_max`
/// (segments, seconds), never below the Reno-friendly estimate `W_est`,
/// and fast convergence.
#[derive(Clone, Debug)]
pub struct Cubic {
    mds: u64,
    window: u64,
    ssthresh: u64,
    recovery: RecoveryPeriod,
    /// `W_max` in segments: the window before the last reduction.
    w_max: f64,
    /// `K` in seconds: when the curve returns to `W_max`.
    k: f64,
    /// `W_est` in segments: the Reno-friendly window.
    w_est: f64,
    /// When congestion avoidance began (the first ACK after a reduction).
    epoch: Option<Instant>,
}

impl Cubic {
    /// A controller for datagrams of at most `mds` bytes, at the initial
    /// window.
    pub fn new(mds: u64) -> Self {
        Cubic {
            mds,
            window: initial_window(mds),
            ssthresh: u64::MAX,
            recovery: RecoveryPeriod::default(),
            w_max: 0.0,
            k: 0.0,
            w_est: 0.0,
            epoch: None,
        }
    }

    fn segments(&self, bytes: u64) -> f64 {
        bytes as f64 / self.mds as f64
    }
}

impl CongestionController for Cubic {
    fn window(&self) -> u64 {
        self.window
    }

    fn ssthresh(&self) -> Option<u64> {
        (self.ssthresh != u64::MAX).then_some(self.ssthresh)
    }

    fn on_ack(&mut self, now: Instant, sent: Instant, bytes: u64, rtt: &RttEstimator, app: bool) {
        if app || self.recovery.covers(sent) {
            return;
        }
        if self.window < self.ssthresh {
            self.window += bytes;
            return;
        }
        let cwnd = self.segments(self.window);
        let epoch = *self.epoch.get_or_insert_with(|| {
            // A new congestion-avoidance stage (RFC 9438 §4.2): the curve
            // starts from the current window.
            self.w_est = cwnd;
            if self.w_max <= cwnd {
                self.w_max = cwnd;
                self.k = 0.0;
            } else {
                self.k = libm::cbrt((self.w_max - cwnd) / CUBIC_C);
            }
            now
        });
        let acked = self.segments(bytes);
        // RFC 9438 §4.3: W_est grows by α_cubic per window acknowledged,
        // α = 3(1 − β)/(1 + β), and by 1 once it has passed W_max.
        let alpha = if self.w_est < self.w_max {
            3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA)
        } else {
            1.0
        };
        self.w_est += alpha * acked / cwnd;
        let t = (now.saturating_duration_since(epoch) + rtt.smoothed()).as_secs_f64();
        let w_cubic = CUBIC_C * (t - self.k).powi(3) + self.w_max;
        let next = if w_cubic < self.w_est {
            self.w_est
        } else {
            // §4.4: approach the target set one RTT ahead, at most 1.5·cwnd.
            let target = w_cubic.clamp(cwnd, 1.5 * cwnd);
            cwnd + (target - cwnd) / cwnd * acked
        };
        let next = (next * self.mds as f64) as u64;
        self.window = next.max(self.window);
    }

    fn on_congestion_event(&mut self, now: Instant, sent: Instant) {
        if self.recovery.covers(sent) {
            return;
        }
        self.recovery.start = Some(now);
        let cwnd = self.segments(self.window);
        // §4.7, fast convergence: release bandwidth to newer flows.
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + CUBIC_BETA) / 2.0
        } else {
            cwnd
        };
        self.ssthresh = ((self.window as f64 * CUBIC_BETA) as u64).max(minimum_window(self.mds));
        self.window = self.ssthresh;
        self.epoch = None;
    }

    fn on_persistent_congestion(&mut self) {
        self.window = minimum_window(self.mds);
        self.recovery.start = None;
        self.epoch = None;
        self.w_max = 0.0;
    }
}

/// A controller of the configured kind, boxed.
pub(crate) fn new_controller(
    kind: super::CongestionControl,
    mds: u64,
) -> Box<dyn CongestionController> {
    match kind {
        super::CongestionControl::NewReno => Box::new(NewReno::new(mds)),
        super::CongestionControl::Cubic => Box::new(Cubic::new(mds)),
    }
}

#[cfg(test)]
mod tests {
    use sim_core::Duration;

    use super::*;

    const MDS: u64 = 1200;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn initial_and_minimum_windows_follow_rfc_9002_section_7_2() {
        assert_eq!(initial_window(1200), 12_000);
        assert_eq!(initial_window(1472), 14_720);
        assert_eq!(initial_window(1500), 14_720);
        assert_eq!(initial_window(9000), 18_000);
        assert_eq!(minimum_window(1200), 2_400);
        assert_eq!(NewReno::new(MDS).window(), 12_000);
    }

    #[test]
    fn new_reno_slow_start_then_halves_once_per_recovery_period() {
        let rtt = RttEstimator::default();
        let mut cc = NewReno::new(MDS);
        for i in 0..10 {
            cc.on_ack(at(100), at(i), MDS, &rtt, false);
        }
        assert_eq!(cc.window(), 24_000, "slow start doubles per window acked");
        cc.on_congestion_event(at(200), at(150));
        assert_eq!((cc.window(), cc.ssthresh()), (12_000, Some(12_000)));
        // A second loss from the same flight is the same recovery period.
        cc.on_congestion_event(at(210), at(160));
        assert_eq!(cc.window(), 12_000);
        // Acks of packets sent before recovery began do not grow the window.
        cc.on_ack(at(220), at(190), MDS, &rtt, false);
        assert_eq!(cc.window(), 12_000);
        // Congestion avoidance: one mds per window of bytes acknowledged.
        for i in 0..10 {
            cc.on_ack(at(300), at(250 + i), MDS, &rtt, false);
        }
        assert_eq!(cc.window(), 13_200);
        // A loss after recovery began halves again; never below 2 · mds.
        for _ in 0..10 {
            let now = at(1000);
            cc.on_congestion_event(now, now);
            cc.recovery.start = None;
        }
        assert_eq!(cc.window(), minimum_window(MDS));
        cc.on_persistent_congestion();
        assert_eq!(cc.window(), 2_400);
    }

    #[test]
    fn app_limited_acks_do_not_grow_the_window() {
        let mut cc = NewReno::new(MDS);
        cc.on_ack(at(1), at(0), MDS, &RttEstimator::default(), true);
        assert_eq!(cc.window(), 12_000);
    }

    #[test]
    fn cubic_reduces_by_beta_and_regrows_past_w_max() {
        let mut rtt = RttEstimator::default();
        rtt.update(
            Duration::from_millis(50),
            Duration::ZERO,
            true,
            Duration::ZERO,
        );
        let mut cc = Cubic::new(MDS);
        for i in 0..90 {
            cc.on_ack(at(10), at(i), MDS, &rtt, false);
        }
        assert_eq!(cc.window(), 120_000);
        cc.on_congestion_event(at(100), at(99));
        assert_eq!(cc.window(), 84_000);
        // K = cbrt((100 − 70) / 0.4) ≈ 4.2 s; after ~4.2 s of ACKs the
        // window is back at W_max, and it keeps growing after.
        let mut now = 200;
        while now < 200 + 6_000 {
            for _ in 0..10 {
                cc.on_ack(at(now), at(now), MDS, &rtt, false);
            }
            now += 50;
        }
        assert!(cc.window() > 120_000, "window {}", cc.window());
    }
}
