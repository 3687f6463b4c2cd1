//! SCTP over DTLS (RFC 8261) and the data-channel establishment protocol
//! (DCEP, RFC 8832): how a WebRTC data channel opens once DTLS is up, and
//! the packets that carry its messages.
//!
//! # Opening (two round trips)
//!
//! | packet             | chunks                                       | bytes |
//! |--------------------|----------------------------------------------|-------|
//! | offerer → answerer | `INIT`                                       | 44    |
//! | answerer → offerer | `INIT ACK` with a 256-byte state cookie       | 304   |
//! | offerer → answerer | `COOKIE ECHO`, `DATA` (DCEP `DATA_CHANNEL_OPEN`) | 340 |
//! | answerer → offerer | `COOKIE ACK`, `DATA` (DCEP `DATA_CHANNEL_ACK`)   | 36  |
//!
//! (Each then rides in a DTLS application-data record, 37 bytes more.) The
//! channel is the one the seed's clients open: unordered, with no
//! retransmissions (`DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED`, 0),
//! labelled with 40 random hex digits as simple-peer names its channels. A
//! message is one `DATA` chunk (16-byte header) with payload protocol id 53
//! (binary), or 57 with one zero byte for an empty message.
//!
//! # Implementation notes
//!
//! - No `SACK`s: the channel does not retransmit, so acknowledgements would
//!   only add bytes; nor heartbeats, streams resets or shutdown.
//! - The checksum is zero, as RFC 9653 allows over DTLS.
//! - A message is never fragmented into several `DATA` chunks.
//!
//! Parsing never panics: [`Packet::parse`] checks every length before it
//! reads.

/// The common header: ports, verification tag, checksum.
pub const COMMON_HEADER_LEN: usize = 12;
/// A `DATA` chunk's header.
pub const DATA_HEADER_LEN: usize = 16;
/// The size of the state cookie the answerer hands out.
pub const COOKIE_LEN: usize = 256;
/// The SCTP port WebRTC uses on both sides (`a=sctp-port:5000`).
const PORT: u16 = 5000;

/// Payload protocol ids (RFC 8831).
const PPID_DCEP: u32 = 50;
const PPID_BINARY: u32 = 53;
const PPID_BINARY_EMPTY: u32 = 57;

const DATA: u8 = 0;
const INIT: u8 = 1;
const INIT_ACK: u8 = 2;
const COOKIE_ECHO: u8 = 10;
const COOKIE_ACK: u8 = 11;

/// `INIT` and `INIT ACK` parameters: Supported Extensions (FORWARD-TSN,
/// RE-CONFIG) and Forward-TSN-Supported.
const INIT_PARAMETERS: [u8; 12] = [0x80, 0x08, 0, 6, 0xC0, 0x82, 0, 0, 0xC0, 0, 0, 4];
const STATE_COOKIE: u16 = 0x0007;

const DCEP_OPEN: u8 = 0x03;
const DCEP_ACK: u8 = 0x02;
/// Unordered, partially reliable by retransmissions.
const CHANNEL_REXMIT_UNORDERED: u8 = 0x81;

/// One chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Opens an association with initiate tag `tag`.
    Init {
        /// The sender's verification tag.
        tag: u32,
    },
    /// Accepts it, with a state cookie.
    InitAck {
        /// The sender's verification tag.
        tag: u32,
    },
    /// Returns the cookie.
    CookieEcho,
    /// The association is up.
    CookieAck,
    /// A user message.
    Data {
        /// The transmission sequence number.
        tsn: u32,
        /// The payload protocol id.
        ppid: u32,
        /// The message.
        payload: &'a [u8],
    },
}

/// An SCTP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The receiver's verification tag (0 on an `INIT`).
    pub tag: u32,
    /// Its chunks.
    pub chunks: Vec<Chunk<'a>>,
}

/// The bytes are not an SCTP packet or DCEP message this model sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

