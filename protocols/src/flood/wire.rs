//! The flood datagram: a message id, its hop budget and a payload.
//!
//! ```text
//!  0       1       2       3       4                               12              16
//! +-------+-------+-------+-------+-------------------------------+---------------+-----------
//! | magic |version|hop lim| hops  |            id (u64)           | payload (u32) | payload …
//! +-------+-------+-------+-------+-------------------------------+---------------+-----------
//! ```
//!
//! - `magic` is [`MAGIC`] (`b'F'`), `version` is [`VERSION`];
//! - `hop lim` is how many more hops this copy may travel, counting the one
//!   it is on: the origin sends the configured hop limit, each relay sends one
//!   less, and a copy that arrives with 1 is not relayed;
//! - `hops` is how many hops the copy had travelled before the one it is on:
//!   the origin sends 0;
//! - `id` is the message's id, `(origin node id << 32) | sequence`;
//! - `payload` is the number of payload bytes after the header; the datagram
//!   is exactly `HEADER_LEN + payload` bytes long, no more and no less.
//!
//! All integers are big-endian.
//!
//! [`Packet`] is a checked view over the bytes and [`Repr`] is what they mean.
//! [`Packet::new_checked`] checks the lengths; [`Repr::parse`] checks the
//! values. Once `new_checked` succeeds, `parse` never panics, whatever the
//! bytes: it returns an [`Error`] instead.

use crate::bytes::read;

/// The first byte of every flood datagram: `F`.
pub const MAGIC: u8 = b'F';
/// The wire format version this module reads and writes.
pub const VERSION: u8 = 1;
/// The length of the fixed header, before the payload.
pub const HEADER_LEN: usize = field::PAYLOAD_LEN.end;

/// Byte offsets of the header fields.
mod field {
    use std::ops::Range;

    pub(super) const MAGIC: usize = 0;
    pub(super) const VERSION: usize = 1;
    pub(super) const HOP_LIMIT: usize = 2;
    pub(super) const HOPS: usize = 3;
    pub(super) const ID: Range<usize> = 4..12;
    pub(super) const PAYLOAD_LEN: Range<usize> = 12..16;
}

/// Why bytes are not a flood datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than the fixed header.
    #[error("flood datagram shorter than its {HEADER_LEN}-byte header")]
    Truncated,
    /// The payload length does not match the datagram's length.
    #[error("flood payload length disagrees with the datagram's length")]
    Length,
    /// The first byte is not [`MAGIC`]: another protocol's bytes.
    #[error("not a flood datagram (wrong magic byte)")]
    Magic,
    /// A version this module does not speak.
    #[error("unsupported flood version")]
    Version,
}

/// A read/write view over the bytes of a flood datagram.
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

    /// Checks that the buffer holds the header and exactly the payload the
    /// header announces.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let announced = usize::try_from(self.payload_len())
            .ok()
            .and_then(|payload| HEADER_LEN.checked_add(payload));
        if announced != Some(len) {
            return Err(Error::Length);
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The magic byte.
    pub fn magic(&self) -> u8 {
        self.buffer.as_ref()[field::MAGIC]
    }

    /// The version byte.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }

    /// How many more hops this copy may travel, counting the one it is on.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// How many hops this copy travelled before the one it is on.
    pub fn hops(&self) -> u8 {
        self.buffer.as_ref()[field::HOPS]
    }

    /// The message's id.
    pub fn id(&self) -> u64 {
        u64::from_be_bytes(read(self.buffer.as_ref(), field::ID))
    }

    /// The number of payload bytes after the header.
    pub fn payload_len(&self) -> u32 {
        u32::from_be_bytes(read(self.buffer.as_ref(), field::PAYLOAD_LEN))
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the magic byte.
    pub fn set_magic(&mut self, value: u8) {
        self.buffer.as_mut()[field::MAGIC] = value;
    }

    /// Sets the version byte.
    pub fn set_version(&mut self, value: u8) {
        self.buffer.as_mut()[field::VERSION] = value;
    }

    /// Sets the remaining hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value;
    }

    /// Sets the hops travelled.
    pub fn set_hops(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOPS] = value;
    }

    /// Sets the message's id.
    pub fn set_id(&mut self, value: u64) {
        self.buffer.as_mut()[field::ID].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the payload length (the bytes themselves are not touched).
    pub fn set_payload_len(&mut self, value: u32) {
        self.buffer.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&value.to_be_bytes());
    }

    /// The payload bytes, to be written.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// What a flood datagram says.
///
/// The payload stands for an application message of a given size; only its
/// length is represented, and [`Repr::emit`] writes zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// The message's id: `(origin node id << 32) | sequence number`.
    pub id: u64,
    /// How many more hops this copy may travel, counting the one it is on.
    pub hop_limit: u8,
    /// How many hops this copy travelled before the one it is on.
    pub hops: u8,
    /// The payload's length in bytes.
    pub payload_len: u32,
}

