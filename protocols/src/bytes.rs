//! Byte helpers shared by the wire modules.

use std::ops::Range;

/// The bytes of `buffer` in `range` as a fixed-size array, for reading a
/// big-endian integer field. The caller has checked the buffer's length
/// (`Packet::new_checked`), so the slice is in bounds.
pub(crate) fn read<const N: usize>(buffer: &[u8], range: Range<usize>) -> [u8; N] {
    let mut bytes = [0; N];
    bytes.copy_from_slice(&buffer[range]);
    bytes
}
