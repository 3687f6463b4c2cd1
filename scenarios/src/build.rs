//! From a validated scenario to a ready-to-run simulation.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use protocols::ble_mesh::{BleMesh, BleMeshConfig};
use protocols::dht::{Dht, WarmStart};
use protocols::discovery::{Discovery, DiscoveryCommand};
use protocols::flood::{Flood, FloodConfig};
use protocols::gossip::{Gossip, GossipCommand, GossipConfig, TopicId};
use protocols::libp2p::{Libp2pNode, Role};
use protocols::ping::Ping;
use protocols::signaling::{self, SignalingCommand, SignalingConfig, SignalingNode};
use protocols::transport::Over;
use protocols::transport_manager::{transport_of, DeviceType, TransportKind};
use rand::RngCore;
use sim_core::dist::unit_f64;
use sim_core::network::{
    AccessClass, HybridNetwork, Interface, InternetConfig, LinkChange, LinkConfig, Mobility, Point,
    RadioConfig, RadioNetwork, RadioNode,
};
use sim_core::topology::Generated;
use sim_core::{
    Builder, ByteCost, ByteSize, Churn, Domain, EnergyProfile, Fault, GraphNetwork, Instant,
    InternetNetwork, Network, NodeId, RngStreams, SimRng, Simulation,
};

use crate::error::{Locator, ScenarioError};
use crate::network::AnyNetwork;
use crate::schema::{
    ActionSpec, DeviceSpec, FaultKind, FaultSpec, GroupSpec, MobilitySpec, NetworkSpec, Placement,
    ProtocolSpec, RadioCost, RadioKind, Scenario, Target,
};
use crate::stack::{DiscoveryStack, SignalingStack, Stack, StartUp};
use crate::transport::{Node, TransportSpec};
use crate::workload::{DhtOp, Job, Workload};

/// A scenario's simulation, ready to run.
pub type ScenarioSim = Simulation<Node, AnyNetwork>;

/// Which node ids each group got: consecutive ranges, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    ranges: Vec<Range<u32>>,
}

impl Layout {
    /// The layout of a scenario's groups.
    pub fn of(s: &Scenario) -> Self {
        let mut next = 0;
        let ranges = s
            .groups
            .iter()
            .map(|g| {
                let r = next..next + g.count;
                next = r.end;
                r
            })
            .collect();
        Layout { ranges }
    }
    /// Total nodes.
    pub fn nodes(&self) -> u32 {
        self.ranges.last().map_or(0, |r| r.end)
    }
    /// The node ids of group number `g`.
    pub fn range(&self, g: usize) -> Range<u32> {
        self.ranges[g].clone()
    }
    /// The group number of node `id`.
    pub fn group_of(&self, id: u32) -> usize {
        self.ranges.partition_point(|r| r.end <= id)
    }
}

fn group_index(s: &Scenario, name: &str) -> usize {
    s.groups
        .iter()
        .position(|g| g.name == name)
        .expect("validated group name")
}