impl<'a> Packet<'a> {
    /// The packet on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&PORT.to_be_bytes());
        out.extend_from_slice(&PORT.to_be_bytes());
        out.extend_from_slice(&self.tag.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        for chunk in &self.chunks {
            let (kind, flags, value) = match *chunk {
                Chunk::Init { tag } => (INIT, 0, init_value(tag, false)),
                Chunk::InitAck { tag } => (INIT_ACK, 0, init_value(tag, true)),
                Chunk::CookieEcho => (COOKIE_ECHO, 0, vec![0; COOKIE_LEN]),
                Chunk::CookieAck => (COOKIE_ACK, 0, Vec::new()),
                Chunk::Data { tsn, ppid, payload } => {
                    let mut value = Vec::with_capacity(12 + payload.len());
                    value.extend_from_slice(&tsn.to_be_bytes());
                    // Stream 0, stream sequence 0 (unordered).
                    value.extend_from_slice(&[0; 4]);
                    value.extend_from_slice(&ppid.to_be_bytes());
                    value.extend_from_slice(payload);
                    // Unordered, beginning and end of the message.
                    (DATA, 0x07, value)
                }
            };
            out.push(kind);
            out.push(flags);
            out.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
            out.extend_from_slice(&value);
            out.resize(out.len().next_multiple_of(4), 0);
        }
        out
    }

    /// The packet `bytes` holds.
    pub fn parse(bytes: &'a [u8]) -> Result<Packet<'a>, Malformed> {
        let header = bytes.get(..COMMON_HEADER_LEN).ok_or(Malformed)?;
        if header[..4] != [PORT.to_be_bytes(), PORT.to_be_bytes()].concat() {
            return Err(Malformed);
        }
        let tag = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let mut chunks = Vec::new();
        let mut pos = COMMON_HEADER_LEN;
        while pos < bytes.len() {
            let head = bytes.get(pos..pos + 4).ok_or(Malformed)?;
            let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
            let value = bytes.get(pos + 4..pos + len.max(4)).ok_or(Malformed)?;
            if len < 4 || bytes.len() < pos + len.next_multiple_of(4) {
                return Err(Malformed);
            }
            chunks.push(match head[0] {
                INIT if value.len() == 16 + INIT_PARAMETERS.len() => Chunk::Init {
                    tag: u32::from_be_bytes([value[0], value[1], value[2], value[3]]),
                },
                INIT_ACK if value.len() == 16 + INIT_PARAMETERS.len() + 4 + COOKIE_LEN => {
                    Chunk::InitAck {
                        tag: u32::from_be_bytes([value[0], value[1], value[2], value[3]]),
                    }
                }
                COOKIE_ECHO if value.len() == COOKIE_LEN => Chunk::CookieEcho,
                COOKIE_ACK if value.is_empty() => Chunk::CookieAck,
                DATA if value.len() >= DATA_HEADER_LEN - 4 => Chunk::Data {
                    tsn: u32::from_be_bytes([value[0], value[1], value[2], value[3]]),
                    ppid: u32::from_be_bytes([value[8], value[9], value[10], value[11]]),
                    payload: &value[DATA_HEADER_LEN - 4..],
                },
                _ => return Err(Malformed),
            });
            pos += len.next_multiple_of(4);
        }
        if chunks.is_empty() {
            return Err(Malformed);
        }
        Ok(Packet { tag, chunks })
    }
}

/// An `INIT` or `INIT ACK` chunk's value after the chunk header.
fn init_value(tag: u32, cookie: bool) -> Vec<u8> {
    let mut value = Vec::with_capacity(32 + COOKIE_LEN);
    value.extend_from_slice(&tag.to_be_bytes());
    // Advertised receiver window 128 KiB, 1,024 streams each way, and the
    // initial TSN, which is the tag here.
    value.extend_from_slice(&131_072u32.to_be_bytes());
    value.extend_from_slice(&1024u16.to_be_bytes());
    value.extend_from_slice(&1024u16.to_be_bytes());
    value.extend_from_slice(&tag.to_be_bytes());
    value.extend_from_slice(&INIT_PARAMETERS);
    if cookie {
        value.extend_from_slice(&STATE_COOKIE.to_be_bytes());
        value.extend_from_slice(&((4 + COOKIE_LEN) as u16).to_be_bytes());
        value.extend_from_slice(&[0; COOKIE_LEN]);
    }
    value
}

/// A data-channel message: what a `DATA` chunk carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// DCEP `DATA_CHANNEL_OPEN`.
    Open,
    /// DCEP `DATA_CHANNEL_ACK`.
    Ack,
    /// An application message of this many bytes.
    Application(usize),
}

