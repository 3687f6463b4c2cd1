//! Which transport a message should take: the seed's selection rules as
//! data ([`Policy`]), and the simpler policies to compare it with.
//!
//! A policy ranks the transport kinds for one message's [`Situation`]. Each
//! rule family ([`Rule`]) maps the situation to *tiers* (an ordered list of
//! groups of kinds, best first; kinds in one group tie, kinds in none come
//! after every group). The battery band may also restrict the kinds at all
//! ([`BatteryBand::allowed`]). The ranking sorts the allowed kinds by their
//! tier in each rule of [`Policy::precedence`] in turn (the first rule
//! decides, the next breaks its ties…), then by [`TransportKind::ALL`]'s
//! order.
//!
//! # The seed's table, and the precedence chosen
//!
//! The seed lists four rule families without saying how they combine:
//!
//! | family  | band | seed's text | tiers here |
//! |---------|------|-------------|-----------|
//! | device  | mobile  | BitChat > WebSocket > BetaNet > QUIC | the same, one kind per tier |
//! | device  | desktop | BetaNet > QUIC > WebSocket > BitChat | 〃 |
//! | device  | server  | QUIC > BetaNet > WebSocket > BitChat | 〃 |
//! | size    | small (< 1 KiB)   | BitChat preferred | `[[BitChat]]` |
//! | size    | medium (1–10 KiB) | BetaNet           | `[[BetaNet]]` |
//! | size    | large (> 10 KiB)  | QUIC              | `[[Quic]]` |
//! | battery | low (< 20 %)      | BitChat only      | allowed `[BitChat]` |
//! | battery | medium (20–50 %)  | BitChat > BetaNet | allowed `[BitChat, BetaNet]`, `[[BitChat], [BetaNet]]` |
//! | battery | high (> 50 %)     | all               | no restriction, no preference |
//! | quality | poor      | BitChat               | `[[BitChat]]` |
//! | quality | good      | BetaNet/QUIC          | `[[BetaNet, Quic]]` (a tie) |
//! | quality | excellent | QUIC                  | `[[Quic], [BetaNet]]` |
//!
//! plus, from the manager's `_select_optimal_transport`, "emergency messages
//! prefer fastest available transport": priority emergency `[[Quic],
//! [BetaNet]]` (QUIC's 0-RTT), no preference otherwise.
//!
//! [`Policy::seed`] resolves the conflicts so:
//!
//! 1. **battery restriction first, as a filter**: "only" is the seed's one
//!    absolute word, and a flat battery ends every other consideration;
//! 2. then **priority** (an emergency wants the fastest path);
//! 3. then **network quality**: whether the message arrives at all comes
//!    before how efficiently it does (a poor network needs the mesh's
//!    resilience whatever the size; an excellent one makes QUIC worth it
//!    whatever the size); while the manager has no estimate for the peer
//!    the rule says nothing;
//! 4. then **message size** (efficiency vs throughput);
//! 5. then the **battery preference** (BitChat > BetaNet at medium charge);
//! 6. then the **device type**, the recipient's where the manager knows it
//!    (the seed's function takes `recipient_type`), its own otherwise: the
//!    base order every earlier tie falls back on, and the failover order.
//!
//! Two readings are this module's: "excellent" also prefers what "good"
//! does, after QUIC (excellent is better than good), and battery below
//! 10 % (the seed's "critical", from its battery-aware policy) falls in the
//! low band. The seed does not rank [`TransportKind::Raw`] (plain
//! datagrams, for comparison): it is in no list, so it comes last.

use serde::{Deserialize, Serialize};
use sim_core::{BatteryLevel, Duration};

use super::qos::Priority;

/// The transports a manager can hold, by the seed's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TransportKind {
    /// BitChat: the BLE mesh ([`super::mesh`]).
    BitChat,
    /// BetaNet: HTX ([`crate::htx`]).
    BetaNet,
    /// The QUIC-like transport ([`crate::quic`]).
    Quic,
    /// WebSocket: a relay through a server node ([`super::relay`]).
    WebSocket,
    /// Plain datagrams ([`crate::transport::Raw`]), not in the seed.
    Raw,
}

impl TransportKind {
    /// Every kind, in the order that breaks the last ties.
    pub const ALL: [TransportKind; 5] = [
        TransportKind::BitChat,
        TransportKind::BetaNet,
        TransportKind::Quic,
        TransportKind::WebSocket,
        TransportKind::Raw,
    ];
}

/// A device class, as the seed's device type priorities name them.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum DeviceType {
    /// A phone or tablet.
    #[default]
    Mobile,
    /// A desktop node.
    Desktop,
    /// A server node.
    Server,
}

/// How good the path to a peer is, in the seed's three words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Quality {
    /// Lossy or slow.
    Poor,
    /// Neither poor nor excellent.
    Good,
    /// Fast and clean.
    Excellent,
}

/// Ordered groups of kinds, best first; kinds in one group tie.
pub type Tiers = Vec<Vec<TransportKind>>;

/// Where `kind` ranks in `tiers`: its group's index, or after every group.
fn tier_of(tiers: &Tiers, kind: TransportKind) -> usize {
    tiers
        .iter()
        .position(|tier| tier.contains(&kind))
        .unwrap_or(tiers.len())
}

