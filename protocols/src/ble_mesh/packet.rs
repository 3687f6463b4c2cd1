//! The BitChat packet (BitChat's `BinaryProtocol`, version 1).
//!
//! ```text
//!  0       1       2       3                               11      12      14
//! +-------+-------+-------+-------------------------------+-------+-------+
//! |version| type  |  TTL  |      timestamp (u64, ms)      | flags |pay len|
//! +-------+-------+-------+-------------------------------+-------+-------+
//! |   sender id (8 B)   | recipient id (8 B, flag 0x01) | payload … | signature (64 B, flag 0x02)
//! +---------------------+-------------------------------+-----------+-----------------------------
//! ```
//!
//! - `version` is [`VERSION`]; `type` is a [`MessageType`];
//! - `TTL` is how many more hops this copy may travel, counting the one it
//!   is on; relays lower it and nothing else, so that every copy of a
//!   packet has the same [`Repr::key`];
//! - `timestamp` is the origin's clock when it made the packet, in
//!   milliseconds (here: virtual time);
//! - `flags`: [`flags::HAS_RECIPIENT`], [`flags::HAS_SIGNATURE`],
//!   [`flags::IS_COMPRESSED`]; other bits are an error;
//! - `pay len` is the payload's length; the datagram is exactly as long as
//!   the header, the ids, the payload and the signature the flags announce;
//! - a sender or recipient id is a [`PeerId`].
//!
//! All integers are big-endian, as BitChat writes them. The fixed header is
//! [`HEADER_LEN`] = 14 bytes; with the sender id, a broadcast packet has
//! [`BROADCAST_OVERHEAD`] = 22 bytes of overhead and a directed one 30.
//!
//! [`Packet`] is a checked view over the bytes and [`Repr`] is what they
//! mean. [`Packet::new_checked`] checks the lengths; [`Repr::parse`] checks
//! the values. Once `new_checked` succeeds, `parse` never panics, whatever
//! the bytes: it returns an [`Error`] instead.

use sim_core::NodeId;

use crate::bytes::read;

/// The version byte of the packets this module reads and writes.
pub const VERSION: u8 = 1;
/// The length of the fixed header, before the sender id.
pub const HEADER_LEN: usize = field::PAYLOAD_LEN.end;
/// The length of a sender or recipient id.
pub const ID_LEN: usize = 8;
/// The length of a signature.
pub const SIGNATURE_LEN: usize = 64;
/// Header and sender id: the bytes a broadcast packet adds to its payload.
pub const BROADCAST_OVERHEAD: usize = HEADER_LEN + ID_LEN;
/// Header, sender and recipient ids: a directed packet's overhead.
pub const DIRECTED_OVERHEAD: usize = BROADCAST_OVERHEAD + ID_LEN;

/// The bits of the flags byte.
pub mod flags {
    /// A recipient id follows the sender id.
    pub const HAS_RECIPIENT: u8 = 0x01;
    /// A 64-byte signature follows the payload.
    pub const HAS_SIGNATURE: u8 = 0x02;
    /// The payload is compressed.
    pub const IS_COMPRESSED: u8 = 0x04;
    /// Every bit this version defines.
    pub const ALL: u8 = HAS_RECIPIENT | HAS_SIGNATURE | IS_COMPRESSED;
}

/// Byte offsets of the fixed header's fields.
mod field {
    use std::ops::Range;

    pub(super) const VERSION: usize = 0;
    pub(super) const TYPE: usize = 1;
    pub(super) const TTL: usize = 2;
    pub(super) const TIMESTAMP: Range<usize> = 3..11;
    pub(super) const FLAGS: usize = 11;
    pub(super) const PAYLOAD_LEN: Range<usize> = 12..14;
    pub(super) const SENDER: Range<usize> = 14..22;
    pub(super) const RECIPIENT: Range<usize> = 22..30;
}

