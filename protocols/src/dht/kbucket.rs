//! The routing table: k-buckets in least-recently-seen order, each with a
//! small replacement cache.
//!
//! A [`RoutingTable`] sorts the peers a node knows by the bucket of their
//! distance from the local key (see [`super::key`]). Each [`KBucket`] holds
//! at most `k` peers, least recently seen first, and behind them a bounded
//! replacement cache of peers that were seen while the bucket was full, also
//! least recently seen first.
//!
//! The update rule is the paper's ([`RoutingTable::on_seen`], called for
//! every message a node receives):
//!
//! - a peer already in its bucket moves to the tail (most recently seen);
//! - a new peer is appended if the bucket has room;
//! - otherwise it goes to the replacement cache, and the bucket's least
//!   recently seen entry is pinged (unless a ping is already out). If the
//!   ping is answered, that entry moves to the tail and the newcomer waits
//!   in the cache ([`RoutingTable::on_ping_answered`]); if it times out, the
//!   entry is evicted and the most recently seen replacement takes its place
//!   ([`RoutingTable::on_ping_timeout`]).
//!
//! Long-lived peers therefore stay, which is Kademlia's defence against
//! flushing the table with newcomers.
//!
//! # Implementation notes
//!
//! - **Compact entries.** An [`Entry`] is the peer's [`NodeId`] and the top
//!   64 bits of its key: 12 bytes instead of 36 with the whole key. Bucket
//!   indices and distance orderings are decided on those 64 bits; only when
//!   they tie (two keys sharing their first 64 bits, which for a million
//!   nodes happens with probability about 2⁻²⁴) is the full key recomputed
//!   with SHA-256. The results are exact.
//! - **One allocation per bucket.** A bucket's entries and its replacement
//!   cache share one `Vec` (`[..len]` entries, `[len..]` replacements), grown
//!   in small exact steps (to exactly `k` for the entries), so a bucket is
//!   32 bytes plus 12 per peer and carries little spare capacity.
//! - **Lazily unfolded.** Buckets exist from 255 (the farthest) down to the
//!   lowest that ever held a peer; for N nodes that is about log₂ N + 3 of
//!   them instead of 256.
//! - **No timestamps.** Least-recently-seen order is the position in the
//!   bucket, so entries need no clock. A ping that times out evicts its peer
//!   only if the peer is still the bucket's oldest (not seen since).
//! - **Failed requests.** A peer that does not answer a lookup's request is
//!   evicted only if a replacement is waiting; with none, it stays (the
//!   paper's advice: a node whose own link is down should not empty its
//!   table). rust-libp2p instead drops peers whose connection fails.
//! - **Replacement cache size** is a parameter; the paper leaves it open and
//!   rust-libp2p keeps a single pending entry per bucket.

use sim_core::{NodeId, SimRng};

use super::key::{Distance, Key};

/// A peer in the routing table: its address and the top 64 bits of its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    node: NodeId,
    // The key's first 8 bytes; bytes (not a u64) keep the entry at 12 bytes.
    prefix: [u8; 8],
}

impl Entry {
    /// The entry for `node`, hashing its key once.
    pub fn new(node: NodeId) -> Entry {
        let key = Key::for_node(node);
        let mut prefix = [0; 8];
        prefix.copy_from_slice(&key.as_bytes()[..8]);
        Entry { node, prefix }
    }

    /// The peer's address.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The peer's full key (recomputed).
    pub fn key(&self) -> Key {
        Key::for_node(self.node)
    }

    /// The top 64 bits of the peer's key.
    pub fn prefix(&self) -> u64 {
        u64::from_be_bytes(self.prefix)
    }
}

/// One k-bucket: up to `k` peers, least recently seen first, and a
/// replacement cache behind them.
#[derive(Clone, Debug, Default)]
pub struct KBucket {
    /// `[..len]` the bucket's entries, `[len..]` the replacement cache; both
    /// least recently seen first.
    slots: Vec<Entry>,
    len: u8,
    pinging: bool,
}

impl KBucket {
    /// The bucket's peers, least recently seen first.
    pub fn entries(&self) -> &[Entry] {
        &self.slots[..usize::from(self.len)]
    }

    /// Peers waiting for a place, least recently seen first.
    pub fn replacements(&self) -> &[Entry] {
        &self.slots[usize::from(self.len)..]
    }

