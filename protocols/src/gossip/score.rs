//! The v1.1 peer score: counters one node keeps about one peer, and the
//! score function over them.
//!
//! ```text
//! score = TopicCap(Σ_topics topic_weight · (w₁P₁ + w₂P₂ + w₃P₃ + w₃bP₃b + w₄P₄)) + w₇P₇
//! ```
//!
//! - P₁, time in mesh: (now − graft time) / quantum, capped;
//! - P₂, first message deliveries: a decaying counter, capped at increment;
//! - P₃, mesh message delivery deficit: (threshold − counter)² while the peer
//!   has been in the mesh longer than the activation time and its (decaying,
//!   capped) count of first and near-first deliveries is below threshold;
//! - P₃b, mesh failure penalty: the P₃ deficit, added up at each prune;
//! - P₄, invalid messages: the square of a decaying counter;
//! - P₇, behaviour penalty: the square of a decaying counter that the router
//!   raises for a GRAFT during backoff and for a broken IWANT promise.

use sim_core::{Instant, NodeId};

use super::config::ScoreParams;
use super::small::SmallList;
use super::wire::TopicId;

/// The most topics a peer's score keeps counters for; counters for further
/// topics are not kept (bounding what a peer can make us store).
pub const MAX_SCORED_TOPICS: usize = 64;

/// One peer's counters in one topic.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TopicCounters {
    /// The topic.
    pub topic: TopicId,
    /// When the peer joined our mesh of the topic, while it is in it.
    pub mesh_since: Option<Instant>,
    /// P₂'s counter.
    pub first_message_deliveries: f64,
    /// P₃'s counter.
    pub mesh_message_deliveries: f64,
    /// P₃b's counter.
    pub mesh_failure_penalty: f64,
    /// P₄'s counter.
    pub invalid_message_deliveries: f64,
}

impl TopicCounters {
    fn new(topic: TopicId) -> Self {
        TopicCounters {
            topic,
            mesh_since: None,
            first_message_deliveries: 0.0,
            mesh_message_deliveries: 0.0,
            mesh_failure_penalty: 0.0,
            invalid_message_deliveries: 0.0,
        }
    }

    /// The P₃ deficit at `now`: zero unless the peer is in the mesh, past
    /// the activation time, and below the delivery threshold.
    fn deficit(&self, p: &ScoreParams, now: Instant) -> f64 {
        let active = self.mesh_since.is_some_and(|since| {
            now.saturating_duration_since(since) > p.mesh_message_deliveries_activation
        });
        if active && self.mesh_message_deliveries < p.mesh_message_deliveries_threshold {
            p.mesh_message_deliveries_threshold - self.mesh_message_deliveries
        } else {
            0.0
        }
    }

    fn score(&self, p: &ScoreParams, now: Instant) -> f64 {
        let p1 = self.mesh_since.map_or(0.0, |since| {
            let t = now.saturating_duration_since(since).as_nanos();
            let quanta = t / p.time_in_mesh_quantum.as_nanos().max(1);
            (quanta as f64).min(p.time_in_mesh_cap)
        });
        let deficit = self.deficit(p, now);
        let p4 = self.invalid_message_deliveries * self.invalid_message_deliveries;
        p.time_in_mesh_weight * p1
            + p.first_message_deliveries_weight * self.first_message_deliveries
            + p.mesh_message_deliveries_weight * deficit * deficit
            + p.mesh_failure_penalty_weight * self.mesh_failure_penalty
            + p.invalid_message_deliveries_weight * p4
    }

    fn is_idle(&self) -> bool {
        self.mesh_since.is_none()
            && self.first_message_deliveries == 0.0
            && self.mesh_message_deliveries == 0.0
            && self.mesh_failure_penalty == 0.0
            && self.invalid_message_deliveries == 0.0
    }
}

/// What one node has observed of one peer, and the peer's score from it.
///
/// Pure data: every method takes the parameters and `now` it needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeerScore {
    /// In the order the topics were first counted (which orders the sum).
    topics: SmallList<TopicCounters, 1>,
    behaviour_penalty: f64,
}

impl PeerScore {
    /// A peer with nothing observed: score 0.
    pub fn new() -> Self {
        PeerScore::default()
    }

