//! Energy through the kernel: what sending and receiving cost, band changes
//! told to the protocol, an empty battery taking its node down, and the
//! link-layer broadcast that the BLE model relies on.

use std::collections::VecDeque;

use sim_core::energy::ByteCost;
use sim_core::network::{GraphNetwork, LinkConfig};
use sim_core::{
    BatteryLevel, Duration, EnergyProfile, Instant, NodeId, Observation, Observe, Output, Protocol,
    RngStreams, Simulation,
};

/// Sends `size` bytes to a peer (or to everyone in reach) per command, and
/// notes every battery band it is told of.
#[derive(Default)]
struct Sender {
    out: VecDeque<Output<Quiet>>,
    told: Vec<(Instant, BatteryLevel)>,
    received: usize,
}

struct Quiet;
impl Observe for Quiet {
    fn observe(&self) -> Option<Observation> {
        None
    }
}

impl Protocol for Sender {
    type Command = (NodeId, usize);
    type Event = Quiet;
    fn handle_datagram(&mut self, _: Instant, _: NodeId, bytes: &[u8]) {
        self.received += bytes.len();
    }
    fn handle_command(&mut self, _: Instant, (to, size): (NodeId, usize)) {
        self.out.push_back(Output::Transmit {
            to,
            bytes: vec![0; size].into(),
        });
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_output(&mut self) -> Option<Output<Quiet>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        self.told.push((now, level));
    }
}

const TX: f64 = 2e-3;
const RX: f64 = 1e-3;

fn profile(capacity_j: f64, idle_w: f64) -> EnergyProfile {
    let cost = ByteCost { tx_j: TX, rx_j: RX };
    EnergyProfile::one_radio(capacity_j, 1.0, idle_w, cost)
}

/// A star: node 0 linked to every other node.
fn star(n: u32, energy: Vec<Option<EnergyProfile>>) -> Simulation<Sender, GraphNetwork> {
    let streams = RngStreams::new(3);
    let mut net = GraphNetwork::new(n, streams);
    for i in 1..n {
        net.add_link(
            NodeId(0),
            NodeId(i),
            LinkConfig::default(),
            LinkConfig::default(),
        );
    }
    let mut sim = Simulation::new(streams, net, Box::new(|_, _| Sender::default()));
    if !energy.is_empty() {
        sim.model_energy(energy);
    }
    sim
}

fn secs(s: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(s)
}

#[test]
fn a_node_that_sends_n_bytes_spends_n_times_the_energy_per_byte_plus_idle() {
    let mut sim = star(2, vec![Some(profile(1e6, 0.25)), Some(profile(1e6, 0.0))]);
    for k in 0..10 {
        sim.schedule_command(secs(k), NodeId(0), (NodeId(1), 100 + k as usize));
    }
    sim.run_until(secs(20));
    let bytes: u64 = (0..10).map(|k| 100 + k).sum();
    let m = sim.into_metrics();
    let sender = m.energy[0].expect("node 0 has a battery");
    let want = bytes as f64 * TX + 0.25 * 20.0;
    assert!(
        (sender.spent_j - want).abs() < 1e-9,
        "{} vs {want}",
        sender.spent_j
    );
    let receiver = m.energy[1].expect("node 1 has a battery");
    assert!((receiver.spent_j - bytes as f64 * RX).abs() < 1e-9);
}

#[test]
fn idle_drain_tells_the_protocol_each_band_and_an_empty_battery_takes_the_node_down() {
    // 100 J at 1 W: medium at 50 s, low at 80 s, critical at 90 s, empty at
    // 100 s (each a nanosecond after the boundary).
    let mut sim = star(2, vec![Some(profile(100.0, 1.0)), None]);
    sim.run_until(secs(95));
    let told: Vec<(u64, BatteryLevel)> = sim
        .node(NodeId(0))
        .expect("still up at 95 s")
        .told
        .iter()
        .map(|&(at, l)| ((at.as_nanos() + 500) / 1_000_000_000, l))
        .collect();
    assert_eq!(
        told,
        [
            (50, BatteryLevel::Medium),
            (80, BatteryLevel::Low),
            (90, BatteryLevel::Critical)
        ]
    );
    // A command after the battery is empty reaches a node that is down.
    sim.schedule_command(secs(150), NodeId(0), (NodeId(1), 10));
    sim.run_until(secs(200));
    assert!(!sim.is_up(NodeId(0)));
    let m = sim.into_metrics();
    assert_eq!(m.commands_to_down_nodes, 1);
    let e = m.energy[0].unwrap();
    let emptied = e.emptied_at.expect("ran out").as_nanos();
    assert!(emptied.abs_diff(100_000_000_000) <= 1, "{emptied}");
    assert!((e.spent_j - 100.0).abs() < 1e-9);
    assert_eq!(e.charge, 0.0);
    assert!(m.energy[1].is_none());
    assert_eq!(m.faults.last().unwrap().kind.name(), "battery_empty");
}

#[test]
fn sending_can_empty_a_battery_and_the_rest_of_the_burst_is_not_sent() {
    // 1 J holds 500 bytes of sending: the third 200-byte datagram empties it.
    let mut sim = star(2, vec![Some(profile(1.0, 0.0)), None]);
    for _ in 0..5 {
        sim.schedule_command(secs(1), NodeId(0), (NodeId(1), 200));
    }
    sim.run_until(secs(2));
    assert!(!sim.is_up(NodeId(0)));
    let m = sim.into_metrics();
    assert_eq!(m.nodes[0].packets_sent, 3);
    assert_eq!(
        m.packets_delivered, 3,
        "the third left with the last of the energy, the rest never did"
    );
}

#[test]
fn a_broadcast_reaches_every_neighbour_once() {
    let mut sim = star(5, vec![]);
    sim.schedule_command(secs(1), NodeId(0), (NodeId::BROADCAST, 50));
    sim.schedule_command(secs(1), NodeId(3), (NodeId::BROADCAST, 7));
    sim.run_until(secs(2));
    for i in 1..5 {
        assert_eq!(sim.node(NodeId(i)).unwrap().received, 50, "node {i}");
    }
    assert_eq!(
        sim.node(NodeId(0)).unwrap().received,
        7,
        "node 3's only neighbour"
    );
    let m = sim.into_metrics();
    assert_eq!(m.nodes[0].packets_sent, 4);
    assert!(m.energy.is_empty(), "no energy modelled");
}

#[test]
fn a_node_that_starts_below_high_is_told_its_band_at_once() {
    let mut low = profile(100.0, 0.0);
    low.initial_charge = 0.15;
    let mut sim = star(2, vec![Some(low), Some(profile(100.0, 0.0))]);
    sim.run_until(secs(1));
    assert_eq!(
        sim.node(NodeId(0)).unwrap().told,
        [(Instant::ZERO, BatteryLevel::Low)]
    );
    assert!(
        sim.node(NodeId(1)).unwrap().told.is_empty(),
        "a full battery is high already"
    );
}
