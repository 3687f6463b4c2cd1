//! What a scenario can tune about [`Gossip`](super::Gossip).
//!
//! The defaults are the spec's where it names one (gossipsub v1.0's parameter
//! table, v1.1's "Overview of New Parameters", and the go implementation's
//! defaults for the spam limits the v1.1 spec describes without numbers).
//! The score parameters have no spec defaults ("Guidelines for Tuning the
//! Scoring Function: TBD"); ours are documented field by field and chosen
//! so that honest peers never score below zero on their own.

use sim_core::Duration;

/// GossipSub's parameters, as a scenario file writes them.
///
/// Every field has a default, so an empty map is a valid config; an unknown
/// field is an error. [`GossipConfig::validate`] checks the constraints the
/// spec places between them; [`Gossip::new`](super::Gossip::new) never
/// panics on a config that breaks them, but the mesh then behaves as the
/// numbers say (for example `d_low > d` grafts every heartbeat).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GossipConfig {
    /// `D`, the desired mesh degree. Default 6.
    pub d: u32,
    /// `D_low`: below this many mesh peers, the heartbeat grafts up to `D`.
    /// Default 4.
    pub d_low: u32,
    /// `D_high`: above this many mesh peers, the heartbeat prunes down to
    /// `D`; while the mesh has this many, a GRAFT from an inbound peer is
    /// refused. Default 12.
    pub d_high: u32,
    /// `D_lazy`: the least number of peers gossip (IHAVE) goes to per topic
    /// and heartbeat. Default 6 (= `D`).
    pub d_lazy: u32,
    /// `D_score`: when pruning an oversubscribed mesh, this many best-scoring
    /// peers are kept before the rest are chosen at random. Default 4.
    pub d_score: u32,
    /// `D_out`: the mesh keeps at least this many outbound peers (pruning
    /// spares them, the heartbeat grafts them); connection direction is
    /// simulated (see [`is_outbound`](super::is_outbound)). Default 2.
    pub d_out: u32,
    /// Time between heartbeats (mesh and fanout maintenance, gossip
    /// emission, score decay, every expiry). Default 1 s.
    pub heartbeat_interval: Duration,
    /// How long a topic's fanout is kept after the last publish to it.
    /// Default 60 s.
    pub fanout_ttl: Duration,
    /// `mcache_len`: heartbeats a message stays in the message cache (and
    /// can be served to IWANT). Default 5.
    pub mcache_len: u32,
    /// `mcache_gossip`: the most recent heartbeats whose message ids are
    /// advertised in IHAVE. Default 3.
    pub mcache_gossip: u32,
    /// How long a message id is remembered, so that later copies are
    /// duplicates. Default 2 min.
    pub seen_ttl: Duration,
    /// Backoff after a PRUNE, sent in the PRUNE and applied by both sides.
    /// Default 1 min.
    pub prune_backoff: Duration,
    /// Backoff sent in the PRUNEs of an unsubscribe. Default 10 s.
    pub unsubscribe_backoff: Duration,
    /// v1.1 flood publishing: a node's own messages go to every peer in the
    /// topic whose score is at least `publish_threshold`, not only to its
    /// mesh or fanout. Default true.
    pub flood_publish: bool,
    /// v1.1 adaptive gossip: the fraction of eligible non-mesh peers that get
    /// IHAVE each heartbeat, at least `d_lazy`. Default 0.25.
    pub gossip_factor: f64,
    /// How many times one peer is served the same message through IWANT.
    /// Default 3 (go's `GossipSubGossipRetransmission`).
    pub gossip_retransmission: u32,
    /// The most message ids asked of one peer per heartbeat (at most
    /// 65535 are counted), and the most ids one IHAVE we send carries.
    /// Default 5000 (go's `GossipSubMaxIHaveLength`).
    pub max_ihave_length: u32,
    /// The most IHAVE messages accepted from one peer per heartbeat (at
    /// most 65535 are counted). Default 10 (go's
    /// `GossipSubMaxIHaveMessages`).
    pub max_ihave_messages: u32,
    /// How long a peer that answered our IHAVE-driven IWANT has to deliver
    /// the promised message before a behaviour penalty. Default 3 s (go's
    /// `GossipSubIWantFollowupTime`).
    pub iwant_followup_time: Duration,
    /// How many peers a PRUNE carries for peer exchange (v1.1 PX); 0 sends
    /// none. Default 16 (go's `GossipSubPrunePeers`).
    pub prune_peers: u32,
    /// Peers learnt through PX are added as connected peers only while this
    /// node has fewer than this many peers: a stand-in for libp2p's
    /// connection manager, which would otherwise trim them. 0 never adds
    /// any (the [`PeerExchange`](super::GossipEvent::PeerExchange) events
    /// still report them). Default 30.
    pub px_peer_limit: u32,
    /// Heartbeats between opportunistic-grafting checks. Default 60.
    pub opportunistic_graft_ticks: u32,
    /// Peers grafted by one opportunistic-grafting check. Default 2.
    pub opportunistic_graft_peers: u32,
    /// How many deliveries a message this node publishes should produce,
    /// reported in [`GossipEvent::Published`](super::GossipEvent::Published)
    /// so that the kernel can compute the delivery ratio. A publisher cannot
    /// know the topic's size, so the scenario sets it: the number of
    /// subscribers other than the publisher. Default 0.
    pub expected_subscribers: u32,
    /// The peer-score function's parameters.
    pub score: ScoreParams,
    /// The score thresholds that gate gossip, publishing, RPCs and PX.
    pub thresholds: ScoreThresholds,
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            d: 6,
            d_low: 4,
            d_high: 12,
            d_lazy: 6,
            d_score: 4,
            d_out: 2,
            heartbeat_interval: Duration::from_secs(1),
            fanout_ttl: Duration::from_secs(60),
            mcache_len: 5,
            mcache_gossip: 3,
            seen_ttl: Duration::from_secs(120),
            prune_backoff: Duration::from_secs(60),
            unsubscribe_backoff: Duration::from_secs(10),
            flood_publish: true,
            gossip_factor: 0.25,
            gossip_retransmission: 3,
            max_ihave_length: 5000,
            max_ihave_messages: 10,
            iwant_followup_time: Duration::from_secs(3),
            prune_peers: 16,
            px_peer_limit: 30,
            opportunistic_graft_ticks: 60,
            opportunistic_graft_peers: 2,
            expected_subscribers: 0,
            score: ScoreParams::default(),
            thresholds: ScoreThresholds::default(),
        }
    }
}