    /// Whether a ping to the oldest entry is in flight.
    pub fn is_pinging(&self) -> bool {
        self.pinging
    }

    /// Bytes of heap the bucket holds.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Entry>()
    }

    fn position(&self, node: NodeId) -> Option<usize> {
        self.slots.iter().position(|e| e.node == node)
    }

    /// Makes room for one more slot: entries grow in exact steps of 2, 4,
    /// 8, … up to `k`, so a full bucket holds no spare capacity; the
    /// replacement cache behind them grows one slot at a time.
    fn reserve_one(&mut self, k: usize) {
        let len = self.slots.len();
        if len == self.slots.capacity() {
            let target = if len < k {
                (len * 2).clamp(2, k)
            } else {
                len + 1
            };
            self.slots.reserve_exact(target - len);
        }
    }

    /// Removes entry `i` (< len) and, if a replacement waits, promotes the
    /// most recently seen one to the tail. Returns the promoted peer.
    fn evict(&mut self, i: usize) -> Option<NodeId> {
        self.slots.remove(i);
        self.len -= 1;
        if self.slots.len() > usize::from(self.len) {
            // The newest replacement is the last slot: it becomes the
            // newest entry, at position `len`.
            let promoted = self.slots.pop().expect("a replacement exists");
            self.slots.insert(usize::from(self.len), promoted);
            self.len += 1;
            Some(promoted.node)
        } else {
            None
        }
    }
}

/// What [`RoutingTable::on_seen`] or [`RoutingTable::add`] did with a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The peer was in its bucket and is now its most recently seen entry.
    Refreshed,
    /// The peer was added to its bucket.
    Added,
    /// The bucket is full: the peer waits in the replacement cache (or was
    /// dropped if the cache has size 0). `ping` is the bucket's oldest
    /// entry, to be pinged now; `None` if a ping is already out (or the
    /// caller asked for no ping).
    Pending {
        /// The oldest entry, which the caller must ping.
        ping: Option<NodeId>,
    },
    /// The local node itself: never in its own table.
    Ignored,
}

/// What became of a bucket when a peer was evicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eviction {
    /// The peer removed from the table.
    pub evicted: NodeId,
    /// The replacement that took its place, if one was waiting.
    pub promoted: Option<NodeId>,
}

/// The number of bucket indices.
const BUCKETS: usize = 256;

/// A node's k-buckets. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct RoutingTable {
    local: NodeId,
    local_key: Key,
    /// `buckets[j]` is bucket `255 - j`; unfolded lazily.
    buckets: Vec<KBucket>,
    k: u8,
    replacement_cache: u8,
    /// Bit `i` set: bucket `i` was the target of a lookup since the last
    /// [`RoutingTable::take_stale_buckets`].
    looked_up: [u64; 4],
}

impl RoutingTable {
    /// An empty table for `local`, with buckets of `k` (1..=255) peers and
    /// replacement caches of `replacement_cache` (0..=255) peers; values out
    /// of range are clamped.
    pub fn new(local: NodeId, k: usize, replacement_cache: usize) -> Self {
        RoutingTable {
            local,
            local_key: Key::for_node(local),
            buckets: Vec::new(),
            k: k.clamp(1, 255) as u8,
            replacement_cache: replacement_cache.min(255) as u8,
            looked_up: [0; 4],
        }
    }

    /// The local node.
    pub fn local(&self) -> NodeId {
        self.local
    }

    /// The local node's key.
    pub fn local_key(&self) -> &Key {
        &self.local_key
    }

    /// The bucket size `k`.
    pub fn k(&self) -> usize {
        usize::from(self.k)
    }

