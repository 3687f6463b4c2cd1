//! The manager's own frames, carried inside whichever transport it chose,
//! and the seed's fragmentation by that transport's MTU.
//!
//! ```text
//! data:  'D' | message id (u64) | attempt (u8) | sequence (u16) | total (u16) | CRC-32 (u32) | data …
//! ack:   'A' | message id (u64) | attempt (u8)
//! ```
//!
//! A message of `n` bytes sent where a frame may be at most `mtu` bytes is
//! cut into `ceil(n / (mtu - 18))` data frames (one, empty, for an empty
//! message): the seed's `Fragment` (id, sequence, total, data, CRC-32 of
//! the data), with the attempt number added so that fragments cut for two
//! transports (after a failover) are never reassembled together. The
//! receiver acknowledges a message once it is whole, over the transport it
//! came by. All integers are big-endian.

use std::collections::BTreeMap;

use sim_core::{Duration, Instant, NodeId};

use crate::bytes::read;

/// A data frame's header length.
pub const DATA_HEADER_LEN: usize = 18;
/// An acknowledgement's length.
pub const ACK_LEN: usize = 10;
const DATA: u8 = b'D';
const ACK: u8 = b'A';

/// One fragment of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The message's id, unique per sender.
    pub msg: u64,
    /// Which attempt (0 first, then one per failover).
    pub attempt: u8,
    /// Its index, from 0.
    pub seq: u16,
    /// How many fragments the message has (at least 1).
    pub total: u16,
    /// Its share of the message.
    pub data: &'a [u8],
}

/// A manager frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A fragment of a message.
    Data(Fragment<'a>),
    /// Message `msg` arrived whole (in attempt `attempt`).
    Ack {
        /// The message.
        msg: u64,
        /// The attempt that brought it.
        attempt: u8,
    },
}

/// Why bytes are not a manager frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Too short, or of an unknown type.
    #[error("not a transport manager frame")]
    Malformed,
    /// A sequence number not below the total, or a total of zero.
    #[error("fragment numbering out of range")]
    Numbering,
    /// The data does not match its CRC-32.
    #[error("fragment CRC-32 mismatch")]
    Crc,
}

impl<'a> Frame<'a> {
    /// Reads a frame; never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FrameError> {
        match bytes.first() {
            Some(&ACK) if bytes.len() == ACK_LEN => Ok(Frame::Ack {
                msg: u64::from_be_bytes(read(bytes, 1..9)),
                attempt: bytes[9],
            }),
            Some(&DATA) if bytes.len() >= DATA_HEADER_LEN => {
                let fragment = Fragment {
                    msg: u64::from_be_bytes(read(bytes, 1..9)),
                    attempt: bytes[9],
                    seq: u16::from_be_bytes(read(bytes, 10..12)),
                    total: u16::from_be_bytes(read(bytes, 12..14)),
                    data: &bytes[DATA_HEADER_LEN..],
                };
                if fragment.total == 0 || fragment.seq >= fragment.total {
                    return Err(FrameError::Numbering);
                }
                if crc32fast::hash(fragment.data) != u32::from_be_bytes(read(bytes, 14..18)) {
                    return Err(FrameError::Crc);
                }
                Ok(Frame::Data(fragment))
            }
            _ => Err(FrameError::Malformed),
        }
    }

    /// The frame's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match *self {
            Frame::Ack { msg, attempt } => {
                let mut bytes = Vec::with_capacity(ACK_LEN);
                bytes.push(ACK);
                bytes.extend_from_slice(&msg.to_be_bytes());
                bytes.push(attempt);
                bytes
            }
            Frame::Data(f) => {
                let mut bytes = Vec::with_capacity(DATA_HEADER_LEN + f.data.len());
                bytes.push(DATA);
                bytes.extend_from_slice(&f.msg.to_be_bytes());
                bytes.push(f.attempt);
                bytes.extend_from_slice(&f.seq.to_be_bytes());
                bytes.extend_from_slice(&f.total.to_be_bytes());
                bytes.extend_from_slice(&crc32fast::hash(f.data).to_be_bytes());
                bytes.extend_from_slice(f.data);
                bytes
            }
        }
    }
}

/// Message `msg` (attempt `attempt`) as data frames of at most `mtu` bytes
/// each (an `mtu` below the header plus one byte counts as that); `None` if
/// it would take more than 65,535 fragments.
pub fn split(msg: u64, attempt: u8, message: &[u8], mtu: usize) -> Option<Vec<Vec<u8>>> {
    let room = mtu.saturating_sub(DATA_HEADER_LEN).max(1);
    let total = u16::try_from(message.len().div_ceil(room).max(1)).ok()?;
    let frames = (0..total)
        .map(|seq| {
            let start = usize::from(seq) * room;
            let data = &message[start.min(message.len())..(start + room).min(message.len())];
            Frame::Data(Fragment {
                msg,
                attempt,
                seq,
                total,
                data,
            })
            .to_bytes()
        })
        .collect();
    Some(frames)
}

/// A message given up incomplete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Incomplete {
    /// Its sender.
    pub from: NodeId,
    /// Its id.
    pub msg: u64,
    /// Fragments that arrived.
    pub received: u16,
    /// Fragments it has.
    pub total: u16,
}

