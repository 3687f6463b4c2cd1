//! The scenario file's schema: what a `.ron` file may say.
//!
//! Every struct rejects unknown fields, every quantity carries a unit
//! ("250ms", "4KiB", "10Mbps"), and the RON extensions `implicit_some` and
//! `unwrap_variant_newtypes` are on, so `bandwidth: "10Mbps"` needs no `Some(…)`
//! and `Flood(hop_limit: 3)` needs no double parentheses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::network::{AccessClass, InternetConfig, LinkConfig, Loss, RadioConfig};
use sim_core::topology::Topology;
use sim_core::{ByteSize, Dist, Duration};

use protocols::ble_mesh::BleMeshConfig;
use protocols::dht::DhtConfig;
use protocols::discovery::DiscoveryConfig;
use protocols::flood::FloodConfig;
use protocols::gossip::GossipConfig;
use protocols::libp2p::Libp2pConfig;
use protocols::ping::PingConfig;
use protocols::signaling::SignalingConfig;
use protocols::transport_manager::DeviceType;

use crate::transport::TransportSpec;

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Names the run and its default output folder `out/<name>/`.
    pub name: String,
    /// The seed every random stream of the run derives from.
    pub seed: u64,
    /// How much virtual time to simulate.
    pub duration: Duration,
    /// The network between the nodes.
    pub network: NetworkSpec,
    /// Device classes by name (phones, laptops, servers…): battery and
    /// what each radio costs. Groups that name one model energy.
    #[serde(default)]
    pub devices: BTreeMap<String, DeviceSpec>,
    /// The nodes, in groups; node ids are given out group by group in order.
    pub groups: Vec<GroupSpec>,
    /// What the nodes are asked to do, and when.
    #[serde(default)]
    pub workload: Vec<WorkloadSpec>,
    /// What goes wrong, and when.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Where results go.
    #[serde(default)]
    pub output: OutputSpec,
    /// Parameters × values × replications for `p2psim sweep` (see
    /// [`crate::sweep`]); `p2psim run` ignores it.
    #[serde(default)]
    pub sweep: Option<crate::sweep::SweepSpec>,
}

/// The network model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum NetworkSpec {
    /// Explicit links from a topology generator; nodes talk to their
    /// neighbours in the graph.
    Graph {
        /// How the nodes are wired.
        topology: Topology,
        /// Every link direction's parameters, unless overridden.
        #[serde(default)]
        link: LinkConfig,
        /// Per-link overrides (asymmetric links, one slow link…).
        #[serde(default)]
        overrides: Vec<LinkOverride>,
    },
    /// All pairs reachable, through regions and access links; protocols talk
    /// to the neighbours of an overlay graph.
    Internet {
        /// Regions, latency matrix, jitter, loss.
        core: InternetConfig,
        /// Access classes by name; each group picks one (`access:`), which
        /// may be left out when there is only one class.
        access: BTreeMap<String, AccessClass>,
        /// The overlay that flood and GossipSub nodes take as their peer
        /// lists; none for protocols that find their own peers (DHT, libp2p).
        #[serde(default)]
        overlay: Option<Topology>,
    },
    /// Radios in a field: nodes with positions and ranges, linked while in
    /// range (BLE meshes). Groups say where their nodes start and how they
    /// move; device classes give the range.
    Radio(RadioConfig),
    /// Both at once, as a phone has Wi-Fi or cellular and Bluetooth: the
    /// internet model for IP and the radio model for BLE, every node on
    /// both. For groups over the transport manager (`transport:
    /// Manager(...)`), whose BitChat packets go on the radio and everything
    /// else on IP. Groups say where their nodes are in the field and how
    /// they move, as on the radio model.
    Hybrid {
        /// The IP side's regions, latency matrix, jitter, loss.
        core: InternetConfig,
        /// The IP side's access classes by name, as on the internet model.
        access: BTreeMap<String, AccessClass>,
        /// The BLE side.
        radio: RadioConfig,
    },
}

/// New parameters for the link between `a` and `b`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// One end.
    pub a: u32,
    /// The other end.
    pub b: u32,
    /// The direction a→b.
    pub forward: LinkConfig,
    /// The direction b→a; the same as `forward` if absent.
    #[serde(default)]
    pub backward: Option<LinkConfig>,
}

