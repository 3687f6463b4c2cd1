//! The heartbeat: score decay and expiries, mesh and fanout maintenance,
//! gossip emission, then the message cache's shift.

use sim_core::{Datagram, Instant, NodeId};

use super::wire::{ControlRepr, IHave, MessageId, RpcRepr};
use super::{sample, shuffle, Gossip};

/// The control messages of one heartbeat, one entry per peer in the order
/// peers were first given one, so that each peer gets one RPC.
#[derive(Default)]
struct Outbox {
    entries: Vec<(NodeId, ControlRepr)>,
}

impl Outbox {
    fn to(&mut self, peer: NodeId) -> &mut ControlRepr {
        let i = match self.entries.iter().position(|(p, _)| *p == peer) {
            Some(i) => i,
            None => {
                self.entries.push((peer, ControlRepr::default()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }
}

/// One topic's gossip: its ids, and the peers to tell.
struct Gossiped {
    topic: super::TopicId,
    ids: Vec<MessageId>,
    to: Vec<NodeId>,
}

impl Gossiped {
    fn add_to(self, out: &mut Outbox) {
        for p in self.to {
            out.to(p).ihave.push(IHave {
                topic: self.topic,
                ids: self.ids.clone(),
            });
        }
    }
}

impl Gossip {
    /// A connected peer's current score (−∞ for others).
    fn score_in(&self, peer: NodeId) -> f64 {
        self.peers
            .get(peer)
            .map_or(f64::NEG_INFINITY, |p| p.current)
    }

    /// Peers subscribed to `topic`, not in `exclude`, whose score passes
    /// `accept`, and (with `graftable`) not backing off; ascending.
    fn candidates(
        &self,
        now: Instant,
        topic: super::TopicId,
        exclude: &[NodeId],
        accept: impl Fn(f64) -> bool,
        graftable: bool,
    ) -> Vec<NodeId> {
        let slack = self.heartbeat_interval;
        (0..self.peers.len())
            .filter(|&i| {
                let p = self.peers.at(i);
                p.subscribes(topic)
                    && accept(p.current)
                    && !exclude.contains(&p.id)
                    && !(graftable && self.backoff.is_backing_off(topic, p.id, now, slack))
            })
            .map(|i| self.peers.at(i).id)
            .collect()
    }

    pub(super) fn heartbeat(&mut self, now: Instant) {
        self.ticks += 1;
        let params = self.config.score;
        for peer in self.peers.iter_mut() {
            peer.score.decay(&params);
        }
        self.peers.reset_ihave_counters();
        self.retained.retain_mut(|r| {
            r.score.decay(&params);
            r.until > now && !r.score.is_idle()
        });
        self.backoff.expire(now, self.heartbeat_interval);
        self.seen.expire(now);
        let peers = &mut self.peers;
        self.promises.retain(|p| {
            if p.deadline > now {
                return true;
            }
            // A broken promise: the advertised message never came.
            if let Some(peer) = peers.get_mut(p.peer) {
                peer.score.penalise(1.0);
            }
            false
        });

        let mut min_score = 0.0f64;
        for peer in self.peers.iter_mut() {
            peer.current = peer.score.score(&params, now);
            min_score = min_score.min(peer.current);
        }
        for r in &self.retained {
            min_score = min_score.min(r.score.score(&params, now));
        }
        self.min_score = min_score;
        let mut out = Outbox::default();
        for mi in 0..self.mesh.len() {
            self.maintain_mesh(now, mi, &mut out);
        }
        self.maintain_fanout(now);
        self.emit_gossip(now, &mut out);
        self.flush(out);
        self.mcache.shift();
    }

    fn maintain_mesh(&mut self, now: Instant, mi: usize, out: &mut Outbox) {
        let topic = self.mesh[mi].topic;
        let c = self.config;
        // Peers with a negative score leave, without PX.
        let negative: Vec<NodeId> = self.mesh[mi]
            .peers
            .iter()
            .copied()
            .filter(|&p| self.score_in(p) < 0.0)
            .collect();
        for p in negative {
            self.remove_from_mesh(now, mi, p);
            let prune = self.prune_for(now, topic, p, c.prune_backoff, false);
            out.to(p).prune.push(prune);
        }

        let len = self.mesh[mi].peers.len();
        if len < c.d_low as usize {
            let mesh = self.mesh[mi].peers.clone();
            let mut graft = self.candidates(now, topic, &mesh, |s| s >= 0.0, true);
            sample(
                &mut self.rng,
                &mut graft,
                (c.d as usize).saturating_sub(len),
            );
            for p in graft {
                self.add_to_mesh(now, mi, p);
                out.to(p).graft.push(topic);
            }
        }

        if self.mesh[mi].peers.len() > c.d_high as usize {
            // Keep the D_score best, then random peers up to D.
            let mut keep = self.mesh[mi].peers.clone();
            shuffle(&mut self.rng, &mut keep);
            keep.sort_by(|&a, &b| self.score_in(b).total_cmp(&self.score_in(a)));
            let d = c.d as usize;
            let best = (c.d_score as usize).min(d);
            shuffle(&mut self.rng, &mut keep[best..]);
            self.keep_outbound(&mut keep, d);
            for p in keep.split_off(d) {
                self.remove_from_mesh(now, mi, p);
                let prune = self.prune_for(now, topic, p, c.prune_backoff, true);
                out.to(p).prune.push(prune);
            }
        }

        let len = self.mesh[mi].peers.len();
        if len >= c.d_low as usize {
            let outbound = self.mesh[mi]
                .peers
                .iter()
                .filter(|&&p| self.is_outbound_peer(p))
                .count();
            if outbound < c.d_out as usize {
                let mesh = self.mesh[mi].peers.clone();
                let mut graft = self.candidates(now, topic, &mesh, |s| s >= 0.0, true);
                graft.retain(|&p| self.is_outbound_peer(p));
                sample(&mut self.rng, &mut graft, c.d_out as usize - outbound);
                for p in graft {
                    self.add_to_mesh(now, mi, p);
                    out.to(p).graft.push(topic);
                }
            }
        }

        let len = self.mesh[mi].peers.len();
        let opportunistic = c.opportunistic_graft_ticks > 0
            && self.ticks % u64::from(c.opportunistic_graft_ticks) == 0
            && len > 1;
        if opportunistic {
            let mut mesh_scores: Vec<f64> = self.mesh[mi]
                .peers
                .iter()
                .map(|&p| self.score_in(p))
                .collect();
            mesh_scores.sort_by(f64::total_cmp);
            let median = mesh_scores[len / 2];
            if median < c.thresholds.opportunistic_graft_threshold {
                let mesh = self.mesh[mi].peers.clone();
                let mut graft = self.candidates(now, topic, &mesh, |s| s > median, true);
                sample(
                    &mut self.rng,
                    &mut graft,
                    c.opportunistic_graft_peers as usize,
                );
                for p in graft {
                    self.add_to_mesh(now, mi, p);
                    out.to(p).graft.push(topic);
                }
            }
        }
    }

    fn is_outbound_peer(&self, peer: NodeId) -> bool {
        self.peers.get(peer).is_some_and(|p| p.outbound)
    }

    /// Makes the survivors `keep[..d]` hold at least `D_out` outbound peers
    /// (or every outbound peer there is), swapping outbound peers from the
    /// pruned tail in for the last non-outbound survivors: the random picks
    /// first, the best scores last.
    fn keep_outbound(&self, keep: &mut [NodeId], d: usize) {
        let quota = self.config.d_out as usize;
        let mut outbound = keep[..d]
            .iter()
            .filter(|&&p| self.is_outbound_peer(p))
            .count();
        let mut slot = d;
        for t in d..keep.len() {
            if outbound >= quota {
                break;
            }
            if !self.is_outbound_peer(keep[t]) {
                continue;
            }
            while slot > 0 && self.is_outbound_peer(keep[slot - 1]) {
                slot -= 1;
            }
            if slot == 0 {
                break;
            }
            slot -= 1;
            keep.swap(slot, t);
            outbound += 1;
        }
    }

    fn maintain_fanout(&mut self, now: Instant) {
        let ttl = self.config.fanout_ttl;
        self.fanout
            .retain(|f| f.last_published.saturating_add(ttl) > now);
        let threshold = self.config.thresholds.publish_threshold;
        let d = self.config.d as usize;
        for fi in 0..self.fanout.len() {
            let topic = self.fanout[fi].topic;
            let mut peers = std::mem::take(&mut self.fanout[fi].peers);
            peers.retain(|&p| {
                self.peers.get(p).is_some_and(|x| x.subscribes(topic))
                    && self.score_in(p) >= threshold
            });
            if peers.len() < d {
                let mut more = self.candidates(now, topic, &peers, |s| s >= threshold, false);
                sample(&mut self.rng, &mut more, d - peers.len());
                peers.extend(more);
            }
            self.fanout[fi].peers = peers;
        }
    }

    /// Adds each topic's IHAVE to the outbox, except where it would be the
    /// heartbeat's only control message (one topic to gossip, no GRAFT or
    /// PRUNE): then every target would get the same RPC of that one IHAVE,
    /// which is sent at once, encoded once, without the outbox.
    fn emit_gossip(&mut self, now: Instant, out: &mut Outbox) {
        let max_ids = self.config.max_ihave_length as usize;
        let threshold = self.config.thresholds.gossip_threshold;
        let factor = self.config.gossip_factor;
        let d_lazy = self.config.d_lazy as usize;
        let meshes = self.mesh.len();
        // The last topic's gossip, held back until it is known whether it
        // is the only control message.
        let mut last: Option<Gossiped> = None;
        for k in 0..meshes + self.fanout.len() {
            // Gossip goes to topic peers outside the mesh (or the fanout).
            let (topic, exclude) = match k.checked_sub(meshes) {
                None => (self.mesh[k].topic, &self.mesh[k].peers[..]),
                Some(f) => (self.fanout[f].topic, &self.fanout[f].peers[..]),
            };
            let ids = self.mcache.gossip_ids(topic, max_ids);
            if ids.is_empty() {
                continue;
            }
            let mut to = self.candidates(now, topic, exclude, |s| s >= threshold, false);
            let adaptive = (factor * to.len() as f64) as usize;
            sample(&mut self.rng, &mut to, adaptive.max(d_lazy));
            if let Some(g) = last.replace(Gossiped { topic, ids, to }) {
                g.add_to(out);
            }
        }
        match last {
            Some(g) if out.entries.is_empty() => {
                // What `flush` would send: the same bytes to each, in order.
                let bytes = IHave::emit_alone(g.topic, &g.ids);
                for p in g.to {
                    self.send(p, bytes.clone());
                }
            }
            Some(g) => g.add_to(out),
            None => {}
        }
    }

    /// Sends each peer its control messages; peers given the same control
    /// messages one after another share one encoding.
    fn flush(&mut self, out: Outbox) {
        let mut last: Option<(ControlRepr, Datagram)> = None;
        for (peer, control) in out.entries {
            if let Some((c, bytes)) = &last {
                if *c == control {
                    let bytes = bytes.clone();
                    self.send(peer, bytes);
                    continue;
                }
            }
            let rpc = RpcRepr {
                control,
                ..RpcRepr::default()
            };
            let bytes = Datagram::from(rpc.emit());
            self.send(peer, bytes.clone());
            last = Some((rpc.control, bytes));
        }
    }
}
