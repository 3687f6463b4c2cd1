//! The libp2p Kademlia RPC message, as protobuf, framed as on a libp2p
//! stream.
//!
//! A datagram is one RPC message exactly as a libp2p stream carries it: an
//! unsigned-varint length, then the protobuf [`Message`] of the kad-dht spec
//! (`/ipfs/kad/1.0.0`, `dht.proto`), written here as hand-derived
//! `prost::Message` structs (no protoc):
//!
//! ```text
//! message Record  { bytes key = 1; bytes value = 2; string timeReceived = 5;
//!                   bytes publisher = 666; uint32 ttl = 777; }
//! message Message {
//!   enum MessageType { PUT_VALUE = 0; GET_VALUE = 1; ADD_PROVIDER = 2;
//!                      GET_PROVIDERS = 3; FIND_NODE = 4; PING = 5; }
//!   enum ConnectionType { NOT_CONNECTED = 0; CONNECTED = 1; CAN_CONNECT = 2;
//!                         CANNOT_CONNECT = 3; }
//!   message Peer { bytes id = 1; repeated bytes addrs = 2;
//!                  ConnectionType connection = 3; }
//!   MessageType type = 1;  int32 clusterLevelRaw = 10;  bytes key = 2;
//!   Record record = 3;  repeated Peer closerPeers = 8;
//!   repeated Peer providerPeers = 9;
//!   uint64 requestId = 1000;  uint64 replyTo = 1001;   // p2psim, see below
//! }
//! ```
//!
//! `publisher` and `ttl` are rust-libp2p's extensions of `Record`.
//!
//! # Departures from the spec, all because a datagram is not a stream
//!
//! - **Request ids.** libp2p opens one stream per request, so an answer is
//!   matched to its request by the stream it comes back on. Datagrams have
//!   no streams: a request carries a `requestId` (field 1000) and its answer
//!   a `replyTo` (field 1001) with the same value. Exactly one of them is
//!   set (non-zero): that is also how a request is told from a response,
//!   which on a stream is told by who spoke first. A libp2p peer would skip
//!   both fields as unknown.
//! - **Acknowledged ADD_PROVIDER.** The spec's ADD_PROVIDER has no answer;
//!   here the receiver answers with an empty ADD_PROVIDER, so the provider
//!   knows the record is stored at least once (the stream's successful close
//!   tells a libp2p node as much).
//! - **Peer ids and keys.** A peer id is a [`NodeId`] as 4 big-endian bytes
//!   ([`peer_id`]); `addrs` is left empty (the node id is the address). The
//!   `key` of every request is the 32-byte [`Key`] itself, the point in the
//!   key space, rather than a preimage (a peer id, a record name) the
//!   receiver would hash: bucket refreshes look up random points that have
//!   no preimage. Messages are therefore smaller than libp2p's, whose peer
//!   ids are 38 bytes and carry multiaddrs.
//! - **Values** are zeros of the record's length: only sizes are simulated.
//!
//! # Parsing never panics
//!
//! [`decode`] checks the framing (the varint length must match the
//! datagram's) and decodes the protobuf; [`Repr::parse`] checks what the
//! fields mean. Once `decode` succeeds, `parse` never panics, whatever the
//! bytes: it returns an [`Error`] instead. prost's decoder itself never
//! panics on untrusted input (it bounds recursion and lengths).

use prost::Message as _;
use sim_core::NodeId;

use super::key::{node_of_peer_id, peer_id, Key};

/// The RPC types of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MessageType {
    /// Store a value.
    PutValue = 0,
    /// Fetch a value, or the peers closer to its key.
    GetValue = 1,
    /// Announce a provider.
    AddProvider = 2,
    /// Fetch the providers of a key, and the peers closer to it.
    GetProviders = 3,
    /// Fetch the peers closest to a key.
    FindNode = 4,
    /// Liveness check.
    Ping = 5,
}

/// What the sender knows of its connection to a peer it names (unused
/// here: always `NotConnected`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ConnectionType {
    /// No connection, and nothing else known (the default).
    NotConnected = 0,
    /// A live connection.
    Connected = 1,
    /// Connected recently.
    CanConnect = 2,
    /// Tried hard and failed.
    CannotConnect = 3,
}