/// What a packet is, BitChat's message type codes (the ones this model
/// speaks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// "I am here": neighbour discovery, sent to every radio in range.
    Announce = 0x01,
    /// An application message, public or (with a recipient) private.
    Message = 0x04,
    /// The first fragment of a fragmented packet.
    FragmentStart = 0x05,
    /// A fragment between the first and the last.
    FragmentContinue = 0x06,
    /// The last fragment.
    FragmentEnd = 0x07,
    /// The next hop acknowledges a unicast packet.
    DeliveryAck = 0x0A,
}

impl MessageType {
    /// The type with code `code`, if this model speaks it.
    pub fn from_u8(code: u8) -> Option<Self> {
        Some(match code {
            0x01 => MessageType::Announce,
            0x04 => MessageType::Message,
            0x05 => MessageType::FragmentStart,
            0x06 => MessageType::FragmentContinue,
            0x07 => MessageType::FragmentEnd,
            0x0A => MessageType::DeliveryAck,
            _ => return None,
        })
    }

    /// Whether this is one of the three fragment types.
    pub fn is_fragment(self) -> bool {
        matches!(
            self,
            MessageType::FragmentStart | MessageType::FragmentContinue | MessageType::FragmentEnd
        )
    }
}

/// A node's 8-byte id on the wire.
///
/// BitChat derives it from the fingerprint of the device's Noise static
/// key; this model has no keys, so it is the node's index, zero-extended:
/// deterministic, invertible, and readable in a hex dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

impl PeerId {
    /// The id of `node`.
    pub const fn of(node: NodeId) -> Self {
        PeerId(node.0 as u64)
    }

    /// The node whose id this is, if it is one ([`NodeId::BROADCAST`] is
    /// not a node).
    pub fn node(self) -> Option<NodeId> {
        u32::try_from(self.0)
            .ok()
            .filter(|&n| n != NodeId::BROADCAST.0)
            .map(NodeId)
    }
}

/// Why bytes are not a BitChat packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than the fixed header and sender id.
    #[error("BitChat packet shorter than its {BROADCAST_OVERHEAD}-byte header")]
    Truncated,
    /// The lengths the header announces do not add up to the datagram's.
    #[error("BitChat packet lengths disagree with the datagram's length")]
    Length,
    /// A version this module does not speak.
    #[error("unsupported BitChat packet version")]
    Version,
    /// A message type this model does not speak.
    #[error("unknown BitChat message type")]
    Type,
    /// A flag bit this version does not define.
    #[error("unknown BitChat flag bits")]
    Flags,
}

/// A read/write view over the bytes of a BitChat packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking it; the getters may then panic on a
    /// short buffer. Use [`Packet::new_checked`] for untrusted bytes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps `buffer` and checks its lengths with [`Packet::check_len`], so
    /// that no getter can panic.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the fixed header and sender id, then
    /// exactly the recipient id, payload and signature the header announces.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < BROADCAST_OVERHEAD {
            return Err(Error::Truncated);
        }
        if self.total_len() != len {
            return Err(Error::Length);
        }
        Ok(())
    }

    /// The length the header announces: header, ids, payload and signature.
    fn total_len(&self) -> usize {
        let flags = self.flags();
        let mut len = self.payload_offset() + usize::from(self.payload_len());
        if flags & flags::HAS_SIGNATURE != 0 {
            len += SIGNATURE_LEN;
        }
        len
    }

    /// Where the payload starts.
    fn payload_offset(&self) -> usize {
        if self.flags() & flags::HAS_RECIPIENT != 0 {
            DIRECTED_OVERHEAD
        } else {
            BROADCAST_OVERHEAD
        }
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version byte.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }

    /// The message type code.
    pub fn kind(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// How many more hops this copy may travel, counting the one it is on.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The origin's timestamp, in milliseconds.
    pub fn timestamp(&self) -> u64 {
        u64::from_be_bytes(read(self.buffer.as_ref(), field::TIMESTAMP))
    }

    /// The flags byte.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The payload's length.
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes(read(self.buffer.as_ref(), field::PAYLOAD_LEN))
    }

    /// The sender's id.
    pub fn sender(&self) -> PeerId {
        PeerId(u64::from_be_bytes(read(
            self.buffer.as_ref(),
            field::SENDER,
        )))
    }

    /// The recipient's id, if the packet has one.
    pub fn recipient(&self) -> Option<PeerId> {
        (self.flags() & flags::HAS_RECIPIENT != 0).then(|| {
            PeerId(u64::from_be_bytes(read(
                self.buffer.as_ref(),
                field::RECIPIENT,
            )))
        })
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload bytes.
    pub fn payload(&self) -> &'a [u8] {
        let start = self.payload_offset();
        &self.buffer[start..start + usize::from(self.payload_len())]
    }

    /// The signature, if the packet has one.
    pub fn signature(&self) -> Option<&'a [u8; SIGNATURE_LEN]> {
        let start = self.payload_offset() + usize::from(self.payload_len());
        (self.flags() & flags::HAS_SIGNATURE != 0)
            .then(|| self.buffer[start..].try_into().ok())
            .flatten()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the TTL: the one field a relay changes.
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }
}