impl GossipConfig {
    /// Checks the constraints the spec places on the parameters; the message
    /// says which one fails.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
        check(
            self.d_low <= self.d && self.d <= self.d_high,
            "d_low <= d <= d_high",
        )?;
        check(self.d_score <= self.d, "d_score <= d")?;
        check(
            self.d_out <= self.d / 2 && (self.d_out < self.d_low || self.d_out == 0),
            "d_out < d_low and d_out <= d / 2",
        )?;
        check(
            self.heartbeat_interval > Duration::ZERO,
            "a positive heartbeat_interval",
        )?;
        check(
            self.mcache_len >= 1 && self.mcache_gossip <= self.mcache_len,
            "mcache_len >= 1 and mcache_gossip <= mcache_len",
        )?;
        check(
            (0.0..=1.0).contains(&self.gossip_factor),
            "gossip_factor in [0, 1]",
        )?;
        self.score.validate()?;
        self.thresholds.validate()
    }
}

/// The parameters of the v1.1 score function.
///
/// Every topic is scored with the same parameters (the spec lets each topic
/// have its own; see the implementation notes of [`Gossip`](super::Gossip)).
/// Decay factors apply once per heartbeat. The spec's P₅ (application score)
/// and P₆ (IP colocation) have no meaning in the simulator and are left out.
///
/// The defaults keep an honest peer's score non-negative: P₁ and P₂ reward
/// it, P₄ and P₇ punish misbehaviour only, and P₃/P₃b are off (weight 0)
/// because their threshold depends on the topic's message rate, which a
/// default cannot know.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreParams {
    /// `TopicWeight`, the weight of every topic's score. Default 1.
    pub topic_weight: f64,
    /// `TopicCap`: the most the topics together add to a score; 0 means no
    /// cap. Default 0.
    pub topic_score_cap: f64,
    /// P₁ weight (time in mesh). Default 0.01.
    pub time_in_mesh_weight: f64,
    /// P₁ quantum: time in mesh that earns one point. Default 1 s.
    pub time_in_mesh_quantum: Duration,
    /// P₁ cap. Default 3600.
    pub time_in_mesh_cap: f64,
    /// P₂ weight (first message deliveries). Default 1.
    pub first_message_deliveries_weight: f64,
    /// P₂ decay factor per heartbeat. Default 0.9.
    pub first_message_deliveries_decay: f64,
    /// P₂ cap, applied at increment. Default 20.
    pub first_message_deliveries_cap: f64,
    /// P₃ weight (mesh message delivery deficit); negative. Default 0 (off).
    pub mesh_message_deliveries_weight: f64,
    /// P₃ decay factor per heartbeat. Default 0.9.
    pub mesh_message_deliveries_decay: f64,
    /// P₃ threshold: fewer (decayed) mesh deliveries than this is a deficit.
    /// Default 1.
    pub mesh_message_deliveries_threshold: f64,
    /// P₃ cap, applied at increment. Default 20.
    pub mesh_message_deliveries_cap: f64,
    /// P₃ activation: time in mesh before the deficit counts. Default 30 s.
    pub mesh_message_deliveries_activation: Duration,
    /// P₃ near-first window: a mesh peer's copy that arrives this soon after
    /// the first copy still counts as a delivery. Default 10 ms.
    pub mesh_message_deliveries_window: Duration,
    /// P₃b weight (sticky mesh failure penalty); negative. Default 0 (off).
    pub mesh_failure_penalty_weight: f64,
    /// P₃b decay factor per heartbeat. Default 0.9.
    pub mesh_failure_penalty_decay: f64,
    /// P₄ weight (invalid messages); negative. Default −10, so that three
    /// invalid messages (P₄ = 9) take a peer below the default graylist
    /// threshold.
    pub invalid_message_deliveries_weight: f64,
    /// P₄ decay factor per heartbeat. Default 0.99.
    pub invalid_message_deliveries_decay: f64,
    /// P₇ weight (behaviour penalty: GRAFT during backoff, broken IWANT
    /// promises); negative. Default −1.
    pub behaviour_penalty_weight: f64,
    /// P₇ decay factor per heartbeat. Default 0.9.
    pub behaviour_penalty_decay: f64,
    /// A decayed counter below this is zero. Default 0.01.
    pub decay_to_zero: f64,
    /// How long a disconnected peer's negative score is remembered, so that
    /// reconnecting does not wipe it. Default 60 s.
    pub retain_score: Duration,
}

