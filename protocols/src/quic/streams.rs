//! Streams: send and receive buffers, flow control and priorities (RFC
//! 9000 §2–§4).
//!
//! Every application message travels on a unidirectional stream of its
//! own, opened by the sender, and ends with the stream's FIN; the receiver
//! hands the message up once every byte up to the FIN has arrived. A loss
//! that holds up one stream therefore never holds up another (no
//! head-of-line blocking between messages), and "one message in, one
//! message out" needs no framing inside the stream.
//!
//! - [`SendBuf`] keeps everything written to a stream (or a crypto level)
//!   until it is acknowledged, with the ranges lost and waiting to be sent
//!   again; retransmissions go before new data.
//! - [`RecvBuf`] reassembles out-of-order segments into a contiguous
//!   prefix and checks the final size.
//! - [`Streams`] holds a connection's message streams. Sending: streams are
//!   opened while the peer's `MAX_STREAMS` allows (later messages queue, the
//!   most urgent first); new bytes go out only below the stream's
//!   `MAX_STREAM_DATA` and the connection's `MAX_DATA`; streams are served
//!   in order of priority (lower first, like RFC 9218's urgency), then of
//!   stream id, each until it has nothing more to send (RFC 9218's
//!   non-incremental delivery). Receiving: data past the advertised limits
//!   is a `FLOW_CONTROL_ERROR`; bytes count as consumed as soon as they
//!   are contiguous, and a limit is raised by its window once half of it
//!   is consumed.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::connection::SentFrame;
use super::packet::{stream_header_len, Frame};
use super::ranges::RangeSet;
use super::TransportError;

/// The bytes written to a stream and what became of them.
#[derive(Clone, Debug, Default)]
pub(crate) struct SendBuf {
    data: Vec<u8>,
    /// The offset of the first byte never sent.
    unsent: u64,
    /// Ranges sent, lost and not acknowledged since: to send again.
    lost: RangeSet,
    /// Ranges acknowledged.
    acked: RangeSet,
    /// Whether the stream ends after `data`.
    fin: bool,
    /// Whether a frame with the FIN bit still has to be sent.
    fin_pending: bool,
    fin_acked: bool,
}

impl SendBuf {
    /// Appends bytes.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    /// Ends the stream after what was written.
    pub(crate) fn finish(&mut self) {
        self.fin = true;
        self.fin_pending = true;
    }

    /// The bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// The offset of the first byte never sent.
    pub(crate) fn unsent(&self) -> u64 {
        self.unsent
    }

    /// Whether anything is waiting to be sent (lost ranges, new bytes or a
    /// FIN), flow control aside.
    pub(crate) fn has_data(&self) -> bool {
        !self.lost.is_empty() || self.unsent < self.len() || self.fin_pending
    }

    /// The next segment to send, at most `max` bytes: the lowest lost
    /// range first, then new bytes below the flow-control offset `limit`,
    /// then a bare FIN. Returns `(offset, length, fin)`.
    pub(crate) fn next_segment(&mut self, max: usize, limit: u64) -> Option<(u64, usize, bool)> {
        let end = self.len();
        let max = max as u64;
        if let Some(r) = self.lost.first() {
            let len = (r.end - r.start).min(max);
            if len == 0 {
                return None;
            }
            self.lost.remove(r.start..r.start + len);
            return Some(self.segment(r.start, len));
        }
        if self.unsent < end {
            let len = (end - self.unsent)
                .min(max)
                .min(limit.saturating_sub(self.unsent));
            if len == 0 {
                return None;
            }
            let offset = self.unsent;
            self.unsent += len;
            return Some(self.segment(offset, len));
        }
        if self.fin_pending {
            self.fin_pending = false;
            return Some((end, 0, true));
        }
        None
    }

    /// A segment, with the FIN bit if it reaches the end of a finished
    /// stream.
    fn segment(&mut self, offset: u64, len: u64) -> (u64, usize, bool) {
        let fin = self.fin && offset + len == self.len();
        if fin {
            self.fin_pending = false;
        }
        (offset, len as usize, fin)
    }

