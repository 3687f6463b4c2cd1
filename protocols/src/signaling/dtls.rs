//! DTLS 1.2 (RFC 6347) as WebRTC runs it on the direct path, modelled: real
//! record and handshake headers with the sizes of a full ECDHE-ECDSA
//! handshake between two browsers, and no cryptography.
//!
//! # The handshake (two round trips)
//!
//! | flight | sender | records                                                           | bytes |
//! |--------|--------|-------------------------------------------------------------------|-------|
//! | 1      | client | `ClientHello`                                                     | 169   |
//! | 4      | server | `ServerHello`, `Certificate`, `ServerKeyExchange`, `CertificateRequest`, `ServerHelloDone` | 758 |
//! | 5      | client | `Certificate`, `ClientKeyExchange`, `CertificateVerify`, `ChangeCipherSpec`, `Finished` (encrypted) | 688 |
//! | 6      | server | `ChangeCipherSpec`, `Finished` (encrypted)                         | 75    |
//!
//! Each handshake message has a record of its own (13-byte header) and a
//! 12-byte DTLS handshake header. The certificates are the self-signed
//! ECDSA P-256 certificates browsers generate (their fingerprints are the
//! ones in the SDP). There is no `HelloVerifyRequest`: browsers skip the
//! cookie exchange on the direct path.
//!
//! After the handshake, each datagram is one application-data record in
//! epoch 1: header, 8-byte explicit nonce, the data (an SCTP packet) and a
//! 16-byte AES-128-GCM tag: [`APPLICATION_OVERHEAD`] = 37 bytes.
//!
//! # Implementation notes
//!
//! - Nothing is encrypted and nothing is signed: contents are zeros of the
//!   real sizes, and the encrypted records hold their plaintext.
//! - A lost flight is not retransmitted (DTLS would resend it after 1 s,
//!   doubling); the connection attempt then runs into its set-up timeout.
//!
//! Parsing never panics: [`parse`] checks every length before it reads.

/// A DTLS record header: type, version, epoch, 48-bit sequence, length.
pub const RECORD_HEADER_LEN: usize = 13;
/// A DTLS handshake header: type, length, message sequence, fragment
/// offset and fragment length.
pub const HANDSHAKE_HEADER_LEN: usize = 12;
/// What an encrypted record adds to its content: header, explicit nonce,
/// tag.
pub const APPLICATION_OVERHEAD: usize = RECORD_HEADER_LEN + 8 + 16;

const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
/// DTLS 1.2 on the wire.
const VERSION: u16 = 0xFEFD;

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;
const SERVER_KEY_EXCHANGE: u8 = 12;
const CERTIFICATE_REQUEST: u8 = 13;
const SERVER_HELLO_DONE: u8 = 14;
const CERTIFICATE_VERIFY: u8 = 15;
const CLIENT_KEY_EXCHANGE: u8 = 16;
const FINISHED: u8 = 20;

/// A browser's self-signed ECDSA P-256 certificate, with the message's
/// two 24-bit length prefixes.
const CERTIFICATE_BODY: usize = 3 + 3 + 390;
/// A DER ECDSA P-256 signature, at its usual length.
const SIGNATURE: usize = 72;
/// `Finished`'s verify_data.
const VERIFY_DATA: usize = 12;

/// A handshake flight this model sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flight {
    /// Flight 1: the client opens.
    ClientHello,
    /// Flight 4: the server's hello, certificate and key share.
    ServerHello,
    /// Flight 5: the client's certificate, key share and `Finished`.
    ClientFinished,
    /// Flight 6: the server's `Finished`.
    ServerFinished,
}

/// One record of a flight: its type, epoch and, for handshake records in
/// epoch 0, the message's type and body length.
type RecordPlan = (u8, u16, Option<(u8, usize)>);

impl Flight {
    fn records(self) -> &'static [RecordPlan] {
        match self {
            Flight::ClientHello => &[(HANDSHAKE, 0, Some((CLIENT_HELLO, 144)))],
            Flight::ServerHello => &[
                (HANDSHAKE, 0, Some((SERVER_HELLO, 70))),
                (HANDSHAKE, 0, Some((CERTIFICATE, CERTIFICATE_BODY))),
                (
                    HANDSHAKE,
                    0,
                    Some((SERVER_KEY_EXCHANGE, 1 + 2 + 1 + 65 + 2 + 2 + SIGNATURE)),
                ),
                (HANDSHAKE, 0, Some((CERTIFICATE_REQUEST, 22))),
                (HANDSHAKE, 0, Some((SERVER_HELLO_DONE, 0))),
            ],
            Flight::ClientFinished => &[
                (HANDSHAKE, 0, Some((CERTIFICATE, CERTIFICATE_BODY))),
                (HANDSHAKE, 0, Some((CLIENT_KEY_EXCHANGE, 1 + 65))),
                (HANDSHAKE, 0, Some((CERTIFICATE_VERIFY, 2 + 2 + SIGNATURE))),
                (CHANGE_CIPHER_SPEC, 0, None),
                (HANDSHAKE, 1, None),
            ],
            Flight::ServerFinished => &[(CHANGE_CIPHER_SPEC, 0, None), (HANDSHAKE, 1, None)],
        }
    }

    /// The flight on the wire.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &(kind, epoch, message)) in self.records().iter().enumerate() {
            let body = match (kind, message) {
                (CHANGE_CIPHER_SPEC, _) => vec![1],
                (_, Some((message, len))) => handshake_message(message, i as u16, len),
                // The encrypted Finished: nonce, header and verify_data, tag.
                _ => {
                    let mut body = vec![0; 8];
                    body.extend(handshake_message(FINISHED, i as u16, VERIFY_DATA));
                    body.extend([0; 16]);
                    body
                }
            };
            record(&mut out, kind, epoch, i as u64, &body);
        }
        out
    }
}

