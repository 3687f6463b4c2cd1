//! The HTX frame, as the seed draws it, with the widths it leaves open
//! chosen here.
//!
//! ```text
//!  0       1       2                       5       6               10                              18
//! +-------+-------+-----------------------+-------+---------------+-------------------------------+-----------+-------+
//! | magic |ver|flg|    length (u24)       | type  | sequence (u32)|     timestamp (u64, ns)       | payload … | CRC32 |
//! +-------+-------+-----------------------+-------+---------------+-------------------------------+-----------+-------+
//! ```
//!
//! - `magic` is [`MAGIC`] (`0x48`, `H`), in the crate's one-byte-magic
//!   family (ping `P`, flood `F`);
//! - `ver|flg`: the high nibble is the version ([`VERSION`] = 1), the low
//!   nibble the [`Flags`]: `0x1` compressed (the data is LZ4, see
//!   [`compress`](super::compress)), `0x2` end (the last fragment of an
//!   application message), `0x4` modelled (the sender's crypto is modelled,
//!   see [`Encryption`](super::Encryption)); `0x8` is reserved and must be
//!   zero, and compressed and end appear only on data frames;
//! - `length` is the payload's length in bytes, 24 bits: the seed's single
//!   byte cannot describe its own 65,536-byte `max_frame_size`, and 24 bits
//!   is the width Betanet's HTX uses;
//! - `type` is a [`Kind`];
//! - `sequence`: on a data frame, its number in the sender's data stream
//!   (0, 1, 2 … per connection and direction; a retransmission repeats it);
//!   on the other sealed frames, a second per-direction counter, so that no
//!   two sealed frames share a nonce (see [`crypto`](super::crypto)); 0 on
//!   the hellos;
//! - `timestamp` is the sender's clock when the frame was first sent, in
//!   nanoseconds; a retransmission repeats the frame byte for byte;
//! - `payload` depends on the type (see [`Body`]); every type but the
//!   hellos is sealed: AES-256-GCM ciphertext followed by its 16-byte tag
//!   ([`TAG_LEN`]), with the 18 header bytes as associated data;
//! - `CRC32` is the IEEE CRC-32 of every byte before it.
//!
//! The payloads ([`Body`]), all integers big-endian:
//!
//! | type | name | payload (before sealing) |
//! |------|------|--------------------------|
//! | 1 | client hello | X25519 public key (32) · receive window (u32) |
//! | 2 | server hello | X25519 public key (32) · receive window (u32) |
//! | 3 | data | a fragment of an application message (maybe compressed) |
//! | 4 | ack | cumulative ack (u32) · credit limit (u64) · range count (u8) · ranges (start u32, end u32)… |
//! | 5 | window update | credit limit (u64) |
//! | 6 | ping | nothing |
//! | 7 | close | nothing |
//!
//! An ack's cumulative ack is the next data sequence number the receiver
//! expects; each selective-acknowledgement range `start..end` (end
//! exclusive) lists frames received beyond it, ascending, with gaps between
//! them, at most [`MAX_SACK_RANGES`]. A credit limit is absolute: the
//! sender may send data until its data frames have carried that many
//! application bytes in all.
//!
//! [`Packet`] is a checked view over the bytes and [`Repr`] is what the
//! header means; [`Body::parse`] reads an opened payload. Once
//! [`Packet::new_checked`] succeeds, nothing here panics, whatever the
//! bytes. `new_checked` verifies the CRC before it trusts the length
//! field, so that any corruption, in the length too, is reported as
//! [`Error::Crc`].

use std::ops::Range;

use sim_core::Instant;

use crate::bytes::read;

/// The first byte of every HTX frame: `H`.
pub const MAGIC: u8 = b'H';
/// The version this module reads and writes (the high nibble of byte 1).
pub const VERSION: u8 = 1;
/// The fixed header, before the payload.
pub const HEADER_LEN: usize = field::TIMESTAMP.end;
/// The CRC after the payload.
pub const TRAILER_LEN: usize = 4;
/// The AEAD tag at the end of every sealed payload.
pub const TAG_LEN: usize = 16;
/// The largest payload the 24-bit length field describes.
pub const MAX_PAYLOAD_LEN: usize = (1 << 24) - 1;
/// An X25519 public key.
pub const KEY_LEN: usize = 32;
/// A hello's payload: a public key and a receive window.
pub const HELLO_LEN: usize = KEY_LEN + 4;
/// The most selective-acknowledgement ranges one ack carries.
pub const MAX_SACK_RANGES: usize = 32;
/// An ack's payload without ranges.
const ACK_FIXED_LEN: usize = 4 + 8 + 1;

