//! The gossipsub RPC: the libp2p pubsub protobuf, with the v1.1 PRUNE.
//!
//! A datagram is exactly one RPC as libp2p writes it on a `/meshsub/1.1.0`
//! stream: an unsigned varint length, then that many bytes of the protobuf
//! `RPC` message (the same framing as [`dht`](crate::dht)'s datagrams). A
//! datagram whose length prefix disagrees with its length is malformed.
//!
//! ```text
//! message RPC {
//!   repeated SubOpts subscriptions = 1;     // SubOpts { bool subscribe = 1; string topicid = 2; }
//!   repeated Message publish = 2;
//!   optional ControlMessage control = 3;
//! }
//! message Message {
//!   optional bytes from = 1;  optional bytes data = 2;   optional bytes seqno = 3;
//!   optional string topic = 4; optional bytes signature = 5; optional bytes key = 6;
//!   optional uint32 hops = 1000;            // simulator extension, see below
//! }
//! message ControlMessage { repeated ControlIHave ihave = 1; repeated ControlIWant iwant = 2;
//!                          repeated ControlGraft graft = 3; repeated ControlPrune prune = 4; }
//! message ControlIHave { optional string topicID = 1; repeated bytes messageIDs = 2; }
//! message ControlIWant { repeated bytes messageIDs = 1; }
//! message ControlGraft { optional string topicID = 1; }
//! message ControlPrune { optional string topicID = 1; repeated PeerInfo peers = 2;
//!                        optional uint64 backoff = 3; }   // backoff in seconds
//! message PeerInfo { optional bytes peerID = 1; optional bytes signedPeerRecord = 2; }
//! ```
//!
//! The structs in [`proto`] are that schema, written by hand with
//! `#[derive(prost::Message)]` (no `protoc`, no build script). [`RpcRepr`] is
//! what the bytes mean to the router: [`RpcRepr::parse`] decodes and checks
//! them, [`RpcRepr::emit`] writes them. Whatever the bytes, `parse` never
//! panics: it returns an [`Error`], and the router reports the datagram as
//! malformed.
//!
//! # How the simulator fills the fields
//!
//! - A peer id (`from`, `peerID`) is the simulator's [`NodeId`] as 4 bytes,
//!   big-endian; real peer ids are multihashes of public keys.
//! - A topic is a [`TopicId`], written as its decimal digits (`"7"`); any
//!   other topic string is malformed here.
//! - `seqno` is 8 bytes, big-endian, as the pubsub spec says; the simulator's
//!   publishers count in 32 bits, so a seqno of 2³² or more is invalid.
//! - The message id is the spec's default, `from ‖ seqno`: 12 bytes on the
//!   wire ([`MessageId::to_bytes`]), and the `u64` `(from << 32) | seqno` in
//!   the simulator ([`MessageId`]), which is unique for the same pairs.
//! - The spec types `messageIDs` as `string`; protobuf encodes `string` and
//!   `bytes` identically, and ids are raw bytes (not UTF-8), so they are
//!   `bytes` here, as in rust-libp2p.
//! - `hops` (field 1000) is a simulator extension: how many hops the copy
//!   had travelled before the one it is on, so that the kernel can measure
//!   hop counts. A real implementation skips it as an unknown field. It is
//!   not part of the message id, so relays may change it.
//! - Messages are unsigned: the simulator does no cryptography. A message
//!   without `from` or `seqno`, or with a `signature` or `key`, fails
//!   validation (as under go-libp2p's unsigned policies).
//! - `data` is zeros: the simulator carries the size of an application
//!   message, not its content.
//!
//! # Parse results
//!
//! A framing or protobuf error, a topic that is not a [`TopicId`], a message id that is
//! not 12 bytes of `from ‖ seqno` with a 32-bit seqno, or a PX peer id that
//! is not 4 bytes makes the whole RPC an [`Error`]. A message that fails
//! validation ([`Invalid`]) does not: it is returned in
//! [`RpcRepr::invalid`], so that the router can penalise its sender (P₄).

use std::fmt;

use prost::Message as _;
use sim_core::{Datagram, NodeId};

/// The protobuf schema, as prost structs.
///
/// Optional fields are `Option`s (proto2 presence), so that
/// `subscribe: Some(false)` is written, as libp2p's proto2 code writes it.
pub mod proto {
    /// One RPC: subscription changes, messages and control messages.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Rpc {
        /// Topics the sender joins or leaves.
        #[prost(message, repeated, tag = "1")]
        pub subscriptions: Vec<SubOpts>,
        /// Published or forwarded messages.
        #[prost(message, repeated, tag = "2")]
        pub publish: Vec<Message>,
        /// Gossipsub's control messages.
        #[prost(message, optional, tag = "3")]
        pub control: Option<ControlMessage>,
    }

    /// A subscription change.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SubOpts {
        /// True to subscribe, false to unsubscribe.
        #[prost(bool, optional, tag = "1")]
        pub subscribe: Option<bool>,
        /// The topic.
        #[prost(string, optional, tag = "2")]
        pub topicid: Option<String>,
    }

    /// An application message.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Message {
        /// The author's peer id.
        #[prost(bytes = "vec", optional, tag = "1")]
        pub from: Option<Vec<u8>>,
        /// The payload.
        #[prost(bytes = "vec", optional, tag = "2")]
        pub data: Option<Vec<u8>>,
        /// The author's sequence number, 8 bytes big-endian.
        #[prost(bytes = "vec", optional, tag = "3")]
        pub seqno: Option<Vec<u8>>,
        /// The topic.
        #[prost(string, optional, tag = "4")]
        pub topic: Option<String>,
        /// A signature (the simulator never signs).
        #[prost(bytes = "vec", optional, tag = "5")]
        pub signature: Option<Vec<u8>>,
        /// A signing key (the simulator never signs).
        #[prost(bytes = "vec", optional, tag = "6")]
        pub key: Option<Vec<u8>>,
        /// Simulator extension: hops travelled before the current one.
        #[prost(uint32, optional, tag = "1000")]
        pub hops: Option<u32>,
    }

    /// Gossipsub's control messages.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ControlMessage {
        /// Message ids the sender has.
        #[prost(message, repeated, tag = "1")]
        pub ihave: Vec<ControlIHave>,
        /// Message ids the sender wants.
        #[prost(message, repeated, tag = "2")]
        pub iwant: Vec<ControlIWant>,
        /// Topics whose mesh the sender added us to.
        #[prost(message, repeated, tag = "3")]
        pub graft: Vec<ControlGraft>,
        /// Topics whose mesh the sender removed us from.
        #[prost(message, repeated, tag = "4")]
        pub prune: Vec<ControlPrune>,
    }

    /// IHAVE: recent message ids of one topic.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ControlIHave {
        /// The topic.
        #[prost(string, optional, tag = "1")]
        pub topic_id: Option<String>,
        /// The ids (`string` in the spec; the same bytes on the wire).
        #[prost(bytes = "vec", repeated, tag = "2")]
        pub message_ids: Vec<Vec<u8>>,
    }

    /// IWANT: message ids the sender asks for.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ControlIWant {
        /// The ids.
        #[prost(bytes = "vec", repeated, tag = "1")]
        pub message_ids: Vec<Vec<u8>>,
    }

    /// GRAFT: the sender added us to its mesh of a topic.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ControlGraft {
        /// The topic.
        #[prost(string, optional, tag = "1")]
        pub topic_id: Option<String>,
    }

    /// PRUNE: the sender removed us from its mesh of a topic (v1.1: with
    /// peer exchange and a backoff).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ControlPrune {
        /// The topic.
        #[prost(string, optional, tag = "1")]
        pub topic_id: Option<String>,
        /// Peer exchange: other peers in the topic.
        #[prost(message, repeated, tag = "2")]
        pub peers: Vec<PeerInfo>,
        /// Seconds before we may graft the sender again.
        #[prost(uint64, optional, tag = "3")]
        pub backoff: Option<u64>,
    }

    /// A peer offered through peer exchange.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PeerInfo {
        /// Its peer id.
        #[prost(bytes = "vec", optional, tag = "1")]
        pub peer_id: Option<Vec<u8>>,
        /// Its signed peer record (never sent by the simulator; the spec
        /// allows leaving it out).
        #[prost(bytes = "vec", optional, tag = "2")]
        pub signed_peer_record: Option<Vec<u8>>,
    }
}

