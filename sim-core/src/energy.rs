//! Energy and batteries: what a node's radio work costs, and when its battery
//! changes band or runs out.
//!
//! A node that models energy has an [`EnergyProfile`]: battery capacity, the
//! charge it starts with, the idle power of its radios, and for each network
//! [`Interface`] an energy per byte sent and received (a phone on the hybrid
//! model pays BLE's price for mesh packets and Wi-Fi's for the rest). The
//! kernel spends energy as the node works: `bytes × tx_j` of the datagram's
//! interface when the node hands it to the network (each copy of a broadcast
//! is its own transmission, as BLE writes to each connected peer),
//! `bytes × rx_j` when a datagram is handed to it, and `idle_w × elapsed` all
//! the time, settled whenever the node is touched and at the end of the run.
//! So a node that sends `n` bytes on one interface and does nothing else
//! spends exactly `n × tx_j + idle_w × t`.
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

use crate::network::Interface;
use crate::protocol::BatteryLevel;
use crate::time::{Duration, Instant};

/// What a node's battery holds and what its radios cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnergyProfile {
    /// Battery capacity in joules (a 3,000 mAh phone battery at 3.85 V holds
    /// about 41.6 kJ).
    pub capacity_j: f64,
    /// State of charge at the start, 0.0 to 1.0.
    pub initial_charge: f64,
    /// Power drawn when the radios do nothing but stay ready, in watts (all
    /// of the node's radios together).
    pub idle_w: f64,
    /// What a byte costs on each interface, indexed by [`Interface`]; an
    /// interface the node does not use may be left at zero.
    pub per_byte: [ByteCost; Interface::COUNT],
}

impl EnergyProfile {
    /// A profile with one radio: every interface costs `tx_j` and `rx_j` a
    /// byte (single-network models use only the first).
    pub fn one_radio(capacity_j: f64, initial_charge: f64, idle_w: f64, cost: ByteCost) -> Self {
        EnergyProfile {
            capacity_j,
            initial_charge,
            idle_w,
            per_byte: [cost; Interface::COUNT],
        }
    }
}

/// What one byte costs a radio, in joules.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ByteCost {
    /// Energy per byte sent.
    pub tx_j: f64,
    /// Energy per byte received.
    pub rx_j: f64,
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

    /// Spends what sending `bytes` on `via` costs, at `now`.
    pub fn send(&mut self, now: Instant, via: Interface, bytes: usize) -> BatteryChange {
        self.spend(now, bytes as f64 * self.profile.per_byte[via.index()].tx_j)
    }

    /// Spends what receiving `bytes` on `via` costs, at `now`.
    pub fn receive(&mut self, now: Instant, via: Interface, bytes: usize) -> BatteryChange {
        self.spend(now, bytes as f64 * self.profile.per_byte[via.index()].rx_j)
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
        let cost = ByteCost {
            tx_j: 0.01,
            rx_j: 0.005,
        };
        EnergyProfile::one_radio(100.0, 1.0, idle_w, cost)
    }

    const IP: Interface = Interface::IP;

    fn secs(s: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(s)
    }

    #[test]
    fn sending_n_bytes_costs_n_times_the_energy_per_byte_plus_idle() {
        let mut b = Battery::new(phone(0.5), Instant::ZERO);
        b.send(secs(2), IP, 1000);
        b.settle(secs(4));
        let expected = 1000.0 * 0.01 + 0.5 * 4.0;
        assert!((b.spent_j() - expected).abs() < 1e-9, "{}", b.spent_j());
        b.receive(secs(4), IP, 200);
        assert!((b.spent_j() - expected - 1.0).abs() < 1e-9);
    }

    #[test]
    fn each_interface_charges_its_own_price() {
        let mut p = phone(0.0);
        p.per_byte[Interface::RADIO.index()] = ByteCost {
            tx_j: 0.001,
            rx_j: 0.0005,
        };
        let mut b = Battery::new(p, Instant::ZERO);
        b.send(secs(1), Interface::RADIO, 1000);
        b.receive(secs(1), Interface::RADIO, 1000);
        assert!((b.spent_j() - 1.5).abs() < 1e-9, "{}", b.spent_j());
        b.send(secs(1), IP, 100);
        assert!((b.spent_j() - 2.5).abs() < 1e-9, "{}", b.spent_j());
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
