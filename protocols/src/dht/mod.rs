//! Kademlia DHT: iterative lookups over XOR distance, k-buckets, values and
//! provider records, in the wire format of libp2p's kad-dht.
//!
//! Every node has a 256-bit [`Key`], the SHA-256 of its peer id (here its
//! [`NodeId`] as 4 big-endian bytes), and keeps a [`RoutingTable`] of
//! k-buckets. A lookup ([`DhtCommand::FindNode`] and the others) asks the
//! closest peers it knows for closer ones, `α` requests at a time, until the
//! `k` closest it has heard of have all answered ([`ClosestPeersIter`]).
//! GET_VALUE and GET_PROVIDERS stop early when an answer carries what they
//! look for; PUT_VALUE and ADD_PROVIDER first find the `k` closest, then
//! store at each. Each lookup reports [`DhtEvent::LookupStarted`] and exactly
//! one [`DhtEvent::LookupDone`], which the kernel sees as
//! [`Observation::LookupStarted`] / [`Observation::LookupDone`] (hops,
//! requests, success).
//!
//! The pieces, each in its own file:
//!
//! - [`key`]: keys, XOR [`Distance`], bucket indices;
//! - [`kbucket`]: [`RoutingTable`] and [`KBucket`] (least-recently-seen
//!   order, replacement cache, ping-before-evict), and [`WarmStart`];
//! - [`query`]: [`ClosestPeersIter`] and the table of requests in flight;
//! - [`store`]: values and provider records with expiry and republishing;
//! - [`wire`]: the protobuf message and what it means;
//! - `config`: [`DhtConfig`], with the defaults and their sources.
//!
//! ```
//! use protocols::dht::{Dht, DhtCommand, DhtConfig, DhtEvent, Key, LookupKind};
//! use sim_core::{Instant, NodeId, Output, Protocol, SimRng};
//! use rand_chacha::rand_core::SeedableRng;
//!
//! let config = DhtConfig::default();
//! let rng = |seed| SimRng::seed_from_u64(seed);
//! // Node 1 knows node 0 (a warm start); node 0 knows nobody yet.
//! let mut a = Dht::new(NodeId(0), vec![], config, rng(0));
//! let mut b = Dht::new(NodeId(1), vec![], config, rng(1)).with_peers([NodeId(0)]);
//! let now = Instant::ZERO;
//!
//! b.handle_command(now, DhtCommand::FindNode(Key::for_node(NodeId(7))));
//! let Some(Output::Event(DhtEvent::LookupStarted { kind: LookupKind::FindNode, .. })) =
//!     b.poll_output() else { panic!() };
//! let Some(Output::Transmit { to: NodeId(0), bytes }) = b.poll_output() else { panic!() };
//!
//! // Node 0 learns of node 1 from its request, and answers.
//! a.handle_datagram(now, NodeId(1), &bytes);
//! assert_eq!(a.poll_output(), Some(Output::Event(DhtEvent::PeerAdded(NodeId(1)))));
//! let Some(Output::Transmit { to: NodeId(1), bytes }) = a.poll_output() else { panic!() };
//!
//! // Node 0 knew no other peer: after one round node 1's lookup is done.
//! b.handle_datagram(now, NodeId(0), &bytes);
//! let Some(Output::Event(DhtEvent::LookupDone { hops: 1, requests: 1, success: true, closest, .. })) =
//!     b.poll_output() else { panic!() };
//! assert_eq!(closest, [NodeId(0)]);
//! ```
//!
//! # Implementation notes
//!
//! Where this DHT departs from the paper (Maymounkov and Mazières, 2002) and
//! from the libp2p kad-dht spec; the files' own notes give the details.
//!
//! - **Keys** are 256-bit SHA-256 hashes (libp2p), not the paper's 160 bits.
//!   A node's peer id is its `NodeId` as 4 big-endian bytes; requests carry
//!   the 32-byte key itself rather than a preimage ([`wire`]).
//! - **Datagrams, not streams.** Requests carry a request id (protobuf field
//!   1000) and answers echo it (field 1001); ADD_PROVIDER is acknowledged so
//!   that a provider knows it is stored at least once ([`wire`]).
//! - **Who enters the table.** Every valid message updates the sender's
//!   bucket, as in the paper (libp2p adds only peers that advertise the
//!   protocol in server mode; all nodes here are servers). Peers named in
//!   answers are candidates of the lookup only; they enter the table when
//!   they are heard from. Except a PING: it refreshes a sender already in
//!   the table but does not insert a new one, because inserting would ping
//!   the full bucket's oldest entry, which may not know this node and ping on
//!   in turn (the paper's rule taken literally cascaded to eight pings per
//!   lookup request in a 10,000-node network).
//! - **PING**, which the spec defines but never sends, is what a full bucket
//!   sends to its oldest entry before evicting it (the paper's rule).
//! - **Lookup start** uses the `k` closest peers of the table (rust-libp2p),
//!   not `α` (spec, paper); see [`query`].
//! - **Quorum 1.** GET_VALUE ends at the first value, GET_PROVIDERS at the
//!   first answer naming providers; there is no validator, no entry
//!   correction and no caching of values along the path (the paper's
//!   "store at the closest node that did not have it").
//! - **Local answers.** A GET_VALUE or GET_PROVIDERS for something the node
//!   holds itself succeeds at once with 0 hops and 0 requests (spec).
//! - **Bootstrap** adds the bootstrap nodes to the table, looks up the
//!   node's own key, then refreshes every bucket from the farthest down to
//!   its closest neighbour's with a lookup for a random key in it
//!   (rust-libp2p; the paper joins the same way). A node whose table is empty at a refresh
//!   bootstraps again.
//! - **Refresh** runs every `refresh_interval` (10 min, go-libp2p's routing
//!   table refresh; the paper says 1 h) for the buckets no lookup targeted
//!   during the period. The first refresh comes a random time between half
//!   an interval and one interval after the node starts, so that a million
//!   nodes started together do not refresh in the same instant.
//! - **Warm start.** [`Dht::with_peers`] (at build time, silently) and
//!   [`DhtCommand::AddPeer`] (at run time, reporting
//!   [`DhtEvent::PeerAdded`]) insert peers with no message, so that a
//!   scenario can start a 10⁶-node DHT with converged tables
//!   ([`WarmStart`]) instead of simulating its growth. A full bucket keeps
//!   such a peer in its replacement cache and pings nobody.
//! - **Records** are sizes, not bytes; their TTL travels with them
//!   (rust-libp2p's `ttl` field) so that replication does not extend their
//!   life, and a holder's hourly replication is jittered by up to a tenth of
//!   the interval so that the `k` holders do not all replicate at once. See
//!   [`store`] for expiry and republishing.
//! - **Memory.** Per-node state is kept small for 10⁶ nodes: 12-byte table
//!   entries, lazily unfolded buckets, buffers released when idle, no
//!   per-node hash maps, and timers as a handful of deadlines (the head of
//!   the request queue, the store's earliest deadline, the refresh time).
//! - **Lookup ids** are `(node << 32) | sequence`, the sequence starting at
//!   a value drawn from the node's RNG, so that a node restarted with fresh
//!   state does not reuse the ids of its earlier incarnation (collisions
//!   have probability about lookups / 2³²).

