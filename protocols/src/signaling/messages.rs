//! The JSON messages of the seed's signaling server, as the p2pmesh clients
//! and server write them (`{"type": "join", "peerId": "…"}` and its
//! siblings), and the peer ids they carry.
//!
//! One WebSocket text frame carries one message. Every message is an object
//! whose `type` names it; the fields follow the p2pmesh signaling server and
//! its AWS transport:
//!
//! | `type`            | direction        | fields                         |
//! |-------------------|------------------|--------------------------------|
//! | `join`            | peer → server    | `peerId`                       |
//! | `leave`           | peer → server    | `peerId`                       |
//! | `bootstrap_peers` | server → peer    | `peers: [{id, lastSeen}]`      |
//! | `peer_joined`     | server → peers   | `peerId`                       |
//! | `peer_left`       | server → peers   | `peerId`                       |
//! | `offer`, `answer` | peer ↔ peer      | `to`, `from`, `sdp`            |
//! | `candidate`       | peer ↔ peer      | `to`, `from`, `candidate: {candidate, sdpMid, sdpMLineIndex}` |
//! | `ping`, `pong`    | peer ↔ server    | `timestamp` (ms)               |
//! | `error`           | server → peer    | `message`                      |
//!
//! The server relays `offer`, `answer` and `candidate` to the peer named in
//! `to`, with `from` set to the sender's registered id.

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

/// The id a node joins with: its address as 40 lower-case hex digits, the
/// length of p2pmesh's SHA-1-sized peer ids, so that messages have their
/// real sizes and a peer can tell which node an id names.
pub fn peer_id(node: NodeId) -> String {
    format!("{:040x}", node.0)
}

/// The node a peer id names, if it is one [`peer_id`] writes.
pub fn node_of(peer_id: &str) -> Option<NodeId> {
    let bytes = peer_id.as_bytes();
    if bytes.len() != 40 || !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let (high, low) = peer_id.split_at(32);
    if high.bytes().any(|b| b != b'0') {
        return None;
    }
    u32::from_str_radix(low, 16).ok().map(NodeId)
}

/// One signaling message. See the [module docs](self) for the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Message {
    /// A peer announces itself on its connection.
    Join {
        /// The id it joins with.
        peer_id: String,
    },
    /// A peer says goodbye before it closes its connection.
    Leave {
        /// Its id.
        peer_id: String,
    },
    /// The server's answer to a join: the peers already present.
    BootstrapPeers {
        /// Every other joined peer, in id order.
        peers: Vec<BootstrapPeer>,
    },
    /// Another peer joined.
    PeerJoined {
        /// Its id.
        peer_id: String,
    },
    /// Another peer left, closed its connection or idled out.
    PeerLeft {
        /// Its id.
        peer_id: String,
    },
    /// A WebRTC offer for the peer `to`.
    Offer {
        /// The addressee's id.
        to: String,
        /// The sender's id: written by the sender, overwritten by the server
        /// with the id the sender joined with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// The session description (SDP).
        sdp: String,
    },
    /// A WebRTC answer for the peer `to`.
    Answer {
        /// The addressee's id.
        to: String,
        /// The sender's id (see [`Message::Offer`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// The session description (SDP).
        sdp: String,
    },
    /// A trickled ICE candidate for the peer `to`.
    Candidate {
        /// The addressee's id.
        to: String,
        /// The sender's id (see [`Message::Offer`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// The candidate, as `RTCIceCandidate.toJSON()` writes it.
        candidate: IceCandidate,
    },
    /// A peer's heartbeat.
    Ping {
        /// The sender's clock in milliseconds (virtual time here).
        timestamp: u64,
    },
    /// The server's answer to a heartbeat.
    Pong {
        /// The server's clock in milliseconds.
        timestamp: u64,
    },
    /// The server could not do what a message asked.
    Error {
        /// What went wrong, in the server's words.
        message: String,
    },
}

/// One entry of a bootstrap list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapPeer {
    /// The peer's id.
    pub id: String,
    /// When the server last heard from it, in milliseconds.
    pub last_seen: u64,
}

/// An ICE candidate as the browser's `RTCIceCandidate.toJSON()` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    /// The SDP `candidate:` attribute.
    pub candidate: String,
    /// The media section it belongs to.
    pub sdp_mid: String,
    /// That section's index.
    pub sdp_m_line_index: u32,
}

