//! Benchmarks of p2psim's kernel.
//!
//! Everything here drives the real kernel: [`sim_core::Simulation`] with its
//! [`sim_core::EventQueue`], its network model and its node dispatch, exactly
//! as scenarios use them. Nothing is a separate event loop.
//!
//! - This library holds PHOLD, the standard discrete-event kernel benchmark, as
//!   a tiny sans-IO [`Phold`] protocol plus the shared set-up ([`setup`]) and
//!   run loop ([`run`]) that the binary and the criterion benches both use.
//! - `src/bin/phold.rs` is the PHOLD binary, held against the plain binary-heap
//!   reference `shared/bench/phold_ref.cpp`: same arguments, same output lines.
//! - `src/bin/idle_memory.rs` measures the kernel's resident memory per idle
//!   node on the internet model (100,000 nodes by default).
//! - `src/bin/sweep_scaling.rs` times a 200-point sweep of `quickstart.ron`
//!   with one thread and with two: how `p2psim sweep` scales.
//! - `benches/queue.rs` compares [`sim_core::EventQueue`] with
//!   `std::collections::BinaryHeap` in a PHOLD-like hold pattern;
//!   `benches/kernel.rs` times a fixed-size PHOLD run through the kernel;
//!   `benches/flood.rs` times whole flood scenarios as `p2psim run` runs them.
//! - `phold-compare.sh` builds the binary and the reference and prints both
//!   figures and their ratio (medians of three runs).
//!
//! # Running
//!
//! ```text
//! cargo build --release -p benches
//! target/release/phold 1000 10 10000000      # LPS EVENTS_PER_LP TOTAL_EVENTS
//! target/release/idle_memory 100000          # kernel bytes per idle node
//! target/release/sweep_scaling 3             # sweep speed-up, 1 → 2 threads
//! cargo bench -p benches                     # criterion: queue, kernel, flood
//! benches/phold-compare.sh                   # p2psim vs the C++ reference
//! ```
//!
//! # The model
//!
//! N logical processes (LPs) each start with M events in flight; each event,
//! when it runs, schedules one new event at a uniformly random LP after
//! 0.1 ms + an exponential delay with mean 1 ms; the run stops after K events.
//!
//! In p2psim an LP is a node running [`Phold`] and an event is an empty
//! datagram. The network is a one-region [`InternetNetwork`] with a one-way
//! latency of 0.1 ms, exponential jitter with mean 1 ms and no bandwidth
//! limits, so every datagram arrives 0.1 ms + Exp(1 ms) after it is sent. When
//! a datagram arrives, the node sends one empty datagram to an LP drawn
//! uniformly with its own RNG stream. At t = 0 a single [`Source`] gives every
//! node a [`Start`] command, which makes it send M empty datagrams to itself.
//! A delivered datagram is one PHOLD event.
//!
//! Differences from the reference: the kernel rounds each jitter sample to
//! the nearest nanosecond (the reference truncates), and the random streams
//! differ, so the two runs agree in distribution, not event by event. A
//! p2psim run is reproducible: the same arguments give the same `trace:`
//! hash.

#![warn(missing_docs)]

use sim_core::network::{AccessClass, InternetConfig, Loss};
use sim_core::{
    Action, Datagram, Dist, Domain, Duration, Instant, InternetNetwork, NodeId, Observation,
    Observe, Output, Protocol, RngStreams, SimRng, Simulation, Source,
};

/// The scenario seed of every PHOLD run (the reference seeds its generator
/// with 42 too).
pub const SEED: u64 = 42;

/// The fixed part of a PHOLD event's delay: the core's one-way latency.
pub const LOOKAHEAD: Duration = Duration::from_micros(100);

/// The mean of the exponential part of a PHOLD event's delay (the jitter).
pub const MEAN_DELAY: Duration = Duration::from_millis(1);

/// A PHOLD logical process as a sans-IO protocol.
///
/// Every datagram that arrives makes it send one empty datagram to an LP drawn
/// uniformly from `0..lps` with the RNG stream its builder received; a
/// [`Start`] command makes it send that many empty datagrams to itself. It has
/// no timers and reports no events. Empty datagrams are `Vec::new()`, which
/// does not allocate.
#[derive(Debug)]
pub struct Phold {
    id: NodeId,
    lps: u64,
    rng: SimRng,
    /// Datagrams still to send to itself (from [`Start`]).
    to_self: u32,
    /// Datagrams still to send to a random LP (one per arrival).
    to_random: u32,
}

impl Phold {
    /// LP `id` of `lps`, drawing destinations from `rng`.
    ///
    /// # Panics
    /// If `lps` is zero: there would be no LP to send to.
    pub fn new(id: NodeId, lps: u32, rng: SimRng) -> Self {
        assert!(lps > 0, "PHOLD needs at least one LP");
        Phold {
            id,
            lps: u64::from(lps),
            rng,
            to_self: 0,
            to_random: 0,
        }
    }
}