/// A group of identical nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// The group's name, used by workloads and faults.
    pub name: String,
    /// How many nodes.
    pub count: u32,
    /// The protocol every node of the group runs.
    pub protocol: ProtocolSpec,
    /// Internet model only: the regions the nodes are spread over, round
    /// robin (all regions if empty).
    #[serde(default)]
    pub regions: Vec<String>,
    /// Internet model only: the access class's name (needed when the
    /// network has more than one).
    #[serde(default)]
    pub access: Option<String>,
    /// The device class (a key of `devices`); the group's nodes then have
    /// batteries that their work drains.
    #[serde(default)]
    pub device: Option<String>,
    /// State of charge at the start, 0.0 to 1.0 (default full).
    #[serde(default)]
    pub battery: Option<f64>,
    /// The radio whose costs apply (default: BLE on the radio model, Wi-Fi
    /// elsewhere). On the hybrid model, the IP side's radio (Wi-Fi or
    /// cellular); BLE's costs apply to the radio side.
    #[serde(default)]
    pub radio: Option<RadioKind>,
    /// The transport the group's protocol runs over (default none: its
    /// datagrams go straight on the network). Groups that talk to each other
    /// must use the same one.
    #[serde(default)]
    pub transport: Option<TransportSpec>,
    /// Radio and hybrid models only: where the nodes start (default:
    /// uniformly at random in the field).
    #[serde(default)]
    pub placement: Placement,
    /// Radio and hybrid models only: how the nodes move (default: they
    /// stay put).
    #[serde(default)]
    pub mobility: MobilitySpec,
}

/// Where a group's nodes start in the radio model's field (metres, origin
/// at a corner).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Placement {
    /// Uniformly at random in the field.
    #[default]
    Random,
    /// In a row along x, `spacing` apart, the first at `start`.
    Line {
        /// Distance between neighbours, metres.
        spacing: f64,
        /// The first node's position (default the origin).
        #[serde(default)]
        start: (f64, f64),
    },
    /// Row by row on a square grid `spacing` apart, from the origin.
    Grid {
        /// Distance between neighbours, metres.
        spacing: f64,
    },
    /// One position per node, in order.
    At(Vec<(f64, f64)>),
}

/// How a group's nodes move in the radio model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum MobilitySpec {
    /// They never move.
    #[default]
    Static,
    /// Random waypoint over the whole field: walk to a uniform random point
    /// at a uniform random speed, pause, repeat.
    RandomWaypoint {
        /// Slowest speed, m/s (positive).
        speed_min: f64,
        /// Fastest speed, m/s.
        speed_max: f64,
        /// Pause at each destination.
        #[serde(default)]
        pause: Duration,
    },
    /// Every node of the group walks the same path: from its start to each
    /// `(time since start, (x, y))` in turn, holding the last point.
    Path(Vec<(Duration, (f64, f64))>),
}

/// A device class: its battery and its radios' energy costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceSpec {
    /// Battery capacity in mAh (default 3,000, a mid-range phone).
    pub battery_mah: f64,
    /// Battery voltage (default 3.85 V, a Li-ion phone cell's nominal).
    pub voltage: f64,
    /// BLE radio range in metres on the radio model (default 50; the seed
    /// says 10–100 m depending on conditions).
    pub ble_range_m: f64,
    /// Costs per radio; radios left out keep their defaults.
    pub radios: BTreeMap<RadioKind, RadioCost>,
    /// What the transport manager's device rule calls this class (default
    /// mobile).
    pub kind: DeviceType,
}

impl Default for DeviceSpec {
    fn default() -> Self {
        DeviceSpec {
            battery_mah: 3000.0,
            voltage: 3.85,
            ble_range_m: 50.0,
            radios: BTreeMap::new(),
            kind: DeviceType::Mobile,
        }
    }
}

impl DeviceSpec {
    /// Battery capacity in joules (mAh × 3.6 × V).
    pub fn capacity_j(&self) -> f64 {
        self.battery_mah * 3.6 * self.voltage
    }
    /// What `radio` costs on this device: its own entry or the default.
    pub fn cost(&self, radio: RadioKind) -> RadioCost {
        self.radios
            .get(&radio)
            .copied()
            .unwrap_or_else(|| radio.default_cost())
    }
}