/// What a direct-path DTLS datagram carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtls<'a> {
    /// A handshake flight.
    Flight(Flight),
    /// An application-data record's content.
    ApplicationData(&'a [u8]),
}

/// The bytes are not a DTLS datagram this model sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// `data` in an application-data record with sequence number `seq`.
pub fn application_data(seq: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(8 + data.len() + 16);
    body.extend_from_slice(&seq.to_be_bytes());
    body.extend_from_slice(data);
    body.extend_from_slice(&[0; 16]);
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + body.len());
    record(&mut out, APPLICATION_DATA, 1, seq, &body);
    out
}

/// What the datagram `bytes` carries.
pub fn parse(mut bytes: &[u8]) -> Result<Dtls<'_>, Malformed> {
    let mut plan: Vec<RecordPlan> = Vec::new();
    let mut application = None;
    while !bytes.is_empty() {
        let header = bytes.get(..RECORD_HEADER_LEN).ok_or(Malformed)?;
        let kind = header[0];
        let version = u16::from_be_bytes([header[1], header[2]]);
        let epoch = u16::from_be_bytes([header[3], header[4]]);
        let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
        let body = bytes
            .get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len)
            .ok_or(Malformed)?;
        if version != VERSION {
            return Err(Malformed);
        }
        let message = match (kind, epoch) {
            (HANDSHAKE, 0) => Some(handshake_header(body)?),
            (APPLICATION_DATA, 1) => {
                let data_len = body.len().checked_sub(8 + 16).ok_or(Malformed)?;
                application = Some(&body[8..8 + data_len]);
                None
            }
            (CHANGE_CIPHER_SPEC, 0) if body == [1] => None,
            (HANDSHAKE, 1) if body.len() == 8 + HANDSHAKE_HEADER_LEN + VERIFY_DATA + 16 => None,
            _ => return Err(Malformed),
        };
        plan.push((kind, epoch, message));
        bytes = &bytes[RECORD_HEADER_LEN + len..];
    }
    if let (Some(data), [(APPLICATION_DATA, 1, None)]) = (application, plan.as_slice()) {
        return Ok(Dtls::ApplicationData(data));
    }
    [
        Flight::ClientHello,
        Flight::ServerHello,
        Flight::ClientFinished,
        Flight::ServerFinished,
    ]
    .into_iter()
    .find(|flight| flight.records() == plan.as_slice())
    .map(Dtls::Flight)
    .ok_or(Malformed)
}

/// A whole (unfragmented) handshake message's type and body length.
fn handshake_header(body: &[u8]) -> Result<(u8, usize), Malformed> {
    let header = body.get(..HANDSHAKE_HEADER_LEN).ok_or(Malformed)?;
    let u24 = |at: usize| {
        usize::from(header[at]) << 16
            | usize::from(header[at + 1]) << 8
            | usize::from(header[at + 2])
    };
    let (len, offset, fragment) = (u24(1), u24(6), u24(9));
    if offset != 0 || fragment != len || body.len() != HANDSHAKE_HEADER_LEN + len {
        return Err(Malformed);
    }
    Ok((header[0], len))
}

fn handshake_message(kind: u8, seq: u16, len: usize) -> Vec<u8> {
    let mut message = vec![0; HANDSHAKE_HEADER_LEN + len];
    let len = (len as u32).to_be_bytes();
    message[0] = kind;
    message[1..4].copy_from_slice(&len[1..]);
    message[4..6].copy_from_slice(&seq.to_be_bytes());
    // Fragment offset 0, fragment length = length: never fragmented.
    message[9..12].copy_from_slice(&len[1..]);
    message
}

fn record(out: &mut Vec<u8>, kind: u8, epoch: u16, seq: u64, body: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes()[2..]);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLIGHTS: [(Flight, usize); 4] = [
        (Flight::ClientHello, 169),
        (Flight::ServerHello, 758),
        (Flight::ClientFinished, 688),
        (Flight::ServerFinished, 75),
    ];

    #[test]
    fn flights_have_their_sizes_and_parse_back() {
        for (flight, len) in FLIGHTS {
            let bytes = flight.to_bytes();
            assert_eq!(bytes.len(), len, "{flight:?}");
            assert_eq!(parse(&bytes), Ok(Dtls::Flight(flight)));
        }
        let bytes = application_data(3, b"sctp");
        assert_eq!(bytes.len(), APPLICATION_OVERHEAD + 4);
        assert_eq!(parse(&bytes), Ok(Dtls::ApplicationData(b"sctp")));
    }

    #[test]
    fn every_cut_short_flight_is_malformed() {
        for (flight, _) in FLIGHTS {
            let bytes = flight.to_bytes();
            for cut in 0..bytes.len() {
                assert_eq!(
                    parse(&bytes[..cut]),
                    Err(Malformed),
                    "{flight:?} cut at {cut}"
                );
            }
        }
    }
}
