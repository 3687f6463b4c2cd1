//! Runs in windows (`Simulation::run_in_windows`): the same trace, record
//! for record, on any number of lanes, where ties at one instant are the
//! rule rather than the exception.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use proptest::prelude::*;
use rand::Rng;
use sim_core::dist::Dist;
use sim_core::network::{AccessClass, InternetConfig, InternetNetwork};
use sim_core::rng::Domain;
use sim_core::units::Bandwidth;
use sim_core::{
    Duration, Instant, NodeId, Observation, Observe, Output, Protocol, RngStreams, SimRng,
    Simulation, TraceRecord,
};

/// Passes a token on: on each datagram it schedules a few sends, some now,
/// some after a short delay (less than the network's lookahead, so that
/// wake-ups fall inside their window), to peers its RNG picks. Delays are
/// whole milliseconds, and so are the latencies, so many events tie.
struct Relay {
    id: NodeId,
    nodes: u32,
    rng: SimRng,
    out: VecDeque<Output<Quiet>>,
    /// (due, to, hops left), earliest first.
    timers: Vec<(Instant, NodeId, u8)>,
}

struct Quiet;
impl Observe for Quiet {
    fn observe(&self) -> Option<Observation> {
        None
    }
}

impl Relay {
    fn pass(&mut self, now: Instant, hops: u8) {
        if hops == 0 {
            return;
        }
        for _ in 0..2 {
            let to = NodeId(self.rng.random_range(0..self.nodes));
            let delay = Duration::from_millis(self.rng.random_range(0..4));
            if delay == Duration::ZERO {
                self.send(to, hops - 1);
            } else {
                self.timers.push((now + delay, to, hops - 1));
                self.timers.sort_by_key(|t| t.0);
            }
        }
    }
    fn send(&mut self, to: NodeId, hops: u8) {
        let bytes = vec![hops, self.id.0 as u8, 0, 0];
        self.out.push_back(Output::Transmit {
            to,
            bytes: bytes.into(),
        });
    }
}

impl Protocol for Relay {
    type Command = u8;
    type Event = Quiet;
    fn handle_datagram(&mut self, now: Instant, _: NodeId, bytes: &[u8]) {
        self.pass(now, bytes[0]);
    }
    fn handle_command(&mut self, now: Instant, hops: u8) {
        self.pass(now, hops);
    }
    fn handle_timeout(&mut self, now: Instant) {
        while self.timers.first().is_some_and(|t| t.0 <= now) {
            let (_, to, hops) = self.timers.remove(0);
            self.send(to, hops);
        }
    }
    fn poll_output(&mut self) -> Option<Output<Quiet>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|t| t.0)
    }
}

/// Every trace record of a run of `nodes` relays in windows of `lanes`,
/// started by tokens of `hops` at a few nodes, run to the end in steps of
/// `pause` (or at once).
fn trace(
    seed: u64,
    nodes: u32,
    lanes: usize,
    hops: u8,
    jitter: bool,
    pause: Option<Duration>,
) -> Vec<TraceRecord> {
    let streams = RngStreams::new(seed);
    let ms = Duration::from_millis;
    let config = InternetConfig {
        regions: vec!["a".into(), "b".into()],
        latency: vec![vec![ms(5), ms(7)], vec![ms(7), ms(6)]],
        jitter: jitter.then_some(Dist::Uniform {
            min: Duration::ZERO,
            max: ms(2),
        }),
        loss: Default::default(),
        mtu: None,
        in_order: false,
    };
    let access = AccessClass {
        up: Some(Bandwidth::from_bps(1_000_000).unwrap()),
        down: None,
        queue: None,
    };
    let network = InternetNetwork::new(
        config,
        vec![access],
        (0..nodes).map(|i| (i % 2) as u16).collect(),
        vec![0; nodes as usize],
        streams.stream(Domain::Network, 0, 0),
    );
    let mut sim = Simulation::new(
        streams,
        network,
        Box::new(move |id, rng| Relay {
            id,
            nodes,
            rng,
            out: VecDeque::new(),
            timers: Vec::new(),
        }),
    );
    assert!(sim.run_in_windows(lanes));
    let records = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&records);
    sim.set_trace_sink(Box::new(move |r| sink.borrow_mut().push(*r)));
    for (k, at) in [0, 3, 3, 10].into_iter().enumerate() {
        let node = NodeId(k as u32 % nodes);
        sim.schedule_command(Instant::ZERO + ms(at), node, hops);
    }
    let end = Instant::ZERO + ms(400);
    if let Some(pause) = pause {
        let mut t = Instant::ZERO;
        while t < end {
            t = (t + pause).min(end);
            sim.run_until(t);
        }
    }
    sim.run_until(end);
    let out = records.borrow().clone();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// One lane or several: the same records in the same order.
    #[test]
    fn any_number_of_lanes_gives_the_same_trace(
        seed in 0u64..1_000,
        nodes in 2u32..40,
        lanes in 2usize..6,
        jitter: bool,
    ) {
        let one = trace(seed, nodes, 1, 9, jitter, None);
        prop_assert!(one.len() > 100, "the tokens spread ({} records)", one.len());
        let many = trace(seed, nodes, lanes, 9, jitter, None);
        prop_assert_eq!(one, many);
    }

    /// Stopping and resuming the run (as the progress bar does) at any
    /// times changes nothing either.
    #[test]
    fn pausing_changes_nothing(
        seed in 0u64..1_000,
        nodes in 2u32..40,
        lanes in 1usize..4,
        pause_us in 100u64..9_000,
    ) {
        let straight = trace(seed, nodes, lanes, 9, false, None);
        let paused = trace(seed, nodes, lanes, 9, false, Some(Duration::from_micros(pause_us)));
        prop_assert_eq!(straight, paused);
    }
}

