//! Workloads: a scenario's `workload` entries as lazy streams of commands.

use std::ops::Range;

use protocols::ble_mesh::BleCommand;
use protocols::dht::{DhtCommand, Key};
use protocols::discovery::DiscoveryCommand;
use protocols::flood::FloodCommand;
use protocols::gossip::{GossipCommand, TopicId};
use protocols::libp2p::Libp2pCommand;
use protocols::ping::PingCommand;
use protocols::signaling::SignalingCommand;
use rand::RngCore;
use sim_core::dist::{exponential_f64, uniform_below};
use sim_core::{Action, Duration, Instant, NodeId, SimRng, Source};

use crate::schema::{Arrivals, KeySpec, LookupSpec, Senders};
use crate::stack::{SignalingOrder, StackCommand};

/// What each arrival makes a sender do.
#[derive(Clone, Debug)]
pub enum Job {
    /// Ping a peer drawn from `targets` (never the sender).
    Ping {
        /// Request size in bytes.
        size: u32,
        /// The node ids to draw the peer from.
        targets: Range<u32>,
    },
    /// Flood a message of `size` payload bytes.
    Broadcast {
        /// Payload size in bytes.
        size: u32,
        /// Whether the senders are BLE mesh nodes (else flood nodes).
        ble: bool,
    },
    /// A BLE mesh private message to a peer drawn from `targets` (never the
    /// sender).
    Send {
        /// Content size in bytes.
        size: u32,
        /// The node ids to draw the peer from.
        targets: Range<u32>,
    },
    /// Publish `size` payload bytes on a topic.
    Publish {
        /// The topic.
        topic: TopicId,
        /// Payload size in bytes.
        size: u32,
        /// Whether the senders are libp2p nodes (else stand-alone GossipSub).
        libp2p: bool,
    },
    /// A DHT operation on a key.
    Dht {
        /// Which operation.
        op: DhtOp,
        /// Which key.
        key: KeySpec,
        /// Whether the senders are libp2p nodes (else stand-alone DHT nodes).
        libp2p: bool,
    },
    /// A discovery client's request (the same every time).
    Discovery(DiscoveryCommand),
    /// A signaling peer's command that names no peer: join, leave, go
    /// silent.
    Signaling(SignalingCommand),
    /// A signaling peer opens a direct channel to a peer drawn from
    /// `targets` (never the sender).
    Connect {
        /// The node ids to draw the peer from.
        targets: Range<u32>,
    },
    /// A signaling peer sends `size` bytes directly to a peer drawn from
    /// `targets` (never the sender), or with `None` on one of its open
    /// channels, chosen when the command runs.
    SendDirect {
        /// Message size in bytes.
        size: u32,
        /// The node ids to draw the peer from; `None`: an open channel.
        targets: Option<Range<u32>>,
    },
}

/// A DHT operation of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhtOp {
    /// A lookup.
    Lookup(LookupSpec),
    /// Store a record of this many bytes.
    Put(u32),
    /// Announce a provider record.
    Provide,
}

/// Named key `i`: `SHA-256("key-<i>")`.
pub fn named_key(i: u32) -> Key {
    Key::for_name(format!("key-{i}").as_bytes())
}

/// One workload entry as a [`Source`] of commands.
#[derive(Debug)]
pub struct Workload {
    senders: Range<u32>,
    each: bool,
    job: Job,
    arrivals: Arrivals,
    stop: Instant,
    /// The current arrival's time, and the next sender to serve at it when
    /// every node of the group acts.
    at: Instant,
    cursor: u32,
    /// The next key of a [`KeySpec::Sequence`].
    next_key: u32,
    rng: SimRng,
}

impl Workload {
    /// A workload of `job` from the nodes `senders`, with the first arrival at
    /// or after `start` and none at or after `stop`.
    pub fn new(
        senders: Range<u32>,
        who: Senders,
        job: Job,
        arrivals: Arrivals,
        start: Instant,
        stop: Instant,
        mut rng: SimRng,
    ) -> Self {
        let first = match arrivals {
            Arrivals::Every(_) => start,
            Arrivals::Poisson(rate) => start.saturating_add(poisson_gap(&mut rng, rate)),
        };
        Workload {
            cursor: senders.start,
            senders,
            each: who == Senders::Each,
            job,
            arrivals,
            stop,
            at: first,
            next_key: 0,
            rng,
        }
    }

    fn advance(&mut self) {
        self.at = match self.arrivals {
            Arrivals::Every(d) => self.at.saturating_add(d),
            Arrivals::Poisson(rate) => self.at.saturating_add(poisson_gap(&mut self.rng, rate)),
        };
    }

    fn key(&mut self, spec: KeySpec) -> Key {
        match spec {
            KeySpec::Random => {
                let mut bytes = [0u8; 32];
                self.rng.fill_bytes(&mut bytes);
                Key::from_slice(&bytes).expect("32 bytes")
            }
            KeySpec::Stored(n) => named_key(uniform_below(&mut self.rng, u64::from(n)) as u32),
            KeySpec::Sequence(n) => {
                let i = self.next_key;
                self.next_key = (i + 1) % n;
                named_key(i)
            }
        }
    }

