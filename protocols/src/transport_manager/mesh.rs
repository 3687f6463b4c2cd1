//! The BLE mesh ([`crate::ble_mesh`]) as a transport that carries bytes:
//! each `Send` is a directed mesh message whose content is the bytes given
//! (unicast to a neighbour with hop-by-hop acknowledgements, flooded
//! otherwise, kept in the outbox until acknowledged), and each message
//! delivered here is handed up as from its origin.

use std::collections::VecDeque;

use sim_core::{BatteryLevel, Instant, NodeId, Output, Protocol, SimRng};

use crate::ble_mesh::{packet, BleEvent, BleMesh, BleMeshConfig};
use crate::transport::{Transport, TransportCommand, TransportEvent};

/// The BLE mesh carrying a manager's bytes.
#[derive(Debug)]
pub struct Mesh {
    ble: BleMesh,
    out: VecDeque<Output<TransportEvent<BleEvent>>>,
}

impl Transport for Mesh {
    /// The mesh's own events.
    type Note = BleEvent;
}

impl Mesh {
    /// Node `id`'s mesh endpoint, drawing from `rng` as [`BleMesh::new`]
    /// does.
    pub fn new(id: NodeId, config: BleMeshConfig, rng: SimRng) -> Self {
        Mesh {
            ble: BleMesh::new(id, config, rng).keeping_content(),
            out: VecDeque::new(),
        }
    }

    /// The mesh node.
    pub fn ble(&self) -> &BleMesh {
        &self.ble
    }

    /// The most content one mesh packet carries: the MTU less a directed
    /// packet's header and the message header, so that the mesh never
    /// fragments again what the manager cut.
    pub fn mtu(&self) -> usize {
        let mtu = usize::try_from(self.ble.config().mtu.0).unwrap_or(usize::MAX);
        mtu.saturating_sub(packet::DIRECTED_OVERHEAD + crate::ble_mesh::message::HEADER_LEN)
    }

    /// Moves what the mesh produced into the queue: its outputs (events as
    /// notes), then the contents delivered.
    fn collect(&mut self) {
        while let Some(o) = self.ble.poll_output() {
            self.out.push_back(o.map_event(TransportEvent::Note));
        }
        while let Some(content) = self.ble.take_content() {
            self.out.push_back(Output::Event(TransportEvent::Received {
                from: content.origin,
                bytes: content.bytes,
            }));
        }
    }
}

impl Protocol for Mesh {
    type Command = TransportCommand;
    type Event = TransportEvent<BleEvent>;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.ble.handle_datagram(now, from, bytes);
        self.collect();
    }

    fn handle_command(
        &mut self,
        now: Instant,
        TransportCommand::Send { to, bytes }: TransportCommand,
    ) {
        self.ble.send_bytes(now, to, &bytes);
        self.collect();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ble.handle_timeout(now);
        self.collect();
    }

    fn poll_output(&mut self) -> Option<Output<Self::Event>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ble.poll_timeout()
    }

    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        self.ble.handle_battery(now, level);
        self.collect();
    }
}
