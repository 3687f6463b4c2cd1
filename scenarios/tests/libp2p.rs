//! Known answers for GossipSub, Kademlia and the libp2p network, run as
//! scenarios through the kernel.

mod common;

use common::{run_shipped, run_text};

/// An internet model with one region and a constant latency, so that the
/// first copy of a message to arrive is one with the fewest hops.
fn flat_internet(overlay: &str) -> String {
    format!(
        r#"Internet(
            core: (regions: ["r"], latency: [["10ms"]]),
            access: {{"a": ()}},
            overlay: {overlay},
        )"#
    )
}

/// No loss, no churn: every subscriber gets every message, and the mean hop
/// count stays within ⌈ln N / ln D⌉ + 1 (a D-regular mesh's diameter bound).
#[test]
fn gossip_delivers_everything_within_the_mesh_hop_bound() {
    let n = 600u32;
    let text = format!(
        r#"(
            name: "gossip-known", seed: 5, duration: "30s",
            network: {},
            groups: [(name: "peers", count: {n}, protocol: Gossip(topics: [0]))],
            workload: [(group: "peers", action: Publish(topic: 0, size: "256B"), arrivals: Every("500ms"), start: "3s", stop: "23s")],
        )"#,
        flat_internet("RandomRegular(degree: 16)")
    );
    let o = run_text(&text, None);
    assert_eq!(o.summary.messages, 40);
    assert_eq!(o.summary.delivery_ratio, 1.0, "{:?}", o.summary);
    let d = 6.0f64;
    let bound = ((n as f64).ln() / d.ln()).ceil() + 1.0;
    assert!(
        o.summary.hops_mean <= bound,
        "mean hops {} > {bound}",
        o.summary.hops_mean
    );
    assert!(o.metrics.deliveries_without_send == 0 && o.metrics.reused_message_ids == 0);
}

/// Lookups of stored keys succeed (≥ 99 %) with no churn.
#[test]
fn kademlia_finds_stored_records() {
    let text = format!(
        r#"(
            name: "dht-known", seed: 9, duration: "60s",
            network: {},
            groups: [(name: "nodes", count: 1000, protocol: Dht(warm_start: true))],
            workload: [
                (group: "nodes", action: Put(key: Sequence(200), size: "100B"), arrivals: Every("50ms"), start: "1s", stop: "11s"),
                (group: "nodes", action: Lookup(kind: GetValue, key: Stored(200)), arrivals: Every("40ms"), start: "20s", stop: "40s"),
            ],
        )"#,
        flat_internet("None")
    );
    let o = run_text(&text, None);
    let gets = o
        .metrics
        .lookups
        .values()
        .filter(|l| l.started_at.as_nanos() >= 20_000_000_000)
        .count();
    let found = o
        .metrics
        .lookups
        .values()
        .filter(|l| l.started_at.as_nanos() >= 20_000_000_000 && l.done.is_some_and(|d| d.success))
        .count();
    assert_eq!(gets, 500);
    assert!(
        found * 100 >= gets * 99,
        "{found}/{gets} stored records found"
    );
}

/// Mean lookup hops grow with log N (warm tables, FIND_NODE of random keys).
#[test]
fn kademlia_hops_grow_with_log_n() {
    let mean_hops = |n: u32| {
        let text = format!(
            r#"(
                name: "dht-scale", seed: 4, duration: "20s",
                network: {},
                groups: [(name: "nodes", count: {n}, protocol: Dht(warm_start: true))],
                workload: [(group: "nodes", action: Lookup(kind: FindNode, key: Random), arrivals: Every("20ms"), start: "1s", stop: "11s")],
            )"#,
            flat_internet("None")
        );
        let s = run_text(&text, None).summary.lookups;
        assert_eq!(s.succeeded, s.started, "every lookup ends successfully");
        s.hops_mean
    };
    let hops: Vec<f64> = [250, 1000, 4000].into_iter().map(mean_hops).collect();
    assert!(hops[0] < hops[1] && hops[1] < hops[2], "{hops:?}");
}

/// The shipped libp2p network: workers join through the bootstrap nodes,
/// find their gossip peers through the DHT, and every worker gets every task.
#[test]
fn libp2p_network_delivers_every_task() {
    let o = run_shipped("libp2p-network", None);
    assert_eq!(o.summary.delivery_ratio, 1.0);
    assert_eq!(o.summary.lookups.succeeded, o.summary.lookups.started);
}
