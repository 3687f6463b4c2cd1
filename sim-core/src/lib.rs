//! sim-core: p2psim's kernel. It knows no protocol.
//!
//! # A tour
//!
//! - [`time`]: virtual time as integer nanoseconds ([`Instant`], [`Duration`]),
//!   and [`units`]: sizes and rates with units, parsed exactly;
//! - [`protocol`]: the sans-IO [`Protocol`] trait every protocol implements, the
//!   driver's loop, and [`Observe`] (how the metrics learn about messages);
//!   [`datagram`]: the shared bytes a protocol sends;
//! - [`queue`]: the event queue, a monotone radix heap ordered by (time,
//!   insertion sequence);
//! - [`kernel`]: the [`Simulation`] — one event loop, one wake-up per node;
//!   where the network has a lookahead, the nodes of each window of it run
//!   in parallel lanes (`kernel::windows`), with the same results on any
//!   number of threads;
//! - [`network`]: the models between nodes — explicit links on a graph
//!   ([`GraphNetwork`]: latency distribution, jitter, bandwidth and drop-tail
//!   queue, Bernoulli/Gilbert-Elliott loss, MTU), the all-pairs
//!   [`InternetNetwork`] (regions, latency matrix, access links) and the
//!   BLE radio model [`network::RadioNetwork`] (positions, ranges, mobility,
//!   path loss, connection events, a spatial grid for broadcasts);
//! - [`topology`]: generators (line, ring, star, grid, full mesh, Erdős–Rényi,
//!   Barabási–Albert, random geometric, random regular);
//! - [`dist`]: latency distributions and the samplers everything shares;
//! - [`fault`] and [`source`]: scheduled crashes, partitions, link changes,
//!   churn, and lazily generated workload streams;
//! - [`energy`]: batteries and what radio work costs them (bands, empty
//!   batteries take nodes down);
//! - [`rng`]: one ChaCha8 stream per node, link and source, from one seed;
//! - [`metrics`] and [`trace`]: what a run counts, and the trace hash.
//!
//! # Ordering rule
//!
//! Events run by (time, insertion sequence): events due at the same time run
//! first-in first-out. Together with seeded RNG streams and ordered containers
//! this makes a run a pure function of its scenario and seed, summarised by the
//! trace hash. A run in windows numbers a node's wake-ups by node rather
//! than by insertion (see `kernel::windows`), the same way on any number of
//! threads.
//!
//! # Example: two nodes, one lossy link
//!
//! ```
//! use std::collections::VecDeque;
//! use sim_core::network::{GraphNetwork, LinkConfig, Loss};
//! use sim_core::{Dist, Duration, Instant, NodeId, Observation, Observe, Output, Protocol, RngStreams, Simulation};
//!
//! /// Sends one numbered datagram per command; reports each arrival.
//! #[derive(Default)]
//! struct Beacon { out: VecDeque<Output<Note>>, sent: u64 }
//! enum Note { Sent(u64), Got(u64) }
//! impl Observe for Note {
//!     fn observe(&self) -> Option<Observation> {
//!         Some(match *self {
//!             Note::Sent(msg) => Observation::Sent { msg, expected: 1 },
//!             Note::Got(msg) => Observation::Delivered { msg, hops: 1 },
//!         })
//!     }
//! }
//! impl Protocol for Beacon {
//!     type Command = NodeId;
//!     type Event = Note;
//!     fn handle_datagram(&mut self, _now: Instant, _from: NodeId, bytes: &[u8]) {
//!         match bytes.try_into() {
//!             Ok(id) => self.out.push_back(Output::Event(Note::Got(u64::from_be_bytes(id)))),
//!             Err(_) => self.out.push_back(Output::Drop {
//!                 from: _from, len: bytes.len(), cause: sim_core::DropCause::Malformed,
//!             }),
//!         }
//!     }
//!     fn handle_command(&mut self, _now: Instant, to: NodeId) {
//!         self.out.push_back(Output::Event(Note::Sent(self.sent)));
//!         self.out.push_back(Output::Transmit { to, bytes: self.sent.to_be_bytes().into() });
//!         self.sent += 1;
//!     }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn poll_output(&mut self) -> Option<Output<Note>> { self.out.pop_front() }
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//! }
//!
//! let streams = RngStreams::new(42);
//! let mut net = GraphNetwork::new(2, streams);
//! let link = LinkConfig {
//!     latency: Dist::Constant(Duration::from_millis(20)),
//!     loss: Loss::Bernoulli { p: 0.1 },
//!     ..LinkConfig::default()
//! };
//! net.add_link(NodeId(0), NodeId(1), link.clone(), link);
//! let mut sim = Simulation::new(streams, net, Box::new(|_, _| Beacon::default()));
//! for k in 0..1000 {
//!     sim.schedule_command(Instant::from_nanos(k * 1_000_000), NodeId(0), NodeId(1));
//! }
//! sim.run_until(Instant::from_nanos(2_000_000_000));
//! let summary = sim.metrics().summary();
//! assert_eq!(summary.messages, 1000);
//! assert!((850..950).contains(&summary.deliveries)); // about 10 % lost
//! assert_eq!(summary.latency.p50, 20.0);
//! ```
#![warn(missing_docs, missing_debug_implementations)]
pub mod datagram;
pub mod dist;
pub mod energy;
pub mod fault;
pub mod kernel;
pub mod metrics;
pub mod network;
pub mod protocol;
pub mod queue;
pub mod rng;
pub mod source;
pub mod time;
pub mod topology;
pub mod trace;
pub mod units;

pub use datagram::Datagram;
pub use dist::Dist;
pub use energy::{Battery, ByteCost, EnergyProfile};
pub use fault::{Churn, Fault};
pub use kernel::{Builder, Simulation, TraceSink};
pub use metrics::{DeliveryRecord, DropCause, Metrics, Summary};
pub use network::{GraphNetwork, InternetNetwork, LinkConfig, Network};
pub use protocol::{
    prefetch, prefetch_bytes, BatteryLevel, NodeId, Observation, Observe, Output, Protocol,
};
pub use queue::EventQueue;
pub use rng::{Domain, RngStreams, SimRng};
pub use source::{Action, Script, Source};
pub use time::{Duration, Instant};
pub use topology::Topology;
pub use trace::{TraceHash, TraceKind, TraceRecord};
pub use units::{Bandwidth, ByteSize, UnitError};