/// Which of the relayed WebRTC messages a signal is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignalKind {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
    /// An ICE candidate.
    Candidate,
}

/// The server's error text when a relay's addressee is not joined; a peer
/// reads the id back out of it.
pub(crate) fn not_found(peer_id: &str) -> String {
    format!("Peer {peer_id} not found.")
}

/// The peer id in a [`not_found`] error text.
pub(crate) fn parse_not_found(message: &str) -> Option<&str> {
    message.strip_prefix("Peer ")?.strip_suffix(" not found.")
}

/// The server's error text for a frame that is not a message it knows.
pub(crate) const INVALID_JSON: &str = "Invalid JSON message format.";

/// The server's error text for a relay from a connection that has not
/// joined (it has no id to put in `from`).
pub(crate) const NOT_JOINED: &str = "Join before signaling.";

/// The server's error text to a connection whose id another joined with.
pub(crate) const REPLACED: &str = "Another client joined with your ID.";

impl Message {
    /// The message as the JSON text a frame carries.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("signaling messages serialize")
    }

    /// A message from JSON text, if it is one.
    pub fn from_json(text: &[u8]) -> Option<Message> {
        serde_json::from_slice(text).ok()
    }

    /// For a relayed message: what it is and whom it is for.
    pub fn signal(&self) -> Option<(SignalKind, &str)> {
        match self {
            Message::Offer { to, .. } => Some((SignalKind::Offer, to)),
            Message::Answer { to, .. } => Some((SignalKind::Answer, to)),
            Message::Candidate { to, .. } => Some((SignalKind::Candidate, to)),
            _ => None,
        }
    }

    /// For a relayed message: the sender's id as it claims it.
    pub fn sender(&self) -> Option<&str> {
        match self {
            Message::Offer { from, .. }
            | Message::Answer { from, .. }
            | Message::Candidate { from, .. } => from.as_deref(),
            _ => None,
        }
    }

    /// A relayed message with `from` set to `sender`; other messages
    /// unchanged.
    pub fn from_sender(mut self, sender: &str) -> Message {
        if let Message::Offer { from, .. }
        | Message::Answer { from, .. }
        | Message::Candidate { from, .. } = &mut self
        {
            *from = Some(sender.to_owned());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_the_seeds_json() {
        let join = Message::Join {
            peer_id: "test-peer-123".into(),
        };
        assert_eq!(
            join.to_json(),
            br#"{"type":"join","peerId":"test-peer-123"}"#
        );
        let list = Message::BootstrapPeers {
            peers: vec![BootstrapPeer {
                id: "a".into(),
                last_seen: 5,
            }],
        };
        assert_eq!(
            list.to_json(),
            br#"{"type":"bootstrap_peers","peers":[{"id":"a","lastSeen":5}]}"#
        );
        let candidate = Message::Candidate {
            to: "b".into(),
            from: None,
            candidate: IceCandidate {
                candidate: "candidate:1".into(),
                sdp_mid: "0".into(),
                sdp_m_line_index: 0,
            },
        };
        assert_eq!(
            candidate.to_json(),
            br#"{"type":"candidate","to":"b","candidate":{"candidate":"candidate:1","sdpMid":"0","sdpMLineIndex":0}}"#
        );
        for m in [join, list, candidate] {
            assert_eq!(Message::from_json(&m.to_json()), Some(m));
        }
        // The reference client adds fields the server does not need.
        assert_eq!(
            Message::from_json(br#"{"type":"ping","timestamp":7,"extra":1}"#),
            Some(Message::Ping { timestamp: 7 })
        );
        assert_eq!(Message::from_json(br#"{"type":"dance"}"#), None);
        assert_eq!(Message::from_json(br#"{"type":"join"}"#), None);
    }

    #[test]
    fn peer_ids_name_their_node() {
        assert_eq!(peer_id(NodeId(7)), format!("{}7", "0".repeat(39)));
        for n in [0, 1, 4096, u32::MAX] {
            assert_eq!(node_of(&peer_id(NodeId(n))), Some(NodeId(n)));
        }
        assert_eq!(node_of("test-peer-123"), None);
        assert_eq!(node_of(&format!("1{}", "0".repeat(39))), None);
        assert_eq!(node_of(&"A".repeat(40)), None);
        let text = not_found(&peer_id(NodeId(3)));
        assert_eq!(parse_not_found(&text).and_then(node_of), Some(NodeId(3)));
    }
}
