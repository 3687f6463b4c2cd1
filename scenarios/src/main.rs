//! The `p2psim` command line.
//!
//! Exit status: 0 on success, 2 when a scenario file is invalid (the message
//! names the file, line and column), 1 for any other failure (a file that
//! cannot be read or written).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use reports::RunSummary;
use scenarios::load::{load, LoadError};
use scenarios::run::{run, Outcome};

#[derive(Parser)]
#[command(
    name = "p2psim",
    version,
    about = "A deterministic discrete-event simulator for peer-to-peer systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its results (summary.json, deliveries.csv).
    Run {
        /// The scenario file (.ron).
        file: PathBuf,
        /// Output folder (default: the scenario's `output.dir`, else out/<name>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed to use instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Print nothing but errors.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a scenario file without running it.
    Validate {
        /// The scenario file (.ron).
        file: PathBuf,
    },
}

enum Failure {
    Scenario(String),
    Other(String),
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Invalid(e) => Failure::Scenario(e.to_string()),
            LoadError::Io { .. } => Failure::Other(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            file,
            out,
            seed,
            quiet,
        } => run_command(&file, out, seed, quiet),
        Command::Validate { file } => load(&file)
            .map(|(s, _)| {
                println!(
                    "{}: ok ({} nodes)",
                    file.display(),
                    s.groups.iter().map(|g| u64::from(g.count)).sum::<u64>()
                )
            })
            .map_err(Failure::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Scenario(msg)) => {
            eprintln!("{msg}");
            ExitCode::from(2)
        }
        Err(Failure::Other(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run_command(
    file: &Path,
    out: Option<PathBuf>,
    seed: Option<u64>,
    quiet: bool,
) -> Result<(), Failure> {
    let (scenario, text) = load(file)?;
    let seed = seed.unwrap_or(scenario.seed);
    let outcome =
        run(&scenario, file, &text, seed).map_err(|e| Failure::Scenario(e.to_string()))?;
    let dir = out
        .or_else(|| scenario.output.dir.as_ref().map(PathBuf::from))
        .unwrap_or_else(|| Path::new("out").join(&scenario.name));
    write_outputs(&dir, &outcome)
        .map_err(|e| Failure::Other(format!("writing {}: {e}", dir.display())))?;
    if !quiet {
        print!("{}", render(&outcome, &dir));
    }
    Ok(())
}

fn write_outputs(dir: &Path, o: &Outcome) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let summary = RunSummary::new(
        &o.scenario,
        o.seed,
        o.trace_hash.to_string(),
        &o.summary,
        o.events,
        o.wall_s,
    );
    summary.write(&dir.join("summary.json"))?;
    reports::tables::write_deliveries(&dir.join("deliveries.csv"), &o.metrics.deliveries)
}

fn render(o: &Outcome, dir: &Path) -> String {
    let s = &o.summary;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "scenario {}  seed {}  simulated {}",
        o.scenario, o.seed, o.duration
    );
    let _ = writeln!(
        t,
        "messages {}  deliveries {}/{}  delivery ratio {:.4}",
        s.messages, s.deliveries, s.expected_deliveries, s.delivery_ratio
    );
    let l = &s.latency;
    let _ = writeln!(
        t,
        "latency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  mean {:.3}  max {:.3}",
        l.p50, l.p90, l.p99, l.mean, l.max
    );
    let _ = writeln!(
        t,
        "hops mean {:.3}  packets sent {}  bytes sent {}",
        s.hops_mean, s.packets_sent, s.bytes_sent
    );
    let drops: Vec<String> = s
        .drops
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| format!("{} {n}", c.name()))
        .collect();
    let _ = writeln!(
        t,
        "drops {}",
        if drops.is_empty() {
            "none".to_string()
        } else {
            drops.join("  ")
        }
    );
    let _ = writeln!(
        t,
        "events {}  wall {:.3} s  {:.0} events/s",
        o.events,
        o.wall_s,
        o.events_per_sec()
    );
    let _ = writeln!(t, "output {}", dir.display());
    let _ = writeln!(t, "trace: {}", o.trace_hash);
    t
}
