//! PHOLD through p2psim's kernel, held against `shared/bench/phold_ref.cpp`.
//!
//! Usage: `phold LPS EVENTS_PER_LP TOTAL_EVENTS`. Prints the reference's lines
//! (`events:`, `sim_time_ns:`, `wall_s:`, `events_per_sec:`) and the run's
//! `trace:` hash. Only the event loop is timed, as in the reference; the model
//! and the set-up are in the `benches` library.

use std::process::ExitCode;

const USAGE: &str = "usage: phold LPS EVENTS_PER_LP TOTAL_EVENTS  (LPS >= 1)";

/// The three arguments, or `None` if they are not three valid numbers.
fn parse(args: &[String]) -> Option<(u32, u32, u64)> {
    let [lps, per, total] = args else { return None };
    let lps: u32 = lps.parse().ok().filter(|&n| n > 0)?;
    Some((lps, per.parse().ok()?, total.parse().ok()?))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((lps, per, total)) = parse(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut sim = benches::setup(lps, per);
    // A benchmark may read the wall clock; the simulation never does.
    let start = std::time::Instant::now();
    let done = benches::run(&mut sim, total);
    let secs = start.elapsed().as_secs_f64();
    println!("events: {done}");
    println!("sim_time_ns: {}", sim.now().as_nanos());
    println!("wall_s: {secs:.3}");
    println!("events_per_sec: {:.0}", done as f64 / secs);
    println!("trace: {}", sim.trace_hash());
    ExitCode::SUCCESS
}