/// Builds the simulation of `s` with `seed` (the scenario's, or one from the
/// command line). Checks that need the generated topology (overrides and link
/// faults must name existing links) fail here, with the file position.
pub fn build(s: &Scenario, seed: u64, at: &Locator<'_>) -> Result<ScenarioSim, ScenarioError> {
    let layout = Layout::of(s);
    let n = layout.nodes();
    let streams = RngStreams::new(seed);
    let mut topo_rng = streams.stream(Domain::Topology, 0, 0);
    let (network, neighbours) = match &s.network {
        NetworkSpec::Graph {
            topology,
            link,
            overrides,
        } => {
            let Generated { graph, .. } = topology
                .generate(n, &mut topo_rng)
                .map_err(|e| at.error("topology", None, e.to_string()))?;
            let mut net = GraphNetwork::new(n, streams);
            for e in graph.raw_edges() {
                let (a, b) = (
                    NodeId(e.source().index() as u32),
                    NodeId(e.target().index() as u32),
                );
                net.add_link(a, b, link.clone(), link.clone());
            }
            for o in overrides {
                let (a, b) = (NodeId(o.a), NodeId(o.b));
                if net.link(a, b).is_none() {
                    return Err(at.error(
                        "overrides",
                        Some(&o.a.to_string()),
                        format!(
                            "the topology has no link between {} and {} to override",
                            o.a, o.b
                        ),
                    ));
                }
                let backward: LinkConfig = o.backward.clone().unwrap_or_else(|| o.forward.clone());
                net.add_link(a, b, o.forward.clone(), backward);
            }
            let neighbours = (0..n)
                .map(|i| net.neighbours(NodeId(i)).unwrap_or_default())
                .collect();
            (AnyNetwork::Graph(net), neighbours)
        }
        NetworkSpec::Internet {
            core,
            access,
            overlay,
        } => {
            let graph = match overlay {
                Some(overlay) => {
                    let Generated { graph, .. } = overlay
                        .generate(n, &mut topo_rng)
                        .map_err(|e| at.error("overlay", None, e.to_string()))?;
                    graph
                }
                None => petgraph::graph::UnGraph::with_capacity(0, 0),
            };
            let mut neighbours = vec![Vec::new(); n as usize];
            for e in graph.raw_edges() {
                let (a, b) = (e.source().index(), e.target().index());
                neighbours[a].push(NodeId(b as u32));
                neighbours[b].push(NodeId(a as u32));
            }
            for list in &mut neighbours {
                list.sort_unstable();
            }
            let rng = streams.stream(Domain::Network, 0, 0);
            let net = internet_network(s, &layout, core, access, rng);
            (AnyNetwork::Internet(Box::new(net)), neighbours)
        }
        NetworkSpec::Radio(config) => (
            AnyNetwork::Radio(Box::new(radio_network(s, config, &mut topo_rng, streams))),
            vec![Vec::new(); n as usize],
        ),
        NetworkSpec::Hybrid {
            core,
            access,
            radio,
        } => {
            // The radio draws from (Network, 0, 0); the IP side from its
            // own stream, so that the two sides' losses are independent.
            let rng = streams.stream(Domain::Network, 1, 0);
            let ip = internet_network(s, &layout, core, access, rng);
            let radio = radio_network(s, radio, &mut topo_rng, streams);
            (
                AnyNetwork::Hybrid(Box::new(HybridNetwork::new(ip, radio, manager_interface))),
                vec![Vec::new(); n as usize],
            )
        }
    };

    let build = node_builder(s, &layout, neighbours, streams);
    let mut sim = Simulation::new(streams, network, Box::new(build));
    if s.groups.iter().any(|g| g.device.is_some()) {
        sim.model_energy(energy_profiles(s));
    }
    // Every run that can goes in windows, so that its results are the same
    // whether it then runs on one thread (a sweep's runs) or several
    // (`p2psim run --threads`).
    sim.run_in_windows(1);

    let end = Instant::ZERO + s.duration;
    // `None`: one of the sender's open channels, chosen by the node.
    let targets = |to: &Target| match to {
        Target::Random => Some(0..n),
        Target::Group(g) => Some(layout.range(group_index(s, g))),
        Target::Node(id) => Some(*id..*id + 1),
        Target::Connected => None,
    };
    for (i, w) in s.workload.iter().enumerate() {
        let senders = layout.range(group_index(s, &w.group));
        let runs_libp2p = matches!(
            s.groups[group_index(s, &w.group)].protocol,
            ProtocolSpec::Libp2p(_)
        );
        let job = match &w.action {
            ActionSpec::Broadcast { size } => Job::Broadcast {
                size: clamp_u32(size.0),
                ble: matches!(
                    s.groups[group_index(s, &w.group)].protocol,
                    ProtocolSpec::BleMesh(_)
                ),
            },
            // Validation allows `Connected` only for SendDirect.
            ActionSpec::Send { size, to } => Job::Send {
                size: clamp_u32(size.0),
                targets: targets(to).unwrap_or_default(),
            },
            ActionSpec::Publish { topic, size } => Job::Publish {
                topic: TopicId(*topic),
                size: clamp_u32(size.0),
                libp2p: runs_libp2p,
            },
            ActionSpec::Lookup { kind, key } => Job::Dht {
                op: DhtOp::Lookup(*kind),
                key: *key,
                libp2p: runs_libp2p,
            },
            ActionSpec::Put { key, size } => Job::Dht {
                op: DhtOp::Put(clamp_u32(size.0)),
                key: *key,
                libp2p: runs_libp2p,
            },
            ActionSpec::Provide { key } => Job::Dht {
                op: DhtOp::Provide,
                key: *key,
                libp2p: runs_libp2p,
            },
            ActionSpec::Ping { size, to } => Job::Ping {
                size: clamp_u32(size.0),
                targets: targets(to).unwrap_or_default(),
            },
            ActionSpec::Register {
                archetypes,
                metadata_size,
            } => Job::Discovery(DiscoveryCommand::Register {
                archetypes: archetypes.clone(),
                metadata_size: clamp_u32(metadata_size.0),
            }),
            ActionSpec::Discover { archetype } => Job::Discovery(DiscoveryCommand::Discover {
                archetype: archetype.clone(),
            }),
            ActionSpec::Health => Job::Discovery(DiscoveryCommand::Health),
            ActionSpec::StopHeartbeats => Job::Discovery(DiscoveryCommand::StopHeartbeats),
            ActionSpec::Join => Job::Signaling(SignalingCommand::Join),
            ActionSpec::Leave => Job::Signaling(SignalingCommand::Leave),
            ActionSpec::GoSilent => Job::Signaling(SignalingCommand::GoSilent),
            ActionSpec::Connect { to } => Job::Connect {
                targets: targets(to).unwrap_or_default(),
            },
            ActionSpec::SendDirect { size, to } => Job::SendDirect {
                size: clamp_u32(size.0),
                targets: targets(to),
            },
        };
        let start = Instant::ZERO + w.start;
        let stop = w.stop.map_or(end, |d| (Instant::ZERO + d).min(end));
        let rng = streams.stream(Domain::Workload, 0, i as u32);
        sim.add_source(Box::new(Workload::new(
            senders,
            w.senders,
            job,
            w.arrivals.clone(),
            start,
            stop,
            rng,
        )));
    }

    for (i, f) in s.faults.iter().enumerate() {
        match f {
            FaultSpec::At(t, kind) => {
                let fault = fault_of(s, &layout, kind);
                if let Fault::Link { a, b, .. } = &fault {
                    if sim.network().min_delay(*a, *b).is_none() {
                        return Err(at.error(
                            "a",
                            Some(&a.0.to_string()),
                            format!("there is no link between {} and {}", a.0, b.0),
                        ));
                    }
                }
                sim.schedule_fault(Instant::ZERO + *t, fault);
            }
            FaultSpec::Churn {
                group,
                rate,
                downtime,
                start,
                stop,
            } => {
                let nodes = layout.range(group_index(s, group)).map(NodeId).collect();
                let stop = stop.map_or(end, |d| (Instant::ZERO + d).min(end));
                let rng = streams.stream(Domain::Fault, 0, i as u32);
                sim.add_source(Box::new(Churn::new(
                    nodes,
                    *rate,
                    downtime.clone(),
                    Instant::ZERO + *start,
                    stop,
                    rng,
                )));
            }
        }
    }
    Ok(sim)
}

