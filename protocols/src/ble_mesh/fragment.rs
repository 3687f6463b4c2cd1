//! Fragments: how a packet larger than the MTU crosses the mesh, and how a
//! receiver puts it back together.
//!
//! A fragment is a packet of type [`MessageType::FragmentStart`] (index 0),
//! [`MessageType::FragmentContinue`] or [`MessageType::FragmentEnd`] (the
//! last index) whose payload is BitChat's fragment header and a slice of the
//! original packet's payload:
//!
//! ```text
//!  0                               8       10      12      13
//! +-------------------------------+-------+-------+-------+---------
//! |       fragment id (u64)       | index | total | type  | data …
//! +-------------------------------+-------+-------+-------+---------
//! ```
//!
//! - `fragment id` names the fragmented packet; BitChat draws 8 random
//!   bytes, this model uses the message id, which is unique in a run and
//!   lets a relay name the message it forwards;
//! - `index` counts from 0 and `total` is the number of fragments, at least
//!   2 (a packet that fits is not fragmented), both big-endian;
//! - `type` is the original packet's [`MessageType`], never a fragment type.
//!
//! Each fragment is relayed like any packet; a node that is a recipient also
//! feeds it to its [`Reassemblies`], which hands back the original payload
//! once every index has arrived. Reassembly is bounded as in BitChat: at
//! most a set number in progress (one more evicts the oldest), each
//! abandoned a fixed time after its first fragment, each discarded if its
//! data grows past a size cap.

use std::collections::{BTreeMap, VecDeque};

use sim_core::{Duration, Instant};

use super::packet::{MessageType, PeerId};
use crate::bytes::read;

/// The length of the fragment header, before the data.
pub const HEADER_LEN: usize = 13;

/// Why a payload is not a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than the fragment header.
    #[error("fragment shorter than its {HEADER_LEN}-byte header")]
    Truncated,
    /// Fewer than two fragments, or an index past the last.
    #[error("fragment index or total out of range")]
    Index,
    /// The original type is unknown or is itself a fragment type.
    #[error("fragment of an unknown or fragment type")]
    Type,
    /// The packet's type disagrees with the index (start at 0, end at the
    /// last, continue in between).
    #[error("fragment packet type disagrees with its index")]
    Kind,
}

/// What a fragment's payload says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The fragmented packet's id.
    pub id: u64,
    /// This fragment's position, from 0.
    pub index: u16,
    /// How many fragments there are.
    pub total: u16,
    /// The type of the original packet.
    pub original: MessageType,
    /// This fragment's slice of the original payload.
    pub data: &'a [u8],
}

impl<'a> Fragment<'a> {
    /// Reads the payload of a packet of type `kind`. Never panics.
    pub fn parse(kind: MessageType, payload: &'a [u8]) -> Result<Self, Error> {
        if payload.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let fragment = Fragment {
            id: u64::from_be_bytes(read(payload, 0..8)),
            index: u16::from_be_bytes(read(payload, 8..10)),
            total: u16::from_be_bytes(read(payload, 10..12)),
            original: MessageType::from_u8(payload[12])
                .filter(|t| !t.is_fragment())
                .ok_or(Error::Type)?,
            data: &payload[HEADER_LEN..],
        };
        if fragment.total < 2 || fragment.index >= fragment.total {
            return Err(Error::Index);
        }
        if fragment.kind() != kind {
            return Err(Error::Kind);
        }
        Ok(fragment)
    }

    /// The packet type this fragment travels as.
    pub fn kind(&self) -> MessageType {
        if self.index == 0 {
            MessageType::FragmentStart
        } else if self.index + 1 == self.total {
            MessageType::FragmentEnd
        } else {
            MessageType::FragmentContinue
        }
    }

    /// The fragment's payload: header, then data.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(HEADER_LEN + self.data.len());
        payload.extend_from_slice(&self.id.to_be_bytes());
        payload.extend_from_slice(&self.index.to_be_bytes());
        payload.extend_from_slice(&self.total.to_be_bytes());
        payload.push(self.original as u8);
        payload.extend_from_slice(self.data);
        payload
    }
}