/// A topic: a number, written on the wire as its decimal digits.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct TopicId(pub u32);

impl TopicId {
    /// The topic string on the wire: the decimal digits, e.g. `"7"`.
    pub fn to_wire(self) -> String {
        self.0.to_string()
    }

    /// Reads a topic string: decimal digits without sign or leading zeros,
    /// at most `u32::MAX`.
    pub fn from_wire(s: &str) -> Result<Self, Error> {
        Self::from_wire_bytes(s.as_bytes())
    }

    /// [`from_wire`](Self::from_wire) of the field's bytes: its digits are
    /// ASCII, so the fast paths need not check UTF-8 first.
    fn from_wire_bytes(b: &[u8]) -> Result<Self, Error> {
        let canonical = !b.is_empty()
            && b.len() <= 10
            && b.iter().all(u8::is_ascii_digit)
            && (b[0] != b'0' || b.len() == 1);
        if !canonical {
            return Err(Error::Topic);
        }
        // Ten digits at most: no overflow in 64 bits.
        let n = b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        u32::try_from(n).map(TopicId).map_err(|_| Error::Topic)
    }

    fn parse_field(s: &Option<String>) -> Result<Self, Error> {
        s.as_deref().map_or(Err(Error::Topic), Self::from_wire)
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "topic {}", self.0)
    }
}

/// A message id: the spec's default `from ‖ seqno`, as `(from << 32) | seqno`.
///
/// Unique in a run as long as no publisher reuses a sequence number (see
/// [`Gossip::with_initial_seq`](super::Gossip::with_initial_seq)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u64);

impl MessageId {
    /// The id of message `seqno` by `from`.
    pub fn new(from: NodeId, seqno: u32) -> Self {
        MessageId(u64::from(from.0) << 32 | u64::from(seqno))
    }

    /// The author.
    pub fn from_node(self) -> NodeId {
        NodeId((self.0 >> 32) as u32)
    }

    /// The author's sequence number.
    pub fn seqno(self) -> u32 {
        self.0 as u32
    }

    /// The 12 bytes on the wire: `from` (4 bytes) then `seqno` (8 bytes),
    /// both big-endian.
    pub fn to_bytes(self) -> [u8; 12] {
        let mut b = [0; 12];
        b[..4].copy_from_slice(&self.from_node().0.to_be_bytes());
        b[4..].copy_from_slice(&u64::from(self.seqno()).to_be_bytes());
        b
    }

    /// Reads 12 bytes of `from ‖ seqno` whose seqno fits in 32 bits.
    pub fn from_bytes(b: &[u8]) -> Result<Self, Error> {
        let b: &[u8; 12] = b.try_into().map_err(|_| Error::MessageId)?;
        let from = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let seqno = u64::from_be_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]);
        let seqno = u32::try_from(seqno).map_err(|_| Error::MessageId)?;
        Ok(MessageId::new(NodeId(from), seqno))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.from_node(), self.seqno())
    }
}

/// A peer id on the wire: the node id, 4 bytes big-endian.
pub fn peer_id_bytes(id: NodeId) -> Vec<u8> {
    id.0.to_be_bytes().to_vec()
}

/// Reads a 4-byte peer id.
pub fn peer_id_from_bytes(b: &[u8]) -> Result<NodeId, Error> {
    let b: [u8; 4] = b.try_into().map_err(|_| Error::PeerId)?;
    Ok(NodeId(u32::from_be_bytes(b)))
}

/// Why bytes are not a gossipsub RPC the simulator can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The varint length prefix is missing, malformed, or disagrees with
    /// the datagram's length.
    #[error("gossipsub RPC length prefix disagrees with the datagram")]
    Framing,
    /// Not a protobuf encoding of `RPC`.
    #[error("not a protobuf-encoded gossipsub RPC")]
    Protobuf,
    /// A topic string missing or not a decimal `u32`.
    #[error("a topic that is not a decimal u32")]
    Topic,
    /// A message id that is not 12 bytes of `from ‖ seqno` (32-bit seqno).
    #[error("a message id that is not from ‖ seqno")]
    MessageId,
    /// A peer id that is not 4 bytes.
    #[error("a peer id that is not 4 bytes")]
    PeerId,
}

/// Why a message failed validation (and counts against its sender, P₄).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// `from` missing or not 4 bytes.
    From,
    /// `seqno` missing, not 8 bytes, or 2³² or more.
    Seqno,
    /// A `signature` or `key` present: the simulator's messages are unsigned.
    Signed,
}

/// A subscription change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// True to subscribe, false to unsubscribe (missing reads as false).
    pub subscribe: bool,
    /// The topic.
    pub topic: TopicId,
}

/// A valid application message, less its payload bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageRepr {
    /// `from ‖ seqno`.
    pub id: MessageId,
    /// The topic.
    pub topic: TopicId,
    /// The payload's length in bytes (the payload is zeros).
    pub data_len: u32,
    /// Hops the copy travelled before the current one (0 from the author).
    pub hops: u32,
}

/// A message that failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidMessage {
    /// Its topic.
    pub topic: TopicId,
    /// What was wrong.
    pub reason: Invalid,
}

