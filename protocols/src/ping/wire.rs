//! The ping datagram: a request or a response, an id, and zero padding.
//!
//! ```text
//!  0       1       2       3                               11              15
//! +-------+-------+-------+-------------------------------+---------------+------------
//! | magic |version| kind  |            id (u64)           | padding (u32) | padding …
//! +-------+-------+-------+-------------------------------+---------------+------------
//! ```
//!
//! - `magic` is [`MAGIC`] (`b'P'`), `version` is [`VERSION`];
//! - `kind` is 0 for a request and 1 for a response;
//! - `id` names the round trip; the response echoes the request's;
//! - `padding` is the number of zero bytes after the header; the datagram is
//!   exactly `HEADER_LEN + padding` bytes long, no more and no less.
//!
//! All integers are big-endian.
//!
//! [`Packet`] is a checked view over the bytes and [`Repr`] is what they mean.
//! [`Packet::new_checked`] checks the lengths; [`Repr::parse`] checks the
//! values. Once `new_checked` succeeds, `parse` never panics, whatever the
//! bytes: it returns an [`Error`] instead.

use crate::bytes::read;

/// The first byte of every ping datagram: `P`.
pub const MAGIC: u8 = b'P';
/// The wire format version this module reads and writes.
pub const VERSION: u8 = 1;
/// The length of the fixed header, before the padding.
pub const HEADER_LEN: usize = field::PADDING_LEN.end;

/// Byte offsets of the header fields.
mod field {
    use std::ops::Range;

    pub(super) const MAGIC: usize = 0;
    pub(super) const VERSION: usize = 1;
    pub(super) const KIND: usize = 2;
    pub(super) const ID: Range<usize> = 3..11;
    pub(super) const PADDING_LEN: Range<usize> = 11..15;
}

/// Why bytes are not a ping datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than the fixed header.
    #[error("ping datagram shorter than its {HEADER_LEN}-byte header")]
    Truncated,
    /// The padding length does not match the datagram's length.
    #[error("ping padding length disagrees with the datagram's length")]
    Length,
    /// The first byte is not [`MAGIC`]: another protocol's bytes.
    #[error("not a ping datagram (wrong magic byte)")]
    Magic,
    /// A version this module does not speak.
    #[error("unsupported ping version")]
    Version,
    /// A kind byte other than request (0) or response (1).
    #[error("unknown ping message kind")]
    Kind,
}

/// A read/write view over the bytes of a ping datagram.
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

    /// Checks that the buffer holds the header and exactly the padding the
    /// header announces.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let announced = usize::try_from(self.padding_len())
            .ok()
            .and_then(|padding| HEADER_LEN.checked_add(padding));
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

    /// The raw kind byte.
    pub fn kind(&self) -> u8 {
        self.buffer.as_ref()[field::KIND]
    }

    /// The round trip's id.
    pub fn id(&self) -> u64 {
        u64::from_be_bytes(read(self.buffer.as_ref(), field::ID))
    }

    /// The number of padding bytes after the header.
    pub fn padding_len(&self) -> u32 {
        u32::from_be_bytes(read(self.buffer.as_ref(), field::PADDING_LEN))
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

    /// Sets the raw kind byte.
    pub fn set_kind(&mut self, value: u8) {
        self.buffer.as_mut()[field::KIND] = value;
    }

    /// Sets the round trip's id.
    pub fn set_id(&mut self, value: u64) {
        self.buffer.as_mut()[field::ID].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the padding length (the bytes themselves are not touched).
    pub fn set_padding_len(&mut self, value: u32) {
        self.buffer.as_mut()[field::PADDING_LEN].copy_from_slice(&value.to_be_bytes());
    }

    /// The padding bytes, to be zeroed by [`Repr::emit`].
    fn padding_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// Whether a datagram asks for an echo or is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Asks the receiver to echo the id back.
    Request,
    /// The echo of a request.
    Response,
}

impl Kind {
    /// The kind's byte on the wire.
    pub const fn to_byte(self) -> u8 {
        match self {
            Kind::Request => 0,
            Kind::Response => 1,
        }
    }

    /// The kind a byte stands for, if any.
    pub const fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            0 => Some(Kind::Request),
            1 => Some(Kind::Response),
            _ => None,
        }
    }
}

