//! QUIC packets and frames on the wire (RFC 9000 §12, §17, §19; RFC 9221).
//!
//! A UDP datagram carries one or more packets back to back ("coalesced",
//! RFC 9000 §12.2): long-header packets say their own length, a
//! short-header packet runs to the end of the datagram.
//!
//! ```text
//! long header (Initial, 0-RTT, Handshake):
//! +-+-+---+---+---+---------+----+------+----+------+---------------+--------+------+---------+-------+
//! |1|1|typ|0 0|pnl| version |0x08| DCID |0x08| SCID |[token len = 0]| length |  PN  | frames… |  tag  |
//! +-+-+---+---+---+---------+----+------+----+------+---------------+--------+------+---------+-------+
//!   1 byte          4 bytes   1    8 B     1    8 B  Initial only: 1  varint  1–4 B             16 B
//!
//! short header (1-RTT):
//! +-+-+-+---+-+---+------+------+---------+-------+
//! |0|1|S|0 0|K|pnl| DCID |  PN  | frames… |  tag  |
//! +-+-+-+---+-+---+------+------+---------+-------+
//!   1 byte          8 B    1–4 B            16 B
//! ```
//!
//! - `typ` is the long packet type: Initial 0, 0-RTT 1, Handshake 2 (Retry,
//!   3, is not spoken); `pnl` is the packet number's length minus one; the
//!   spin (`S`) and key-phase (`K`) bits are sent as 0 and ignored; reserved
//!   bits must be 0.
//! - `version` is [`VERSION`] (QUIC v1); any other version is rejected
//!   (there is no version negotiation).
//! - Connection ids are always [`CID_LEN`] = 8 bytes, so a short header can
//!   be read without per-connection state.
//! - `length` (long headers) counts the packet number, frames and tag; it is
//!   written as a 2-byte varint (4 bytes for packets over 16 KiB).
//! - The packet number is truncated to 1–4 bytes as RFC 9000 §17.1 and
//!   Appendix A.2 say, and recovered with [`decode_packet_number`].
//! - `tag` stands for the AEAD tag: [`TAG_LEN`] = 16 bytes, sent as zeros and
//!   not checked (the packets are not encrypted, and header protection is not
//!   applied, but every byte a real packet spends is spent).
//!
//! [`Packet::new_checked`] checks a packet's header and lengths, so that its
//! getters never panic; [`Repr::parse`] reads the frames and checks each is
//! allowed in the packet's type (RFC 9000 §12.4, Table 3); [`Repr::emit`]
//! writes a packet. Nothing here panics on any input. Integers are QUIC
//! variable-length integers ([`put_varint`]) unless a length is given.

use std::ops::Range;

/// QUIC version 1, the only version spoken.
pub const VERSION: u32 = 0x0000_0001;
/// The length of every connection id, in bytes.
pub const CID_LEN: usize = 8;
/// The AEAD tag at the end of every packet (AEAD_AES_128_GCM), in bytes.
pub const TAG_LEN: usize = 16;
/// The smallest datagram that may carry a client's Initial packet, and the
/// smallest maximum datagram size (RFC 9000 §14.1).
pub const MIN_INITIAL_DATAGRAM: usize = 1200;
/// The largest value a variable-length integer can hold (2⁶² − 1).
pub const MAX_VARINT: u64 = (1 << 62) - 1;
/// ACK delays are sent in units of 2^3 µs (RFC 9000 §18.2, the default
/// `ack_delay_exponent`).
pub const ACK_DELAY_EXPONENT: u32 = 3;

const FORM_LONG: u8 = 0x80;
const FIXED_BIT: u8 = 0x40;

/// Why bytes are not a QUIC packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes end in the middle of a field.
    #[error("packet truncated")]
    Truncated,
    /// The fixed bit is 0: not a QUIC packet.
    #[error("fixed bit not set")]
    FixedBit,
    /// A reserved header bit is set.
    #[error("reserved header bits set")]
    Reserved,
    /// A long header with a version other than [`VERSION`].
    #[error("unsupported QUIC version")]
    Version,
    /// A Retry packet, which this endpoint never sends and does not read.
    #[error("retry packets are not supported")]
    Retry,
    /// A connection id that is not [`CID_LEN`] bytes long.
    #[error("connection id is not 8 bytes")]
    ConnectionId,
    /// An Initial packet with an address-validation token.
    #[error("initial packet carries a token")]
    Token,
    /// The packet is too short for its packet number and tag.
    #[error("packet shorter than its packet number and tag")]
    Length,
    /// A frame type this endpoint does not know.
    #[error("unknown frame type {0:#x}")]
    FrameType(u64),
    /// A frame whose fields are inconsistent (a range below zero, an
    /// offset past 2⁶² − 1).
    #[error("frame encoding error")]
    FrameEncoding,
    /// A frame that the packet's type may not carry.
    #[error("frame not allowed in this packet type")]
    FrameNotAllowed,
    /// A packet without frames.
    #[error("packet carries no frames")]
    Empty,
}