/// A radio a device can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RadioKind {
    /// Bluetooth Low Energy.
    Ble,
    /// Wi-Fi.
    Wifi,
    /// Cellular (3G/LTE).
    Cellular,
}

impl RadioKind {
    /// Typical smartphone figures, rounded. BLE: about 0.15 µJ per bit on
    /// air at the best settings (Siekkinen et al., "How low energy is
    /// Bluetooth Low Energy?", 2012) and ~10 mW to keep scanning. Wi-Fi and
    /// 3G: ~7 and ~24 mJ per KB transferred and ~50 and ~20 mW to stay
    /// associated or camped (Balasubramanian et al., IMC 2009). Cellular's
    /// tail energy after each transfer is not modelled.
    pub fn default_cost(self) -> RadioCost {
        match self {
            RadioKind::Ble => RadioCost {
                idle_mw: 10.0,
                tx_uj_per_byte: 1.2,
                rx_uj_per_byte: 1.0,
            },
            RadioKind::Wifi => RadioCost {
                idle_mw: 50.0,
                tx_uj_per_byte: 6.8,
                rx_uj_per_byte: 6.8,
            },
            RadioKind::Cellular => RadioCost {
                idle_mw: 20.0,
                tx_uj_per_byte: 24.0,
                rx_uj_per_byte: 24.0,
            },
        }
    }
}

/// What one radio costs a device.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioCost {
    /// Power drawn while the radio is on and ready, in milliwatts.
    pub idle_mw: f64,
    /// Energy per byte sent, in microjoules.
    pub tx_uj_per_byte: f64,
    /// Energy per byte received, in microjoules.
    pub rx_uj_per_byte: f64,
}

/// A protocol and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ProtocolSpec {
    /// Request/response round trips.
    Ping(#[serde(default)] PingConfig),
    /// Hop-limited flooding with duplicate suppression.
    Flood(#[serde(default)] FloodConfig),
    /// GossipSub over the network's neighbours (graph links, or the
    /// internet model's overlay) as its peers.
    Gossip(#[serde(default)] GossipSpec),
    /// A Kademlia DHT node.
    Dht(#[serde(default)] DhtSpec),
    /// A libp2p node of the seed's network: DHT, GossipSub, Identify, Ping.
    Libp2p(Libp2pSpec),
    /// A BitChat BLE mesh node (on the radio model, or on a graph whose
    /// links stand for radio contacts).
    BleMesh(#[serde(default)] BleMeshConfig),
    /// The seeds' discovery registry (a group without `server`) or its
    /// clients (a group that names the registry's group).
    Discovery(#[serde(default)] DiscoverySpec),
    /// The seed's WebSocket signaling server (a group without `server`) or
    /// its browser peers (a group that names the server's group).
    Signaling(#[serde(default)] SignalingSpec),
}

/// A discovery node: the registry, or a client of one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoverySpec {
    /// The registry's group, whose nodes this group's clients talk to
    /// (client `k` of the group to the registry's node `k mod count`);
    /// none: this group's nodes are registries.
    pub server: Option<String>,
    /// The parameters; a registry reads the `server` half, a client the
    /// `client` half (so a sweep of the TTL sets the registry group's, and
    /// one of the heartbeat interval the clients' group's).
    pub config: DiscoveryConfig,
}

/// A signaling node: the server, or a browser peer of one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalingSpec {
    /// The server's group, through whose nodes this group's peers join
    /// (peer `k` of the group through the server's node `k mod count`);
    /// none: this group's nodes are servers.
    pub server: Option<String>,
    /// The parameters. `role` and `server` are set by the scenario from
    /// the field above and must be left out here.
    pub config: SignalingConfig,
}

/// A stand-alone GossipSub node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GossipSpec {
    /// Topics subscribed at start.
    pub topics: Vec<u32>,
    /// GossipSub's parameters (`expected_subscribers` is set by the scenario).
    pub config: GossipConfig,
}

/// A stand-alone Kademlia node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DhtSpec {
    /// The group whose nodes are the bootstrap nodes (none: the node only
    /// knows the peers a warm start gives it).
    pub bootstrap: Option<String>,
    /// Start with converged routing tables instead of growing them (see
    /// `protocols::dht::WarmStart`); needed for 10⁵–10⁶ nodes.
    pub warm_start: bool,
    /// The DHT's parameters.
    pub config: DhtConfig,
}

/// A libp2p node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Libp2pSpec {
    /// The group whose nodes are the bootstrap nodes.
    pub bootstrap: String,
    /// Start every node's DHT with a converged table.
    #[serde(default)]
    pub warm_start: bool,
    /// The node's role, topics and parameters.
    #[serde(default)]
    pub node: Libp2pConfig,
}

impl ProtocolSpec {
    /// The protocol's name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            ProtocolSpec::Ping(_) => "Ping",
            ProtocolSpec::Flood(_) => "Flood",
            ProtocolSpec::Gossip(_) => "Gossip",
            ProtocolSpec::Dht(_) => "Dht",
            ProtocolSpec::Libp2p(_) => "Libp2p",
            ProtocolSpec::BleMesh(_) => "BleMesh",
            ProtocolSpec::Discovery(_) => "Discovery",
            ProtocolSpec::Signaling(_) => "Signaling",
        }
    }
}