/// IHAVE: recent ids of one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IHave {
    /// The topic.
    pub topic: TopicId,
    /// The ids.
    pub ids: Vec<MessageId>,
}

/// PRUNE, with v1.1 peer exchange and backoff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prune {
    /// The topic.
    pub topic: TopicId,
    /// Peer exchange: other peers in the topic.
    pub peers: Vec<NodeId>,
    /// Seconds before the pruned peer may graft again, if given.
    pub backoff: Option<u64>,
}

/// The control part of an RPC.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ControlRepr {
    /// IHAVE, one per topic.
    pub ihave: Vec<IHave>,
    /// IWANT ids (all IWANT messages of the RPC together).
    pub iwant: Vec<MessageId>,
    /// GRAFT topics.
    pub graft: Vec<TopicId>,
    /// PRUNEs.
    pub prune: Vec<Prune>,
}

impl ControlRepr {
    /// Whether there is no control message at all.
    pub fn is_empty(&self) -> bool {
        self.ihave.is_empty()
            && self.iwant.is_empty()
            && self.graft.is_empty()
            && self.prune.is_empty()
    }
}

/// What an RPC means to the router.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpcRepr {
    /// Subscription changes.
    pub subscriptions: Vec<Subscription>,
    /// Valid messages.
    pub messages: Vec<MessageRepr>,
    /// Messages that failed validation; [`RpcRepr::emit`] leaves them out.
    pub invalid: Vec<InvalidMessage>,
    /// Control messages.
    pub control: ControlRepr,
}

impl MessageRepr {
    /// The protobuf message, with a zero payload of `data_len` bytes.
    pub fn to_proto(&self) -> proto::Message {
        proto::Message {
            from: Some(peer_id_bytes(self.id.from_node())),
            data: Some(vec![0; self.data_len as usize]),
            seqno: Some(u64::from(self.id.seqno()).to_be_bytes().to_vec()),
            topic: Some(self.topic.to_wire()),
            signature: None,
            key: None,
            hops: Some(self.hops),
        }
    }

    /// An RPC carrying only this message, encoded with its length prefix:
    /// the bytes prost writes for `RpcRepr { messages: vec![*self], .. }`,
    /// written directly into one shared buffer of the right size, whose
    /// payload is left as it was allocated, zeroed (this is the per-message
    /// hot path of every relay, which sends the result to its whole mesh).
    pub fn emit(&self) -> Datagram {
        let data = self.data_len as usize;
        let mut digits = [0; 10];
        let topic = decimal(self.topic.0, &mut digits);
        let hops = u64::from(self.hops);
        let body = (2 + 4)
            + (1 + varint::len(data as u64) + data)
            + (2 + 8)
            + (2 + topic.len())
            + (2 + varint::len(hops));
        let rpc = 1 + varint::len(body as u64) + body;
        Datagram::zeroed(varint::len(rpc as u64) + rpc, |buf| {
            let mut w = Writer(buf);
            w.varint(rpc as u64);
            w.put(&[key(2, LEN)]);
            w.varint(body as u64);
            w.put(&[key(1, LEN), 4]);
            w.put(&self.id.from_node().0.to_be_bytes());
            w.put(&[key(2, LEN)]);
            w.varint(data as u64);
            w.skip(data);
            w.put(&[key(3, LEN), 8]);
            w.put(&u64::from(self.id.seqno()).to_be_bytes());
            w.put(&[key(4, LEN), topic.len() as u8]);
            w.put(topic);
            w.put(&HOPS_KEY);
            w.varint(hops);
            debug_assert!(w.0.is_empty(), "the length was computed exactly");
        })
    }

    /// Validates a protobuf message; `Err(Ok(invalid))` for a message that
    /// fails validation, `Err(Err(e))` for one that makes the RPC malformed.
    fn from_proto(m: &proto::Message) -> Result<Self, Result<InvalidMessage, Error>> {
        let topic = TopicId::parse_field(&m.topic).map_err(Err)?;
        let invalid = |reason| Err(Ok(InvalidMessage { topic, reason }));
        if m.signature.is_some() || m.key.is_some() {
            return invalid(Invalid::Signed);
        }
        let Some(from) = m.from.as_deref().and_then(|b| peer_id_from_bytes(b).ok()) else {
            return invalid(Invalid::From);
        };
        let seqno = m
            .seqno
            .as_deref()
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .and_then(|b| u32::try_from(u64::from_be_bytes(b)).ok());
        let Some(seqno) = seqno else {
            return invalid(Invalid::Seqno);
        };
        Ok(MessageRepr {
            id: MessageId::new(from, seqno),
            topic,
            // A datagram is far shorter than 4 GiB; saturate rather than trust.
            data_len: m
                .data
                .as_ref()
                .map_or(0, |d| u32::try_from(d.len()).unwrap_or(u32::MAX)),
            hops: m.hops.unwrap_or(0),
        })
    }
}

impl IHave {
    /// An RPC carrying only an IHAVE of `ids` in `topic`, encoded with its
    /// length prefix: the bytes prost writes for an [`RpcRepr`] whose
    /// control holds just `IHave { topic, ids }`, written directly into one
    /// shared buffer (each heartbeat's gossip, sent to several peers).
    pub fn emit_alone(topic: TopicId, ids: &[MessageId]) -> Datagram {
        let mut digits = [0; 10];
        emit_control_entry(1, Some(decimal(topic.0, &mut digits)), 2, ids)
    }
}

/// An RPC carrying only an IWANT of `ids` (at least one), encoded with its
/// length prefix: the bytes prost writes for an [`RpcRepr`] whose control
/// holds just `iwant: ids`, written directly (the answer to gossip).
pub fn emit_iwant(ids: &[MessageId]) -> Datagram {
    debug_assert!(!ids.is_empty(), "an empty IWANT is no control message");
    emit_control_entry(2, None, 1, ids)
}

/// An RPC whose only field is a control message whose only field is one
/// entry, of field `tag`: a topic (field 1), if any, then `ids` (field
/// `id_tag`), in the order prost writes them.
fn emit_control_entry(tag: u8, topic: Option<&[u8]>, id_tag: u8, ids: &[MessageId]) -> Datagram {
    let entry = topic.map_or(0, |t| 2 + t.len()) + (2 + 12) * ids.len();
    let control = 1 + varint::len(entry as u64) + entry;
    let rpc = 1 + varint::len(control as u64) + control;
    Datagram::zeroed(varint::len(rpc as u64) + rpc, |buf| {
        let mut w = Writer(buf);
        w.varint(rpc as u64);
        w.put(&[key(3, LEN)]);
        w.varint(control as u64);
        w.put(&[key(tag, LEN)]);
        w.varint(entry as u64);
        if let Some(topic) = topic {
            w.put(&[key(1, LEN), topic.len() as u8]);
            w.put(topic);
        }
        for id in ids {
            w.put(&[key(id_tag, LEN), 12]);
            w.put(&id.to_bytes());
        }
        debug_assert!(w.0.is_empty(), "the length was computed exactly");
    })
}