// ----- variable-length integers (RFC 9000 §16) -----

/// How many bytes `value` takes as a variable-length integer (1, 2, 4 or 8);
/// values above [`MAX_VARINT`] are not encodable and count as 8.
pub fn varint_len(value: u64) -> usize {
    match value {
        0..=63 => 1,
        64..=16_383 => 2,
        16_384..=1_073_741_823 => 4,
        _ => 8,
    }
}

/// Appends `value` as a variable-length integer of its shortest length.
pub fn put_varint(out: &mut Vec<u8>, value: u64) {
    put_varint_len(out, value, varint_len(value));
}

/// Appends `value` as a variable-length integer of exactly `len` bytes
/// (1, 2, 4 or 8); `value` must fit, and is masked to the length if not.
fn put_varint_len(out: &mut Vec<u8>, value: u64, len: usize) {
    let (tag, mask): (u64, u64) = match len {
        1 => (0, 0x3f),
        2 => (0x4000, 0x3fff),
        4 => (0x8000_0000, 0x3fff_ffff),
        _ => (0xc000_0000_0000_0000, MAX_VARINT),
    };
    let bytes = (tag | (value & mask)).to_be_bytes();
    out.extend_from_slice(&bytes[8 - len.clamp(1, 8)..]);
}

/// A cursor over untrusted bytes; every read checks the length.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        let (&b, rest) = self.bytes.split_first().ok_or(Error::Truncated)?;
        self.bytes = rest;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.bytes.len() {
            return Err(Error::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, Error> {
        let first = self.u8()?;
        let len = 1usize << (first >> 6);
        let mut value = u64::from(first & 0x3f);
        for &b in self.take(len - 1)? {
            value = (value << 8) | u64::from(b);
        }
        Ok(value)
    }

    /// A varint used as a length, checked against what is left.
    pub(crate) fn len(&mut self) -> Result<usize, Error> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len())
            .ok_or(Error::Truncated)
    }
}

// ----- packet numbers (RFC 9000 §17.1, Appendix A) -----

/// How many bytes to send packet number `full_pn` in, given the largest
/// packet number the peer acknowledged in its space (RFC 9000 A.2): enough
/// for the peer to recover it while twice the unacknowledged range fits.
pub fn packet_number_len(full_pn: u64, largest_acked: Option<u64>) -> usize {
    let unacked = match largest_acked {
        Some(largest) => full_pn.saturating_sub(largest),
        None => full_pn + 1,
    };
    (1..=4)
        .find(|&bytes| unacked <= 1 << (8 * bytes - 1))
        .unwrap_or(4)
}

/// Recovers a full packet number from its `len`-byte truncation, given the
/// largest packet number received in the space (RFC 9000 A.3).
pub fn decode_packet_number(largest: Option<u64>, truncated: u64, len: usize) -> u64 {
    let expected = largest.map_or(0, |l| l + 1);
    let win = 1u64 << (8 * len.clamp(1, 4));
    let hwin = win / 2;
    let candidate = (expected & !(win - 1)) | (truncated & (win - 1));
    if candidate + hwin <= expected && candidate < (1 << 62) - win {
        candidate + win
    } else if candidate > expected + hwin && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

// ----- headers -----

/// The packet types this endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PacketType {
    /// Long header, Initial: the first flight, in the Initial space.
    Initial,
    /// Long header, 0-RTT: early application data on resumption.
    ZeroRtt,
    /// Long header, Handshake: the rest of the handshake.
    Handshake,
    /// Short header: 1-RTT application data.
    Short,
}

impl PacketType {
    fn long_code(self) -> u8 {
        match self {
            PacketType::Initial => 0,
            PacketType::ZeroRtt => 1,
            PacketType::Handshake => 2,
            PacketType::Short => 0,
        }
    }
}

/// Where a checked packet's fields lie in its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    ty: PacketType,
    pn_at: usize,
    pn_len: usize,
    payload_end: usize,
}

