//! CSV tables of a run.

use std::io;
use std::path::Path;

use sim_core::DeliveryRecord;

use crate::atomic::write_atomic;

/// The header of `deliveries.csv`; times in nanoseconds of virtual time,
/// latency in milliseconds.
pub const DELIVERIES_HEADER: [&str; 7] = [
    "message",
    "source",
    "destination",
    "sent_ns",
    "delivered_ns",
    "latency_ms",
    "hops",
];

/// Writes one row per delivery to `path`, atomically.
pub fn write_deliveries(path: &Path, deliveries: &[DeliveryRecord]) -> io::Result<()> {
    write_atomic(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(DELIVERIES_HEADER)?;
        for d in deliveries {
            csv.write_record([
                d.msg.to_string(),
                d.source.0.to_string(),
                d.destination.0.to_string(),
                d.sent_at.as_nanos().to_string(),
                d.delivered_at.as_nanos().to_string(),
                format!("{:.6}", d.latency().as_millis_f64()),
                d.hops.to_string(),
            ])?;
        }
        csv.flush()
    })
}