/// Byte offsets of the header fields.
mod field {
    use std::ops::Range;

    pub(super) const MAGIC: usize = 0;
    pub(super) const VERSION_FLAGS: usize = 1;
    pub(super) const LENGTH: Range<usize> = 2..5;
    pub(super) const KIND: usize = 5;
    pub(super) const SEQUENCE: Range<usize> = 6..10;
    pub(super) const TIMESTAMP: Range<usize> = 10..18;
}

/// Why bytes are not an HTX frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than a header and a CRC.
    #[error("HTX frame shorter than its header and CRC")]
    Truncated,
    /// The CRC does not match the bytes.
    #[error("HTX frame CRC mismatch")]
    Crc,
    /// The length field, or a payload's length, is not what it must be.
    #[error("HTX length disagrees with the frame")]
    Length,
    /// The first byte is not [`MAGIC`]: another protocol's bytes.
    #[error("not an HTX frame (wrong magic byte)")]
    Magic,
    /// A version this module does not speak.
    #[error("unsupported HTX version")]
    Version,
    /// A frame type this module does not know.
    #[error("unknown HTX frame type")]
    Kind,
    /// A reserved flag, or a flag the frame's type does not take.
    #[error("HTX flags not allowed on this frame")]
    Flags,
    /// Selective-acknowledgement ranges that are empty, unordered,
    /// touching, or not beyond the cumulative ack.
    #[error("HTX ack ranges out of order")]
    Sack,
}

/// A frame's type (byte 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Opens a connection: the initiator's key.
    ClientHello = 1,
    /// Answers a client hello: the responder's key.
    ServerHello = 2,
    /// A fragment of an application message.
    Data = 3,
    /// Cumulative and selective acknowledgement, with the credit limit.
    Ack = 4,
    /// More credit.
    WindowUpdate = 5,
    /// Asks for an ack; keeps a connection alive.
    Ping = 6,
    /// The connection is over.
    Close = 7,
}

impl Kind {
    /// Every sealed frame: all but the hellos.
    pub fn sealed(self) -> bool {
        !matches!(self, Kind::ClientHello | Kind::ServerHello)
    }
}

impl TryFrom<u8> for Kind {
    type Error = Error;
    fn try_from(value: u8) -> Result<Self, Error> {
        Ok(match value {
            1 => Kind::ClientHello,
            2 => Kind::ServerHello,
            3 => Kind::Data,
            4 => Kind::Ack,
            5 => Kind::WindowUpdate,
            6 => Kind::Ping,
            7 => Kind::Close,
            _ => return Err(Error::Kind),
        })
    }
}

/// The flag nibble of byte 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    /// No flag.
    pub const NONE: Flags = Flags(0);
    /// The data is LZ4-compressed.
    pub const COMPRESSED: Flags = Flags(0x1);
    /// The last fragment of an application message.
    pub const END: Flags = Flags(0x2);
    /// The sender models its crypto (a zero tag).
    pub const MODELLED: Flags = Flags(0x4);
    const RESERVED: Flags = Flags(0x8);
    const DATA_ONLY: Flags = Flags(0x3);

    /// The four bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` and, if `on`, `other`.
    pub const fn with(self, other: Flags, on: bool) -> Flags {
        if on {
            Flags(self.0 | other.0)
        } else {
            self
        }
    }

    const fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }
}