impl Default for ScoreParams {
    fn default() -> Self {
        ScoreParams {
            topic_weight: 1.0,
            topic_score_cap: 0.0,
            time_in_mesh_weight: 0.01,
            time_in_mesh_quantum: Duration::from_secs(1),
            time_in_mesh_cap: 3600.0,
            first_message_deliveries_weight: 1.0,
            first_message_deliveries_decay: 0.9,
            first_message_deliveries_cap: 20.0,
            mesh_message_deliveries_weight: 0.0,
            mesh_message_deliveries_decay: 0.9,
            mesh_message_deliveries_threshold: 1.0,
            mesh_message_deliveries_cap: 20.0,
            mesh_message_deliveries_activation: Duration::from_secs(30),
            mesh_message_deliveries_window: Duration::from_millis(10),
            mesh_failure_penalty_weight: 0.0,
            mesh_failure_penalty_decay: 0.9,
            invalid_message_deliveries_weight: -10.0,
            invalid_message_deliveries_decay: 0.99,
            behaviour_penalty_weight: -1.0,
            behaviour_penalty_decay: 0.9,
            decay_to_zero: 0.01,
            retain_score: Duration::from_secs(60),
        }
    }
}

impl ScoreParams {
    /// Checks the signs and ranges the spec requires.
    pub fn validate(&self) -> Result<(), String> {
        let finite = [
            self.topic_weight,
            self.topic_score_cap,
            self.time_in_mesh_weight,
            self.time_in_mesh_cap,
            self.first_message_deliveries_weight,
            self.first_message_deliveries_cap,
            self.mesh_message_deliveries_weight,
            self.mesh_message_deliveries_threshold,
            self.mesh_message_deliveries_cap,
            self.mesh_failure_penalty_weight,
            self.invalid_message_deliveries_weight,
            self.behaviour_penalty_weight,
            self.decay_to_zero,
        ];
        if finite.iter().any(|x| !x.is_finite()) {
            return Err("finite score parameters".into());
        }
        let decays = [
            self.first_message_deliveries_decay,
            self.mesh_message_deliveries_decay,
            self.mesh_failure_penalty_decay,
            self.invalid_message_deliveries_decay,
            self.behaviour_penalty_decay,
        ];
        if decays.iter().any(|d| !(0.0..=1.0).contains(d)) {
            return Err("score decay factors in [0, 1]".into());
        }
        if self.time_in_mesh_quantum == Duration::ZERO {
            return Err("a positive time_in_mesh_quantum".into());
        }
        if self.mesh_message_deliveries_weight > 0.0
            || self.mesh_failure_penalty_weight > 0.0
            || self.invalid_message_deliveries_weight > 0.0
            || self.behaviour_penalty_weight > 0.0
        {
            return Err("non-positive weights for P3, P3b, P4 and P7".into());
        }
        if self.topic_score_cap < 0.0 {
            return Err("a non-negative topic_score_cap (0 for none)".into());
        }
        Ok(())
    }
}

