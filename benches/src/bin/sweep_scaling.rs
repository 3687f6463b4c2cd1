//! How a sweep scales from one thread to two.
//!
//! `sweep_scaling [REPEATS]` (default 3) sweeps `scenarios/quickstart.ron`
//! (a 200-node lossy flood, 60 s simulated) over 20 hop limits × 10 loss
//! rates: 200 points of one replication each. It runs the whole sweep as
//! `p2psim sweep` does (the plan, the rayon pool, the rows appended to the
//! partial file, the sorted `sweep.csv`; not the charts) with one thread and
//! with two, alternately REPEATS times, prints each wall time, the medians
//! and the speed-up (median one-thread time / median two-thread time), and
//! checks that both give the same `sweep.csv`.

use std::path::Path;
use std::time::Instant;

use scenarios::load::parse;
use scenarios::sweep::runner::{self, Options};
use scenarios::sweep::Plan;

const SWEEP: &str = r#"
    sweep: (
        parameters: [
            (path: "groups.0.protocol.Flood.hop_limit", name: "hop limit",
             values: [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]),
            (path: "network.link.loss", name: "loss",
             values: [Bernoulli(p: 0.0), Bernoulli(p: 0.01), Bernoulli(p: 0.02), Bernoulli(p: 0.03),
                      Bernoulli(p: 0.04), Bernoulli(p: 0.05), Bernoulli(p: 0.06), Bernoulli(p: 0.07),
                      Bernoulli(p: 0.08), Bernoulli(p: 0.09)]),
        ],
    ),
)"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let repeats: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 3,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: sweep_scaling [REPEATS]");
            std::process::exit(2);
        }
    };
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/quickstart.ron");
    let quickstart = std::fs::read_to_string(&file).expect("the shipped quickstart.ron");
    let end = quickstart.rfind(')').expect("a scenario ends with `)`");
    let text = format!("{}{SWEEP}\n", &quickstart[..end]);
    let scenario = parse(&file, &text).unwrap_or_else(|e| panic!("{e}"));
    let plan = Plan::new(&scenario, &file, &text).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "sweep_scaling: {} runs of quickstart.ron ({} points × {} replication), {repeats} repeats",
        plan.runs(),
        plan.points.len(),
        plan.replications
    );

    let mut times = [Vec::new(), Vec::new()];
    let mut csv: [Option<Vec<u8>>; 2] = [None, None];
    for repeat in 0..repeats {
        for threads in [1, 2] {
            let dir = std::env::temp_dir().join(format!(
                "p2psim-sweep-scaling-{}-{repeat}-{threads}",
                std::process::id()
            ));
            let options = Options {
                threads,
                ..Options::default()
            };
            let started = Instant::now();
            let done = runner::run(&plan, &file, &text, &dir, &options, &|_, _| {})
                .unwrap_or_else(|e| panic!("{e}"));
            let wall = started.elapsed().as_secs_f64();
            assert!(done.complete());
            let bytes = std::fs::read(dir.join("sweep.csv")).expect("sweep.csv");
            std::fs::remove_dir_all(&dir).expect("removing the sweep's folder");
            let same = csv[threads - 1].get_or_insert(bytes.clone());
            assert!(*same == bytes, "sweep.csv differs between repeats");
            println!("threads {threads}: {wall:.2} s");
            times[threads - 1].push(wall);
        }
    }
    assert!(
        csv[0] == csv[1],
        "sweep.csv differs between 1 and 2 threads"
    );
    let (one, two) = (median(times[0].clone()), median(times[1].clone()));
    println!(
        "median: 1 thread {one:.2} s, 2 threads {two:.2} s, speed-up {:.2}x (sweep.csv identical)",
        one / two
    );
}
