//! STUN (RFC 5389) as ICE uses it (RFC 8445): the Binding request of a
//! connectivity check and its success response.
//!
//! A message is a 20-byte header (type, length, the magic cookie
//! `0x2112A442`, a 96-bit transaction id) and type-length-value attributes
//! padded to 4 bytes. The controlling agent's check carries `USERNAME`
//! (`remote-ufrag:local-ufrag`), `PRIORITY`, `ICE-CONTROLLING`,
//! `USE-CANDIDATE` (aggressive nomination), `MESSAGE-INTEGRITY` and
//! `FINGERPRINT`: 92 bytes with 4-character fragments. The response carries
//! `XOR-MAPPED-ADDRESS` (the requester's address as the responder saw it),
//! `MESSAGE-INTEGRITY` and `FINGERPRINT`: 76 bytes.
//!
//! # Implementation notes
//!
//! - `FINGERPRINT` is the real CRC-32 and is checked; `MESSAGE-INTEGRITY`
//!   is the right size but zeros (no HMAC-SHA1: nothing here is secret), so
//!   the ICE password is not checked; the `USERNAME` is.
//! - A comprehension-required attribute this model does not know makes the
//!   message malformed (a real agent would answer 420).
//!
//! Parsing never panics: [`Stun::parse`] checks every length before it
//! reads.

use std::net::Ipv6Addr;

/// The fixed header.
pub const HEADER_LEN: usize = 20;
/// The magic cookie every RFC 5389 message carries.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;

const USERNAME: u16 = 0x0006;
const MESSAGE_INTEGRITY: u16 = 0x0008;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const PRIORITY: u16 = 0x0024;
const USE_CANDIDATE: u16 = 0x0025;
const FINGERPRINT: u16 = 0x8028;
const ICE_CONTROLLING: u16 = 0x802A;

const FINGERPRINT_XOR: u32 = 0x5354_554E;
const FAMILY_IPV6: u8 = 0x02;

/// The bytes are not a STUN message this model accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// A connectivity check or its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stun {
    /// The controlling agent's check, nominating the pair.
    Request {
        /// The transaction id.
        transaction: [u8; 12],
        /// `remote-ufrag:local-ufrag`.
        username: String,
        /// The priority of the peer-reflexive candidate it would be.
        priority: u32,
        /// The ICE role tiebreaker.
        tiebreaker: u64,
    },
    /// The success response.
    Response {
        /// The request's transaction id.
        transaction: [u8; 12],
        /// The requester's address and port as the responder saw them.
        mapped: (Ipv6Addr, u16),
    },
}

impl Stun {
    /// The transaction id.
    pub fn transaction(&self) -> [u8; 12] {
        match self {
            Stun::Request { transaction, .. } | Stun::Response { transaction, .. } => *transaction,
        }
    }