/// The command that seeds an LP: send this many empty datagrams to itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start(pub u32);

/// PHOLD reports nothing: this type has no values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PholdEvent {}

impl Observe for PholdEvent {
    fn observe(&self) -> Option<Observation> {
        match *self {}
    }
}

impl Protocol for Phold {
    type Command = Start;
    type Event = PholdEvent;

    fn handle_datagram(&mut self, _now: Instant, _from: NodeId, _bytes: &[u8]) {
        self.to_random += 1;
    }

    fn handle_command(&mut self, _now: Instant, cmd: Start) {
        self.to_self += cmd.0;
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_output(&mut self) -> Option<Output<PholdEvent>> {
        let to = if self.to_self > 0 {
            self.to_self -= 1;
            self.id
        } else if self.to_random > 0 {
            self.to_random -= 1;
            // `lps` came from a u32, so the draw fits one.
            NodeId(sim_core::dist::uniform_below(&mut self.rng, self.lps) as u32)
        } else {
            return None;
        };
        Some(Output::Transmit {
            to,
            bytes: Datagram::default(),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// The one source of a PHOLD run: at t = 0, [`Start`] for every LP in turn.
struct StartAll {
    next: u32,
    lps: u32,
    events_per_lp: u32,
}

impl Source<Start> for StartAll {
    fn next(&mut self) -> Option<(Instant, Action<Start>)> {
        if self.next == self.lps {
            return None;
        }
        let node = NodeId(self.next);
        self.next += 1;
        Some((
            Instant::ZERO,
            Action::Command {
                node,
                cmd: Start(self.events_per_lp),
            },
        ))
    }
}

/// A PHOLD simulation: [`Phold`] nodes on the PHOLD network.
pub type PholdSim = Simulation<Phold, InternetNetwork>;

/// Builds a PHOLD run of `lps` LPs with `events_per_lp` events each and runs
/// its start (everything due at t = 0), so that all `lps × events_per_lp`
/// initial events are in flight and none has been delivered. Like the
/// reference's set-up, this is not part of the timed loop.
///
/// # Panics
/// If `lps` is zero.
pub fn setup(lps: u32, events_per_lp: u32) -> PholdSim {
    let streams = RngStreams::new(SEED);
    let config = InternetConfig {
        regions: vec!["core".to_owned()],
        latency: vec![vec![LOOKAHEAD]],
        jitter: Some(Dist::Exponential { mean: MEAN_DELAY }),
        loss: Loss::None,
        mtu: None,
        in_order: false,
    };
    let n = lps as usize;
    let network = InternetNetwork::new(
        config,
        vec![AccessClass::default()],
        vec![0; n],
        vec![0; n],
        streams.stream(Domain::Network, 0, 0),
    );
    let mut sim = Simulation::new(
        streams,
        network,
        Box::new(move |id, rng| Phold::new(id, lps, rng)),
    );
    sim.add_source(Box::new(StartAll {
        next: 0,
        lps,
        events_per_lp,
    }));
    sim.run_until(Instant::ZERO);
    sim
}

/// Runs `sim` one kernel step at a time until `total` datagrams have been
/// delivered in all (or nothing is left to run); returns how many were.
pub fn run(sim: &mut PholdSim, total: u64) -> u64 {
    while sim.metrics().packets_delivered < total && sim.step(Instant::MAX) {}
    sim.metrics().packets_delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_puts_every_event_in_flight() {
        let mut sim = setup(10, 3);
        assert_eq!(sim.metrics().packets_sent, 30);
        assert_eq!(sim.metrics().packets_delivered, 0);
        assert_eq!(run(&mut sim, 1_000), 1_000);
        // every delivery sends exactly one new datagram
        assert_eq!(sim.metrics().packets_sent, 1_030);
        assert!(sim.now() >= Instant::ZERO + LOOKAHEAD);
    }

    #[test]
    fn runs_are_reproducible() {
        let go = || {
            let mut sim = setup(50, 2);
            run(&mut sim, 5_000);
            (sim.trace_hash(), sim.now())
        };
        assert_eq!(go(), go());
    }

    #[test]
    fn mean_delay_matches_the_model() {
        // 1,000 events in flight, 0.1 ms + 1 ms mean delay: after K events the
        // clock is near K × 1.1 ms / 1,000.
        let mut sim = setup(100, 10);
        run(&mut sim, 200_000);
        let per_event = sim.now().as_nanos() as f64 * 1_000.0 / 200_000.0;
        assert!((per_event - 1.1e6).abs() < 0.05e6, "{per_event} ns");
    }

    #[test]
    fn destinations_are_uniform() {
        let mut sim = setup(20, 5);
        run(&mut sim, 100_000);
        for c in &sim.metrics().nodes {
            let share = c.packets_received as f64 / 100_000.0;
            assert!((share - 0.05).abs() < 0.005, "{share}");
        }
    }
}