/// A checked view over the bytes of one packet at the start of a buffer
/// (the buffer may hold further coalesced packets after it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    layout: Layout,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the header of the packet that starts `buffer`: the fixed bit,
    /// reserved bits, version, connection id lengths, the (empty) token and
    /// that the packet's length fits the buffer and holds a packet number
    /// and a tag. Once this succeeds no getter panics.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let bytes = buffer.as_ref();
        let mut r = Reader { bytes };
        let first = r.u8()?;
        if first & FIXED_BIT == 0 {
            return Err(Error::FixedBit);
        }
        let pn_len = usize::from(first & 0x03) + 1;
        let layout = if first & FORM_LONG != 0 {
            if first & 0x0c != 0 {
                return Err(Error::Reserved);
            }
            let ty = match (first >> 4) & 0x03 {
                0 => PacketType::Initial,
                1 => PacketType::ZeroRtt,
                2 => PacketType::Handshake,
                _ => return Err(Error::Retry),
            };
            if u32::from_be_bytes(r.array()?) != VERSION {
                return Err(Error::Version);
            }
            for _ in 0..2 {
                if usize::from(r.u8()?) != CID_LEN {
                    return Err(Error::ConnectionId);
                }
                r.take(CID_LEN)?;
            }
            if ty == PacketType::Initial && r.varint()? != 0 {
                return Err(Error::Token);
            }
            let length = r.len()?;
            let pn_at = bytes.len() - r.bytes.len();
            if length < pn_len + TAG_LEN {
                return Err(Error::Length);
            }
            Layout {
                ty,
                pn_at,
                pn_len,
                payload_end: pn_at + length - TAG_LEN,
            }
        } else {
            if first & 0x18 != 0 {
                return Err(Error::Reserved);
            }
            r.take(CID_LEN)?;
            let pn_at = 1 + CID_LEN;
            if bytes.len() < pn_at + pn_len + TAG_LEN {
                return Err(Error::Length);
            }
            Layout {
                ty: PacketType::Short,
                pn_at,
                pn_len,
                payload_end: bytes.len() - TAG_LEN,
            }
        };
        Ok(Packet { buffer, layout })
    }

    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        self.layout.ty
    }

    /// How many bytes of the buffer this packet occupies; any bytes after
    /// it are further coalesced packets.
    pub fn packet_len(&self) -> usize {
        self.layout.payload_end + TAG_LEN
    }

    /// The destination connection id.
    pub fn dcid(&self) -> u64 {
        let at = if self.layout.ty == PacketType::Short {
            1
        } else {
            6
        };
        cid_at(self.buffer.as_ref(), at)
    }

    /// The source connection id (long headers only).
    pub fn scid(&self) -> Option<u64> {
        (self.layout.ty != PacketType::Short).then(|| cid_at(self.buffer.as_ref(), 7 + CID_LEN))
    }

    /// The packet number's length on the wire, 1 to 4 bytes.
    pub fn pn_len(&self) -> usize {
        self.layout.pn_len
    }

    /// The truncated packet number, as sent.
    pub fn truncated_pn(&self) -> u64 {
        let at = self.layout.pn_at;
        self.buffer.as_ref()[at..at + self.layout.pn_len]
            .iter()
            .fold(0, |pn, &b| (pn << 8) | u64::from(b))
    }

    /// The frame bytes, between the packet number and the tag.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.layout.pn_at + self.layout.pn_len..self.layout.payload_end]
    }
}

fn cid_at(bytes: &[u8], at: usize) -> u64 {
    let mut cid = [0; CID_LEN];
    cid.copy_from_slice(&bytes[at..at + CID_LEN]);
    u64::from_be_bytes(cid)
}

/// A packet header, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The packet's type.
    pub ty: PacketType,
    /// The destination connection id.
    pub dcid: u64,
    /// The source connection id (written in long headers only).
    pub scid: u64,
    /// The packet number, truncated to `pn_len` bytes when written.
    pub pn: u64,
    /// The packet number's length on the wire, 1 to 4 bytes.
    pub pn_len: usize,
}

impl Header {
    /// The length field's size in a long header carrying `payload_len`
    /// bytes of frames.
    fn length_field_len(&self, payload_len: usize) -> usize {
        if self.pn_len + payload_len + TAG_LEN < 16_384 {
            2
        } else {
            4
        }
    }

    /// The header's length on the wire, up to and including the packet
    /// number, for `payload_len` bytes of frames.
    pub fn buffer_len(&self, payload_len: usize) -> usize {
        match self.ty {
            PacketType::Short => 1 + CID_LEN + self.pn_len,
            ty => {
                let token = usize::from(ty == PacketType::Initial);
                1 + 4 + 2 * (1 + CID_LEN) + token + self.length_field_len(payload_len) + self.pn_len
            }
        }
    }

