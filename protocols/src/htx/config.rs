//! What a scenario can tune about [`Htx`](super::Htx).
//!
//! Each default names its source: the seed (the `betanet` block of
//! `004_c56df279e838b0ea.txt`: `compression: lz4`, `encryption:
//! aes-256-gcm`, `max_frame_size: 65536`), RFC 6298 for the retransmission
//! timer, RFC 9000 for the acknowledgement delay, or "ours".

use sim_core::{ByteSize, Duration};

use super::frame::{HEADER_LEN, MAX_PAYLOAD_LEN, TAG_LEN, TRAILER_LEN};

/// The smallest frame [`HtxConfig::max_frame_size`] is raised to: room for
/// the header, the tag, the CRC and some data.
pub const MIN_FRAME_SIZE: u64 = 64;

/// The most data frames a receiver accepts ahead of the first one it is
/// missing; [`HtxConfig::max_frames_in_flight`] is capped at this.
pub const MAX_FRAMES_AHEAD: u32 = 1 << 16;

/// How frames are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Encryption {
    /// X25519 key agreement, HKDF-SHA256, AES-256-GCM (the seed's
    /// `aes-256-gcm`).
    Aes256Gcm,
    /// The same bytes on the wire — 32-byte hello keys, a 16-byte tag on
    /// every sealed frame — but no cipher work: the keys are random bytes and
    /// the tag is zeros. For runs too large to pay for real cryptography.
    Modelled,
}

/// Whether data frames are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Compression {
    /// LZ4 (the seed's `lz4`), used for a frame only when it makes the frame
    /// smaller.
    Lz4,
    /// Data is sent as it is.
    None,
}

/// HTX's parameters, as a scenario file writes them.
///
/// Every field has a default, so an empty map is a valid config; an unknown
/// field is an error. Out-of-range sizes are clamped where they are used
/// (see each field), never rejected, so [`Htx::new`](super::Htx::new) cannot
/// fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HtxConfig {
    /// Frame protection. Default `aes-256-gcm` (the seed). Both ends must
    /// agree: a frame in the other mode is rejected.
    pub encryption: Encryption,
    /// Data compression. Default `lz4` (the seed).
    pub compression: Compression,
    /// The largest frame this node sends, header, tag and CRC included;
    /// larger application messages are split over several data frames.
    /// Clamped to 64 B … 16 MiB + 21 B (what the 24-bit length field can
    /// describe). Default 65,536 B (the seed's `max_frame_size`). Set it to
    /// the path MTU where the network model drops larger datagrams.
    pub max_frame_size: ByteSize,
    /// The receive buffer this node offers each peer: a peer may have at
    /// most this many data bytes sent and not yet delivered here. Credit is
    /// renewed once half of it is used (Betanet's rule). Clamped to
    /// 1 B … 4 GiB − 1. Default 256 KiB (ours).
    pub receive_window: ByteSize,
    /// The most data frames sent and not yet cumulatively acknowledged, per
    /// peer (the sliding send window). Clamped to 1 … 65,536. Default 64
    /// (ours).
    pub max_frames_in_flight: u32,
    /// How long a receiver may hold back the acknowledgement of an in-order
    /// data frame, waiting for a second one to acknowledge both; out-of-order
    /// and duplicate frames are acknowledged at once. Default 25 ms
    /// (RFC 9000's `max_ack_delay`).
    pub ack_delay: Duration,
    /// The retransmission timeout before the first RTT sample. Default 1 s
    /// (RFC 6298, 2.1).
    pub initial_rto: Duration,
    /// The least retransmission timeout. Default 1 s (RFC 6298, 2.4).
    pub min_rto: Duration,
    /// The most retransmission timeout, however often it backs off.
    /// Default 60 s (RFC 6298, 2.5).
    pub max_rto: Duration,
    /// A connection that hears nothing from its peer for this long is
    /// closed (a `close` frame is sent); what it had not delivered is lost.
    /// Default 60 s (ours, as the seed's QUIC `idle_timeout`).
    pub idle_timeout: Duration,
    /// An established connection that has sent nothing for this long sends
    /// a `ping` (answered by an acknowledgement), which keeps both ends from
    /// idling out. Zero turns keep-alives off. Default 0 (ours: a large run
    /// should not tick for idle peers).
    pub keepalive: Duration,
}