/// Writes into a buffer of exactly the right length, front to back.
struct Writer<'a>(&'a mut [u8]);

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let (head, rest) = std::mem::take(&mut self.0).split_at_mut(bytes.len());
        head.copy_from_slice(bytes);
        self.0 = rest;
    }
    /// Leaves `n` bytes as they are.
    fn skip(&mut self, n: usize) {
        self.0 = &mut std::mem::take(&mut self.0)[n..];
    }
    fn varint(&mut self, v: u64) {
        let (bytes, n) = varint::encode(v);
        self.put(&bytes[..n]);
    }
}

/// The length-delimited wire type.
const LEN: u8 = 2;

/// A one-byte field key (tags below 16).
const fn key(tag: u8, wire_type: u8) -> u8 {
    tag << 3 | wire_type
}

/// The key of `hops` (field 1000, varint) as a varint: 8000 = `c0 3e`.
const HOPS_KEY: [u8; 2] = [0xc0, 0x3e];

/// Unsigned LEB128 varints, as protobuf writes them.
mod varint {
    /// `v`'s bytes: the first `n` of the array.
    pub(super) fn encode(mut v: u64) -> ([u8; 10], usize) {
        let mut bytes = [0; 10];
        let mut n = 0;
        while v >= 0x80 {
            bytes[n] = v as u8 | 0x80;
            v >>= 7;
            n += 1;
        }
        bytes[n] = v as u8;
        (bytes, n + 1)
    }

    /// How many bytes `encode` writes for `v`.
    pub(super) fn len(v: u64) -> usize {
        (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
    }

    /// Reads one from the front of `buf`: at most 10 bytes, the tenth at
    /// most 1, as prost reads them.
    ///
    /// Inlined for one byte (nearly every key and length of the relay's
    /// fast paths, which read a dozen varints per datagram); two bytes are
    /// `get_long`'s first case (inlining them too stopped LLVM inlining
    /// this).
    #[inline(always)]
    pub(super) fn get(buf: &mut &[u8]) -> Option<u64> {
        match buf.split_first() {
            Some((&b, rest)) if b < 0x80 => {
                *buf = rest;
                Some(u64::from(b))
            }
            _ => get_long(buf),
        }
    }

    fn get_long(buf: &mut &[u8]) -> Option<u64> {
        // Two bytes: the lengths of kilobyte payloads, `hops`'s key.
        if let [low, high, ref rest @ ..] = **buf {
            if high < 0x80 {
                *buf = rest;
                return Some(u64::from(low & 0x7f) | u64::from(high) << 7);
            }
        }
        let mut v = 0;
        for i in 0..10 {
            let (&b, rest) = buf.split_first()?;
            *buf = rest;
            if i == 9 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
}

/// `n` in decimal digits, written into `out`.
fn decimal(mut n: u32, out: &mut [u8; 10]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &out[i..];
        }
    }
}

/// The RPC inside a length-prefixed datagram, if the prefix is exactly the
/// rest of the datagram.
fn unframe(bytes: &[u8]) -> Option<&[u8]> {
    let mut body = bytes;
    let len = varint::get(&mut body)?;
    (usize::try_from(len).ok() == Some(body.len())).then_some(body)
}

/// Reads one length-delimited field's bytes from the front of `buf`.
fn take_len<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(varint::get(buf)?).ok()?;
    if len > buf.len() {
        return None;
    }
    let (field, rest) = buf.split_at(len);
    *buf = rest;
    Some(field)
}

/// The messages of a datagram that carries nothing but valid messages,
/// read without allocating: the relay's fast path.
///
/// [`MessagesOnly::new`] accepts a strict subset of what
/// [`RpcRepr::parse`] accepts: a well-framed RPC whose every field is a
/// `publish` message whose fields are `from`, `data`, `seqno`, `topic` and
/// `hops`, each at most once, that passes validation. For such bytes the
/// messages it yields are exactly `RpcRepr::parse(bytes)?.messages`, and
/// the parsed RPC has nothing else. Anything else (control messages,
/// subscriptions, signatures, unknown or repeated fields, invalid or
/// malformed messages) gives `None`, and the caller falls back to
/// [`RpcRepr::parse`]. Never panics, whatever the bytes.
///
/// The checking reads the first message once and for all (a relay's RPC
/// holds one); iteration reads any others again.
#[derive(Clone, Debug)]
pub struct MessagesOnly<'a> {
    /// The first message, not yielded yet.
    first: Option<MessageRepr>,
    /// The messages after it.
    rest: &'a [u8],
}

impl<'a> MessagesOnly<'a> {
    /// Checks every message of the RPC in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        let mut check = MessagesOnly {
            first: None,
            rest: unframe(bytes)?,
        };
        if check.rest.is_empty() {
            return Some(check);
        }
        let first = check.next_message()?;
        let rest = check.rest;
        while !check.rest.is_empty() {
            check.next_message()?;
        }
        Some(MessagesOnly {
            first: Some(first),
            rest,
        })
    }

    fn next_message(&mut self) -> Option<MessageRepr> {
        if varint::get(&mut self.rest)? != u64::from(key(2, LEN)) {
            return None;
        }
        let mut m = take_len(&mut self.rest)?;
        let (mut from, mut data, mut seqno, mut topic, mut hops) = (None, None, None, None, None);
        while !m.is_empty() {
            let k = varint::get(&mut m)?;
            let field = match k {
                k if k == u64::from(key(1, LEN)) => &mut from,
                k if k == u64::from(key(2, LEN)) => &mut data,
                k if k == u64::from(key(3, LEN)) => &mut seqno,
                k if k == u64::from(key(4, LEN)) => &mut topic,
                8000 => {
                    let h = u32::try_from(varint::get(&mut m)?).ok()?;
                    if hops.replace(h).is_some() {
                        return None;
                    }
                    continue;
                }
                _ => return None,
            };
            if field.replace(take_len(&mut m)?).is_some() {
                return None;
            }
        }
        let from = peer_id_from_bytes(from?).ok()?;
        let seqno = u64::from_be_bytes(<[u8; 8]>::try_from(seqno?).ok()?);
        let topic = TopicId::from_wire_bytes(topic?).ok()?;
        Some(MessageRepr {
            id: MessageId::new(from, u32::try_from(seqno).ok()?),
            topic,
            data_len: u32::try_from(data.map_or(0, <[u8]>::len)).ok()?,
            hops: hops.unwrap_or(0),
        })
    }
}