    /// The bytes of a segment.
    pub(crate) fn bytes(&self, offset: u64, len: usize) -> &[u8] {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let end = start.saturating_add(len).min(self.data.len());
        &self.data[start..end]
    }

    /// A segment was acknowledged.
    pub(crate) fn on_ack(&mut self, offset: u64, len: u64, fin: bool) {
        self.acked.insert(offset..offset + len);
        self.lost.remove(offset..offset + len);
        self.fin_acked |= fin;
    }

    /// A segment was lost: what of it is not acknowledged is sent again.
    pub(crate) fn on_lost(&mut self, offset: u64, len: u64, fin: bool) {
        for gap in self.acked.gaps_within(offset..offset + len) {
            self.lost.insert(gap);
        }
        if fin && !self.fin_acked {
            self.fin_pending = true;
        }
    }

    /// Whether every byte and the FIN are acknowledged.
    pub(crate) fn is_acked(&self) -> bool {
        self.fin_acked && self.acked.covers(0..self.len())
    }
}

/// Out-of-order segments reassembled into a contiguous prefix.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecvBuf {
    assembled: Vec<u8>,
    /// Segments beyond the prefix, by offset.
    pending: BTreeMap<u64, Vec<u8>>,
    final_size: Option<u64>,
    /// The highest offset received (RFC 9000 §4.5's largest offset).
    highest: u64,
}

impl RecvBuf {
    /// Takes a segment; returns how many bytes it added to the contiguous
    /// prefix. A FIN that moves the final size, or data beyond it, is a
    /// `FINAL_SIZE_ERROR` (RFC 9000 §4.5).
    pub(crate) fn insert(
        &mut self,
        offset: u64,
        data: &[u8],
        fin: bool,
    ) -> Result<u64, TransportError> {
        let end = offset + data.len() as u64;
        if let Some(size) = self.final_size {
            if end > size || (fin && end != size) {
                return Err(TransportError::FinalSize);
            }
        }
        if fin {
            if end < self.highest {
                return Err(TransportError::FinalSize);
            }
            self.final_size = Some(end);
        }
        self.highest = self.highest.max(end);
        let have = self.assembled.len() as u64;
        if end <= have {
            return Ok(0);
        }
        let skip = have.saturating_sub(offset) as usize;
        let (offset, data) = (offset + skip as u64, &data[skip..]);
        if offset > have {
            let slot = self.pending.entry(offset).or_default();
            if slot.len() < data.len() {
                *slot = data.to_vec();
            }
            return Ok(0);
        }
        self.assembled.extend_from_slice(data);
        while let Some(entry) = self.pending.first_entry() {
            let at = *entry.key();
            let have = self.assembled.len() as u64;
            if at > have {
                break;
            }
            let segment = entry.remove();
            let skip = (have - at) as usize;
            if skip < segment.len() {
                self.assembled.extend_from_slice(&segment[skip..]);
            }
        }
        Ok(self.assembled.len() as u64 - have)
    }

    /// The contiguous prefix.
    pub(crate) fn assembled(&self) -> &[u8] {
        &self.assembled
    }

    /// The highest offset received.
    pub(crate) fn highest(&self) -> u64 {
        self.highest
    }

    /// Whether the final size is known.
    pub(crate) fn is_final(&self) -> bool {
        self.final_size.is_some()
    }

    /// Whether every byte up to the final size is here.
    pub(crate) fn is_complete(&self) -> bool {
        self.final_size == Some(self.assembled.len() as u64)
    }

    /// The bytes, once complete.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.assembled
    }
}

/// A stream this endpoint sends a message on.
#[derive(Clone, Debug)]
struct SendStream {
    buf: SendBuf,
    /// The peer's MAX_STREAM_DATA for it.
    max_data: u64,
    priority: u8,
}

/// A stream the peer sends a message on.
#[derive(Clone, Debug)]
struct RecvStream {
    buf: RecvBuf,
    /// The MAX_STREAM_DATA this endpoint advertised.
    max_data: u64,
}

/// The flow-control and stream-count limits one side gives the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Limits {
    /// `initial_max_data`.
    pub(crate) max_data: u64,
    /// `initial_max_stream_data_uni`.
    pub(crate) max_stream_data: u64,
    /// `initial_max_streams_uni`.
    pub(crate) max_streams: u64,
}

