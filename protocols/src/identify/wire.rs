//! Identify's wire format: the libp2p `Identify` protobuf message.
//!
//! ```text
//! message Identify {
//!   optional bytes  publicKey       = 1;
//!   repeated bytes  listenAddrs     = 2;
//!   repeated string protocols       = 3;
//!   optional bytes  observedAddr    = 4;
//!   optional string protocolVersion = 5;
//!   optional string agentVersion    = 6;
//! }
//! ```
//!
//! In libp2p the dialer opens an identify stream and the listener writes this
//! message on it. Over datagrams, opening the stream is an empty datagram (an
//! `Identify` with no field set encodes to zero bytes), and the answer is the
//! encoded message. Decoding never panics: prost rejects malformed bytes with
//! an error.

use prost::Message;

use sim_core::NodeId;

/// The `Identify` message.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct IdentifyMsg {
    /// The peer's public key, protobuf-encoded (modelled: see [`public_key`]).
    #[prost(bytes = "vec", optional, tag = "1")]
    pub public_key: Option<Vec<u8>>,
    /// Multiaddresses the peer listens on.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub listen_addrs: Vec<Vec<u8>>,
    /// Protocol ids the peer speaks.
    #[prost(string, repeated, tag = "3")]
    pub protocols: Vec<String>,
    /// The address the peer sees the dialer at.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub observed_addr: Option<Vec<u8>>,
    /// e.g. `ipfs/0.1.0`.
    #[prost(string, optional, tag = "5")]
    pub protocol_version: Option<String>,
    /// e.g. `p2psim/0.1.0`.
    #[prost(string, optional, tag = "6")]
    pub agent_version: Option<String>,
}

impl IdentifyMsg {
    /// The message as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
    /// Parses bytes; `None` if they are not an `Identify` message.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        IdentifyMsg::decode(bytes).ok()
    }
}

/// A node's public key as libp2p encodes an Ed25519 key (a 4-byte protobuf
/// header and 32 key bytes). No cryptography happens in the simulator, so the
/// key bytes are the node id repeated: only the size is real.
pub fn public_key(node: NodeId) -> Vec<u8> {
    let mut key = vec![0x08, 0x01, 0x12, 0x20];
    key.extend(node.0.to_be_bytes().iter().cycle().take(32));
    key
}

/// The binary multiaddress `/ip4/10.a.b.c/udp/4001/quic-v1` of a node, with
/// the address derived from its id.
pub fn multiaddr(node: NodeId) -> Vec<u8> {
    let [_, a, b, c] = node.0.to_be_bytes();
    // ip4 (code 4) + 4 bytes, udp (code 273 = varint 0x91 0x02) + port, quic-v1 (code 461 = 0xcd 0x03)
    vec![0x04, 10, a, b, c, 0x91, 0x02, 0x0f, 0xa1, 0xcd, 0x03]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_request_is_an_empty_message() {
        assert!(IdentifyMsg::default().to_bytes().is_empty());
        assert_eq!(IdentifyMsg::parse(&[]), Some(IdentifyMsg::default()));
    }

    #[test]
    fn round_trip_and_known_bytes() {
        let msg = IdentifyMsg {
            protocols: vec!["/ipfs/id/1.0.0".into()],
            agent_version: Some("p2psim".into()),
            ..IdentifyMsg::default()
        };
        let bytes = msg.to_bytes();
        // field 3 (protocols), wire type 2, length 14, the string; field 6, length 6
        assert_eq!(&bytes[..2], &[0x1a, 14]);
        assert_eq!(&bytes[16..18], &[0x32, 6]);
        assert_eq!(IdentifyMsg::parse(&bytes), Some(msg));
        assert_eq!(public_key(NodeId(1)).len(), 36);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = IdentifyMsg::parse(&bytes);
        }
    }
}
