//! scenarios: RON scenario files, their validation, the runner that turns a
//! scenario into a simulation, and the `p2psim` command line.
//!
//! # A tour
//!
//! - [`schema`]: what a scenario file may say (serde types, unknown fields
//!   rejected, quantities with units);
//! - [`load`]: parsing and validation, with errors that name the file, line and
//!   column ([`error::ScenarioError`]);
//! - [`build`]: from a scenario to a [`sim_core::Simulation`] — the network
//!   model, the node groups and their protocol [`stack`] (on the network, or
//!   over a [`transport`]: HTX or QUIC), the [`workload`] sources and the
//!   faults;
//! - [`run`]: running it and collecting an [`run::Outcome`];
//! - [`services`]: what discovery registries and signaling servers did
//!   (staleness, load, cost, joins, set-up times), from the run's events;
//! - [`results`]: the outcome as the report's tables ([`reports::RunData`]);
//! - [`trace_file`]: `--trace FILE`, the ordered event log as CSV;
//! - [`sweep`]: `p2psim sweep` and `p2psim merge`: a scenario's parameters ×
//!   values × replications, run in parallel, sharded, resumed, merged.
//!
//! ```
//! use std::path::Path;
//! let text = r#"(
//!     name: "two",
//!     seed: 1,
//!     duration: "1s",
//!     network: Graph(topology: Line, link: (latency: Constant("10ms"))),
//!     groups: [(name: "a", count: 2, protocol: Ping())],
//!     workload: [(group: "a", action: Ping(size: "100B", to: Node(1)),
//!                 arrivals: Every("100ms"), stop: "500ms")],
//! )"#;
//! let scenario = scenarios::load::parse(Path::new("two.ron"), text).unwrap();
//! let outcome = scenarios::run::run(&scenario, Path::new("two.ron"), text, scenario.seed).unwrap();
//! // A node never pings itself, so only node 0 pings node 1: every round trip
//! // crosses the 10 ms link twice.
//! assert!(outcome.summary.deliveries > 0);
//! assert_eq!(outcome.summary.latency.p50, 20.0); // one 10 ms hop each way
//! ```

#![warn(missing_docs, missing_debug_implementations)]

pub mod build;
pub mod error;
pub mod load;
pub mod network;
pub mod results;
pub mod run;
pub mod schema;
pub mod services;
pub mod stack;
pub mod sweep;
pub mod trace_file;
pub mod transport;
pub mod workload;