/// The internet model of `s`: each group's nodes spread round robin over
/// its regions, on its access class; jitter and loss drawn from `rng`.
fn internet_network(
    s: &Scenario,
    layout: &Layout,
    core: &InternetConfig,
    access: &BTreeMap<String, AccessClass>,
    rng: SimRng,
) -> InternetNetwork {
    let n = layout.nodes() as usize;
    let mut region = Vec::with_capacity(n);
    let mut class = Vec::with_capacity(n);
    for (g, spec) in s.groups.iter().enumerate() {
        let regions: Vec<u16> = if spec.regions.is_empty() {
            (0..core.regions.len() as u16).collect()
        } else {
            spec.regions
                .iter()
                .map(|r| {
                    core.regions
                        .iter()
                        .position(|x| x == r)
                        .expect("validated region") as u16
                })
                .collect()
        };
        let c = spec.access.as_ref().map_or(0, |a| {
            access.keys().position(|x| x == a).expect("validated class")
        }) as u16;
        for k in 0..layout.range(g).len() {
            region.push(regions[k % regions.len()]);
            class.push(c);
        }
    }
    InternetNetwork::new(
        core.clone(),
        access.values().cloned().collect(),
        region,
        class,
        rng,
    )
}

/// The radio model of `s`: each group's nodes placed and moving as it
/// says, with its device class's BLE range. On the hybrid model a group
/// whose managers hold no BLE mesh (a server) has no radio: range zero.
fn radio_network(
    s: &Scenario,
    config: &RadioConfig,
    topo_rng: &mut SimRng,
    streams: RngStreams,
) -> RadioNetwork {
    let hybrid = matches!(s.network, NetworkSpec::Hybrid { .. });
    let mut nodes = Vec::new();
    for g in &s.groups {
        let range = match &g.device {
            _ if hybrid && !holds_mesh(g) => 0.0,
            Some(d) => s.devices[d].ble_range_m,
            None => DeviceSpec::default().ble_range_m,
        };
        let mobility = mobility_of(&g.mobility, config);
        for position in placement(&g.placement, g.count, config.area, topo_rng) {
            nodes.push(RadioNode::new(range, position, mobility.clone()));
        }
    }
    RadioNetwork::new(config.clone(), nodes, streams)
}

