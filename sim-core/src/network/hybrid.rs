//! The hybrid model: every node has two networks at once, as a phone has
//! Wi-Fi or cellular and Bluetooth. The internet model carries what leaves
//! on [`Interface::IP`]; the radio model, with its positions, ranges and
//! mobility, carries what leaves on [`Interface::RADIO`] and answers
//! link-layer broadcasts.
//!
//! Which interface a datagram takes is the sender's choice; a real stack
//! knows it from the socket it wrote to. The sans-IO protocols here hand the
//! kernel bytes only, so the model reads the choice from the bytes with a
//! [`Classifier`] given at construction: the transport manager, for one,
//! tags each datagram with the transport it belongs to, and its BLE mesh
//! packets go on the radio.

use crate::metrics::DropCause;
use crate::protocol::NodeId;
use crate::time::{Duration, Instant};

use super::{Interface, InternetNetwork, LinkChange, Network, NetworkError, RadioNetwork};

/// Reads from a datagram's bytes the interface it is sent on.
pub type Classifier = fn(&[u8]) -> Interface;

/// The internet model and the radio model over the same nodes. Which one a
/// datagram takes, and why a [`Classifier`] reads it from the bytes:
/// `sim-core/src/network/hybrid.rs`.
#[derive(Debug)]
pub struct HybridNetwork {
    ip: InternetNetwork,
    radio: RadioNetwork,
    classify: Classifier,
}

impl HybridNetwork {
    /// Nodes `0..n` on both `ip` and `radio` (which must have the same
    /// number of nodes), each datagram on the interface `classify` reads.
    ///
    /// # Panics
    ///
    /// If the two models have different node counts.
    pub fn new(ip: InternetNetwork, radio: RadioNetwork, classify: Classifier) -> Self {
        assert_eq!(
            ip.node_count(),
            radio.node_count(),
            "both networks connect the same nodes"
        );
        HybridNetwork {
            ip,
            radio,
            classify,
        }
    }

    /// The IP side.
    pub fn ip(&self) -> &InternetNetwork {
        &self.ip
    }

    /// The radio side.
    pub fn radio(&self) -> &RadioNetwork {
        &self.radio
    }
}

impl Network for HybridNetwork {
    fn node_count(&self) -> u32 {
        self.ip.node_count()
    }

    /// On the IP side (a datagram sent without an interface).
    fn send(
        &mut self,
        now: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        self.ip.send(now, from, to, len)
    }

    /// On the IP side.
    fn arrive(&mut self, now: Instant, to: NodeId, len: usize) -> Result<Instant, DropCause> {
        self.ip.arrive(now, to, len)
    }

    /// Neither side has links a fault could change: the internet model has
    /// none, and radio links come and go with distance.
    fn change_link(
        &mut self,
        _a: NodeId,
        _b: NodeId,
        _change: &LinkChange,
    ) -> Result<(), NetworkError> {
        Err(NetworkError::NoLinks("hybrid"))
    }

    fn min_delay(&self, from: NodeId, to: NodeId) -> Option<Duration> {
        match (self.ip.min_delay(from, to), self.radio.min_delay(from, to)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn neighbours(&self, _node: NodeId) -> Option<Vec<NodeId>> {
        None
    }

    /// The radio's: a broadcast is a BLE advertisement.
    fn broadcast_targets(&mut self, now: Instant, from: NodeId, out: &mut Vec<NodeId>) {
        self.radio.broadcast_targets(now, from, out);
    }

    fn interface(&self, _from: NodeId, bytes: &[u8]) -> Interface {
        (self.classify)(bytes)
    }

    fn send_via(
        &mut self,
        via: Interface,
        now: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        if via == Interface::RADIO {
            self.radio.send(now, from, to, len)
        } else {
            self.ip.send(now, from, to, len)
        }
    }

    fn arrive_via(
        &mut self,
        via: Interface,
        now: Instant,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        if via == Interface::RADIO {
            self.radio.arrive(now, to, len)
        } else {
            self.ip.arrive(now, to, len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{AccessClass, InternetConfig, Mobility, Point, RadioConfig, RadioNode};
    use crate::{Domain, RngStreams};

    /// Bytes starting with `b'B'` go on the radio.
    fn by_first_byte(bytes: &[u8]) -> Interface {
        if bytes.first() == Some(&b'B') {
            Interface::RADIO
        } else {
            Interface::IP
        }
    }

    /// Three nodes 10 m apart in a row (BLE range 15 m), all in one region
    /// with a 30 ms core latency and no access limits.
    fn three() -> HybridNetwork {
        let streams = RngStreams::new(1);
        let core = InternetConfig {
            regions: vec!["here".into()],
            latency: vec![vec![Duration::from_millis(30)]],
            jitter: None,
            loss: Default::default(),
            mtu: None,
            in_order: false,
        };
        let ip = InternetNetwork::new(
            core,
            vec![AccessClass::default()],
            vec![0; 3],
            vec![0; 3],
            streams.stream(Domain::Network, 0, 0),
        );
        let nodes = (0..3)
            .map(|i| RadioNode::new(15.0, Point::new(10.0 * f64::from(i), 0.0), Mobility::Static))
            .collect();
        let radio = RadioNetwork::new(RadioConfig::default(), nodes, streams);
        HybridNetwork::new(ip, radio, by_first_byte)
    }

    #[test]
    fn each_datagram_takes_the_network_of_its_interface() {
        let mut net = three();
        let t = Instant::ZERO;
        assert_eq!(net.interface(NodeId(0), b"B..."), Interface::RADIO);
        assert_eq!(net.interface(NodeId(0), b"H..."), Interface::IP);
        // IP: the core latency, to anyone.
        let ip = net.send_via(Interface::IP, t, NodeId(0), NodeId(2), 100);
        assert_eq!(ip, Ok(t + Duration::from_millis(30)));
        // Radio: only within range, and at the radio's own pace.
        let far = net.send_via(Interface::RADIO, t, NodeId(0), NodeId(2), 100);
        assert_eq!(far, Err(DropCause::NoRoute));
        let near = net.send_via(Interface::RADIO, t, NodeId(0), NodeId(1), 100);
        let radio_alone = three().radio.send(t, NodeId(0), NodeId(1), 100);
        assert_eq!(near, radio_alone);
        assert!(near.unwrap() < t + Duration::from_millis(30));
    }

    #[test]
    fn broadcasts_reach_radio_neighbours_and_min_delay_takes_the_faster_side() {
        let mut net = three();
        let mut out = Vec::new();
        net.broadcast_targets(Instant::ZERO, NodeId(1), &mut out);
        assert_eq!(out, vec![NodeId(0), NodeId(2)]);
        let (a, b, c) = (NodeId(0), NodeId(1), NodeId(2));
        assert_eq!(net.min_delay(a, c), Some(Duration::from_millis(30)));
        assert_eq!(net.min_delay(a, b), net.radio().min_delay(a, b));
        assert_eq!(
            net.change_link(a, b, &LinkChange::Down),
            Err(NetworkError::NoLinks("hybrid"))
        );
    }
}
