//! The registry's JSON API: the request and response bodies of the seeds'
//! four endpoints, as serde types.
//!
//! | endpoint                       | request body          | response body (200)  |
//! |--------------------------------|-----------------------|----------------------|
//! | `POST /register`               | [`RegisterRequest`]   | [`RegisterResponse`] |
//! | `GET /discover?archetype=…`    | none                  | [`DiscoverResponse`] |
//! | `POST /heartbeat`              | [`HeartbeatRequest`]  | [`HeartbeatResponse`]|
//! | `GET /health`                  | none                  | [`HealthResponse`]   |
//!
//! A heartbeat for a peer the registry does not hold is answered 404, and a
//! request that finds the queue full 503, both with an [`ErrorResponse`].
//!
//! Field names and messages are the seeds'. Where seeds 000 and 001 differ
//! (the heartbeat response has `ttl_expires` in one and `peer_id` and
//! `timestamp` in the other; the discover response has `timestamp` only in
//! 001), the bodies carry the union. Timestamps are [`Timestamp`]s and
//! addresses [`Address`]es: both map simulator values to the strings the
//! real service exchanges, and back. Unknown fields are ignored, as the
//! seeds' Python does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sim_core::{Instant, NodeId};

use super::clock;

/// The registry's message for a registration.
pub const REGISTERED: &str = "Peer registered successfully";
/// The registry's message for a heartbeat.
pub const HEARTBEAT_UPDATED: &str = "Heartbeat updated";
/// The health check's status.
pub const HEALTHY: &str = "healthy";
/// The error for a heartbeat from a peer the registry does not hold.
pub const PEER_NOT_FOUND: &str = "Peer not found";
/// The error for a request that found the queue full.
pub const UNAVAILABLE: &str = "Service unavailable";

/// What a request asks for: one of the four endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestKind {
    /// `POST /register`.
    Register,
    /// `POST /heartbeat`.
    Heartbeat,
    /// `GET /discover`.
    Discover,
    /// `GET /health`.
    Health,
}

impl RequestKind {
    /// The endpoint's name, as in its path.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Register => "register",
            RequestKind::Heartbeat => "heartbeat",
            RequestKind::Discover => "discover",
            RequestKind::Health => "health",
        }
    }
}

/// A request to the registry, whichever endpoint it goes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// `POST /register` with this body.
    Register(RegisterRequest),
    /// `POST /heartbeat` with this body.
    Heartbeat(HeartbeatRequest),
    /// `GET /discover`, with `?archetype=…` when filtering.
    Discover {
        /// Only peers that list this archetype; `None` for every peer.
        archetype: Option<String>,
    },
    /// `GET /health`.
    Health,
}

impl Request {
    /// The endpoint it goes to.
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Register(_) => RequestKind::Register,
            Request::Heartbeat(_) => RequestKind::Heartbeat,
            Request::Discover { .. } => RequestKind::Discover,
            Request::Health => RequestKind::Health,
        }
    }
}

/// The body of `POST /register`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The peer's identifier (a UUID from the simulated clients).
    pub peer_id: String,
    /// Where the peer can be reached.
    pub address: Address,
    /// The port it listens on.
    pub port: u16,
    /// What the peer offers, for `GET /discover?archetype=…`.
    #[serde(default)]
    pub archetypes: Vec<String>,
    /// Free-form data the registry stores and returns with the peer.
    #[serde(default)]
    pub metadata: serde_json::Value,
}

/// The body of `POST /heartbeat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// The peer whose registration to keep alive.
    pub peer_id: String,
}

/// The body of a successful `POST /register`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// [`REGISTERED`].
    pub message: String,
    /// The registered peer.
    pub peer_id: String,
    /// When the registration lapses without a heartbeat.
    pub ttl_expires: Timestamp,
}

/// The body of a successful `POST /heartbeat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// [`HEARTBEAT_UPDATED`].
    pub message: String,
    /// The peer kept alive.
    pub peer_id: String,
    /// When the registry took the heartbeat.
    pub timestamp: Timestamp,
    /// When the registration now lapses without another.
    pub ttl_expires: Timestamp,
}

/// The body of a successful `GET /discover`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscoverResponse {
    /// The live registrations that match, ordered by peer id.
    pub peers: Vec<PeerRecord>,
    /// How many there are.
    pub count: u64,
    /// When the registry took this view.
    pub timestamp: Timestamp,
}

/// One registration, as `GET /discover` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// The peer's identifier.
    pub peer_id: String,
    /// Where it can be reached.
    pub address: Address,
    /// The port it listens on.
    pub port: u16,
    /// What it offers.
    pub archetypes: Vec<String>,
    /// Its last register or heartbeat.
    pub last_seen: Timestamp,
    /// What it registered with.
    pub metadata: serde_json::Value,
}

/// The body of `GET /health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// [`HEALTHY`].
    pub status: String,
}

/// The body of an error response (404, 503).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// What went wrong: [`PEER_NOT_FOUND`], [`UNAVAILABLE`].
    pub error: String,
}

/// A point in virtual time, written as the UTC timestamp it stands for:
/// virtual time zero is 2025-10-02T12:00:00Z, and the JSON carries
/// microseconds (`"2025-10-02T12:05:00.000000Z"`). Reading accepts seed
/// 001's form too (no fraction, no `Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub Instant);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&clock::iso8601(self.0))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        clock::parse_iso8601(&text)
            .map(Timestamp)
            .ok_or_else(|| serde::de::Error::custom("not an ISO 8601 UTC timestamp"))
    }
}

/// A node's network address, written as an IP address: node `n` is
/// `10.x.y.z` with `n` in its low 24 bits (nodes below 2²⁴), otherwise
/// `fd00::` with `n` in its low 32 bits. Reading accepts exactly these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub NodeId);

impl Address {
    const V4_NODES: u32 = 1 << 24;

    /// The IP address of the node.
    pub fn ip(self) -> IpAddr {
        let n = self.0 .0;
        if n < Self::V4_NODES {
            IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | n))
        } else {
            IpAddr::V6(Ipv6Addr::from((0xfd00_u128 << 112) | u128::from(n)))
        }
    }

    /// The node at an IP address, if it is one of the simulation's.
    pub fn from_ip(ip: IpAddr) -> Option<Address> {
        let n = match ip {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                (bits >> 24 == 10).then_some(bits & (Self::V4_NODES - 1))?
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                let n = u32::try_from(bits ^ (0xfd00_u128 << 112)).ok()?;
                (n >= Self::V4_NODES).then_some(n)?
            }
        };
        Some(Address(NodeId(n)))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.ip())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse()
            .ok()
            .and_then(Address::from_ip)
            .ok_or_else(|| serde::de::Error::custom("not a simulated node's IP address"))
    }
}

/// A body as JSON bytes.
pub(super) fn to_json<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).expect("API bodies are plain data and always serialise")
}