/// Four nodes in one region 5 ms apart, on `access`.
fn one_region(streams: &RngStreams, access: AccessClass) -> InternetNetwork {
    let config = InternetConfig {
        regions: vec!["a".into()],
        latency: vec![vec![Duration::from_millis(5)]],
        jitter: None,
        loss: Default::default(),
        mtu: None,
        in_order: false,
    };
    InternetNetwork::new(
        config,
        vec![access],
        vec![0; 4],
        vec![0; 4],
        streams.stream(Domain::Network, 0, 0),
    )
}

/// The network refuses windows where receiving reads state (a downlink
/// queue), and the kernel then runs sequentially.
#[test]
fn no_windows_without_a_lookahead() {
    let streams = RngStreams::new(1);
    let access = AccessClass {
        up: None,
        down: Some(Bandwidth::from_bps(1_000_000).unwrap()),
        queue: None,
    };
    let network = one_region(&streams, access);
    let mut sim = Simulation::new(
        streams,
        network,
        Box::new(|id, rng| Relay {
            id,
            nodes: 4,
            rng,
            out: VecDeque::new(),
            timers: Vec::new(),
        }),
    );
    assert!(!sim.run_in_windows(2));
}

/// Answers every datagram with one of its own, `hops` times in all.
struct Echo {
    out: VecDeque<Output<Quiet>>,
}

impl Protocol for Echo {
    type Command = (NodeId, u8);
    type Event = Quiet;
    fn handle_datagram(&mut self, _: Instant, from: NodeId, bytes: &[u8]) {
        if bytes[0] > 0 {
            self.out.push_back(Output::Transmit {
                to: from,
                bytes: vec![bytes[0] - 1].into(),
            });
        }
    }
    fn handle_command(&mut self, _: Instant, (to, hops): (NodeId, u8)) {
        self.out.push_back(Output::Transmit {
            to,
            bytes: vec![hops].into(),
        });
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_output(&mut self) -> Option<Output<Quiet>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// A window's sends are still to be merged when the lanes run dry: the run
/// merges them and goes on to the end, rather than stopping with replies
/// due before it unsent.
#[test]
fn a_run_in_windows_goes_on_after_the_lanes_run_dry() {
    for lanes in 1..=3 {
        let streams = RngStreams::new(7);
        let network = one_region(&streams, AccessClass::default());
        let mut sim = Simulation::new(
            streams,
            network,
            Box::new(|_, _| Echo {
                out: VecDeque::new(),
            }),
        );
        assert!(sim.run_in_windows(lanes));
        sim.schedule_command(Instant::ZERO, NodeId(0), (NodeId(3), 6));
        sim.run_until(Instant::ZERO + Duration::from_secs(1));
        assert_eq!(sim.metrics().packets_delivered, 7, "{lanes} lanes");
    }
}
