//! The application message a [`MessageType::Message`] packet carries (whole,
//! or in fragments), and the payload of a [`MessageType::DeliveryAck`].
//!
//! ```text
//!  0                               8       9
//! +-------------------------------+-------+------------
//! |        message id (u64)       |  TTL  | content …
//! +-------------------------------+-------+------------
//! ```
//!
//! - `message id` is `(origin node << 32) | sequence`, unique in a run;
//! - `TTL` is the TTL the origin gave the message, so that a receiver can
//!   tell how many hops its copy travelled;
//! - `content` is the application's bytes: here `size` bytes of a
//!   deterministic pattern derived from the id ([`content_byte`]), so that
//!   a message reassembled in the wrong order is told apart.
//!
//! BitChat's message payload (`BitchatMessage`) carries a 36-character
//! UUID, the sender's nickname, a timestamp and the text; this model keeps
//! what the simulation needs, an id and the size.
//!
//! An acknowledgement's payload is the 8-byte [`Repr::key`](super::packet::Repr::key)
//! of the packet it acknowledges.
//!
//! All integers are big-endian.
//!
//! [`MessageType::Message`]: super::packet::MessageType::Message
//! [`MessageType::DeliveryAck`]: super::packet::MessageType::DeliveryAck

use crate::bytes::read;

/// The length of the message header, before the content.
pub const HEADER_LEN: usize = 9;
/// The length of an acknowledgement's payload.
pub const ACK_LEN: usize = 8;

/// What a message's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The message's id.
    pub id: u64,
    /// The TTL the origin gave it.
    pub origin_ttl: u8,
}

impl Header {
    /// Reads the header at the start of `payload`; `None` if it is shorter
    /// than [`HEADER_LEN`].
    pub fn parse(payload: &[u8]) -> Option<Self> {
        (payload.len() >= HEADER_LEN).then(|| Header {
            id: u64::from_be_bytes(read(payload, 0..8)),
            origin_ttl: payload[8],
        })
    }

    /// The message payload: this header, then `size` bytes of content.
    pub fn with_content(&self, size: usize) -> Vec<u8> {
        let mut payload = Vec::with_capacity(HEADER_LEN + size);
        payload.extend_from_slice(&self.id.to_be_bytes());
        payload.push(self.origin_ttl);
        payload.extend((0..size).map(|i| content_byte(self.id, i)));
        payload
    }

    /// The message payload: this header, then `content` as given (what
    /// [`BleMesh::send_bytes`](super::BleMesh::send_bytes) carries).
    pub fn with_bytes(&self, content: &[u8]) -> Vec<u8> {
        let mut payload = Vec::with_capacity(HEADER_LEN + content.len());
        payload.extend_from_slice(&self.id.to_be_bytes());
        payload.push(self.origin_ttl);
        payload.extend_from_slice(content);
        payload
    }
}

/// Byte `i` of message `id`'s content: the top byte of a multiplicative
/// hash of both, so that neighbouring bytes and messages differ.
pub fn content_byte(id: u64, i: usize) -> u8 {
    ((i as u64 ^ id).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// Reads an acknowledgement's payload: the key of the packet acknowledged.
pub fn parse_ack(payload: &[u8]) -> Option<u64> {
    (payload.len() == ACK_LEN).then(|| u64::from_be_bytes(read(payload, 0..ACK_LEN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips_and_short_payloads_are_refused() {
        let header = Header {
            id: (5 << 32) | 9,
            origin_ttl: 7,
        };
        let payload = header.with_content(20);
        assert_eq!(payload.len(), HEADER_LEN + 20);
        assert_eq!(Header::parse(&payload), Some(header));
        assert_eq!(Header::parse(&payload[..HEADER_LEN - 1]), None);
        let other = Header {
            id: header.id + 1,
            ..header
        };
        assert_ne!(payload[HEADER_LEN..], other.with_content(20)[HEADER_LEN..]);
    }

    #[test]
    fn an_ack_is_exactly_a_key() {
        assert_eq!(parse_ack(&42u64.to_be_bytes()), Some(42));
        assert_eq!(parse_ack(&[0; 7]), None);
        assert_eq!(parse_ack(&[0; 9]), None);
    }
}
