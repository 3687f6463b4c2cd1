//! The modelled TLS 1.3 handshake carried in CRYPTO frames (RFC 9001),
//! its transport parameters (RFC 9000 §18) and session tickets.
//!
//! No cryptography is done, but the handshake has TLS's messages, in TLS's
//! framing (a type byte and a 24-bit length, RFC 8446 §4), at realistic
//! sizes, at the right encryption levels and in the right order, so that
//! it costs the bytes and round trips a real one does:
//!
//! | message | level | size (bytes, with header) |
//! |---|---|---|
//! | ClientHello | Initial | [`CLIENT_HELLO_LEN`] = 280, plus [`PSK_EXTENSIONS_LEN`] = 185 when resuming |
//! | ServerHello | Initial | [`SERVER_HELLO_LEN`] = 90 |
//! | EncryptedExtensions | Handshake | at least [`ENCRYPTED_EXTENSIONS_LEN`] = 80 |
//! | Certificate | Handshake | 8 + `certificate_chain` (full handshakes only) |
//! | CertificateVerify | Handshake | [`CERTIFICATE_VERIFY_LEN`] = 80 (full handshakes only) |
//! | Finished | Handshake, both ways | [`FINISHED_LEN`] = 36 |
//! | NewSessionTicket | 1-RTT | [`NEW_SESSION_TICKET_LEN`] = 161 |
//!
//! The bodies carry what this model needs (transport parameters, the
//! ticket's id, whether the PSK and early data were accepted) and are
//! padded with zeros to the size; anything that does not parse is a TLS
//! `decode_error` (`CRYPTO_ERROR` 0x132), a message out of order an
//! `unexpected_message` (0x10a).
//!
//! A ticket is what a client needs to resume with 0-RTT: an id the server
//! can recognise, and the server's transport parameters, which bound what
//! the client may send before it hears the server again (RFC 9000
//! §7.4.1). The server remembers the ids it issued (standing in for its
//! ticket key) and accepts each once, for anti-replay (RFC 8446 §8).

use std::collections::BTreeMap;

use sim_core::{Duration, Instant, NodeId};

use super::packet::{put_varint, varint_len, Reader};
use super::streams::Limits;
use super::TransportError;

/// The ClientHello's size without resumption: key share (x25519), SNI,
/// ALPN, signature algorithms, supported groups and versions, and QUIC's
/// transport parameters.
pub const CLIENT_HELLO_LEN: usize = 280;
/// What resumption adds to the ClientHello: the pre_shared_key extension
/// (the [`TICKET_LEN`]-byte ticket, its age and a 32-byte binder),
/// psk_key_exchange_modes and early_data.
pub const PSK_EXTENSIONS_LEN: usize = 57 + TICKET_LEN;
/// The ServerHello: random, x25519 key share, supported_versions.
pub const SERVER_HELLO_LEN: usize = 90;
/// The smallest EncryptedExtensions: ALPN and the transport parameters.
pub const ENCRYPTED_EXTENSIONS_LEN: usize = 80;
/// CertificateVerify with an ECDSA P-256 signature.
pub const CERTIFICATE_VERIFY_LEN: usize = 80;
/// Finished with a SHA-256 verify_data.
pub const FINISHED_LEN: usize = 36;
/// The opaque ticket a server issues.
pub const TICKET_LEN: usize = 128;
/// NewSessionTicket: lifetime, age_add, nonce, the ticket, early_data.
pub const NEW_SESSION_TICKET_LEN: usize = 33 + TICKET_LEN;
/// The longest handshake message accepted.
const MAX_MESSAGE_LEN: usize = 1 << 16;
/// How many issued tickets a server remembers.
const MAX_ISSUED_TICKETS: usize = 4096;

/// TLS alerts, as CRYPTO_ERROR codes 0x100 + alert.
const ALERT_UNEXPECTED_MESSAGE: u8 = 10;
const ALERT_DECODE_ERROR: u8 = 50;