/// A rule family, for [`Policy::precedence`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    /// [`Policy::priority`].
    Priority,
    /// [`Policy::quality`].
    Quality,
    /// [`Policy::size`].
    Size,
    /// [`Policy::battery`]'s preferences (its restriction always applies).
    Battery,
    /// [`Policy::device`].
    Device,
}

/// Preferences per device type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceRule {
    /// For a mobile recipient.
    pub mobile: Tiers,
    /// For a desktop recipient.
    pub desktop: Tiers,
    /// For a server recipient.
    pub server: Tiers,
}

/// Preferences per message size bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SizeRule {
    /// A message shorter than this many bytes is small (seed: 1 KiB).
    pub small_below: usize,
    /// A message longer than this many bytes is large (seed: 10 KiB).
    pub large_above: usize,
    /// For small messages.
    pub small: Tiers,
    /// For the rest.
    pub medium: Tiers,
    /// For large messages.
    pub large: Tiers,
}

impl Default for SizeRule {
    fn default() -> Self {
        SizeRule {
            small_below: 1024,
            large_above: 10 * 1024,
            small: Vec::new(),
            medium: Vec::new(),
            large: Vec::new(),
        }
    }
}

/// What one battery band allows and prefers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatteryBand {
    /// The only kinds usable in this band (`None`: all).
    pub allowed: Option<Vec<TransportKind>>,
    /// Preferences among them.
    pub prefer: Tiers,
}

/// Battery bands: low (below 20 %, critical included), medium, high.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatteryRule {
    /// Below 20 % ([`BatteryLevel::Critical`] and [`BatteryLevel::Low`]).
    pub low: BatteryBand,
    /// 20 % to 50 %.
    pub medium: BatteryBand,
    /// 50 % and above.
    pub high: BatteryBand,
}

impl BatteryRule {
    /// The band `level` falls in.
    pub fn band(&self, level: BatteryLevel) -> &BatteryBand {
        match level {
            BatteryLevel::Critical | BatteryLevel::Low => &self.low,
            BatteryLevel::Medium => &self.medium,
            BatteryLevel::High => &self.high,
        }
    }
}

/// Network quality: how a peer's estimate becomes a [`Quality`], and what
/// each quality prefers.
///
/// The seed names the bands but no thresholds; these are this module's:
/// poor at 10 % loss or 500 ms round trip, excellent at no more than 1 %
/// loss and 50 ms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityRule {
    /// Poor at or above this loss, in parts per thousand.
    pub poor_loss_permille: u32,
    /// Poor at or above this smoothed round trip.
    pub poor_rtt: Duration,
    /// Excellent at or below this loss (and the RTT below).
    pub excellent_loss_permille: u32,
    /// Excellent at or below this smoothed round trip (and the loss above).
    pub excellent_rtt: Duration,
    /// For a poor path.
    pub poor: Tiers,
    /// For a good path.
    pub good: Tiers,
    /// For an excellent path.
    pub excellent: Tiers,
}

impl Default for QualityRule {
    fn default() -> Self {
        QualityRule {
            poor_loss_permille: 100,
            poor_rtt: Duration::from_millis(500),
            excellent_loss_permille: 10,
            excellent_rtt: Duration::from_millis(50),
            poor: Vec::new(),
            good: Vec::new(),
            excellent: Vec::new(),
        }
    }
}

impl QualityRule {
    /// The quality of a path with this smoothed RTT and loss.
    pub fn classify(&self, srtt: Duration, loss_permille: u32) -> Quality {
        if loss_permille >= self.poor_loss_permille || srtt >= self.poor_rtt {
            Quality::Poor
        } else if loss_permille <= self.excellent_loss_permille && srtt <= self.excellent_rtt {
            Quality::Excellent
        } else {
            Quality::Good
        }
    }
}

/// Preferences per message priority.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriorityRule {
    /// For emergency messages.
    pub emergency: Tiers,
    /// For high-priority messages.
    pub high: Tiers,
    /// For normal messages.
    pub normal: Tiers,
    /// For low-priority messages.
    pub low: Tiers,
}

/// What the manager knows about one message when it picks a transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Situation {
    /// The recipient's device type (the sender's own when unknown).
    pub device: DeviceType,
    /// The message's length in bytes.
    pub size: usize,
    /// The sender's battery.
    pub battery: BatteryLevel,
    /// The path's quality, once estimated or configured.
    pub quality: Option<Quality>,
    /// The message's priority.
    pub priority: Priority,
}

/// Selection rules as data; see the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// The rule families that rank, first decisive.
    pub precedence: Vec<Rule>,
    /// Device type priorities.
    pub device: DeviceRule,
    /// Message size buckets.
    pub size: SizeRule,
    /// Battery bands.
    pub battery: BatteryRule,
    /// Network quality.
    pub quality: QualityRule,
    /// Message priority.
    pub priority: PriorityRule,
}

/// The seed's policy.
impl Default for Policy {
    fn default() -> Self {
        Policy::seed()
    }
}

