//! The session's keys and its AEAD: X25519, HKDF-SHA256, AES-256-GCM.
//!
//! Each side of a connection makes a [`KeyPair`] from the protocol's seeded
//! RNG (32 random bytes, clamped by X25519 — no OS randomness) and sends its
//! public key in its hello. Both then compute the X25519 shared secret and
//! derive one 32-byte AES-256-GCM key with HKDF-SHA256:
//!
//! - salt: [`HKDF_SALT`];
//! - input key material: the shared secret;
//! - info: the initiator's public key, then the responder's.
//!
//! A shared secret that is all zeros (the peer sent a low-order point) is
//! refused. The nonce of a sealed frame is 12 bytes:
//!
//! ```text
//! | direction (1) | frame type (1) | zeros (6) | sequence number (4, big-endian) |
//! ```
//!
//! where the direction is 0 from the initiator and 1 from the responder.
//! Data frames number themselves in one sequence and every other sealed
//! frame in another (see [`frame`](super::frame)), and a retransmission is
//! the same frame byte for byte, so one key never seals two different
//! messages under one nonce. The 18 header bytes are the associated data:
//! the type, flags, sequence number and timestamp are authenticated too.
//!
//! [`Encryption::Modelled`](super::Encryption::Modelled) keeps the sizes and
//! drops the work: the public key is random bytes, the tag is zeros, and
//! nothing is checked but the CRC.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Tag};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

use super::frame::{Kind, KEY_LEN, TAG_LEN};

/// The HKDF salt: names the protocol and the suite.
pub const HKDF_SALT: &[u8] = b"HTX/1 X25519 HKDF-SHA256 AES-256-GCM";

/// Which end of the connection a side is: the one that sent the client
/// hello, or the one that answered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sent the client hello.
    Initiator,
    /// Answered it.
    Responder,
}

impl Role {
    /// The nonce's direction byte for frames this role sends.
    fn direction(self) -> u8 {
        match self {
            Role::Initiator => 0,
            Role::Responder => 1,
        }
    }

    /// The other end.
    pub fn peer(self) -> Role {
        match self {
            Role::Initiator => Role::Responder,
            Role::Responder => Role::Initiator,
        }
    }
}

/// A sealed payload did not authenticate, or a key agreement failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("HTX authentication failed")]
pub struct AuthError;

/// One side's hello key: a real X25519 key pair, or random bytes when the
/// crypto is modelled.
#[derive(Clone)]
pub struct KeyPair {
    secret: Option<StaticSecret>,
    public: [u8; KEY_LEN],
}

impl std::fmt::Debug for KeyPair {
    /// Shows the public key only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .field("modelled", &self.secret.is_none())
            .finish()
    }
}

impl KeyPair {
    /// A fresh key pair from `rng`: 32 random bytes, turned into an X25519
    /// key unless `modelled`, when they are sent as they are.
    pub fn generate(rng: &mut impl RngCore, modelled: bool) -> KeyPair {
        let mut bytes = [0; KEY_LEN];
        rng.fill_bytes(&mut bytes);
        if modelled {
            return KeyPair {
                secret: None,
                public: bytes,
            };
        }
        let secret = StaticSecret::from(bytes);
        let public = PublicKey::from(&secret).to_bytes();
        KeyPair {
            secret: Some(secret),
            public,
        }
    }

    /// The bytes a hello carries.
    pub fn public(&self) -> [u8; KEY_LEN] {
        self.public
    }

    /// The session between this key pair, held by `role`, and the peer's
    /// public key.
    pub fn agree(&self, role: Role, peer: &[u8; KEY_LEN]) -> Result<Session, AuthError> {
        let Some(secret) = &self.secret else {
            return Ok(Session { role, cipher: None });
        };
        let key = self.derive(secret, role, peer)?;
        Ok(Session {
            role,
            cipher: Some(Box::new(Aes256Gcm::new(&key.into()))),
        })
    }

    /// The AES key both sides derive: see the module docs.
    fn derive(
        &self,
        secret: &StaticSecret,
        role: Role,
        peer: &[u8; KEY_LEN],
    ) -> Result<[u8; 32], AuthError> {
        let shared = secret.diffie_hellman(&PublicKey::from(*peer));
        if !shared.was_contributory() {
            return Err(AuthError);
        }
        let (initiator, responder) = match role {
            Role::Initiator => (&self.public, peer),
            Role::Responder => (peer, &self.public),
        };
        let mut info = [0; 2 * KEY_LEN];
        info[..KEY_LEN].copy_from_slice(initiator);
        info[KEY_LEN..].copy_from_slice(responder);
        let mut key = [0; 32];
        Hkdf::<Sha256>::new(Some(HKDF_SALT), shared.as_bytes())
            .expand(&info, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Ok(key)
    }
}

/// The keys of an established connection, seen from one side.
pub struct Session {
    role: Role,
    /// `None` when modelled.
    cipher: Option<Box<Aes256Gcm>>,
}

impl std::fmt::Debug for Session {
    /// Shows the role and the mode, never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("modelled", &self.cipher.is_none())
            .finish()
    }
}

