//! Workloads: a scenario's `workload` entries as lazy streams of commands.

use std::ops::Range;

use protocols::flood::FloodCommand;
use protocols::ping::PingCommand;
use sim_core::dist::{exponential_f64, uniform_below};
use sim_core::{Action, Duration, Instant, NodeId, SimRng, Source};

use crate::schema::{Arrivals, Senders};
use crate::stack::StackCommand;

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
    },
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
            rng,
        }
    }

    fn advance(&mut self) {
        self.at = match self.arrivals {
            Arrivals::Every(d) => self.at.saturating_add(d),
            Arrivals::Poisson(rate) => self.at.saturating_add(poisson_gap(&mut self.rng, rate)),
        };
    }

    fn command(&mut self, sender: u32) -> Option<StackCommand> {
        match &self.job {
            Job::Broadcast { size } => {
                Some(StackCommand::Flood(FloodCommand::Broadcast { size: *size }))
            }
            Job::Ping { size, targets } => {
                let skip_self = targets.contains(&sender);
                let choices = targets.len() as u64 - u64::from(skip_self);
                if choices == 0 {
                    return None;
                }
                let mut to = targets.start + uniform_below(&mut self.rng, choices) as u32;
                if skip_self && to >= sender {
                    to += 1;
                }
                Some(StackCommand::Ping(PingCommand {
                    to: NodeId(to),
                    size: *size,
                }))
            }
        }
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
            Job::Broadcast { size: 10 },
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