    /// Appends a whole packet: this header, `payload` (encoded frames) and
    /// the tag.
    pub fn emit(&self, payload: &[u8], out: &mut Vec<u8>) {
        let pn_len = self.pn_len.clamp(1, 4);
        let pn_bits = (pn_len - 1) as u8;
        match self.ty {
            PacketType::Short => {
                out.push(FIXED_BIT | pn_bits);
                out.extend_from_slice(&self.dcid.to_be_bytes());
            }
            ty => {
                out.push(FORM_LONG | FIXED_BIT | (ty.long_code() << 4) | pn_bits);
                out.extend_from_slice(&VERSION.to_be_bytes());
                for cid in [self.dcid, self.scid] {
                    out.push(CID_LEN as u8);
                    out.extend_from_slice(&cid.to_be_bytes());
                }
                if ty == PacketType::Initial {
                    put_varint(out, 0);
                }
                let length = (pn_len + payload.len() + TAG_LEN) as u64;
                put_varint_len(out, length, self.length_field_len(payload.len()));
            }
        }
        out.extend_from_slice(&self.pn.to_be_bytes()[8 - pn_len..]);
        out.extend_from_slice(payload);
        out.extend_from_slice(&[0; TAG_LEN]);
    }
}

// ----- frames (RFC 9000 §19, RFC 9221 §4) -----

/// An ACK frame: the packet numbers received, as ranges, and how long the
/// sender held the acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckFrame {
    /// The ack delay in units of 2^[`ACK_DELAY_EXPONENT`] µs.
    pub delay: u64,
    /// The acknowledged packet numbers, highest range first; the ranges are
    /// non-empty, disjoint and separated by at least one packet number.
    pub ranges: Vec<Range<u64>>,
}

impl AckFrame {
    /// The largest acknowledged packet number (0 for a frame without
    /// ranges, which [`Frame::parse`] never yields).
    pub fn largest(&self) -> u64 {
        self.ranges.first().map_or(0, |r| r.end - 1)
    }
}