    fn command(&mut self, sender: u32) -> Option<StackCommand> {
        match self.job.clone() {
            Job::Broadcast { size, ble: false } => {
                Some(StackCommand::Flood(FloodCommand::Broadcast { size }))
            }
            Job::Broadcast { size, ble: true } => {
                Some(StackCommand::BleMesh(BleCommand::Broadcast { size }))
            }
            Job::Send { size, targets } => {
                let to = self.peer(sender, targets)?;
                Some(StackCommand::BleMesh(BleCommand::Send { to, size }))
            }
            Job::Publish {
                topic,
                size,
                libp2p,
            } => Some(if libp2p {
                StackCommand::Libp2p(Libp2pCommand::Publish { topic, size })
            } else {
                StackCommand::Gossip(GossipCommand::Publish { topic, size })
            }),
            Job::Dht { op, key, libp2p } => {
                let key = self.key(key);
                let cmd = match op {
                    DhtOp::Lookup(LookupSpec::FindNode) => DhtCommand::FindNode(key),
                    DhtOp::Lookup(LookupSpec::GetValue) => DhtCommand::GetValue(key),
                    DhtOp::Lookup(LookupSpec::GetProviders) => DhtCommand::GetProviders(key),
                    DhtOp::Put(value_size) => DhtCommand::PutValue { key, value_size },
                    DhtOp::Provide => DhtCommand::AddProvider(key),
                };
                Some(if libp2p {
                    StackCommand::Libp2p(Libp2pCommand::Dht(cmd))
                } else {
                    StackCommand::Dht(cmd)
                })
            }
            Job::Ping { size, targets } => {
                let to = self.peer(sender, targets)?;
                Some(StackCommand::Ping(PingCommand { to, size }))
            }
            Job::Discovery(cmd) => Some(StackCommand::Discovery(cmd)),
            Job::Signaling(cmd) => Some(StackCommand::Signaling(SignalingOrder::Command(cmd))),
            Job::Connect { targets } => {
                let to = self.peer(sender, targets)?;
                let cmd = SignalingCommand::Connect { to };
                Some(StackCommand::Signaling(SignalingOrder::Command(cmd)))
            }
            Job::SendDirect {
                size,
                targets: Some(targets),
            } => {
                let to = self.peer(sender, targets)?;
                let cmd = SignalingCommand::SendDirect { to, size };
                Some(StackCommand::Signaling(SignalingOrder::Command(cmd)))
            }
            Job::SendDirect {
                size,
                targets: None,
            } => {
                let pick = self.rng.next_u32();
                Some(StackCommand::Signaling(SignalingOrder::SendOnChannel {
                    size,
                    pick,
                }))
            }
        }
    }

    /// A node drawn uniformly from `targets`, never `sender` (none if that
    /// leaves no one).
    fn peer(&mut self, sender: u32, targets: Range<u32>) -> Option<NodeId> {
        let skip_self = targets.contains(&sender);
        let choices = targets.len() as u64 - u64::from(skip_self);
        if choices == 0 {
            return None;
        }
        let mut to = targets.start + uniform_below(&mut self.rng, choices) as u32;
        if skip_self && to >= sender {
            to += 1;
        }
        Some(NodeId(to))
    }
}

fn poisson_gap(rng: &mut SimRng, rate_per_sec: f64) -> Duration {
    Duration::from_nanos(exponential_f64(rng, 1e9 / rate_per_sec).round() as u64)
}

impl Source<StackCommand> for Workload {
    fn next(&mut self) -> Option<(Instant, Action<StackCommand>)> {
        loop {
            if self.at >= self.stop {
                return None;
            }
            let at = self.at;
            let sender = if self.each {
                let s = self.cursor;
                self.cursor += 1;
                if self.cursor == self.senders.end {
                    self.cursor = self.senders.start;
                    self.advance();
                }
                s
            } else {
                let span = u64::from(self.senders.end - self.senders.start);
                let s = self.senders.start + uniform_below(&mut self.rng, span) as u32;
                self.advance();
                s
            };
            if let Some(cmd) = self.command(sender) {
                return Some((
                    at,
                    Action::Command {
                        node: NodeId(sender),
                        cmd,
                    },
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::RngStreams;

    fn rng() -> SimRng {
        RngStreams::new(1).stream(sim_core::Domain::Workload, 0, 0)
    }

    #[test]
    fn periodic_each_serves_every_sender_at_every_tick() {
        let every = Arrivals::Every(Duration::from_millis(100));
        let mut w = Workload::new(
            3..5,
            Senders::Each,
            Job::Broadcast {
                size: 10,
                ble: false,
            },
            every,
            Instant::from_nanos(0),
            Instant::from_nanos(250_000_000),
            rng(),
        );
        let got: Vec<_> = std::iter::from_fn(|| w.next())
            .map(|(t, a)| match a {
                Action::Command { node, .. } => (t.as_nanos() / 1_000_000, node.0),
                Action::Fault(_) => unreachable!(),
            })
            .collect();
        assert_eq!(
            got,
            vec![(0, 3), (0, 4), (100, 3), (100, 4), (200, 3), (200, 4)]
        );
    }

    #[test]
    fn poisson_rate_is_right_and_pings_never_target_the_sender() {
        let mut w = Workload::new(
            0..4,
            Senders::OneRandom,
            Job::Ping {
                size: 64,
                targets: 0..4,
            },
            Arrivals::Poisson(50.0),
            Instant::ZERO,
            Instant::from_nanos(200_000_000_000),
            rng(),
        );
        let mut n = 0;
        while let Some((
            _,
            Action::Command {
                node,
                cmd: StackCommand::Ping(p),
            },
        )) = w.next()
        {
            assert_ne!(node, p.to);
            n += 1;
        }
        // 50/s for 200 s: 10,000 expected, sd 100.
        assert!((9_600..=10_400).contains(&n), "{n}");
    }
}
