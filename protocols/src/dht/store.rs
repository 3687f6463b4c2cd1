//! The records a node holds: values (PUT_VALUE) and provider records
//! (ADD_PROVIDER), each with an expiry and a republish time.
//!
//! Only sizes are stored: a value is an application payload of a given
//! length, and its bytes are generated (zeros) when it goes on the wire, so a
//! million nodes holding records cost memory for the bookkeeping only.
//!
//! The timers (see [`DhtConfig`] for the defaults):
//!
//! - a value expires `ttl` after it was published; the TTL travels with it
//!   (rust-libp2p's `ttl` field), so a copy replicated later expires at the
//!   same time as the first one;
//! - every holder replicates a value every `record_replication_interval`
//!   (the paper's hourly republish), with its remaining TTL; a holder that
//!   received the value again since its last replication waits a full
//!   interval from then (the paper's optimisation: one holder's
//!   republication spares the others theirs). The `k` holders receive a
//!   value at nearly the same moment, so the node adds a random jitter of up
//!   to a tenth of the interval to the time after a receipt (the paper
//!   relies on clocks that are not synchronised); otherwise they would all
//!   replicate at once, every hour;
//! - the original publisher republishes every `record_publication_interval`
//!   with a fresh TTL, which keeps the value alive as long as it lives;
//! - a provider record expires `provider_record_ttl` after it was received;
//!   holders do not replicate provider records, the provider itself
//!   re-announces every `provider_publication_interval`.
//!
//! [`RecordStore::poll`] hands out what is due, one task at a time.
//!
//! # Implementation notes
//!
//! - One value per key: a later PUT_VALUE replaces the size and publisher and
//!   keeps the later expiry (there is no validator to pick the "best"
//!   record, so the spec's entry correction does not apply).
//! - Provider records per key are capped at `k`; beyond that the one that
//!   expires first gives way.
//! - The store's next deadline is cached and recomputed after each change
//!   (a scan of the node's records, which are few per node).

use std::collections::BTreeMap;

use sim_core::{Duration, Instant, NodeId};

use super::config::DhtConfig;
use super::key::Key;

/// A value held by a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// The value's length in bytes.
    pub value_size: u32,
    /// The node that published it.
    pub publisher: NodeId,
    /// When it expires.
    pub expires: Instant,
    /// When this node republishes (or replicates) it next.
    pub republish_at: Instant,
    /// Whether this node is its original publisher (republishes with a
    /// fresh TTL) rather than a holder (replicates with the remaining TTL).
    pub original: bool,
}

/// A provider of a key, as a node remembers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProviderRecord {
    /// The providing node.
    pub provider: NodeId,
    /// When the record expires ([`Instant::MAX`] for the node's own).
    pub expires: Instant,
    /// When the node re-announces it, if it is the node's own.
    pub republish_at: Option<Instant>,
}

/// Something the store wants done, from [`RecordStore::poll`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreTask {
    /// A value expired and was removed.
    RecordExpired {
        /// Its key.
        key: Key,
    },
    /// A provider record expired and was removed.
    ProviderExpired {
        /// Its key.
        key: Key,
        /// The provider it named.
        provider: NodeId,
    },
    /// A value must be stored again at the `k` closest nodes.
    Republish {
        /// Its key.
        key: Key,
        /// The record as held (its `republish_at` already moved on).
        record: StoredRecord,
        /// The TTL to send: the remaining one for a holder, a fresh one for
        /// the original publisher.
        ttl: Duration,
    },
    /// This node's provider record for `key` must be announced again.
    Reprovide {
        /// The key provided.
        key: Key,
    },
}

/// A node's values and provider records. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct RecordStore {
    records: BTreeMap<Key, StoredRecord>,
    providers: BTreeMap<Key, Vec<ProviderRecord>>,
    next_deadline: Option<Instant>,
}

impl RecordStore {
    /// An empty store.
    pub fn new() -> Self {
        RecordStore::default()
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no value and no provider record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.providers.is_empty()
    }

    /// Every value held, by key.
    pub fn records(&self) -> impl Iterator<Item = (&Key, &StoredRecord)> {
        self.records.iter()
    }

    /// The value under `key`, if held and not expired at `now`.
    pub fn get(&self, key: &Key, now: Instant) -> Option<&StoredRecord> {
        self.records.get(key).filter(|r| r.expires > now)
    }