/// A TLS `unexpected_message` alert.
pub(crate) const UNEXPECTED: TransportError = TransportError::Crypto(ALERT_UNEXPECTED_MESSAGE);
const DECODE: TransportError = TransportError::Crypto(ALERT_DECODE_ERROR);

/// TLS handshake message types (RFC 8446 §4).
mod kind {
    pub(super) const CLIENT_HELLO: u8 = 1;
    pub(super) const SERVER_HELLO: u8 = 2;
    pub(super) const NEW_SESSION_TICKET: u8 = 4;
    pub(super) const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub(super) const CERTIFICATE: u8 = 11;
    pub(super) const CERTIFICATE_VERIFY: u8 = 15;
    pub(super) const FINISHED: u8 = 20;
}

/// Transport parameter ids (RFC 9000 §18.2, RFC 9221 §3).
mod param {
    pub(super) const MAX_IDLE_TIMEOUT: u64 = 0x01;
    pub(super) const MAX_UDP_PAYLOAD_SIZE: u64 = 0x03;
    pub(super) const INITIAL_MAX_DATA: u64 = 0x04;
    pub(super) const INITIAL_MAX_STREAM_DATA_UNI: u64 = 0x07;
    pub(super) const INITIAL_MAX_STREAMS_UNI: u64 = 0x09;
    pub(super) const MAX_ACK_DELAY: u64 = 0x0b;
    pub(super) const MAX_DATAGRAM_FRAME_SIZE: u64 = 0x20;
}

/// The transport parameters this model exchanges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TransportParams {
    /// `max_idle_timeout` (zero: none).
    pub(crate) idle_timeout: Duration,
    /// `max_udp_payload_size`.
    pub(crate) max_udp_payload_size: u64,
    /// `initial_max_data`, `initial_max_stream_data_uni`,
    /// `initial_max_streams_uni`.
    pub(crate) limits: Limits,
    /// `max_ack_delay`.
    pub(crate) max_ack_delay: Duration,
    /// `max_datagram_frame_size` (zero: no datagrams).
    pub(crate) max_datagram_frame_size: u64,
}

impl Default for TransportParams {
    /// The values RFC 9000 §18.2 gives parameters that are absent.
    fn default() -> Self {
        TransportParams {
            idle_timeout: Duration::ZERO,
            max_udp_payload_size: 65_527,
            limits: Limits::default(),
            max_ack_delay: Duration::from_millis(25),
            max_datagram_frame_size: 0,
        }
    }
}

impl TransportParams {
    fn entries(&self) -> [(u64, u64); 7] {
        [
            (
                param::MAX_IDLE_TIMEOUT,
                self.idle_timeout.as_nanos() / 1_000_000,
            ),
            (param::MAX_UDP_PAYLOAD_SIZE, self.max_udp_payload_size),
            (param::INITIAL_MAX_DATA, self.limits.max_data),
            (
                param::INITIAL_MAX_STREAM_DATA_UNI,
                self.limits.max_stream_data,
            ),
            (param::INITIAL_MAX_STREAMS_UNI, self.limits.max_streams),
            (
                param::MAX_ACK_DELAY,
                self.max_ack_delay.as_nanos() / 1_000_000,
            ),
            (param::MAX_DATAGRAM_FRAME_SIZE, self.max_datagram_frame_size),
        ]
    }

    /// Appends the parameters, each as id, length and varint value.
    fn emit(&self, out: &mut Vec<u8>) {
        for (id, value) in self.entries() {
            put_varint(out, id);
            put_varint(out, varint_len(value) as u64);
            put_varint(out, value);
        }
    }

