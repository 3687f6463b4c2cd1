//! The send and receive windows of one connection: fragmentation, the
//! sliding window, selective acknowledgement, loss detection, credit.
//!
//! # Sending
//!
//! Application messages wait whole in a queue and are cut into fragments
//! only when a data frame can leave, so a fragment is as large as the frame,
//! the message's remainder and the peer's credit allow, whichever is
//! least. A fragment is numbered with the next data sequence number; the
//! last fragment of a message carries the end flag, and an empty message is
//! one empty fragment. A frame may leave while
//!
//! - fewer than `max_frames_in_flight` frames are unacknowledged (the
//!   sliding window), and
//! - the fragments sent so far, in application bytes, stay within the
//!   peer's credit limit (flow control).
//!
//! Each frame sent is kept, as its wire bytes, until it is cumulatively
//! acknowledged; a retransmission sends those bytes again. An ack removes
//! the frames below its cumulative point and marks those in its ranges.
//! A frame is deemed lost, and sent again at once, when a frame sent at
//! least [`PACKET_THRESHOLD`] transmissions after it has been acknowledged
//! (the packet threshold of RFC 9002, which also copes with reordering);
//! the retransmission timer is the connection's. RTT samples come only
//! from frames sent once (Karn).
//!
//! # Receiving
//!
//! Frames below the cumulative point, or already held, are duplicates.
//! Frames beyond it wait in order; each frame that arrives in order is
//! consumed, with whatever it makes contiguous: its bytes join the message
//! being reassembled, and a fragment with the end flag completes the
//! message. The credit limit starts at the receive window and is renewed to
//! `consumed + window` once half of it is used (Betanet's rule). A frame
//! that would take the held bytes beyond the credit granted, or lies more
//! than [`MAX_FRAMES_AHEAD`] frames ahead, is refused: an honest sender
//! never sends one.
//!
//! The message being reassembled is the application's buffer, not the
//! window's: it does not count against credit, so a message may be larger
//! than the window.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

use sim_core::{Duration, Instant};

use super::config::MAX_FRAMES_AHEAD;
use super::frame::Ack;

/// A frame is lost once a frame sent this many transmissions later has
/// been acknowledged (RFC 9002's `kPacketThreshold`).
pub(super) const PACKET_THRESHOLD: u64 = 3;

/// A piece of an application message, ready to be framed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fragment {
    /// Its data sequence number.
    pub(super) seq: u32,
    /// The application's bytes.
    pub(super) bytes: Vec<u8>,
    /// Whether it ends its message.
    pub(super) end: bool,
}

/// A message not yet wholly cut into fragments.
#[derive(Clone, Debug)]
struct Outgoing {
    bytes: Vec<u8>,
    offset: usize,
}

/// A data frame sent and not yet cumulatively acknowledged.
#[derive(Clone, Debug)]
struct Sent {
    wire: Vec<u8>,
    len: u64,
    end: bool,
    /// Its latest transmission: when, and its rank among all transmissions.
    sent_at: Instant,
    order: u64,
    transmissions: u32,
    sacked: bool,
}

/// What an ack did to the send window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Acked {
    /// Whether it acknowledged a frame not acknowledged before.
    pub(super) progress: bool,
    /// A round-trip sample, from the latest-sent newly acknowledged frame
    /// that was sent only once.
    pub(super) rtt: Option<Duration>,
    /// Frames now deemed lost, to send again, ascending.
    pub(super) lost: Vec<u32>,
}

/// An ack acknowledged frames that were never sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Unsent;

/// The sending half of a connection.
#[derive(Clone, Debug)]
pub(super) struct SendWindow {
    queue: VecDeque<Outgoing>,
    in_flight: BTreeMap<u32, Sent>,
    next_seq: u32,
    /// Application bytes sent in data frames so far (credit used).
    sent_bytes: u64,
    /// The peer's credit limit.
    limit: u64,
    next_order: u64,
    largest_acked_order: Option<u64>,
}

impl SendWindow {
    /// Nothing sent, with `limit` bytes of credit.
    pub(super) fn new(limit: u64) -> SendWindow {
        SendWindow {
            queue: VecDeque::new(),
            in_flight: BTreeMap::new(),
            next_seq: 0,
            sent_bytes: 0,
            limit,
            next_order: 0,
            largest_acked_order: None,
        }
    }

