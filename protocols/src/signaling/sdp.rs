//! What the peers tell each other through the server: the session
//! descriptions (SDP) of a data-channel-only `RTCPeerConnection`, as Chrome
//! writes them, and its trickled ICE candidates.
//!
//! A description carries what the direct path needs: the ICE credentials
//! (`a=ice-ufrag`, `a=ice-pwd`), the DTLS certificate fingerprint, the DTLS
//! role (`a=setup:actpass` in the offer, `a=setup:active` in the answer, so
//! the answerer is the DTLS client, as Chrome answers) and the SCTP port. An
//! offer is 458 bytes, an answer the same.
//!
//! A peer has one host candidate, `fd00::<node>` on a random port. The
//! simulated network has no NATs, so server-reflexive and relay candidates
//! (STUN and TURN servers) would add nothing but a gathering delay; they are
//! not modelled. The candidate's address is where the direct path's
//! datagrams go: the address of a node `n` is the IPv6 unique-local address
//! whose last 32 bits are `n`.

use std::fmt::Write;
use std::net::Ipv6Addr;

use rand::RngCore;
use sim_core::NodeId;

use super::messages::IceCandidate;

/// The ICE `ice-char` alphabet.
const ICE_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The priority of a UDP IPv6 host candidate, as Chrome computes it.
const HOST_PRIORITY: u32 = 2_122_262_783;

/// One side's half of a session: what its offer or answer and its
/// candidate say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalDescription {
    session_id: u64,
    /// The ICE username fragment (4 characters).
    pub ufrag: String,
    pwd: String,
    fingerprint: [u8; 32],
    foundation: u32,
    port: u16,
}

impl LocalDescription {
    /// Fresh credentials, fingerprint and port, drawn from `rng`.
    pub fn new(rng: &mut impl RngCore) -> Self {
        let mut ice_string = |len: usize| -> String {
            (0..len)
                .map(|_| char::from(ICE_CHARS[(rng.next_u32() % 64) as usize]))
                .collect()
        };
        let ufrag = ice_string(4);
        let pwd = ice_string(24);
        let mut fingerprint = [0; 32];
        rng.fill_bytes(&mut fingerprint);
        LocalDescription {
            // Chrome's session ids are positive 63-bit numbers.
            session_id: rng.next_u64() >> 1,
            ufrag,
            pwd,
            fingerprint,
            foundation: rng.next_u32(),
            port: 49_152 + (rng.next_u32() % 16_384) as u16,
        }
    }

    /// The offer's SDP.
    pub fn offer(&self) -> String {
        self.sdp("actpass")
    }

    /// The answer's SDP.
    pub fn answer(&self) -> String {
        self.sdp("active")
    }

    fn sdp(&self, setup: &str) -> String {
        let mut fingerprint = String::with_capacity(95);
        for (i, byte) in self.fingerprint.iter().enumerate() {
            let sep = if i == 0 { "" } else { ":" };
            // Writing to a String cannot fail.
            let _ = write!(fingerprint, "{sep}{byte:02X}");
        }
        format!(
            "v=0\r\n\
             o=- {} 2 IN IP4 127.0.0.1\r\n\
             s=-\r\n\
             t=0 0\r\n\
             a=group:BUNDLE 0\r\n\
             a=extmap-allow-mixed\r\n\
             a=msid-semantic: WMS\r\n\
             m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
             c=IN IP4 0.0.0.0\r\n\
             a=ice-ufrag:{}\r\n\
             a=ice-pwd:{}\r\n\
             a=ice-options:trickle\r\n\
             a=fingerprint:sha-256 {fingerprint}\r\n\
             a=setup:{setup}\r\n\
             a=mid:0\r\n\
             a=sctp-port:5000\r\n\
             a=max-message-size:262144\r\n",
            self.session_id, self.ufrag, self.pwd
        )
    }

    /// This side's host candidate on node `node`.
    pub fn candidate(&self, node: NodeId) -> IceCandidate {
        IceCandidate {
            candidate: format!(
                "candidate:{} 1 udp {HOST_PRIORITY} {} {} typ host generation 0 ufrag {} network-id 1",
                self.foundation,
                address_of(node),
                self.port,
                self.ufrag
            ),
            sdp_mid: "0".into(),
            sdp_m_line_index: 0,
        }
    }
}

/// The ICE username fragment a description announces, if it is one.
pub fn ice_ufrag(sdp: &str) -> Option<&str> {
    if !sdp.starts_with("v=0\r\n") {
        return None;
    }
    sdp.split("\r\n")
        .find_map(|line| line.strip_prefix("a=ice-ufrag:"))
        .filter(|ufrag| (4..=256).contains(&ufrag.len()))
}

/// The node a UDP candidate's address names, and its port.
pub fn candidate_address(candidate: &IceCandidate) -> Option<(NodeId, u16)> {
    let fields: Vec<&str> = candidate.candidate.split_whitespace().collect();
    match fields.as_slice() {
        [foundation, _component, "udp", _priority, address, port, "typ", ..]
            if foundation.starts_with("candidate:") =>
        {
            Some((node_at(address.parse().ok()?)?, port.parse().ok()?))
        }
        _ => None,
    }
}

/// The address of node `node`: `fd00::` with the node index in the last 32
/// bits.
pub fn address_of(node: NodeId) -> Ipv6Addr {
    Ipv6Addr::from(0xfd00_u128 << 112 | u128::from(node.0))
}

/// The node at `address`, if it is one [`address_of`] gives.
pub fn node_at(address: Ipv6Addr) -> Option<NodeId> {
    let bits = u128::from(address);
    (bits >> 32 == 0xfd00_u128 << 80).then_some(NodeId(bits as u32))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use sim_core::SimRng;

    use super::*;

    #[test]
    fn descriptions_carry_their_credentials() {
        let local = LocalDescription::new(&mut SimRng::seed_from_u64(1));
        let offer = local.offer();
        assert_eq!(ice_ufrag(&offer), Some(local.ufrag.as_str()));
        assert!(offer.contains("a=setup:actpass\r\n"));
        assert!(local.answer().contains("a=setup:active\r\n"));
        assert_eq!(offer.len(), 458);
        assert_eq!(ice_ufrag("a=ice-ufrag:abcd\r\n"), None);
    }

    #[test]
    fn candidates_name_their_node() {
        let local = LocalDescription::new(&mut SimRng::seed_from_u64(2));
        for n in [0, 5, 70_000, u32::MAX] {
            let candidate = local.candidate(NodeId(n));
            assert_eq!(candidate_address(&candidate), Some((NodeId(n), local.port)));
        }
        assert_eq!(address_of(NodeId(0x0001_0002)).to_string(), "fd00::1:2");
        assert_eq!(node_at("fd01::1".parse().unwrap()), None);
        let mut bad = local.candidate(NodeId(1));
        bad.candidate = bad.candidate.replace("udp", "tcp");
        assert_eq!(candidate_address(&bad), None);
    }
}