    /// Reads parameters; unknown ones are skipped (RFC 9000 §18.1), bad
    /// values are a `TRANSPORT_PARAMETER_ERROR`.
    fn parse(bytes: &[u8]) -> Result<Self, TransportError> {
        let mut params = TransportParams::default();
        let mut r = Reader { bytes };
        while !r.bytes.is_empty() {
            let id = r.varint().map_err(|_| DECODE)?;
            let len = r.len().map_err(|_| DECODE)?;
            let body = r.take(len).map_err(|_| DECODE)?;
            let value = || {
                let mut v = Reader { bytes: body };
                match v.varint() {
                    Ok(x) if v.bytes.is_empty() => Ok(x),
                    _ => Err(TransportError::TransportParameter),
                }
            };
            match id {
                param::MAX_IDLE_TIMEOUT => {
                    params.idle_timeout = Duration::from_millis(value()?.min(1 << 40));
                }
                param::MAX_UDP_PAYLOAD_SIZE => {
                    params.max_udp_payload_size = value()?;
                    if params.max_udp_payload_size < 1200 {
                        return Err(TransportError::TransportParameter);
                    }
                }
                param::INITIAL_MAX_DATA => params.limits.max_data = value()?,
                param::INITIAL_MAX_STREAM_DATA_UNI => params.limits.max_stream_data = value()?,
                param::INITIAL_MAX_STREAMS_UNI => {
                    params.limits.max_streams = value()?;
                    if params.limits.max_streams > 1 << 60 {
                        return Err(TransportError::TransportParameter);
                    }
                }
                param::MAX_ACK_DELAY => {
                    let ms = value()?;
                    if ms >= 1 << 14 {
                        return Err(TransportError::TransportParameter);
                    }
                    params.max_ack_delay = Duration::from_millis(ms);
                }
                param::MAX_DATAGRAM_FRAME_SIZE => params.max_datagram_frame_size = value()?,
                _ => {}
            }
        }
        Ok(params)
    }
}

/// A handshake message, as this model reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// The client's first message, with its transport parameters and the
    /// ticket it resumes with.
    ClientHello {
        params: TransportParams,
        ticket: Option<u64>,
        /// Whether 0-RTT data follows (only with a ticket).
        early_data: bool,
    },
    /// The server's answer; `psk` if it accepted the ticket.
    ServerHello { psk: bool },
    /// The server's transport parameters, and whether it accepts 0-RTT.
    EncryptedExtensions {
        params: TransportParams,
        early_data: bool,
    },
    /// The server's certificate chain.
    Certificate,
    /// The server's signature over the handshake.
    CertificateVerify,
    /// Either side's Finished.
    Finished,
    /// A ticket for a later connection.
    NewSessionTicket {
        lifetime: Duration,
        id: u64,
        params: TransportParams,
    },
}