/// The hybrid model's classifier: a transport manager's BitChat packets go
/// on the radio, everything else on IP.
fn manager_interface(bytes: &[u8]) -> Interface {
    if transport_of(bytes) == Some(TransportKind::BitChat) {
        Interface::RADIO
    } else {
        Interface::IP
    }
}

/// A group's mobility as the radio model takes it: random waypoint over the
/// whole field, a path of absolute points.
pub(crate) fn mobility_of(spec: &MobilitySpec, radio: &RadioConfig) -> Mobility {
    match spec {
        MobilitySpec::Static => Mobility::Static,
        &MobilitySpec::RandomWaypoint {
            speed_min,
            speed_max,
            pause,
        } => Mobility::RandomWaypoint {
            speed_min,
            speed_max,
            pause,
            area: radio.area,
        },
        MobilitySpec::Path(points) => Mobility::Scripted {
            waypoints: points
                .iter()
                .map(|&(t, (x, y))| (t, Point::new(x, y)))
                .collect(),
        },
    }
}

/// Where a group's `count` nodes start.
fn placement(spec: &Placement, count: u32, area: (f64, f64), rng: &mut SimRng) -> Vec<Point> {
    let (w, h) = area;
    match spec {
        Placement::Random => (0..count)
            .map(|_| Point::new(unit_f64(rng) * w, unit_f64(rng) * h))
            .collect(),
        &Placement::Line { spacing, start } => (0..count)
            .map(|i| Point::new(start.0 + f64::from(i) * spacing, start.1))
            .collect(),
        &Placement::Grid { spacing } => {
            let side = (f64::from(count)).sqrt().ceil().max(1.0) as u32;
            (0..count)
                .map(|i| Point::new(f64::from(i % side) * spacing, f64::from(i / side) * spacing))
                .collect()
        }
        Placement::At(points) => points.iter().map(|&(x, y)| Point::new(x, y)).collect(),
    }
}

