//! LZ4 compression of data frames, only where it pays.
//!
//! A compressed fragment is an LZ4 block (`lz4_flex`, pure Rust) preceded by
//! the fragment's original length as a 4-byte little-endian integer: the
//! block format of `lz4_flex::block::compress_prepend_size` (the one
//! little-endian field in HTX, as the library writes it). A fragment is sent
//! compressed only if that is strictly shorter than the fragment itself; the
//! frame's compressed flag says which.
//!
//! Decompression trusts nothing: the announced length must be at most the
//! largest payload a frame can carry, and the block must decompress to
//! exactly that many bytes.

use super::frame::MAX_PAYLOAD_LEN;

/// The fragment compressed, if that makes it shorter.
pub fn compress(fragment: &[u8]) -> Option<Vec<u8>> {
    let compressed = lz4_flex::block::compress_prepend_size(fragment);
    (compressed.len() < fragment.len()).then_some(compressed)
}

/// A compressed fragment decompressed, or `None` if the bytes are not one.
pub fn decompress(bytes: &[u8]) -> Option<Vec<u8>> {
    let (len, block) = lz4_flex::block::uncompressed_size(bytes).ok()?;
    if len > MAX_PAYLOAD_LEN {
        return None;
    }
    let mut fragment = vec![0; len];
    let written = lz4_flex::block::decompress_into(block, &mut fragment).ok()?;
    (written == len).then_some(fragment)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn a_compressible_fragment_shrinks_and_round_trips() {
        let text = b"HTX frames carry application messages. ".repeat(100);
        let compressed = compress(&text).expect("repetitive text compresses");
        assert!(compressed.len() * 10 < text.len(), "{}", compressed.len());
        assert_eq!(decompress(&compressed).unwrap(), text);
    }

    #[test]
    fn an_incompressible_fragment_is_left_alone() {
        let mut noise = vec![0; 4096];
        ChaCha8Rng::seed_from_u64(1).fill_bytes(&mut noise);
        assert_eq!(compress(&noise), None);
        assert_eq!(compress(b""), None);
        assert_eq!(compress(b"abc"), None);
    }

    #[test]
    fn lies_about_the_length_are_refused() {
        let text = vec![7; 1000];
        let mut compressed = compress(&text).unwrap();
        compressed[..4].copy_from_slice(&999u32.to_le_bytes());
        assert_eq!(decompress(&compressed), None);
        compressed[..4].copy_from_slice(&1001u32.to_le_bytes());
        assert_eq!(decompress(&compressed), None);
        compressed[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decompress(&compressed), None);
        assert_eq!(decompress(&[1, 0]), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decompress(&bytes);
            let mut small = bytes.clone();
            if small.len() >= 4 {
                let len = u32::from(small[0]) % 64;
                small[..4].copy_from_slice(&len.to_le_bytes());
                let _ = decompress(&small);
            }
        }

        #[test]
        fn whatever_compresses_round_trips(
            bytes in proptest::collection::vec(0u8..4, 0..2000),
        ) {
            if let Some(compressed) = compress(&bytes) {
                prop_assert!(compressed.len() < bytes.len());
                prop_assert_eq!(decompress(&compressed), Some(bytes));
            }
        }
    }
}