/// A read/write view over the bytes of an HTX frame.
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

    /// Wraps `buffer` and checks it with [`Packet::check`], so that no
    /// getter can panic.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check()?;
        Ok(packet)
    }

    /// Checks, in this order, that the buffer holds a header and a CRC,
    /// that the CRC matches, and that the length field describes exactly
    /// the bytes between them.
    pub fn check(&self) -> Result<(), Error> {
        let bytes = self.buffer.as_ref();
        if bytes.len() < HEADER_LEN + TRAILER_LEN {
            return Err(Error::Truncated);
        }
        if self.crc() != self.computed_crc() {
            return Err(Error::Crc);
        }
        if HEADER_LEN + self.length() + TRAILER_LEN != bytes.len() {
            return Err(Error::Length);
        }
        Ok(())
    }

    /// The magic byte.
    pub fn magic(&self) -> u8 {
        self.buffer.as_ref()[field::MAGIC]
    }

    /// The version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_FLAGS] >> 4
    }

    /// The flag nibble.
    pub fn flags(&self) -> Flags {
        Flags(self.buffer.as_ref()[field::VERSION_FLAGS] & 0x0f)
    }

    /// The payload length field.
    pub fn length(&self) -> usize {
        let [a, b, c] = read(self.buffer.as_ref(), field::LENGTH);
        u32::from_be_bytes([0, a, b, c]) as usize
    }

    /// The type byte.
    pub fn kind(&self) -> u8 {
        self.buffer.as_ref()[field::KIND]
    }

    /// The sequence number.
    pub fn sequence(&self) -> u32 {
        u32::from_be_bytes(read(self.buffer.as_ref(), field::SEQUENCE))
    }

    /// The timestamp, in nanoseconds.
    pub fn timestamp(&self) -> u64 {
        u64::from_be_bytes(read(self.buffer.as_ref(), field::TIMESTAMP))
    }

    /// The header: the associated data of a sealed payload.
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..HEADER_LEN]
    }

    /// The payload, sealed or not.
    pub fn payload(&self) -> &[u8] {
        let bytes = self.buffer.as_ref();
        &bytes[HEADER_LEN..bytes.len() - TRAILER_LEN]
    }

    /// The CRC field.
    pub fn crc(&self) -> u32 {
        let bytes = self.buffer.as_ref();
        u32::from_be_bytes(read(bytes, bytes.len() - TRAILER_LEN..bytes.len()))
    }

    /// The CRC of the bytes before the CRC field.
    pub fn computed_crc(&self) -> u32 {
        let bytes = self.buffer.as_ref();
        crc32fast::hash(&bytes[..bytes.len() - TRAILER_LEN])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the magic byte.
    pub fn set_magic(&mut self, value: u8) {
        self.buffer.as_mut()[field::MAGIC] = value;
    }

    /// Sets the version and the flags.
    pub fn set_version_flags(&mut self, version: u8, flags: Flags) {
        self.buffer.as_mut()[field::VERSION_FLAGS] = (version << 4) | flags.bits();
    }

    /// Sets the payload length field (`value` < 2²⁴).
    pub fn set_length(&mut self, value: usize) {
        let [_, a, b, c] = (value as u32).to_be_bytes();
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&[a, b, c]);
    }

    /// Sets the type byte.
    pub fn set_kind(&mut self, value: Kind) {
        self.buffer.as_mut()[field::KIND] = value as u8;
    }

    /// Sets the sequence number.
    pub fn set_sequence(&mut self, value: u32) {
        self.buffer.as_mut()[field::SEQUENCE].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, value: u64) {
        self.buffer.as_mut()[field::TIMESTAMP].copy_from_slice(&value.to_be_bytes());
    }

    /// The header, to read, and the payload, to write: how a payload is
    /// sealed in place with the header as associated data.
    pub fn header_and_payload_mut(&mut self) -> (&[u8], &mut [u8]) {
        let bytes = self.buffer.as_mut();
        let end = bytes.len() - TRAILER_LEN;
        let (header, rest) = bytes.split_at_mut(HEADER_LEN);
        (header, &mut rest[..end - HEADER_LEN])
    }

    /// Writes the CRC of everything before it; the last step of building a
    /// frame.
    pub fn fill_crc(&mut self) {
        let crc = self.computed_crc();
        let bytes = self.buffer.as_mut();
        let end = bytes.len();
        bytes[end - TRAILER_LEN..].copy_from_slice(&crc.to_be_bytes());
    }
}