/// What a BitChat packet says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The message type.
    pub kind: MessageType,
    /// How many more hops this copy may travel, counting the one it is on.
    pub ttl: u8,
    /// The origin's timestamp, in milliseconds.
    pub timestamp: u64,
    /// The origin of the packet.
    pub sender: PeerId,
    /// The one node the packet is for; `None` for everyone.
    pub recipient: Option<PeerId>,
    /// The payload (at most 65,535 bytes).
    pub payload: &'a [u8],
    /// The sender's signature, if any.
    pub signature: Option<&'a [u8; SIGNATURE_LEN]>,
    /// Whether the payload is compressed.
    pub compressed: bool,
}

impl<'a> Repr<'a> {
    /// Reads a checked packet. Never panics once [`Packet::new_checked`]
    /// succeeded.
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Self, Error> {
        if packet.version() != VERSION {
            return Err(Error::Version);
        }
        let kind = MessageType::from_u8(packet.kind()).ok_or(Error::Type)?;
        if packet.flags() & !flags::ALL != 0 {
            return Err(Error::Flags);
        }
        Ok(Repr {
            kind,
            ttl: packet.ttl(),
            timestamp: packet.timestamp(),
            sender: packet.sender(),
            recipient: packet.recipient(),
            payload: packet.payload(),
            signature: packet.signature(),
            compressed: packet.flags() & flags::IS_COMPRESSED != 0,
        })
    }

    /// Checks the bytes and reads them: [`Packet::new_checked`], then
    /// [`Repr::parse`].
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    /// The flags byte this packet is written with.
    fn flags(&self) -> u8 {
        let mut bits = 0;
        if self.recipient.is_some() {
            bits |= flags::HAS_RECIPIENT;
        }
        if self.signature.is_some() {
            bits |= flags::HAS_SIGNATURE;
        }
        if self.compressed {
            bits |= flags::IS_COMPRESSED;
        }
        bits
    }

    /// The packet's length on the wire.
    pub fn buffer_len(&self) -> usize {
        let ids = if self.recipient.is_some() {
            DIRECTED_OVERHEAD
        } else {
            BROADCAST_OVERHEAD
        };
        ids + self.payload.len() + self.signature.map_or(0, |s| s.len())
    }