/// A connection's message streams.
#[derive(Clone, Debug)]
pub(crate) struct Streams {
    /// The low two bits of this endpoint's unidirectional stream ids.
    local_bits: u64,
    // Sending.
    send: BTreeMap<u64, SendStream>,
    /// `(priority, id)` of the streams with something to send.
    ready: BTreeSet<(u8, u64)>,
    /// Messages waiting for stream credit, by `(priority, arrival)`.
    queued: BTreeMap<(u8, u64), Vec<u8>>,
    arrivals: u64,
    next_index: u64,
    peer: Limits,
    /// New stream bytes sent, against the peer's MAX_DATA.
    data_sent: u64,
    // Receiving.
    recv: BTreeMap<u64, RecvStream>,
    /// Indices of the peer's streams that are complete.
    finished: RangeSet,
    completed: u64,
    local: Limits,
    /// The windows the limits are raised by.
    windows: Limits,
    /// Bytes received, as the sum of each stream's highest offset.
    received: u64,
    /// Bytes contiguous, hence consumed.
    consumed: u64,
    send_max_data: bool,
    send_max_streams: bool,
    send_max_stream_data: BTreeSet<u64>,
}

impl Streams {
    /// Streams for a client (`server` false) or a server, advertising
    /// `windows` to the peer. The peer's limits are zero until
    /// [`Streams::set_peer_limits`].
    pub(crate) fn new(server: bool, windows: Limits) -> Self {
        Streams {
            local_bits: 0x2 | u64::from(server),
            send: BTreeMap::new(),
            ready: BTreeSet::new(),
            queued: BTreeMap::new(),
            arrivals: 0,
            next_index: 0,
            peer: Limits::default(),
            data_sent: 0,
            recv: BTreeMap::new(),
            finished: RangeSet::default(),
            completed: 0,
            local: windows,
            windows,
            received: 0,
            consumed: 0,
            send_max_data: false,
            send_max_streams: false,
            send_max_stream_data: BTreeSet::new(),
        }
    }

    /// Takes the peer's transport parameters (or, for 0-RTT, those
    /// remembered from the ticket). Limits only ever grow.
    pub(crate) fn set_peer_limits(&mut self, limits: Limits) {
        self.peer.max_data = self.peer.max_data.max(limits.max_data);
        self.peer.max_stream_data = self.peer.max_stream_data.max(limits.max_stream_data);
        for stream in self.send.values_mut() {
            stream.max_data = stream.max_data.max(limits.max_stream_data);
        }
        self.peer.max_streams = self.peer.max_streams.max(limits.max_streams);
        self.open_queued();
    }

    /// Queues a message to go out on a new stream at `priority`.
    pub(crate) fn push_message(&mut self, bytes: Vec<u8>, priority: u8) {
        self.queued.insert((priority, self.arrivals), bytes);
        self.arrivals += 1;
        self.open_queued();
    }

    /// Opens streams for queued messages while the peer's limit allows.
    fn open_queued(&mut self) {
        while self.next_index < self.peer.max_streams {
            let Some(((priority, _), bytes)) = self.queued.pop_first() else {
                break;
            };
            let id = (self.next_index << 2) | self.local_bits;
            self.next_index += 1;
            let mut buf = SendBuf::default();
            buf.write(&bytes);
            buf.finish();
            self.send.insert(
                id,
                SendStream {
                    buf,
                    max_data: self.peer.max_stream_data,
                    priority,
                },
            );
            self.ready.insert((priority, id));
        }
    }

    /// Messages not yet fully acknowledged (sent or queued).
    pub(crate) fn unfinished(&self) -> usize {
        self.send.len() + self.queued.len()
    }