/// A value and its metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Record {
    /// The key it is stored under.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The value.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    /// When the receiver got it (set by the receiver; unused here).
    #[prost(string, tag = "5")]
    pub time_received: String,
    /// The original publisher's peer id (rust-libp2p).
    #[prost(bytes = "vec", tag = "666")]
    pub publisher: Vec<u8>,
    /// The remaining TTL in seconds; 0 means the receiver's default
    /// (rust-libp2p).
    #[prost(uint32, tag = "777")]
    pub ttl: u32,
}

/// A peer named in a message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Peer {
    /// Its peer id.
    #[prost(bytes = "vec", tag = "1")]
    pub id: Vec<u8>,
    /// Its multiaddrs (empty here).
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub addrs: Vec<Vec<u8>>,
    /// The sender's connection to it.
    #[prost(enumeration = "ConnectionType", tag = "3")]
    pub connection: i32,
}

/// The kad-dht RPC message, plus the request-id fields of this module.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    /// A [`MessageType`].
    #[prost(enumeration = "MessageType", tag = "1")]
    pub r#type: i32,
    /// Coral cluster level; unused by libp2p and here.
    #[prost(int32, tag = "10")]
    pub cluster_level_raw: i32,
    /// The key a request is about.
    #[prost(bytes = "vec", tag = "2")]
    pub key: Vec<u8>,
    /// A value (PUT_VALUE, GET_VALUE's answer).
    #[prost(message, optional, tag = "3")]
    pub record: Option<Record>,
    /// Peers closer to the key (answers to FIND_NODE, GET_VALUE,
    /// GET_PROVIDERS).
    #[prost(message, repeated, tag = "8")]
    pub closer_peers: Vec<Peer>,
    /// Providers (ADD_PROVIDER, GET_PROVIDERS' answer).
    #[prost(message, repeated, tag = "9")]
    pub provider_peers: Vec<Peer>,
    /// Set on a request: the id its answer echoes (p2psim).
    #[prost(uint64, tag = "1000")]
    pub request_id: u64,
    /// Set on an answer: the id of the request it answers (p2psim).
    #[prost(uint64, tag = "1001")]
    pub reply_to: u64,
}

/// Why bytes are not a kad-dht datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The varint length prefix is missing or malformed.
    #[error("kad datagram without a valid length prefix")]
    Framing,
    /// The length prefix disagrees with the datagram's length.
    #[error("kad length prefix disagrees with the datagram's length")]
    Length,
    /// The protobuf does not decode.
    #[error("kad message is not valid protobuf")]
    Decode,
    /// An unknown message type.
    #[error("unknown kad message type")]
    Type,
    /// Neither or both of `requestId` and `replyTo` are set.
    #[error("kad message must carry exactly one of requestId and replyTo")]
    RequestId,
    /// A key is not 32 bytes, or a PUT_VALUE's keys disagree.
    #[error("kad key is not a 32-byte key")]
    Key,
    /// A peer id is not 4 bytes.
    #[error("kad peer id is not a 4-byte node id")]
    PeerId,
    /// A request lacks its record, or a record is malformed.
    #[error("kad record missing or malformed")]
    Record,
}

/// A value as it travels: its key, size, publisher and remaining TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRepr {
    /// The key it is stored under.
    pub key: Key,
    /// The value's length in bytes.
    pub value_size: u32,
    /// The original publisher, if named.
    pub publisher: Option<NodeId>,
    /// The remaining TTL in whole seconds; 0: the receiver's default.
    pub ttl_secs: u32,
}

/// A request, as the state machine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// FIND_NODE: the peers closest to `key`.
    FindNode {
        /// The key looked up.
        key: Key,
    },
    /// GET_VALUE: the value under `key`, or closer peers.
    GetValue {
        /// The key looked up.
        key: Key,
    },
    /// PUT_VALUE: store this record.
    PutValue {
        /// The record.
        record: RecordRepr,
    },
    /// GET_PROVIDERS: the providers of `key`, and closer peers.
    GetProviders {
        /// The key looked up.
        key: Key,
    },
    /// ADD_PROVIDER: `providers` provide `key` (only the sender is kept).
    AddProvider {
        /// The key provided.
        key: Key,
        /// The announced providers.
        providers: Vec<NodeId>,
    },
    /// PING.
    Ping,
}

