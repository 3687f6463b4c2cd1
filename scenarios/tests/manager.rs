//! The transport manager in scenarios, on the hybrid network: the seed's
//! selection table end to end, each radio paid its own price, and the
//! transport-selection sweep.

mod common;

use std::path::Path;

use common::{run_shipped, run_text};
use reports::data::TransportRow;
use scenarios::load::parse;
use scenarios::results::run_data;
use scenarios::run::Outcome;

/// Two phones 10 m apart (Bluetooth neighbours), a laptop 150 m away (out
/// of Bluetooth range) and a relay server; phone 0 pings phone 1 with 300
/// B, then the laptop with 6 KiB and 40 KiB, at the `battery` it starts
/// with and under `policy`. The pings wait three minutes, long enough for
/// the phones to hear each other's announces even on a low battery (one a
/// minute, scanning 2 s in 10): the manager sends over the mesh only to
/// peers it knows are there.
fn plaza(battery: f64, policy: &str) -> String {
    format!(
        r#"(
    name: "plaza", seed: 3, duration: "4m",
    network: Hybrid(
        core: (regions: ["city"], latency: [["15ms"]]),
        access: {{"wifi": ()}},
        radio: (area: (200, 200)),
    ),
    devices: {{
        "phone": (kind: Mobile, ble_range_m: 30),
        "laptop": (kind: Desktop, ble_range_m: 30),
    }},
    groups: [
        (name: "phones", count: 2, device: "phone", battery: {battery}, protocol: Ping(timeout: "15s"),
         transport: Manager(relay: "relay", config: (policy: {policy})),
         placement: At([(0, 0), (10, 0)])),
        (name: "laptop", count: 1, device: "laptop", protocol: Ping(timeout: "15s"),
         transport: Manager(relay: "relay", config: (policy: {policy})), placement: At([(150, 150)])),
        (name: "relay", count: 1, protocol: Ping(timeout: "15s"),
         transport: Manager(config: (device: Server, mesh: None, policy: {policy}))),
    ],
    workload: [
        (group: "phones", senders: Each, action: Ping(size: "300B", to: Node(1)), arrivals: Every("1h"), start: "3m"),
        (group: "phones", senders: Each, action: Ping(size: "6KiB", to: Node(2)), arrivals: Every("1h"), start: "3m10s"),
        (group: "phones", senders: Each, action: Ping(size: "40KiB", to: Node(2)), arrivals: Every("1h"), start: "3m20s"),
    ],
)"#
    )
}

fn rows(text: &str) -> (Outcome, Vec<TransportRow>) {
    let out = run_text(text, None);
    let scenario = parse(Path::new("plaza.ron"), text).unwrap();
    let rows = run_data(&out, &scenario, text).transports;
    (out, rows)
}

/// A message as these tests look at it: recipient, size class (0: under 1
/// KiB, 1: to 10 KiB, 2: above), first transport, transport delivered by,
/// outcome.
type Seen<'a> = (u32, u64, Option<&'a str>, Option<&'a str>, &'a str);

/// Phone 0's requests (not the replies).
fn requests_of_phone_0(rows: &[TransportRow]) -> Vec<Seen<'_>> {
    rows.iter()
        .filter(|r| r.node == 0 && r.to != 0)
        .map(|r| {
            let class = match r.bytes {
                0..1024 => 0,
                1024..10_240 => 1,
                _ => 2,
            };
            (
                r.to,
                class,
                r.first.as_deref(),
                r.via.as_deref(),
                r.outcome.as_str(),
            )
        })
        .collect()
}

/// At full charge the seed's size rule decides among what reaches the peer
/// (no quality estimate yet for a first message): BitChat for a small
/// message to a Bluetooth neighbour, BetaNet for 1–10 KiB and QUIC above
/// (the laptop is out of Bluetooth range, so BitChat could not reach it
/// anyway).
#[test]
fn at_full_charge_the_size_rule_picks_bitchat_betanet_and_quic() {
    let (out, rows) = rows(&plaza(0.9, "Seed"));
    assert_eq!(
        requests_of_phone_0(&rows),
        vec![
            (1, 0, Some("BitChat"), Some("BitChat"), "delivered"),
            (2, 1, Some("BetaNet"), Some("BetaNet"), "delivered"),
            (2, 2, Some("Quic"), Some("Quic"), "delivered"),
        ]
    );
    // Every ping was answered: phone 0's three, phone 1's two to the
    // laptop (it does not ping itself).
    assert_eq!(out.summary.messages, 5);
    assert_eq!(out.summary.deliveries, 5);
}

