//! sim-core: p2psim's kernel.
pub mod dist;
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

pub use dist::Dist;
pub use fault::{Churn, Fault};
pub use kernel::{Builder, Simulation, TraceSink};
pub use metrics::{DeliveryRecord, DropCause, Metrics, Summary};
pub use network::{GraphNetwork, InternetNetwork, LinkConfig, Network};
pub use protocol::{NodeId, Observation, Observe, Output, Protocol};
pub use queue::EventQueue;
pub use rng::{Domain, RngStreams, SimRng};
pub use source::{Action, Script, Source};
pub use time::{Duration, Instant};
pub use topology::Topology;
pub use trace::{TraceHash, TraceKind, TraceRecord};
pub use units::{Bandwidth, ByteSize, UnitError};