    /// Queues an application message.
    pub(super) fn push(&mut self, bytes: Vec<u8>) {
        self.queue.push_back(Outgoing { bytes, offset: 0 });
    }

    /// Whether frames are unacknowledged.
    pub(super) fn in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// The next data sequence number.
    pub(super) fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Application bytes sent so far.
    pub(super) fn sent_bytes(&self) -> u64 {
        self.sent_bytes
    }

    /// Messages the peer has not wholly received: those queued, and those
    /// whose last fragment is not cumulatively acknowledged.
    pub(super) fn undelivered(&self) -> usize {
        self.queue.len() + self.in_flight.values().filter(|s| s.end).count()
    }

    /// The next fragment, if one may leave: see the module docs. A
    /// fragment holds at most `capacity` bytes and at least one (an empty
    /// message's holds none); the last sequence number, `u32::MAX`, is never
    /// used.
    pub(super) fn cut(&mut self, capacity: usize, max_frames: u32) -> Option<Fragment> {
        if self.in_flight.len() >= max_frames as usize || self.next_seq == u32::MAX {
            return None;
        }
        let front = self.queue.front_mut()?;
        let remaining = front.bytes.len() - front.offset;
        let credit = self.limit.saturating_sub(self.sent_bytes);
        let take = remaining
            .min(capacity)
            .min(usize::try_from(credit).unwrap_or(usize::MAX));
        if take == 0 && remaining > 0 {
            return None;
        }
        let bytes = front.bytes[front.offset..front.offset + take].to_vec();
        front.offset += take;
        let end = front.offset == front.bytes.len();
        if end {
            self.queue.pop_front();
        }
        self.sent_bytes += take as u64;
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(Fragment { seq, bytes, end })
    }

    /// Whether data waits for credit alone.
    pub(super) fn credit_blocked(&self) -> bool {
        self.sent_bytes >= self.limit
            && self.queue.front().is_some_and(|m| m.offset < m.bytes.len())
    }

    /// Keeps fragment `seq`'s frame, sent now as `wire`.
    pub(super) fn record(&mut self, fragment: &Fragment, wire: Vec<u8>, now: Instant) {
        let order = self.take_order();
        self.in_flight.insert(
            fragment.seq,
            Sent {
                wire,
                len: fragment.bytes.len() as u64,
                end: fragment.end,
                sent_at: now,
                order,
                transmissions: 1,
                sacked: false,
            },
        );
    }

    /// The lowest unacknowledged frame: what a retransmission timeout sends
    /// again.
    pub(super) fn oldest(&self) -> Option<u32> {
        self.in_flight.keys().next().copied()
    }

    /// Frame `seq`'s bytes, to send again now.
    pub(super) fn retransmit(&mut self, seq: u32, now: Instant) -> Option<Vec<u8>> {
        let order = self.take_order();
        let sent = self.in_flight.get_mut(&seq)?;
        sent.sent_at = now;
        sent.order = order;
        sent.transmissions += 1;
        Some(sent.wire.clone())
    }

    /// Takes in an ack's credit limit; whether the credit grew.
    pub(super) fn raise_limit(&mut self, limit: u64) -> bool {
        let grew = limit > self.limit;
        self.limit = self.limit.max(limit);
        grew
    }

