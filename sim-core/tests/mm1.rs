//! Known answer: an M/M/1 queue on a bandwidth-limited link.
//!
//! Node 0 sends datagrams at Poisson times (rate λ) with exponentially
//! distributed sizes over one 8 Mbit/s link with zero propagation delay and an
//! unbounded queue, so service times are exponential with rate μ = 1000/s
//! (mean size 1000 B = 1 ms on the wire). Every datagram's time in system is
//! its delivery time minus its send time, and its mean must match
//! W = 1/(μ − λ) within 5 % at ρ = 0.5 and ρ = 0.8.

use std::collections::VecDeque;

use sim_core::dist::{exponential_f64, Dist};
use sim_core::network::{GraphNetwork, LinkConfig};
use sim_core::{
    Duration, Instant, NodeId, Observation, Observe, Output, Protocol, RngStreams, SimRng,
    Simulation,
};

/// Node 0 sends to node 1 at Poisson times; node 1 reports arrivals.
struct PoissonSender {
    id: NodeId,
    rng: SimRng,
    mean_gap_ns: f64,
    mean_size: f64,
    next_send: Instant,
    sent: u64,
    out: VecDeque<Output<Msg>>,
}

enum Msg {
    Sent(u64),
    Arrived(u64),
}

impl Observe for Msg {
    fn observe(&self) -> Option<Observation> {
        match *self {
            Msg::Sent(msg) => Some(Observation::Sent { msg, expected: 1 }),
            Msg::Arrived(msg) => Some(Observation::Delivered { msg, hops: 1 }),
        }
    }
}

impl Protocol for PoissonSender {
    type Command = ();
    type Event = Msg;
    fn handle_datagram(&mut self, _now: Instant, _from: NodeId, bytes: &[u8]) {
        let id = u64::from_be_bytes(bytes[..8].try_into().expect("8-byte id"));
        self.out.push_back(Output::Event(Msg::Arrived(id)));
    }
    fn handle_command(&mut self, _now: Instant, _cmd: ()) {}
    fn handle_timeout(&mut self, now: Instant) {
        if self.id != NodeId(0) || now < self.next_send {
            return;
        }
        let size = (exponential_f64(&mut self.rng, self.mean_size).round() as usize).max(8);
        let mut bytes = vec![0; size];
        bytes[..8].copy_from_slice(&self.sent.to_be_bytes());
        self.out.push_back(Output::Event(Msg::Sent(self.sent)));
        self.out.push_back(Output::Transmit {
            to: NodeId(1),
            bytes: bytes.into(),
        });
        self.sent += 1;
        self.next_send = now
            + Duration::from_nanos(exponential_f64(&mut self.rng, self.mean_gap_ns).round() as u64);
    }
    fn poll_output(&mut self) -> Option<Output<Msg>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (self.id == NodeId(0)).then_some(self.next_send)
    }
}

fn mean_time_in_system(lambda: f64, packets: u64, seed: u64) -> f64 {
    let streams = RngStreams::new(seed);
    let mut net = GraphNetwork::new(2, streams);
    let link = LinkConfig {
        latency: Dist::Constant(Duration::ZERO),
        bandwidth: Some("8Mbps".parse().unwrap()),
        ..LinkConfig::default()
    };
    net.add_link(NodeId(0), NodeId(1), link.clone(), link);
    let build = move |id, rng| PoissonSender {
        id,
        rng,
        mean_gap_ns: 1e9 / lambda,
        mean_size: 1000.0,
        next_send: Instant::ZERO,
        sent: 0,
        out: VecDeque::new(),
    };
    let mut sim = Simulation::new(streams, net, Box::new(build));
    // Long enough for `packets` arrivals on average.
    let horizon = Duration::from_nanos((packets as f64 / lambda * 1e9) as u64);
    sim.run_until(Instant::ZERO + horizon);
    let deliveries = &sim.metrics().deliveries;
    assert!(
        deliveries.len() as u64 > packets * 95 / 100,
        "only {} deliveries",
        deliveries.len()
    );
    let total: f64 = deliveries.iter().map(|d| d.latency().as_secs_f64()).sum();
    total / deliveries.len() as f64
}

fn check(rho: f64, packets: u64) {
    let mu = 1000.0;
    let lambda = rho * mu;
    let want = 1.0 / (mu - lambda);
    let got = mean_time_in_system(lambda, packets, 11);
    let err = (got - want).abs() / want;
    eprintln!(
        "M/M/1 rho {rho}: measured W {:.4} ms, analytic {:.4} ms ({:+.2} %)",
        got * 1e3,
        want * 1e3,
        (got - want) / want * 100.0
    );
    assert!(
        err < 0.05,
        "rho {rho}: W = {:.4} ms, M/M/1 says {:.4} ms ({:.1} % off)",
        got * 1e3,
        want * 1e3,
        err * 100.0
    );
}

#[test]
fn mm1_half_load() {
    check(0.5, 400_000);
}

#[test]
fn mm1_heavy_load() {
    check(0.8, 2_000_000);
}