    /// Whether a stream has something to send (flow control aside).
    pub(crate) fn has_data(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Writes STREAM frames into `out`, using at most `room` bytes, most
    /// urgent stream first; records them in `sent`.
    pub(crate) fn write_frames(
        &mut self,
        out: &mut Vec<u8>,
        room: usize,
        sent: &mut Vec<SentFrame>,
    ) {
        let start = out.len();
        let mut from = Bound::Unbounded;
        while let Some(&key) = self.ready.range((from, Bound::Unbounded)).next() {
            let (_, id) = key;
            let Some(stream) = self.send.get_mut(&id) else {
                self.ready.remove(&key);
                continue;
            };
            let left = room.saturating_sub(out.len() - start);
            let header = stream_header_len(id, stream.buf.len(), left);
            if left <= header {
                break;
            }
            let credit = self.peer.max_data.saturating_sub(self.data_sent);
            let limit = stream
                .max_data
                .min(stream.buf.unsent().saturating_add(credit));
            let before = stream.buf.unsent();
            match stream.buf.next_segment(left - header, limit) {
                Some((offset, len, fin)) => {
                    self.data_sent += stream.buf.unsent() - before;
                    Frame::Stream {
                        id,
                        offset,
                        data: stream.buf.bytes(offset, len),
                        fin,
                    }
                    .emit(out);
                    sent.push(SentFrame::Stream {
                        id,
                        offset,
                        len: len as u64,
                        fin,
                    });
                    if !stream.buf.has_data() {
                        self.ready.remove(&key);
                    }
                }
                None => {
                    if !stream.buf.has_data() {
                        self.ready.remove(&key);
                    }
                    from = Bound::Excluded(key);
                }
            }
        }
    }

    /// A STREAM frame's bytes were acknowledged; a stream whose bytes and
    /// FIN all are is done.
    pub(crate) fn on_acked(&mut self, id: u64, offset: u64, len: u64, fin: bool) {
        if let Some(stream) = self.send.get_mut(&id) {
            stream.buf.on_ack(offset, len, fin);
            if stream.buf.is_acked() {
                let priority = stream.priority;
                self.send.remove(&id);
                self.ready.remove(&(priority, id));
            }
        }
    }

    /// A STREAM frame was lost: its bytes go out again.
    pub(crate) fn on_lost(&mut self, id: u64, offset: u64, len: u64, fin: bool) {
        if let Some(stream) = self.send.get_mut(&id) {
            stream.buf.on_lost(offset, len, fin);
            if stream.buf.has_data() {
                self.ready.insert((stream.priority, id));
            }
        }
    }

    /// The peer raised the connection's limit.
    pub(crate) fn on_max_data(&mut self, max: u64) {
        self.peer.max_data = self.peer.max_data.max(max);
    }

    /// The peer raised a stream's limit. Only streams this endpoint opened
    /// can be sent on; anything else is a `STREAM_STATE_ERROR`.
    pub(crate) fn on_max_stream_data(&mut self, id: u64, max: u64) -> Result<(), TransportError> {
        if id & 0x3 != self.local_bits || id >> 2 >= self.next_index {
            return Err(TransportError::StreamState);
        }
        if let Some(stream) = self.send.get_mut(&id) {
            stream.max_data = stream.max_data.max(max);
        }
        Ok(())
    }

    /// The peer allows more streams.
    pub(crate) fn on_max_streams(&mut self, bidi: bool, max: u64) {
        if !bidi {
            self.peer.max_streams = self.peer.max_streams.max(max);
            self.open_queued();
        }
    }

    /// Takes a STREAM frame from the peer. Returns the message if it
    /// completed its stream.
    pub(crate) fn on_stream_frame(
        &mut self,
        id: u64,
        offset: u64,
        data: &[u8],
        fin: bool,
    ) -> Result<Option<Vec<u8>>, TransportError> {
        let peer_bits = self.local_bits ^ 0x1;
        if id & 0x3 != peer_bits {
            // Our own streams are send-only; no bidirectional streams are
            // allowed (their limit is 0).
            return Err(if id & 0x2 == 0 {
                TransportError::StreamLimit
            } else {
                TransportError::StreamState
            });
        }
        let index = id >> 2;
        if index >= self.local.max_streams {
            return Err(TransportError::StreamLimit);
        }
        if self.finished.contains(index) {
            return Ok(None);
        }
        let window = self.windows.max_stream_data;
        let stream = self.recv.entry(id).or_insert_with(|| RecvStream {
            buf: RecvBuf::default(),
            max_data: window,
        });
        let end = offset + data.len() as u64;
        if end > stream.max_data {
            return Err(TransportError::FlowControl);
        }
        let grow = end.saturating_sub(stream.buf.highest());
        if self.received + grow > self.local.max_data {
            return Err(TransportError::FlowControl);
        }
        let added = stream.buf.insert(offset, data, fin)?;
        self.received += grow;
        self.consumed += added;
        if self.local.max_data - self.consumed < self.windows.max_data / 2 {
            self.local.max_data = self.consumed + self.windows.max_data;
            self.send_max_data = true;
        }
        if stream.buf.is_complete() {
            let stream = self.recv.remove(&id).map(|s| s.buf.into_bytes());
            self.finished.insert(index..index + 1);
            self.completed += 1;
            self.send_max_stream_data.remove(&id);
            if self.local.max_streams - self.completed <= self.windows.max_streams / 2 {
                self.local.max_streams = self.completed + self.windows.max_streams;
                self.send_max_streams = true;
            }
            return Ok(stream);
        }
        let have = stream.buf.assembled().len() as u64;
        if !stream.buf.is_final() && stream.max_data - have < window / 2 {
            stream.max_data = have + window;
            self.send_max_stream_data.insert(id);
        }
        Ok(None)
    }

    /// Whether a flow-control update waits to be sent.
    pub(crate) fn has_updates(&self) -> bool {
        self.send_max_data || self.send_max_streams || !self.send_max_stream_data.is_empty()
    }

    /// Writes the pending MAX_DATA, MAX_STREAMS and MAX_STREAM_DATA frames
    /// that fit in `room` bytes.
    pub(crate) fn write_updates(
        &mut self,
        out: &mut Vec<u8>,
        room: usize,
        sent: &mut Vec<SentFrame>,
    ) {
        let start = out.len();
        let mut put = |frame: Frame<'_>, record: SentFrame, out: &mut Vec<u8>| {
            if out.len() - start + frame.buffer_len() > room {
                return false;
            }
            frame.emit(out);
            sent.push(record);
            true
        };
        if self.send_max_data && put(Frame::MaxData(self.local.max_data), SentFrame::MaxData, out) {
            self.send_max_data = false;
        }
        if self.send_max_streams {
            let frame = Frame::MaxStreams {
                bidi: false,
                max: self.local.max_streams,
            };
            if put(frame, SentFrame::MaxStreams, out) {
                self.send_max_streams = false;
            }
        }
        while let Some(&id) = self.send_max_stream_data.first() {
            if let Some(stream) = self.recv.get(&id) {
                let frame = Frame::MaxStreamData {
                    id,
                    max: stream.max_data,
                };
                if !put(frame, SentFrame::MaxStreamData { id }, out) {
                    break;
                }
            }
            self.send_max_stream_data.remove(&id);
        }
    }