/// An answer, as the state machine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The peers closest to the key the responder knows.
    FindNode {
        /// Closer peers.
        closer: Vec<NodeId>,
    },
    /// The value if held, and closer peers.
    GetValue {
        /// The value, if the responder holds it.
        record: Option<RecordRepr>,
        /// Closer peers.
        closer: Vec<NodeId>,
    },
    /// The stored record, echoed.
    PutValue {
        /// The record.
        record: RecordRepr,
    },
    /// Known providers, and closer peers.
    GetProviders {
        /// Providers of the key.
        providers: Vec<NodeId>,
        /// Closer peers.
        closer: Vec<NodeId>,
    },
    /// The provider record is stored (a departure: see the module docs).
    AddProvider,
    /// PING's answer.
    Ping,
}

impl Request {
    /// The request's message type.
    pub fn kind(&self) -> MessageType {
        match self {
            Request::FindNode { .. } => MessageType::FindNode,
            Request::GetValue { .. } => MessageType::GetValue,
            Request::PutValue { .. } => MessageType::PutValue,
            Request::GetProviders { .. } => MessageType::GetProviders,
            Request::AddProvider { .. } => MessageType::AddProvider,
            Request::Ping => MessageType::Ping,
        }
    }
}

impl Response {
    /// The answer's message type (that of the request it answers).
    pub fn kind(&self) -> MessageType {
        match self {
            Response::FindNode { .. } => MessageType::FindNode,
            Response::GetValue { .. } => MessageType::GetValue,
            Response::PutValue { .. } => MessageType::PutValue,
            Response::GetProviders { .. } => MessageType::GetProviders,
            Response::AddProvider => MessageType::AddProvider,
            Response::Ping => MessageType::Ping,
        }
    }
}

/// What a kad datagram says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repr {
    /// A request with its id.
    Request {
        /// The id the answer must echo; never 0.
        id: u64,
        /// The request.
        request: Request,
    },
    /// An answer to request `id`.
    Response {
        /// The id of the request it answers; never 0.
        id: u64,
        /// The answer.
        response: Response,
    },
}

/// Checks the framing of `bytes` and decodes the protobuf message.
pub fn decode(bytes: &[u8]) -> Result<Message, Error> {
    let mut body = bytes;
    let len = prost::decode_length_delimiter(&mut body).map_err(|_| Error::Framing)?;
    if body.len() != len {
        return Err(Error::Length);
    }
    Message::decode(body).map_err(|_| Error::Decode)
}

fn key_of(bytes: &[u8]) -> Result<Key, Error> {
    Key::from_slice(bytes).ok_or(Error::Key)
}

fn peers_of(peers: &[Peer]) -> Result<Vec<NodeId>, Error> {
    peers
        .iter()
        .map(|p| node_of_peer_id(&p.id).ok_or(Error::PeerId))
        .collect()
}

fn peers_to(nodes: &[NodeId]) -> Vec<Peer> {
    nodes
        .iter()
        .map(|&n| Peer {
            id: peer_id(n).to_vec(),
            addrs: Vec::new(),
            connection: ConnectionType::NotConnected as i32,
        })
        .collect()
}

impl RecordRepr {
    fn parse(record: &Record) -> Result<RecordRepr, Error> {
        let publisher = match record.publisher.len() {
            0 => None,
            _ => Some(node_of_peer_id(&record.publisher).ok_or(Error::Record)?),
        };
        Ok(RecordRepr {
            key: Key::from_slice(&record.key).ok_or(Error::Record)?,
            // A decoded value is no longer than the datagram, so this fits.
            value_size: u32::try_from(record.value.len()).map_err(|_| Error::Record)?,
            publisher,
            ttl_secs: record.ttl,
        })
    }

    fn to_record(self) -> Record {
        Record {
            key: self.key.as_bytes().to_vec(),
            value: vec![0; self.value_size as usize],
            time_received: String::new(),
            publisher: self.publisher.map_or(Vec::new(), |p| peer_id(p).to_vec()),
            ttl: self.ttl_secs,
        }
    }
}