/// What a ping datagram says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Request or response.
    pub kind: Kind,
    /// The round trip's id: `(origin node id << 32) | sequence number`.
    pub id: u64,
    /// Zero bytes after the header, so the datagram has the size asked for.
    pub padding: u32,
}

impl Repr {
    /// Reads a checked packet. Never panics once [`Packet::new_checked`]
    /// succeeded; the padding's content is not inspected.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        if packet.magic() != MAGIC {
            return Err(Error::Magic);
        }
        if packet.version() != VERSION {
            return Err(Error::Version);
        }
        let kind = Kind::from_byte(packet.kind()).ok_or(Error::Kind)?;
        Ok(Repr {
            kind,
            id: packet.id(),
            padding: packet.padding_len(),
        })
    }

    /// The datagram's length on the wire.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.padding as usize
    }

    /// Writes the datagram into `packet`, whose buffer must be exactly
    /// [`Repr::buffer_len`] bytes long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_magic(MAGIC);
        packet.set_version(VERSION);
        packet.set_kind(self.kind.to_byte());
        packet.set_id(self.id);
        packet.set_padding_len(self.padding);
        packet.padding_mut().fill(0);
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

    /// A response to the third ping node 2 sent, padded to 18 bytes.
    static PACKET_BYTES: [u8; 18] = [
        b'P', 0x01, 0x01, // magic, version, kind = response
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, // id
        0x00, 0x00, 0x00, 0x03, // padding length
        0x00, 0x00, 0x00, // padding
    ];

    fn packet_repr() -> Repr {
        Repr {
            kind: Kind::Response,
            id: (2 << 32) | 3,
            padding: 3,
        }
    }

    #[test]
    fn test_deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.magic(), MAGIC);
        assert_eq!(packet.version(), VERSION);
        assert_eq!(packet.kind(), 1);
        assert_eq!(packet.id(), 0x0000_0002_0000_0003);
        assert_eq!(packet.padding_len(), 3);
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
        // Padding cut short, padding overrunning the buffer, trailing bytes.
        assert_eq!(Packet::new_checked(&PACKET_BYTES[..17]), Err(Error::Length));
        let mut overrun = PACKET_BYTES;
        Packet::new_unchecked(&mut overrun[..]).set_padding_len(u32::MAX);
        assert_eq!(Packet::new_checked(&overrun[..]), Err(Error::Length));
        let mut trailing = PACKET_BYTES.to_vec();
        trailing.push(0);
        assert_eq!(Packet::new_checked(&trailing[..]), Err(Error::Length));
    }

    #[test]
    fn rejects_wrong_magic_version_and_kind() {
        for (offset, value, error) in [
            (field::MAGIC, b'F', Error::Magic),
            (field::VERSION, 2, Error::Version),
            (field::KIND, 2, Error::Kind),
        ] {
            let mut bytes = PACKET_BYTES;
            bytes[offset] = value;
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(Repr::parse(&packet), Err(error));
        }
    }

    fn any_repr() -> impl Strategy<Value = Repr> {
        (any::<bool>(), any::<u64>(), 0u32..2048).prop_map(|(response, id, padding)| Repr {
            kind: if response {
                Kind::Response
            } else {
                Kind::Request
            },
            id,
            padding,
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = Repr::parse(&packet);
            }
        }

        #[test]
        fn any_header_with_magic_version_and_a_true_length_parses_by_kind(
            mut bytes in proptest::collection::vec(any::<u8>(), HEADER_LEN..HEADER_LEN + 40),
            kind in 0u8..4,
        ) {
            let padding = (bytes.len() - HEADER_LEN) as u32;
            let mut packet = Packet::new_unchecked(&mut bytes[..]);
            packet.set_magic(MAGIC);
            packet.set_version(VERSION);
            packet.set_kind(kind);
            packet.set_padding_len(padding);
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            let parsed = Repr::parse(&packet);
            prop_assert_eq!(parsed.is_ok(), Kind::from_byte(kind).is_some());
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