    /// The packet as a fresh buffer.
    ///
    /// # Panics
    ///
    /// If the payload is longer than 65,535 bytes, which the length field
    /// cannot say.
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload_len = u16::try_from(self.payload.len()).expect("payload fits a u16 length");
        let mut bytes = Vec::with_capacity(self.buffer_len());
        bytes.extend_from_slice(&[VERSION, self.kind as u8, self.ttl]);
        bytes.extend_from_slice(&self.timestamp.to_be_bytes());
        bytes.push(self.flags());
        bytes.extend_from_slice(&payload_len.to_be_bytes());
        bytes.extend_from_slice(&self.sender.0.to_be_bytes());
        if let Some(recipient) = self.recipient {
            bytes.extend_from_slice(&recipient.0.to_be_bytes());
        }
        bytes.extend_from_slice(self.payload);
        if let Some(signature) = self.signature {
            bytes.extend_from_slice(signature);
        }
        bytes
    }

    /// The packet's identity for duplicate suppression: a digest of its
    /// sender, timestamp, type and payload, the fields BitChat keys its
    /// deduplicator on. Every copy of a packet has the same key, whatever
    /// its TTL.
    ///
    /// The digest is 64-bit FNV-1a, chosen for being deterministic on every
    /// machine and cheap on a BLE-sized payload; it is not collision
    /// resistant against an adversary, which the model has none of.
    pub fn key(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let head = self.sender.0.to_be_bytes().into_iter();
        let head = head
            .chain(self.timestamp.to_be_bytes())
            .chain([self.kind as u8]);
        head.chain(self.payload.iter().copied())
            .fold(OFFSET, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(PRIME)
            })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A directed message from node 3 to node 9 at t = 1 s, TTL 6, with a
    /// 2-byte payload.
    static PACKET_BYTES: [u8; 32] = [
        0x01, 0x04, 0x06, // version, type, TTL
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, // timestamp
        0x01, // flags: has recipient
        0x00, 0x02, // payload length
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, // recipient
        0xab, 0xcd, // payload
    ];

    fn packet_repr() -> Repr<'static> {
        Repr {
            kind: MessageType::Message,
            ttl: 6,
            timestamp: 1000,
            sender: PeerId(3),
            recipient: Some(PeerId(9)),
            payload: &PACKET_BYTES[30..],
            signature: None,
            compressed: false,
        }
    }

    #[test]
    fn test_deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.version(), VERSION);
        assert_eq!(packet.kind(), 0x04);
        assert_eq!(packet.ttl(), 6);
        assert_eq!(packet.timestamp(), 1000);
        assert_eq!(packet.flags(), flags::HAS_RECIPIENT);
        assert_eq!(packet.payload_len(), 2);
        assert_eq!(packet.sender(), PeerId(3));
        assert_eq!(packet.recipient(), Some(PeerId(9)));
        assert_eq!(packet.payload(), &[0xab, 0xcd]);
        assert_eq!(packet.signature(), None);
        assert_eq!(Repr::parse(&packet), Ok(packet_repr()));
    }

    #[test]
    fn test_construct() {
        let repr = packet_repr();
        assert_eq!(repr.buffer_len(), PACKET_BYTES.len());
        assert_eq!(repr.to_bytes(), PACKET_BYTES);
    }

    #[test]
    fn a_relay_changes_only_the_ttl() {
        let mut bytes = PACKET_BYTES;
        Packet::new_unchecked(&mut bytes[..]).set_ttl(2);
        let relayed = Repr::from_bytes(&bytes).unwrap();
        assert_eq!(
            relayed,
            Repr {
                ttl: 2,
                ..packet_repr()
            }
        );
        assert_eq!(relayed.key(), packet_repr().key());
    }

    #[test]
    fn the_key_covers_sender_timestamp_type_and_payload() {
        let repr = packet_repr();
        let payload = [0xab, 0xce];
        let others = [
            Repr {
                sender: PeerId(4),
                ..repr
            },
            Repr {
                timestamp: 1001,
                ..repr
            },
            Repr {
                kind: MessageType::FragmentStart,
                ..repr
            },
            Repr {
                payload: &payload,
                ..repr
            },
        ];
        for other in others {
            assert_ne!(other.key(), repr.key(), "{other:?}");
        }
    }

    #[test]
    fn rejects_truncated_headers() {
        for len in 0..BROADCAST_OVERHEAD {
            assert_eq!(
                Packet::new_checked(&PACKET_BYTES[..len]),
                Err(Error::Truncated),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn rejects_lengths_that_disagree_with_the_buffer() {
        assert_eq!(Packet::new_checked(&PACKET_BYTES[..31]), Err(Error::Length));
        let mut trailing = PACKET_BYTES.to_vec();
        trailing.push(0);
        assert_eq!(Packet::new_checked(&trailing[..]), Err(Error::Length));
        let mut signed = PACKET_BYTES;
        signed[field::FLAGS] |= flags::HAS_SIGNATURE;
        assert_eq!(Packet::new_checked(&signed[..]), Err(Error::Length));
        let mut overrun = PACKET_BYTES;
        overrun[field::PAYLOAD_LEN].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(Packet::new_checked(&overrun[..]), Err(Error::Length));
    }

    #[test]
    fn rejects_unknown_versions_types_and_flags() {
        for (offset, value, error) in [
            (field::VERSION, 2, Error::Version),
            (field::TYPE, 0x02, Error::Type),
            (field::FLAGS, flags::HAS_RECIPIENT | 0x08, Error::Flags),
        ] {
            let mut bytes = PACKET_BYTES;
            bytes[offset] = value;
            assert_eq!(Repr::from_bytes(&bytes), Err(error));
        }
    }

    #[test]
    fn peer_ids_map_back_to_nodes() {
        assert_eq!(PeerId::of(NodeId(7)), PeerId(7));
        assert_eq!(PeerId(7).node(), Some(NodeId(7)));
        assert_eq!(PeerId::of(NodeId::BROADCAST).node(), None);
        assert_eq!(PeerId(u64::MAX).node(), None);
    }

    fn any_kind() -> impl Strategy<Value = MessageType> {
        proptest::sample::select(vec![
            MessageType::Announce,
            MessageType::Message,
            MessageType::FragmentStart,
            MessageType::FragmentContinue,
            MessageType::FragmentEnd,
            MessageType::DeliveryAck,
        ])
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
            if let Ok(repr) = Repr::from_bytes(&bytes) {
                prop_assert_eq!(repr.to_bytes(), bytes);
            }
        }

        #[test]
        fn any_header_with_true_lengths_parses(
            mut bytes in proptest::collection::vec(any::<u8>(), DIRECTED_OVERHEAD + SIGNATURE_LEN..200),
            kind in any_kind(),
            flag_bits in 0..=flags::ALL,
        ) {
            bytes[field::VERSION] = VERSION;
            bytes[field::TYPE] = kind as u8;
            bytes[field::FLAGS] = flag_bits;
            let has = |flag| flag_bits & flag != 0;
            let ids = if has(flags::HAS_RECIPIENT) { DIRECTED_OVERHEAD } else { BROADCAST_OVERHEAD };
            let signature = if has(flags::HAS_SIGNATURE) { SIGNATURE_LEN } else { 0 };
            let payload_len = (bytes.len() - ids - signature) as u16;
            bytes[field::PAYLOAD_LEN].copy_from_slice(&payload_len.to_be_bytes());
            let repr = Repr::from_bytes(&bytes);
            prop_assert!(repr.is_ok(), "{:?}", repr);
            let repr = repr.unwrap();
            prop_assert_eq!(repr.recipient.is_some(), has(flags::HAS_RECIPIENT));
            prop_assert_eq!(repr.signature.is_some(), has(flags::HAS_SIGNATURE));
            prop_assert_eq!(repr.to_bytes(), bytes);
        }

        #[test]
        fn emit_then_parse_round_trips(
            kind in any_kind(),
            ttl in any::<u8>(),
            timestamp in any::<u64>(),
            sender in any::<u64>(),
            recipient in proptest::option::of(any::<u64>()),
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            signature in proptest::option::of(proptest::collection::vec(any::<u8>(), SIGNATURE_LEN)),
            compressed in any::<bool>(),
        ) {
            let signature: Option<[u8; SIGNATURE_LEN]> =
                signature.map(|s| s.try_into().expect("64 bytes"));
            let repr = Repr {
                kind,
                ttl,
                timestamp,
                sender: PeerId(sender),
                recipient: recipient.map(PeerId),
                payload: &payload,
                signature: signature.as_ref(),
                compressed,
            };
            let bytes = repr.to_bytes();
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            prop_assert_eq!(Repr::from_bytes(&bytes), Ok(repr));
        }
    }
}
