//! Property tests of the BLE mesh driven by the kernel over the radio model.
//!
//! Each case places 2 to 40 phones at random in a field, static or walking
//! (random waypoint), with or without log-distance path loss and flat loss,
//! with random broadcasts and directed messages, and checks the invariants
//! the mesh must keep whatever the radio does: nothing unsent is delivered,
//! nothing is delivered twice to the same phone, no phone relays a message
//! twice, and a message's deliveries never outnumber the other phones.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use protocols::ble_mesh::{BleCommand, BleEvent, BleMesh, BleMeshConfig};
use sim_core::network::{Loss, Mobility, PathLoss, Point, RadioConfig, RadioNetwork, RadioNode};
use sim_core::{Duration, Instant, NodeId, RngStreams, Simulation};

#[derive(Clone, Debug)]
struct Case {
    side: f64,
    range: f64,
    phones: Vec<(f64, f64, bool)>,
    path_loss: bool,
    loss: f64,
    commands: Vec<(u64, u32, Option<u32>, u32)>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..40, 50.0..300.0f64, 10.0..80.0f64).prop_flat_map(|(n, side, range)| {
        (
            prop::collection::vec((0.0..1.0f64, 0.0..1.0f64, any::<bool>()), n),
            any::<bool>(),
            prop_oneof![Just(0.0), 0.0..0.3f64],
            prop::collection::vec(
                (
                    0u64..20_000,
                    0..n as u32,
                    prop::option::of(0..n as u32),
                    0u32..600,
                ),
                1..12,
            ),
            any::<u64>(),
        )
            .prop_map(move |(phones, path_loss, loss, commands, seed)| Case {
                side,
                range,
                phones: phones
                    .into_iter()
                    .map(|(x, y, walks)| (x * side, y * side, walks))
                    .collect(),
                path_loss,
                loss,
                commands,
                seed,
            })
    })
}

fn run(c: &Case) -> Vec<(Instant, NodeId, BleEvent)> {
    let streams = RngStreams::new(c.seed);
    let config = RadioConfig {
        area: (c.side, c.side),
        path_loss: c.path_loss.then(PathLoss::default),
        loss: if c.loss > 0.0 {
            Loss::Bernoulli { p: c.loss }
        } else {
            Loss::None
        },
        ..RadioConfig::default()
    };
    let nodes = c
        .phones
        .iter()
        .map(|&(x, y, walks)| {
            let mobility = if walks {
                Mobility::RandomWaypoint {
                    speed_min: 0.5,
                    speed_max: 3.0,
                    pause: Duration::from_secs(2),
                    area: config.area,
                }
            } else {
                Mobility::Static
            };
            RadioNode::new(c.range, Point::new(x, y), mobility)
        })
        .collect();
    let net = RadioNetwork::new(config, nodes, streams);
    let mesh = BleMeshConfig {
        expected_recipients: c.phones.len() as u32 - 1,
        ..BleMeshConfig::default()
    };
    let mut sim = Simulation::new(
        streams,
        net,
        Box::new(move |id, rng| BleMesh::new(id, mesh, rng)),
    );
    sim.record_events();
    for &(ms, from, to, size) in &c.commands {
        let cmd = match to {
            Some(to) if to != from => BleCommand::Send {
                to: NodeId(to),
                size,
            },
            _ => BleCommand::Broadcast { size },
        };
        sim.schedule_command(Instant::from_nanos(ms * 1_000_000), NodeId(from), cmd);
    }
    sim.run_until(Instant::from_nanos(60_000_000_000));
    sim.events().to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_mesh_keeps_its_invariants_whatever_the_radio_does(c in case()) {
        let events = run(&c);
        let sent: BTreeSet<u64> = events
            .iter()
            .filter_map(|(_, _, e)| match e {
                BleEvent::Sent { msg, .. } => Some(*msg),
                _ => None,
            })
            .collect();
        let mut delivered: BTreeMap<u64, BTreeSet<NodeId>> = BTreeMap::new();
        let mut relayed: BTreeSet<(u64, NodeId)> = BTreeSet::new();
        for (_, node, e) in &events {
            match *e {
                BleEvent::Delivered { msg, .. } => {
                    prop_assert!(sent.contains(&msg), "{msg} delivered but never sent");
                    prop_assert!(
                        delivered.entry(msg).or_default().insert(*node),
                        "{msg} delivered twice at {node}"
                    );
                }
                BleEvent::Relayed { msg } => {
                    prop_assert!(relayed.insert((msg, *node)), "{node} relayed {msg} twice");
                }
                _ => {}
            }
        }
        for (msg, at) in &delivered {
            prop_assert!(at.len() < c.phones.len(), "{msg} reached {} phones", at.len());
        }
    }
}