/// Each node's battery and radio costs, from its group's device class. On
/// the hybrid model a node pays its IP radio's price for IP datagrams and
/// BLE's for radio ones, and both radios' idle power if its manager holds
/// the BLE mesh; elsewhere one radio carries everything.
fn energy_profiles(s: &Scenario) -> Vec<Option<EnergyProfile>> {
    let hybrid = matches!(s.network, NetworkSpec::Hybrid { .. });
    let default_radio = match s.network {
        NetworkSpec::Radio { .. } => RadioKind::Ble,
        _ => RadioKind::Wifi,
    };
    let per_byte = |c: RadioCost| ByteCost {
        tx_j: c.tx_uj_per_byte * 1e-6,
        rx_j: c.rx_uj_per_byte * 1e-6,
    };
    s.groups
        .iter()
        .flat_map(|g| {
            let profile = g.device.as_ref().map(|d| {
                let device = &s.devices[d];
                let cost = device.cost(g.radio.unwrap_or(default_radio));
                let capacity = device.capacity_j();
                let charge = g.battery.unwrap_or(1.0);
                let mut profile =
                    EnergyProfile::one_radio(capacity, charge, cost.idle_mw * 1e-3, per_byte(cost));
                if hybrid {
                    let ble = device.cost(RadioKind::Ble);
                    profile.per_byte[Interface::RADIO.index()] = per_byte(ble);
                    if holds_mesh(g) {
                        profile.idle_w += ble.idle_mw * 1e-3;
                    }
                }
                profile
            });
            std::iter::repeat_n(profile, g.count as usize)
        })
        .collect()
}

/// Whether a group's transport manager holds the BLE mesh.
fn holds_mesh(g: &GroupSpec) -> bool {
    matches!(&g.transport, Some(TransportSpec::Manager(m)) if m.config.mesh.is_some())
}

fn clamp_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn fault_of(s: &Scenario, layout: &Layout, kind: &FaultKind) -> Fault {
    match kind {
        FaultKind::Crash { node, lose_state } => Fault::Crash {
            node: NodeId(*node),
            lose_state: *lose_state,
        },
        FaultKind::Restart { node } => Fault::Restart {
            node: NodeId(*node),
        },
        FaultKind::Partition(sides) => Fault::Partition {
            groups: sides
                .iter()
                .map(|side| {
                    side.iter()
                        .flat_map(|g| layout.range(group_index(s, g)).map(NodeId))
                        .collect()
                })
                .collect(),
        },
        FaultKind::Heal => Fault::Heal,
        FaultKind::LinkDown { a, b } => Fault::Link {
            a: NodeId(*a),
            b: NodeId(*b),
            change: LinkChange::Down,
        },
        FaultKind::LinkUp { a, b } => Fault::Link {
            a: NodeId(*a),
            b: NodeId(*b),
            change: LinkChange::Up,
        },
        FaultKind::SetLoss { a, b, loss } => Fault::Link {
            a: NodeId(*a),
            b: NodeId(*b),
            change: LinkChange::SetLoss(loss.clone()),
        },
    }
}

/// Each group's transport as its nodes build it, with what the scenario
/// knows filled into managers' configs (see [`crate::transport::ManagerSpec`]),
/// and every node's device type.
fn transports_of(s: &Scenario, layout: &Layout) -> (Vec<Option<TransportSpec>>, Arc<[DeviceType]>) {
    let relays: Vec<&str> = s
        .groups
        .iter()
        .filter_map(|g| match &g.transport {
            Some(TransportSpec::Manager(m)) => m.relay.as_deref(),
            _ => None,
        })
        .collect();
    let radio_mtu = match &s.network {
        NetworkSpec::Hybrid { radio, .. } => Some(radio.mtu),
        _ => None,
    };
    let mut devices = Vec::with_capacity(layout.nodes() as usize);
    let transports = s
        .groups
        .iter()
        .map(|g| {
            let mut transport = g.transport.clone();
            let class = g.device.as_ref().map(|d| s.devices[d].kind);
            let mut kind = class.unwrap_or_default();
            if let Some(TransportSpec::Manager(m)) = &mut transport {
                let c = &mut m.config;
                c.device = class.unwrap_or(c.device);
                kind = c.device;
                c.relay_server = m
                    .relay
                    .as_ref()
                    .map(|r| NodeId(layout.range(group_index(s, r)).start));
                c.serve_relay |= relays.contains(&g.name.as_str());
                if let (Some(mesh), Some(mtu)) = (&mut c.mesh, radio_mtu) {
                    mesh.mtu = ByteSize(mtu.0.saturating_sub(1));
                }
            }
            devices.extend(std::iter::repeat_n(kind, g.count as usize));
            transport
        })
        .collect();
    (transports, devices.into())
}