mod config;
pub mod kbucket;
pub mod key;
pub mod query;
pub mod store;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use sim_core::{
    dist::uniform_below, DropCause, Duration, Instant, NodeId, Observation, Observe, Output,
    Protocol, SimRng,
};

pub use config::DhtConfig;
pub use kbucket::{Eviction, Insert, KBucket, RoutingTable, WarmStart};
pub use key::{Distance, Key};
pub use query::ClosestPeersIter;

use query::{Pending, PendingRequests, Purpose};
use store::{next_time, ProviderRecord, RecordStore, StoreTask, StoredRecord};
use wire::{RecordRepr, Repr, Request, Response};

/// What a workload (or a layer above) can ask of a [`Dht`] node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhtCommand {
    /// Join: add the bootstrap nodes to the table, look up the own key, then
    /// refresh the buckets.
    Bootstrap,
    /// Find the `k` nodes closest to a key.
    FindNode(Key),
    /// Find the value stored under a key.
    GetValue(Key),
    /// Store a value of `value_size` bytes under `key` at the `k` closest
    /// nodes (and keep it as its original publisher).
    PutValue {
        /// The key.
        key: Key,
        /// The value's length in bytes.
        value_size: u32,
    },
    /// Announce this node as a provider of a key at the `k` closest nodes.
    AddProvider(Key),
    /// Find providers of a key.
    GetProviders(Key),
    /// Add a known peer to the routing table without a message (a warm
    /// start at run time); see [`Dht::with_peers`] for build time.
    AddPeer(NodeId),
}

/// What a lookup was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LookupKind {
    /// [`DhtCommand::FindNode`].
    FindNode,
    /// [`DhtCommand::GetValue`].
    GetValue,
    /// [`DhtCommand::PutValue`].
    PutValue,
    /// [`DhtCommand::AddProvider`].
    AddProvider,
    /// [`DhtCommand::GetProviders`].
    GetProviders,
    /// The own-key lookup of a bootstrap.
    Bootstrap,
    /// A random-key lookup refreshing a bucket.
    Refresh,
    /// A value stored again by its publisher or a holder.
    Republish,
    /// A provider announcing itself again.
    Reprovide,
}