impl Repr {
    /// Reads a checked packet. Never panics once [`Packet::new_checked`]
    /// succeeded; the payload's content is not inspected.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        if packet.magic() != MAGIC {
            return Err(Error::Magic);
        }
        if packet.version() != VERSION {
            return Err(Error::Version);
        }
        Ok(Repr {
            id: packet.id(),
            hop_limit: packet.hop_limit(),
            hops: packet.hops(),
            payload_len: packet.payload_len(),
        })
    }

    /// The datagram's length on the wire.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }

    /// Writes the datagram into `packet`, whose buffer must be exactly
    /// [`Repr::buffer_len`] bytes long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_magic(MAGIC);
        packet.set_version(VERSION);
        packet.set_hop_limit(self.hop_limit);
        packet.set_hops(self.hops);
        packet.set_id(self.id);
        packet.set_payload_len(self.payload_len);
        packet.payload_mut().fill(0);
    }

    /// The datagram as a fresh buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0; self.buffer_len()];
        self.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        bytes
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Node 4's tenth message, on its third hop with two more allowed, with a
    /// 2-byte payload.
    static PACKET_BYTES: [u8; 18] = [
        b'F', 0x01, 0x03, 0x02, // magic, version, hop limit, hops
        0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0a, // id
        0x00, 0x00, 0x00, 0x02, // payload length
        0x00, 0x00, // payload
    ];

    fn packet_repr() -> Repr {
        Repr {
            id: (4 << 32) | 10,
            hop_limit: 3,
            hops: 2,
            payload_len: 2,
        }
    }

    #[test]
    fn test_deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.magic(), MAGIC);
        assert_eq!(packet.version(), VERSION);
        assert_eq!(packet.hop_limit(), 3);
        assert_eq!(packet.hops(), 2);
        assert_eq!(packet.id(), 0x0000_0004_0000_000a);
        assert_eq!(packet.payload_len(), 2);
        assert_eq!(packet.payload(), &[0, 0]);
        assert_eq!(Repr::parse(&packet), Ok(packet_repr()));
    }

    #[test]
    fn test_construct() {
        let repr = packet_repr();
        assert_eq!(repr.buffer_len(), PACKET_BYTES.len());
        let mut bytes = [0xa5; 18];
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(bytes, PACKET_BYTES);
        assert_eq!(repr.to_bytes(), PACKET_BYTES);
    }

    #[test]
    fn rejects_truncated_headers() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&PACKET_BYTES[..len]),
                Err(Error::Truncated),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn rejects_lengths_that_disagree_with_the_buffer() {
        assert_eq!(Packet::new_checked(&PACKET_BYTES[..17]), Err(Error::Length));
        let mut overrun = PACKET_BYTES;
        Packet::new_unchecked(&mut overrun[..]).set_payload_len(u32::MAX);
        assert_eq!(Packet::new_checked(&overrun[..]), Err(Error::Length));
        let mut trailing = PACKET_BYTES.to_vec();
        trailing.push(0);
        assert_eq!(Packet::new_checked(&trailing[..]), Err(Error::Length));
    }

    #[test]
    fn rejects_wrong_magic_and_version() {
        for (offset, value, error) in [
            (field::MAGIC, b'P', Error::Magic),
            (field::VERSION, 0, Error::Version),
        ] {
            let mut bytes = PACKET_BYTES;
            bytes[offset] = value;
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(Repr::parse(&packet), Err(error));
        }
    }

    #[test]
    fn ping_bytes_are_not_flood_bytes() {
        let ping = crate::ping::wire::Repr {
            kind: crate::ping::wire::Kind::Request,
            id: 1,
            padding: 1,
        }
        .to_bytes();
        let parsed = Packet::new_checked(&ping[..]).and_then(|p| Repr::parse(&p));
        assert!(parsed.is_err());
    }

    fn any_repr() -> impl Strategy<Value = Repr> {
        (any::<u64>(), any::<u8>(), any::<u8>(), 0u32..2048).prop_map(
            |(id, hop_limit, hops, payload_len)| Repr {
                id,
                hop_limit,
                hops,
                payload_len,
            },
        )
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = Repr::parse(&packet);
            }
        }

        #[test]
        fn any_header_with_magic_version_and_a_true_length_parses(
            mut bytes in proptest::collection::vec(any::<u8>(), HEADER_LEN..HEADER_LEN + 40),
        ) {
            let payload_len = (bytes.len() - HEADER_LEN) as u32;
            let mut packet = Packet::new_unchecked(&mut bytes[..]);
            packet.set_magic(MAGIC);
            packet.set_version(VERSION);
            packet.set_payload_len(payload_len);
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert!(Repr::parse(&packet).is_ok());
        }

        #[test]
        fn emit_then_parse_round_trips(repr in any_repr()) {
            let bytes = repr.to_bytes();
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert_eq!(Repr::parse(&packet), Ok(repr));
        }
    }
}