/// The frames this endpoint reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A run of PADDING bytes (type 0x00), read as one frame.
    Padding(usize),
    /// PING (0x01): elicits an acknowledgement.
    Ping,
    /// ACK (0x02; 0x03 with ECN counts is read and the counts ignored).
    Ack(AckFrame),
    /// CRYPTO (0x06): handshake bytes at an offset of the level's stream.
    Crypto {
        /// Offset in the crypto stream.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// STREAM (0x08–0x0f): stream bytes at an offset, maybe the last.
    Stream {
        /// The stream id.
        id: u64,
        /// Offset in the stream.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
        /// Whether the stream ends with these bytes.
        fin: bool,
    },
    /// MAX_DATA (0x10): the connection's new flow-control limit.
    MaxData(u64),
    /// MAX_STREAM_DATA (0x11): a stream's new flow-control limit.
    MaxStreamData {
        /// The stream id.
        id: u64,
        /// The new limit, in bytes.
        max: u64,
    },
    /// MAX_STREAMS (0x12 bidirectional, 0x13 unidirectional).
    MaxStreams {
        /// Whether it is the bidirectional limit.
        bidi: bool,
        /// How many streams of that type the peer may open in all.
        max: u64,
    },
    /// PATH_CHALLENGE (0x1a).
    PathChallenge([u8; 8]),
    /// PATH_RESPONSE (0x1b).
    PathResponse([u8; 8]),
    /// CONNECTION_CLOSE (0x1c transport, 0x1d application).
    ConnectionClose {
        /// Whether it is the application's close (0x1d).
        app: bool,
        /// The error code.
        code: u64,
        /// The frame type that caused it (transport close only).
        frame_type: u64,
        /// The reason phrase.
        reason: &'a [u8],
    },
    /// HANDSHAKE_DONE (0x1e): the server confirms the handshake.
    HandshakeDone,
    /// DATAGRAM (0x31, with a length; 0x30 runs to the end of the packet).
    Datagram(&'a [u8]),
}

impl<'a> Frame<'a> {
    /// Reads one frame from the front of `bytes`, returning it and the rest.
    pub fn parse(bytes: &'a [u8]) -> Result<(Frame<'a>, &'a [u8]), Error> {
        let mut r = Reader { bytes };
        let ty = r.varint()?;
        let frame = match ty {
            0x00 => {
                let run = r.bytes.iter().take_while(|&&b| b == 0).count();
                r.take(run)?;
                Frame::Padding(run + 1)
            }
            0x01 => Frame::Ping,
            0x02 | 0x03 => {
                let largest = r.varint()?;
                let delay = r.varint()?;
                let count = r.varint()?;
                let first = r.varint()?;
                let mut smallest = largest.checked_sub(first).ok_or(Error::FrameEncoding)?;
                // Every further range takes at least two bytes.
                if count > r.bytes.len() as u64 / 2 {
                    return Err(Error::Truncated);
                }
                let mut ranges = Vec::with_capacity(count as usize + 1);
                ranges.push(smallest..largest + 1);
                for _ in 0..count {
                    let gap = r.varint()?;
                    let len = r.varint()?;
                    let high = smallest
                        .checked_sub(gap)
                        .and_then(|v| v.checked_sub(2))
                        .ok_or(Error::FrameEncoding)?;
                    smallest = high.checked_sub(len).ok_or(Error::FrameEncoding)?;
                    ranges.push(smallest..high + 1);
                }
                if ty == 0x03 {
                    for _ in 0..3 {
                        r.varint()?;
                    }
                }
                Frame::Ack(AckFrame { delay, ranges })
            }
            0x06 => {
                let offset = r.varint()?;
                let len = r.len()?;
                check_end(offset, len)?;
                Frame::Crypto {
                    offset,
                    data: r.take(len)?,
                }
            }
            0x08..=0x0f => {
                let id = r.varint()?;
                let offset = if ty & 0x04 != 0 { r.varint()? } else { 0 };
                let len = if ty & 0x02 != 0 {
                    r.len()?
                } else {
                    r.bytes.len()
                };
                check_end(offset, len)?;
                Frame::Stream {
                    id,
                    offset,
                    data: r.take(len)?,
                    fin: ty & 0x01 != 0,
                }
            }
            0x10 => Frame::MaxData(r.varint()?),
            0x11 => Frame::MaxStreamData {
                id: r.varint()?,
                max: r.varint()?,
            },
            0x12 | 0x13 => {
                let max = r.varint()?;
                if max > 1 << 60 {
                    return Err(Error::FrameEncoding);
                }
                Frame::MaxStreams {
                    bidi: ty == 0x12,
                    max,
                }
            }
            0x1a => Frame::PathChallenge(r.array()?),
            0x1b => Frame::PathResponse(r.array()?),
            0x1c | 0x1d => {
                let app = ty == 0x1d;
                let code = r.varint()?;
                let frame_type = if app { 0 } else { r.varint()? };
                let len = r.len()?;
                Frame::ConnectionClose {
                    app,
                    code,
                    frame_type,
                    reason: r.take(len)?,
                }
            }
            0x1e => Frame::HandshakeDone,
            0x30 => Frame::Datagram(r.take(r.bytes.len())?),
            0x31 => {
                let len = r.len()?;
                Frame::Datagram(r.take(len)?)
            }
            other => return Err(Error::FrameType(other)),
        };
        Ok((frame, r.bytes))
    }

    /// Whether a packet of type `ty` may carry this frame (RFC 9000 §12.4,
    /// Table 3; RFC 9221 §4).
    pub fn allowed_in(&self, ty: PacketType) -> bool {
        match self {
            Frame::Padding(_) | Frame::Ping => true,
            Frame::Ack(_) | Frame::Crypto { .. } => ty != PacketType::ZeroRtt,
            Frame::ConnectionClose { app, .. } => {
                !app || matches!(ty, PacketType::ZeroRtt | PacketType::Short)
            }
            Frame::HandshakeDone | Frame::PathResponse(_) => ty == PacketType::Short,
            Frame::Stream { .. }
            | Frame::MaxData(_)
            | Frame::MaxStreamData { .. }
            | Frame::MaxStreams { .. }
            | Frame::PathChallenge(_)
            | Frame::Datagram(_) => matches!(ty, PacketType::ZeroRtt | PacketType::Short),
        }
    }

    /// Whether the frame makes its packet ack-eliciting (RFC 9002 §2): all
    /// but PADDING, ACK and CONNECTION_CLOSE.
    pub fn is_ack_eliciting(&self) -> bool {
        !matches!(
            self,
            Frame::Padding(_) | Frame::Ack(_) | Frame::ConnectionClose { .. }
        )
    }

    /// Whether the frame is one of those a probing packet may carry (RFC
    /// 9000 §9.1): PATH_CHALLENGE, PATH_RESPONSE and PADDING.
    pub fn is_probing(&self) -> bool {
        matches!(
            self,
            Frame::Padding(_) | Frame::PathChallenge(_) | Frame::PathResponse(_)
        )
    }

    /// The frame's length on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            Frame::Padding(n) => *n,
            Frame::Ping | Frame::HandshakeDone => 1,
            Frame::Ack(ack) => {
                let mut len = 1 + varint_len(ack.largest()) + varint_len(ack.delay);
                len += varint_len(ack.ranges.len().saturating_sub(1) as u64);
                let mut smallest = 0;
                for (i, r) in ack.ranges.iter().enumerate() {
                    let (high, low) = (r.end - 1, r.start);
                    if i > 0 {
                        len += varint_len(smallest - high - 2);
                    }
                    len += varint_len(high - low);
                    smallest = low;
                }
                len
            }
            Frame::Crypto { offset, data } => {
                1 + varint_len(*offset) + varint_len(data.len() as u64) + data.len()
            }
            Frame::Stream {
                id, offset, data, ..
            } => stream_header_len(*id, *offset, data.len()) + data.len(),
            Frame::MaxData(max) => 1 + varint_len(*max),
            Frame::MaxStreamData { id, max } => 1 + varint_len(*id) + varint_len(*max),
            Frame::MaxStreams { max, .. } => 1 + varint_len(*max),
            Frame::PathChallenge(_) | Frame::PathResponse(_) => 9,
            Frame::ConnectionClose {
                app,
                code,
                frame_type,
                reason,
            } => {
                1 + varint_len(*code)
                    + if *app { 0 } else { varint_len(*frame_type) }
                    + varint_len(reason.len() as u64)
                    + reason.len()
            }
            Frame::Datagram(data) => datagram_header_len(data.len()) + data.len(),
        }
    }

    /// Appends the frame. Stream, crypto and datagram frames are always
    /// written with an explicit length.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Padding(n) => out.resize(out.len() + n, 0),
            Frame::Ping => out.push(0x01),
            Frame::Ack(ack) => {
                out.push(0x02);
                put_varint(out, ack.largest());
                put_varint(out, ack.delay);
                put_varint(out, ack.ranges.len().saturating_sub(1) as u64);
                let mut smallest = 0;
                for (i, r) in ack.ranges.iter().enumerate() {
                    let (high, low) = (r.end - 1, r.start);
                    if i > 0 {
                        put_varint(out, smallest - high - 2);
                    }
                    put_varint(out, high - low);
                    smallest = low;
                }
            }
            Frame::Crypto { offset, data } => {
                out.push(0x06);
                put_varint(out, *offset);
                put_varint(out, data.len() as u64);
                out.extend_from_slice(data);
            }
            Frame::Stream {
                id,
                offset,
                data,
                fin,
            } => {
                let off_bit = if *offset > 0 { 0x04 } else { 0 };
                out.push(0x08 | off_bit | 0x02 | u8::from(*fin));
                put_varint(out, *id);
                if *offset > 0 {
                    put_varint(out, *offset);
                }
                put_varint(out, data.len() as u64);
                out.extend_from_slice(data);
            }
            Frame::MaxData(max) => {
                out.push(0x10);
                put_varint(out, *max);
            }
            Frame::MaxStreamData { id, max } => {
                out.push(0x11);
                put_varint(out, *id);
                put_varint(out, *max);
            }
            Frame::MaxStreams { bidi, max } => {
                out.push(if *bidi { 0x12 } else { 0x13 });
                put_varint(out, *max);
            }
            Frame::PathChallenge(data) => {
                out.push(0x1a);
                out.extend_from_slice(data);
            }
            Frame::PathResponse(data) => {
                out.push(0x1b);
                out.extend_from_slice(data);
            }
            Frame::ConnectionClose {
                app,
                code,
                frame_type,
                reason,
            } => {
                out.push(if *app { 0x1d } else { 0x1c });
                put_varint(out, *code);
                if !app {
                    put_varint(out, *frame_type);
                }
                put_varint(out, reason.len() as u64);
                out.extend_from_slice(reason);
            }
            Frame::HandshakeDone => out.push(0x1e),
            Frame::Datagram(data) => {
                out.push(0x31);
                put_varint(out, data.len() as u64);
                out.extend_from_slice(data);
            }
        }
    }
}