impl Iterator for MessagesOnly<'_> {
    type Item = MessageRepr;

    fn next(&mut self) -> Option<MessageRepr> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.rest.is_empty() {
            return None;
        }
        // `new` checked every message, so this cannot fail; if it did, the
        // iteration would just end.
        let m = self.next_message();
        if m.is_none() {
            self.rest = &[];
        }
        m
    }
}

/// The IHAVEs of a datagram that carries nothing but IHAVE, read without
/// allocating: the fast path of the gossip every node receives each
/// heartbeat.
///
/// [`IHavesOnly::new`] accepts a strict subset of what [`RpcRepr::parse`]
/// accepts: a well-framed RPC whose only field is one `control` message
/// whose every field is an IHAVE with exactly one topic and ids that are
/// all valid. For such bytes it yields exactly the
/// `RpcRepr::parse(bytes)?.control.ihave` entries (as topic and ids), and
/// the parsed RPC has nothing else; anything else gives `None`. Never
/// panics, whatever the bytes.
///
/// The checking reads the first IHAVE's topic once and for all (a
/// heartbeat's RPC holds one per topic); iteration reads any others again.
#[derive(Clone, Debug)]
pub struct IHavesOnly<'a> {
    /// The first IHAVE, not yielded yet.
    first: Option<(TopicId, IHaveIds<'a>)>,
    /// The IHAVEs after it.
    rest: &'a [u8],
}

/// The ids of one IHAVE read by [`IHavesOnly`].
#[derive(Clone, Debug)]
pub struct IHaveIds<'a> {
    rest: &'a [u8],
}

impl<'a> IHavesOnly<'a> {
    /// Checks every IHAVE of the RPC in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        let mut body = unframe(bytes)?;
        if varint::get(&mut body)? != u64::from(key(3, LEN)) {
            return None;
        }
        let control = take_len(&mut body)?;
        if !body.is_empty() {
            return None;
        }
        let mut check = IHavesOnly {
            first: None,
            rest: control,
        };
        if check.rest.is_empty() {
            return Some(check);
        }
        let first = check.next_ihave()?;
        let rest = check.rest;
        while !check.rest.is_empty() {
            check.next_ihave()?;
        }
        Some(IHavesOnly {
            first: Some(first),
            rest,
        })
    }

    /// Reads and checks the next IHAVE.
    fn next_ihave(&mut self) -> Option<(TopicId, IHaveIds<'a>)> {
        if varint::get(&mut self.rest)? != u64::from(key(1, LEN)) {
            return None;
        }
        let entry = take_len(&mut self.rest)?;
        let mut topic = None;
        let mut fields = entry;
        while !fields.is_empty() {
            let k = varint::get(&mut fields)?;
            let value = take_len(&mut fields)?;
            if k == u64::from(key(1, LEN)) {
                if topic.replace(value).is_some() {
                    return None;
                }
            } else if k == u64::from(key(2, LEN)) {
                MessageId::from_bytes(value).ok()?;
            } else {
                return None;
            }
        }
        let topic = TopicId::from_wire_bytes(topic?).ok()?;
        Some((topic, IHaveIds { rest: entry }))
    }
}

impl<'a> Iterator for IHavesOnly<'a> {
    type Item = (TopicId, IHaveIds<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.rest.is_empty() {
            return None;
        }
        // `new` checked every IHAVE, so this cannot fail; if it did, the
        // iteration would just end.
        let item = self.next_ihave();
        if item.is_none() {
            self.rest = &[];
        }
        item
    }
}

impl Iterator for IHaveIds<'_> {
    type Item = MessageId;

    fn next(&mut self) -> Option<MessageId> {
        // Every step consumes bytes, so this ends.
        while !self.rest.is_empty() {
            let k = varint::get(&mut self.rest)?;
            let value = take_len(&mut self.rest)?;
            if k == u64::from(key(2, LEN)) {
                return MessageId::from_bytes(value).ok();
            }
        }
        None
    }
}

fn ids_from_bytes(ids: &[Vec<u8>]) -> Result<Vec<MessageId>, Error> {
    ids.iter().map(|b| MessageId::from_bytes(b)).collect()
}

fn ids_to_bytes(ids: &[MessageId]) -> Vec<Vec<u8>> {
    ids.iter().map(|id| id.to_bytes().to_vec()).collect()
}