    /// Takes in an ack's acknowledgements (its credit limit is
    /// [`raise_limit`](Self::raise_limit)'s).
    pub(super) fn on_ack(&mut self, ack: &Ack, now: Instant) -> Result<Acked, Unsent> {
        let top = ack.sacks.last().map_or(ack.cumulative, |r| r.end);
        if ack.cumulative > self.next_seq || top > self.next_seq {
            return Err(Unsent);
        }
        let mut acked = Acked::default();
        let mut newest: Option<Instant> = None;
        let mut note = |sent: &Sent, acked: &mut Acked, largest: &mut Option<u64>| {
            acked.progress = true;
            *largest = (*largest).max(Some(sent.order));
            if sent.transmissions == 1 && newest.is_none_or(|t| sent.sent_at > t) {
                newest = Some(sent.sent_at);
            }
        };
        let above = self.in_flight.split_off(&ack.cumulative);
        for sent in std::mem::replace(&mut self.in_flight, above).values() {
            if !sent.sacked {
                note(sent, &mut acked, &mut self.largest_acked_order);
            }
        }
        for range in &ack.sacks {
            for sent in self.in_flight.range_mut(range.clone()).map(|(_, s)| s) {
                if !sent.sacked {
                    sent.sacked = true;
                    note(sent, &mut acked, &mut self.largest_acked_order);
                }
            }
        }
        acked.rtt = newest.map(|t| now.saturating_duration_since(t));
        if let Some(largest) = self.largest_acked_order {
            acked.lost = self
                .in_flight
                .iter()
                .filter(|(_, s)| !s.sacked && s.order + PACKET_THRESHOLD <= largest)
                .map(|(&seq, _)| seq)
                .collect();
        }
        Ok(acked)
    }

    /// Application bytes in frames not yet cumulatively acknowledged.
    pub(super) fn unacked_bytes(&self) -> u64 {
        self.in_flight.values().map(|s| s.len).sum()
    }

    fn take_order(&mut self) -> u64 {
        let order = self.next_order;
        self.next_order += 1;
        order
    }
}

/// What happened to an arriving data frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Arrival {
    /// Already received.
    Duplicate,
    /// Beyond the credit granted or too far ahead; not kept.
    Refused,
    /// Held until the frames before it arrive.
    Held,
    /// Consumed, with the frames it made contiguous; `messages` are the
    /// application messages this completed, in order.
    InOrder {
        /// Completed messages.
        messages: Vec<Vec<u8>>,
        /// Whether frames were held before it arrived (it filled a gap).
        filled_gap: bool,
    },
}

/// The receiving half of a connection.
#[derive(Clone, Debug)]
pub(super) struct RecvWindow {
    /// The next data sequence number expected (the cumulative ack).
    next: u32,
    /// Frames beyond `next`: their bytes and end flags.
    held: BTreeMap<u32, (Vec<u8>, bool)>,
    held_bytes: u64,
    /// The message being reassembled.
    partial: Vec<u8>,
    /// Application bytes consumed in order.
    consumed: u64,
    /// The credit limit granted.
    limit: u64,
    window: u64,
}

impl RecvWindow {
    /// Nothing received; `window` bytes of credit.
    pub(super) fn new(window: u32) -> RecvWindow {
        RecvWindow {
            next: 0,
            held: BTreeMap::new(),
            held_bytes: 0,
            partial: Vec::new(),
            consumed: 0,
            limit: u64::from(window),
            window: u64::from(window),
        }
    }

    /// The cumulative ack.
    pub(super) fn cumulative(&self) -> u32 {
        self.next
    }

    /// The credit limit granted.
    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// Application bytes consumed in order.
    pub(super) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Bytes held beyond the cumulative ack.
    pub(super) fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// Takes in data frame `seq`.
    pub(super) fn receive(&mut self, seq: u32, bytes: Vec<u8>, end: bool) -> Arrival {
        if seq < self.next || self.held.contains_key(&seq) {
            return Arrival::Duplicate;
        }
        let len = bytes.len() as u64;
        let credit = self.limit.saturating_sub(self.consumed);
        if seq == u32::MAX || seq - self.next >= MAX_FRAMES_AHEAD || self.held_bytes + len > credit
        {
            return Arrival::Refused;
        }
        if seq > self.next {
            self.held.insert(seq, (bytes, end));
            self.held_bytes += len;
            return Arrival::Held;
        }
        let filled_gap = !self.held.is_empty();
        let mut messages = Vec::new();
        self.consume(bytes, end, &mut messages);
        while let Some((bytes, end)) = self.held.remove(&self.next) {
            self.held_bytes -= bytes.len() as u64;
            self.consume(bytes, end, &mut messages);
        }
        Arrival::InOrder {
            messages,
            filled_gap,
        }
    }

    fn consume(&mut self, bytes: Vec<u8>, end: bool, messages: &mut Vec<Vec<u8>>) {
        self.next += 1;
        self.consumed += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        if end {
            messages.push(std::mem::take(&mut self.partial));
        }
    }

