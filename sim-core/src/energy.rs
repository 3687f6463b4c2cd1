//! Energy and batteries: what a node's radio work costs, and when its battery
//! changes band or runs out.
//!
//! A node that models energy has an [`EnergyProfile`]: battery capacity, the
//! charge it starts with, and for the radio it uses, an idle power and an
//! energy per byte sent and received. The kernel spends energy as the node
//! works: `bytes × tx_j_per_byte` when the node hands a datagram to the
//! network (each copy of a broadcast is its own transmission, as BLE writes
//! to each connected peer), `bytes × rx_j_per_byte` when a datagram is handed
//! to it, and `idle_w × elapsed` all the time, settled whenever the node is
//! touched and at the end of the run. So a node that sends `n` bytes and does
//! nothing else spends exactly `n × tx_j_per_byte + idle_w × t`.
//!
//! The battery's state of charge falls into the bands of
//! [`BatteryLevel`]; when it crosses into a new band the node's protocol is
//! told through [`crate::Protocol::handle_battery`], and when it reaches zero
//! the node goes down for good, losing its state. Crossings caused by idle
//! drain alone happen between events, so the kernel schedules a check at the
//! time [`Battery::next_crossing`] predicts.
//!
//! Energy is `f64` joules: sums and products of IEEE doubles in a fixed order
//! are the same on every machine, and no time is ever held as a float.

use crate::protocol::BatteryLevel;
use crate::time::{Duration, Instant};

/// What a node's battery holds and what its radio costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnergyProfile {
    /// Battery capacity in joules (a 3,000 mAh phone battery at 3.85 V holds
    /// about 41.6 kJ).
    pub capacity_j: f64,
    /// State of charge at the start, 0.0 to 1.0.
    pub initial_charge: f64,
    /// Power drawn when the radio does nothing but stay ready, in watts.
    pub idle_w: f64,
    /// Energy per byte sent, in joules.
    pub tx_j_per_byte: f64,
    /// Energy per byte received, in joules.
    pub rx_j_per_byte: f64,
}

/// What spending energy did to the battery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatteryChange {
    /// Still in the same band.
    Same,
    /// Crossed into another band.
    Level(BatteryLevel),
    /// Ran out.
    Empty,
}

/// A node's battery as the run drains it.
#[derive(Clone, Debug)]
pub struct Battery {
    profile: EnergyProfile,
    remaining_j: f64,
    spent_j: f64,
    settled_at: Instant,
    level: BatteryLevel,
}

/// Band boundaries as fractions of capacity, from the top: crossing below one
/// moves the battery into the next band, and below the last (zero) empties it.
const BOUNDARIES: [f64; 4] = [0.50, 0.20, 0.10, 0.0];

impl Battery {
    /// A battery with `profile`, charged to its initial charge at `now`.
    pub fn new(profile: EnergyProfile, now: Instant) -> Self {
        let charge = profile.initial_charge.clamp(0.0, 1.0);
        Battery {
            profile,
            remaining_j: profile.capacity_j * charge,
            spent_j: 0.0,
            settled_at: now,
            level: BatteryLevel::of_fraction(charge),
        }
    }

    /// Energy spent so far, in joules (up to the last settlement).
    pub fn spent_j(&self) -> f64 {
        self.spent_j
    }

    /// The state of charge, 0.0 to 1.0.
    pub fn charge(&self) -> f64 {
        if self.profile.capacity_j > 0.0 {
            (self.remaining_j / self.profile.capacity_j).max(0.0)
        } else {
            0.0
        }
    }

    /// The band the battery is in.
    pub fn level(&self) -> BatteryLevel {
        self.level
    }

    /// Whether the battery has run out.
    pub fn is_empty(&self) -> bool {
        self.remaining_j <= 0.0
    }

    /// The profile it was built with.
    pub fn profile(&self) -> &EnergyProfile {
        &self.profile
    }

    /// Spends the idle power from the last settlement up to `now`.
    pub fn settle(&mut self, now: Instant) -> BatteryChange {
        let elapsed = now.saturating_duration_since(self.settled_at);
        self.settled_at = self.settled_at.max(now);
        self.take(self.profile.idle_w * elapsed.as_secs_f64())
    }

    /// Restarts idle drain from `now` without spending (the node was off).
    pub fn resume(&mut self, now: Instant) {
        self.settled_at = self.settled_at.max(now);
    }

    /// Spends idle power up to `now`, then `joules` more.
    pub fn spend(&mut self, now: Instant, joules: f64) -> BatteryChange {
        let idle = self.settle(now);
        match self.take(joules) {
            BatteryChange::Same => idle,
            change => change,
        }
    }

    /// Spends `bytes × tx_j_per_byte` at `now`.
    pub fn send(&mut self, now: Instant, bytes: usize) -> BatteryChange {
        self.spend(now, bytes as f64 * self.profile.tx_j_per_byte)
    }