impl Default for HtxConfig {
    fn default() -> Self {
        HtxConfig {
            encryption: Encryption::Aes256Gcm,
            compression: Compression::Lz4,
            max_frame_size: ByteSize(65_536),
            receive_window: ByteSize(256 << 10),
            max_frames_in_flight: 64,
            ack_delay: Duration::from_millis(25),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_secs(1),
            max_rto: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            keepalive: Duration::ZERO,
        }
    }
}

impl HtxConfig {
    /// The most application bytes one data frame carries:
    /// [`max_frame_size`](Self::max_frame_size), clamped, less the header,
    /// the tag and the CRC.
    pub fn data_capacity(&self) -> usize {
        let largest = (MAX_PAYLOAD_LEN + HEADER_LEN + TRAILER_LEN) as u64;
        let frame = self.max_frame_size.0.clamp(MIN_FRAME_SIZE, largest);
        frame as usize - HEADER_LEN - TAG_LEN - TRAILER_LEN
    }

    /// [`receive_window`](Self::receive_window), clamped.
    pub fn window(&self) -> u32 {
        self.receive_window.0.clamp(1, u64::from(u32::MAX)) as u32
    }

    /// [`max_frames_in_flight`](Self::max_frames_in_flight), clamped.
    pub fn frames_in_flight(&self) -> u32 {
        self.max_frames_in_flight.clamp(1, MAX_FRAMES_AHEAD)
    }

    pub(super) fn modelled(&self) -> bool {
        self.encryption == Encryption::Modelled
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    fn from_map(fields: &[(&'static str, &'static str)]) -> Result<HtxConfig, Error> {
        HtxConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        assert_eq!(from_map(&[]), Ok(HtxConfig::default()));
        assert_eq!(
            from_map(&[
                ("encryption", "Modelled"),
                ("compression", "None"),
                ("max_frame_size", "1200B"),
                ("idle_timeout", "5m"),
            ]),
            Ok(HtxConfig {
                encryption: Encryption::Modelled,
                compression: Compression::None,
                max_frame_size: ByteSize(1200),
                idle_timeout: Duration::from_secs(300),
                ..HtxConfig::default()
            })
        );
    }

    #[test]
    fn the_seeds_choices_are_the_defaults() {
        let seed = from_map(&[
            ("encryption", "Aes256Gcm"),
            ("compression", "Lz4"),
            ("max_frame_size", "64KiB"),
        ]);
        assert_eq!(seed, Ok(HtxConfig::default()));
    }

    #[test]
    fn unknown_fields_and_values_are_errors() {
        assert!(from_map(&[("max_frame", "1KiB")]).is_err());
        assert!(from_map(&[("encryption", "chacha20")]).is_err());
        assert!(from_map(&[("max_frame_size", "1200")]).is_err());
    }

    #[test]
    fn sizes_are_clamped_where_they_are_used() {
        let default = HtxConfig::default();
        assert_eq!(default.data_capacity(), 65_536 - 18 - 16 - 4);
        let tiny = HtxConfig {
            max_frame_size: ByteSize(1),
            receive_window: ByteSize(0),
            max_frames_in_flight: 0,
            ..default
        };
        assert_eq!(tiny.data_capacity(), 64 - 18 - 16 - 4);
        assert_eq!(tiny.window(), 1);
        assert_eq!(tiny.frames_in_flight(), 1);
        let huge = HtxConfig {
            max_frame_size: ByteSize(u64::MAX),
            receive_window: ByteSize(u64::MAX),
            max_frames_in_flight: u32::MAX,
            ..default
        };
        assert_eq!(huge.data_capacity(), (1 << 24) - 1 - 16);
        assert_eq!(huge.window(), u32::MAX);
        assert_eq!(huge.frames_in_flight(), MAX_FRAMES_AHEAD);
    }
}