/// What adding a fragment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More fragments are needed.
    Pending,
    /// The message is whole.
    Complete(Vec<u8>),
    /// The fragment disagrees with the others' total; it was ignored.
    Inconsistent,
    /// As many reassemblies as allowed are in progress; it was ignored.
    Full,
}

#[derive(Clone, Debug)]
struct Partial {
    deadline: Instant,
    total: u16,
    parts: BTreeMap<u16, Vec<u8>>,
}

/// Messages being reassembled, by sender, id and attempt; each is given
/// up a fixed time after its first fragment.
#[derive(Clone, Debug)]
pub struct Reassemblies {
    max: usize,
    timeout: Duration,
    partial: BTreeMap<(NodeId, u64, u8), Partial>,
}

impl Reassemblies {
    /// At most `max` at once, each for at most `timeout`.
    pub fn new(max: usize, timeout: Duration) -> Self {
        Reassemblies {
            max,
            timeout,
            partial: BTreeMap::new(),
        }
    }

    /// Adds `fragment` from `from`, arrived at `now`.
    pub fn add(&mut self, now: Instant, from: NodeId, fragment: &Fragment<'_>) -> Progress {
        if fragment.total == 1 {
            return Progress::Complete(fragment.data.to_vec());
        }
        let key = (from, fragment.msg, fragment.attempt);
        if !self.partial.contains_key(&key) && self.partial.len() >= self.max {
            return Progress::Full;
        }
        let partial = self.partial.entry(key).or_insert_with(|| Partial {
            deadline: now.saturating_add(self.timeout),
            total: fragment.total,
            parts: BTreeMap::new(),
        });
        if partial.total != fragment.total {
            return Progress::Inconsistent;
        }
        partial.parts.insert(fragment.seq, fragment.data.to_vec());
        if partial.parts.len() < usize::from(partial.total) {
            return Progress::Pending;
        }
        let whole = self
            .partial
            .remove(&key)
            .map(|p| p.parts.into_values().flatten().collect());
        Progress::Complete(whole.unwrap_or_default())
    }

    /// Gives up the reassemblies due by `now`, into `out`.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<Incomplete>) {
        let due: Vec<_> = self
            .partial
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(&k, _)| k)
            .collect();
        for key in due {
            if let Some(p) = self.partial.remove(&key) {
                out.push(Incomplete {
                    from: key.0,
                    msg: key.1,
                    received: p.parts.len() as u16,
                    total: p.total,
                });
            }
        }
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.partial.values().map(|p| p.deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reassemble(frames: &[Vec<u8>]) -> Option<Vec<u8>> {
        let mut r = Reassemblies::new(4, Duration::from_secs(30));
        let mut whole = None;
        for bytes in frames {
            let Ok(Frame::Data(f)) = Frame::parse(bytes) else {
                return None;
            };
            if let Progress::Complete(m) = r.add(Instant::ZERO, NodeId(1), &f) {
                whole = Some(m);
            }
        }
        whole
    }

    proptest! {
        #[test]
        fn any_message_is_cut_to_the_mtu_and_reassembled_exactly(
            message in proptest::collection::vec(any::<u8>(), 0..5000),
            mtu in 0usize..2000,
            reversed in any::<bool>(),
        ) {
            let mut frames = split(7, 1, &message, mtu).expect("few enough fragments");
            let room = mtu.saturating_sub(DATA_HEADER_LEN).max(1);
            prop_assert_eq!(frames.len(), message.len().div_ceil(room).max(1));
            prop_assert!(frames.iter().all(|f| f.len() <= DATA_HEADER_LEN + room));
            if reversed {
                frames.reverse();
            }
            prop_assert_eq!(reassemble(&frames), Some(message));
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Frame::parse(&bytes);
        }
    }

    #[test]
    fn a_corrupted_or_misnumbered_fragment_is_refused() {
        let frames = split(1, 0, b"hello world", 22).expect("fits");
        let mut bad = frames[0].clone();
        *bad.last_mut().expect("data") ^= 1;
        assert_eq!(Frame::parse(&bad), Err(FrameError::Crc));
        let mut bad = frames[0].clone();
        bad[10..12].copy_from_slice(&9u16.to_be_bytes());
        assert_eq!(Frame::parse(&bad), Err(FrameError::Numbering));
        let ack = Frame::Ack { msg: 3, attempt: 2 };
        assert_eq!(Frame::parse(&ack.to_bytes()), Ok(ack));
    }

    #[test]
    fn a_message_missing_a_fragment_times_out_and_is_reported() {
        let frames = split(9, 0, &[5; 100], 40).expect("fits");
        let mut r = Reassemblies::new(4, Duration::from_secs(30));
        for bytes in &frames[1..] {
            let Ok(Frame::Data(f)) = Frame::parse(bytes) else {
                panic!()
            };
            assert_eq!(r.add(Instant::ZERO, NodeId(2), &f), Progress::Pending);
        }
        let due = r.next_deadline().expect("waiting");
        assert_eq!(due, Instant::ZERO + Duration::from_secs(30));
        let mut out = Vec::new();
        r.expire(due, &mut out);
        let expected = Incomplete {
            from: NodeId(2),
            msg: 9,
            received: 4,
            total: 5,
        };
        assert_eq!(out, [expected]);
        assert_eq!(r.next_deadline(), None);
    }
}