    /// Stores a value. If one is held already, the new size and publisher
    /// win, the later expiry is kept, and the republish time restarts (a
    /// fresh copy means a holder nearby just republished it). Returns
    /// whether the key was new.
    pub fn put(&mut self, key: Key, record: StoredRecord) -> bool {
        let new = match self.records.get_mut(&key) {
            Some(held) => {
                *held = StoredRecord {
                    expires: held.expires.max(record.expires),
                    original: held.original || record.original,
                    republish_at: if held.original && !record.original {
                        held.republish_at
                    } else {
                        record.republish_at
                    },
                    ..record
                };
                false
            }
            None => {
                self.records.insert(key, record);
                true
            }
        };
        self.update_deadline();
        new
    }

    /// The providers of `key` not expired at `now`, at most `n`, in the
    /// order they were added.
    pub fn providers(&self, key: &Key, now: Instant, n: usize) -> Vec<NodeId> {
        self.providers.get(key).map_or(Vec::new(), |ps| {
            ps.iter()
                .filter(|p| p.expires > now)
                .take(n)
                .map(|p| p.provider)
                .collect()
        })
    }

    /// Adds or renews a provider record for `key`, keeping at most `cap`
    /// per key. Returns whether the provider was new for the key.
    pub fn add_provider(&mut self, key: Key, record: ProviderRecord, cap: usize) -> bool {
        let list = self.providers.entry(key).or_default();
        let new = match list.iter_mut().find(|p| p.provider == record.provider) {
            Some(held) => {
                held.expires = held.expires.max(record.expires);
                held.republish_at = held.republish_at.or(record.republish_at);
                false
            }
            None => {
                if list.len() >= cap.max(1) {
                    let (i, _) = list
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, p)| p.expires)
                        .expect("the list is full, so not empty");
                    list.remove(i);
                }
                list.push(record);
                true
            }
        };
        self.update_deadline();
        new
    }

    /// The earliest expiry or republish time.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_deadline
    }

    /// The next task due at `now`, if any: expiries first, then
    /// republications (whose next time it moves on by the configured
    /// interval). Call until it returns `None`.
    pub fn poll(&mut self, now: Instant, config: &DhtConfig) -> Option<StoreTask> {
        if self.next_deadline.is_none_or(|d| d > now) {
            return None;
        }
        let task = self.take_due(now, config);
        self.update_deadline();
        task
    }

    fn take_due(&mut self, now: Instant, config: &DhtConfig) -> Option<StoreTask> {
        if let Some(key) = self
            .records
            .iter()
            .find(|(_, r)| r.expires <= now)
            .map(|(k, _)| *k)
        {
            self.records.remove(&key);
            return Some(StoreTask::RecordExpired { key });
        }
        for (key, list) in &mut self.providers {
            if let Some(i) = list.iter().position(|p| p.expires <= now) {
                let key = *key;
                let provider = list.remove(i).provider;
                if list.is_empty() {
                    self.providers.remove(&key);
                }
                return Some(StoreTask::ProviderExpired { key, provider });
            }
        }
        if let Some((key, record)) = self.records.iter_mut().find(|(_, r)| r.republish_at <= now) {
            let (interval, ttl) = if record.original {
                (config.record_publication_interval, config.record_ttl)
            } else {
                (
                    config.record_replication_interval,
                    record.expires.saturating_duration_since(now),
                )
            };
            record.republish_at = next_time(now, interval);
            if record.original {
                record.expires = now.saturating_add(ttl);
            }
            return Some(StoreTask::Republish {
                key: *key,
                record: *record,
                ttl,
            });
        }
        for (key, list) in &mut self.providers {
            for p in list.iter_mut() {
                if p.republish_at.is_some_and(|t| t <= now) {
                    p.republish_at = Some(next_time(now, config.provider_publication_interval));
                    return Some(StoreTask::Reprovide { key: *key });
                }
            }
        }
        None
    }

    fn update_deadline(&mut self) {
        let records = self.records.values().map(|r| r.expires.min(r.republish_at));
        let providers = self
            .providers
            .values()
            .flatten()
            .map(|p| match p.republish_at {
                Some(t) => p.expires.min(t),
                None => p.expires,
            });
        self.next_deadline = records
            .chain(providers)
            .filter(|&t| t != Instant::MAX)
            .min();
    }
}