/// The function that builds each node's stack: at the start, and again for a
/// node restarted after losing its state.
fn node_builder(
    s: &Scenario,
    layout: &Layout,
    neighbours: Vec<Vec<NodeId>>,
    streams: RngStreams,
) -> Builder<Node> {
    let nodes_of = |p: fn(&ProtocolSpec) -> bool| -> u32 {
        s.groups
            .iter()
            .filter(|g| p(&g.protocol))
            .map(|g| g.count)
            .sum()
    };
    let flood_nodes = nodes_of(|p| matches!(p, ProtocolSpec::Flood(_)));
    let ble_nodes = nodes_of(|p| matches!(p, ProtocolSpec::BleMesh(_)));
    // GossipSub's expected deliveries: every subscribing node but the
    // publisher (exact for scenarios with one topic).
    let subscribers = nodes_of(|p| match p {
        ProtocolSpec::Gossip(g) => !g.topics.is_empty(),
        ProtocolSpec::Libp2p(l) => l.node.role == Role::Worker && !l.node.topics.is_empty(),
        _ => false,
    });
    // Warm starts draw from every DHT-speaking node of the run.
    let warm = s
        .groups
        .iter()
        .any(|g| {
            matches!(&g.protocol, ProtocolSpec::Dht(d) if d.warm_start)
                || matches!(&g.protocol, ProtocolSpec::Libp2p(l) if l.warm_start)
        })
        .then(|| {
            let dht_nodes = s.groups.iter().enumerate().filter(|(_, g)| {
                matches!(g.protocol, ProtocolSpec::Dht(_) | ProtocolSpec::Libp2p(_))
            });
            WarmStart::new(dht_nodes.flat_map(|(i, _)| layout.range(i).map(NodeId)))
        });
    let bootstrap_of = |name: &Option<String>| -> Vec<NodeId> {
        name.as_ref()
            .map(|b| layout.range(group_index(s, b)).map(NodeId).collect())
            .unwrap_or_default()
    };
    // Each group's protocol, and the nodes it starts from: the bootstrap
    // nodes of DHT and libp2p nodes, the servers of discovery clients and
    // signaling peers (none for the servers themselves).
    let groups: Vec<(ProtocolSpec, Vec<NodeId>)> = s
        .groups
        .iter()
        .map(|g| {
            let bootstrap = match &g.protocol {
                ProtocolSpec::Dht(d) => bootstrap_of(&d.bootstrap),
                ProtocolSpec::Libp2p(l) => bootstrap_of(&Some(l.bootstrap.clone())),
                ProtocolSpec::Discovery(d) => bootstrap_of(&d.server),
                ProtocolSpec::Signaling(sg) => bootstrap_of(&sg.server),
                _ => Vec::new(),
            };
            (g.protocol.clone(), bootstrap)
        })
        .collect();
    let layout = layout.clone();
    let mut warm_rng = streams.stream(Domain::Topology, 1, 0);
    let (transports, devices) = transports_of(s, &layout);
    // A node rebuilt after losing its state joins like a new node, through
    // the bootstrap nodes: only first builds get a warm table.
    let mut builds = vec![0u32; layout.nodes() as usize];
    Box::new(move |id: NodeId, mut rng: SimRng| {
        let incarnation = builds[id.index()];
        builds[id.index()] += 1;
        let first_build = incarnation == 0;
        let group = layout.group_of(id.0);
        let (protocol, bootstrap) = &groups[group];
        let others = || {
            bootstrap
                .iter()
                .copied()
                .filter(|&b| b != id)
                .collect::<Vec<_>>()
        };
        // A client's server: the `k`-th node of a group is served by its
        // server group's node `k mod count`.
        let server = || {
            let k = (id.0 - layout.range(group).start) as usize;
            bootstrap.get(k % bootstrap.len().max(1)).copied()
        };
        let seq = rng.next_u32();
        let stack = match protocol {
            ProtocolSpec::Ping(c) => Stack::Ping(Box::new(Ping::new(id, *c).with_initial_seq(seq))),
            ProtocolSpec::Flood(c) => {
                let config = FloodConfig {
                    expected_recipients: flood_nodes - 1,
                    ..*c
                };
                Stack::Flood(Box::new(
                    Flood::new(id, neighbours[id.index()].clone(), config).with_initial_seq(seq),
                ))
            }
            ProtocolSpec::Gossip(g) => {
                let config = GossipConfig {
                    expected_subscribers: subscribers.saturating_sub(1),
                    ..g.config
                };
                let gossip = Gossip::new(id, config, rng).with_initial_seq(seq);
                let mut start: Vec<GossipCommand> = neighbours[id.index()]
                    .iter()
                    .map(|&p| GossipCommand::AddPeer(p))
                    .collect();
                start.extend(
                    g.topics
                        .iter()
                        .map(|&t| GossipCommand::Subscribe(TopicId(t))),
                );
                Stack::Gossip(Box::new(StartUp::new(gossip, start)))
            }
            ProtocolSpec::Dht(d) => {
                let mut dht = Dht::new(id, others(), d.config, rng).with_initial_lookup_seq(seq);
                if let (true, true, Some(w)) = (first_build, d.warm_start, &warm) {
                    dht = dht.with_peers(w.peers_for(id, d.config.k, &mut warm_rng));
                }
                Stack::Dht(Box::new(dht))
            }
            ProtocolSpec::Libp2p(l) => {
                let mut config = l.node.clone();
                config.gossip.expected_subscribers = subscribers.saturating_sub(1);
                let k = config.dht.k;
                let mut node = Libp2pNode::new(id, others(), config, rng);
                if let (true, true, Some(w)) = (first_build, l.warm_start, &warm) {
                    node = node.with_dht_peers(w.peers_for(id, k, &mut warm_rng));
                }
                Stack::Libp2p(Box::new(node))
            }
            ProtocolSpec::BleMesh(c) => {
                // A broadcast is meant for every other phone of the run: the
                // delivery ratio is then the share of the crowd it reached.
                let config = BleMeshConfig {
                    expected_recipients: ble_nodes - 1,
                    ..*c
                };
                Stack::BleMesh(Box::new(
                    BleMesh::new(id, config, rng).with_initial_seq(seq),
                ))
            }
            // A rebuilt client draws a fresh peer id and first request id
            // from its incarnation's stream: its old registration lingers
            // under the old id until the TTL, as a restarted browser's would.
            ProtocolSpec::Discovery(d) => {
                let node = match server() {
                    None => Discovery::server(id, &d.config),
                    Some(server) => {
                        Discovery::client(id, server, &d.config, &mut rng).with_initial_seq(seq)
                    }
                };
                Stack::Discovery(Box::new(DiscoveryStack::new(node)))
            }
            ProtocolSpec::Signaling(sg) => {
                let config = match server() {
                    None => SignalingConfig {
                        role: signaling::Role::Server,
                        ..sg.config
                    },
                    Some(server) => SignalingConfig {
                        role: signaling::Role::Peer,
                        server: server.0,
                        ..sg.config
                    },
                };
                Stack::Signaling(Box::new(SignalingStack::new(SignalingNode::new(
                    id, config, rng,
                ))))
            }
        };
        match &transports[group] {
            None => Node::Bare(stack),
            Some(t) => {
                let rng = streams.stream(Domain::Transport, incarnation, id.0);
                Node::Over(Box::new(Over::new(stack, t.build(id, rng, &devices))))
            }
        }
    })
}