impl ControlRepr {
    fn from_proto(c: &proto::ControlMessage) -> Result<Self, Error> {
        let ihave = c
            .ihave
            .iter()
            .map(|h| {
                Ok(IHave {
                    topic: TopicId::parse_field(&h.topic_id)?,
                    ids: ids_from_bytes(&h.message_ids)?,
                })
            })
            .collect::<Result<_, Error>>()?;
        let mut iwant = Vec::new();
        for w in &c.iwant {
            iwant.extend(ids_from_bytes(&w.message_ids)?);
        }
        let graft = c
            .graft
            .iter()
            .map(|g| TopicId::parse_field(&g.topic_id))
            .collect::<Result<_, Error>>()?;
        let prune = c
            .prune
            .iter()
            .map(|p| {
                let peers = p
                    .peers
                    .iter()
                    .map(|i| {
                        i.peer_id
                            .as_deref()
                            .map_or(Err(Error::PeerId), peer_id_from_bytes)
                    })
                    .collect::<Result<_, Error>>()?;
                Ok(Prune {
                    topic: TopicId::parse_field(&p.topic_id)?,
                    peers,
                    backoff: p.backoff,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(ControlRepr {
            ihave,
            iwant,
            graft,
            prune,
        })
    }

    /// The protobuf control message, or `None` if there is nothing to send.
    pub fn to_proto(&self) -> Option<proto::ControlMessage> {
        if self.is_empty() {
            return None;
        }
        let topic = |t: TopicId| Some(t.to_wire());
        Some(proto::ControlMessage {
            ihave: self
                .ihave
                .iter()
                .map(|h| proto::ControlIHave {
                    topic_id: topic(h.topic),
                    message_ids: ids_to_bytes(&h.ids),
                })
                .collect(),
            iwant: if self.iwant.is_empty() {
                Vec::new()
            } else {
                vec![proto::ControlIWant {
                    message_ids: ids_to_bytes(&self.iwant),
                }]
            },
            graft: self
                .graft
                .iter()
                .map(|&t| proto::ControlGraft { topic_id: topic(t) })
                .collect(),
            prune: self
                .prune
                .iter()
                .map(|p| proto::ControlPrune {
                    topic_id: topic(p.topic),
                    peers: p
                        .peers
                        .iter()
                        .map(|&id| proto::PeerInfo {
                            peer_id: Some(peer_id_bytes(id)),
                            signed_peer_record: None,
                        })
                        .collect(),
                    backoff: p.backoff,
                })
                .collect(),
        })
    }
}

impl RpcRepr {
    /// Decodes and checks one length-prefixed RPC. Never panics, whatever
    /// the bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let body = unframe(bytes).ok_or(Error::Framing)?;
        let rpc = proto::Rpc::decode(body).map_err(|_| Error::Protobuf)?;
        Self::from_proto(&rpc)
    }

    /// Checks a decoded RPC.
    pub fn from_proto(rpc: &proto::Rpc) -> Result<Self, Error> {
        let subscriptions = rpc
            .subscriptions
            .iter()
            .map(|s| {
                Ok(Subscription {
                    subscribe: s.subscribe.unwrap_or(false),
                    topic: TopicId::parse_field(&s.topicid)?,
                })
            })
            .collect::<Result<_, Error>>()?;
        let mut messages = Vec::with_capacity(rpc.publish.len());
        let mut invalid = Vec::new();
        for m in &rpc.publish {
            match MessageRepr::from_proto(m) {
                Ok(m) => messages.push(m),
                Err(Ok(bad)) => invalid.push(bad),
                Err(Err(e)) => return Err(e),
            }
        }
        let control = match &rpc.control {
            Some(c) => ControlRepr::from_proto(c)?,
            None => ControlRepr::default(),
        };
        Ok(RpcRepr {
            subscriptions,
            messages,
            invalid,
            control,
        })
    }

    /// The protobuf RPC (without [`RpcRepr::invalid`]).
    pub fn to_proto(&self) -> proto::Rpc {
        proto::Rpc {
            subscriptions: self
                .subscriptions
                .iter()
                .map(|s| proto::SubOpts {
                    subscribe: Some(s.subscribe),
                    topicid: Some(s.topic.to_wire()),
                })
                .collect(),
            publish: self.messages.iter().map(MessageRepr::to_proto).collect(),
            control: self.control.to_proto(),
        }
    }

    /// The encoded RPC, with its length prefix.
    pub fn emit(&self) -> Vec<u8> {
        self.to_proto().encode_length_delimited_to_vec()
    }

    /// The length of [`RpcRepr::emit`]'s bytes.
    pub fn buffer_len(&self) -> usize {
        let len = self.to_proto().encoded_len();
        prost::length_delimiter_len(len) + len
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.subscriptions.is_empty() && self.messages.is_empty() && self.control.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SUBSCRIBE_7: [u8; 8] = [0x07, 0x0a, 0x05, 0x08, 0x01, 0x12, 0x01, b'7'];

    /// Message (from n3, seqno 5, topic 7, two zero bytes, hops 1).
    const MESSAGE: [u8; 29] = [
        0x1c, // length prefix: 28 bytes of RPC
        0x12, 0x1a, // RPC.publish, 26 bytes
        0x0a, 0x04, 0, 0, 0, 3, // from
        0x12, 0x02, 0, 0, // data
        0x1a, 0x08, 0, 0, 0, 0, 0, 0, 0, 5, // seqno
        0x22, 0x01, b'7', // topic
        0xc0, 0x3e, 0x01, // hops (field 1000, varint)
    ];

    #[rustfmt::skip]
    const CONTROL: [u8; 58] = [
        0x39, // length prefix: 57 bytes of RPC
        0x1a, 0x37, // RPC.control, 55 bytes
        0x0a, 0x11, 0x0a, 0x01, b'7', 0x12, 0x0c, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5, // ihave
        0x12, 0x0e, 0x0a, 0x0c, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5, // iwant
        0x1a, 0x03, 0x0a, 0x01, b'7', // graft
        0x22, 0x0d, 0x0a, 0x01, b'7', 0x12, 0x06, 0x0a, 0x04, 0, 0, 0, 9, 0x18, 60, // prune
    ];

    fn id35() -> MessageId {
        MessageId::new(NodeId(3), 5)
    }

    #[test]
    fn test_deconstruct_subscription() {
        let rpc = RpcRepr::parse(&SUBSCRIBE_7).unwrap();
        assert_eq!(
            rpc.subscriptions,
            [Subscription {
                subscribe: true,
                topic: TopicId(7)
            }]
        );
        assert!(rpc.messages.is_empty() && rpc.control.is_empty());
    }

    #[test]
    fn test_construct_subscription() {
        let rpc = RpcRepr {
            subscriptions: vec![Subscription {
                subscribe: true,
                topic: TopicId(7),
            }],
            ..RpcRepr::default()
        };
        assert_eq!(rpc.emit(), SUBSCRIBE_7);
        assert_eq!(rpc.buffer_len(), SUBSCRIBE_7.len());
    }

    fn message() -> MessageRepr {
        MessageRepr {
            id: id35(),
            topic: TopicId(7),
            data_len: 2,
            hops: 1,
        }
    }

    #[test]
    fn test_message_both_ways() {
        assert_eq!(message().emit(), MESSAGE);
        let rpc = RpcRepr::parse(&MESSAGE).unwrap();
        assert_eq!(rpc.messages, [message()]);
        assert!(rpc.invalid.is_empty());
        let fast: Vec<_> = MessagesOnly::new(&MESSAGE).unwrap().collect();
        assert_eq!(fast, [message()]);
    }

    #[test]
    fn the_fast_path_leaves_everything_else_to_parse() {
        assert!(MessagesOnly::new(&SUBSCRIBE_7).is_none());
        assert!(MessagesOnly::new(&CONTROL).is_none());
        assert!(MessagesOnly::new(&MESSAGE[..MESSAGE.len() - 1]).is_none());
        let mut signed = message().to_proto();
        signed.signature = Some(vec![1]);
        let bytes = proto::Rpc {
            publish: vec![signed],
            ..Default::default()
        }
        .encode_length_delimited_to_vec();
        assert!(MessagesOnly::new(&bytes).is_none());
        assert_eq!(RpcRepr::parse(&bytes).unwrap().invalid.len(), 1);
        // An empty RPC has no messages: both agree.
        assert_eq!(MessagesOnly::new(&[0]).map(Iterator::count), Some(0));
        // The IHAVE reader takes IHAVE alone.
        assert!(IHavesOnly::new(&CONTROL).is_none());
        assert!(IHavesOnly::new(&MESSAGE).is_none());
        let ihave = RpcRepr {
            control: ControlRepr {
                ihave: control().ihave,
                ..ControlRepr::default()
            },
            ..RpcRepr::default()
        };
        let read: Vec<_> = IHavesOnly::new(&ihave.emit())
            .unwrap()
            .map(|(t, ids)| (t, ids.collect::<Vec<_>>()))
            .collect();
        assert_eq!(read, [(TopicId(7), vec![id35()])]);
    }

    #[test]
    fn varints_and_decimals() {
        for v in [0, 1, 127, 128, 300, 8000, u64::from(u32::MAX), u64::MAX] {
            let (bytes, n) = varint::encode(v);
            assert_eq!(n, varint::len(v), "{v}");
            let mut read = &bytes[..n];
            assert_eq!(varint::get(&mut read), Some(v));
            assert!(read.is_empty());
        }
        let (hops, n) = varint::encode(8000);
        assert_eq!(hops[..n], HOPS_KEY);
        // Eleven bytes, or a tenth byte above 1, are not a varint.
        assert_eq!(varint::get(&mut &[0xff; 11][..]), None);
        assert_eq!(
            varint::get(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..]),
            None
        );
        let mut d = [0; 10];
        assert_eq!(decimal(0, &mut d), b"0");
        assert_eq!(decimal(u32::MAX, &mut d), b"4294967295");
    }

    fn control() -> ControlRepr {
        ControlRepr {
            ihave: vec![IHave {
                topic: TopicId(7),
                ids: vec![id35()],
            }],
            iwant: vec![id35()],
            graft: vec![TopicId(7)],
            prune: vec![Prune {
                topic: TopicId(7),
                peers: vec![NodeId(9)],
                backoff: Some(60),
            }],
        }
    }

    #[test]
    fn test_control_both_ways() {
        let rpc = RpcRepr {
            control: control(),
            ..RpcRepr::default()
        };
        assert_eq!(rpc.emit(), CONTROL);
        assert_eq!(RpcRepr::parse(&CONTROL).unwrap(), rpc);
    }

    #[test]
    fn message_ids_are_from_then_seqno() {
        let id = id35();
        assert_eq!(id.0, 3 << 32 | 5);
        assert_eq!(id.to_bytes(), [0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(MessageId::from_bytes(&id.to_bytes()), Ok(id));
        let mut wide = id.to_bytes();
        wide[7] = 1; // seqno 2^32 + 5
        assert_eq!(MessageId::from_bytes(&wide), Err(Error::MessageId));
        assert_eq!(MessageId::from_bytes(&wide[..11]), Err(Error::MessageId));
    }

    #[test]
    fn topics_are_canonical_decimal() {
        assert_eq!(TopicId::from_wire("0"), Ok(TopicId(0)));
        assert_eq!(TopicId::from_wire("4294967295"), Ok(TopicId(u32::MAX)));
        for bad in [
            "",
            "07",
            "+7",
            "-1",
            "4294967296",
            "7a",
            " 7",
            "99999999999",
        ] {
            assert_eq!(TopicId::from_wire(bad), Err(Error::Topic), "{bad:?}");
        }
    }

    #[test]
    fn unsigned_messages_with_author_and_seqno_are_the_only_valid_ones() {
        let good = message().to_proto();
        type Spoil = fn(&mut proto::Message);
        let cases: [(Spoil, Invalid); 5] = [
            (|m| m.signature = Some(vec![1]), Invalid::Signed),
            (|m| m.key = Some(vec![]), Invalid::Signed),
            (|m| m.from = None, Invalid::From),
            (|m| m.seqno = Some(vec![0; 7]), Invalid::Seqno),
            (
                |m| m.seqno = Some(vec![0, 0, 0, 1, 0, 0, 0, 0]),
                Invalid::Seqno,
            ),
        ];
        for (spoil, reason) in cases {
            let mut m = good.clone();
            spoil(&mut m);
            let bytes = proto::Rpc {
                publish: vec![m],
                ..Default::default()
            }
            .encode_length_delimited_to_vec();
            let rpc = RpcRepr::parse(&bytes).unwrap();
            assert!(rpc.messages.is_empty());
            assert_eq!(
                rpc.invalid,
                [InvalidMessage {
                    topic: TopicId(7),
                    reason
                }]
            );
        }
        // A message without a topic cannot be attributed: the RPC is malformed.
        let mut m = good;
        m.topic = None;
        let bytes = proto::Rpc {
            publish: vec![m],
            ..Default::default()
        }
        .encode_length_delimited_to_vec();
        assert_eq!(RpcRepr::parse(&bytes), Err(Error::Topic));
    }

    #[test]
    fn unknown_fields_are_skipped() {
        // A real implementation's message has no hops: it reads as 0. And
        // an unknown field (99, varint) in the RPC is skipped.
        let mut m = message().to_proto();
        m.hops = None;
        let mut body = proto::Rpc {
            publish: vec![m],
            ..Default::default()
        }
        .encode_to_vec();
        body.extend([0x98, 0x06, 0x2a]);
        let mut bytes = vec![body.len() as u8];
        bytes.extend(body);
        let rpc = RpcRepr::parse(&bytes).unwrap();
        assert_eq!(rpc.messages[0].hops, 0);
    }

    #[test]
    fn malformed_bytes_are_errors() {
        assert_eq!(RpcRepr::parse(&[0x01, 0x0a]), Err(Error::Protobuf));
        assert_eq!(
            RpcRepr::parse(&MESSAGE[..MESSAGE.len() - 1]),
            Err(Error::Framing)
        );
        assert_eq!(
            RpcRepr::parse(&[&MESSAGE[..], &[0][..]].concat()),
            Err(Error::Framing)
        );
        assert_eq!(RpcRepr::parse(&[0x46, 0x01]), Err(Error::Framing)); // flood's magic
        assert_eq!(RpcRepr::parse(&[]), Err(Error::Framing));
        assert_eq!(RpcRepr::parse(&[0xff; 11]), Err(Error::Framing));
        let mut misframed = CONTROL;
        misframed[51] = 0x03; // PeerInfo.peerID 3 bytes long: the 4th misframes
        assert_eq!(RpcRepr::parse(&misframed), Err(Error::Protobuf));
        let short_peer = proto::Rpc {
            control: Some(proto::ControlMessage {
                prune: vec![proto::ControlPrune {
                    topic_id: Some("7".into()),
                    peers: vec![proto::PeerInfo {
                        peer_id: Some(vec![0, 0, 9]),
                        signed_peer_record: None,
                    }],
                    backoff: None,
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            RpcRepr::parse(&short_peer.encode_length_delimited_to_vec()),
            Err(Error::PeerId)
        );
        // A zero-length RPC is an empty RPC (nothing to do), not an error.
        assert_eq!(RpcRepr::parse(&[0]), Ok(RpcRepr::default()));
    }

    fn any_topic() -> impl Strategy<Value = TopicId> {
        prop_oneof![0u32..4, any::<u32>()].prop_map(TopicId)
    }

    fn any_id() -> impl Strategy<Value = MessageId> {
        (any::<u32>(), any::<u32>()).prop_map(|(f, s)| MessageId::new(NodeId(f), s))
    }

    fn any_message() -> impl Strategy<Value = MessageRepr> {
        (
            any_id(),
            any_topic(),
            prop_oneof![0u32..300, Just(70_000)],
            any::<u32>(),
        )
            .prop_map(|(id, topic, data_len, hops)| MessageRepr {
                id,
                topic,
                data_len,
                hops,
            })
    }

    fn any_rpc() -> impl Strategy<Value = RpcRepr> {
        use proptest::collection::vec;
        let subs = vec(
            (any::<bool>(), any_topic())
                .prop_map(|(subscribe, topic)| Subscription { subscribe, topic }),
            0..3,
        );
        let msgs = vec(any_message(), 0..3);
        let ihave = vec(
            (any_topic(), vec(any_id(), 0..4)).prop_map(|(topic, ids)| IHave { topic, ids }),
            0..3,
        );
        let prune = vec(
            (
                any_topic(),
                vec(any::<u32>().prop_map(NodeId), 0..4),
                proptest::option::of(any::<u64>()),
            )
                .prop_map(|(topic, peers, backoff)| Prune {
                    topic,
                    peers,
                    backoff,
                }),
            0..3,
        );
        let control = (ihave, vec(any_id(), 0..4), vec(any_topic(), 0..3), prune).prop_map(
            |(ihave, iwant, graft, prune)| ControlRepr {
                ihave,
                iwant,
                graft,
                prune,
            },
        );
        (subs, msgs, control).prop_map(|(subscriptions, messages, control)| RpcRepr {
            subscriptions,
            messages,
            invalid: Vec::new(),
            control,
        })
    }

    proptest! {
        #[test]
        fn varints_round_trip(v in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..3)) {
            let (bytes, n) = varint::encode(v);
            let mut buf = bytes[..n].to_vec();
            buf.extend(&tail);
            let mut read = &buf[..];
            prop_assert_eq!(varint::get(&mut read), Some(v));
            prop_assert_eq!(read, &tail[..]);
        }

        #[test]
        fn topics_round_trip(t in any::<u32>()) {
            prop_assert_eq!(TopicId::from_wire(&TopicId(t).to_wire()), Ok(TopicId(t)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = RpcRepr::parse(&bytes);
        }

        #[test]
        fn mutated_rpcs_never_panic(
            rpc in any_rpc(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = rpc.emit();
            for (at, x) in flips {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] ^= x;
                }
            }
            let _ = RpcRepr::parse(&bytes);
        }

        #[test]
        fn the_hand_written_message_emit_matches_prost(m in any_message()) {
            let by_prost = proto::Rpc {
                publish: vec![m.to_proto()],
                ..Default::default()
            }
            .encode_length_delimited_to_vec();
            prop_assert_eq!(m.emit(), by_prost);
        }

        #[test]
        fn the_hand_written_control_emits_match_prost(
            topic in any_topic(),
            ids in proptest::collection::vec(any_id(), 1..12),
        ) {
            let ihave = RpcRepr {
                control: ControlRepr {
                    ihave: vec![IHave { topic, ids: ids.clone() }],
                    ..ControlRepr::default()
                },
                ..RpcRepr::default()
            };
            prop_assert_eq!(IHave::emit_alone(topic, &ids), ihave.emit());
            let iwant = RpcRepr {
                control: ControlRepr {
                    iwant: ids.clone(),
                    ..ControlRepr::default()
                },
                ..RpcRepr::default()
            };
            prop_assert_eq!(emit_iwant(&ids), iwant.emit());
        }

        #[test]
        fn the_fast_path_reads_message_only_rpcs(
            ms in proptest::collection::vec(any_message(), 0..4),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..2),
        ) {
            let rpc = RpcRepr { messages: ms.clone(), ..RpcRepr::default() };
            let mut bytes = rpc.emit();
            let fast = MessagesOnly::new(&bytes).map(Iterator::collect::<Vec<_>>);
            prop_assert_eq!(fast, Some(ms));
            // Spoilt, it is read the same as `parse` reads it, or left to it.
            for (at, x) in flips {
                let i = at % bytes.len();
                bytes[i] ^= x;
            }
            if let Some(fast) = MessagesOnly::new(&bytes) {
                let expected = RpcRepr { messages: fast.collect(), ..RpcRepr::default() };
                prop_assert_eq!(RpcRepr::parse(&bytes), Ok(expected));
            }
        }

        #[test]
        fn the_fast_path_agrees_with_parse(
            rpc in any_rpc(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
            cut in any::<usize>(),
        ) {
            let mut bytes = rpc.emit();
            for (at, x) in flips {
                let i = at % bytes.len();
                bytes[i] ^= x;
            }
            if cut % 4 == 0 {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            if let Some(fast) = MessagesOnly::new(&bytes) {
                let parsed = RpcRepr::parse(&bytes);
                let expected = RpcRepr { messages: fast.collect(), ..RpcRepr::default() };
                prop_assert_eq!(parsed, Ok(expected));
            }
            if let Some(fast) = IHavesOnly::new(&bytes) {
                let ihave = fast.map(|(topic, ids)| IHave { topic, ids: ids.collect() }).collect();
                let expected = RpcRepr {
                    control: ControlRepr { ihave, ..ControlRepr::default() },
                    ..RpcRepr::default()
                };
                prop_assert_eq!(RpcRepr::parse(&bytes), Ok(expected));
            }
        }

        #[test]
        fn the_fast_path_reads_ihave_only_rpcs(
            ihave in proptest::collection::vec(
                (any_topic(), proptest::collection::vec(any_id(), 0..5))
                    .prop_map(|(topic, ids)| IHave { topic, ids }),
                1..4,
            ),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..2),
        ) {
            let rpc = RpcRepr {
                control: ControlRepr { ihave: ihave.clone(), ..ControlRepr::default() },
                ..RpcRepr::default()
            };
            let mut bytes = rpc.emit();
            let fast = IHavesOnly::new(&bytes)
                .map(|f| f.map(|(topic, ids)| IHave { topic, ids: ids.collect() }).collect::<Vec<_>>());
            prop_assert_eq!(fast, Some(ihave));
            for (at, x) in flips {
                let i = at % bytes.len();
                bytes[i] ^= x;
            }
            if let Some(fast) = IHavesOnly::new(&bytes) {
                let ihave = fast.map(|(topic, ids)| IHave { topic, ids: ids.collect() }).collect();
                let expected = RpcRepr {
                    control: ControlRepr { ihave, ..ControlRepr::default() },
                    ..RpcRepr::default()
                };
                prop_assert_eq!(RpcRepr::parse(&bytes), Ok(expected));
            }
        }

        #[test]
        fn emit_then_parse_round_trips(rpc in any_rpc()) {
            let bytes = rpc.emit();
            prop_assert_eq!(bytes.len(), rpc.buffer_len());
            prop_assert_eq!(RpcRepr::parse(&bytes), Ok(rpc));
        }
    }
}