impl Repr {
    /// Reads a decoded message. Never panics.
    pub fn parse(message: &Message) -> Result<Repr, Error> {
        let kind = MessageType::try_from(message.r#type).map_err(|_| Error::Type)?;
        let record = || {
            message
                .record
                .as_ref()
                .ok_or(Error::Record)
                .and_then(RecordRepr::parse)
        };
        match (message.request_id, message.reply_to) {
            (id, 0) if id != 0 => {
                let request = match kind {
                    MessageType::FindNode => Request::FindNode {
                        key: key_of(&message.key)?,
                    },
                    MessageType::GetValue => Request::GetValue {
                        key: key_of(&message.key)?,
                    },
                    MessageType::GetProviders => Request::GetProviders {
                        key: key_of(&message.key)?,
                    },
                    MessageType::PutValue => {
                        let record = record()?;
                        if key_of(&message.key)? != record.key {
                            return Err(Error::Key);
                        }
                        Request::PutValue { record }
                    }
                    MessageType::AddProvider => Request::AddProvider {
                        key: key_of(&message.key)?,
                        providers: peers_of(&message.provider_peers)?,
                    },
                    MessageType::Ping => Request::Ping,
                };
                Ok(Repr::Request { id, request })
            }
            (0, id) if id != 0 => {
                let closer = || peers_of(&message.closer_peers);
                let response = match kind {
                    MessageType::FindNode => Response::FindNode { closer: closer()? },
                    MessageType::GetValue => Response::GetValue {
                        record: match message.record {
                            Some(_) => Some(record()?),
                            None => None,
                        },
                        closer: closer()?,
                    },
                    MessageType::PutValue => Response::PutValue { record: record()? },
                    MessageType::GetProviders => Response::GetProviders {
                        providers: peers_of(&message.provider_peers)?,
                        closer: closer()?,
                    },
                    MessageType::AddProvider => Response::AddProvider,
                    MessageType::Ping => Response::Ping,
                };
                Ok(Repr::Response { id, response })
            }
            _ => Err(Error::RequestId),
        }
    }

    /// Reads a datagram: [`decode`], then [`Repr::parse`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Repr, Error> {
        Repr::parse(&decode(bytes)?)
    }

    /// The protobuf message for this repr.
    pub fn to_message(&self) -> Message {
        let mut m = Message::default();
        match self {
            Repr::Request { id, request } => {
                m.request_id = *id;
                m.r#type = request.kind() as i32;
                match request {
                    Request::FindNode { key }
                    | Request::GetValue { key }
                    | Request::GetProviders { key } => m.key = key.as_bytes().to_vec(),
                    Request::PutValue { record } => {
                        m.key = record.key.as_bytes().to_vec();
                        m.record = Some(record.to_record());
                    }
                    Request::AddProvider { key, providers } => {
                        m.key = key.as_bytes().to_vec();
                        m.provider_peers = peers_to(providers);
                    }
                    Request::Ping => {}
                }
            }
            Repr::Response { id, response } => {
                m.reply_to = *id;
                m.r#type = response.kind() as i32;
                match response {
                    Response::FindNode { closer } => m.closer_peers = peers_to(closer),
                    Response::GetValue { record, closer } => {
                        m.record = record.map(RecordRepr::to_record);
                        m.closer_peers = peers_to(closer);
                    }
                    Response::PutValue { record } => {
                        m.key = record.key.as_bytes().to_vec();
                        m.record = Some(record.to_record());
                    }
                    Response::GetProviders { providers, closer } => {
                        m.provider_peers = peers_to(providers);
                        m.closer_peers = peers_to(closer);
                    }
                    Response::AddProvider | Response::Ping => {}
                }
            }
        }
        m
    }

    /// The datagram's length on the wire, prefix included.
    pub fn buffer_len(&self) -> usize {
        let len = self.to_message().encoded_len();
        prost::length_delimiter_len(len) + len
    }