/// What a [`Dht`] node reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DhtEvent {
    /// This node started lookup `lookup` for `key`.
    LookupStarted {
        /// The lookup's id, unique in the run.
        lookup: u64,
        /// What it is for.
        kind: LookupKind,
        /// The key looked up.
        key: Key,
    },
    /// Lookup `lookup` ended. Every `LookupStarted` is followed by exactly
    /// one `LookupDone`.
    LookupDone {
        /// The lookup's id.
        lookup: u64,
        /// What it was for.
        kind: LookupKind,
        /// Rounds of requests: the iteration depth of the answers that made
        /// the result, plus one for a store phase (see [`query`]).
        hops: u32,
        /// Requests sent, store requests included.
        requests: u32,
        /// Whether it found what it looked for: FIND_NODE (and bootstrap,
        /// refresh) — answers from the `k` closest peers it knew of (fewer
        /// if it knew fewer), at least one; GET_VALUE — the value;
        /// GET_PROVIDERS — at least one provider; PUT_VALUE, ADD_PROVIDER
        /// (and republish, reprovide) — stored at one of the `k` closest at
        /// least.
        success: bool,
        /// The `k` closest peers that answered, closest first.
        closest: Vec<NodeId>,
    },
    /// A GET_VALUE found a value.
    RecordFound {
        /// The lookup.
        lookup: u64,
        /// The value's key.
        key: Key,
        /// The value's length in bytes.
        value_size: u32,
        /// Its original publisher.
        publisher: NodeId,
        /// The node that answered with it (this node for a local hit).
        from: NodeId,
    },
    /// A GET_PROVIDERS found providers.
    ProvidersFound {
        /// The lookup.
        lookup: u64,
        /// The key.
        key: Key,
        /// The providers named.
        providers: Vec<NodeId>,
    },
    /// This node stored a value another node sent it.
    RecordStored {
        /// The value's key.
        key: Key,
        /// The value's length.
        value_size: u32,
        /// Its original publisher.
        publisher: NodeId,
        /// The node that sent it.
        from: NodeId,
    },
    /// This node stored a provider record.
    ProviderStored {
        /// The key provided.
        key: Key,
        /// The provider.
        provider: NodeId,
    },
    /// A value this node held expired.
    RecordExpired {
        /// Its key.
        key: Key,
    },
    /// The routing table gained a peer.
    PeerAdded(NodeId),
    /// The routing table lost a peer (a failed ping or request).
    PeerEvicted(NodeId),
}

impl Observe for DhtEvent {
    /// Lookups are what the kernel measures; the rest is the DHT's own.
    fn observe(&self) -> Option<Observation> {
        match *self {
            DhtEvent::LookupStarted { lookup, .. } => Some(Observation::LookupStarted { lookup }),
            DhtEvent::LookupDone {
                lookup,
                hops,
                requests,
                success,
                ..
            } => Some(Observation::LookupDone {
                lookup,
                hops,
                requests,
                success,
            }),
            _ => None,
        }
    }
}

/// What a lookup does once its iteration ends.
#[derive(Clone, Copy, Debug)]
enum Op {
    FindNode,
    GetValue,
    GetProviders,
    /// Store a value; its TTL on the wire is what is left of `expires` when
    /// the store requests go out (the lookup before them takes time).
    PutValue {
        value_size: u32,
        publisher: NodeId,
        expires: Instant,
    },
    AddProvider,
}

#[derive(Clone, Debug)]
enum Phase {
    Iterating,
    /// Store requests out to the k closest.
    Storing {
        outstanding: u32,
        stored: u32,
        hops: u32,
        closest: Vec<NodeId>,
    },
}

#[derive(Clone, Debug)]
struct Query {
    id: u64,
    kind: LookupKind,
    op: Op,
    iter: ClosestPeersIter,
    requests: u32,
    phase: Phase,
}

