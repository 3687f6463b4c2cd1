//! The routing table: which transports can reach a peer, checked in the
//! seed's order — direct, then mesh, then the server.
//!
//! - **Direct** (BetaNet, QUIC, raw datagrams): every peer is presumed
//!   directly reachable, unless the configuration lists the direct peers;
//!   a peer heard over a direct transport becomes direct for
//!   `route_timeout` (the seed's `route_timeout`, 300 s).
//! - **Mesh** (BitChat): a BLE neighbour (its announces are heard), or a
//!   peer whose mesh message arrived within `route_timeout`.
//! - **Server** (WebSocket): any peer, when a relay server is configured;
//!   the seed's last resort ("fall back to server infrastructure"), so it
//!   is tried after every direct and mesh candidate, wherever the policy
//!   ranks it.
//!
//! A transport that failed to reach a peer (its message unacknowledged) is
//! tried after the others for that peer for `route_timeout`.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::{Duration, Instant, NodeId};

use super::policy::TransportKind;

/// How a message reaches its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// Straight to the peer.
    Direct,
    /// Over the BLE mesh, possibly through relays.
    Mesh,
    /// Through the relay server.
    Server,
}

impl TransportKind {
    /// The route a transport of this kind takes.
    pub fn route(self) -> Route {
        match self {
            TransportKind::BitChat => Route::Mesh,
            TransportKind::WebSocket => Route::Server,
            TransportKind::BetaNet | TransportKind::Quic | TransportKind::Raw => Route::Direct,
        }
    }
}

/// What the manager knows of the ways to its peers.
#[derive(Clone, Debug)]
pub struct Routes {
    /// The configured direct peers (`None`: every peer).
    direct: Option<BTreeSet<NodeId>>,
    heard_direct: BTreeMap<NodeId, Instant>,
    heard_mesh: BTreeMap<NodeId, Instant>,
    server: Option<NodeId>,
    failed: BTreeMap<(NodeId, TransportKind), Instant>,
    timeout: Duration,
}

impl Routes {
    /// A table with these direct peers (`None`: all), relay `server`, and
    /// learned routes kept for `timeout`.
    pub fn new(
        direct: Option<BTreeSet<NodeId>>,
        server: Option<NodeId>,
        timeout: Duration,
    ) -> Self {
        Routes {
            direct,
            heard_direct: BTreeMap::new(),
            heard_mesh: BTreeMap::new(),
            server,
            failed: BTreeMap::new(),
            timeout,
        }
    }

    /// Forgets what is older than the timeout.
    pub fn expire(&mut self, now: Instant) {
        let fresh = |at: &mut Instant| now.saturating_duration_since(*at) < self.timeout;
        self.heard_direct.retain(|_, at| fresh(at));
        self.heard_mesh.retain(|_, at| fresh(at));
        self.failed.retain(|_, at| fresh(at));
    }

    /// A message from `peer` arrived by `route`.
    pub fn heard(&mut self, now: Instant, peer: NodeId, route: Route) {
        match route {
            Route::Direct => self.heard_direct.insert(peer, now),
            Route::Mesh => self.heard_mesh.insert(peer, now),
            Route::Server => None,
        };
        self.failed
            .retain(|&(p, kind), _| p != peer || kind.route() != route);
    }

    /// `kind` failed to reach `peer`.
    pub fn failed(&mut self, now: Instant, peer: NodeId, kind: TransportKind) {
        self.failed.insert((peer, kind), now);
    }

    /// Whether `route` reaches `peer` now; `neighbour`: whether `peer` is a
    /// BLE neighbour.
    pub fn reaches(&self, peer: NodeId, route: Route, neighbour: bool) -> bool {
        match route {
            Route::Direct => {
                self.direct.as_ref().is_none_or(|d| d.contains(&peer))
                    || self.heard_direct.contains_key(&peer)
            }
            Route::Mesh => neighbour || self.heard_mesh.contains_key(&peer),
            Route::Server => self.server.is_some(),
        }
    }

    /// The kinds of `ranked` (best first) that reach `peer`, in the order
    /// to try them: as ranked, except that the server relay comes after
    /// the direct and mesh kinds, and kinds that recently failed to reach
    /// `peer` after all the others.
    pub fn candidates(
        &self,
        peer: NodeId,
        ranked: &[TransportKind],
        neighbour: bool,
    ) -> Vec<TransportKind> {
        let mut kinds: Vec<TransportKind> = ranked
            .iter()
            .copied()
            .filter(|k| self.reaches(peer, k.route(), neighbour))
            .collect();
        kinds.sort_by_key(|&k| {
            (
                self.failed.contains_key(&(peer, k)),
                k.route() == Route::Server,
            )
        });
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransportKind::{BetaNet, BitChat, Quic, WebSocket};

    fn table(direct: &[u32]) -> Routes {
        let direct = direct.iter().map(|&n| NodeId(n)).collect();
        Routes::new(Some(direct), Some(NodeId(9)), Duration::from_secs(300))
    }

    /// The desktop order: BetaNet > QUIC > WebSocket > BitChat.
    const DESKTOP: [TransportKind; 4] = [BetaNet, Quic, WebSocket, BitChat];

    #[test]
    fn direct_then_mesh_then_server() {
        let mut routes = table(&[1]);
        // Directly reachable: direct.
        assert_eq!(routes.candidates(NodeId(1), &DESKTOP, false)[0], BetaNet);
        // Only a BLE neighbour: the mesh, the relay behind it.
        assert_eq!(
            routes.candidates(NodeId(2), &DESKTOP, true),
            [BitChat, WebSocket]
        );
        // Reachable in the mesh (heard over it), not a neighbour: the mesh.
        routes.heard(Instant::ZERO, NodeId(3), Route::Mesh);
        assert_eq!(
            routes.candidates(NodeId(3), &DESKTOP, false),
            [BitChat, WebSocket]
        );
        // Neither: the server.
        assert_eq!(routes.candidates(NodeId(4), &DESKTOP, false), [WebSocket]);
        // Heard directly: direct from now on.
        routes.heard(Instant::ZERO, NodeId(4), Route::Direct);
        assert_eq!(routes.candidates(NodeId(4), &DESKTOP, false)[0], BetaNet);
        // Without a server, nothing reaches an unknown peer.
        let none = Routes::new(Some(BTreeSet::new()), None, Duration::from_secs(1));
        assert!(none.candidates(NodeId(4), &DESKTOP, false).is_empty());
    }

    #[test]
    fn a_failed_kind_goes_last_until_the_route_timeout() {
        let mut routes = table(&[1]);
        routes.failed(Instant::ZERO, NodeId(1), BetaNet);
        assert_eq!(
            routes.candidates(NodeId(1), &DESKTOP, false),
            [Quic, WebSocket, BetaNet]
        );
        routes.expire(Instant::ZERO + Duration::from_secs(300));
        assert_eq!(routes.candidates(NodeId(1), &DESKTOP, false)[0], BetaNet);
    }
}