impl Message {
    /// Appends the message, padded to its size (see the module docs);
    /// `certificate_chain` sizes a Certificate.
    pub(crate) fn emit(&self, certificate_chain: u32, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[self.kind(), 0, 0, 0]);
        let size = match self {
            Message::ClientHello {
                params,
                ticket,
                early_data,
            } => {
                put_params(params, out);
                match ticket {
                    Some(id) => {
                        out.push(1 + u8::from(*early_data));
                        out.extend_from_slice(&id.to_be_bytes());
                        CLIENT_HELLO_LEN + PSK_EXTENSIONS_LEN
                    }
                    None => {
                        out.push(0);
                        CLIENT_HELLO_LEN
                    }
                }
            }
            Message::ServerHello { psk } => {
                out.push(u8::from(*psk));
                SERVER_HELLO_LEN
            }
            Message::EncryptedExtensions { params, early_data } => {
                put_params(params, out);
                out.push(u8::from(*early_data));
                ENCRYPTED_EXTENSIONS_LEN
            }
            Message::Certificate => 8 + certificate_chain as usize,
            Message::CertificateVerify => CERTIFICATE_VERIFY_LEN,
            Message::Finished => FINISHED_LEN,
            Message::NewSessionTicket {
                lifetime,
                id,
                params,
            } => {
                let secs = u32::try_from(lifetime.as_nanos() / 1_000_000_000).unwrap_or(u32::MAX);
                out.extend_from_slice(&secs.to_be_bytes());
                out.extend_from_slice(&id.to_be_bytes());
                put_params(params, out);
                NEW_SESSION_TICKET_LEN
            }
        };
        let end = (start + size).max(out.len());
        out.resize(end, 0);
        let body = (end - start - 4) as u32;
        out[start + 1..start + 4].copy_from_slice(&body.to_be_bytes()[1..]);
    }

    fn kind(&self) -> u8 {
        match self {
            Message::ClientHello { .. } => kind::CLIENT_HELLO,
            Message::ServerHello { .. } => kind::SERVER_HELLO,
            Message::EncryptedExtensions { .. } => kind::ENCRYPTED_EXTENSIONS,
            Message::Certificate => kind::CERTIFICATE,
            Message::CertificateVerify => kind::CERTIFICATE_VERIFY,
            Message::Finished => kind::FINISHED,
            Message::NewSessionTicket { .. } => kind::NEW_SESSION_TICKET,
        }
    }

    /// Reads the message at the front of a crypto stream's contiguous
    /// bytes: `Ok(None)` until it has all arrived, else the message and its
    /// length.
    pub(crate) fn read(bytes: &[u8]) -> Result<Option<(Message, usize)>, TransportError> {
        let Some(header) = bytes.get(..4) else {
            return Ok(None);
        };
        let len =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        if len > MAX_MESSAGE_LEN {
            return Err(DECODE);
        }
        let Some(body) = bytes.get(4..4 + len) else {
            return Ok(None);
        };
        let mut r = Reader { bytes: body };
        let message = match header[0] {
            kind::CLIENT_HELLO => {
                let params = read_params(&mut r)?;
                let flag = r.u8().map_err(|_| DECODE)?;
                let ticket = match flag {
                    0 => None,
                    1 | 2 => Some(u64::from_be_bytes(r.array().map_err(|_| DECODE)?)),
                    _ => return Err(DECODE),
                };
                Message::ClientHello {
                    params,
                    ticket,
                    early_data: flag == 2,
                }
            }
            kind::SERVER_HELLO => Message::ServerHello {
                psk: read_flag(&mut r)?,
            },
            kind::ENCRYPTED_EXTENSIONS => Message::EncryptedExtensions {
                params: read_params(&mut r)?,
                early_data: read_flag(&mut r)?,
            },
            kind::CERTIFICATE => Message::Certificate,
            kind::CERTIFICATE_VERIFY => Message::CertificateVerify,
            kind::FINISHED => Message::Finished,
            kind::NEW_SESSION_TICKET => {
                let secs = u32::from_be_bytes(r.array().map_err(|_| DECODE)?);
                let id = u64::from_be_bytes(r.array().map_err(|_| DECODE)?);
                Message::NewSessionTicket {
                    lifetime: Duration::from_secs(u64::from(secs)),
                    id,
                    params: read_params(&mut r)?,
                }
            }
            _ => return Err(UNEXPECTED),
        };
        Ok(Some((message, 4 + len)))
    }
}

/// Transport parameters behind a 16-bit length.
fn put_params(params: &TransportParams, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    params.emit(&mut body);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&body);
}

fn read_params(r: &mut Reader<'_>) -> Result<TransportParams, TransportError> {
    let len = u16::from_be_bytes(r.array().map_err(|_| DECODE)?);
    TransportParams::parse(r.take(usize::from(len)).map_err(|_| DECODE)?)
}

fn read_flag(r: &mut Reader<'_>) -> Result<bool, TransportError> {
    match r.u8() {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        _ => Err(DECODE),
    }
}

/// A ticket a client holds for a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) id: u64,
    /// The server's transport parameters when it issued the ticket.
    pub(crate) params: TransportParams,
    pub(crate) expires: Instant,
}

/// An endpoint's tickets: those it holds as a client, per server, and the
/// ids it issued as a server.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tickets {
    held: BTreeMap<NodeId, Ticket>,
    issued: BTreeMap<u64, Instant>,
}

impl Tickets {
    /// Takes the ticket held for `peer`, if it is still valid: each ticket
    /// is used once.
    pub(crate) fn take(&mut self, peer: NodeId, now: Instant) -> Option<Ticket> {
        self.held.remove(&peer).filter(|t| t.expires > now)
    }

    /// Whether a valid ticket for `peer` is held.
    pub(crate) fn holds(&self, peer: NodeId, now: Instant) -> bool {
        self.held.get(&peer).is_some_and(|t| t.expires > now)
    }