    /// The datagram: varint length, then the protobuf message.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_message().encode_length_delimited_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(fill: u8) -> Key {
        Key::from_bytes([fill; 32])
    }

    /// A FIND_NODE request for key 0x11…11 with request id 7.
    static FIND_NODE_BYTES: [u8; 40] = [
        39, // length of what follows
        0x08, 0x04, // type = FIND_NODE
        0x12, 0x20, // key, 32 bytes
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11, 0x11, //
        0xc0, 0x3e, 0x07, // field 1000 (varint): requestId = 7
    ];

    /// The answer to request 7: two closer peers, n1 and n258.
    static FIND_NODE_ANSWER_BYTES: [u8; 22] = [
        21, // length
        0x08, 0x04, // type = FIND_NODE
        0x42, 0x06, 0x0a, 0x04, 0x00, 0x00, 0x00, 0x01, // closerPeers { id = n1 }
        0x42, 0x06, 0x0a, 0x04, 0x00, 0x00, 0x01, 0x02, // closerPeers { id = n258 }
        0xc8, 0x3e, 0x07, // field 1001 (varint): replyTo = 7
    ];

    /// A PUT_VALUE of 3 zero bytes under key 0x22…22, published by n5 with
    /// 60 s left, request id 300. PUT_VALUE is type 0, proto3's default, so
    /// the type field is not written at all.
    fn put_value_bytes() -> Vec<u8> {
        let mut body = vec![0x12, 0x20];
        body.extend([0x22; 32]);
        let mut record = vec![0x0a, 0x20];
        record.extend([0x22; 32]);
        record.extend([0x12, 0x03, 0, 0, 0]); // value
        record.extend([0xd2, 0x29, 0x04, 0, 0, 0, 5]); // field 666: publisher
        record.extend([0xc8, 0x30, 60]); // field 777: ttl
        body.push(0x1a); // record
        body.push(record.len() as u8);
        body.extend(record);
        body.extend([0xc0, 0x3e, 0xac, 0x02]); // requestId = 300
        let mut bytes = vec![body.len() as u8];
        bytes.extend(body);
        bytes
    }

    #[test]
    fn test_deconstruct() {
        let message = decode(&FIND_NODE_BYTES).unwrap();
        assert_eq!(message.r#type, MessageType::FindNode as i32);
        assert_eq!(message.key, [0x11; 32]);
        assert_eq!(message.request_id, 7);
        assert_eq!(
            Repr::parse(&message),
            Ok(Repr::Request {
                id: 7,
                request: Request::FindNode { key: key(0x11) }
            })
        );
        assert_eq!(
            Repr::from_bytes(&FIND_NODE_ANSWER_BYTES),
            Ok(Repr::Response {
                id: 7,
                response: Response::FindNode {
                    closer: vec![NodeId(1), NodeId(258)]
                }
            })
        );
        assert_eq!(
            Repr::from_bytes(&put_value_bytes()),
            Ok(Repr::Request {
                id: 300,
                request: Request::PutValue {
                    record: RecordRepr {
                        key: key(0x22),
                        value_size: 3,
                        publisher: Some(NodeId(5)),
                        ttl_secs: 60
                    }
                }
            })
        );
    }

    #[test]
    fn test_construct() {
        let repr = Repr::Request {
            id: 7,
            request: Request::FindNode { key: key(0x11) },
        };
        assert_eq!(repr.to_bytes(), FIND_NODE_BYTES);
        assert_eq!(repr.buffer_len(), FIND_NODE_BYTES.len());
        let answer = Repr::Response {
            id: 7,
            response: Response::FindNode {
                closer: vec![NodeId(1), NodeId(258)],
            },
        };
        assert_eq!(answer.to_bytes(), FIND_NODE_ANSWER_BYTES);
        let put = Repr::from_bytes(&put_value_bytes()).unwrap();
        assert_eq!(put.to_bytes(), put_value_bytes());
    }

    #[test]
    fn rejects_bad_framing_and_meaning() {
        assert_eq!(decode(&[]), Err(Error::Framing));
        assert_eq!(decode(&FIND_NODE_BYTES[..39]), Err(Error::Length));
        let mut trailing = FIND_NODE_BYTES.to_vec();
        trailing.push(0);
        assert_eq!(decode(&trailing), Err(Error::Length));
        // A length prefix that fits but a body that is not protobuf.
        assert_eq!(decode(&[2, 0xff, 0xff]), Err(Error::Decode));

        let mut m = decode(&FIND_NODE_BYTES).unwrap();
        let check = |m: &Message| Repr::parse(m);
        m.r#type = 9;
        assert_eq!(check(&m), Err(Error::Type));
        m.r#type = MessageType::FindNode as i32;
        m.reply_to = 7;
        assert_eq!(check(&m), Err(Error::RequestId), "both ids");
        m.request_id = 0;
        m.reply_to = 0;
        assert_eq!(check(&m), Err(Error::RequestId), "no id");
        m.request_id = 7;
        m.key.pop();
        assert_eq!(check(&m), Err(Error::Key));

        let mut answer = decode(&FIND_NODE_ANSWER_BYTES).unwrap();
        answer.closer_peers[1].id.push(0);
        assert_eq!(check(&answer), Err(Error::PeerId));

        let mut put = decode(&put_value_bytes()).unwrap();
        put.key = vec![0x33; 32];
        assert_eq!(check(&put), Err(Error::Key), "record key disagrees");
        put.key = vec![0x22; 32];
        put.record.as_mut().unwrap().publisher.pop();
        assert_eq!(check(&put), Err(Error::Record));
        put.record = None;
        assert_eq!(check(&put), Err(Error::Record));
    }

    fn any_key() -> impl Strategy<Value = Key> {
        any::<[u8; 32]>().prop_map(Key::from_bytes)
    }

    fn any_nodes() -> impl Strategy<Value = Vec<NodeId>> {
        proptest::collection::vec(any::<u32>().prop_map(NodeId), 0..25)
    }

    fn any_record() -> impl Strategy<Value = RecordRepr> {
        (
            any_key(),
            0u32..3000,
            proptest::option::of(any::<u32>()),
            any::<u32>(),
        )
            .prop_map(|(key, value_size, publisher, ttl_secs)| RecordRepr {
                key,
                value_size,
                publisher: publisher.map(NodeId),
                ttl_secs,
            })
    }

    fn any_repr() -> impl Strategy<Value = Repr> {
        let request = prop_oneof![
            any_key().prop_map(|key| Request::FindNode { key }),
            any_key().prop_map(|key| Request::GetValue { key }),
            any_key().prop_map(|key| Request::GetProviders { key }),
            any_record().prop_map(|record| Request::PutValue { record }),
            (any_key(), any_nodes())
                .prop_map(|(key, providers)| Request::AddProvider { key, providers }),
            Just(Request::Ping),
        ];
        let response = prop_oneof![
            any_nodes().prop_map(|closer| Response::FindNode { closer }),
            (proptest::option::of(any_record()), any_nodes())
                .prop_map(|(record, closer)| Response::GetValue { record, closer }),
            any_record().prop_map(|record| Response::PutValue { record }),
            (any_nodes(), any_nodes())
                .prop_map(|(providers, closer)| Response::GetProviders { providers, closer }),
            Just(Response::AddProvider),
            Just(Response::Ping),
        ];
        prop_oneof![
            (1..u64::MAX, request).prop_map(|(id, request)| Repr::Request { id, request }),
            (1..u64::MAX, response).prop_map(|(id, response)| Repr::Response { id, response }),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Repr::from_bytes(&bytes);
            // The same bytes with a correct length prefix reach the decoder.
            let mut framed = Vec::new();
            prost::encode_length_delimiter(bytes.len(), &mut framed).unwrap();
            framed.extend(&bytes);
            let _ = Repr::from_bytes(&framed);
        }

        #[test]
        fn emit_then_parse_round_trips(repr in any_repr()) {
            let bytes = repr.to_bytes();
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            prop_assert_eq!(Repr::from_bytes(&bytes), Ok(repr));
        }

        #[test]
        fn mangled_datagrams_never_panic(repr in any_repr(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
            let mut bytes = repr.to_bytes();
            for (at, value) in flips {
                let i = at % bytes.len();
                bytes[i] = value;
            }
            let _ = Repr::from_bytes(&bytes);
        }
    }
}