    /// The number of peers in the table (not counting replacements).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| usize::from(b.len)).sum()
    }

    /// Whether the table holds no peer.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.len == 0)
    }

    /// Every peer in the table: farthest bucket first, each bucket least
    /// recently seen first.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.buckets
            .iter()
            .flat_map(|b| b.entries().iter().map(|e| e.node))
    }

    /// Bucket `index`, if it has been unfolded.
    pub fn bucket(&self, index: u8) -> Option<&KBucket> {
        self.buckets.get(BUCKETS - 1 - usize::from(index))
    }

    /// The unfolded buckets with their indices, farthest first.
    pub fn buckets(&self) -> impl Iterator<Item = (u8, &KBucket)> {
        self.buckets
            .iter()
            .enumerate()
            .map(|(j, b)| ((BUCKETS - 1 - j) as u8, b))
    }

    /// Bytes of heap the table holds.
    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<KBucket>()
            + self.buckets.iter().map(KBucket::heap_bytes).sum::<usize>()
    }

    /// The bucket `node` belongs in, or `None` for the local node.
    pub fn bucket_index(&self, node: NodeId) -> Option<u8> {
        self.index_of(&Entry::new(node))
    }

    /// Whether `node` is in the table (not counting replacements).
    pub fn contains(&self, node: NodeId) -> bool {
        self.locate(node)
            .is_some_and(|(j, i)| i < usize::from(self.buckets[j].len))
    }

    /// A peer was heard from (any valid message): the paper's update rule.
    /// A `Pending { ping: Some(oldest) }` answer asks the caller to ping
    /// `oldest` and to report the outcome with [`on_ping_answered`] or
    /// [`on_ping_timeout`].
    ///
    /// [`on_ping_answered`]: RoutingTable::on_ping_answered
    /// [`on_ping_timeout`]: RoutingTable::on_ping_timeout
    pub fn on_seen(&mut self, node: NodeId) -> Insert {
        self.insert(node, true)
    }

    /// Adds a peer known by other means (a warm start, a layer above) with
    /// no message: like [`on_seen`](RoutingTable::on_seen), but a full
    /// bucket never asks for a ping; the peer only waits in the
    /// replacement cache.
    pub fn add(&mut self, node: NodeId) -> Insert {
        self.insert(node, false)
    }

    fn insert(&mut self, node: NodeId, may_ping: bool) -> Insert {
        let entry = Entry::new(node);
        let Some(index) = self.index_of(&entry) else {
            return Insert::Ignored;
        };
        let (k, cache) = (usize::from(self.k), usize::from(self.replacement_cache));
        let bucket = self.unfold(index);
        let len = usize::from(bucket.len);
        match bucket.position(node) {
            Some(i) if i < len => {
                bucket.slots[i..len].rotate_left(1);
                return Insert::Refreshed;
            }
            Some(i) => {
                // Seen again while waiting: now the newest replacement.
                let n = bucket.slots.len();
                bucket.slots[i..n].rotate_left(1);
            }
            None if len < k => {
                bucket.reserve_one(k);
                bucket.slots.insert(len, entry);
                bucket.len += 1;
                return Insert::Added;
            }
            None => {
                if cache == 0 {
                    // Nowhere to wait: the newcomer is dropped.
                } else {
                    if bucket.slots.len() - len >= cache {
                        bucket.slots.remove(len); // the oldest replacement
                    }
                    bucket.reserve_one(k);
                    bucket.slots.push(entry);
                }
            }
        }
        let ping = (may_ping && !bucket.pinging).then(|| {
            bucket.pinging = true;
            bucket.slots[0].node
        });
        Insert::Pending { ping }
    }

    /// The ping to `node` was answered. Call after [`on_seen`] for the
    /// answer (which moved `node` to the tail); it ends the bucket's ping.
    ///
    /// [`on_seen`]: RoutingTable::on_seen
    pub fn on_ping_answered(&mut self, node: NodeId) {
        if let Some((j, _)) = self.locate_bucket(node) {
            self.buckets[j].pinging = false;
        }
    }

    /// The ping to `node` timed out: if `node` is still its bucket's oldest
    /// entry, it is evicted and the newest replacement promoted.
    pub fn on_ping_timeout(&mut self, node: NodeId) -> Option<Eviction> {
        let (j, _) = self.locate_bucket(node)?;
        let bucket = &mut self.buckets[j];
        bucket.pinging = false;
        if bucket.len == 0 || bucket.slots[0].node != node {
            return None;
        }
        let promoted = bucket.evict(0);
        Some(Eviction {
            evicted: node,
            promoted,
        })
    }

    /// A request to `node` failed (timed out): it is evicted if a
    /// replacement is waiting to take its place, and kept otherwise.
    pub fn on_failure(&mut self, node: NodeId) -> Option<Eviction> {
        let (j, i) = self.locate(node)?;
        let bucket = &mut self.buckets[j];
        let len = usize::from(bucket.len);
        if i >= len || bucket.slots.len() == len {
            return None;
        }
        let promoted = bucket.evict(i);
        Some(Eviction {
            evicted: node,
            promoted,
        })
    }

    /// Removes `node` from the table or its replacement cache; a removed
    /// entry's place goes to the newest replacement.
    pub fn remove(&mut self, node: NodeId) -> Option<Eviction> {
        let (j, i) = self.locate(node)?;
        let bucket = &mut self.buckets[j];
        if i >= usize::from(bucket.len) {
            bucket.slots.remove(i);
            return None;
        }
        let promoted = bucket.evict(i);
        Some(Eviction {
            evicted: node,
            promoted,
        })
    }

    /// Up to `n` peers of the table closest to `target`, closest first,
    /// leaving out `exclude`.
    pub fn closest(&self, target: &Key, n: usize, exclude: Option<NodeId>) -> Vec<NodeId> {
        let t = target.prefix();
        let mut all: Vec<(u64, Entry)> = self
            .buckets
            .iter()
            .flat_map(|b| b.entries())
            .filter(|e| Some(e.node) != exclude)
            .map(|e| (e.prefix() ^ t, *e))
            .collect();
        let by_distance = |a: &(u64, Entry), b: &(u64, Entry)| {
            a.0.cmp(&b.0).then_with(|| {
                // Equal top 64 bits: decide on the full keys (rare).
                a.1.key().distance(target).cmp(&b.1.key().distance(target))
            })
        };
        if all.len() > n && n > 0 {
            all.select_nth_unstable_by(n - 1, by_distance);
        }
        all.truncate(n);
        all.sort_unstable_by(by_distance);
        all.into_iter().map(|(_, e)| e.node).collect()
    }

    /// The index of the lowest (closest) non-empty bucket.
    pub fn closest_bucket(&self) -> Option<u8> {
        self.buckets()
            .filter(|(_, b)| b.len > 0)
            .map(|(i, _)| i)
            .last()
    }

    /// Notes that a lookup for `target` ran, so its bucket needs no refresh
    /// this period.
    pub fn mark_looked_up(&mut self, target: &Key) {
        if let Some(i) = self.local_key.distance(target).bucket_index() {
            self.looked_up[usize::from(i) / 64] |= 1 << (i % 64);
        }
    }

    /// The buckets to refresh now, farthest first: every bucket from 255
    /// down to the closest non-empty one that no lookup targeted since the
    /// last call. Clears the record of lookups.
    pub fn take_stale_buckets(&mut self) -> Vec<u8> {
        let lowest = self.closest_bucket().unwrap_or(u8::MAX);
        let looked_up = std::mem::take(&mut self.looked_up);
        (lowest..=u8::MAX)
            .rev()
            .filter(|&i| looked_up[usize::from(i) / 64] & (1 << (i % 64)) == 0)
            .collect()
    }

    /// Drops the spare capacity of every bucket (after a warm start, whose
    /// partly filled buckets would otherwise keep up to half their slots
    /// empty).
    pub fn shrink_to_fit(&mut self) {
        self.buckets.shrink_to_fit();
        for bucket in &mut self.buckets {
            bucket.slots.shrink_to_fit();
        }
    }

    /// Forgets which buckets lookups targeted.
    pub fn clear_looked_up(&mut self) {
        self.looked_up = [0; 4];
    }

    fn index_of(&self, entry: &Entry) -> Option<u8> {
        let d = entry.prefix() ^ self.local_key.prefix();
        if d != 0 {
            Some((255 - d.leading_zeros()) as u8)
        } else {
            self.local_key.distance(&entry.key()).bucket_index()
        }
    }

    /// The bucket `index`, unfolding the table down to it.
    fn unfold(&mut self, index: u8) -> &mut KBucket {
        let j = BUCKETS - 1 - usize::from(index);
        if self.buckets.len() <= j {
            self.buckets.reserve_exact(j + 1 - self.buckets.len());
            self.buckets.resize_with(j + 1, KBucket::default);
        }
        &mut self.buckets[j]
    }

    /// (bucket position, slot) of `node`, in the bucket or its cache.
    fn locate(&self, node: NodeId) -> Option<(usize, usize)> {
        let (j, bucket) = self.locate_bucket(node)?;
        Some((j, bucket.position(node)?))
    }

    /// The unfolded bucket `node` would belong in.
    fn locate_bucket(&self, node: NodeId) -> Option<(usize, &KBucket)> {
        let index = self.bucket_index(node)?;
        let j = BUCKETS - 1 - usize::from(index);
        self.buckets.get(j).map(|b| (j, b))
    }
}