    /// Keeps a ticket from `peer`, replacing any earlier one.
    pub(crate) fn hold(&mut self, peer: NodeId, ticket: Ticket) {
        self.held.insert(peer, ticket);
    }

    /// Remembers an issued ticket id until `expires`; past
    /// `MAX_ISSUED_TICKETS`, expired ids and then the lowest go first.
    pub(crate) fn issue(&mut self, id: u64, expires: Instant, now: Instant) {
        if self.issued.len() >= MAX_ISSUED_TICKETS {
            self.issued.retain(|_, &mut e| e > now);
            while self.issued.len() >= MAX_ISSUED_TICKETS {
                self.issued.pop_first();
            }
        }
        self.issued.insert(id, expires);
    }

    /// Accepts an issued ticket once, if it has not expired.
    pub(crate) fn redeem(&mut self, id: u64, now: Instant) -> bool {
        self.issued.remove(&id).is_some_and(|e| e > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> TransportParams {
        TransportParams {
            idle_timeout: Duration::from_secs(30),
            max_udp_payload_size: 1200,
            limits: Limits {
                max_data: 1 << 24,
                max_stream_data: 1 << 22,
                max_streams: 100,
            },
            max_ack_delay: Duration::from_millis(25),
            max_datagram_frame_size: 65_535,
        }
    }

    #[test]
    fn messages_round_trip_at_their_documented_sizes() {
        for (message, size) in [
            (
                Message::ClientHello {
                    params: params(),
                    ticket: None,
                    early_data: false,
                },
                CLIENT_HELLO_LEN,
            ),
            (
                Message::ClientHello {
                    params: params(),
                    ticket: Some(7),
                    early_data: true,
                },
                CLIENT_HELLO_LEN + PSK_EXTENSIONS_LEN,
            ),
            (Message::ServerHello { psk: true }, SERVER_HELLO_LEN),
            (
                Message::EncryptedExtensions {
                    params: params(),
                    early_data: true,
                },
                ENCRYPTED_EXTENSIONS_LEN,
            ),
            (Message::Certificate, 1508),
            (Message::CertificateVerify, CERTIFICATE_VERIFY_LEN),
            (Message::Finished, FINISHED_LEN),
            (
                Message::NewSessionTicket {
                    lifetime: Duration::from_secs(3600),
                    id: 99,
                    params: params(),
                },
                NEW_SESSION_TICKET_LEN,
            ),
        ] {
            let mut bytes = Vec::new();
            message.emit(1500, &mut bytes);
            assert_eq!(bytes.len(), size, "{message:?}");
            assert_eq!(Message::read(&bytes), Ok(Some((message.clone(), size))));
            assert_eq!(Message::read(&bytes[..size - 1]), Ok(None), "{message:?}");
        }
    }

    #[test]
    fn bad_messages_are_crypto_errors() {
        assert_eq!(Message::read(&[99, 0, 0, 0]), Err(UNEXPECTED));
        assert_eq!(
            Message::read(&[kind::SERVER_HELLO, 0, 0, 1, 7]),
            Err(DECODE)
        );
        assert_eq!(
            Message::read(&[kind::FINISHED, 0xff, 0xff, 0xff]),
            Err(DECODE)
        );
        let mut bad_param = Vec::new();
        put_varint(&mut bad_param, param::MAX_ACK_DELAY);
        put_varint(&mut bad_param, 2);
        put_varint(&mut bad_param, 1 << 14);
        assert_eq!(
            TransportParams::parse(&bad_param),
            Err(TransportError::TransportParameter)
        );
    }

    #[test]
    fn tickets_are_single_use_and_expire() {
        let mut tickets = Tickets::default();
        let now = Instant::ZERO;
        let later = now + Duration::from_secs(10);
        tickets.issue(1, later, now);
        assert!(!tickets.redeem(2, now));
        assert!(tickets.redeem(1, now));
        assert!(!tickets.redeem(1, now), "single use");
        tickets.issue(3, later, now);
        assert!(!tickets.redeem(3, later), "expired");
    }
}