/// Cuts `payload` into fragments of at most `max_data` bytes of data (at
/// least 1), all full but the last. `None` if that takes fewer than 2 or
/// more than 65,535 fragments.
pub fn split(
    id: u64,
    original: MessageType,
    payload: &[u8],
    max_data: usize,
) -> Option<Vec<Fragment<'_>>> {
    let chunks = payload.chunks(max_data.max(1));
    let total = u16::try_from(chunks.len()).ok().filter(|&t| t >= 2)?;
    Some(
        chunks
            .zip(0..)
            .map(|(data, index)| Fragment {
                id,
                index,
                total,
                original,
                data,
            })
            .collect(),
    )
}

/// What adding a fragment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for more fragments (or the fragment belongs to a set that was
    /// discarded, and is ignored).
    Pending,
    /// Every fragment is here: the original payload.
    Complete(Vec<u8>),
    /// The set grew past the size cap and is discarded; its later
    /// fragments are ignored until it would have timed out.
    Discarded,
    /// The fragment disagrees with its set's total: malformed.
    Inconsistent,
}

/// A set of fragments being collected, or the mark of one discarded.
#[derive(Clone, Debug)]
enum Set {
    Collecting {
        deadline: Instant,
        total: u16,
        bytes: usize,
        parts: BTreeMap<u16, Vec<u8>>,
    },
    Discarded {
        deadline: Instant,
    },
}

impl Set {
    fn deadline(&self) -> Instant {
        match *self {
            Set::Collecting { deadline, .. } | Set::Discarded { deadline } => deadline,
        }
    }
}

/// The reassemblies in progress at one node, keyed by sender and fragment
/// id.
///
/// Sets are abandoned in the order they started, so their deadlines sit in
/// a queue already sorted; a completed set leaves its entry there, skipped
/// when it comes up.
#[derive(Clone, Debug)]
pub struct Reassemblies {
    limit: usize,
    max_bytes: usize,
    timeout: Duration,
    sets: BTreeMap<(PeerId, u64), Set>,
    order: VecDeque<(Instant, (PeerId, u64))>,
}

impl Reassemblies {
    /// No reassembly in progress; at most `limit` at a time (at least 1),
    /// each of at most `max_bytes` of data, each abandoned `timeout` after
    /// its first fragment.
    pub fn new(limit: usize, max_bytes: usize, timeout: Duration) -> Self {
        Reassemblies {
            limit: limit.max(1),
            max_bytes,
            timeout,
            sets: BTreeMap::new(),
            order: VecDeque::new(),
        }
    }

    /// How many sets are in progress (discarded ones included, until their
    /// deadline).
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Adds `fragment` from `sender`. Starting a set when `limit` are in
    /// progress first evicts the oldest; the fragment id of an evicted set
    /// that was still collecting comes back with the progress.
    pub fn add(
        &mut self,
        now: Instant,
        sender: PeerId,
        fragment: &Fragment<'_>,
    ) -> (Progress, Option<u64>) {
        let key = (sender, fragment.id);
        let mut evicted = None;
        if !self.sets.contains_key(&key) && self.sets.len() >= self.limit {
            evicted = self.pop_oldest().and_then(|(id, set)| match set {
                Set::Collecting { .. } => Some(id),
                Set::Discarded { .. } => None,
            });
        }
        let set = self.sets.entry(key).or_insert_with(|| {
            let deadline = now.saturating_add(self.timeout);
            self.order.push_back((deadline, key));
            Set::Collecting {
                deadline,
                total: fragment.total,
                bytes: 0,
                parts: BTreeMap::new(),
            }
        });
        let Set::Collecting {
            deadline,
            total,
            bytes,
            parts,
        } = set
        else {
            return (Progress::Pending, evicted);
        };
        if *total != fragment.total {
            return (Progress::Inconsistent, evicted);
        }
        if parts.contains_key(&fragment.index) {
            return (Progress::Pending, evicted);
        }
        if *bytes + fragment.data.len() > self.max_bytes {
            *set = Set::Discarded {
                deadline: *deadline,
            };
            return (Progress::Discarded, evicted);
        }
        *bytes += fragment.data.len();
        parts.insert(fragment.index, fragment.data.to_vec());
        if parts.len() < usize::from(*total) {
            return (Progress::Pending, evicted);
        }
        let mut payload = Vec::with_capacity(*bytes);
        for part in parts.values() {
            payload.extend_from_slice(part);
        }
        self.sets.remove(&key);
        (Progress::Complete(payload), evicted)
    }

