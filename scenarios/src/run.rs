//! Running a scenario and collecting what it measured.

use std::path::Path;

use protocols::transport::Layered;
use protocols::transport_manager::TmNote;
use sim_core::{Instant, Metrics, NodeId, Summary, TraceHash};

use crate::build::{build, ScenarioSim};
use crate::error::{Locator, ScenarioError};
use crate::results::interval_for;
use crate::schema::Scenario;
use crate::services::{needs_events, Services};
use crate::stack::StackEvent;
use crate::transport::{NodeEvent, TransportNote, TransportSpec};

/// What one run of a scenario produced.
#[derive(Debug)]
pub struct Outcome {
    /// The scenario's name.
    pub scenario: String,
    /// The seed the run used.
    pub seed: u64,
    /// Virtual time simulated.
    pub duration: sim_core::Duration,
    /// The summary figures.
    pub summary: Summary,
    /// Everything the kernel counted.
    pub metrics: Metrics,
    /// What discovery and signaling groups did (empty without them).
    pub services: Services,
    /// The trace hash.
    pub trace_hash: TraceHash,
    /// Kernel events processed.
    pub events: u64,
    /// The window width and the number of threads, where the run went in
    /// parallel windows.
    pub windows: Option<(sim_core::Duration, usize)>,
    /// The protocol events the results need beyond the kernel's metrics:
    /// the transport managers' choices and outcomes, in order.
    pub notes: Vec<(Instant, NodeId, NodeEvent)>,
    /// Wall-clock seconds the event loop took. Measured for reporting only:
    /// it never reaches the simulation, so it cannot affect the trace.
    pub wall_s: f64,
}

impl Outcome {
    /// Events per wall-clock second.
    pub fn events_per_sec(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.events as f64 / self.wall_s
        } else {
            0.0
        }
    }
}

/// Builds and runs `scenario` (whose text came from `file`) with `seed`.
pub fn run(
    scenario: &Scenario,
    file: &Path,
    text: &str,
    seed: u64,
) -> Result<Outcome, ScenarioError> {
    let sim = build(scenario, seed, &Locator::new(file, text))?;
    Ok(finish(scenario, seed, sim))
}

/// Runs a built simulation to the scenario's end.
pub fn finish(scenario: &Scenario, seed: u64, sim: ScenarioSim) -> Outcome {
    finish_with_progress(scenario, seed, sim, &mut |_, _| {})
}

/// How many slices of virtual time a run is cut into for progress reports.
const PROGRESS_SLICES: u64 = 500;

/// Runs a built simulation to the scenario's end, calling `progress` with the
/// virtual time reached and the events run so far, once per slice of
/// `PROGRESS_SLICES`. The run is the same whether or not anyone watches: pausing
/// at a time boundary does not change the order of events.
pub fn finish_with_progress(
    scenario: &Scenario,
    seed: u64,
    mut sim: ScenarioSim,
    progress: &mut dyn FnMut(Instant, u64),
) -> Outcome {
    let end = Instant::ZERO + scenario.duration;
    sim.record_timeseries(interval_for(scenario));
    let managed = scenario
        .groups
        .iter()
        .any(|g| matches!(g.transport, Some(TransportSpec::Manager(_))));
    if managed || needs_events(scenario) {
        sim.record_events_where(is_analysed);
    }
    let slice = scenario
        .duration
        .as_nanos()
        .div_ceil(PROGRESS_SLICES)
        .max(1);
    let started = std::time::Instant::now();
    let mut t = Instant::ZERO;
    while t < end {
        t = Instant::from_nanos(t.as_nanos().saturating_add(slice)).min(end);
        sim.run_until(t);
        progress(t, sim.steps());
    }
    let wall_s = started.elapsed().as_secs_f64();
    let (trace_hash, events, windows) = (sim.trace_hash(), sim.steps(), sim.windows());
    let services = if needs_events(scenario) {
        Services::collect(scenario, &sim)
    } else {
        Services::default()
    };
    let notes = if managed {
        sim.take_events()
    } else {
        Vec::new()
    };
    let metrics = sim.into_metrics();
    Outcome {
        scenario: scenario.name.clone(),
        seed,
        duration: scenario.duration,
        summary: metrics.summary(),
        services,
        trace_hash,
        events,
        windows,
        notes,
        wall_s,
        metrics,
    }
}

/// An event the results need beyond the kernel's metrics: a discovery or
/// signaling node's ([`Services`]), or a transport manager's note about a
/// message's choice or fate (not the inner transports' own notes, which are
/// many and not needed).
fn is_analysed(event: &NodeEvent) -> bool {
    matches!(
        event,
        Layered::App(StackEvent::Discovery(_) | StackEvent::Signaling(_))
            | Layered::Transport(TransportNote::Manager(
                TmNote::Chosen { .. }
                    | TmNote::Delivered { .. }
                    | TmNote::GaveUp { .. }
                    | TmNote::NoRoute { .. }
                    | TmNote::QueueDropped { .. }
            ))
    )
}