/// DCEP's `DATA_CHANNEL_OPEN` for a channel labelled `label`.
pub fn open_message(label: &str) -> Vec<u8> {
    let mut message = vec![DCEP_OPEN, CHANNEL_REXMIT_UNORDERED, 0, 0];
    // Reliability parameter: no retransmissions.
    message.extend_from_slice(&0u32.to_be_bytes());
    message.extend_from_slice(&(label.len() as u16).to_be_bytes());
    message.extend_from_slice(&0u16.to_be_bytes());
    message.extend_from_slice(label.as_bytes());
    message
}

/// DCEP's `DATA_CHANNEL_ACK`.
pub const ACK_MESSAGE: &[u8] = &[DCEP_ACK];

/// The `DATA` chunk carrying the DCEP message `message`.
pub fn dcep(tsn: u32, message: &[u8]) -> Chunk<'_> {
    Chunk::Data {
        tsn,
        ppid: PPID_DCEP,
        payload: message,
    }
}

/// The `DATA` chunk for an application message of `payload`'s bytes (an
/// empty message is one zero byte with its own protocol id).
pub fn binary(tsn: u32, payload: &[u8]) -> Chunk<'_> {
    if payload.is_empty() {
        Chunk::Data {
            tsn,
            ppid: PPID_BINARY_EMPTY,
            payload: &[0],
        }
    } else {
        Chunk::Data {
            tsn,
            ppid: PPID_BINARY,
            payload,
        }
    }
}

/// What a `DATA` chunk's payload means.
pub fn message(ppid: u32, payload: &[u8]) -> Result<Message, Malformed> {
    match (ppid, payload) {
        (PPID_DCEP, [DCEP_ACK]) => Ok(Message::Ack),
        (PPID_DCEP, [DCEP_OPEN, _, _, _, _, _, _, _, l1, l2, p1, p2, rest @ ..]) => {
            let label = usize::from(u16::from_be_bytes([*l1, *l2]));
            let protocol = usize::from(u16::from_be_bytes([*p1, *p2]));
            if rest.len() != label + protocol {
                return Err(Malformed);
            }
            Ok(Message::Open)
        }
        (PPID_BINARY, payload) => Ok(Message::Application(payload.len())),
        (PPID_BINARY_EMPTY, [0]) => Ok(Message::Application(0)),
        _ => Err(Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opening_packets_have_their_sizes_and_parse_back() {
        let open = open_message(&"0".repeat(40));
        let packets = [
            (
                Packet {
                    tag: 0,
                    chunks: vec![Chunk::Init { tag: 7 }],
                },
                44,
            ),
            (
                Packet {
                    tag: 7,
                    chunks: vec![Chunk::InitAck { tag: 9 }],
                },
                304,
            ),
            (
                Packet {
                    tag: 9,
                    chunks: vec![Chunk::CookieEcho, dcep(7, &open)],
                },
                340,
            ),
            (
                Packet {
                    tag: 7,
                    chunks: vec![Chunk::CookieAck, dcep(9, ACK_MESSAGE)],
                },
                36,
            ),
        ];
        for (packet, len) in packets {
            let bytes = packet.to_bytes();
            assert_eq!(bytes.len(), len, "{packet:?}");
            assert_eq!(Packet::parse(&bytes), Ok(packet.clone()));
            // Cut short, a packet never reads as the whole (a cut between
            // chunks leaves a shorter, valid packet).
            for cut in 0..bytes.len() {
                assert_ne!(
                    Packet::parse(&bytes[..cut]),
                    Ok(packet.clone()),
                    "cut at {cut}"
                );
            }
        }
        assert_eq!(message(PPID_DCEP, &open), Ok(Message::Open));
        assert_eq!(message(PPID_DCEP, ACK_MESSAGE), Ok(Message::Ack));
        assert_eq!(message(51, b"text"), Err(Malformed));
    }

    #[test]
    fn application_messages_keep_their_size() {
        for size in [0, 1, 1200] {
            let payload = vec![0; size];
            let bytes = Packet {
                tag: 1,
                chunks: vec![binary(5, &payload)],
            }
            .to_bytes();
            let packet = Packet::parse(&bytes).unwrap();
            let [Chunk::Data { ppid, payload, .. }] = packet.chunks[..] else {
                panic!("one DATA chunk");
            };
            assert_eq!(message(ppid, payload), Ok(Message::Application(size)));
        }
    }
}
