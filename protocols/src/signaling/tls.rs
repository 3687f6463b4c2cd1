//! The TLS 1.3 that `wss://` runs over, modelled: real record framing and
//! handshake message headers with the sizes a browser and API Gateway
//! exchange, and no cryptography.
//!
//! # The handshake (one round trip)
//!
//! | datagram            | records                                                     | bytes |
//! |---------------------|-------------------------------------------------------------|-------|
//! | client → server     | `ClientHello` (padded to 512 bytes, as Chrome pads it)       | 517   |
//! | server → client     | `ServerHello`, `ChangeCipherSpec`, one sealed record holding `EncryptedExtensions`, `Certificate` (an RSA-2048 leaf and intermediate), `CertificateVerify`, `Finished` | 3,094 |
//! | client → server     | `ChangeCipherSpec`, sealed `Finished`, then the first application data (the HTTP upgrade) | 64 + data |
//!
//! After that every datagram is one or more sealed records of application
//! data. A sealed record is a TLS 1.3 `TLSCiphertext`: a 5-byte header
//! (type 23, version 0x0303, length), the inner plaintext, the inner content
//! type byte, and a 16-byte AEAD tag: [`SEALED_OVERHEAD`] = 22 bytes per
//! record, for at most [`MAX_PLAINTEXT`] bytes of data.
//!
//! # Implementation notes
//!
//! - Nothing is encrypted: the inner plaintext travels as is and the tag is
//!   zeros. Every size is the real one.
//! - The connection is a TCP stream in reality. Here each datagram carries a
//!   whole number of records, and the application data of one datagram is a
//!   whole number of WebSocket frames; TCP's own handshake, acknowledgements
//!   and retransmissions are not modelled (a lost datagram is lost).
//! - No session tickets, alerts or resumption.
//!
//! Parsing never panics: [`parse`] checks every length before it reads.

/// A record header: content type, legacy version, length.
pub const RECORD_HEADER_LEN: usize = 5;
/// The AEAD tag of a sealed record (AES-128-GCM).
pub const TAG_LEN: usize = 16;
/// What sealing adds to each record's data: header, inner type, tag.
pub const SEALED_OVERHEAD: usize = RECORD_HEADER_LEN + 1 + TAG_LEN;
/// The most data one record carries (2¹⁴ bytes).
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// A handshake message header: type and 24-bit length.
pub const HANDSHAKE_HEADER_LEN: usize = 4;

/// The `ClientHello` body: Chrome pads the message to 512 bytes.
pub const CLIENT_HELLO_BODY: usize = 512 - HANDSHAKE_HEADER_LEN;
/// The `ServerHello` body (TLS 1.3 with an X25519 key share).
pub const SERVER_HELLO_BODY: usize = 118;
/// `EncryptedExtensions` with ALPN `http/1.1`.
pub const ENCRYPTED_EXTENSIONS_BODY: usize = 17;
/// `Certificate`: a 1,500-byte leaf and a 1,100-byte intermediate with their
/// length prefixes.
pub const CERTIFICATE_BODY: usize = 1 + 3 + (3 + 1_500 + 2) + (3 + 1_100 + 2);
/// `CertificateVerify`: an RSA-PSS-2048 signature.
pub const CERTIFICATE_VERIFY_BODY: usize = 2 + 2 + 256;
/// `Finished`: a SHA-256 verify_data.
pub const FINISHED_BODY: usize = 32;

const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const CERTIFICATE: u8 = 11;
const CERTIFICATE_VERIFY: u8 = 15;
const FINISHED: u8 = 20;

/// The server's encrypted handshake messages, in order.
const SERVER_ENCRYPTED: [(u8, usize); 4] = [
    (ENCRYPTED_EXTENSIONS, ENCRYPTED_EXTENSIONS_BODY),
    (CERTIFICATE, CERTIFICATE_BODY),
    (CERTIFICATE_VERIFY, CERTIFICATE_VERIFY_BODY),
    (FINISHED, FINISHED_BODY),
];

/// The bytes are not a flight this model sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// What one datagram of the connection carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flight {
    /// The client's first flight.
    ClientHello,
    /// The server's flight, ending in its `Finished`.
    ServerHello,
    /// The client's `Finished` and the application data sent with it.
    ClientFinished(Vec<u8>),
    /// Application data, the records' plaintext joined.
    ApplicationData(Vec<u8>),
}

/// The client's first flight.
pub fn client_hello() -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + 512);
    let body = handshake_message(CLIENT_HELLO, CLIENT_HELLO_BODY);
    // The first ClientHello record carries legacy version 0x0301.
    record(&mut out, HANDSHAKE, 0x0301, &body);
    out
}

/// The server's flight.
pub fn server_hello() -> Vec<u8> {
    let mut out = Vec::new();
    record(
        &mut out,
        HANDSHAKE,
        0x0303,
        &handshake_message(SERVER_HELLO, SERVER_HELLO_BODY),
    );
    record(&mut out, CHANGE_CIPHER_SPEC, 0x0303, &[1]);
    let inner: Vec<u8> = SERVER_ENCRYPTED
        .iter()
        .flat_map(|&(kind, len)| handshake_message(kind, len))
        .collect();
    sealed_record(&mut out, HANDSHAKE, &inner);
    out
}

/// The client's second flight, with `data` (the HTTP upgrade request) sent
/// behind its `Finished`.
pub fn client_finished(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    record(&mut out, CHANGE_CIPHER_SPEC, 0x0303, &[1]);
    sealed_record(
        &mut out,
        HANDSHAKE,
        &handshake_message(FINISHED, FINISHED_BODY),
    );
    out.extend(seal(data));
    out
}

