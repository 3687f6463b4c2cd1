//! Kernel memory per idle node on the internet model.
//!
//! `idle_memory [NODES]` (default 100,000) builds a simulation of NODES nodes
//! on a five-region internet model, each running a protocol with no state,
//! runs it for a minute of virtual time, and prints how much resident memory
//! the kernel and the network model took per node (the growth of VmRSS while
//! building and running, divided by NODES) and the process's peak RSS. The
//! protocol holds nothing, so what is measured is the kernel's own per-node
//! state: node slots, up/down and partition flags, wake-up table, counters,
//! and the internet model's region, access class and queue clocks.
//!
//! Linux only: it reads /proc/self/status.

use sim_core::network::{AccessClass, InternetConfig, Loss};
use sim_core::{
    Domain, Duration, Instant, InternetNetwork, NodeId, Observation, Observe, Output, Protocol,
    RngStreams, Simulation,
};

/// A node that does nothing: no state, no timers, no output.
struct Idle;

/// Idle nodes report nothing.
enum Nothing {}

impl Observe for Nothing {
    fn observe(&self) -> Option<Observation> {
        match *self {}
    }
}

impl Protocol for Idle {
    type Command = ();
    type Event = Nothing;
    fn handle_datagram(&mut self, _now: Instant, _from: NodeId, _bytes: &[u8]) {}
    fn handle_command(&mut self, _now: Instant, _cmd: ()) {}
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_output(&mut self) -> Option<Output<Nothing>> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// A field of /proc/self/status in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn main() {
    let nodes: u32 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 100_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: idle_memory [NODES]");
            std::process::exit(2);
        }
    };
    let before = status_kib("VmRSS:");
    let streams = RngStreams::new(1);
    let ms = Duration::from_millis;
    let regions = 5;
    let config = InternetConfig {
        regions: (0..regions).map(|r| format!("r{r}")).collect(),
        latency: (0..regions)
            .map(|i| {
                (0..regions)
                    .map(|j| ms(5 + 20 * (i as u64).abs_diff(j as u64)))
                    .collect()
            })
            .collect(),
        jitter: None,
        loss: Loss::None,
        mtu: None,
        in_order: false,
    };
    let classes = vec![AccessClass {
        up: Some("20Mbps".parse().expect("rate")),
        down: Some("100Mbps".parse().expect("rate")),
        queue: Some("256KiB".parse().expect("size")),
    }];
    let n = nodes as usize;
    let region = (0..n).map(|i| (i % regions) as u16).collect();
    let network = InternetNetwork::new(
        config,
        classes,
        region,
        vec![0; n],
        streams.stream(Domain::Network, 0, 0),
    );
    let mut sim = Simulation::new(streams, network, Box::new(|_, _| Idle));
    sim.run_until(Instant::ZERO + Duration::from_secs(60));
    let after = status_kib("VmRSS:");
    let peak = status_kib("VmHWM:");
    let per_node = (after.saturating_sub(before) * 1024) as f64 / f64::from(nodes);
    println!("nodes: {nodes}");
    println!("kernel_bytes_per_node: {per_node:.0}");
    println!("rss_before_kib: {before}");
    println!("rss_after_kib: {after}");
    println!("peak_rss_kib: {peak}");
    assert_eq!(sim.steps(), 0, "idle nodes do nothing");
}