/// The v1.1 score thresholds.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreThresholds {
    /// Below this, no gossip is sent to the peer and its IHAVE/IWANT are
    /// ignored. Default −10.
    pub gossip_threshold: f64,
    /// Below this, the peer gets none of our own (flood-)published
    /// messages. Default −50.
    pub publish_threshold: f64,
    /// Below this, every RPC from the peer is ignored. Default −80.
    pub graylist_threshold: f64,
    /// PX from a pruning peer is used only if its score is at least this.
    /// Default 10.
    pub accept_px_threshold: f64,
    /// If the median score of a mesh is below this, opportunistic grafting
    /// adds peers that score above the median. Default 1.
    pub opportunistic_graft_threshold: f64,
}

impl Default for ScoreThresholds {
    fn default() -> Self {
        ScoreThresholds {
            gossip_threshold: -10.0,
            publish_threshold: -50.0,
            graylist_threshold: -80.0,
            accept_px_threshold: 10.0,
            opportunistic_graft_threshold: 1.0,
        }
    }
}

impl ScoreThresholds {
    /// Checks graylist < publish <= gossip <= 0 <= accept_px, opportunistic.
    pub fn validate(&self) -> Result<(), String> {
        let t = self;
        if t.graylist_threshold < t.publish_threshold
            && t.publish_threshold <= t.gossip_threshold
            && t.gossip_threshold <= 0.0
            && t.accept_px_threshold >= 0.0
            && t.opportunistic_graft_threshold >= 0.0
        {
            Ok(())
        } else {
            Err(
                "graylist_threshold < publish_threshold <= gossip_threshold <= 0, \
                 and non-negative accept_px_threshold and opportunistic_graft_threshold"
                    .into(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    fn from_map(fields: &[(&'static str, &'static str)]) -> Result<GossipConfig, Error> {
        GossipConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    #[test]
    fn defaults_are_the_specs() {
        let c = GossipConfig::default();
        assert_eq!((c.d, c.d_low, c.d_high, c.d_lazy), (6, 4, 12, 6));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(c.fanout_ttl, Duration::from_secs(60));
        assert_eq!((c.mcache_len, c.mcache_gossip), (5, 3));
        assert_eq!(c.seen_ttl, Duration::from_secs(120));
        assert_eq!(c.prune_backoff, Duration::from_secs(60));
        assert_eq!(c.unsubscribe_backoff, Duration::from_secs(10));
        assert!(c.flood_publish);
        assert_eq!(c.gossip_factor, 0.25);
        assert_eq!((c.d_score, c.d_out), (4, 2));
        let t = c.thresholds;
        assert_eq!(
            (
                t.gossip_threshold,
                t.publish_threshold,
                t.graylist_threshold
            ),
            (-10.0, -50.0, -80.0)
        );
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        assert_eq!(from_map(&[]), Ok(GossipConfig::default()));
        assert_eq!(
            from_map(&[("seen_ttl", "30s")]),
            Ok(GossipConfig {
                seen_ttl: Duration::from_secs(30),
                ..GossipConfig::default()
            })
        );
    }

    #[test]
    fn unknown_fields_are_errors() {
        assert!(from_map(&[("dlow", "4")]).is_err());
    }

    #[test]
    fn validate_names_the_broken_constraint() {
        let bad = GossipConfig {
            d_low: 7,
            ..GossipConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("d_low"));
        let bad = GossipConfig {
            thresholds: ScoreThresholds {
                graylist_threshold: -5.0,
                ..ScoreThresholds::default()
            },
            ..GossipConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("graylist"));
        let bad = GossipConfig {
            score: ScoreParams {
                behaviour_penalty_weight: 1.0,
                ..ScoreParams::default()
            },
            ..GossipConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