/// One node's Kademlia state machine.
///
/// # Methods
///
/// - Builders: [`new`](Dht::new), [`with_peers`](Dht::with_peers) (a warm
///   start), [`with_initial_lookup_seq`](Dht::with_initial_lookup_seq).
/// - Getters: [`id`](Dht::id), [`key`](Dht::key), [`config`](Dht::config),
///   [`routing_table`](Dht::routing_table),
///   [`connected_peers`](Dht::connected_peers), [`store`](Dht::store),
///   [`active_lookups`](Dht::active_lookups),
///   [`requests_in_flight`](Dht::requests_in_flight),
///   [`heap_bytes`](Dht::heap_bytes).
/// - Inputs, from [`Protocol`]: [`handle_command`](Protocol::handle_command)
///   starts a lookup, adds a peer or bootstraps;
///   [`handle_datagram`](Protocol::handle_datagram) answers a request or
///   advances a lookup; [`handle_timeout`](Protocol::handle_timeout) runs the
///   start-up, fails overdue requests, refreshes buckets, expires and
///   republishes records.
/// - Outputs, from [`Protocol`]: [`poll_output`](Protocol::poll_output) yields
///   events, transmits and drops in the order they arose;
///   [`poll_timeout`](Protocol::poll_timeout) is the earliest of: the
///   start-up (at the first wake-up), the oldest request's deadline, the next
///   refresh and the store's next expiry or republication.
///
/// A driver calls one `handle_*`, drains `poll_output` to `None`, then reads
/// `poll_timeout` and calls `handle_timeout` no earlier than that instant.
///
/// # Behaviour
///
/// - A node built with bootstrap nodes (and `bootstrap_on_start`) bootstraps
///   at its first wake-up; [`DhtCommand::Bootstrap`] does it at any time.
/// - Every valid datagram updates the sender's bucket
///   ([`RoutingTable::on_seen`]); a full bucket pings its oldest entry and
///   evicts it if the ping times out ([`DhtEvent::PeerEvicted`], then
///   [`DhtEvent::PeerAdded`] for the replacement).
/// - Requests are answered at once: FIND_NODE, GET_VALUE and GET_PROVIDERS
///   with the `k` closest peers of the table other than the requester (and
///   the value or providers held); PUT_VALUE and ADD_PROVIDER are stored and
///   acknowledged; PING is answered.
/// - An answer that matches no request in flight (late, after its timeout,
///   or unsolicited) updates the table and is otherwise dropped with
///   [`DropCause::Expired`]; an answer of the wrong type is dropped as
///   malformed and its request fails.
/// - Bytes that are not a kad datagram give exactly one
///   `Output::Drop { cause: DropCause::Malformed, .. }` and nothing else.
#[derive(Clone, Debug)]
pub struct Dht {
    id: NodeId,
    config: DhtConfig,
    rng: SimRng,
    bootstrap: Vec<NodeId>,
    table: RoutingTable,
    store: RecordStore,
    queries: Vec<Query>,
    requests: PendingRequests,
    outputs: VecDeque<Output<DhtEvent>>,
    next_lookup_seq: u32,
    next_request_id: u64,
    /// The start-up is due at the first wake-up.
    starting: bool,
    next_refresh: Instant,
}

impl Dht {
    /// A node with address `id` that joins through `bootstrap` (may be
    /// empty), with `config` (out-of-range values clamped: `k` to 1..=255,
    /// `α` to at least 1) and its own RNG stream.
    pub fn new(id: NodeId, mut bootstrap: Vec<NodeId>, config: DhtConfig, mut rng: SimRng) -> Self {
        bootstrap.retain(|&b| b != id);
        bootstrap.dedup();
        bootstrap.shrink_to_fit();
        let config = DhtConfig {
            k: config.k.clamp(1, 255),
            alpha: config.alpha.max(1),
            replacement_cache_size: config.replacement_cache_size.min(255),
            ..config
        };
        let next_lookup_seq = uniform_below(&mut rng, 1 << 32) as u32;
        // Request ids: a random 32-bit start, as u64, never 0.
        let next_request_id = uniform_below(&mut rng, 1 << 32) + 1;
        Dht {
            id,
            table: RoutingTable::new(id, config.k, config.replacement_cache_size),
            config,
            rng,
            bootstrap,
            store: RecordStore::new(),
            queries: Vec::new(),
            requests: PendingRequests::new(),
            outputs: VecDeque::new(),
            next_lookup_seq,
            next_request_id,
            starting: true,
            next_refresh: Instant::MAX,
        }
    }

    /// Puts `peers` in the routing table with no message and no event: a
    /// warm start (see [`WarmStart`]). A peer whose bucket is full waits in
    /// its replacement cache.
    pub fn with_peers(mut self, peers: impl IntoIterator<Item = NodeId>) -> Self {
        for peer in peers {
            self.table.add(peer);
        }
        self.table.shrink_to_fit();
        self
    }

    /// Makes this node number its lookups from `seq` on instead of a value
    /// drawn from its RNG (lookup ids are `(node << 32) | seq`).
    pub fn with_initial_lookup_seq(mut self, seq: u32) -> Self {
        self.next_lookup_seq = seq;
        self
    }

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This node's key.
    pub fn key(&self) -> &Key {
        self.table.local_key()
    }

    /// The parameters it runs with (after clamping).
    pub fn config(&self) -> &DhtConfig {
        &self.config
    }

    /// The routing table.
    pub fn routing_table(&self) -> &RoutingTable {
        &self.table
    }

