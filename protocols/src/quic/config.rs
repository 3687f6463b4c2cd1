//! What a scenario can tune about [`Quic`](super::Quic).

use sim_core::Duration;

/// The congestion controller a connection runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CongestionControl {
    /// NewReno as RFC 9002 §7 and Appendix B specify it.
    #[default]
    NewReno,
    /// CUBIC (RFC 9438), with its Reno-friendly region.
    Cubic,
}

/// The QUIC endpoint's parameters, as a scenario file writes them.
///
/// Every field has a default, so an empty map is a valid config; an unknown
/// field is an error. Sizes are in bytes. The transport parameters among
/// them (`initial_max_*`, `idle_timeout`, `max_ack_delay`,
/// `max_datagram_frame_size`) are what this endpoint advertises to its
/// peers in the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuicConfig {
    /// The largest UDP payload this endpoint sends (RFC 9002's
    /// `max_datagram_size`), which sets the initial and minimum congestion
    /// windows. At least 1200 (RFC 9000 §14); smaller values are raised to
    /// 1200. Default 1200.
    pub max_datagram_size: u16,
    /// `initial_max_data`: how many bytes of stream data the peer may send
    /// on a connection before this endpoint raises the limit (MAX_DATA).
    /// The limit is raised by this window as data is consumed. Default
    /// 16 MiB.
    pub initial_max_data: u64,
    /// `initial_max_stream_data_uni`: the same, per stream
    /// (MAX_STREAM_DATA). Default 4 MiB.
    pub initial_max_stream_data: u64,
    /// `initial_max_streams_uni`: how many streams (messages) the peer may
    /// have open at once; finished streams are replaced (MAX_STREAMS).
    /// Default 100.
    pub max_concurrent_streams: u64,
    /// `max_idle_timeout`: a connection that hears nothing for the smaller
    /// of the two endpoints' values (and at least 3 PTOs) closes
    /// silently. Default 30 s.
    pub idle_timeout: Duration,
    /// `max_ack_delay`: the longest this endpoint delays an
    /// acknowledgement of application data. Default 25 ms.
    pub max_ack_delay: Duration,
    /// Acknowledge application data at once after this many ack-eliciting
    /// packets (RFC 9000 §13.2.2 recommends 2). Default 2.
    pub ack_eliciting_threshold: u32,
    /// The congestion controller. Default `new_reno`.
    pub congestion_control: CongestionControl,
    /// Whether to pace packets at 1.25 · cwnd / smoothed RTT (RFC 9002
    /// §7.7). Default true.
    pub pacing: bool,
    /// Whether to send 0-RTT data with a ticket from an earlier connection
    /// (as a client) and accept it (as a server). Default true.
    pub zero_rtt: bool,
    /// How long a session ticket this endpoint issues stays valid. Default
    /// 1 day.
    pub ticket_lifetime: Duration,
    /// The size of the server's certificate chain in its Certificate
    /// message (a leaf and an intermediate, ECDSA P-256). Default 1500.
    pub certificate_chain: u32,
    /// `max_datagram_frame_size` (RFC 9221): the largest DATAGRAM frame
    /// this endpoint accepts; 0 refuses datagrams. Default 65535.
    pub max_datagram_frame_size: u16,
    /// How many unreliable datagrams may wait for congestion window per
    /// connection; the oldest is dropped when a new one would exceed it.
    /// Default 64.
    pub datagram_queue: u32,
}

impl Default for QuicConfig {
    fn default() -> Self {
        QuicConfig {
            max_datagram_size: 1200,
            initial_max_data: 16 << 20,
            initial_max_stream_data: 4 << 20,
            max_concurrent_streams: 100,
            idle_timeout: Duration::from_secs(30),
            max_ack_delay: Duration::from_millis(25),
            ack_eliciting_threshold: 2,
            congestion_control: CongestionControl::NewReno,
            pacing: true,
            zero_rtt: true,
            ticket_lifetime: Duration::from_secs(24 * 3600),
            certificate_chain: 1500,
            max_datagram_frame_size: u16::MAX,
            datagram_queue: 64,
        }
    }
}

impl QuicConfig {
    /// The maximum datagram size, raised to 1200 if set lower.
    pub(crate) fn mds(&self) -> u64 {
        u64::from(self.max_datagram_size.max(1200))
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    fn from_map(fields: &[(&'static str, &'static str)]) -> Result<QuicConfig, Error> {
        QuicConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        assert_eq!(from_map(&[]), Ok(QuicConfig::default()));
        assert_eq!(
            from_map(&[("idle_timeout", "10s"), ("max_ack_delay", "5ms")]),
            Ok(QuicConfig {
                idle_timeout: Duration::from_secs(10),
                max_ack_delay: Duration::from_millis(5),
                ..QuicConfig::default()
            })
        );
        assert_eq!(
            from_map(&[("congestion_control", "cubic")]).map(|c| c.congestion_control),
            Ok(CongestionControl::Cubic)
        );
    }

    #[test]
    fn unknown_fields_are_errors() {
        assert!(from_map(&[("idle_timout", "10s")]).is_err());
    }
}
