//! sim-core: p2psim's kernel.
pub mod metrics;
pub mod protocol;
pub mod time;
pub mod units;

pub use metrics::DropCause;
pub use protocol::{NodeId, Observation, Observe, Output, Protocol};
pub use time::{Duration, Instant};
pub use units::{Bandwidth, ByteSize, UnitError};