/// Offsets and lengths in CRYPTO and STREAM frames end at most at 2⁶² − 1.
fn check_end(offset: u64, len: usize) -> Result<(), Error> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= MAX_VARINT => Ok(()),
        _ => Err(Error::FrameEncoding),
    }
}

/// The bytes a STREAM frame spends before its data.
pub fn stream_header_len(id: u64, offset: u64, len: usize) -> usize {
    let offset_len = if offset > 0 { varint_len(offset) } else { 0 };
    1 + varint_len(id) + offset_len + varint_len(len as u64)
}

/// The bytes a DATAGRAM frame spends before its data.
pub fn datagram_header_len(len: usize) -> usize {
    1 + varint_len(len as u64)
}

/// What a packet says: its header and its frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The header, with the packet number as truncated on the wire.
    pub header: Header,
    /// The frames, in order.
    pub frames: Vec<Frame<'a>>,
}

impl<'a> Repr<'a> {
    /// Reads a checked packet's header and frames. Fails if a frame is
    /// malformed or not allowed in the packet's type, or if there is none.
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Repr<'a>, Error> {
        let ty = packet.packet_type();
        let buffer: &'a [u8] = packet.buffer;
        let mut rest =
            &buffer[packet.layout.pn_at + packet.layout.pn_len..packet.layout.payload_end];
        let mut frames = Vec::new();
        while !rest.is_empty() {
            let (frame, tail) = Frame::parse(rest)?;
            if !frame.allowed_in(ty) {
                return Err(Error::FrameNotAllowed);
            }
            frames.push(frame);
            rest = tail;
        }
        if frames.is_empty() {
            return Err(Error::Empty);
        }
        Ok(Repr {
            header: Header {
                ty,
                dcid: packet.dcid(),
                scid: packet.scid().unwrap_or(0),
                pn: packet.truncated_pn(),
                pn_len: packet.pn_len(),
            },
            frames,
        })
    }

    /// The packet's length on the wire.
    pub fn buffer_len(&self) -> usize {
        let payload: usize = self.frames.iter().map(Frame::buffer_len).sum();
        self.header.buffer_len(payload) + payload + TAG_LEN
    }

    /// Appends the packet.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut payload = Vec::new();
        for frame in &self.frames {
            frame.emit(&mut payload);
        }
        self.header.emit(&payload, out);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn varints_match_rfc_9000_appendix_a_examples() {
        for (bytes, value) in [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c][..],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d][..], 494_878_333),
            (&[0x7b, 0xbd][..], 15_293),
            (&[0x25][..], 37),
            (&[0x40, 0x25][..], 37),
        ] {
            assert_eq!(Reader { bytes }.varint(), Ok(value));
            if bytes.len() == varint_len(value) {
                let mut out = Vec::new();
                put_varint(&mut out, value);
                assert_eq!(out, bytes);
            }
        }
    }

    #[test]
    fn packet_numbers_match_rfc_9000_appendix_a_examples() {
        // A.2: 0xac5c02 with 0xabe8b3 acknowledged needs 2 bytes, 0xace8fe
        // needs 3.
        assert_eq!(packet_number_len(0xac5c02, Some(0xabe8b3)), 2);
        assert_eq!(packet_number_len(0xace8fe, Some(0xabe8b3)), 3);
        // A.3: 0x9b32 after 0xa82f30ea decodes to 0xa82f9b32.
        assert_eq!(
            decode_packet_number(Some(0xa82f30ea), 0x9b32, 2),
            0xa82f9b32
        );
        assert_eq!(decode_packet_number(None, 0, 1), 0);
        assert_eq!(decode_packet_number(Some(255), 0, 1), 256);
    }

    fn header(ty: PacketType) -> Header {
        Header {
            ty,
            dcid: 0x0102_0304_0506_0708,
            scid: 0x1112_1314_1516_1718,
            pn: 0x1234,
            pn_len: 2,
        }
    }

    #[test]
    fn every_packet_type_round_trips_and_has_the_documented_size() {
        let frames = vec![
            Frame::Ack(AckFrame {
                delay: 100,
                ranges: vec![10..12, 3..8, 0..1],
            }),
            Frame::Crypto {
                offset: 300,
                data: b"hello",
            },
        ];
        for (ty, header_len) in [
            (PacketType::Initial, 1 + 4 + 9 + 9 + 1 + 2 + 2),
            (PacketType::Handshake, 1 + 4 + 9 + 9 + 2 + 2),
            (PacketType::Short, 1 + 8 + 2),
        ] {
            let repr = Repr {
                header: header(ty),
                frames: frames.clone(),
            };
            let mut bytes = Vec::new();
            repr.emit(&mut bytes);
            let payload: usize = frames.iter().map(Frame::buffer_len).sum();
            assert_eq!(bytes.len(), header_len + payload + TAG_LEN, "{ty:?}");
            assert_eq!(bytes.len(), repr.buffer_len());
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(packet.packet_len(), bytes.len());
            let mut expected = repr.clone();
            if ty == PacketType::Short {
                expected.header.scid = 0;
            }
            assert_eq!(Repr::parse(&packet), Ok(expected));
        }
    }

    #[test]
    fn coalesced_packets_split_by_their_length_fields() {
        let mut datagram = Vec::new();
        let a = Repr {
            header: header(PacketType::Initial),
            frames: vec![Frame::Ping],
        };
        let b = Repr {
            header: header(PacketType::Short),
            frames: vec![Frame::Datagram(b"xyz")],
        };
        a.emit(&mut datagram);
        b.emit(&mut datagram);
        let first = Packet::new_checked(&datagram[..]).unwrap();
        assert_eq!(first.packet_type(), PacketType::Initial);
        let rest = &datagram[first.packet_len()..];
        let second = Packet::new_checked(rest).unwrap();
        assert_eq!(second.packet_type(), PacketType::Short);
        assert_eq!(second.packet_len(), rest.len());
        assert_eq!(Repr::parse(&second).unwrap().frames, b.frames);
    }

    #[test]
    fn frames_are_checked_against_the_packet_type() {
        let stream_in_initial = Repr {
            header: header(PacketType::Initial),
            frames: vec![Frame::Stream {
                id: 2,
                offset: 0,
                data: b"x",
                fin: true,
            }],
        };
        let mut bytes = Vec::new();
        stream_in_initial.emit(&mut bytes);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Err(Error::FrameNotAllowed));
    }

    #[test]
    fn bad_headers_are_rejected() {
        let mut bytes = Vec::new();
        Repr {
            header: header(PacketType::Handshake),
            frames: vec![Frame::Ping],
        }
        .emit(&mut bytes);
        for (at, value, error) in [
            (0, 0x80, Error::FixedBit),
            (0, 0xf0, Error::Retry),
            (0, 0xe4, Error::Reserved),
            (1, 0xff, Error::Version),
            (5, 4, Error::ConnectionId),
        ] {
            let mut b = bytes.clone();
            b[at] = value;
            assert_eq!(
                Packet::new_checked(&b[..]),
                Err(error),
                "byte {at} = {value:#x}"
            );
        }
        for len in 0..bytes.len() {
            assert!(Packet::new_checked(&bytes[..len]).is_err(), "{len} bytes");
        }
    }

    #[test]
    fn ack_ranges_below_zero_are_encoding_errors() {
        // largest 2, first range 5: below zero.
        let bytes = [0x02, 0x02, 0x00, 0x00, 0x05];
        assert_eq!(Frame::parse(&bytes), Err(Error::FrameEncoding));
        // largest 5, first range 0, then gap 4: 5 - 4 - 2 < 0.
        let bytes = [0x02, 0x05, 0x00, 0x01, 0x00, 0x04, 0x00];
        assert_eq!(Frame::parse(&bytes), Err(Error::FrameEncoding));
    }

    fn any_frame() -> impl Strategy<Value = (u8, u64, u64, Vec<u8>, bool)> {
        (
            0u8..12,
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..40),
            any::<bool>(),
        )
    }

    fn build(kind: u8, a: u64, b: u64, data: &[u8], flag: bool) -> Frame<'_> {
        let a = a & (MAX_VARINT >> 2);
        let b = b & (MAX_VARINT >> 2);
        match kind {
            0 => Frame::Ping,
            1 => {
                let mut ranges = Vec::new();
                let mut high = a;
                // At least one range: a frame without ranges cannot be
                // written.
                for &len in data.iter().chain([&0]).take(6) {
                    let low = high.saturating_sub(u64::from(len));
                    ranges.push(low..high + 1);
                    if low < 2 {
                        break;
                    }
                    high = low - 2;
                }
                Frame::Ack(AckFrame { delay: b, ranges })
            }
            2 => Frame::Crypto { offset: a, data },
            3 => Frame::Stream {
                id: a,
                offset: b,
                data,
                fin: flag,
            },
            4 => Frame::MaxData(a),
            5 => Frame::MaxStreamData { id: a, max: b },
            6 => Frame::MaxStreams {
                bidi: flag,
                max: a & ((1 << 60) - 1),
            },
            7 => Frame::PathChallenge(b.to_be_bytes()),
            8 => Frame::PathResponse(a.to_be_bytes()),
            9 => Frame::ConnectionClose {
                app: flag,
                code: a,
                frame_type: if flag { 0 } else { b },
                reason: data,
            },
            10 => Frame::HandshakeDone,
            _ => Frame::Datagram(data),
        }
    }

    proptest! {
        #[test]
        fn frames_round_trip((kind, a, b, data, flag) in any_frame()) {
            let frame = build(kind, a, b, &data, flag);
            let mut bytes = Vec::new();
            frame.emit(&mut bytes);
            prop_assert_eq!(bytes.len(), frame.buffer_len());
            prop_assert_eq!(Frame::parse(&bytes), Ok((frame, &[][..])));
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Frame::parse(&bytes);
            let mut rest = &bytes[..];
            while let Ok(packet) = Packet::new_checked(rest) {
                let _ = Repr::parse(&packet);
                let _ = (packet.dcid(), packet.scid(), packet.truncated_pn(), packet.payload());
                rest = &rest[packet.packet_len()..];
            }
        }

        #[test]
        fn headers_with_arbitrary_tails_never_panic(
            ty in 0u8..3, tail in proptest::collection::vec(any::<u8>(), 0..80)
        ) {
            let mut bytes = Vec::new();
            let ty = [PacketType::Initial, PacketType::Handshake, PacketType::Short][usize::from(ty)];
            Repr { header: header(ty), frames: vec![Frame::Ping] }.emit(&mut bytes);
            let cut = bytes.len().saturating_sub(TAG_LEN + 1);
            bytes.truncate(cut);
            bytes.extend_from_slice(&tail);
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = Repr::parse(&packet);
            }
        }
    }
}