/// A stream of requests from one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// The group whose nodes act.
    pub group: String,
    /// What they do.
    pub action: ActionSpec,
    /// When: periodically or at Poisson times.
    pub arrivals: Arrivals,
    /// Which nodes of the group act at each arrival.
    #[serde(default)]
    pub senders: Senders,
    /// First arrival no earlier than this.
    #[serde(default)]
    pub start: Duration,
    /// No arrival at or after this (default: the end of the run).
    #[serde(default)]
    pub stop: Option<Duration>,
}

/// What a workload asks a node to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ActionSpec {
    /// Ping a peer with a request of `size` bytes.
    Ping {
        /// The request's size on the wire.
        size: ByteSize,
        /// Whom to ping.
        #[serde(default)]
        to: Target,
    },
    /// Flood a message with a payload of `size` bytes (flood and BLE mesh
    /// nodes).
    Broadcast {
        /// The payload's size.
        size: ByteSize,
    },
    /// A private message of `size` bytes to one peer (BLE mesh nodes:
    /// directly, through the mesh, or stored until the peer is in reach).
    Send {
        /// The content's size.
        size: ByteSize,
        /// The recipient.
        #[serde(default)]
        to: Target,
    },
    /// Publish a message of `size` payload bytes on a GossipSub topic.
    Publish {
        /// The topic.
        topic: u32,
        /// The payload's size.
        size: ByteSize,
    },
    /// A DHT lookup.
    Lookup {
        /// What is looked up.
        kind: LookupSpec,
        /// Which key.
        key: KeySpec,
    },
    /// Store a record of `size` bytes in the DHT.
    Put {
        /// Which key.
        key: KeySpec,
        /// The value's size.
        size: ByteSize,
    },
    /// Announce this node as a provider of a key.
    Provide {
        /// Which key.
        key: KeySpec,
    },
    /// Discovery clients: `POST /register` with these archetypes, then
    /// heartbeat until `StopHeartbeats`.
    Register {
        /// What the peer offers (`/discover?archetype=` matches one).
        archetypes: Vec<String>,
        /// The metadata's size as JSON (default 42 B: seed 000's example).
        #[serde(default = "seed_metadata_size")]
        metadata_size: ByteSize,
    },
    /// Discovery clients: `GET /discover`, all peers or one archetype's.
    Discover {
        /// Only peers that list this archetype (default: all).
        #[serde(default)]
        archetype: Option<String>,
    },
    /// Discovery clients: `GET /health`.
    Health,
    /// Discovery clients: stop heartbeating, as a peer that dies silently;
    /// its registration lives out its TTL.
    StopHeartbeats,
    /// Signaling peers: connect to the server and join the mesh.
    Join,
    /// Signaling peers: open a direct data channel to a peer (through the
    /// server's relay, then STUN, DTLS and SCTP directly).
    Connect {
        /// The peer (give the peers' group: the server takes no channel).
        #[serde(default)]
        to: Target,
    },
    /// Signaling peers: a message of `size` bytes on a direct channel.
    SendDirect {
        /// The message's size.
        size: ByteSize,
        /// The recipient; `Connected` picks one of the sender's open
        /// channels.
        #[serde(default)]
        to: Target,
    },
    /// Signaling peers: say `leave` and close the server connection.
    Leave,
    /// Signaling peers: stop heartbeating but stay connected (a suspended
    /// tab); the server's idle timeout then removes the peer.
    GoSilent,
}

