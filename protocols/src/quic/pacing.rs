//! Pacing (RFC 9002 §7.7): spreading a window's packets over the round trip
//! instead of sending them in one burst.
//!
//! The pacer is a token bucket in bytes that fills at
//! `N · cwnd / smoothed_rtt` with `N` = [`PACING_GAIN`] = 1.25 (the RFC's
//! example: slightly faster than the window allows, so the window and not
//! the pacer limits a flow), and holds at most one initial window, so a
//! burst never exceeds the initial window (§7.7: "senders SHOULD limit
//! bursts to the initial congestion window"). It starts full. Before the
//! first RTT sample the smoothed RTT is the initial 333 ms. With a smoothed
//! RTT of zero (a link without delay) nothing is paced.
//!
//! The connection asks [`Pacer::release_time`] before each ack-eliciting
//! packet of application data; if that is later than now it arms its
//! pacing timer for then. Everything is integer nanoseconds and bytes.

use sim_core::{Duration, Instant};

/// RFC 9002 §7.7's `N`, as numerator and denominator: the pacing rate is
/// 1.25 · cwnd / smoothed_rtt.
pub const PACING_GAIN: (u64, u64) = (5, 4);

/// A token bucket that releases bytes at the pacing rate.
#[derive(Clone, Debug)]
pub(crate) struct Pacer {
    /// Bytes that may leave now.
    tokens: u64,
    /// The bucket's size: one initial window.
    capacity: u64,
    /// When the tokens were last topped up.
    last: Instant,
}

impl Pacer {
    /// A full bucket of `capacity` bytes at `now`.
    pub(crate) fn new(now: Instant, capacity: u64) -> Self {
        Pacer {
            tokens: capacity,
            capacity,
            last: now,
        }
    }

    /// When `bytes` may leave, given the window and smoothed RTT: `now` if
    /// the bucket holds them, else when it will have filled enough.
    pub(crate) fn release_time(
        &mut self,
        now: Instant,
        bytes: u64,
        cwnd: u64,
        srtt: Duration,
    ) -> Instant {
        let srtt = srtt.as_nanos();
        if srtt == 0 {
            return now;
        }
        let (num, den) = PACING_GAIN;
        // The rate is (num · cwnd) / (den · srtt) bytes per nanosecond.
        let (rate_num, rate_den) = (u128::from(num * cwnd), u128::from(den) * u128::from(srtt));
        let elapsed = u128::from(now.saturating_duration_since(self.last).as_nanos());
        let refill = elapsed * rate_num / rate_den.max(1);
        self.tokens = u64::try_from(u128::from(self.tokens) + refill)
            .unwrap_or(u64::MAX)
            .min(self.capacity);
        self.last = now;
        if self.tokens >= bytes || rate_num == 0 {
            return now;
        }
        let missing = u128::from(bytes - self.tokens);
        let wait = (missing * rate_den).div_ceil(rate_num);
        now.saturating_add(Duration::from_nanos(
            u64::try_from(wait).unwrap_or(u64::MAX),
        ))
    }

    /// A packet of `bytes` left.
    pub(crate) fn on_sent(&mut self, bytes: u64) {
        self.tokens = self.tokens.saturating_sub(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_at_five_quarters_of_the_window_per_rtt() {
        let now = Instant::ZERO;
        let mut pacer = Pacer::new(now, 12_000);
        let (cwnd, srtt) = (100_000, Duration::from_millis(100));
        // The full bucket lets an initial window out at once.
        for _ in 0..10 {
            assert_eq!(pacer.release_time(now, 1200, cwnd, srtt), now);
            pacer.on_sent(1200);
        }
        // Then 1.25 · 100 kB / 100 ms = 1250 B/ms: 1200 B take 0.96 ms.
        let next = pacer.release_time(now, 1200, cwnd, srtt);
        assert_eq!(next, Instant::from_nanos(960_000));
        assert_eq!(pacer.release_time(next, 1200, cwnd, srtt), next);
        // Without a delay, nothing is paced.
        pacer.on_sent(1200);
        assert_eq!(pacer.release_time(next, 1200, cwnd, Duration::ZERO), next);
    }
}