    /// Renews the credit once half of it is used: the new limit, if it
    /// changed.
    pub(super) fn renew_credit(&mut self) -> Option<u64> {
        let left = self.limit - self.consumed;
        (2 * left <= self.window).then(|| {
            self.limit = self.consumed + self.window;
            self.limit
        })
    }

    /// The held frames as ranges, ascending, at most `max` of them.
    pub(super) fn sacks(&self, max: usize) -> Vec<Range<u32>> {
        let mut ranges: Vec<Range<u32>> = Vec::new();
        for &seq in self.held.keys() {
            if let Some(last) = ranges.last_mut().filter(|last| last.end == seq) {
                last.end += 1;
            } else if ranges.len() == max {
                break;
            } else {
                ranges.push(seq..seq + 1);
            }
        }
        ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn ack(cumulative: u32, sacks: &[(u32, u32)]) -> Ack {
        Ack {
            cumulative,
            limit: 0,
            sacks: sacks.iter().map(|&(start, end)| start..end).collect(),
        }
    }

    fn spans(ranges: Vec<Range<u32>>) -> Vec<(u32, u32)> {
        ranges.into_iter().map(|r| (r.start, r.end)).collect()
    }

    /// Cuts every fragment that may leave now and records it.
    fn send_all(w: &mut SendWindow, capacity: usize, now: Instant) -> Vec<Fragment> {
        let mut out = Vec::new();
        while let Some(f) = w.cut(capacity, 8) {
            w.record(&f, vec![f.seq as u8], now);
            out.push(f);
        }
        out
    }

    #[test]
    fn messages_are_cut_to_the_frame_and_the_last_piece_ends_them() {
        let mut w = SendWindow::new(1000);
        w.push(vec![1; 25]);
        w.push(Vec::new());
        w.push(vec![2; 3]);
        let frags = send_all(&mut w, 10, at(0));
        let shape: Vec<_> = frags
            .iter()
            .map(|f| (f.seq, f.bytes.len(), f.end))
            .collect();
        assert_eq!(
            shape,
            [
                (0, 10, false),
                (1, 10, false),
                (2, 5, true),
                (3, 0, true),
                (4, 3, true)
            ]
        );
        assert_eq!(w.sent_bytes(), 28);
        assert_eq!(w.undelivered(), 3);
    }

    #[test]
    fn credit_and_the_frame_window_hold_fragments_back() {
        let mut w = SendWindow::new(15);
        w.push(vec![0; 100]);
        let frags = send_all(&mut w, 10, at(0));
        // The second fragment is cut to the credit left.
        assert_eq!(
            frags.iter().map(|f| f.bytes.len()).collect::<Vec<_>>(),
            [10, 5]
        );
        assert!(w.credit_blocked());
        assert!(w.raise_limit(200));
        assert!(!w.raise_limit(100));
        // Now the frame window (8) is the limit.
        assert_eq!(send_all(&mut w, 10, at(0)).len(), 6);
        assert!(!w.credit_blocked());
        assert_eq!(w.unacked_bytes(), 75);
    }

    #[test]
    fn acks_remove_mark_and_detect_loss() {
        let mut w = SendWindow::new(1000);
        for i in 0..6 {
            w.push(vec![i; 4]);
        }
        send_all(&mut w, 10, at(0));
        // Frame 0 arrives; 1 is lost; 2, 3, 4 arrive.
        let acked = w.on_ack(&ack(1, &[(2, 5)]), at(30)).unwrap();
        assert!(acked.progress);
        assert_eq!(acked.rtt, Some(Duration::from_millis(30)));
        // Frame 4 was sent 3 transmissions after frame 1.
        assert_eq!(acked.lost, [1]);
        assert_eq!(w.retransmit(1, at(30)), Some(vec![1]));
        // A repeated ack changes nothing, and frame 1 is not lost again
        // until frames sent after its retransmission are acknowledged.
        let again = w.on_ack(&ack(1, &[(2, 5)]), at(31)).unwrap();
        assert_eq!(again, Acked::default());
        assert_eq!(w.oldest(), Some(1));
        assert_eq!(w.undelivered(), 5);
        let done = w.on_ack(&ack(6, &[]), at(60)).unwrap();
        // Karn: frame 1 was sent twice, so the sample is frame 5's.
        assert_eq!(done.rtt, Some(Duration::from_millis(60)));
        assert_eq!((w.undelivered(), w.unacked_bytes()), (0, 0));
    }

    #[test]
    fn acks_of_frames_never_sent_are_refused() {
        let mut w = SendWindow::new(1000);
        w.push(vec![0; 4]);
        send_all(&mut w, 10, at(0));
        assert_eq!(w.on_ack(&ack(2, &[]), at(1)), Err(Unsent));
        assert_eq!(w.on_ack(&ack(0, &[(1, 2)]), at(1)), Err(Unsent));
        assert_eq!(w.on_ack(&ack(1, &[]), at(1)).map(|a| a.progress), Ok(true));
    }

    #[test]
    fn the_last_sequence_number_is_never_used() {
        let mut w = SendWindow::new(1000);
        w.next_seq = u32::MAX - 1;
        w.push(vec![0; 30]);
        assert_eq!(send_all(&mut w, 10, at(0)).len(), 1);
        assert_eq!(w.next_seq(), u32::MAX);
    }

    fn delivered(arrival: Arrival) -> Vec<Vec<u8>> {
        match arrival {
            Arrival::InOrder { messages, .. } => messages,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fragments_are_reassembled_in_order_whatever_order_they_arrive_in() {
        let mut r = RecvWindow::new(100);
        assert_eq!(r.receive(2, b"c".to_vec(), true), Arrival::Held);
        assert_eq!(r.receive(3, b"d".to_vec(), true), Arrival::Held);
        assert_eq!(spans(r.sacks(8)), [(2, 4)]);
        assert_eq!(r.receive(2, b"c".to_vec(), true), Arrival::Duplicate);
        assert_eq!(
            delivered(r.receive(0, b"a".to_vec(), false)),
            Vec::<Vec<u8>>::new()
        );
        assert_eq!(
            r.receive(1, b"b".to_vec(), false),
            Arrival::InOrder {
                messages: vec![b"abc".to_vec(), b"d".to_vec()],
                filled_gap: true
            }
        );
        assert_eq!(r.cumulative(), 4);
        assert_eq!(r.receive(0, b"a".to_vec(), false), Arrival::Duplicate);
        assert_eq!(r.held_bytes(), 0);
        assert_eq!(r.consumed(), 4);
    }

    #[test]
    fn frames_beyond_the_credit_are_refused() {
        let mut r = RecvWindow::new(10);
        assert_eq!(r.receive(1, vec![0; 6], true), Arrival::Held);
        assert_eq!(r.receive(2, vec![0; 5], true), Arrival::Refused);
        assert_eq!(r.receive(MAX_FRAMES_AHEAD, vec![], true), Arrival::Refused);
        assert_eq!(r.receive(u32::MAX, vec![], true), Arrival::Refused);
        // The frame that fills the gap fits exactly.
        assert_eq!(delivered(r.receive(0, vec![0; 4], true)).len(), 2);
    }

    #[test]
    fn credit_is_renewed_once_half_is_used() {
        let mut r = RecvWindow::new(10);
        assert_eq!(r.renew_credit(), None);
        delivered(r.receive(0, vec![0; 4], true));
        assert_eq!(r.renew_credit(), None);
        delivered(r.receive(1, vec![0; 1], true));
        assert_eq!(r.renew_credit(), Some(15));
        assert_eq!(r.limit(), 15);
        // A one-byte window still moves.
        let mut r = RecvWindow::new(1);
        delivered(r.receive(0, vec![0], true));
        assert_eq!(r.renew_credit(), Some(2));
    }

    #[test]
    fn sack_ranges_are_capped() {
        let mut r = RecvWindow::new(100);
        for seq in [2, 3, 5, 7, 8, 9] {
            r.receive(seq, vec![], true);
        }
        assert_eq!(spans(r.sacks(8)), [(2, 4), (5, 6), (7, 10)]);
        assert_eq!(spans(r.sacks(2)), [(2, 4), (5, 6)]);
    }
}
