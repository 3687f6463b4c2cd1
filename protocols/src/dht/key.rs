//! Points in the 256-bit Kademlia key space and the XOR distance between
//! them.
//!
//! A node's key is the SHA-256 of its peer id, as in libp2p. The simulator
//! has no cryptographic identities, so a node's peer id is its [`NodeId`]
//! written as 4 bytes, big-endian ([`peer_id`]); its key is therefore
//! `SHA-256(id.to_be_bytes())` ([`Key::for_node`]). A record or a provided
//! item is named by a [`Key`] directly ([`Key::for_name`] hashes a name into
//! one).
//!
//! Keys are compared as 256-bit big-endian unsigned integers: byte 0 holds
//! the most significant bits. The distance between two keys is their XOR,
//! read the same way, so comparing two [`Distance`]s compares the integers.
//! The bucket of a peer is the position of the highest bit in which its key
//! differs from the local key: [`Distance::bucket_index`] is
//! `255 - leading_zeros(distance)`, so bucket `i` holds the peers at a
//! distance in `[2^i, 2^(i+1))`; bucket 255 is the farther half of the key
//! space, and the local key itself has no bucket.

use std::fmt;

use sha2::{Digest, Sha256};
use sim_core::{NodeId, SimRng};

/// The length of a key in bytes.
pub const KEY_LEN: usize = 32;

/// The length of a peer id on the wire: a [`NodeId`] as 4 big-endian bytes.
pub const PEER_ID_LEN: usize = 4;

/// The peer id of `node` on the wire: its index as 4 big-endian bytes.
///
/// libp2p peer ids are multihashes of public keys (38 bytes for Ed25519);
/// the simulator's nodes have no keys, so their id is their address.
pub fn peer_id(node: NodeId) -> [u8; PEER_ID_LEN] {
    node.0.to_be_bytes()
}

/// The node whose peer id is `bytes`, if they are exactly [`PEER_ID_LEN`]
/// bytes long.
pub fn node_of_peer_id(bytes: &[u8]) -> Option<NodeId> {
    let bytes: [u8; PEER_ID_LEN] = bytes.try_into().ok()?;
    Some(NodeId(u32::from_be_bytes(bytes)))
}

/// A point in the key space: a node's position, or the name of a record.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// The key whose big-endian bytes are `bytes`.
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        Key(bytes)
    }

    /// The key whose bytes are `bytes`, if there are exactly [`KEY_LEN`].
    pub fn from_slice(bytes: &[u8]) -> Option<Key> {
        bytes.try_into().ok().map(Key)
    }

    /// The key of `node`: the SHA-256 of its [`peer_id`].
    pub fn for_node(node: NodeId) -> Key {
        Key::for_name(&peer_id(node))
    }

    /// The key of a record or item called `name`: the SHA-256 of its bytes,
    /// as libp2p places record keys and CIDs.
    pub fn for_name(name: &[u8]) -> Key {
        Key(Sha256::digest(name).into())
    }

    /// The key's bytes, most significant first.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The top 64 bits of the key.
    pub fn prefix(&self) -> u64 {
        let mut top = [0; 8];
        top.copy_from_slice(&self.0[..8]);
        u64::from_be_bytes(top)
    }

    /// The XOR distance from `self` to `other`.
    pub fn distance(&self, other: &Key) -> Distance {
        let mut d = [0; KEY_LEN];
        for (d, (a, b)) in d.iter_mut().zip(self.0.iter().zip(&other.0)) {
            *d = a ^ b;
        }
        Distance(d)
    }

    /// A key drawn uniformly from bucket `bucket` of `self`: its distance
    /// from `self` has its highest set bit at position `bucket`, and random
    /// bits below. Bucket refreshes look such keys up.
    pub fn random_in_bucket(&self, bucket: u8, rng: &mut SimRng) -> Key {
        let mut d = [0u8; KEY_LEN];
        for chunk in d.chunks_mut(4) {
            // 2^32 is a power of two, so this is an exact uniform u32.
            let word = sim_core::dist::uniform_below(rng, 1 << 32) as u32;
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        let top = KEY_LEN - 1 - usize::from(bucket / 8); // byte holding bit `bucket`
        let bit = bucket % 8;
        d[..top].fill(0);
        let below = (1u8 << bit).wrapping_sub(1); // the random bits under `bucket`
        d[top] = (d[top] & below) | (1 << bit);
        self.at_distance(&Distance(d))
    }

    /// The key at `distance` from `self` (XOR is its own inverse).
    pub fn at_distance(&self, distance: &Distance) -> Key {
        let mut k = [0; KEY_LEN];
        for (k, (a, b)) in k.iter_mut().zip(self.0.iter().zip(&distance.0)) {
            *k = a ^ b;
        }
        Key(k)
    }
}

impl fmt::Debug for Key {
    /// The first 8 bytes in hex, enough to tell keys apart in a test.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:016x}…)", self.prefix())
    }
}

impl fmt::Display for Key {
    /// All 32 bytes in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The XOR distance between two keys, a 256-bit unsigned integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Distance([u8; KEY_LEN]);

impl Distance {
    /// No distance: a key from itself.
    pub const ZERO: Distance = Distance([0; KEY_LEN]);