/// `data` as sealed application-data records of at most [`MAX_PLAINTEXT`]
/// bytes each.
pub fn seal(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + SEALED_OVERHEAD);
    for chunk in data.chunks(MAX_PLAINTEXT) {
        sealed_record(&mut out, APPLICATION_DATA, chunk);
    }
    out
}

/// What the datagram `bytes` carries.
pub fn parse(bytes: &[u8]) -> Result<Flight, Malformed> {
    let records = records(bytes)?;
    match records.as_slice() {
        [(HANDSHAKE, body)] if handshake_kinds(body)? == [CLIENT_HELLO] => Ok(Flight::ClientHello),
        [(HANDSHAKE, hello), (CHANGE_CIPHER_SPEC, [1]), (APPLICATION_DATA, sealed)]
            if handshake_kinds(hello)? == [SERVER_HELLO] =>
        {
            let kinds = handshake_kinds(open(sealed, HANDSHAKE)?)?;
            if kinds != SERVER_ENCRYPTED.map(|(kind, _)| kind) {
                return Err(Malformed);
            }
            Ok(Flight::ServerHello)
        }
        [(CHANGE_CIPHER_SPEC, [1]), (APPLICATION_DATA, finished), rest @ ..]
            if !rest.is_empty() =>
        {
            if handshake_kinds(open(finished, HANDSHAKE)?)? != [FINISHED] {
                return Err(Malformed);
            }
            Ok(Flight::ClientFinished(application_data(rest)?))
        }
        [] => Err(Malformed),
        records => Ok(Flight::ApplicationData(application_data(records)?)),
    }
}

/// The plaintext of sealed application-data records, joined.
fn application_data(records: &[(u8, &[u8])]) -> Result<Vec<u8>, Malformed> {
    let mut data = Vec::new();
    for &(kind, body) in records {
        if kind != APPLICATION_DATA {
            return Err(Malformed);
        }
        data.extend_from_slice(open(body, APPLICATION_DATA)?);
    }
    Ok(data)
}

/// Splits a datagram into `(content type, body)` records.
fn records(mut bytes: &[u8]) -> Result<Vec<(u8, &[u8])>, Malformed> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let [kind, major, _, high, low, ..] = *bytes else {
            return Err(Malformed);
        };
        let len = usize::from(u16::from_be_bytes([high, low]));
        if major != 3 || len > MAX_PLAINTEXT + 256 || bytes.len() < RECORD_HEADER_LEN + len {
            return Err(Malformed);
        }
        let (record, rest) = bytes.split_at(RECORD_HEADER_LEN + len);
        records.push((kind, &record[RECORD_HEADER_LEN..]));
        bytes = rest;
    }
    Ok(records)
}

/// The inner plaintext of a sealed record whose inner type must be `kind`.
fn open(body: &[u8], kind: u8) -> Result<&[u8], Malformed> {
    let inner_len = body.len().checked_sub(TAG_LEN + 1).ok_or(Malformed)?;
    if body[inner_len] != kind || inner_len > MAX_PLAINTEXT {
        return Err(Malformed);
    }
    Ok(&body[..inner_len])
}

/// The types of the handshake messages that exactly fill `bytes`.
fn handshake_kinds(mut bytes: &[u8]) -> Result<Vec<u8>, Malformed> {
    let mut kinds = Vec::new();
    while !bytes.is_empty() {
        let [kind, a, b, c, ..] = *bytes else {
            return Err(Malformed);
        };
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        bytes = bytes.get(HANDSHAKE_HEADER_LEN + len..).ok_or(Malformed)?;
        kinds.push(kind);
    }
    Ok(kinds)
}

fn handshake_message(kind: u8, body_len: usize) -> Vec<u8> {
    let mut message = vec![0; HANDSHAKE_HEADER_LEN + body_len];
    message[0] = kind;
    message[1..4].copy_from_slice(&(body_len as u32).to_be_bytes()[1..]);
    message
}

fn record(out: &mut Vec<u8>, kind: u8, version: u16, body: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

fn sealed_record(out: &mut Vec<u8>, inner_kind: u8, inner: &[u8]) {
    out.push(APPLICATION_DATA);
    out.extend_from_slice(&0x0303u16.to_be_bytes());
    out.extend_from_slice(&((inner.len() + 1 + TAG_LEN) as u16).to_be_bytes());
    out.extend_from_slice(inner);
    out.push(inner_kind);
    out.extend_from_slice(&[0; TAG_LEN]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flights_have_their_modelled_sizes_and_parse_back() {
        assert_eq!(client_hello().len(), 517);
        assert_eq!(parse(&client_hello()), Ok(Flight::ClientHello));
        assert_eq!(server_hello().len(), 3_094);
        assert_eq!(parse(&server_hello()), Ok(Flight::ServerHello));
        let finished = client_finished(b"GET");
        assert_eq!(finished.len(), 64 + SEALED_OVERHEAD + 3);
        assert_eq!(
            parse(&finished),
            Ok(Flight::ClientFinished(b"GET".to_vec()))
        );
    }

    #[test]
    fn application_data_is_split_into_records_and_joined_again() {
        let data: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let sealed = seal(&data);
        assert_eq!(sealed.len(), data.len() + 3 * SEALED_OVERHEAD);
        assert_eq!(parse(&sealed), Ok(Flight::ApplicationData(data)));
    }

    #[test]
    fn every_cut_short_flight_is_malformed() {
        for flight in [
            client_hello(),
            server_hello(),
            client_finished(b"x"),
            seal(b"abc"),
        ] {
            for cut in 0..flight.len() {
                assert_eq!(parse(&flight[..cut]), Err(Malformed), "cut at {cut}");
            }
        }
    }
}