/// What an HTX header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// The frame's type.
    pub kind: Kind,
    /// Its flags.
    pub flags: Flags,
    /// Its sequence number.
    pub seq: u32,
    /// When its sender first sent it.
    pub timestamp: Instant,
    /// The payload's length on the wire (a sealed payload's includes the
    /// tag), at most [`MAX_PAYLOAD_LEN`].
    pub payload_len: usize,
}

impl Repr {
    /// Reads a checked packet's header. Never panics once
    /// [`Packet::new_checked`] succeeded; the payload is not inspected
    /// beyond its length.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        if packet.magic() != MAGIC {
            return Err(Error::Magic);
        }
        if packet.version() != VERSION {
            return Err(Error::Version);
        }
        let kind = Kind::try_from(packet.kind())?;
        let flags = packet.flags();
        if flags.intersects(Flags::RESERVED)
            || (kind != Kind::Data && flags.intersects(Flags::DATA_ONLY))
        {
            return Err(Error::Flags);
        }
        if kind.sealed() && packet.length() < TAG_LEN {
            return Err(Error::Length);
        }
        Ok(Repr {
            kind,
            flags,
            seq: packet.sequence(),
            timestamp: Instant::from_nanos(packet.timestamp()),
            payload_len: packet.length(),
        })
    }

    /// The frame's length on the wire.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len + TRAILER_LEN
    }

    /// Writes the header into `packet`, whose buffer must be exactly
    /// [`Repr::buffer_len`] bytes long. The payload and then the CRC
    /// ([`Packet::fill_crc`]) are the caller's to write.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_magic(MAGIC);
        packet.set_version_flags(VERSION, self.flags);
        packet.set_length(self.payload_len);
        packet.set_kind(self.kind);
        packet.set_sequence(self.seq);
        packet.set_timestamp(self.timestamp.as_nanos());
    }
}

/// A hello's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sender's X25519 public key (random bytes when modelled).
    pub public: [u8; KEY_LEN],
    /// The sender's receive window: the peer's first credit limit.
    pub window: u32,
}

/// An ack's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The next data sequence number the receiver expects: every frame
    /// before it has arrived.
    pub cumulative: u32,
    /// The receiver's credit limit.
    pub limit: u64,
    /// Frames received beyond `cumulative`, as ascending ranges with gaps
    /// between them.
    pub sacks: Vec<Range<u32>>,
}

/// What a frame's payload says, once opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// [`Kind::ClientHello`].
    ClientHello(Hello),
    /// [`Kind::ServerHello`].
    ServerHello(Hello),
    /// [`Kind::Data`]: the fragment's bytes, as sent (compressed if the
    /// frame says so).
    Data(&'a [u8]),
    /// [`Kind::Ack`].
    Ack(Ack),
    /// [`Kind::WindowUpdate`]: the new credit limit.
    WindowUpdate(u64),
    /// [`Kind::Ping`].
    Ping,
    /// [`Kind::Close`].
    Close,
}