/// Below 20 % the seed allows BitChat only: the neighbour is still reached
/// over the mesh, the laptop out of Bluetooth range is not reached at all.
/// (A phone this low announces once a minute, beyond the mesh's default
/// 30 s neighbour timeout, so the neighbours are kept for 5 min here.)
#[test]
fn on_a_low_battery_only_bitchat_is_allowed() {
    let text = plaza(0.15, "Seed").replace(
        "config: (policy: Seed)),\n         placement: At([(0, 0)",
        "config: (policy: Seed, mesh: (neighbour_timeout: \"5m\"))),\n         placement: At([(0, 0)",
    );
    assert!(text.contains("5m"));
    let (_, rows) = rows(&text);
    assert_eq!(
        requests_of_phone_0(&rows),
        vec![
            (1, 0, Some("BitChat"), Some("BitChat"), "delivered"),
            (2, 1, None, None, "no_route"),
            (2, 2, None, None, "no_route"),
        ]
    );
}

/// A policy written out as data, its rules left at their defaults and its
/// precedence spelled out as the seed's, is the seed's: the same run, to the
/// trace hash.
#[test]
fn the_seed_policy_as_data_is_the_seed_policy() {
    let named = run_text(&plaza(0.15, "Seed"), None);
    let written = "Custom(precedence: [Priority, Quality, Size, Battery, Device])";
    let data = run_text(&plaza(0.15, written), None);
    assert_eq!(named.trace_hash, data.trace_hash);
}

/// A fixed policy ignores the battery: QUIC for everything.
#[test]
fn a_fixed_policy_ignores_size_and_battery() {
    let (_, rows) = rows(&plaza(0.15, "Fixed(Quic)"));
    let firsts: Vec<_> = requests_of_phone_0(&rows)
        .into_iter()
        .map(|r| (r.2, r.4))
        .collect();
    assert_eq!(firsts, vec![(Some("Quic"), "delivered"); 3]);
}

/// Known answer for energy on two interfaces: with everything on Bluetooth
/// (BitChat only, between neighbours) a phone pays BLE's 1.2 µJ per byte
/// sent and 1.0 received; with everything on Wi-Fi (BetaNet, no mesh held)
/// Wi-Fi's 6.8 µJ both ways; and the idle power of the radios it holds
/// (BLE 10 mW and Wi-Fi 50 mW) all the time. The pings start after the
/// phones have heard each other's announces (every 10 s at full charge).
#[test]
fn each_radio_is_paid_its_own_price() {
    for (transport, ble, wifi, tx_uj, rx_uj) in [
        (
            "Manager(config: (policy: Fixed(BitChat)))",
            true,
            true,
            1.2,
            1.0,
        ),
        (
            "Manager(config: (policy: Fixed(BetaNet), mesh: None))",
            false,
            true,
            6.8,
            6.8,
        ),
    ] {
        let text = format!(
            r#"(
    name: "pair", seed: 5, duration: "40s",
    network: Hybrid(core: (regions: ["here"], latency: [["10ms"]]), access: {{"wifi": ()}},
                    radio: (area: (50, 50))),
    devices: {{"phone": ()}},
    groups: [(name: "phones", count: 2, device: "phone", protocol: Ping(),
              transport: {transport}, placement: At([(0, 0), (10, 0)]))],
    workload: [(group: "phones", action: Ping(size: "200B", to: Group("phones")),
                arrivals: Every("500ms"), start: "30s", stop: "39s")],
)"#
        );
        let out = run_text(&text, None);
        assert!(
            out.summary.deliveries >= 15,
            "{transport}: {:?}",
            out.summary
        );
        let idle_w = if ble { 0.010 } else { 0.0 } + if wifi { 0.050 } else { 0.0 };
        for (i, c) in out.metrics.nodes.iter().enumerate() {
            let spent = out.metrics.energy[i].unwrap().spent_j;
            let want = c.bytes_sent as f64 * tx_uj * 1e-6
                + c.bytes_received as f64 * rx_uj * 1e-6
                + idle_w * 40.0;
            assert!(
                (spent - want).abs() < 1e-9,
                "{transport}: node {i} spent {spent} J, expected {want} J"
            );
        }
    }
}

/// mobile-mix, the shipped scenario: every transport the seed's policy
/// picks is used, and almost every message is acknowledged.
#[test]
fn mobile_mix_uses_the_mesh_betanet_and_quic() {
    let text = std::fs::read_to_string(common::shipped("mobile-mix")).unwrap();
    let scenario = parse(Path::new("mobile-mix.ron"), &text).unwrap();
    let out = run_shipped("mobile-mix", None);
    let t = run_data(&out, &scenario, &text).summary.transports;
    assert!(t.delivery_ratio > 0.99, "{t:?}");
    assert!(
        t.chosen.bitchat > 0 && t.chosen.betanet > 0 && t.chosen.quic > 0,
        "{t:?}"
    );
    assert_eq!(t.no_route + t.queue_dropped, 0, "{t:?}");
}