    /// The score at `now`.
    pub fn score(&self, p: &ScoreParams, now: Instant) -> f64 {
        let mut topics: f64 = self
            .topics
            .as_slice()
            .iter()
            .map(|c| p.topic_weight * c.score(p, now))
            .sum();
        if p.topic_score_cap > 0.0 && topics > p.topic_score_cap {
            topics = p.topic_score_cap;
        }
        topics + p.behaviour_penalty_weight * self.behaviour_penalty * self.behaviour_penalty
    }

    /// The counters for `topic`, if any are kept.
    pub fn topic(&self, topic: TopicId) -> Option<&TopicCounters> {
        self.topics.as_slice().iter().find(|c| c.topic == topic)
    }

    /// P₇'s counter.
    pub fn behaviour_penalty(&self) -> f64 {
        self.behaviour_penalty
    }

    fn entry(&mut self, topic: TopicId) -> Option<&mut TopicCounters> {
        match self.topics.as_slice().iter().position(|c| c.topic == topic) {
            Some(i) => Some(&mut self.topics.as_mut_slice()[i]),
            None if self.topics.len() < MAX_SCORED_TOPICS => {
                self.topics.push(TopicCounters::new(topic));
                self.topics.as_mut_slice().last_mut()
            }
            None => None,
        }
    }

    /// The peer joined our mesh of `topic` (P₁ starts counting).
    pub fn graft(&mut self, topic: TopicId, now: Instant) {
        if let Some(c) = self.entry(topic) {
            c.mesh_since = Some(now);
        }
    }

    /// The peer left our mesh of `topic`: an active P₃ deficit is added to
    /// P₃b, and P₁/P₃ stop.
    pub fn prune(&mut self, topic: TopicId, p: &ScoreParams, now: Instant) {
        if let Some(c) = self.entry(topic) {
            let deficit = c.deficit(p, now);
            c.mesh_failure_penalty += deficit * deficit;
            c.mesh_since = None;
        }
    }

    /// The peer was first to deliver a message of `topic` (P₂, and P₃ if it
    /// is in our mesh of `topic`).
    pub fn first_delivery(&mut self, topic: TopicId, p: &ScoreParams) {
        if let Some(c) = self.entry(topic) {
            c.first_message_deliveries =
                (c.first_message_deliveries + 1.0).min(p.first_message_deliveries_cap);
            if c.mesh_since.is_some() {
                c.mesh_message_deliveries =
                    (c.mesh_message_deliveries + 1.0).min(p.mesh_message_deliveries_cap);
            }
        }
    }

    /// The peer, in our mesh of `topic`, delivered a message soon after its
    /// first copy arrived (P₃ only).
    pub fn near_first_delivery(&mut self, topic: TopicId, p: &ScoreParams) {
        if let Some(c) = self.entry(topic) {
            if c.mesh_since.is_some() {
                c.mesh_message_deliveries =
                    (c.mesh_message_deliveries + 1.0).min(p.mesh_message_deliveries_cap);
            }
        }
    }

    /// The peer sent a message of `topic` that failed validation (P₄).
    pub fn invalid_message(&mut self, topic: TopicId) {
        if let Some(c) = self.entry(topic) {
            c.invalid_message_deliveries += 1.0;
        }
    }

    /// Raises the behaviour penalty (P₇) by `n`.
    pub fn penalise(&mut self, n: f64) {
        self.behaviour_penalty += n;
    }

    /// One decay interval: every counter times its decay factor, zero below
    /// `decay_to_zero`; counters of topics that are all zero and out of the
    /// mesh are dropped.
    pub fn decay(&mut self, p: &ScoreParams) {
        let decay = |x: &mut f64, factor: f64| {
            *x *= factor;
            if *x < p.decay_to_zero {
                *x = 0.0;
            }
        };
        for c in self.topics.as_mut_slice() {
            decay(
                &mut c.first_message_deliveries,
                p.first_message_deliveries_decay,
            );
            decay(
                &mut c.mesh_message_deliveries,
                p.mesh_message_deliveries_decay,
            );
            decay(&mut c.mesh_failure_penalty, p.mesh_failure_penalty_decay);
            decay(
                &mut c.invalid_message_deliveries,
                p.invalid_message_deliveries_decay,
            );
        }
        self.topics.retain(|c| !c.is_idle());
        decay(&mut self.behaviour_penalty, p.behaviour_penalty_decay);
    }