    /// A flow-control update was lost: the current value goes out again.
    pub(crate) fn on_update_lost(&mut self, frame: &SentFrame) {
        match *frame {
            SentFrame::MaxData => self.send_max_data = true,
            SentFrame::MaxStreams => self.send_max_streams = true,
            SentFrame::MaxStreamData { id } if self.recv.contains_key(&id) => {
                self.send_max_stream_data.insert(id);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_buf_retransmits_lost_ranges_first_and_finishes_once_all_is_acked() {
        let mut buf = SendBuf::default();
        buf.write(&[7; 100]);
        buf.finish();
        assert_eq!(buf.next_segment(40, u64::MAX), Some((0, 40, false)));
        assert_eq!(
            buf.next_segment(40, 60),
            Some((40, 20, false)),
            "flow control"
        );
        assert_eq!(buf.next_segment(40, 60), None);
        assert_eq!(buf.next_segment(100, u64::MAX), Some((60, 40, true)));
        assert!(!buf.has_data());
        buf.on_ack(40, 20, false);
        buf.on_lost(0, 40, false);
        buf.on_lost(60, 40, true);
        assert_eq!(buf.next_segment(30, u64::MAX), Some((0, 30, false)));
        assert_eq!(buf.next_segment(100, u64::MAX), Some((30, 10, false)));
        assert_eq!(buf.next_segment(100, u64::MAX), Some((60, 40, true)));
        for (offset, len, fin) in [(0, 30, false), (30, 10, false)] {
            buf.on_ack(offset, len, fin);
        }
        assert!(!buf.is_acked());
        buf.on_ack(60, 40, true);
        assert!(buf.is_acked());
    }

    #[test]
    fn an_empty_message_is_a_bare_fin() {
        let mut buf = SendBuf::default();
        buf.finish();
        assert_eq!(buf.next_segment(0, 0), Some((0, 0, true)));
        assert_eq!(buf.next_segment(0, 0), None);
    }

    #[test]
    fn recv_buf_reassembles_and_checks_the_final_size() {
        let mut buf = RecvBuf::default();
        assert_eq!(buf.insert(5, b"fgh", true), Ok(0));
        assert_eq!(buf.insert(0, b"abc", false), Ok(3));
        assert!(!buf.is_complete());
        assert_eq!(buf.insert(2, b"cde", false), Ok(5));
        assert!(buf.is_complete());
        assert_eq!(buf.assembled(), b"abcdefgh");
        assert_eq!(buf.insert(6, b"xyz", false), Err(TransportError::FinalSize));
        assert_eq!(buf.insert(0, b"ab", true), Err(TransportError::FinalSize));
    }

    fn limits(n: u64) -> Limits {
        Limits {
            max_data: n,
            max_stream_data: n,
            max_streams: 2,
        }
    }

    #[test]
    fn streams_open_within_the_peers_limit_most_urgent_first() {
        let mut s = Streams::new(false, limits(1000));
        s.push_message(vec![1; 10], 3);
        s.push_message(vec![2; 20], 3);
        s.push_message(vec![3; 30], 0);
        assert!(!s.has_data(), "no stream credit before the peer's limits");
        // Two streams allowed: the urgent message, then the first one.
        s.set_peer_limits(limits(1000));
        let (mut out, mut sent) = (Vec::new(), Vec::new());
        s.write_frames(&mut out, 1000, &mut sent);
        let got: Vec<(u64, u64)> = sent
            .iter()
            .map(|f| match f {
                SentFrame::Stream { id, len, .. } => (*id, *len),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, [(2, 30), (6, 10)], "client uni streams 2 and 6");
        assert_eq!(s.unfinished(), 3);
        s.on_max_streams(false, 3);
        sent.clear();
        s.write_frames(&mut out, 1000, &mut sent);
        assert!(matches!(
            sent[..],
            [SentFrame::Stream {
                id: 10,
                len: 20,
                fin: true,
                ..
            }]
        ));
    }

    #[test]
    fn receiving_enforces_limits_and_raises_them() {
        let mut s = Streams::new(true, limits(100));
        assert_eq!(
            s.on_stream_frame(3, 0, b"x", false),
            Err(TransportError::StreamState)
        );
        assert_eq!(
            s.on_stream_frame(0, 0, b"x", false),
            Err(TransportError::StreamLimit)
        );
        assert_eq!(
            s.on_stream_frame(10, 0, b"x", false),
            Err(TransportError::StreamLimit)
        );
        assert_eq!(
            s.on_stream_frame(2, 0, &[0; 101], false),
            Err(TransportError::FlowControl)
        );
        assert_eq!(s.on_stream_frame(2, 0, &[0; 60], false), Ok(None));
        assert!(s.has_updates(), "more than half the window consumed");
        let (mut out, mut sent) = (Vec::new(), Vec::new());
        s.write_updates(&mut out, 100, &mut sent);
        assert_eq!(
            sent,
            [SentFrame::MaxData, SentFrame::MaxStreamData { id: 2 }]
        );
        assert_eq!(
            s.on_stream_frame(2, 60, &[0; 10], true),
            Ok(Some(vec![0; 70]))
        );
        // A late duplicate of a finished stream is ignored.
        assert_eq!(s.on_stream_frame(2, 0, &[0; 10], false), Ok(None));
    }
}