/// `now + interval`, or never for a zero interval (the task is off).
pub(crate) fn next_time(now: Instant, interval: Duration) -> Instant {
    if interval == Duration::ZERO {
        Instant::MAX
    } else {
        now.saturating_add(interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    fn config() -> DhtConfig {
        DhtConfig {
            record_ttl: Duration::from_secs(100),
            record_replication_interval: Duration::from_secs(30),
            record_publication_interval: Duration::from_secs(80),
            provider_record_ttl: Duration::from_secs(50),
            provider_publication_interval: Duration::from_secs(40),
            ..DhtConfig::default()
        }
    }

    fn held(expires: u64, republish: u64) -> StoredRecord {
        StoredRecord {
            value_size: 10,
            publisher: NodeId(1),
            expires: at(expires),
            republish_at: at(republish),
            original: false,
        }
    }

    #[test]
    fn a_holder_replicates_with_the_remaining_ttl_then_the_value_expires() {
        let config = config();
        let key = Key::for_name(b"k");
        let mut store = RecordStore::new();
        assert!(store.put(key, held(100, 30)));
        assert_eq!(store.next_deadline(), Some(at(30)));
        assert_eq!(store.poll(at(29), &config), None);
        let Some(StoreTask::Republish { ttl, record, .. }) = store.poll(at(30), &config) else {
            panic!("a replication is due");
        };
        assert_eq!(ttl, Duration::from_secs(70), "the remaining TTL");
        assert_eq!(record.republish_at, at(60));
        assert_eq!(store.poll(at(30), &config), None);
        // A copy arriving at 50 restarts the replication clock.
        assert!(!store.put(key, held(100, 80)));
        assert_eq!(store.next_deadline(), Some(at(80)));
        assert!(store.get(&key, at(99)).is_some());
        assert!(
            store.get(&key, at(100)).is_none(),
            "expired, even before the poll"
        );
        assert_eq!(
            store.poll(at(100), &config),
            Some(StoreTask::RecordExpired { key })
        );
        assert!(store.is_empty());
        assert_eq!(store.next_deadline(), None);
    }

    #[test]
    fn the_publisher_renews_its_ttl_when_it_republishes() {
        let config = config();
        let key = Key::for_name(b"k");
        let mut store = RecordStore::new();
        store.put(
            key,
            StoredRecord {
                original: true,
                republish_at: at(80),
                ..held(100, 80)
            },
        );
        let Some(StoreTask::Republish { ttl, record, .. }) = store.poll(at(80), &config) else {
            panic!("a republication is due");
        };
        assert_eq!(ttl, Duration::from_secs(100));
        assert_eq!((record.expires, record.republish_at), (at(180), at(160)));
        // A replica coming back from a holder keeps it the original.
        store.put(key, held(120, 150));
        let record = store.get(&key, at(100)).unwrap();
        assert!(record.original);
        assert_eq!((record.expires, record.republish_at), (at(180), at(160)));
    }

    #[test]
    fn provider_records_expire_and_own_ones_are_reprovided() {
        let config = config();
        let key = Key::for_name(b"p");
        let mut store = RecordStore::new();
        let remote = ProviderRecord {
            provider: NodeId(2),
            expires: at(50),
            republish_at: None,
        };
        let own = ProviderRecord {
            provider: NodeId(9),
            expires: Instant::MAX,
            republish_at: Some(at(40)),
        };
        assert!(store.add_provider(key, remote, 20));
        assert!(store.add_provider(key, own, 20));
        assert!(!store.add_provider(key, remote, 20));
        assert_eq!(store.providers(&key, at(0), 20), [NodeId(2), NodeId(9)]);
        assert_eq!(
            store.poll(at(40), &config),
            Some(StoreTask::Reprovide { key })
        );
        assert_eq!(
            store.poll(at(50), &config),
            Some(StoreTask::ProviderExpired {
                key,
                provider: NodeId(2)
            })
        );
        assert_eq!(store.providers(&key, at(50), 20), [NodeId(9)]);
        assert_eq!(store.next_deadline(), Some(at(80)));
    }

    #[test]
    fn providers_per_key_are_capped() {
        let key = Key::for_name(b"p");
        let mut store = RecordStore::new();
        for i in 0..5u32 {
            store.add_provider(
                key,
                ProviderRecord {
                    provider: NodeId(i),
                    expires: at(u64::from(10 + i)),
                    republish_at: None,
                },
                3,
            );
        }
        assert_eq!(
            store.providers(&key, at(0), 10),
            [NodeId(2), NodeId(3), NodeId(4)]
        );
    }
}
