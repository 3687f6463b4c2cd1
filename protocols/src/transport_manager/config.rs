//! [`TransportManagerConfig`]: what a scenario file can set.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sim_core::{Duration, NodeId};

use super::policy::{DeviceType, PolicyChoice, Quality};
use super::qos::QueueSizes;
use crate::ble_mesh::BleMeshConfig;
use crate::htx::HtxConfig;
use crate::quic::QuicConfig;

/// The manager's parameters. Every field has a default, so an empty map
/// is a valid config; an unknown field is an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransportManagerConfig {
    /// This node's device type. Default mobile.
    pub device: DeviceType,
    /// Device types of peers, for the device rule (a peer not listed is
    /// taken to be of this node's type).
    pub peer_devices: BTreeMap<NodeId, DeviceType>,
    /// The selection policy. Default the seed's.
    pub policy: PolicyChoice,
    /// Hold raw datagrams. Default no (the seed has none).
    pub raw: bool,
    /// Hold BetaNet (HTX), with this config. Default on.
    pub htx: Option<HtxConfig>,
    /// Hold QUIC, with this config. Default on.
    pub quic: Option<QuicConfig>,
    /// Hold BitChat (the BLE mesh), with this config. Default on.
    pub mesh: Option<BleMeshConfig>,
    /// The relay server of the WebSocket transport (none: no WebSocket).
    pub relay_server: Option<NodeId>,
    /// Serve as a relay server for others. Default no.
    pub serve_relay: bool,
    /// The peers reachable directly (none: every peer is presumed to be).
    pub direct_peers: Option<BTreeSet<NodeId>>,
    /// A fixed network quality for every peer, instead of the estimate.
    pub quality: Option<Quality>,
    /// The priority queues' sizes. Default the seed's (10, 50, 200, 500).
    pub queues: QueueSizes,
    /// Messages sent and not yet acknowledged, at most; the rest wait in
    /// the queues. Default 64.
    pub max_in_flight: usize,
    /// Transports tried per message, at most (first choice and failovers).
    /// Default 3.
    pub max_attempts: u8,
    /// How long a message sent over BetaNet, QUIC, WebSocket or raw
    /// datagrams waits for its acknowledgement before failing over.
    /// Default 2 s.
    pub ack_timeout: Duration,
    /// The same over BitChat, whose flooding and duty cycle are slower.
    /// Default 10 s.
    pub mesh_ack_timeout: Duration,
    /// How long a partly received message waits for its other fragments.
    /// Default 30 s.
    pub reassembly_timeout: Duration,
    /// Messages being reassembled, at most. Default 128.
    pub max_reassemblies: usize,
    /// How long a learned route, a failed transport and a delivered
    /// message id are remembered. Default 300 s (the seed's
    /// `route_timeout`).
    pub route_timeout: Duration,
    /// The largest manager frame over raw datagrams. Default 1,200 B.
    pub raw_mtu: usize,
    /// The largest manager frame over a QUIC stream. Default 64 KiB.
    pub quic_mtu: usize,
    /// The largest manager frame over the relay. Default 64 KiB.
    pub relay_mtu: usize,
}

impl Default for TransportManagerConfig {
    fn default() -> Self {
        TransportManagerConfig {
            device: DeviceType::Mobile,
            peer_devices: BTreeMap::new(),
            policy: PolicyChoice::Seed,
            raw: false,
            htx: Some(HtxConfig::default()),
            quic: Some(QuicConfig::default()),
            mesh: Some(BleMeshConfig::default()),
            relay_server: None,
            serve_relay: false,
            direct_peers: None,
            quality: None,
            queues: QueueSizes::default(),
            max_in_flight: 64,
            max_attempts: 3,
            ack_timeout: Duration::from_secs(2),
            mesh_ack_timeout: Duration::from_secs(10),
            reassembly_timeout: Duration::from_secs(30),
            max_reassemblies: 128,
            route_timeout: Duration::from_secs(300),
            raw_mtu: 1200,
            quic_mtu: 64 * 1024,
            relay_mtu: 64 * 1024,
        }
    }
}
