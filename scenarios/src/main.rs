//! The `p2psim` command line.
//!
//! Exit status: 0 on success, 2 when a scenario file is invalid (the message
//! names the file, line and column), 1 for any other failure (a file that
//! cannot be read or written, a run folder that cannot be reported).

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration as WallDuration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use scenarios::build::build;
use scenarios::error::Locator;
use scenarios::load::{load, LoadError};
use scenarios::results::run_data;
use scenarios::run::{finish_with_progress, Outcome};
use scenarios::sweep::{self, runner, Plan, Shard, SweepError};
use scenarios::trace_file::TraceFile;
use sim_core::Instant;

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
    /// Run a scenario; write its tables, charts and report.html.
    Run {
        /// The scenario file (.ron).
        file: PathBuf,
        /// Output folder (default: the scenario's `output.dir`, else `out/<name>/`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed to use instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Print nothing but errors, and show no progress bar.
        #[arg(long)]
        quiet: bool,
        /// Also write the ordered event log (time, node, kind, peer, size,
        /// cause) as CSV to this file.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Threads to run the nodes on, where the network model allows it
        /// (default: one per core from 10,000 nodes, else one). The results
        /// are the same for any number.
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Check a scenario file without running it.
    Validate {
        /// The scenario file (.ron).
        file: PathBuf,
    },
    /// Rebuild the charts and report.html of a run folder from its CSV files,
    /// without rerunning.
    Report {
        /// The run's output folder.
        dir: PathBuf,
    },
    /// Run a scenario's sweep, every point × replication in parallel; write
    /// sweep.csv, the sweep charts and report.html.
    Sweep {
        /// The scenario file (.ron), with a `sweep:` field.
        file: PathBuf,
        /// Output folder (default: `out/<name>-sweep/`, and for a shard its
        /// subfolder `shard-K-of-N/`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Run only shard K of N: run j (j = point × replications +
        /// replication) when j mod N = K − 1. Merge the shard folders with
        /// `p2psim merge`.
        #[arg(long, value_name = "K/N")]
        shard: Option<Shard>,
        /// Keep the rows already in the output folder; run only the missing
        /// runs.
        #[arg(long)]
        resume: bool,
        /// Stop after this many runs (to fit a batch job's time limit); a
        /// later --resume runs the rest.
        #[arg(long, value_name = "N")]
        max_runs: Option<usize>,
        /// Print nothing but errors, and show no progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Join the folders of a sharded sweep into OUT: sweep.csv, charts and
    /// report.html.
    Merge {
        /// The merged sweep's folder.
        out: PathBuf,
        /// The shard folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

enum Failure {
    Scenario(String),
    Other(String),
}

impl From<SweepError> for Failure {
    fn from(e: SweepError) -> Self {
        match e {
            SweepError::Scenario(e) => Failure::Scenario(e.to_string()),
            other => Failure::Other(other.to_string()),
        }
    }
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
            trace,
            threads,
        } => run_command(&file, out, seed, quiet, trace, threads),
        Command::Validate { file } => validate_command(&file),
        Command::Report { dir } => report_command(&dir),
        Command::Sweep {
            file,
            out,
            threads,
            shard,
            resume,
            max_runs,
            quiet,
        } => sweep_command(
            &file,
            out,
            runner::Options {
                threads: threads.unwrap_or(0),
                shard: shard.unwrap_or(Shard::WHOLE),
                resume,
                max_runs,
            },
            quiet,
        ),
        Command::Merge { out, dirs } => merge_command(&out, &dirs),
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

fn validate_command(file: &Path) -> Result<(), Failure> {
    let (scenario, _) = load(file)?;
    let nodes: u64 = scenario.groups.iter().map(|g| u64::from(g.count)).sum();
    println!("{}: ok ({nodes} nodes)", file.display());
    Ok(())
}

/// Below this many nodes a run's windows hold too few events for threads
/// to pay for their hand-overs (a 2,000-node gossip run is 40 % slower on
/// 2 threads), so `p2psim run` uses one unless told otherwise.
const PARALLEL_MIN_NODES: u64 = 10_000;

fn run_command(
    file: &Path,
    out: Option<PathBuf>,
    seed: Option<u64>,
    quiet: bool,
    trace: Option<PathBuf>,
    threads: Option<usize>,
) -> Result<(), Failure> {
    let (scenario, text) = load(file)?;
    let seed = seed.unwrap_or(scenario.seed);
    let mut sim = build(&scenario, seed, &Locator::new(file, &text))
        .map_err(|e| Failure::Scenario(e.to_string()))?;
    let trace_file = match &trace {
        Some(path) => {
            let t = TraceFile::create(path)
                .map_err(|e| Failure::Other(format!("creating {}: {e}", path.display())))?;
            sim.set_trace_sink(t.sink());
            Some(t)
        }
        None => None,
    };
    let mut bar = Progress::new(
        !quiet && std::io::stdout().is_terminal(),
        scenario.duration.as_nanos(),
    );
    let nodes: u64 = scenario.groups.iter().map(|g| u64::from(g.count)).sum();
    let threads = threads.unwrap_or_else(|| {
        if nodes >= PARALLEL_MIN_NODES {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            1
        }
    });
    sim.run_in_windows(threads);
    let outcome = finish_with_progress(&scenario, seed, sim, &mut |t, steps| bar.update(t, steps));
    bar.finish();
    if let (Some(t), Some(path)) = (trace_file, &trace) {
        t.finish()
            .map_err(|e| Failure::Other(format!("writing {}: {e}", path.display())))?;
    }
    let dir = out
        .or_else(|| scenario.output.dir.as_ref().map(PathBuf::from))
        .unwrap_or_else(|| Path::new("out").join(&scenario.name));
    let data = run_data(&outcome, &scenario, &text);
    reports::write_and_publish(&dir, &data, env!("CARGO_PKG_VERSION"))
        .map_err(|e| Failure::Other(e.to_string()))?;
    if !quiet {
        print!("{}", render(&outcome, &data.summary, &dir));
    }
    Ok(())
}

fn report_command(dir: &Path) -> Result<(), Failure> {
    let report = reports::publish(dir, env!("CARGO_PKG_VERSION"))
        .map_err(|e| Failure::Other(e.to_string()))?;
    println!("{}", report.display());
    Ok(())
}

fn sweep_command(
    file: &Path,
    out: Option<PathBuf>,
    options: runner::Options,
    quiet: bool,
) -> Result<(), Failure> {
    let (scenario, text) = load(file)?;
    let plan = Plan::new(&scenario, file, &text).map_err(SweepError::from)?;
    let dir = out.unwrap_or_else(|| sweep::default_dir(&scenario.name, options.shard));
    let bar = (!quiet && std::io::stdout().is_terminal()).then(|| {
        let bar = ProgressBar::no_length();
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {elapsed} elapsed, ETA {eta}")
                .expect("a valid template"),
        );
        bar
    });
    let started = std::time::Instant::now();
    let done = runner::run(&plan, file, &text, &dir, &options, &|n, total| {
        if let Some(bar) = &bar {
            if bar.length().is_none() {
                bar.set_length(total as u64);
                bar.set_position(n as u64);
                bar.reset_eta(); // runs resumed are not this call's speed
            } else {
                bar.set_position(n as u64);
            }
        }
    })?;
    let wall = started.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = if done.complete() && options.shard == Shard::WHOLE {
        Some(sweep::publish::publish(
            &plan,
            &text,
            &done.rows,
            &dir,
            env!("CARGO_PKG_VERSION"),
        )?)
    } else {
        None
    };
    if quiet {
        return Ok(());
    }
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    println!(
        "sweep {}  {} points × {} replications = {} runs",
        scenario.name,
        plan.points.len(),
        plan.replications,
        plan.runs()
    );
    println!(
        "ran {} runs in {wall:.1} s on {threads} threads ({} resumed)",
        done.ran, done.resumed
    );
    match report {
        Some(report) => println!("output {}  (report: {})", dir.display(), report.display()),
        None if done.complete() => println!(
            "output {}  (shard {}: {} runs; join the shard folders with `p2psim merge`)",
            dir.display(),
            options.shard,
            done.total
        ),
        None => println!(
            "output {}  (stopped: {} of {} runs done; run again with --resume)",
            dir.display(),
            done.rows.len(),
            done.total
        ),
    }
    Ok(())
}

fn merge_command(out: &Path, dirs: &[PathBuf]) -> Result<(), Failure> {
    let merged = sweep::merge(out, dirs, env!("CARGO_PKG_VERSION"))?;
    println!(
        "merged {} runs from {} folders ({} rows found twice, kept once) into {}  (report: {})",
        merged.runs,
        dirs.len(),
        merged.duplicates,
        out.display(),
        merged.report.display()
    );
    Ok(())
}

/// A progress bar that appears only on a terminal, and only once a run has
/// taken more than a second: simulated time, events/s and ETA.
struct Progress {
    enabled: bool,
    total_ns: u64,
    started: std::time::Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(enabled: bool, total_ns: u64) -> Self {
        Progress {
            enabled,
            total_ns,
            started: std::time::Instant::now(),
            bar: None,
        }
    }

    fn update(&mut self, t: Instant, steps: u64) {
        if !self.enabled {
            return;
        }
        let elapsed = self.started.elapsed();
        if self.bar.is_none() && elapsed < WallDuration::from_secs(1) {
            return;
        }
        let total_ns = self.total_ns;
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(total_ns);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} ETA {eta}")
                    .expect("a valid template"),
            );
            bar
        });
        bar.set_position(t.as_nanos());
        let rate = steps as f64 / elapsed.as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "{}/{} simulated, {:.2}M events/s,",
            t.since_start(),
            sim_core::Duration::from_nanos(total_ns),
            rate / 1e6
        ));
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn render(o: &Outcome, summary: &reports::RunSummary, dir: &Path) -> String {
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
    let lk = &s.lookups;
    if lk.started > 0 {
        let _ = writeln!(
            t,
            "lookups {}  succeeded {} ({:.4})  hops mean {:.3}  requests mean {:.2}  latency ms p50 {:.3} p99 {:.3}",
            lk.started,
            lk.succeeded,
            lk.succeeded as f64 / lk.started as f64,
            lk.hops_mean,
            lk.requests_mean,
            lk.latency.p50,
            lk.latency.p99
        );
    }
    if let Some(d) = &summary.discovery {
        let _ = writeln!(
            t,
            "discovery {} discovers  answered {} ({:.4})  returned {}  stale {} ({:.4})  staleness s mean {:.1} max {:.1}",
            d.discovers,
            d.answered,
            d.success_ratio,
            d.returned,
            d.stale_returns,
            d.stale_share,
            d.staleness_ms.mean / 1e3,
            d.staleness_ms.max / 1e3
        );
        let _ = writeln!(
            t,
            "registry served {} ({:.2}/s: register {} heartbeat {} discover {} health {})  rejected {}  cost ${:.4}, ${:.2}/month",
            d.served.total,
            d.requests_per_s,
            d.served.register,
            d.served.heartbeat,
            d.served.discover,
            d.served.health,
            d.rejected,
            d.cost_usd,
            d.monthly_cost_usd.total
        );
    }
    if let Some(g) = &summary.signaling {
        let _ = writeln!(
            t,
            "signaling joins {}  refused {}  connects {}  opened {} ({:.4})  setup ms p50 {:.3} p99 {:.3}  direct messages {}  idle removals {}",
            g.joins,
            g.refused,
            g.connects,
            g.channels_opened,
            g.connect_ratio,
            g.setup_ms.p50,
            g.setup_ms.p99,
            g.direct_messages,
            g.removed.idle_timeout
        );
    }
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
    let _ = write!(
        t,
        "events {}  wall {:.3} s  {:.0} events/s",
        o.events,
        o.wall_s,
        o.events_per_sec()
    );
    let _ = match o.windows {
        Some((width, 1)) => writeln!(t, "  (1 thread, windows of {width})"),
        Some((width, threads)) => writeln!(t, "  ({threads} threads, windows of {width})"),
        None => writeln!(t),
    };
    let _ = writeln!(
        t,
        "output {}  (report: {})",
        dir.display(),
        dir.join(reports::data::files::REPORT).display()
    );
    let _ = writeln!(t, "trace: {}", o.trace_hash);
    t
}