    /// The message on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (kind, transaction) = match self {
            Stun::Request { transaction, .. } => (BINDING_REQUEST, transaction),
            Stun::Response { transaction, .. } => (BINDING_SUCCESS, transaction),
        };
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out.extend_from_slice(transaction);
        match self {
            Stun::Request {
                username,
                priority,
                tiebreaker,
                ..
            } => {
                attribute(&mut out, USERNAME, username.as_bytes());
                attribute(&mut out, PRIORITY, &priority.to_be_bytes());
                attribute(&mut out, ICE_CONTROLLING, &tiebreaker.to_be_bytes());
                attribute(&mut out, USE_CANDIDATE, &[]);
            }
            Stun::Response {
                transaction,
                mapped: (address, port),
            } => {
                let mut value = vec![0, FAMILY_IPV6];
                value.extend_from_slice(&(port ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes());
                value.extend(
                    address
                        .octets()
                        .iter()
                        .zip(xor_key(transaction))
                        .map(|(a, k)| a ^ k),
                );
                attribute(&mut out, XOR_MAPPED_ADDRESS, &value);
            }
        }
        // MESSAGE-INTEGRITY and FINGERPRINT each cover the message with the
        // length field counting up to and including themselves.
        set_length(&mut out, 4 + 20);
        attribute(&mut out, MESSAGE_INTEGRITY, &[0; 20]);
        set_length(&mut out, 4 + 4);
        let crc = crc32fast::hash(&out) ^ FINGERPRINT_XOR;
        attribute(&mut out, FINGERPRINT, &crc.to_be_bytes());
        out
    }

    /// The message `bytes` holds.
    pub fn parse(bytes: &[u8]) -> Result<Stun, Malformed> {
        if bytes.len() < HEADER_LEN || bytes[0] & 0xC0 != 0 {
            return Err(Malformed);
        }
        let kind = u16::from_be_bytes([bytes[0], bytes[1]]);
        let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if len % 4 != 0
            || bytes.len() != HEADER_LEN + len
            || bytes[4..8] != MAGIC_COOKIE.to_be_bytes()
        {
            return Err(Malformed);
        }
        let mut transaction = [0; 12];
        transaction.copy_from_slice(&bytes[8..20]);

        let mut username = None;
        let mut priority = None;
        let mut tiebreaker = None;
        let mut mapped = None;
        let mut use_candidate = false;
        let mut integrity = false;
        let mut fingerprint = false;
        let mut pos = HEADER_LEN;
        while pos < bytes.len() {
            if fingerprint {
                // FINGERPRINT must be the last attribute.
                return Err(Malformed);
            }
            let header = bytes.get(pos..pos + 4).ok_or(Malformed)?;
            let kind = u16::from_be_bytes([header[0], header[1]]);
            let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let value = bytes.get(pos + 4..pos + 4 + len).ok_or(Malformed)?;
            match kind {
                USERNAME => {
                    username = Some(String::from_utf8(value.to_vec()).map_err(|_| Malformed)?)
                }
                PRIORITY => priority = Some(u32::from_be_bytes(array(value)?)),
                ICE_CONTROLLING => tiebreaker = Some(u64::from_be_bytes(array(value)?)),
                USE_CANDIDATE if value.is_empty() => use_candidate = true,
                XOR_MAPPED_ADDRESS => mapped = Some(xor_mapped(value, &transaction)?),
                MESSAGE_INTEGRITY if value.len() == 20 => integrity = true,
                FINGERPRINT => {
                    let crc = crc32fast::hash(&bytes[..pos]) ^ FINGERPRINT_XOR;
                    if array(value)? != crc.to_be_bytes() {
                        return Err(Malformed);
                    }
                    fingerprint = true;
                }
                kind if kind >= 0x8000 => {}
                _ => return Err(Malformed),
            }
            pos += 4 + len.next_multiple_of(4);
        }
        if !(integrity && fingerprint) {
            return Err(Malformed);
        }
        match (kind, username, priority, tiebreaker, mapped) {
            (BINDING_REQUEST, Some(username), Some(priority), Some(tiebreaker), None)
                if use_candidate =>
            {
                Ok(Stun::Request {
                    transaction,
                    username,
                    priority,
                    tiebreaker,
                })
            }
            (BINDING_SUCCESS, None, None, None, Some(mapped)) => Ok(Stun::Response {
                transaction,
                mapped,
            }),
            _ => Err(Malformed),
        }
    }
}

fn attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Sets the header's length to what the message will be once `extra` more
/// bytes follow.
fn set_length(out: &mut [u8], extra: usize) {
    let len = (out.len() - HEADER_LEN + extra) as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
}

/// The cookie and transaction id an IPv6 address is XORed with.
fn xor_key(transaction: &[u8; 12]) -> impl Iterator<Item = u8> + '_ {
    MAGIC_COOKIE
        .to_be_bytes()
        .into_iter()
        .chain(transaction.iter().copied())
}

fn xor_mapped(value: &[u8], transaction: &[u8; 12]) -> Result<(Ipv6Addr, u16), Malformed> {
    let [0, FAMILY_IPV6, high, low, ref address @ ..] = *value else {
        return Err(Malformed);
    };
    let address: [u8; 16] = array(address)?;
    let mut octets = [0; 16];
    for ((o, a), k) in octets.iter_mut().zip(address).zip(xor_key(transaction)) {
        *o = a ^ k;
    }
    let port = u16::from_be_bytes([high, low]) ^ (MAGIC_COOKIE >> 16) as u16;
    Ok((Ipv6Addr::from(octets), port))
}

fn array<const N: usize>(value: &[u8]) -> Result<[u8; N], Malformed> {
    value.try_into().map_err(|_| Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Stun {
        Stun::Request {
            transaction: [9; 12],
            username: "abcd:wxyz".into(),
            priority: 1_853_824_767,
            tiebreaker: 0x0102_0304_0506_0708,
        }
    }

    #[test]
    fn checks_and_answers_round_trip_with_their_sizes() {
        let bytes = request().to_bytes();
        assert_eq!(bytes.len(), 92);
        assert_eq!(Stun::parse(&bytes), Ok(request()));
        let response = Stun::Response {
            transaction: [9; 12],
            mapped: ("fd00::7".parse().unwrap(), 50_000),
        };
        let bytes = response.to_bytes();
        assert_eq!(bytes.len(), 76);
        assert_eq!(Stun::parse(&bytes), Ok(response));
    }

    #[test]
    fn a_flipped_bit_fails_the_fingerprint() {
        let bytes = request().to_bytes();
        for i in 0..bytes.len() {
            let mut copy = bytes.clone();
            copy[i] ^= 0x10;
            assert!(Stun::parse(&copy).is_err(), "flip at {i}");
        }
        for cut in 0..bytes.len() {
            assert_eq!(Stun::parse(&bytes[..cut]), Err(Malformed));
        }
    }
}