/// Builds fully populated routing tables for a whole network without a
/// message: a "warm start".
///
/// The real protocol fills tables by bootstrapping and by the traffic of
/// lookups, which for 10⁶ nodes would take more simulated (and real) time
/// than a scenario about lookups wants to spend. A warm start gives each
/// node, for every bucket, up to `k` peers drawn uniformly from the nodes
/// that belong in it — the table a long-running node converges to. Feed the
/// result to [`Dht::with_peers`](super::Dht::with_peers).
///
/// The nodes' keys are sorted once; the nodes of one bucket of `x` (those
/// sharing the first `255 - i` bits with `x` and differing in the next) are a
/// contiguous range of that order, found by binary search.
#[derive(Clone, Debug)]
pub struct WarmStart {
    sorted: Vec<(Key, NodeId)>,
}

impl WarmStart {
    /// The key space of `nodes`.
    pub fn new(nodes: impl IntoIterator<Item = NodeId>) -> Self {
        let mut sorted: Vec<(Key, NodeId)> =
            nodes.into_iter().map(|n| (Key::for_node(n), n)).collect();
        sorted.sort_unstable();
        WarmStart { sorted }
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `n` nodes closest to `target`, closest first (exact; for tests
    /// and for judging a lookup's answer).
    pub fn closest(&self, target: &Key, n: usize) -> Vec<NodeId> {
        let mut all: Vec<(Distance, NodeId)> = self
            .sorted
            .iter()
            .map(|(k, id)| (k.distance(target), *id))
            .collect();
        if all.len() > n && n > 0 {
            all.select_nth_unstable(n - 1);
        }
        all.truncate(n);
        all.sort_unstable();
        all.into_iter().map(|(_, id)| id).collect()
    }

    /// A warm table for `node`: up to `k` peers per bucket, drawn uniformly
    /// (without replacement) from the nodes that belong in that bucket,
    /// farthest bucket first.
    pub fn peers_for(&self, node: NodeId, k: usize, rng: &mut SimRng) -> Vec<NodeId> {
        let local = Key::for_node(node);
        let mut peers = Vec::new();
        for bucket in (0..=u8::MAX).rev() {
            let (lo, hi) = self.bucket_range(&local, bucket);
            let m = hi - lo;
            if m <= k {
                peers.extend(self.sorted[lo..hi].iter().map(|&(_, id)| id));
            } else {
                // Floyd's algorithm: k distinct indices in 0..m.
                let mut chosen: Vec<usize> = Vec::with_capacity(k);
                for j in m - k..m {
                    let t = sim_core::dist::uniform_below(rng, j as u64 + 1) as usize;
                    chosen.push(if chosen.contains(&t) { j } else { t });
                }
                chosen.sort_unstable();
                peers.extend(chosen.into_iter().map(|i| self.sorted[lo + i].1));
            }
            // The closer buckets hold the keys sharing one more bit with
            // `local`; once only `local` itself is left, they are empty.
            let (nlo, nhi) = self.prefix_range(&local, 256 - usize::from(bucket));
            if nhi - nlo <= 1 {
                break;
            }
        }
        peers
    }

    /// The range of sorted keys that share their first `bits` bits with
    /// `local`.
    fn prefix_range(&self, local: &Key, bits: usize) -> (usize, usize) {
        let lo = self
            .sorted
            .partition_point(|(k, _)| cmp_prefix(k, local, bits).is_lt());
        let hi = self
            .sorted
            .partition_point(|(k, _)| cmp_prefix(k, local, bits).is_le());
        (lo, hi)
    }

    /// The range of sorted keys in bucket `bucket` of `local`: the first
    /// `255 - bucket` bits equal, the next one different.
    fn bucket_range(&self, local: &Key, bucket: u8) -> (usize, usize) {
        let bits = 256 - usize::from(bucket); // shared bits, plus the flipped one
        let flip = bits - 1;
        let mut other = *local.as_bytes();
        other[flip / 8] ^= 0x80 >> (flip % 8);
        self.prefix_range(&Key::from_bytes(other), bits)
    }
}

/// Compares the first `bits` bits of two keys.
fn cmp_prefix(a: &Key, b: &Key, bits: usize) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let whole = bits / 8;
    a[..whole].cmp(&b[..whole]).then_with(|| {
        let rest = bits % 8;
        if rest == 0 {
            return std::cmp::Ordering::Equal;
        }
        let mask = 0xffu8 << (8 - rest);
        (a[whole] & mask).cmp(&(b[whole] & mask))
    })
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    const LOCAL: NodeId = NodeId(0);

    /// `n` nodes that all fall in bucket `index` of `LOCAL`.
    fn in_bucket(index: u8, n: usize) -> Vec<NodeId> {
        let table = RoutingTable::new(LOCAL, 20, 0);
        (1..)
            .map(NodeId)
            .filter(|&p| table.bucket_index(p) == Some(index))
            .take(n)
            .collect()
    }

    fn entries(table: &RoutingTable, index: u8) -> Vec<NodeId> {
        table.bucket(index).map_or(Vec::new(), |b| {
            b.entries().iter().map(Entry::node).collect()
        })
    }

    fn replacements(table: &RoutingTable, index: u8) -> Vec<NodeId> {
        table.bucket(index).map_or(Vec::new(), |b| {
            b.replacements().iter().map(Entry::node).collect()
        })
    }

    #[test]
    fn entries_are_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 12);
        assert_eq!(std::mem::size_of::<KBucket>(), 32);
    }

    #[test]
    fn re_seen_peers_move_to_the_tail() {
        let peers = in_bucket(255, 3);
        let mut table = RoutingTable::new(LOCAL, 4, 2);
        for &p in &peers {
            assert_eq!(table.on_seen(p), Insert::Added);
        }
        assert_eq!(entries(&table, 255), peers);
        assert_eq!(table.on_seen(peers[0]), Insert::Refreshed);
        assert_eq!(entries(&table, 255), [peers[1], peers[2], peers[0]]);
        assert_eq!(table.on_seen(peers[2]), Insert::Refreshed);
        assert_eq!(entries(&table, 255), [peers[1], peers[0], peers[2]]);
        assert_eq!(table.on_seen(LOCAL), Insert::Ignored);
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn a_full_bucket_pings_its_oldest_and_evicts_it_only_on_timeout() {
        let peers = in_bucket(255, 6);
        let mut table = RoutingTable::new(LOCAL, 3, 2);
        for &p in &peers[..3] {
            table.on_seen(p);
        }
        // A fourth peer: cached, and the oldest must be pinged.
        assert_eq!(
            table.on_seen(peers[3]),
            Insert::Pending {
                ping: Some(peers[0])
            }
        );
        assert!(table.bucket(255).unwrap().is_pinging());
        // While that ping is out, newcomers only wait.
        assert_eq!(table.on_seen(peers[4]), Insert::Pending { ping: None });
        assert_eq!(replacements(&table, 255), [peers[3], peers[4]]);

        // The oldest answers: it becomes the newest; nobody is evicted.
        assert_eq!(table.on_seen(peers[0]), Insert::Refreshed);
        table.on_ping_answered(peers[0]);
        assert_eq!(entries(&table, 255), [peers[1], peers[2], peers[0]]);
        assert_eq!(replacements(&table, 255), [peers[3], peers[4]]);
        assert!(!table.bucket(255).unwrap().is_pinging());

        // The next newcomer pings the new oldest, which does not answer:
        // it goes, and the newest replacement takes its place.
        assert_eq!(
            table.on_seen(peers[5]),
            Insert::Pending {
                ping: Some(peers[1])
            }
        );
        assert_eq!(replacements(&table, 255), [peers[4], peers[5]], "bounded");
        assert_eq!(
            table.on_ping_timeout(peers[1]),
            Some(Eviction {
                evicted: peers[1],
                promoted: Some(peers[5])
            })
        );
        assert_eq!(entries(&table, 255), [peers[2], peers[0], peers[5]]);
        assert_eq!(replacements(&table, 255), [peers[4]]);
    }

    #[test]
    fn a_ping_timeout_spares_a_peer_seen_since() {
        let peers = in_bucket(255, 4);
        let mut table = RoutingTable::new(LOCAL, 3, 2);
        for &p in &peers[..3] {
            table.on_seen(p);
        }
        table.on_seen(peers[3]);
        // The pinged peer sent something else before its ping timed out.
        table.on_seen(peers[0]);
        assert_eq!(table.on_ping_timeout(peers[0]), None);
        assert_eq!(entries(&table, 255), [peers[1], peers[2], peers[0]]);
    }

    #[test]
    fn a_cached_peer_seen_again_becomes_the_newest_replacement() {
        let peers = in_bucket(255, 5);
        let mut table = RoutingTable::new(LOCAL, 2, 3);
        for &p in &peers {
            table.on_seen(p);
        }
        assert_eq!(replacements(&table, 255), [peers[2], peers[3], peers[4]]);
        assert_eq!(table.on_seen(peers[2]), Insert::Pending { ping: None });
        assert_eq!(replacements(&table, 255), [peers[3], peers[4], peers[2]]);
        assert!(!table.contains(peers[2]));
    }

    #[test]
    fn failed_peers_are_replaced_only_when_a_replacement_waits() {
        let peers = in_bucket(254, 3);
        let mut table = RoutingTable::new(LOCAL, 2, 1);
        table.add(peers[0]);
        table.add(peers[1]);
        assert_eq!(table.on_failure(peers[0]), None, "no replacement: kept");
        assert_eq!(table.add(peers[2]), Insert::Pending { ping: None });
        assert_eq!(
            table.on_failure(peers[0]),
            Some(Eviction {
                evicted: peers[0],
                promoted: Some(peers[2])
            })
        );
        assert_eq!(entries(&table, 254), [peers[1], peers[2]]);
        assert!(!table.bucket(254).unwrap().is_pinging(), "add never pings");
    }

    #[test]
    fn full_buckets_hold_no_spare_capacity() {
        let mut table = RoutingTable::new(LOCAL, 20, 0);
        for p in in_bucket(255, 20) {
            table.add(p);
        }
        assert_eq!(table.bucket(255).unwrap().slots.capacity(), 20);
    }

    #[test]
    fn closest_is_sorted_by_xor_distance() {
        let mut table = RoutingTable::new(LOCAL, 20, 0);
        let nodes: Vec<NodeId> = (1..400).map(NodeId).collect();
        for &n in &nodes {
            table.add(n);
        }
        let target = Key::for_node(NodeId(1234));
        let closest = table.closest(&target, 10, Some(NodeId(5)));
        let mut expected: Vec<NodeId> = table.iter().filter(|&n| n != NodeId(5)).collect();
        expected.sort_by_key(|n| Key::for_node(*n).distance(&target));
        expected.truncate(10);
        assert_eq!(closest, expected);
        assert!(table.closest(&target, 0, None).is_empty());
    }

    #[test]
    fn stale_buckets_are_those_no_lookup_targeted() {
        let mut rng = SimRng::seed_from_u64(1);
        let mut table = RoutingTable::new(LOCAL, 20, 0);
        for p in in_bucket(253, 1) {
            table.add(p);
        }
        assert_eq!(table.closest_bucket(), Some(253));
        let target = table.local_key().random_in_bucket(254, &mut rng);
        table.mark_looked_up(&target);
        assert_eq!(table.take_stale_buckets(), [255, 253]);
        assert_eq!(table.take_stale_buckets(), [255, 254, 253]);
    }

    #[test]
    fn warm_start_fills_each_bucket_from_its_range() {
        let mut rng = SimRng::seed_from_u64(7);
        let nodes: Vec<NodeId> = (0..2000).map(NodeId).collect();
        let warm = WarmStart::new(nodes.iter().copied());
        for &node in &nodes[..20] {
            let peers = warm.peers_for(node, 20, &mut rng);
            let mut table = RoutingTable::new(node, 20, 0);
            for &p in &peers {
                assert_eq!(table.add(p), Insert::Added, "no duplicates, never full");
            }
            // Every bucket holds min(k, nodes in its range).
            for bucket in 0..=255u8 {
                let in_range = nodes
                    .iter()
                    .filter(|&&n| table.bucket_index(n) == Some(bucket))
                    .count();
                assert_eq!(
                    entries(&table, bucket).len(),
                    in_range.min(20),
                    "{node} b{bucket}"
                );
            }
            // So the table knows the true closest node.
            let own = Key::for_node(node);
            assert_eq!(table.closest(&own, 1, None), warm.closest(&own, 2)[1..]);
        }
    }
}