impl<'a> Body<'a> {
    /// Reads the opened payload of a frame of type `kind`. Never panics.
    pub fn parse(kind: Kind, bytes: &'a [u8]) -> Result<Body<'a>, Error> {
        let exactly = |len: usize| {
            if bytes.len() == len {
                Ok(())
            } else {
                Err(Error::Length)
            }
        };
        Ok(match kind {
            Kind::ClientHello => Body::ClientHello(Hello::parse(bytes)?),
            Kind::ServerHello => Body::ServerHello(Hello::parse(bytes)?),
            Kind::Data => Body::Data(bytes),
            Kind::Ack => Body::Ack(Ack::parse(bytes)?),
            Kind::WindowUpdate => {
                exactly(8)?;
                Body::WindowUpdate(u64::from_be_bytes(read(bytes, 0..8)))
            }
            Kind::Ping => {
                exactly(0)?;
                Body::Ping
            }
            Kind::Close => {
                exactly(0)?;
                Body::Close
            }
        })
    }

    /// The frame type that carries this payload.
    pub fn kind(&self) -> Kind {
        match self {
            Body::ClientHello(_) => Kind::ClientHello,
            Body::ServerHello(_) => Kind::ServerHello,
            Body::Data(_) => Kind::Data,
            Body::Ack(_) => Kind::Ack,
            Body::WindowUpdate(_) => Kind::WindowUpdate,
            Body::Ping => Kind::Ping,
            Body::Close => Kind::Close,
        }
    }

    /// The payload's length before sealing.
    pub fn buffer_len(&self) -> usize {
        match self {
            Body::ClientHello(_) | Body::ServerHello(_) => HELLO_LEN,
            Body::Data(bytes) => bytes.len(),
            Body::Ack(ack) => ACK_FIXED_LEN + 8 * ack.sacks.len(),
            Body::WindowUpdate(_) => 8,
            Body::Ping | Body::Close => 0,
        }
    }

    /// Writes the payload into `buffer`, which must be exactly
    /// [`Body::buffer_len`] bytes long; an ack must have at most
    /// [`MAX_SACK_RANGES`] ranges.
    pub fn emit(&self, buffer: &mut [u8]) {
        match self {
            Body::ClientHello(hello) | Body::ServerHello(hello) => {
                buffer[..KEY_LEN].copy_from_slice(&hello.public);
                buffer[KEY_LEN..].copy_from_slice(&hello.window.to_be_bytes());
            }
            Body::Data(bytes) => buffer.copy_from_slice(bytes),
            Body::Ack(ack) => ack.emit(buffer),
            Body::WindowUpdate(limit) => buffer.copy_from_slice(&limit.to_be_bytes()),
            Body::Ping | Body::Close => {}
        }
    }
}

impl Hello {
    /// Reads a hello's payload. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Hello, Error> {
        if bytes.len() != HELLO_LEN {
            return Err(Error::Length);
        }
        Ok(Hello {
            public: read(bytes, 0..KEY_LEN),
            window: u32::from_be_bytes(read(bytes, KEY_LEN..HELLO_LEN)),
        })
    }
}

impl Ack {
    fn parse(bytes: &[u8]) -> Result<Ack, Error> {
        if bytes.len() < ACK_FIXED_LEN {
            return Err(Error::Length);
        }
        let count = usize::from(bytes[12]);
        if count > MAX_SACK_RANGES || bytes.len() != ACK_FIXED_LEN + 8 * count {
            return Err(Error::Length);
        }
        let cumulative = u32::from_be_bytes(read(bytes, 0..4));
        let mut floor = cumulative;
        let mut sacks = Vec::with_capacity(count);
        for chunk in bytes[ACK_FIXED_LEN..].chunks_exact(8) {
            let start = u32::from_be_bytes(read(chunk, 0..4));
            let end = u32::from_be_bytes(read(chunk, 4..8));
            if start <= floor || end <= start {
                return Err(Error::Sack);
            }
            floor = end;
            sacks.push(start..end);
        }
        Ok(Ack {
            cumulative,
            limit: u64::from_be_bytes(read(bytes, 4..12)),
            sacks,
        })
    }