    /// The distance whose big-endian bytes are `bytes`.
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Distance {
        Distance(bytes)
    }

    /// The distance's bytes, most significant first.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The number of leading zero bits, 256 for [`Distance::ZERO`].
    pub fn leading_zeros(&self) -> u32 {
        let mut zeros = 0;
        for &b in &self.0 {
            if b != 0 {
                return zeros + b.leading_zeros();
            }
            zeros += 8;
        }
        zeros
    }

    /// The bucket a peer at this distance belongs in: `255 - leading_zeros`,
    /// the position of the highest set bit; `None` for distance zero (the
    /// local key itself).
    pub fn bucket_index(&self) -> Option<u8> {
        let zeros = self.leading_zeros();
        (zeros < 256).then(|| (255 - zeros) as u8)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    fn key(bytes: [u8; KEY_LEN]) -> Key {
        Key::from_bytes(bytes)
    }

    /// `a + b` as a 257-bit number: (carry, 256-bit sum), big-endian.
    fn add(a: &Distance, b: &Distance) -> (bool, [u8; KEY_LEN]) {
        let mut sum = [0u8; KEY_LEN];
        let mut carry = 0u16;
        for i in (0..KEY_LEN).rev() {
            let s = u16::from(a.0[i]) + u16::from(b.0[i]) + carry;
            sum[i] = s as u8;
            carry = s >> 8;
        }
        (carry == 1, sum)
    }

    #[test]
    fn node_keys_are_sha256_of_the_big_endian_id() {
        // SHA-256 of the four bytes 00 00 00 00.
        let expected = "df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119";
        assert_eq!(Key::for_node(NodeId(0)).to_string(), expected);
        assert_eq!(peer_id(NodeId(0x0102_0304)), [1, 2, 3, 4]);
        assert_eq!(node_of_peer_id(&[1, 2, 3, 4]), Some(NodeId(0x0102_0304)));
        assert_eq!(node_of_peer_id(&[1, 2, 3]), None);
        assert_eq!(node_of_peer_id(&[1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn bucket_index_is_the_highest_differing_bit() {
        let zero = key([0; KEY_LEN]);
        assert_eq!(zero.distance(&zero).bucket_index(), None);
        let mut low = [0; KEY_LEN];
        low[31] = 1;
        assert_eq!(zero.distance(&key(low)).bucket_index(), Some(0));
        let mut high = [0; KEY_LEN];
        high[0] = 0x80;
        assert_eq!(zero.distance(&key(high)).bucket_index(), Some(255));
        let mut mid = [0; KEY_LEN];
        mid[1] = 0x10;
        mid[5] = 0xff;
        assert_eq!(zero.distance(&key(mid)).bucket_index(), Some(255 - 11));
        assert_eq!(zero.distance(&key(mid)).leading_zeros(), 11);
    }

    #[test]
    fn random_keys_land_in_the_asked_bucket() {
        let mut rng = SimRng::seed_from_u64(3);
        let local = Key::for_node(NodeId(9));
        for bucket in [0u8, 1, 7, 8, 9, 100, 200, 254, 255] {
            for _ in 0..20 {
                let k = local.random_in_bucket(bucket, &mut rng);
                assert_eq!(local.distance(&k).bucket_index(), Some(bucket));
            }
        }
    }

    proptest! {
        #[test]
        fn xor_is_a_metric(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), c in any::<[u8; 32]>()) {
            let (a, b, c) = (key(a), key(b), key(c));
            prop_assert_eq!(a.distance(&a), Distance::ZERO);
            prop_assert_eq!(a.distance(&b) == Distance::ZERO, a == b);
            prop_assert_eq!(a.distance(&b), b.distance(&a));
            // Triangle inequality: d(a,c) = d(a,b) XOR d(b,c) <= d(a,b) + d(b,c).
            let (carry, sum) = add(&a.distance(&b), &b.distance(&c));
            prop_assert!(carry || a.distance(&c) <= Distance::from_bytes(sum));
            // XOR is unidirectional: b is the only key at distance d(a,b) from a.
            prop_assert_eq!(a.at_distance(&a.distance(&b)), b);
        }

        #[test]
        fn distances_order_like_integers(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
            let (da, db) = (Distance::from_bytes(a), Distance::from_bytes(b));
            let (ia, ib) = (u128::from_be_bytes(a[..16].try_into().unwrap()), u128::from_be_bytes(b[..16].try_into().unwrap()));
            if ia != ib {
                prop_assert_eq!(da < db, ia < ib);
            }
            let bucket = da.bucket_index();
            prop_assert_eq!(bucket.is_none(), a == [0; 32]);
            if let Some(i) = bucket {
                // 2^i <= d < 2^(i+1): bit i is set and nothing above it.
                let i = usize::from(i);
                let byte = 31 - i / 8;
                prop_assert!(a[byte] & (1 << (i % 8)) != 0);
                prop_assert!(a[..byte].iter().all(|&x| x == 0));
                prop_assert!(u16::from(a[byte]) < 1 << (i % 8 + 1));
            }
        }
    }
}
