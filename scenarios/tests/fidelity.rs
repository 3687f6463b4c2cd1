//! Known answers for whole scenarios.

mod common;

use std::collections::BTreeSet;

use common::run_text;

/// A flood from node 0 on a line of 20 nodes with hop limit h reaches exactly
/// nodes 0..=h (the origin and the next h), node k after k hops.
#[test]
fn flood_on_a_line_reaches_exactly_hop_limit_plus_one() {
    for h in [0u8, 1, 2, 5, 7, 12, 19] {
        let text = format!(
            r#"(
                name: "line", seed: 3, duration: "2s",
                network: Graph(topology: Line, link: (latency: Uniform(min: "1ms", max: "9ms"))),
                groups: [
                    (name: "origin", count: 1, protocol: Flood(hop_limit: {h})),
                    (name: "rest", count: 19, protocol: Flood(hop_limit: {h})),
                ],
                workload: [(group: "origin", action: Broadcast(size: "32B"), arrivals: Every("10s"))],
            )"#
        );
        let outcome = run_text(&text, None);
        let reached: BTreeSet<u32> = outcome
            .metrics
            .deliveries
            .iter()
            .map(|d| d.destination.0)
            .collect();
        let want: BTreeSet<u32> = (1..=u32::from(h)).collect();
        assert_eq!(reached, want, "hop limit {h}");
        assert!(
            outcome
                .metrics
                .deliveries
                .iter()
                .all(|d| d.hops == d.destination.0),
            "hop limit {h}: hops = distance"
        );
        assert_eq!(outcome.summary.messages, 1);
    }
}

/// A ping over one link with constant latency and no loss takes exactly
/// two link latencies plus the serialization of request and reply.
#[test]
fn ping_round_trip_is_two_latencies_plus_serialization() {
    let text = r#"(
        name: "rtt", seed: 1, duration: "10s",
        network: Graph(topology: Line, link: (latency: Constant("25ms"), bandwidth: "1Mbps")),
        groups: [(name: "a", count: 1, protocol: Ping()), (name: "b", count: 1, protocol: Ping())],
        workload: [(group: "a", action: Ping(size: "1250B", to: Group("b")), arrivals: Every("1s"))],
    )"#;
    let outcome = run_text(text, None);
    assert_eq!(outcome.summary.deliveries, 10);
    // 1250 B at 1 Mbit/s = 10 ms on the wire, each way.
    for d in &outcome.metrics.deliveries {
        assert_eq!(d.latency().as_nanos(), 2 * (25_000_000 + 10_000_000));
    }
}

/// A partition drops everything across it, and healing restores delivery.
#[test]
fn partition_cuts_and_heal_restores() {
    let text = r#"(
        name: "split", seed: 5, duration: "30s",
        network: Graph(topology: FullMesh, link: (latency: Constant("5ms"))),
        groups: [
            (name: "left", count: 5, protocol: Flood()),
            (name: "right", count: 5, protocol: Flood()),
        ],
        workload: [(group: "left", action: Broadcast(size: "64B"), arrivals: Every("1s"), start: "500ms")],
        faults: [At("10s", Partition([["left"], ["right"]])), At("20s", Heal)],
    )"#;
    let outcome = run_text(text, None);
    for d in &outcome.metrics.deliveries {
        let crosses = d.destination.0 >= 5;
        let during = (10_000_000_000..20_000_000_000).contains(&d.sent_at.as_nanos());
        assert!(!(crosses && during), "delivery across the partition: {d:?}");
    }
    let across_after = outcome
        .metrics
        .deliveries
        .iter()
        .filter(|d| d.destination.0 >= 5 && d.sent_at.as_nanos() > 20_000_000_000)
        .count();
    assert!(across_after > 0, "heal did not restore delivery");
    assert!(outcome.metrics.drops_of(sim_core::DropCause::LinkDown) > 0);
}