    /// Whether nothing is observed: such a score need not be retained after
    /// the peer disconnects.
    pub fn is_idle(&self) -> bool {
        self.topics.as_slice().iter().all(TopicCounters::is_idle) && self.behaviour_penalty == 0.0
    }
}

/// A disconnected peer's score, kept for `retain_score`.
#[derive(Clone, Debug)]
pub(crate) struct Retained {
    pub(crate) peer: NodeId,
    pub(crate) until: Instant,
    pub(crate) score: PeerScore,
}

#[cfg(test)]
mod tests {
    use sim_core::Duration;

    use super::*;

    fn at(s: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(s)
    }

    const T: TopicId = TopicId(1);

    #[test]
    fn time_in_mesh_counts_quanta_up_to_the_cap() {
        let p = ScoreParams {
            time_in_mesh_cap: 10.0,
            ..ScoreParams::default()
        };
        let mut s = PeerScore::new();
        s.graft(T, at(0));
        assert_eq!(s.score(&p, at(0)), 0.0);
        assert!((s.score(&p, at(5)) - 0.05).abs() < 1e-12);
        assert!((s.score(&p, at(500)) - 0.1).abs() < 1e-12);
        s.prune(T, &p, at(500));
        assert_eq!(s.score(&p, at(600)), 0.0);
    }

    #[test]
    fn first_deliveries_are_capped_and_decay() {
        let p = ScoreParams {
            first_message_deliveries_cap: 3.0,
            first_message_deliveries_decay: 0.5,
            ..ScoreParams::default()
        };
        let mut s = PeerScore::new();
        for _ in 0..5 {
            s.first_delivery(T, &p);
        }
        assert_eq!(s.score(&p, at(0)), 3.0);
        s.decay(&p);
        assert_eq!(s.score(&p, at(0)), 1.5);
        for _ in 0..20 {
            s.decay(&p);
        }
        assert!(s.is_idle(), "decays to zero and the topic entry goes");
        assert!(s.topic(T).is_none());
    }

    #[test]
    fn mesh_delivery_deficit_applies_after_activation_and_sticks_at_prune() {
        let p = ScoreParams {
            mesh_message_deliveries_weight: -1.0,
            mesh_message_deliveries_threshold: 4.0,
            mesh_message_deliveries_activation: Duration::from_secs(10),
            mesh_failure_penalty_weight: -1.0,
            time_in_mesh_weight: 0.0,
            first_message_deliveries_weight: 0.0,
            ..ScoreParams::default()
        };
        let mut s = PeerScore::new();
        s.graft(T, at(0));
        s.first_delivery(T, &p);
        assert_eq!(s.score(&p, at(10)), 0.0, "not active yet");
        assert_eq!(s.score(&p, at(11)), -9.0, "deficit 3, squared");
        s.near_first_delivery(T, &p);
        assert_eq!(s.score(&p, at(11)), -4.0);
        s.prune(T, &p, at(11));
        assert_eq!(s.score(&p, at(11)), -4.0, "P3 stops, P3b keeps the deficit");
        s.near_first_delivery(T, &p);
        assert_eq!(
            s.topic(T).unwrap().mesh_message_deliveries,
            2.0,
            "out of mesh: no P3"
        );
    }

    #[test]
    fn invalid_messages_and_penalties_are_squared() {
        let p = ScoreParams::default();
        let mut s = PeerScore::new();
        s.invalid_message(T);
        s.invalid_message(T);
        s.invalid_message(T);
        assert_eq!(s.score(&p, at(0)), -90.0);
        s.penalise(2.0);
        assert_eq!(s.score(&p, at(0)), -94.0);
    }

    #[test]
    fn topic_cap_limits_only_the_topic_part() {
        let p = ScoreParams {
            topic_score_cap: 2.0,
            ..ScoreParams::default()
        };
        let mut s = PeerScore::new();
        for _ in 0..10 {
            s.first_delivery(T, &p);
        }
        s.penalise(1.0);
        assert_eq!(s.score(&p, at(0)), 2.0 - 1.0);
    }

    #[test]
    fn counters_for_too_many_topics_are_not_kept() {
        let mut s = PeerScore::new();
        for t in 0..MAX_SCORED_TOPICS as u32 + 10 {
            s.invalid_message(TopicId(t));
        }
        assert_eq!(s.topics.len(), MAX_SCORED_TOPICS);
    }
}
