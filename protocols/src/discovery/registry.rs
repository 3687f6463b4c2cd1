//! The registry's table: registrations by peer id, each alive until its
//! time to live runs out.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::{Duration, Instant, NodeId};

use super::api::RegisterRequest;

/// One registration.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The node registered (from the request's address).
    pub node: NodeId,
    /// The port registered.
    pub port: u16,
    /// What the peer offers.
    pub archetypes: Vec<String>,
    /// What the peer registered with.
    pub metadata: serde_json::Value,
    /// When it registered (a new registration under the same id replaces
    /// the old one and its time).
    pub registered_at: Instant,
    /// Its last register or heartbeat.
    pub last_seen: Instant,
    /// When it dies without another heartbeat: `last_seen + ttl`.
    pub expires: Instant,
}

impl Entry {
    /// Whether it is alive at `now`.
    pub fn is_alive(&self, now: Instant) -> bool {
        now < self.expires
    }

    /// Whether it offers `archetype` (every entry matches `None`).
    pub fn offers(&self, archetype: Option<&str>) -> bool {
        archetype.is_none_or(|a| self.archetypes.iter().any(|x| x == a))
    }
}

/// Registrations by peer id, with their expiry times.
///
/// The rule is one line: a registration last refreshed (registered or
/// heartbeaten) at `s` is alive at `t` exactly when `s <= t < s + ttl`.
/// Lookups apply it, so a dead registration is never returned even before
/// the server removes it, and a heartbeat cannot revive it.
/// The seeds' DynamoDB TTL deletes expired items lazily (AWS: within days);
/// the registry's answers are what matters, and they follow the rule exactly.
#[derive(Clone, Debug)]
pub struct Registry {
    ttl: Duration,
    entries: BTreeMap<String, Entry>,
    /// (expiry, peer id) of every entry, earliest first.
    expiries: BTreeSet<(Instant, String)>,
}

impl Registry {
    pub(super) fn new(ttl: Duration) -> Self {
        Registry {
            ttl,
            entries: BTreeMap::new(),
            expiries: BTreeSet::new(),
        }
    }

    /// How long a registration lives after its last refresh.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many registrations it holds (some may be dead but not yet
    /// removed).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The registration of `peer_id`, alive or not.
    pub fn get(&self, peer_id: &str) -> Option<&Entry> {
        self.entries.get(peer_id)
    }

    /// The registrations alive at `now` that offer `archetype`, by peer id.
    pub fn alive<'a>(
        &'a self,
        now: Instant,
        archetype: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a str, &'a Entry)> + 'a {
        self.entries
            .iter()
            .filter(move |(_, e)| e.is_alive(now) && e.offers(archetype))
            .map(|(id, e)| (id.as_str(), e))
    }

    /// Registers (or re-registers) a peer at `now`; returns when it expires.
    pub(super) fn register(&mut self, now: Instant, request: RegisterRequest) -> Instant {
        let expires = now.saturating_add(self.ttl);
        let entry = Entry {
            node: request.address.0,
            port: request.port,
            archetypes: request.archetypes,
            metadata: request.metadata,
            registered_at: now,
            last_seen: now,
            expires,
        };
        if let Some(old) = self.entries.insert(request.peer_id.clone(), entry) {
            self.expiries
                .remove(&(old.expires, request.peer_id.clone()));
        }
        self.expiries.insert((expires, request.peer_id));
        expires
    }

    /// Refreshes a live registration at `now`; returns when it now expires,
    /// or `None` if `peer_id` has no live registration.
    pub(super) fn heartbeat(&mut self, now: Instant, peer_id: &str) -> Option<Instant> {
        let entry = self.entries.get_mut(peer_id).filter(|e| e.is_alive(now))?;
        let expires = now.saturating_add(self.ttl);
        self.expiries.remove(&(entry.expires, peer_id.to_string()));
        self.expiries.insert((expires, peer_id.to_string()));
        entry.last_seen = now;
        entry.expires = expires;
        Some(expires)
    }

    /// The earliest expiry of a registration it holds.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.expiries.first().map(|&(at, _)| at)
    }

    /// Removes and returns the earliest registration dead at `now`.
    pub(super) fn pop_expired(&mut self, now: Instant) -> Option<(String, Entry)> {
        let (_, peer_id) = self.expiries.first()?;
        if self.entries.get(peer_id)?.is_alive(now) {
            return None;
        }
        let (_, peer_id) = self.expiries.pop_first()?;
        let entry = self.entries.remove(&peer_id)?;
        Some((peer_id, entry))
    }
}
