//! [`Datagram`]: the bytes a protocol sends, shared rather than copied.

mod spare;

pub(crate) use spare::Spares;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The bytes of one datagram, in the sending protocol's wire format:
/// immutable and reference-counted, so that a clone shares the bytes.
///
/// A protocol that sends the same bytes to several peers (a GossipSub relay
/// forwarding a message to its mesh, a flood, a broadcast that reaches every
/// radio in range) encodes them once and clones the `Datagram`; the kernel
/// holds each copy in flight without copying it, and each receiver reads the
/// shared bytes. With a fresh buffer per copy, allocating, clearing and
/// copying kilobyte payloads was a sixth of the run time of 10⁵ GossipSub
/// nodes.
///
/// It dereferences to `[u8]`, and converts from `Vec<u8>`, `&[u8]` and byte
/// arrays (one copy into the shared buffer); [`Datagram::zeroed`] writes a
/// new datagram in place. An empty datagram allocates nothing (PHOLD's
/// events are empty datagrams).
///
/// The last copy of a large datagram to be dropped gives its buffer to the
/// dropping thread's spares, and [`Datagram::zeroed`] takes from them (see
/// `datagram/spare.rs`): a relay of 10⁵ GossipSub nodes frees and allocates
/// a 1 KiB buffer per event, and glibc's functions took about 9 % of that
/// run's samples.
#[derive(Clone, Default)]
pub struct Datagram(Option<Arc<[u8]>>);

impl Datagram {
    /// A datagram of `len` bytes, zeroed, then written by `fill`: one
    /// allocation and no copy, for encoders that know the length up front
    /// and leave most bytes zero (a simulated payload).
    pub fn zeroed(len: usize, fill: impl FnOnce(&mut [u8])) -> Self {
        if len == 0 {
            fill(&mut []);
            return Datagram(None);
        }
        let mut bytes = spare::take(len).unwrap_or_else(|| std::iter::repeat_n(0, len).collect());
        fill(Arc::get_mut(&mut bytes).expect("a new or spare buffer is not shared"));
        Datagram(Some(bytes))
    }
}

impl Drop for Datagram {
    fn drop(&mut self) {
        if let Some(bytes) = self.0.take() {
            spare::keep(bytes);
        }
    }
}

impl Deref for Datagram {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_deref().unwrap_or_default()
    }
}

impl AsRef<[u8]> for Datagram {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for Datagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl From<&[u8]> for Datagram {
    fn from(bytes: &[u8]) -> Self {
        Datagram((!bytes.is_empty()).then(|| bytes.into()))
    }
}

impl From<Vec<u8>> for Datagram {
    fn from(bytes: Vec<u8>) -> Self {
        Datagram::from(&bytes[..])
    }
}

impl<const N: usize> From<[u8; N]> for Datagram {
    fn from(bytes: [u8; N]) -> Self {
        Datagram::from(&bytes[..])
    }
}

impl PartialEq for Datagram {
    fn eq(&self, other: &Datagram) -> bool {
        **self == **other
    }
}

impl Eq for Datagram {}

impl PartialEq<[u8]> for Datagram {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<Vec<u8>> for Datagram {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Datagram {
    fn eq(&self, other: &[u8; N]) -> bool {
        **self == *other
    }
}

impl PartialOrd for Datagram {
    fn partial_cmp(&self, other: &Datagram) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Datagram {
    fn cmp(&self, other: &Datagram) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::hash::Hash for Datagram {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_bytes() {
        let a = Datagram::from(vec![1, 2, 3]);
        let b = a.clone();
        assert!(std::ptr::eq(a.as_ptr(), b.as_ptr()));
        assert_eq!(b, vec![1, 2, 3]);
        assert_eq!(&b[..], &[1, 2, 3]);
    }

    #[test]
    fn zeroed_writes_in_place() {
        let d = Datagram::zeroed(5, |b| b[1] = 7);
        assert_eq!(d, vec![0, 7, 0, 0, 0]);
        assert!(Datagram::zeroed(0, |_| {}).is_empty());
        assert_eq!(Datagram::default(), Datagram::from(Vec::new()));
        assert_eq!(Datagram::from([1, 2]), vec![1, 2]);
    }

    #[test]
    fn a_reused_buffer_is_zeroed_again() {
        let len = spare::MIN_LEN;
        let first = Datagram::zeroed(len, |b| b.fill(0xff));
        let at = first.as_ptr();
        let shared = first.clone();
        drop(first);
        // Still shared: not a spare yet.
        let other = Datagram::zeroed(len, |b| b[0] = 1);
        assert_ne!(other.as_ptr(), at);
        drop(shared);
        let again = Datagram::zeroed(len, |b| b[len - 1] = 2);
        assert_eq!(again.as_ptr(), at, "the spare is reused");
        assert!(again[..len - 1].iter().all(|&b| b == 0));
        assert_eq!(again[len - 1], 2);
    }
}
