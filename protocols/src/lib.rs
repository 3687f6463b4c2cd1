//! protocols: p2psim's protocol state machines, in sans-IO form.
//!
//! Each protocol is a value that implements [`sim_core::Protocol`]: it learns
//! everything through `handle_*` calls that carry the current virtual time,
//! and queues everything it wants done — datagrams to send, events to report,
//! input it discarded — for the caller to drain with `poll_output`. It never
//! reads a clock, does I/O or touches a global RNG, so the kernel can replay a
//! run bit for bit, and the same code could be driven by a real socket.
//!
//! # Tour
//!
//! One module per protocol, each laid out the same way:
//!
//! - `mod.rs`: the state machine, its command and event types, and a short
//!   tour with an example;
//! - `wire.rs`: the datagram format, smoltcp-style: a checked view over bytes
//!   (`Packet`, with `new_checked`) and what the bytes mean (`Repr`, with
//!   `parse`, `emit` and `buffer_len`); once `new_checked` succeeds, `parse`
//!   never panics;
//! - `config.rs`: the parameters a scenario file can set;
//! - pure data structures in files of their own.
//!
//! The protocols:
//!
//! - [`ping`]: request/response round trips, measuring RTT and reachability;
//! - [`flood`]: hop-limited broadcast with duplicate suppression;
//! - [`gossip`]: GossipSub v1.1 (libp2p gossipsub): topic meshes kept by
//!   GRAFT/PRUNE on a heartbeat, IHAVE/IWANT gossip, peer scoring;
//! - [`discovery`]: the seeds' serverless peer registry and its browser
//!   clients: register, heartbeat and discover with a TTL, as JSON in
//!   HTTP/1.1 over TLS records, with a serverless platform's queue, cold
//!   starts and bill;
//! - [`dht`]: a Kademlia DHT (libp2p kad-dht): k-buckets, iterative lookups,
//!   values and provider records;
//! - [`identify`]: libp2p Identify, peers telling each other what they speak;
//! - [`libp2p`]: a libp2p node of the seed's network (bootstrap or worker):
//!   Kademlia, GossipSub, Identify and Ping behind one datagram channel;
//! - [`ble_mesh`]: the BitChat BLE mesh: jittered, cancellable TTL flooding
//!   over link-layer broadcasts, fragmentation, directed messages with
//!   hop-by-hop acknowledgements, store-and-forward, duty-cycled discovery
//!   and a battery-aware policy (its bytes are BitChat's binary packet, in
//!   [`ble_mesh::packet`]);
//! - [`htx`]: the seed's HTX transport: its framed, CRC-checked,
//!   LZ4-compressed, AES-256-GCM-sealed frames, over connections with
//!   selective acknowledgement, retransmission and credit flow control;
//! - [`quic`]: a QUIC-like transport: 1-RTT and 0-RTT handshakes, a stream
//!   per message, flow control, datagrams, migration, and RFC 9002 loss
//!   recovery, NewReno/CUBIC and pacing;
//! - [`seen`]: the seen-id cache flood, GossipSub and the BLE mesh suppress
//!   duplicates with;
//! - [`signaling`]: the seed's WebSocket signaling server and its browser
//!   peers: join, bootstrap list, offer/answer/candidate relay, heartbeats,
//!   the 1,000-connection limit and 2-hour idle timeout, as JSON in RFC 6455
//!   frames over TLS records, then a modelled WebRTC set-up (STUN, DTLS,
//!   SCTP) to a direct data channel;
//! - [`transport_manager`]: the seed's multi-transport manager, a
//!   transport holding several (BLE mesh, HTX, QUIC, a WebSocket-like
//!   relay, raw) that picks one per message by the seed's rules as data,
//!   with failover, direct → mesh → server routing, fragmentation and
//!   priority queues;
//! - [`transport`]: the transport shape (send bytes / bytes arrived), raw
//!   datagrams, and [`transport::Over`], which runs any protocol over any
//!   transport.
//!
//! Ping and flood datagrams start with a one-byte magic that names the
//! protocol and a version byte, so one protocol's bytes are never mistaken
//! for another's; all integers are big-endian.
//!
//! | protocol  | magic        | header |
//! |-----------|--------------|--------|
//! | [`ping`]  | `0x50` (`P`) | [`ping::wire::HEADER_LEN`] = 15 bytes |
//! | [`flood`] | `0x46` (`F`) | [`flood::wire::HEADER_LEN`] = 16 bytes |
//!
//! The libp2p protocols carry their real messages instead: [`dht`] and
//! [`gossip`] datagrams are kad-dht and pubsub protobuf RPCs exactly as a
//! libp2p stream carries them (a varint length, then protobuf; see
//! [`dht::wire`] and [`gossip::wire`]), [`identify`] sends the bare
//! `Identify` message, and a [`libp2p`] node puts a one-byte protocol tag in
//! front of each, standing in for multistream-select.
//!
//! Malformed bytes are never a panic: a protocol reports them as one
//! [`Output::Drop`](sim_core::Output::Drop) with
//! [`DropCause::Malformed`](sim_core::DropCause::Malformed) and otherwise
//! ignores them.
//!
//! # Example: a flood datagram, emitted and parsed back
//!
//! ```
//! use protocols::flood::wire::{Packet, Repr, HEADER_LEN};
//!
//! let repr = Repr { id: (3 << 32) | 1, hop_limit: 7, hops: 0, payload_len: 40 };
//! let mut bytes = vec![0; repr.buffer_len()];
//! repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
//! assert_eq!(bytes.len(), HEADER_LEN + 40);
//!
//! let packet = Packet::new_checked(&bytes[..]).expect("long enough");
//! assert_eq!(Repr::parse(&packet), Ok(repr));
//!
//! // Cut short, the same bytes are rejected rather than misread.
//! assert!(Packet::new_checked(&bytes[..HEADER_LEN - 1]).is_err());
//! ```

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod ble_mesh;
mod bytes;
pub mod dht;
pub mod discovery;
pub mod flood;
pub mod gossip;
pub mod htx;
pub mod identify;
pub mod libp2p;
pub mod ping;
pub mod quic;
pub mod seen;
pub mod signaling;
pub mod transport;
pub mod transport_manager;

#[cfg(test)]
mod test_net;