    /// Spends `bytes × rx_j_per_byte` at `now`.
    pub fn receive(&mut self, now: Instant, bytes: usize) -> BatteryChange {
        self.spend(now, bytes as f64 * self.profile.rx_j_per_byte)
    }

    /// When idle drain alone would take the battery across the next band
    /// boundary below it (or empty it), if it ever would.
    pub fn next_crossing(&self) -> Option<Instant> {
        if self.is_empty() || self.profile.idle_w <= 0.0 {
            return None;
        }
        let charge = self.charge();
        let boundary = BOUNDARIES.iter().copied().find(|&b| b < charge)?;
        let joules = (charge - boundary) * self.profile.capacity_j;
        let secs = joules / self.profile.idle_w;
        // One nanosecond past the boundary, so the check finds it crossed.
        let nanos = (secs * 1e9).floor().clamp(0.0, (u64::MAX - 1) as f64) as u64 + 1;
        Some(self.settled_at.saturating_add(Duration::from_nanos(nanos)))
    }

    fn take(&mut self, joules: f64) -> BatteryChange {
        if joules <= 0.0 || self.is_empty() {
            return BatteryChange::Same;
        }
        let taken = joules.min(self.remaining_j);
        self.remaining_j -= joules;
        self.spent_j += taken;
        if self.remaining_j <= 0.0 {
            self.remaining_j = 0.0;
            return BatteryChange::Empty;
        }
        let level = BatteryLevel::of_fraction(self.charge());
        if level == self.level {
            BatteryChange::Same
        } else {
            self.level = level;
            BatteryChange::Level(level)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(idle_w: f64) -> EnergyProfile {
        EnergyProfile {
            capacity_j: 100.0,
            initial_charge: 1.0,
            idle_w,
            tx_j_per_byte: 0.01,
            rx_j_per_byte: 0.005,
        }
    }

    fn secs(s: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(s)
    }

    #[test]
    fn sending_n_bytes_costs_n_times_the_energy_per_byte_plus_idle() {
        let mut b = Battery::new(phone(0.5), Instant::ZERO);
        b.send(secs(2), 1000);
        b.settle(secs(4));
        let expected = 1000.0 * 0.01 + 0.5 * 4.0;
        assert!((b.spent_j() - expected).abs() < 1e-9, "{}", b.spent_j());
        b.receive(secs(4), 200);
        assert!((b.spent_j() - expected - 1.0).abs() < 1e-9);
    }

    #[test]
    fn bands_are_crossed_in_order_and_the_last_joule_empties_it() {
        let mut b = Battery::new(phone(0.0), Instant::ZERO);
        assert_eq!(b.level(), BatteryLevel::High);
        assert_eq!(b.spend(secs(1), 49.0), BatteryChange::Same);
        assert_eq!(
            b.spend(secs(1), 2.0),
            BatteryChange::Level(BatteryLevel::Medium)
        );
        assert_eq!(
            b.spend(secs(1), 30.0),
            BatteryChange::Level(BatteryLevel::Low)
        );
        assert_eq!(
            b.spend(secs(1), 10.0),
            BatteryChange::Level(BatteryLevel::Critical)
        );
        assert_eq!(b.spend(secs(1), 100.0), BatteryChange::Empty);
        assert!(b.is_empty());
        assert!(
            (b.spent_j() - 100.0).abs() < 1e-9,
            "never more than it held"
        );
        assert_eq!(b.spend(secs(2), 1.0), BatteryChange::Same);
    }

    #[test]
    fn idle_drain_crossing_is_predicted_to_the_nanosecond() {
        // 100 J at 1 W: 50 % after 50 s, 20 % after 80 s, 10 % after 90 s,
        // empty after 100 s.
        let mut b = Battery::new(phone(1.0), Instant::ZERO);
        let mut crossings = Vec::new();
        while let Some(at) = b.next_crossing() {
            let change = b.settle(at);
            crossings.push((at, change));
            assert_ne!(
                change,
                BatteryChange::Same,
                "the check finds the crossing done"
            );
        }
        let at: Vec<u64> = crossings.iter().map(|c| c.0.as_nanos()).collect();
        let s = 1_000_000_000;
        for (got, want) in at.iter().zip([50 * s, 80 * s, 90 * s, 100 * s]) {
            assert!(got.abs_diff(want) <= 1, "{got} vs {want}");
        }
        assert_eq!(crossings.last().unwrap().1, BatteryChange::Empty);
    }

    #[test]
    fn a_partly_charged_battery_starts_in_its_band() {
        let mut p = phone(0.0);
        p.initial_charge = 0.15;
        let b = Battery::new(p, Instant::ZERO);
        assert_eq!(b.level(), BatteryLevel::Low);
        assert!((b.charge() - 0.15).abs() < 1e-12);
    }
}
