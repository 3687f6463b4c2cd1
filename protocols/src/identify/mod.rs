//! Identify: peers tell each other who they are and what they speak.
//!
//! When a node connects to a peer it asks for the peer's identity (an empty
//! datagram, see [`wire`]); the peer answers with an [`IdentifyMsg`]: its
//! public key, listen addresses, the protocols it supports and the address it
//! sees the asker at. The asker reports [`IdentifyEvent::Identified`]; a
//! libp2p node uses it to learn which peers speak gossip and the DHT.
//!
//! # Driving it
//!
//! - getters: [`Identify::id`], [`Identify::known`];
//! - inputs: `handle_command(IdentifyCommand::Ask(peer))`, `handle_datagram`
//!   (requests are answered, answers reported);
//! - outputs: `poll_output` until `None`. Identify has no timers: an unanswered
//!   question is simply asked again by the layer above if it still cares.

pub mod wire;

use std::collections::{BTreeMap, VecDeque};

use sim_core::{Datagram, DropCause, Instant, NodeId, Observation, Observe, Output, Protocol};

pub use wire::IdentifyMsg;

/// Ask a peer to identify itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentifyCommand {
    /// Send an identify request to this peer.
    Ask(NodeId),
}

/// What [`Identify`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentifyEvent {
    /// A peer answered: the protocols it speaks.
    Identified {
        /// The peer.
        peer: NodeId,
        /// Its protocol ids.
        protocols: Vec<String>,
    },
}

impl Observe for IdentifyEvent {
    /// Identities are not application messages.
    fn observe(&self) -> Option<Observation> {
        None
    }
}

/// The identify protocol of one node.
#[derive(Clone, Debug)]
pub struct Identify {
    id: NodeId,
    info: IdentifyMsg,
    known: BTreeMap<NodeId, Vec<String>>,
    outputs: VecDeque<Output<IdentifyEvent>>,
}

impl Identify {
    /// A node that speaks `protocols`, with `agent` as its agent version.
    pub fn new(id: NodeId, protocols: Vec<String>, agent: &str) -> Self {
        let info = IdentifyMsg {
            public_key: Some(wire::public_key(id)),
            listen_addrs: vec![wire::multiaddr(id)],
            protocols,
            observed_addr: None,
            protocol_version: Some("ipfs/0.1.0".into()),
            agent_version: Some(agent.into()),
        };
        Identify {
            id,
            info,
            known: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }
    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// Peers that have identified themselves, with their protocols.
    pub fn known(&self) -> &BTreeMap<NodeId, Vec<String>> {
        &self.known
    }
}

impl Protocol for Identify {
    type Command = IdentifyCommand;
    type Event = IdentifyEvent;

    fn handle_datagram(&mut self, _now: Instant, from: NodeId, bytes: &[u8]) {
        let Some(msg) = IdentifyMsg::parse(bytes) else {
            return self.outputs.push_back(Output::Drop {
                from,
                len: bytes.len(),
                cause: DropCause::Malformed,
            });
        };
        if bytes.is_empty() {
            let answer = IdentifyMsg {
                observed_addr: Some(wire::multiaddr(from)),
                ..self.info.clone()
            };
            return self.outputs.push_back(Output::Transmit {
                to: from,
                bytes: answer.to_bytes().into(),
            });
        }
        self.known.insert(from, msg.protocols.clone());
        self.outputs
            .push_back(Output::Event(IdentifyEvent::Identified {
                peer: from,
                protocols: msg.protocols,
            }));
    }

    fn handle_command(&mut self, _now: Instant, cmd: IdentifyCommand) {
        let IdentifyCommand::Ask(peer) = cmd;
        self.outputs.push_back(Output::Transmit {
            to: peer,
            bytes: Datagram::default(),
        });
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_output(&mut self) -> Option<Output<IdentifyEvent>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ask_and_answer() {
        let now = Instant::ZERO;
        let mut a = Identify::new(NodeId(1), vec!["/ipfs/ping/1.0.0".into()], "p2psim");
        let mut b = Identify::new(
            NodeId(2),
            vec!["/meshsub/1.1.0".into(), "/ipfs/kad/1.0.0".into()],
            "p2psim",
        );
        a.handle_command(now, IdentifyCommand::Ask(NodeId(2)));
        let Some(Output::Transmit {
            to: NodeId(2),
            bytes,
        }) = a.poll_output()
        else {
            panic!()
        };
        b.handle_datagram(now, NodeId(1), &bytes);
        let Some(Output::Transmit {
            to: NodeId(1),
            bytes,
        }) = b.poll_output()
        else {
            panic!()
        };
        a.handle_datagram(now, NodeId(2), &bytes);
        let Some(Output::Event(IdentifyEvent::Identified { peer, protocols })) = a.poll_output()
        else {
            panic!()
        };
        assert_eq!((peer, protocols.len()), (NodeId(2), 2));
        assert_eq!(a.known()[&NodeId(2)][0], "/meshsub/1.1.0");
        // the answer tells the asker where it was seen from
        let answer = IdentifyMsg::parse(&bytes).unwrap();
        assert_eq!(answer.observed_addr, Some(wire::multiaddr(NodeId(1))));
    }

    #[test]
    fn garbage_is_a_counted_drop() {
        let mut a = Identify::new(NodeId(1), vec![], "p2psim");
        a.handle_datagram(Instant::ZERO, NodeId(9), &[0xff, 0xff, 0xff]);
        assert!(matches!(
            a.poll_output(),
            Some(Output::Drop {
                cause: DropCause::Malformed,
                len: 3,
                ..
            })
        ));
        assert!(a.poll_output().is_none());
    }
}