/// Seed 000's metadata, `{"version": "1.0.0", "client": "aurora-wasm"}`,
/// is 42 bytes of JSON.
fn seed_metadata_size() -> ByteSize {
    ByteSize(42)
}

/// What a lookup looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LookupSpec {
    /// The closest nodes to the key (FIND_NODE).
    FindNode,
    /// The record stored under the key (GET_VALUE).
    GetValue,
    /// The providers of the key (GET_PROVIDERS).
    GetProviders,
}

/// Which key a DHT action uses. Named keys are `SHA-256("key-<i>")`, so puts
/// and gets of the same `i` meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySpec {
    /// A fresh random 256-bit key each time.
    Random,
    /// Named key `i` for `i` drawn uniformly from `0..n`.
    Stored(u32),
    /// Named keys `0, 1, 2, …, n−1`, then again from 0: for putting every
    /// key once.
    Sequence(u32),
}

/// The peer of a directed action.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Target {
    /// A node chosen uniformly among all others.
    #[default]
    Random,
    /// A node chosen uniformly in a group (never the sender itself).
    Group(String),
    /// One node.
    Node(u32),
    /// One of the peers the sender has an open direct channel with, chosen
    /// uniformly when the command runs (signaling `SendDirect` only): the
    /// workload cannot know which channels opened.
    Connected,
}

/// When a workload acts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Arrivals {
    /// At start, start + d, start + 2d, …
    Every(Duration),
    /// At the times of a Poisson process with this many arrivals per second.
    Poisson(f64),
}

/// Which nodes of a group act at each arrival.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Senders {
    /// One node of the group, chosen uniformly at random.
    #[default]
    OneRandom,
    /// Every node of the group.
    Each,
}

/// A fault: at a time, or churn over an interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum FaultSpec {
    /// One fault at one time.
    At(Duration, FaultKind),
    /// Nodes of a group leave at Poisson times and come back with fresh state.
    Churn {
        /// The group whose nodes churn.
        group: String,
        /// Departures per second.
        rate: f64,
        /// How long a departed node stays away.
        downtime: Dist,
        /// Churn begins.
        #[serde(default)]
        start: Duration,
        /// Churn ends (no departures after; default: the end of the run).
        #[serde(default)]
        stop: Option<Duration>,
    },
}

/// A fault that happens at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum FaultKind {
    /// A node stops; its state is lost unless `lose_state` is false.
    Crash {
        /// The node.
        node: u32,
        /// Whether the node's state is lost (default true).
        #[serde(default = "yes")]
        lose_state: bool,
    },
    /// A crashed node comes back.
    Restart {
        /// The node.
        node: u32,
    },
    /// The named groups cannot reach each other; nodes in no listed group
    /// form one more side.
    Partition(Vec<Vec<String>>),
    /// Every partition ends.
    Heal,
    /// The link between `a` and `b` goes down.
    LinkDown {
        /// One end.
        a: u32,
        /// The other end.
        b: u32,
    },
    /// The link between `a` and `b` comes back.
    LinkUp {
        /// One end.
        a: u32,
        /// The other end.
        b: u32,
    },
    /// The link between `a` and `b` gets a new loss model.
    SetLoss {
        /// One end.
        a: u32,
        /// The other end.
        b: u32,
        /// The new model.
        loss: Loss,
    },
}

fn yes() -> bool {
    true
}

/// Where a run's results go.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSpec {
    /// The output folder (default `out/<name>/`); `--out` overrides it.
    pub dir: Option<String>,
    /// The interval of `timeseries.csv` and the charts over time (default:
    /// a round value that cuts the run into at most 200 intervals).
    pub interval: Option<Duration>,
}
