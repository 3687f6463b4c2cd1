//! One QUIC flow through the whole simulator: `quic_flow SECONDS` runs a
//! scenario of two nodes on one 100 Mbit/s link (10 ms each way, a
//! bandwidth-delay product of queue) where node 0 sends node 1 a 1 MiB
//! message every 50 ms (168 Mbit/s offered, so the flow is always
//! window- or link-limited) over QUIC, for SECONDS of virtual time. It
//! prints the goodput in simulated time (application bytes delivered per
//! simulated second, and as a share of the link) and in wall time
//! (simulated application bytes delivered per wall-clock second): the
//! second is the speed figure of the README.

use std::path::Path;
use std::time::Instant as Wall;

use scenarios::load::parse;
use scenarios::run::run;

fn main() {
    let secs: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(s)) if s > 0 => s,
        _ => {
            eprintln!("usage: quic_flow SECONDS");
            std::process::exit(2);
        }
    };
    const MESSAGE: u64 = 1 << 20;
    const LINK_BPS: f64 = 100e6;
    let text = format!(
        r#"(
            name: "quic-flow", seed: 1, duration: "{secs}s",
            network: Graph(topology: Line, link: (latency: Constant("10ms"),
                           bandwidth: "100Mbps", queue: "250KB")),
            groups: [
                (name: "sender", count: 1, protocol: Flood(hop_limit: 1), transport: Quic()),
                (name: "receiver", count: 1, protocol: Flood(hop_limit: 1), transport: Quic()),
            ],
            workload: [(group: "sender", action: Broadcast(size: "{MESSAGE}B"),
                        arrivals: Every("50ms"))],
        )"#
    );
    let path = Path::new("quic-flow.ron");
    let scenario = parse(path, &text).unwrap_or_else(|e| panic!("{e}"));
    let wall = Wall::now();
    let outcome = run(&scenario, path, &text, scenario.seed).unwrap_or_else(|e| panic!("{e}"));
    let wall_s = wall.elapsed().as_secs_f64();
    let delivered = outcome.summary.deliveries * MESSAGE;
    let goodput_bps = delivered as f64 * 8.0 / secs as f64;
    println!(
        "{secs} s simulated: {} messages of 1 MiB delivered, goodput {:.1} Mbit/s ({:.1} % of the link)",
        outcome.summary.deliveries,
        goodput_bps / 1e6,
        100.0 * goodput_bps / LINK_BPS
    );
    println!(
        "wall {wall_s:.2} s, {} events: {:.1} MB of simulated goodput per wall second, {:.2} M events/s",
        outcome.events,
        delivered as f64 / wall_s / 1e6,
        outcome.events as f64 / wall_s / 1e6
    );
}