    /// The peers in the routing table, farthest bucket first: what a layer
    /// above (gossip's peer discovery) can connect to. The simulator has no
    /// connections, so "connected" means "in the table".
    pub fn connected_peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.table.iter()
    }

    /// The values and provider records held.
    pub fn store(&self) -> &RecordStore {
        &self.store
    }

    /// How many lookups are running.
    pub fn active_lookups(&self) -> usize {
        self.queries.len()
    }

    /// How many requests are in flight.
    pub fn requests_in_flight(&self) -> usize {
        self.requests.len()
    }

    /// Bytes of heap held by the routing table, the request queue, the
    /// output queue and the bootstrap list (not the store or running
    /// lookups): the per-node cost of an idle node.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
            + self.requests.heap_bytes()
            + self.outputs.capacity() * std::mem::size_of::<Output<DhtEvent>>()
            + self.bootstrap.capacity() * std::mem::size_of::<NodeId>()
    }

    // ----- lookups -----

    fn start_lookup(&mut self, now: Instant, kind: LookupKind, target: Key, op: Op) {
        let lookup = (u64::from(self.id.0) << 32) | u64::from(self.next_lookup_seq);
        self.next_lookup_seq = self.next_lookup_seq.wrapping_add(1);
        self.table.mark_looked_up(&target);
        self.emit(DhtEvent::LookupStarted {
            lookup,
            kind,
            key: target,
        });
        // What the node holds itself needs no request.
        match op {
            Op::GetValue => {
                if let Some(r) = self.store.get(&target, now).copied() {
                    self.emit(DhtEvent::RecordFound {
                        lookup,
                        key: target,
                        value_size: r.value_size,
                        publisher: r.publisher,
                        from: self.id,
                    });
                    return self.emit_done(lookup, kind, 0, 0, true, Vec::new());
                }
            }
            Op::GetProviders => {
                let providers = self.store.providers(&target, now, self.config.k);
                if !providers.is_empty() {
                    self.emit(DhtEvent::ProvidersFound {
                        lookup,
                        key: target,
                        providers,
                    });
                    return self.emit_done(lookup, kind, 0, 0, true, Vec::new());
                }
            }
            _ => {}
        }
        let seeds = self.table.closest(&target, self.config.k, None);
        let iter = ClosestPeersIter::new(target, seeds, self.config.k, self.config.alpha);
        self.queries.push(Query {
            id: lookup,
            kind,
            op,
            iter,
            requests: 0,
            phase: Phase::Iterating,
        });
        self.advance(now, lookup);
    }

    /// Sends what lookup `id` may send now, and ends it if it is over.
    fn advance(&mut self, now: Instant, id: u64) {
        let Some(qi) = self.queries.iter().position(|q| q.id == id) else {
            return;
        };
        if let Phase::Iterating = self.queries[qi].phase {
            let target = *self.queries[qi].iter.target();
            let request = match self.queries[qi].op {
                Op::GetValue => Request::GetValue { key: target },
                Op::GetProviders => Request::GetProviders { key: target },
                _ => Request::FindNode { key: target },
            };
            while let Some(peer) = self.queries[qi].iter.next_peer() {
                self.queries[qi].requests += 1;
                self.send_request(now, peer, request.clone(), Purpose::Lookup(id));
            }
            if !self.queries[qi].iter.is_finished() {
                return;
            }
            let q = &self.queries[qi];
            let (closest, hops) = (q.iter.result(), q.iter.hops());
            let store = match q.op {
                Op::PutValue {
                    value_size,
                    publisher,
                    expires,
                } => {
                    let ttl_secs = ttl_secs(expires.saturating_duration_since(now));
                    (ttl_secs > 0).then_some(Request::PutValue {
                        record: RecordRepr {
                            key: target,
                            value_size,
                            publisher: Some(publisher),
                            ttl_secs,
                        },
                    })
                }
                Op::AddProvider => Some(Request::AddProvider {
                    key: target,
                    providers: vec![self.id],
                }),
                Op::FindNode | Op::GetValue | Op::GetProviders => None,
            };
            match store {
                Some(request) if !closest.is_empty() => {
                    for &peer in &closest {
                        self.send_request(now, peer, request.clone(), Purpose::Store(id));
                    }
                    let q = &mut self.queries[qi];
                    q.requests += closest.len() as u32;
                    q.phase = Phase::Storing {
                        outstanding: closest.len() as u32,
                        stored: 0,
                        hops: hops + 1,
                        closest,
                    };
                }
                _ => {
                    // FIND_NODE succeeds with answers from the k closest it
                    // knew; GET_* got here without finding anything.
                    let success = matches!(q.op, Op::FindNode) && !closest.is_empty();
                    self.finish(now, qi, hops, success, closest);
                    return;
                }
            }
        }
        if let Phase::Storing {
            outstanding: 0,
            stored,
            hops,
            ref closest,
        } = self.queries[qi].phase
        {
            let closest = closest.clone();
            self.finish(now, qi, hops, stored > 0, closest);
        }
    }

    /// Removes lookup `qi` and reports its end.
    /// A bootstrap's end starts its bucket refreshes; callers must not use
    /// `qi` (or any query index) afterwards.
    fn finish(&mut self, now: Instant, qi: usize, hops: u32, success: bool, closest: Vec<NodeId>) {
        let q = self.queries.swap_remove(qi);
        if self.queries.is_empty() {
            self.queries = Vec::new();
        }
        self.emit_done(q.id, q.kind, hops, q.requests, success, closest);
        if q.kind == LookupKind::Bootstrap {
            self.refresh(now);
        }
    }

    fn emit_done(
        &mut self,
        lookup: u64,
        kind: LookupKind,
        hops: u32,
        requests: u32,
        success: bool,
        closest: Vec<NodeId>,
    ) {
        self.emit(DhtEvent::LookupDone {
            lookup,
            kind,
            hops,
            requests,
            success,
            closest,
        });
    }

    /// Joins: the bootstrap nodes into the table, then the own-key lookup
    /// (whose end starts the bucket refreshes).
    fn bootstrap(&mut self, now: Instant) {
        for i in 0..self.bootstrap.len() {
            let peer = self.bootstrap[i];
            let outcome = self.table.add(peer);
            if outcome == Insert::Added {
                self.emit(DhtEvent::PeerAdded(peer));
            }
        }
        let own = *self.table.local_key();
        self.start_lookup(now, LookupKind::Bootstrap, own, Op::FindNode);
    }

    /// Looks up a random key in every stale bucket; bootstraps instead if the
    /// table is empty.
    fn refresh(&mut self, now: Instant) {
        if self.table.is_empty() {
            if !self.bootstrap.is_empty() {
                self.bootstrap(now);
            }
            return;
        }
        for bucket in self.table.take_stale_buckets() {
            let target = self
                .table
                .local_key()
                .random_in_bucket(bucket, &mut self.rng);
            self.start_lookup(now, LookupKind::Refresh, target, Op::FindNode);
        }
        // The refresh lookups themselves do not count as the next period's
        // lookups, or an idle bucket would be refreshed every other period.
        self.table.clear_looked_up();
    }

    // ----- messages -----

    fn send_request(&mut self, now: Instant, peer: NodeId, request: Request, purpose: Purpose) {
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1).max(1);
        self.requests.insert(Pending {
            id,
            peer,
            kind: request.kind(),
            deadline: now.saturating_add(self.config.request_timeout),
            purpose,
        });
        let bytes = Repr::Request { id, request }.to_bytes();
        self.outputs.push_back(Output::Transmit {
            to: peer,
            bytes: bytes.into(),
        });
    }

    fn send_response(&mut self, to: NodeId, id: u64, response: Response) {
        let bytes = Repr::Response { id, response }.to_bytes();
        self.outputs.push_back(Output::Transmit {
            to,
            bytes: bytes.into(),
        });
    }

    fn emit(&mut self, event: DhtEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    /// Applies the table's update rule to a peer heard from.
    fn seen(&mut self, now: Instant, peer: NodeId) {
        match self.table.on_seen(peer) {
            Insert::Added => self.emit(DhtEvent::PeerAdded(peer)),
            Insert::Pending { ping: Some(oldest) } => {
                self.send_request(now, oldest, Request::Ping, Purpose::Ping);
            }
            Insert::Refreshed | Insert::Pending { ping: None } | Insert::Ignored => {}
        }
    }

    fn report_eviction(&mut self, eviction: Option<Eviction>) {
        if let Some(e) = eviction {
            self.emit(DhtEvent::PeerEvicted(e.evicted));
            if let Some(p) = e.promoted {
                self.emit(DhtEvent::PeerAdded(p));
            }
        }
    }

    fn answer(&mut self, now: Instant, from: NodeId, id: u64, request: Request) {
        let k = self.config.k;
        let response = match request {
            Request::FindNode { key } => Response::FindNode {
                closer: self.table.closest(&key, k, Some(from)),
            },
            Request::GetValue { key } => Response::GetValue {
                record: self.store.get(&key, now).map(|r| RecordRepr {
                    key,
                    value_size: r.value_size,
                    publisher: Some(r.publisher),
                    ttl_secs: ttl_secs(r.expires.saturating_duration_since(now)),
                }),
                closer: self.table.closest(&key, k, Some(from)),
            },
            Request::GetProviders { key } => Response::GetProviders {
                providers: self.store.providers(&key, now, k),
                closer: self.table.closest(&key, k, Some(from)),
            },
            Request::PutValue { record } => {
                let ttl = match record.ttl_secs {
                    0 => self.config.record_ttl,
                    s => Duration::from_secs(u64::from(s)).min(self.config.record_ttl),
                };
                let publisher = record.publisher.unwrap_or(from);
                let republish_at = self.replication_time(now);
                self.store.put(
                    record.key,
                    StoredRecord {
                        value_size: record.value_size,
                        publisher,
                        expires: now.saturating_add(ttl),
                        republish_at,
                        original: false,
                    },
                );
                self.emit(DhtEvent::RecordStored {
                    key: record.key,
                    value_size: record.value_size,
                    publisher,
                    from,
                });
                Response::PutValue { record }
            }
            Request::AddProvider { key, providers } => {
                // Only the sender may announce itself (spec).
                if providers.contains(&from) {
                    let added = self.store.add_provider(
                        key,
                        ProviderRecord {
                            provider: from,
                            expires: now.saturating_add(self.config.provider_record_ttl),
                            republish_at: None,
                        },
                        k,
                    );
                    if added {
                        self.emit(DhtEvent::ProviderStored {
                            key,
                            provider: from,
                        });
                    }
                }
                Response::AddProvider
            }
            Request::Ping => Response::Ping,
        };
        self.send_response(from, id, response);
    }

    /// When a holder that just received a value replicates it: one
    /// interval from now, plus up to a tenth of an interval drawn at random.
    /// The `k` holders receive a value at nearly the same moment; without
    /// the jitter they would all replicate at once, before any of their
    /// copies could tell the others that it had been done.
    fn replication_time(&mut self, now: Instant) -> Instant {
        let interval = self.config.record_replication_interval;
        if interval == Duration::ZERO {
            return Instant::MAX;
        }
        let jitter = uniform_below(&mut self.rng, interval.as_nanos() / 10 + 1);
        now.saturating_add(interval)
            .saturating_add(Duration::from_nanos(jitter))
    }

    fn on_response(&mut self, now: Instant, from: NodeId, len: usize, id: u64, response: Response) {
        let Some(pending) = self.requests.take(id, from) else {
            self.outputs.push_back(Output::Drop {
                from,
                len,
                cause: DropCause::Expired,
            });
            return;
        };
        if response.kind() != pending.kind {
            self.outputs.push_back(Output::Drop {
                from,
                len,
                cause: DropCause::Malformed,
            });
            return self.on_request_failed(now, pending);
        }
        match pending.purpose {
            Purpose::Ping => self.table.on_ping_answered(from),
            Purpose::Store(lookup) => {
                if let Some(q) = self.queries.iter_mut().find(|q| q.id == lookup) {
                    if let Phase::Storing {
                        outstanding,
                        stored,
                        ..
                    } = &mut q.phase
                    {
                        *outstanding -= 1;
                        *stored += 1;
                    }
                }
                self.advance(now, lookup);
            }
            Purpose::Lookup(lookup) => {
                let Some(qi) = self.queries.iter().position(|q| q.id == lookup) else {
                    return;
                };
                let own = self.id;
                let (closer, found) = match response {
                    Response::FindNode { closer } => (closer, None),
                    Response::GetValue { record, closer } => (closer, record.map(Found::Record)),
                    Response::GetProviders { providers, closer } => {
                        let found = (!providers.is_empty()).then_some(Found::Providers(providers));
                        (closer, found)
                    }
                    _ => (Vec::new(), None),
                };
                let q = &mut self.queries[qi];
                if !matches!(q.phase, Phase::Iterating) {
                    return;
                }
                if !q
                    .iter
                    .on_success(from, closer.into_iter().filter(|&n| n != own))
                {
                    return;
                }
                if let Some(found) = found {
                    let hops = q.iter.depth(from).unwrap_or(0);
                    let closest = q.iter.result();
                    let key = *q.iter.target();
                    match found {
                        Found::Record(r) => self.emit(DhtEvent::RecordFound {
                            lookup,
                            key,
                            value_size: r.value_size,
                            publisher: r.publisher.unwrap_or(from),
                            from,
                        }),
                        Found::Providers(providers) => self.emit(DhtEvent::ProvidersFound {
                            lookup,
                            key,
                            providers,
                        }),
                    }
                    return self.finish(now, qi, hops, true, closest);
                }
                self.advance(now, lookup);
            }
        }
    }

    /// A request failed: no answer in time, or a wrong one.
    fn on_request_failed(&mut self, now: Instant, pending: Pending) {
        match pending.purpose {
            Purpose::Ping => {
                let eviction = self.table.on_ping_timeout(pending.peer);
                self.report_eviction(eviction);
            }
            Purpose::Lookup(lookup) => {
                let eviction = self.table.on_failure(pending.peer);
                self.report_eviction(eviction);
                if let Some(q) = self.queries.iter_mut().find(|q| q.id == lookup) {
                    if matches!(q.phase, Phase::Iterating) {
                        q.iter.on_failure(pending.peer);
                        self.advance(now, lookup);
                    }
                }
            }
            Purpose::Store(lookup) => {
                let eviction = self.table.on_failure(pending.peer);
                self.report_eviction(eviction);
                if let Some(q) = self.queries.iter_mut().find(|q| q.id == lookup) {
                    if let Phase::Storing { outstanding, .. } = &mut q.phase {
                        *outstanding -= 1;
                    }
                }
                self.advance(now, lookup);
            }
        }
    }

    fn on_store_task(&mut self, now: Instant, task: StoreTask) {
        match task {
            StoreTask::RecordExpired { key } => self.emit(DhtEvent::RecordExpired { key }),
            StoreTask::ProviderExpired { .. } => {}
            StoreTask::Republish { key, record, ttl } => {
                if ttl_secs(ttl) == 0 {
                    return; // less than a second left: let it expire
                }
                let op = Op::PutValue {
                    value_size: record.value_size,
                    publisher: record.publisher,
                    expires: record.expires,
                };
                self.start_lookup(now, LookupKind::Republish, key, op);
            }
            StoreTask::Reprovide { key } => {
                self.start_lookup(now, LookupKind::Reprovide, key, Op::AddProvider);
            }
        }
    }
}

