//! Kademlia at scale, through the scenario runner: `dht_scale NODES LOOKUPS`
//! builds a warm-started DHT of NODES nodes on a one-region internet model
//! (10 ms one way), runs LOOKUPS FIND_NODE lookups of random keys (1,000 a
//! second of virtual time), and prints the lookups' success and mean hops,
//! the wall time of building and of running, and the process's peak RSS.
//!
//! `dht_scale 1000000 10000` is the million-node figure of the README.

use std::path::Path;
use std::time::Instant as Wall;

use scenarios::build::build;
use scenarios::error::Locator;
use scenarios::load::parse;
use scenarios::run::finish;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let [nodes, lookups] = args[..] else {
        eprintln!("usage: dht_scale NODES LOOKUPS");
        std::process::exit(2);
    };
    // 1,000 lookups a second, starting after one second.
    let stop_ms = 1000 + lookups;
    let text = format!(
        r#"(
            name: "dht-scale", seed: 1, duration: "{}ms",
            network: Internet(core: (regions: ["r"], latency: [["10ms"]]), access: {{"a": ()}}),
            groups: [(name: "nodes", count: {nodes}, protocol: Dht(warm_start: true))],
            workload: [(group: "nodes", action: Lookup(kind: FindNode, key: Random), arrivals: Every("1ms"), start: "1s", stop: "{stop_ms}ms")],
        )"#,
        stop_ms + 15_000
    );
    let path = Path::new("dht-scale.ron");
    let scenario = parse(path, &text).unwrap_or_else(|e| panic!("{e}"));
    let t0 = Wall::now();
    let sim = build(&scenario, scenario.seed, &Locator::new(path, &text))
        .unwrap_or_else(|e| panic!("{e}"));
    let build_s = t0.elapsed().as_secs_f64();
    let outcome = finish(&scenario, scenario.seed, sim);
    let l = &outcome.summary.lookups;
    println!("nodes: {nodes}");
    println!("lookups: {} started, {} succeeded", l.started, l.succeeded);
    println!("hops_mean: {:.3}", l.hops_mean);
    println!("requests_mean: {:.2}", l.requests_mean);
    println!("latency_ms_p50: {:.1}", l.latency.p50);
    println!("build_wall_s: {build_s:.2}");
    println!("run_wall_s: {:.2}", outcome.wall_s);
    println!("events: {}", outcome.events);
    println!("peak_rss_kib: {}", peak_rss_kib());
}
