//! The retransmission timer of RFC 6298: smoothed RTT, RTT variance,
//! backoff.
//!
//! - Before the first sample, RTO is the configured initial value (1 s).
//! - The first sample `R` sets `SRTT = R`, `RTTVAR = R/2`; each later one
//!   `RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R|`, then `SRTT = 7/8·SRTT + 1/8·R`.
//! - `RTO = SRTT + max(G, 4·RTTVAR)`, clamped to `[min_rto, max_rto]`, with
//!   the clock granularity `G` taken as 1 ms (RFC 9002's `kGranularity`: the
//!   virtual clock ticks in nanoseconds, which would make `G` vanish).
//! - Each expiry doubles RTO, up to `max_rto`; the next sample recomputes
//!   it. Samples come only from frames sent once (Karn's algorithm), which
//!   the caller ensures.
//!
//! All arithmetic is integer nanoseconds.

use sim_core::Duration;

/// RFC 6298's clock granularity `G`, as RFC 9002 sets it.
pub(super) const GRANULARITY: Duration = Duration::from_millis(1);

/// One connection's RTT estimate and retransmission timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rtt {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min: Duration,
    max: Duration,
}

impl Rtt {
    /// No sample yet: RTO is `initial` (clamped to `min..=max`).
    pub(super) fn new(initial: Duration, min: Duration, max: Duration) -> Rtt {
        let max = max.max(min);
        Rtt {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min, max),
            min,
            max,
        }
    }

    /// The smoothed RTT, once there is a sample.
    pub(super) fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The current retransmission timeout.
    pub(super) fn rto(&self) -> Duration {
        self.rto
    }

    /// Folds in a measured round trip.
    pub(super) fn sample(&mut self, r: Duration) {
        let r = r.as_nanos();
        let (srtt, rttvar) = match self.srtt {
            None => (r, r / 2),
            Some(srtt) => {
                let srtt = srtt.as_nanos();
                let rttvar = (3 * self.rttvar.as_nanos() + srtt.abs_diff(r)) / 4;
                (srtt - srtt / 8 + r / 8, rttvar)
            }
        };
        self.srtt = Some(Duration::from_nanos(srtt));
        self.rttvar = Duration::from_nanos(rttvar);
        let rto = Duration::from_nanos(srtt)
            .saturating_add(GRANULARITY.max(self.rttvar.saturating_mul(4)));
        self.rto = rto.clamp(self.min, self.max);
    }

    /// The timer expired: doubles RTO, up to the maximum.
    pub(super) fn back_off(&mut self) {
        self.rto = self.rto.saturating_mul(2).min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn before_any_sample_rto_is_the_initial_value() {
        let rtt = Rtt::new(ms(1000), ms(200), ms(60_000));
        assert_eq!(rtt.rto(), ms(1000));
        assert_eq!(rtt.srtt(), None);
    }

    #[test]
    fn the_first_sample_sets_srtt_and_half_of_it_as_variance() {
        let mut rtt = Rtt::new(ms(1000), ms(10), ms(60_000));
        rtt.sample(ms(100));
        assert_eq!(rtt.srtt(), Some(ms(100)));
        // RTO = 100 + 4 · 50.
        assert_eq!(rtt.rto(), ms(300));
    }

    #[test]
    fn later_samples_are_smoothed_as_rfc_6298_says() {
        let mut rtt = Rtt::new(ms(1000), ms(10), ms(60_000));
        rtt.sample(ms(100));
        rtt.sample(ms(200));
        // RTTVAR = 3/4 · 50 + 1/4 · 100 = 62.5; SRTT = 7/8 · 100 + 1/8 · 200 = 112.5.
        assert_eq!(rtt.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(rtt.rto(), Duration::from_micros(112_500 + 250_000));
    }

    #[test]
    fn rto_is_clamped_and_never_below_srtt_plus_granularity() {
        let mut rtt = Rtt::new(ms(1000), Duration::ZERO, ms(60_000));
        rtt.sample(Duration::ZERO);
        assert_eq!(rtt.rto(), GRANULARITY);
        let mut rtt = Rtt::new(ms(1000), ms(1000), ms(60_000));
        rtt.sample(ms(10));
        assert_eq!(rtt.rto(), ms(1000));
    }

    #[test]
    fn each_expiry_doubles_rto_up_to_the_maximum() {
        let mut rtt = Rtt::new(ms(1000), ms(1000), ms(5000));
        let mut seen = Vec::new();
        for _ in 0..5 {
            rtt.back_off();
            seen.push(rtt.rto());
        }
        assert_eq!(seen, [ms(2000), ms(4000), ms(5000), ms(5000), ms(5000)]);
        // A new sample recomputes it.
        rtt.sample(ms(10));
        assert_eq!(rtt.rto(), ms(1000));
    }
}