    /// Abandons every set whose deadline is at or before `now`, pushing the
    /// fragment ids of those still collecting (timed out) onto `timed_out`.
    pub fn expire(&mut self, now: Instant, timed_out: &mut Vec<u64>) {
        while self.order.front().is_some_and(|&(d, _)| d <= now) {
            if let Some((id, Set::Collecting { .. })) = self.pop_oldest() {
                timed_out.push(id);
            }
        }
    }

    /// The earliest deadline, if any set is queued (it may have completed:
    /// a wake-up then finds nothing to do).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.order.front().map(|&(d, _)| d)
    }

    /// Removes the oldest set still present, with its fragment id.
    fn pop_oldest(&mut self) -> Option<(u64, Set)> {
        while let Some((deadline, key)) = self.order.pop_front() {
            if self
                .sets
                .get(&key)
                .is_some_and(|s| s.deadline() == deadline)
            {
                return self.sets.remove(&key).map(|set| (key.1, set));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SENDER: PeerId = PeerId(1);

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn table() -> Reassemblies {
        Reassemblies::new(128, 1 << 20, Duration::from_secs(30))
    }

    #[test]
    fn a_fragment_round_trips_through_its_payload() {
        let data = [1, 2, 3];
        let fragment = Fragment {
            id: 77,
            index: 1,
            total: 3,
            original: MessageType::Message,
            data: &data,
        };
        let bytes = fragment.to_payload();
        assert_eq!(bytes.len(), HEADER_LEN + 3);
        assert_eq!(fragment.kind(), MessageType::FragmentContinue);
        assert_eq!(
            Fragment::parse(MessageType::FragmentContinue, &bytes),
            Ok(fragment)
        );
        assert_eq!(
            Fragment::parse(MessageType::FragmentEnd, &bytes),
            Err(Error::Kind)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let good = Fragment {
            id: 1,
            index: 0,
            total: 2,
            original: MessageType::Message,
            data: &[9],
        }
        .to_payload();
        let start = MessageType::FragmentStart;
        assert_eq!(
            Fragment::parse(start, &good[..HEADER_LEN - 1]),
            Err(Error::Truncated)
        );
        for (offset, value, error) in [
            (11, 1, Error::Index),   // total 1
            (9, 2, Error::Index),    // index 2 of 2
            (12, 0x05, Error::Type), // a fragment of a fragment
            (12, 0x02, Error::Type), // an unknown type
        ] {
            let mut bytes = good.clone();
            bytes[offset] = value;
            assert_eq!(Fragment::parse(start, &bytes), Err(error), "{offset}");
        }
    }

    #[test]
    fn split_cuts_full_fragments_but_the_last() {
        let original = payload(1000);
        let fragments = split(5, MessageType::Message, &original, 300).unwrap();
        let sizes: Vec<_> = fragments.iter().map(|f| f.data.len()).collect();
        assert_eq!(sizes, [300, 300, 300, 100]);
        assert!(fragments.iter().all(|f| f.total == 4 && f.id == 5));
        assert_eq!(split(5, MessageType::Message, &original, 1000), None);
        assert_eq!(split(5, MessageType::Message, &payload(70_000), 1), None);
    }

    #[test]
    fn fragments_in_any_order_reassemble_to_the_original_bytes() {
        let original = payload(1000);
        let mut fragments = split(5, MessageType::Message, &original, 300).unwrap();
        fragments.reverse();
        fragments.swap(0, 2);
        let mut table = table();
        let (last, rest) = fragments.split_last().unwrap();
        for fragment in rest {
            assert_eq!(
                table.add(at(0), SENDER, fragment),
                (Progress::Pending, None)
            );
            // A second copy changes nothing.
            assert_eq!(
                table.add(at(0), SENDER, fragment),
                (Progress::Pending, None)
            );
        }
        assert_eq!(
            table.add(at(1), SENDER, last),
            (Progress::Complete(original), None)
        );
        assert!(table.is_empty());
        // Its deadline is still queued; waking for it finds nothing to do.
        let mut timed_out = Vec::new();
        table.expire(at(30), &mut timed_out);
        assert!(timed_out.is_empty());
        assert_eq!(table.next_deadline(), None);
    }

    #[test]
    fn a_lost_fragment_times_the_reassembly_out() {
        let original = payload(600);
        let fragments = split(8, MessageType::Message, &original, 300).unwrap();
        let mut table = table();
        table.add(at(2), SENDER, &fragments[0]);
        assert_eq!(table.next_deadline(), Some(at(32)));
        let mut timed_out = Vec::new();
        table.expire(at(31), &mut timed_out);
        assert!(timed_out.is_empty());
        table.expire(at(32), &mut timed_out);
        assert_eq!(timed_out, [8]);
        assert!(table.is_empty());
    }

    #[test]
    fn a_new_set_beyond_the_limit_evicts_the_oldest() {
        let original = payload(20);
        let mut table = Reassemblies::new(3, 1 << 20, Duration::from_secs(30));
        for id in 0..3 {
            let fragments = split(id, MessageType::Message, &original, 10).unwrap();
            assert_eq!(table.add(at(id), SENDER, &fragments[0]).1, None);
        }
        let fragments = split(3, MessageType::Message, &original, 10).unwrap();
        assert_eq!(
            table.add(at(3), SENDER, &fragments[0]),
            (Progress::Pending, Some(0))
        );
        assert_eq!(table.len(), 3);
        // Set 0 is gone: its second fragment starts it afresh (evicting 1).
        let zero = split(0, MessageType::Message, &original, 10).unwrap();
        assert_eq!(
            table.add(at(4), SENDER, &zero[1]),
            (Progress::Pending, Some(1))
        );
    }

    #[test]
    fn a_set_past_the_size_cap_is_discarded_and_stays_so() {
        let original = payload(100);
        let fragments = split(4, MessageType::Message, &original, 30).unwrap();
        let mut table = Reassemblies::new(128, 60, Duration::from_secs(30));
        assert_eq!(table.add(at(0), SENDER, &fragments[0]).0, Progress::Pending);
        assert_eq!(table.add(at(0), SENDER, &fragments[1]).0, Progress::Pending);
        assert_eq!(
            table.add(at(0), SENDER, &fragments[2]).0,
            Progress::Discarded
        );
        assert_eq!(table.add(at(0), SENDER, &fragments[3]).0, Progress::Pending);
        let mut timed_out = Vec::new();
        table.expire(at(30), &mut timed_out);
        assert!(timed_out.is_empty(), "a discarded set does not time out");
        assert!(table.is_empty());
    }

    #[test]
    fn a_fragment_that_disagrees_with_its_set_is_inconsistent() {
        let original = payload(40);
        let two = split(6, MessageType::Message, &original, 20).unwrap();
        let four = split(6, MessageType::Message, &original, 10).unwrap();
        let mut table = table();
        table.add(at(0), SENDER, &two[0]);
        assert_eq!(table.add(at(0), SENDER, &four[1]).0, Progress::Inconsistent);
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
            kind in 5u8..8,
        ) {
            let kind = MessageType::from_u8(kind).unwrap();
            if let Ok(fragment) = Fragment::parse(kind, &bytes) {
                prop_assert_eq!(fragment.to_payload(), bytes);
            }
        }

        #[test]
        fn split_then_reassemble_round_trips(
            len in 2usize..2000,
            max_data in 1usize..400,
            seed in any::<u64>(),
        ) {
            let original: Vec<u8> = (0..len).map(|i| (i as u64 ^ seed) as u8).collect();
            let Some(mut fragments) = split(seed, MessageType::Message, &original, max_data) else {
                prop_assert!(len <= max_data);
                return Ok(());
            };
            // Through the wire and in a seed-dependent order.
            let payloads: Vec<(MessageType, Vec<u8>)> =
                fragments.iter().map(|f| (f.kind(), f.to_payload())).collect();
            fragments = payloads
                .iter()
                .map(|(kind, p)| Fragment::parse(*kind, p).unwrap())
                .collect();
            let n = fragments.len();
            fragments.rotate_left(seed as usize % n);
            let mut table = table();
            let mut done = None;
            for fragment in &fragments {
                if let (Progress::Complete(payload), _) = table.add(at(0), SENDER, fragment) {
                    done = Some(payload);
                }
            }
            prop_assert_eq!(done, Some(original));
        }
    }
}