impl Session {
    /// Seals `payload` in place: its last [`TAG_LEN`] bytes receive the tag
    /// of the bytes before them, which are encrypted, with `header` as
    /// associated data. Modelled, the tag is zeros and nothing else changes.
    pub fn seal(&self, header: &[u8], kind: Kind, seq: u32, payload: &mut [u8]) {
        let (plain, tag) = payload.split_at_mut(payload.len() - TAG_LEN);
        match &self.cipher {
            None => tag.fill(0),
            Some(cipher) => {
                let nonce = nonce(self.role, kind, seq);
                let sealed = cipher
                    .encrypt_inout_detached(&nonce.into(), header, plain.into())
                    .expect("frames are far below AES-GCM's length limit");
                tag.copy_from_slice(&sealed);
            }
        }
    }

    /// Opens a payload the peer sealed: the plaintext, without the tag.
    /// Modelled, the tag is dropped unchecked.
    pub fn open(
        &self,
        header: &[u8],
        kind: Kind,
        seq: u32,
        payload: &[u8],
    ) -> Result<Vec<u8>, AuthError> {
        let split = payload.len().checked_sub(TAG_LEN).ok_or(AuthError)?;
        let (sealed, tag) = payload.split_at(split);
        let mut plain = sealed.to_vec();
        if let Some(cipher) = &self.cipher {
            let nonce = nonce(self.role.peer(), kind, seq);
            let tag = Tag::try_from(tag).map_err(|_| AuthError)?;
            cipher
                .decrypt_inout_detached(&nonce.into(), header, plain.as_mut_slice().into(), &tag)
                .map_err(|_| AuthError)?;
        }
        Ok(plain)
    }
}

/// The nonce of a frame sent by `sender`: see the module docs.
fn nonce(sender: Role, kind: Kind, seq: u32) -> [u8; 12] {
    let mut nonce = [0; 12];
    nonce[0] = sender.direction();
    nonce[1] = kind as u8;
    nonce[8..].copy_from_slice(&seq.to_be_bytes());
    nonce
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const HEADER: &[u8] = b"eighteen header by";

    fn pair(seed: u64) -> (KeyPair, KeyPair) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (
            KeyPair::generate(&mut rng, false),
            KeyPair::generate(&mut rng, false),
        )
    }

    fn sealed(session: &Session, kind: Kind, seq: u32, plain: &[u8]) -> Vec<u8> {
        let mut payload = plain.to_vec();
        payload.extend_from_slice(&[0; TAG_LEN]);
        session.seal(HEADER, kind, seq, &mut payload);
        payload
    }

    #[test]
    fn both_sides_derive_the_same_key() {
        let (a, b) = pair(1);
        let ka = a.derive(a.secret.as_ref().unwrap(), Role::Initiator, &b.public);
        let kb = b.derive(b.secret.as_ref().unwrap(), Role::Responder, &a.public);
        assert_eq!(ka, kb);
        // Another pair, another key.
        let (c, d) = pair(2);
        let kc = c.derive(c.secret.as_ref().unwrap(), Role::Initiator, &d.public);
        assert_ne!(ka, kc);
    }

    #[test]
    fn keys_come_from_the_rng_alone() {
        assert_eq!(pair(7).0.public, pair(7).0.public);
        assert_ne!(pair(7).0.public, pair(8).0.public);
    }

    #[test]
    fn what_one_side_seals_the_other_opens_and_nothing_else() {
        let (a, b) = pair(3);
        let sa = a.agree(Role::Initiator, &b.public).unwrap();
        let sb = b.agree(Role::Responder, &a.public).unwrap();
        let payload = sealed(&sa, Kind::Data, 5, b"hello, world");
        assert_ne!(&payload[..12], b"hello, world");
        assert_eq!(
            sb.open(HEADER, Kind::Data, 5, &payload).unwrap(),
            b"hello, world"
        );
        // The wrong sequence number, type, header or direction, or any flipped
        // bit, fails.
        assert_eq!(sb.open(HEADER, Kind::Data, 6, &payload), Err(AuthError));
        assert_eq!(sb.open(HEADER, Kind::Ack, 5, &payload), Err(AuthError));
        assert_eq!(
            sb.open(b"another header....", Kind::Data, 5, &payload),
            Err(AuthError)
        );
        assert_eq!(sa.open(HEADER, Kind::Data, 5, &payload), Err(AuthError));
        for bit in 0..payload.len() * 8 {
            let mut flipped = payload.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(sb.open(HEADER, Kind::Data, 5, &flipped), Err(AuthError));
        }
        assert_eq!(
            sb.open(HEADER, Kind::Data, 5, &payload[..TAG_LEN - 1]),
            Err(AuthError)
        );
    }

    #[test]
    fn a_low_order_public_key_is_refused() {
        let (a, _) = pair(4);
        assert_eq!(a.agree(Role::Initiator, &[0; 32]).err(), Some(AuthError));
    }

    #[test]
    fn modelled_sessions_keep_the_sizes_and_do_no_work() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let a = KeyPair::generate(&mut rng, true);
        let session = a.agree(Role::Initiator, &[0; 32]).unwrap();
        let payload = sealed(&session, Kind::Ping, 0, b"plain");
        assert_eq!(payload.len(), 5 + TAG_LEN);
        assert_eq!(&payload[..5], b"plain");
        assert_eq!(&payload[5..], &[0; TAG_LEN]);
        assert_eq!(
            session.open(HEADER, Kind::Ping, 0, &payload).unwrap(),
            b"plain"
        );
    }
}