/// What a lookup's answer carried.
enum Found {
    Record(RecordRepr),
    Providers(Vec<NodeId>),
}

/// A TTL in whole seconds for the wire, saturating.
fn ttl_secs(ttl: Duration) -> u32 {
    u32::try_from(ttl.as_nanos() / 1_000_000_000).unwrap_or(u32::MAX)
}

impl Protocol for Dht {
    type Command = DhtCommand;
    type Event = DhtEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        let repr = match Repr::from_bytes(bytes) {
            Ok(repr) if from != self.id => repr,
            _ => {
                self.outputs.push_back(Output::Drop {
                    from,
                    len: bytes.len(),
                    cause: DropCause::Malformed,
                });
                return;
            }
        };
        // A PING only refreshes a sender already in the table. Inserting it
        // would, on a full bucket, ping that bucket's oldest entry, whose own
        // table may lack this node and ping again: a cascade that grew to
        // eight pings per lookup request in a 10,000-node network.
        if matches!(
            repr,
            Repr::Request {
                request: Request::Ping,
                ..
            }
        ) {
            if self.table.contains(from) {
                self.seen(now, from);
            }
        } else {
            self.seen(now, from);
        }
        match repr {
            Repr::Request { id, request } => self.answer(now, from, id, request),
            Repr::Response { id, response } => {
                self.on_response(now, from, bytes.len(), id, response)
            }
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: DhtCommand) {
        match cmd {
            DhtCommand::Bootstrap => self.bootstrap(now),
            DhtCommand::FindNode(key) => {
                self.start_lookup(now, LookupKind::FindNode, key, Op::FindNode)
            }
            DhtCommand::GetValue(key) => {
                self.start_lookup(now, LookupKind::GetValue, key, Op::GetValue)
            }
            DhtCommand::GetProviders(key) => {
                self.start_lookup(now, LookupKind::GetProviders, key, Op::GetProviders)
            }
            DhtCommand::PutValue { key, value_size } => {
                let ttl = self.config.record_ttl;
                self.store.put(
                    key,
                    StoredRecord {
                        value_size,
                        publisher: self.id,
                        expires: now.saturating_add(ttl),
                        republish_at: next_time(now, self.config.record_publication_interval),
                        original: true,
                    },
                );
                let op = Op::PutValue {
                    value_size,
                    publisher: self.id,
                    expires: now.saturating_add(ttl),
                };
                self.start_lookup(now, LookupKind::PutValue, key, op);
            }
            DhtCommand::AddProvider(key) => {
                self.store.add_provider(
                    key,
                    ProviderRecord {
                        provider: self.id,
                        expires: Instant::MAX,
                        republish_at: Some(next_time(
                            now,
                            self.config.provider_publication_interval,
                        )),
                    },
                    self.config.k,
                );
                self.start_lookup(now, LookupKind::AddProvider, key, Op::AddProvider);
            }
            DhtCommand::AddPeer(peer) => {
                if self.table.add(peer) == Insert::Added {
                    self.emit(DhtEvent::PeerAdded(peer));
                }
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.starting {
            self.starting = false;
            let interval = self.config.refresh_interval;
            if interval > Duration::ZERO {
                // First refresh in [interval/2, interval]: spread, not in step.
                let half = interval.as_nanos() / 2;
                let jitter = uniform_below(&mut self.rng, half + 1);
                self.next_refresh = now.saturating_add(Duration::from_nanos(half + jitter));
            }
            if self.config.bootstrap_on_start && !self.bootstrap.is_empty() {
                self.bootstrap(now);
            }
        }
        while let Some(pending) = self.requests.pop_expired(now) {
            self.on_request_failed(now, pending);
        }
        if self.next_refresh <= now {
            self.next_refresh = next_time(now, self.config.refresh_interval);
            self.refresh(now);
        }
        while let Some(task) = self.store.poll(now, &self.config) {
            self.on_store_task(now, task);
        }
    }

    fn poll_output(&mut self) -> Option<Output<DhtEvent>> {
        let output = self.outputs.pop_front();
        if output.is_none() && self.outputs.capacity() > 16 {
            // Release a burst's buffer: idle nodes hold no spare memory.
            self.outputs = VecDeque::new();
        }
        output
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.starting {
            return Some(Instant::ZERO);
        }
        [
            self.requests.next_deadline(),
            Some(self.next_refresh).filter(|&t| t != Instant::MAX),
            self.store.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