impl Policy {
    /// The seed's table, with the precedence the [module docs](self)
    /// explain.
    pub fn seed() -> Self {
        use TransportKind::{BetaNet, BitChat, Quic, WebSocket};
        let one_each = |kinds: [TransportKind; 4]| kinds.iter().map(|&k| vec![k]).collect();
        Policy {
            precedence: vec![
                Rule::Priority,
                Rule::Quality,
                Rule::Size,
                Rule::Battery,
                Rule::Device,
            ],
            device: DeviceRule {
                mobile: one_each([BitChat, WebSocket, BetaNet, Quic]),
                desktop: one_each([BetaNet, Quic, WebSocket, BitChat]),
                server: one_each([Quic, BetaNet, WebSocket, BitChat]),
            },
            size: SizeRule {
                small: vec![vec![BitChat]],
                medium: vec![vec![BetaNet]],
                large: vec![vec![Quic]],
                ..SizeRule::default()
            },
            battery: BatteryRule {
                low: BatteryBand {
                    allowed: Some(vec![BitChat]),
                    prefer: vec![vec![BitChat]],
                },
                medium: BatteryBand {
                    allowed: Some(vec![BitChat, BetaNet]),
                    prefer: vec![vec![BitChat], vec![BetaNet]],
                },
                high: BatteryBand::default(),
            },
            quality: QualityRule {
                poor: vec![vec![BitChat]],
                good: vec![vec![BetaNet, Quic]],
                excellent: vec![vec![Quic], vec![BetaNet]],
                ..QualityRule::default()
            },
            priority: PriorityRule {
                emergency: vec![vec![Quic], vec![BetaNet]],
                ..PriorityRule::default()
            },
        }
    }

    /// Always `kind` first, whatever the message; the others (for
    /// failover) in [`TransportKind::ALL`]'s order.
    pub fn fixed(kind: TransportKind) -> Self {
        let first = vec![vec![kind]];
        Policy {
            precedence: vec![Rule::Device],
            device: DeviceRule {
                mobile: first.clone(),
                desktop: first.clone(),
                server: first,
            },
            size: SizeRule::default(),
            battery: BatteryRule::default(),
            quality: QualityRule::default(),
            priority: PriorityRule::default(),
        }
    }

    /// The seed's size buckets alone: BitChat for small messages, BetaNet
    /// for medium ones, QUIC for large ones; no battery, quality, priority
    /// or device rule.
    pub fn size_only() -> Self {
        Policy {
            precedence: vec![Rule::Size],
            device: DeviceRule::default(),
            size: Policy::seed().size,
            battery: BatteryRule::default(),
            quality: QualityRule::default(),
            priority: PriorityRule::default(),
        }
    }

    /// The kinds usable for a message in `situation`, best first.
    pub fn rank(&self, situation: &Situation) -> Vec<TransportKind> {
        let band = self.battery.band(situation.battery);
        let mut kinds: Vec<TransportKind> = TransportKind::ALL
            .into_iter()
            .filter(|k| band.allowed.as_ref().is_none_or(|a| a.contains(k)))
            .collect();
        kinds.sort_by_key(|&kind| {
            let tiers: Vec<usize> = self
                .precedence
                .iter()
                .map(|&rule| self.tier(rule, situation, kind))
                .collect();
            (tiers, kind)
        });
        kinds
    }

    fn tier(&self, rule: Rule, s: &Situation, kind: TransportKind) -> usize {
        let tiers = match rule {
            Rule::Priority => match s.priority {
                Priority::Emergency => &self.priority.emergency,
                Priority::High => &self.priority.high,
                Priority::Normal => &self.priority.normal,
                Priority::Low => &self.priority.low,
            },
            Rule::Quality => match s.quality {
                None => return 0,
                Some(Quality::Poor) => &self.quality.poor,
                Some(Quality::Good) => &self.quality.good,
                Some(Quality::Excellent) => &self.quality.excellent,
            },
            Rule::Size if s.size < self.size.small_below => &self.size.small,
            Rule::Size if s.size > self.size.large_above => &self.size.large,
            Rule::Size => &self.size.medium,
            Rule::Battery => &self.battery.band(s.battery).prefer,
            Rule::Device => match s.device {
                DeviceType::Mobile => &self.device.mobile,
                DeviceType::Desktop => &self.device.desktop,
                DeviceType::Server => &self.device.server,
            },
        };
        tier_of(tiers, kind)
    }
}

/// A policy by name, as a scenario (or a sweep over policies) writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyChoice {
    /// [`Policy::seed`].
    #[default]
    Seed,
    /// [`Policy::fixed`].
    Fixed(TransportKind),
    /// [`Policy::size_only`].
    SizeOnly,
    /// A policy written out in full.
    Custom(Box<Policy>),
}

impl PolicyChoice {
    /// The policy chosen.
    pub fn policy(&self) -> Policy {
        match self {
            PolicyChoice::Seed => Policy::seed(),
            PolicyChoice::Fixed(kind) => Policy::fixed(*kind),
            PolicyChoice::SizeOnly => Policy::size_only(),
            PolicyChoice::Custom(policy) => (**policy).clone(),
        }
    }
}
