//! Application protocols over transports, chosen by a scenario setting.

mod common;

use common::{run_text, shipped};

fn with_transport(transport: &str) -> String {
    let text = std::fs::read_to_string(shipped("gossip-over-raw")).unwrap();
    let group = "protocol: Gossip(topics: [0])";
    assert!(text.contains(group));
    text.replace(group, &format!("{group}, transport: {transport}"))
}

/// The raw adapter changes nothing a run measures: same deliveries, same
/// bytes, same hops.
#[test]
fn gossip_over_the_raw_adapter_is_gossip_on_the_network() {
    let bare = run_text(
        &std::fs::read_to_string(shipped("gossip-over-raw")).unwrap(),
        None,
    );
    let raw = run_text(&with_transport("Raw"), None);
    assert_eq!(bare.summary.deliveries, raw.summary.deliveries);
    assert_eq!(bare.metrics.bytes_sent, raw.metrics.bytes_sent);
    assert_eq!(bare.metrics.packets_sent, raw.metrics.packets_sent);
    assert_eq!(bare.summary.hops_mean, raw.summary.hops_mean);
}

/// Over HTX on 2 % lossy links every message still reaches every
/// subscriber, and the transport's framing, tags and acknowledgements cost
/// bytes and datagrams on top of the application's.
#[test]
fn gossip_over_htx_delivers_everything_and_pays_for_framing() {
    let bare = run_text(
        &std::fs::read_to_string(shipped("gossip-over-raw")).unwrap(),
        None,
    );
    let htx = run_text(
        &std::fs::read_to_string(shipped("gossip-over-htx")).unwrap(),
        None,
    );
    assert_eq!(htx.summary.delivery_ratio, 1.0);
    assert_eq!(htx.summary.deliveries, bare.summary.deliveries);
    // Every application datagram costs at least HTX's 18-byte header,
    // 16-byte tag and 4-byte CRC, and acknowledgements travel too.
    assert!(htx.metrics.bytes_sent > bare.metrics.bytes_sent + 38 * bare.metrics.packets_sent);
    assert!(htx.metrics.packets_sent > bare.metrics.packets_sent);
    assert_eq!(htx.metrics.deliveries_without_send, 0);
}

/// Transports carry IP-style datagrams between named peers, not radio
/// broadcasts: a BLE mesh group with one is refused before the run.
#[test]
fn a_ble_mesh_over_a_transport_is_refused() {
    let text = std::fs::read_to_string(shipped("ble-line"))
        .unwrap()
        .replacen(
            "protocol: BleMesh(ttl: 7),",
            "protocol: BleMesh(ttl: 7), transport: Raw,",
            1,
        );
    let err = scenarios::load::parse(std::path::Path::new("t.ron"), &text).unwrap_err();
    assert!(err.to_string().contains("transport"), "{err}");
}
