//! The BLE mesh on the radio model, end to end through scenario files:
//! hop limits on a line, relays at most once per message, reachability as
//! the unit-disk graph says, store-and-forward, and energy.

mod common;

use std::collections::BTreeMap;

use common::{run_shipped, run_text};
use sim_core::dist::unit_f64;
use sim_core::{Domain, NodeId, RngStreams};

/// ble-line: phone 0 broadcasts along a line where each phone hears only
/// its neighbours; with TTL 7 every message reaches phones 1..=7 exactly,
/// phone k after k hops.
#[test]
fn on_a_line_a_broadcast_with_ttl_t_reaches_exactly_t_hops() {
    let out = run_shipped("ble-line", None);
    let m = &out.metrics;
    assert_eq!(m.messages.len(), 10);
    let mut reached: BTreeMap<u64, Vec<(u32, u32)>> = BTreeMap::new();
    for d in &m.deliveries {
        reached
            .entry(d.msg)
            .or_default()
            .push((d.destination.0, d.hops));
    }
    for (msg, mut at) in reached {
        at.sort_unstable();
        let want: Vec<(u32, u32)> = (1..=7).map(|k| (k, k)).collect();
        assert_eq!(at, want, "message {msg}");
    }
    assert!((out.summary.delivery_ratio - 7.0 / 11.0).abs() < 1e-12);
}

/// With duplicate suppression a node relays each message at most once, so
/// the radio transmissions of a message (its origin's plus one per relay)
/// never outnumber the nodes it reached plus its origin.
#[test]
fn each_node_relays_a_message_at_most_once() {
    let out = run_shipped("ble-festival", None);
    let m = &out.metrics;
    let messages = m.messages.len() as u64;
    assert!(messages > 200, "{messages} messages");
    for (i, c) in m.nodes.iter().enumerate() {
        assert!(c.relays <= messages, "node {i} relayed {} times", c.relays);
    }
    let relays: u64 = m.nodes.iter().map(|c| c.relays).sum();
    assert!(relays + messages <= m.deliveries.len() as u64 + messages);
    assert!(relays > 0);
    assert_eq!(m.reused_message_ids, 0);
    assert_eq!(m.deliveries_without_send, 0);
}

/// Static phones at random positions, no loss, a TTL larger than any path
/// and no relay cancellation (which trades reach for fewer transmissions):
/// a broadcast from each phone reaches exactly the other members of its
/// connected component in the unit-disk graph of the radio range.
#[test]
fn reach_matches_the_components_of_the_unit_disk_graph() {
    let (n, side, range) = (60usize, 200.0, 28.0);
    let mut rng = RngStreams::new(99).stream(Domain::Topology, 0, 0);
    let points: Vec<(f64, f64)> = (0..n)
        .map(|_| (unit_f64(&mut rng) * side, unit_f64(&mut rng) * side))
        .collect();
    // Components by union-find over all pairs within range.
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for a in 0..n {
        for b in a + 1..n {
            let (dx, dy) = (points[a].0 - points[b].0, points[a].1 - points[b].1);
            if (dx * dx + dy * dy).sqrt() <= range {
                let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
                parent[ra] = rb;
            }
        }
    }
    let component: Vec<usize> = (0..n).map(|i| root(&mut parent, i)).collect();
    let size = |i: usize| component.iter().filter(|&&c| c == component[i]).count();
    let at: Vec<String> = points.iter().map(|(x, y)| format!("({x}, {y})")).collect();
    let text = format!(
        r#"(
            name: "unit-disk", seed: 5, duration: "2m",
            network: Radio(area: ({side}, {side})),
            devices: {{"phone": (ble_range_m: {range})}},
            groups: [(name: "phones", count: {n}, device: "phone",
                      protocol: BleMesh(ttl: 255, dense_degree: 1000, cancel_on_duplicate: false),
                      placement: At([{}]))],
            workload: [(group: "phones", action: Broadcast(size: "20B"),
                        arrivals: Every("1m"), senders: Each, start: "10s", stop: "11s")],
        )"#,
        at.join(", ")
    );
    let out = run_text(&text, None);
    let m = &out.metrics;
    assert_eq!(m.messages.len(), n);
    let mut reached: BTreeMap<u64, usize> = BTreeMap::new();
    for d in &m.deliveries {
        *reached.entry(d.msg).or_default() += 1;
    }
    let pairs_sim: usize = m
        .messages
        .iter()
        .map(|(id, rec)| {
            let got = reached.get(id).copied().unwrap_or(0);
            assert_eq!(got, size(rec.source.index()) - 1, "from {}", rec.source);
            got
        })
        .sum();
    let pairs_graph: usize = (0..n).map(|i| size(i) - 1).sum();
    assert_eq!(pairs_sim, pairs_graph);
    assert!(
        pairs_graph > 0 && pairs_graph < n * (n - 1),
        "a non-trivial case"
    );
}

/// ble-offline: the friend is out of everyone's reach until about 115 s;
/// every message waits in the sender's outbox and is handed over only then.
#[test]
fn store_and_forward_delivers_when_the_recipient_walks_into_range() {
    let out = run_shipped("ble-offline", None);
    let m = &out.metrics;
    assert_eq!(m.messages.len(), 4);
    assert_eq!(m.deliveries.len(), 4);
    for d in &m.deliveries {
        assert_eq!(d.destination, NodeId(5));
        let at = d.delivered_at.as_nanos() as f64 / 1e9;
        // Within 40 m of the sender from (300 − 40 − 15)/285·60 + 60 ≈ 111.6 s.
        assert!((111.0..140.0).contains(&at), "delivered at {at} s");
        assert_eq!(d.hops, 1, "handed over directly by the sender");
    }
}

/// In ble-line every phone's energy is exactly its bytes sent and received
/// times the BLE per-byte costs, plus 10 mW of idle power for the minute.
#[test]
fn energy_is_bytes_times_cost_per_byte_plus_idle() {
    let out = run_shipped("ble-line", None);
    let m = &out.metrics;
    for (i, c) in m.nodes.iter().enumerate() {
        let e = m.energy[i].expect("every phone has a battery");
        let want = c.bytes_sent as f64 * 1.2e-6 + c.bytes_received as f64 * 1.0e-6 + 0.010 * 60.0;
        assert!(
            (e.spent_j - want).abs() < 1e-9,
            "node {i}: {} vs {want}",
            e.spent_j
        );
        assert!(e.emptied_at.is_none());
    }
}

/// ble-festival's wearables start at 30 % and run out; each goes down at
/// the moment its battery empties and stays down.
#[test]
fn wearables_run_out_and_go_down() {
    let out = run_shipped("ble-festival", None);
    let m = &out.metrics;
    let wearables = 460..500;
    for i in wearables.clone() {
        let e = m.energy[i].unwrap();
        assert!(
            e.emptied_at.is_some(),
            "wearable {i} still has {}",
            e.charge
        );
        assert_eq!(e.charge, 0.0);
    }
    for i in 0..460 {
        assert!(m.energy[i].unwrap().emptied_at.is_none(), "phone {i}");
    }
    let emptied = m
        .faults
        .iter()
        .filter(|f| f.kind.name() == "battery_empty")
        .count();
    assert_eq!(emptied, wearables.len());
}