    fn emit(&self, buffer: &mut [u8]) {
        buffer[0..4].copy_from_slice(&self.cumulative.to_be_bytes());
        buffer[4..12].copy_from_slice(&self.limit.to_be_bytes());
        buffer[12] = self.sacks.len() as u8;
        for (range, chunk) in self
            .sacks
            .iter()
            .zip(buffer[ACK_FIXED_LEN..].chunks_exact_mut(8))
        {
            chunk[0..4].copy_from_slice(&range.start.to_be_bytes());
            chunk[4..8].copy_from_slice(&range.end.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A modelled ping: control sequence 7, sent at 1 s, a zero tag.
    static PING_BYTES: [u8; 38] = [
        0x48, 0x14, 0x00, 0x00, 0x10, 0x06, // magic, version 1 | modelled, length 16, ping
        0x00, 0x00, 0x00, 0x07, // sequence
        0x00, 0x00, 0x00, 0x00, 0x3b, 0x9a, 0xca, 0x00, // timestamp: 10⁹ ns
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tag
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x3f, 0x7b, 0x1e, 0x0c, // CRC-32
    ];

    fn ping_repr() -> Repr {
        Repr {
            kind: Kind::Ping,
            flags: Flags::MODELLED,
            seq: 7,
            timestamp: Instant::from_nanos(1_000_000_000),
            payload_len: TAG_LEN,
        }
    }

    /// Builds a whole frame with a zero tag where one is due.
    fn frame(kind: Kind, flags: Flags, seq: u32, body: &Body) -> Vec<u8> {
        let tag = if kind.sealed() { TAG_LEN } else { 0 };
        let repr = Repr {
            kind,
            flags,
            seq,
            timestamp: Instant::from_nanos(1_000_000_000),
            payload_len: body.buffer_len() + tag,
        };
        let mut bytes = vec![0xa5; repr.buffer_len()];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        repr.emit(&mut packet);
        let (_, payload) = packet.header_and_payload_mut();
        let plain = body.buffer_len();
        body.emit(&mut payload[..plain]);
        payload[plain..].fill(0);
        packet.fill_crc();
        bytes
    }

    #[test]
    fn test_deconstruct() {
        let packet = Packet::new_checked(&PING_BYTES[..]).unwrap();
        assert_eq!(packet.magic(), MAGIC);
        assert_eq!(packet.version(), VERSION);
        assert_eq!(packet.flags(), Flags::MODELLED);
        assert_eq!(packet.length(), 16);
        assert_eq!(packet.kind(), Kind::Ping as u8);
        assert_eq!(packet.sequence(), 7);
        assert_eq!(packet.timestamp(), 1_000_000_000);
        assert_eq!(packet.payload(), &[0; 16]);
        assert_eq!(packet.crc(), 0x3f7b_1e0c);
        assert_eq!(Repr::parse(&packet), Ok(ping_repr()));
        assert_eq!(Body::parse(Kind::Ping, &[]), Ok(Body::Ping));
    }

    #[test]
    fn test_construct() {
        assert_eq!(
            frame(Kind::Ping, Flags::MODELLED, 7, &Body::Ping),
            PING_BYTES
        );
        let mut bytes = [0xa5; 38];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        ping_repr().emit(&mut packet);
        packet.header_and_payload_mut().1.fill(0);
        packet.fill_crc();
        assert_eq!(bytes, PING_BYTES);
    }

    #[test]
    fn rejects_truncated_frames() {
        for len in 0..HEADER_LEN + TRAILER_LEN {
            assert_eq!(
                Packet::new_checked(&PING_BYTES[..len]),
                Err(Error::Truncated),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn every_single_bit_flip_fails_the_crc() {
        for bit in 0..PING_BYTES.len() * 8 {
            let mut bytes = PING_BYTES;
            bytes[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                Packet::new_checked(&bytes[..]),
                Err(Error::Crc),
                "bit {bit}"
            );
        }
    }

    #[test]
    fn a_length_field_that_disagrees_is_rejected_behind_a_valid_crc() {
        let mut bytes = PING_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_length(15);
        packet.fill_crc();
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Length));
    }

    #[test]
    fn rejects_wrong_magic_version_type_and_flags() {
        type Edit = fn(&mut Packet<&mut [u8]>);
        let cases: [(Edit, Error); 6] = [
            (|p| p.set_magic(b'F'), Error::Magic),
            (|p| p.set_version_flags(2, Flags::MODELLED), Error::Version),
            (|p| p.buffer[field::KIND] = 8, Error::Kind),
            (|p| p.set_version_flags(VERSION, Flags(0x8)), Error::Flags),
            (|p| p.set_version_flags(VERSION, Flags::END), Error::Flags),
            (
                |p| p.set_version_flags(VERSION, Flags::COMPRESSED),
                Error::Flags,
            ),
        ];
        for (edit, error) in cases {
            let mut bytes = PING_BYTES;
            let mut packet = Packet::new_unchecked(&mut bytes[..]);
            edit(&mut packet);
            packet.fill_crc();
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(Repr::parse(&packet), Err(error));
        }
    }

    #[test]
    fn a_sealed_frame_shorter_than_its_tag_is_rejected() {
        let bytes = frame(Kind::ClientHello, Flags::NONE, 0, &Body::Ping);
        let mut short = bytes.clone();
        Packet::new_unchecked(&mut short[..]).set_kind(Kind::Ping);
        Packet::new_unchecked(&mut short[..]).fill_crc();
        let packet = Packet::new_checked(&short[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Err(Error::Length));
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        assert_eq!(Body::parse(Kind::ClientHello, &[0; 35]), Err(Error::Length));
        assert_eq!(Body::parse(Kind::WindowUpdate, &[0; 9]), Err(Error::Length));
        assert_eq!(Body::parse(Kind::Close, &[0]), Err(Error::Length));
        assert_eq!(Body::parse(Kind::Ack, &[0; 12]), Err(Error::Length));
        let ack = |cumulative, sacks: &[(u32, u32)]| {
            let body = Body::Ack(Ack {
                cumulative,
                limit: 9,
                sacks: sacks.iter().map(|&(start, end)| start..end).collect(),
            });
            let mut bytes = vec![0; body.buffer_len()];
            body.emit(&mut bytes);
            bytes
        };
        let mut one_range_too_many = ack(0, &[(1, 2)]);
        one_range_too_many[12] = 2;
        assert_eq!(
            Body::parse(Kind::Ack, &one_range_too_many),
            Err(Error::Length)
        );
        let cases: [&[(u32, u32)]; 4] =
            [&[(5, 7)], &[(7, 7)], &[(8, 9), (9, 10)], &[(9, 10), (8, 9)]];
        for sacks in cases {
            let bytes = ack(5, sacks);
            assert_eq!(
                Body::parse(Kind::Ack, &bytes),
                Err(Error::Sack),
                "{sacks:?}"
            );
        }
    }

    fn any_body() -> impl Strategy<Value = Body<'static>> {
        let hello =
            (any::<[u8; 32]>(), any::<u32>()).prop_map(|(public, window)| Hello { public, window });
        let sacks = proptest::collection::vec((1u32..100, 1u32..100), 0..=MAX_SACK_RANGES)
            .prop_map(|steps| {
                let mut at = 0u32;
                steps
                    .into_iter()
                    .map(|(gap, len)| {
                        let start = at + gap;
                        at = start + len;
                        start..at
                    })
                    .collect::<Vec<_>>()
            });
        prop_oneof![
            hello.clone().prop_map(Body::ClientHello),
            hello.prop_map(Body::ServerHello),
            (any::<u64>(), sacks).prop_map(|(limit, sacks)| Body::Ack(Ack {
                cumulative: 0,
                limit,
                sacks
            })),
            any::<u64>().prop_map(Body::WindowUpdate),
            Just(Body::Ping),
            Just(Body::Close),
            Just(Body::Data(b"a fragment")),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = Repr::parse(&packet);
            }
        }

        #[test]
        fn arbitrary_frames_with_a_valid_crc_never_panic(
            kind in 0u8..10,
            flags in 0u8..16,
            body in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut bytes = vec![0; HEADER_LEN + body.len() + TRAILER_LEN];
            let mut packet = Packet::new_unchecked(&mut bytes[..]);
            packet.set_magic(MAGIC);
            packet.set_version_flags(VERSION, Flags(flags));
            packet.set_length(body.len());
            packet.buffer[field::KIND] = kind;
            packet.header_and_payload_mut().1.copy_from_slice(&body);
            packet.fill_crc();
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            if let Ok(repr) = Repr::parse(&packet) {
                let _ = Body::parse(repr.kind, packet.payload());
            }
            for kind in 1..=7 {
                let _ = Body::parse(Kind::try_from(kind).unwrap(), &body);
            }
        }

        #[test]
        fn emit_then_parse_round_trips(body in any_body(), seq in any::<u32>()) {
            let kind = body.kind();
            let bytes = frame(kind, Flags::NONE, seq, &body);
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            let repr = Repr::parse(&packet).unwrap();
            prop_assert_eq!(repr.kind, kind);
            prop_assert_eq!(repr.seq, seq);
            let tag = if kind.sealed() { TAG_LEN } else { 0 };
            let payload = &packet.payload()[..repr.payload_len - tag];
            prop_assert_eq!(Body::parse(kind, payload), Ok(body));
        }
    }
}
