use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use sim_core::dist::uniform_below;
use sim_core::{
    DropCause, Duration, Instant, NodeId, Observation, Observe, Output, Protocol, SimRng,
};

use super::wire::{self, Repr, Request, Response};
use super::*;
use crate::test_net::TestNet;

// ----- a heap counter, to measure what a node costs -----

/// Counts the bytes each thread has allocated and not freed, so a test can
/// measure the heap a value holds while other tests run on other threads.
mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
    }

    fn add(n: isize) {
        let _ = LIVE.try_with(|c| c.set(c.get() + n));
    }

    /// Bytes allocated and not freed by this thread so far.
    pub(super) fn live() -> isize {
        LIVE.with(Cell::get)
    }

    pub(super) struct Counting;

    // SAFETY: every call is forwarded to the system allocator unchanged;
    // the counter only observes sizes.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract is System's.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                add(layout.size() as isize);
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as above.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                add(layout.size() as isize);
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) };
            add(-(layout.size() as isize));
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as above.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                add(new_size as isize - layout.size() as isize);
            }
            p
        }
    }
}

#[global_allocator]
static HEAP: heap::Counting = heap::Counting;

// ----- helpers -----

fn rng(seed: u64) -> SimRng {
    SimRng::seed_from_u64(seed)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The default config with the periodic refresh off, so that tests that
/// never advance time are not surprised by it.
fn quiet() -> DhtConfig {
    DhtConfig {
        refresh_interval: Duration::ZERO,
        ..DhtConfig::default()
    }
}

/// A network of `n` nodes with warm-started tables.
fn warm_net(n: u32, config: DhtConfig, seed: u64) -> (TestNet<Dht>, WarmStart) {
    let warm = WarmStart::new((0..n).map(NodeId));
    let mut r = rng(seed);
    let nodes = (0..n)
        .map(|i| {
            let peers = warm.peers_for(NodeId(i), config.k, &mut r);
            Dht::new(NodeId(i), vec![], config, rng(seed ^ (u64::from(i) << 20))).with_peers(peers)
        })
        .collect();
    (TestNet::new(nodes), warm)
}

/// Runs the network, firing timeouts in order, until `until` (no timeout
/// later than that fires).
fn drive(net: &mut TestNet<Dht>, until: Instant) {
    for _ in 0..10_000_000 {
        net.run();
        match net.next_timeout() {
            Some(t) if t <= until => {
                let t = t.max(net.now);
                net.advance_to(t);
            }
            _ => {
                net.advance_to(until.max(net.now));
                net.run();
                return;
            }
        }
    }
    panic!("the network never went quiet");
}

/// A lookup's end, as reported.
#[derive(Clone, Debug)]
struct Done {
    node: NodeId,
    lookup: u64,
    kind: LookupKind,
    hops: u32,
    requests: u32,
    success: bool,
    closest: Vec<NodeId>,
    at: Instant,
}

fn dones(net: &TestNet<Dht>) -> Vec<Done> {
    net.log
        .iter()
        .filter_map(|r| match &r.output {
            Output::Event(DhtEvent::LookupDone {
                lookup,
                kind,
                hops,
                requests,
                success,
                closest,
            }) => Some(Done {
                node: r.node,
                lookup: *lookup,
                kind: *kind,
                hops: *hops,
                requests: *requests,
                success: *success,
                closest: closest.clone(),
                at: r.at,
            }),
            _ => None,
        })
        .collect()
}

/// The lookup a node started last.
fn last_started(net: &TestNet<Dht>, node: NodeId) -> u64 {
    net.events()
        .filter(|(n, _)| *n == node)
        .filter_map(|(_, e)| match e {
            DhtEvent::LookupStarted { lookup, .. } => Some(*lookup),
            _ => None,
        })
        .last()
        .expect("a lookup was started")
}

fn drain(dht: &mut Dht) -> Vec<Output<DhtEvent>> {
    std::iter::from_fn(|| dht.poll_output()).collect()
}

/// The request in a transmit.
fn request_of(output: &Output<DhtEvent>) -> Option<(NodeId, u64, Request)> {
    match output {
        Output::Transmit { to, bytes } => match Repr::from_bytes(bytes).expect("valid bytes") {
            Repr::Request { id, request } => Some((*to, id, request)),
            Repr::Response { .. } => None,
        },
        _ => None,
    }
}

/// `n` nodes that fall in bucket `index` of `local`.
fn in_bucket(local: NodeId, index: u8, n: usize) -> Vec<NodeId> {
    let table = RoutingTable::new(local, 20, 0);
    (1u32..)
        .map(NodeId)
        .filter(|&p| table.bucket_index(p) == Some(index))
        .take(n)
        .collect()
}

fn random_key(r: &mut SimRng) -> Key {
    let bytes: Vec<u8> = (0..4)
        .flat_map(|_| (uniform_below(r, 1 << 32) as u32).to_be_bytes())
        .collect();
    Key::for_name(&bytes)
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    sum / n.max(1) as f64
}

// ----- events, observations, the API -----

#[test]
fn lookups_are_what_the_kernel_observes() {
    let key = Key::for_node(NodeId(1));
    let started = DhtEvent::LookupStarted {
        lookup: 7,
        kind: LookupKind::GetValue,
        key,
    };
    assert_eq!(
        started.observe(),
        Some(Observation::LookupStarted { lookup: 7 })
    );
    let done = DhtEvent::LookupDone {
        lookup: 7,
        kind: LookupKind::GetValue,
        hops: 3,
        requests: 11,
        success: true,
        closest: vec![],
    };
    assert_eq!(
        done.observe(),
        Some(Observation::LookupDone {
            lookup: 7,
            hops: 3,
            requests: 11,
            success: true
        })
    );
    assert_eq!(DhtEvent::PeerAdded(NodeId(2)).observe(), None);
    assert_eq!(DhtEvent::RecordExpired { key }.observe(), None);
}

#[test]
fn a_lookup_with_an_empty_table_ends_at_once() {
    let mut node = Dht::new(NodeId(3), vec![], quiet(), rng(1)).with_initial_lookup_seq(5);
    node.handle_command(
        Instant::ZERO,
        DhtCommand::FindNode(Key::for_node(NodeId(9))),
    );
    let lookup = (3 << 32) | 5;
    assert_eq!(
        drain(&mut node),
        [
            Output::Event(DhtEvent::LookupStarted {
                lookup,
                kind: LookupKind::FindNode,
                key: Key::for_node(NodeId(9))
            }),
            Output::Event(DhtEvent::LookupDone {
                lookup,
                kind: LookupKind::FindNode,
                hops: 0,
                requests: 0,
                success: false,
                closest: vec![]
            }),
        ]
    );
    assert_eq!(node.active_lookups(), 0);
}

#[test]
fn warm_peers_are_silent_added_peers_are_reported() {
    let mut node = Dht::new(NodeId(0), vec![], quiet(), rng(1)).with_peers([NodeId(4), NodeId(5)]);
    assert!(drain(&mut node).is_empty());
    node.handle_command(Instant::ZERO, DhtCommand::AddPeer(NodeId(6)));
    node.handle_command(Instant::ZERO, DhtCommand::AddPeer(NodeId(6)));
    node.handle_command(Instant::ZERO, DhtCommand::AddPeer(NodeId(0)));
    assert_eq!(
        drain(&mut node),
        [Output::Event(DhtEvent::PeerAdded(NodeId(6)))]
    );
    let peers: BTreeSet<NodeId> = node.connected_peers().collect();
    assert_eq!(peers, BTreeSet::from([NodeId(4), NodeId(5), NodeId(6)]));
}

#[test]
fn lookup_ids_are_drawn_from_the_rng_unless_given() {
    let a = Dht::new(NodeId(1), vec![], quiet(), rng(1));
    let b = Dht::new(NodeId(1), vec![], quiet(), rng(2));
    assert_ne!(a.next_lookup_seq, b.next_lookup_seq);
    assert_eq!(a.with_initial_lookup_seq(9).next_lookup_seq, 9);
}

// ----- bytes the node cannot use -----

#[test]
fn malformed_bytes_give_exactly_one_drop() {
    let valid = Repr::Request {
        id: 3,
        request: Request::FindNode {
            key: Key::for_node(NodeId(1)),
        },
    };
    let bytes = valid.to_bytes();
    let mut short_key = valid.to_message();
    short_key.key.pop();
    let mut unknown_type = valid.to_message();
    unknown_type.r#type = 42;
    let mut no_id = valid.to_message();
    no_id.request_id = 0;
    let mut trailing = bytes.clone();
    trailing.push(0);
    let reframe = |m: &wire::Message| prost::Message::encode_length_delimited_to_vec(m);
    let cases: Vec<(&str, Vec<u8>, NodeId)> = vec![
        ("empty", vec![], NodeId(1)),
        ("truncated", bytes[..bytes.len() - 1].to_vec(), NodeId(1)),
        ("trailing bytes", trailing, NodeId(1)),
        ("garbage", vec![5, 0xff, 0xff, 0xff, 0xff, 0xff], NodeId(1)),
        ("short key", reframe(&short_key), NodeId(1)),
        ("unknown type", reframe(&unknown_type), NodeId(1)),
        ("no request id", reframe(&no_id), NodeId(1)),
        ("from itself", bytes.clone(), NodeId(0)),
        (
            "a flood datagram",
            crate::flood::wire::Repr {
                id: 1,
                hop_limit: 1,
                hops: 0,
                payload_len: 3,
            }
            .to_bytes(),
            NodeId(1),
        ),
    ];
    for (what, bytes, from) in cases {
        let mut node = Dht::new(NodeId(0), vec![], quiet(), rng(1));
        node.handle_datagram(Instant::ZERO, from, &bytes);
        assert_eq!(
            drain(&mut node),
            [Output::Drop {
                from,
                len: bytes.len(),
                cause: DropCause::Malformed
            }],
            "{what}"
        );
        assert!(node.routing_table().is_empty(), "{what}");
    }
}

#[test]
fn late_answers_are_dropped_as_expired_and_wrong_ones_as_malformed() {
    let peer = NodeId(1);
    let mut node = Dht::new(NodeId(0), vec![], quiet(), rng(1)).with_peers([peer]);
    node.handle_command(
        Instant::ZERO,
        DhtCommand::FindNode(Key::for_node(NodeId(2))),
    );
    let (to, id, _) = drain(&mut node).iter().find_map(request_of).unwrap();
    assert_eq!(to, peer);
    assert_eq!(
        node.poll_timeout(),
        Some(Instant::ZERO),
        "the start-up is due"
    );
    node.handle_timeout(Instant::ZERO);
    assert_eq!(node.poll_timeout(), Some(Instant::ZERO + secs(10)));
    node.handle_timeout(Instant::ZERO + secs(10));
    let out = drain(&mut node);
    assert!(
        matches!(
            &out[..],
            [Output::Event(DhtEvent::LookupDone {
                success: false,
                requests: 1,
                ..
            })]
        ),
        "{out:?}"
    );
    assert!(
        node.routing_table().contains(peer),
        "no replacement waits: kept"
    );

    let answer = Repr::Response {
        id,
        response: Response::FindNode { closer: vec![] },
    }
    .to_bytes();
    node.handle_datagram(Instant::ZERO + secs(11), peer, &answer);
    assert_eq!(
        drain(&mut node),
        [Output::Drop {
            from: peer,
            len: answer.len(),
            cause: DropCause::Expired
        }]
    );

    // An answer of the wrong type fails its request.
    node.handle_command(
        Instant::ZERO + secs(12),
        DhtCommand::FindNode(Key::for_node(NodeId(2))),
    );
    let (_, id, _) = drain(&mut node).iter().find_map(request_of).unwrap();
    let wrong = Repr::Response {
        id,
        response: Response::Ping,
    }
    .to_bytes();
    node.handle_datagram(Instant::ZERO + secs(12), peer, &wrong);
    let out = drain(&mut node);
    assert_eq!(
        out[0],
        Output::Drop {
            from: peer,
            len: wrong.len(),
            cause: DropCause::Malformed
        }
    );
    assert!(matches!(
        out[1],
        Output::Event(DhtEvent::LookupDone { success: false, .. })
    ));
    assert_eq!(node.requests_in_flight(), 0);
}

// ----- k-buckets through the node -----

#[test]
fn a_full_bucket_pings_its_oldest_and_evicts_it_only_if_silent() {
    let local = NodeId(0);
    let peers = in_bucket(local, 255, 3);
    let config = DhtConfig { k: 2, ..quiet() };
    let request = Repr::Request {
        id: 77,
        request: Request::FindNode {
            key: Key::for_node(NodeId(5)),
        },
    }
    .to_bytes();
    for answers in [false, true] {
        let mut node = Dht::new(local, vec![], config, rng(1)).with_peers([peers[0], peers[1]]);
        node.handle_timeout(Instant::ZERO);
        node.handle_datagram(Instant::ZERO, peers[2], &request);
        let out = drain(&mut node);
        let (to, ping_id, ping) = request_of(&out[0]).expect("a ping first");
        assert_eq!(
            (to, ping),
            (peers[0], Request::Ping),
            "the oldest is pinged"
        );
        assert!(
            matches!(&out[1], Output::Transmit { to, .. } if *to == peers[2]),
            "then the answer"
        );
        assert_eq!(out.len(), 2);

        let later = Instant::ZERO + secs(10);
        if answers {
            let pong = Repr::Response {
                id: ping_id,
                response: Response::Ping,
            }
            .to_bytes();
            node.handle_datagram(Instant::ZERO + secs(1), peers[0], &pong);
            node.handle_timeout(later);
            assert!(drain(&mut node).is_empty());
            let bucket = node.routing_table().bucket(255).unwrap();
            let entries: Vec<NodeId> = bucket.entries().iter().map(|e| e.node()).collect();
            assert_eq!(
                entries,
                [peers[1], peers[0]],
                "the oldest answered: now the newest"
            );
            assert_eq!(bucket.replacements()[0].node(), peers[2]);
        } else {
            node.handle_timeout(later);
            assert_eq!(
                drain(&mut node),
                [
                    Output::Event(DhtEvent::PeerEvicted(peers[0])),
                    Output::Event(DhtEvent::PeerAdded(peers[2]))
                ]
            );
            let entries: Vec<NodeId> = node.connected_peers().collect();
            assert_eq!(entries, [peers[1], peers[2]]);
        }
    }
}

// ----- lookups on warm networks -----

#[test]
fn find_node_finds_the_true_k_closest_on_a_warm_network() {
    let (mut net, warm) = warm_net(1000, quiet(), 1);
    let mut r = rng(2);
    let mut exact = 0;
    let trials = 200;
    for _ in 0..trials {
        let node = NodeId(uniform_below(&mut r, 1000) as u32);
        let target = random_key(&mut r);
        net.command(node, DhtCommand::FindNode(target));
        net.run();
        let done = dones(&net).pop().unwrap();
        assert!(done.success);
        assert_eq!(done.closest.len(), 20);
        let truth: Vec<NodeId> = warm
            .closest(&target, 21)
            .into_iter()
            .filter(|&n| n != node)
            .take(20)
            .collect();
        exact += usize::from(done.closest == truth);
    }
    assert!(exact * 100 >= trials * 95, "{exact}/{trials} exact");
}

#[test]
fn stored_values_and_providers_are_found_on_1k_nodes() {
    let n = 1000;
    let (mut net, _) = warm_net(n, quiet(), 3);
    let mut r = rng(4);
    let keys: Vec<Key> = (0..100u32)
        .map(|i| Key::for_name(&i.to_be_bytes()))
        .collect();
    for (i, &key) in keys.iter().enumerate() {
        let node = NodeId(uniform_below(&mut r, u64::from(n)) as u32);
        let cmd = if i % 2 == 0 {
            DhtCommand::PutValue {
                key,
                value_size: 100 + i as u32,
            }
        } else {
            DhtCommand::AddProvider(key)
        };
        net.command(node, cmd);
        net.run();
        let done = dones(&net).pop().unwrap();
        assert!(done.success, "{:?}", done.kind);
        assert_eq!(done.closest.len(), 20, "stored at the k closest");
    }
    let stored = net
        .events()
        .filter(|(_, e)| matches!(e, DhtEvent::RecordStored { .. }))
        .count();
    assert_eq!(stored, 50 * 20, "every value at its k closest");

    let before = dones(&net).len();
    let gets = 1000;
    for _ in 0..gets {
        let node = NodeId(uniform_below(&mut r, u64::from(n)) as u32);
        let i = uniform_below(&mut r, 100) as usize;
        let cmd = if i % 2 == 0 {
            DhtCommand::GetValue(keys[i])
        } else {
            DhtCommand::GetProviders(keys[i])
        };
        net.command(node, cmd);
        net.run();
    }
    let results = &dones(&net)[before..];
    assert_eq!(results.len(), gets);
    let found = results.iter().filter(|d| d.success).count();
    println!("1k nodes: {found}/{gets} GET_VALUE / GET_PROVIDERS found");
    assert!(found * 100 >= gets * 99);
    // Every value found is one that was put, with its size.
    for (_, e) in net.events() {
        if let DhtEvent::RecordFound {
            key, value_size, ..
        } = e
        {
            let i = keys.iter().position(|k| k == key).expect("a put key");
            assert_eq!(*value_size, 100 + i as u32);
        }
    }
}

#[test]
fn a_lookup_to_termination_takes_at_least_k_over_alpha_rounds() {
    // Known answer (REFERENCE.md): with at most α requests out, answers from
    // the k closest take at least ⌈k/α⌉ round trips. The network delivers in
    // lockstep, so one round trip is two steps (requests, then answers).
    let config = quiet();
    let (mut net, _) = warm_net(300, config, 5);
    let mut r = rng(6);
    let floor = config.k.div_ceil(config.alpha);
    let mut rtts = Vec::new();
    for _ in 0..30 {
        let node = NodeId(uniform_below(&mut r, 300) as u32);
        net.command(node, DhtCommand::FindNode(random_key(&mut r)));
        let lookup = last_started(&net, node);
        let mut steps = 0;
        while !dones(&net).iter().any(|d| d.lookup == lookup) {
            assert!(net.step() > 0, "the lookup stalled");
            steps += 1;
            for q in &net.nodes[node.index()].queries {
                assert!(q.iter.waiting() <= config.alpha, "more than α requests out");
            }
        }
        net.run(); // pings and other stragglers
        rtts.push(steps / 2);
    }
    println!("round trips per FIND_NODE (k = 20, α = 3): {rtts:?}");
    assert!(rtts.iter().all(|&t| t >= floor), "floor {floor}: {rtts:?}");
}

#[test]
fn mean_hops_grow_with_log_n() {
    let sizes: &[u32] = if cfg!(debug_assertions) {
        &[256, 1024, 4096]
    } else {
        &[256, 1024, 4096, 16384]
    };
    let trials = 300;
    let mut rows = Vec::new();
    for &n in sizes {
        let (mut net, warm) = warm_net(n, quiet(), u64::from(n));
        let mut r = rng(7);
        let mut exact = 0;
        for _ in 0..trials {
            let node = NodeId(uniform_below(&mut r, u64::from(n)) as u32);
            let target = random_key(&mut r);
            net.command(node, DhtCommand::FindNode(target));
            net.run();
            let truth: Vec<NodeId> = warm
                .closest(&target, 21)
                .into_iter()
                .filter(|&x| x != node)
                .take(20)
                .collect();
            exact += usize::from(dones(&net).last().unwrap().closest == truth);
        }
        let d = dones(&net);
        assert!(d.iter().all(|d| d.success));
        let hops = mean(d.iter().map(|d| f64::from(d.hops)));
        let requests = mean(d.iter().map(|d| f64::from(d.requests)));
        let table = mean(net.nodes.iter().map(|x| x.routing_table().len() as f64));
        rows.push((n, hops, requests, table, exact));
    }
    println!("FIND_NODE on warm tables, k = 20, α = 3, {trials} random keys per size");
    println!(
        "{:>7} {:>7} {:>10} {:>10} {:>12} {:>9}",
        "N", "log2 N", "mean hops", "requests", "table size", "exact k"
    );
    for &(n, hops, requests, table, exact) in &rows {
        println!(
            "{n:>7} {:>7.1} {hops:>10.2} {requests:>10.1} {table:>12.1} {:>8.1}%",
            f64::from(n).log2(),
            exact as f64 * 100.0 / trials as f64
        );
    }
    for pair in rows.windows(2) {
        assert!(pair[1].1 > pair[0].1, "hops must grow with N: {rows:?}");
    }
    // Like log N: each ×4 in N adds a bounded number of hops, not a factor.
    let (first, last) = (rows[0].1, rows[rows.len() - 1].1);
    assert!(last < 3.0 * first, "{rows:?}");
}

// ----- bootstrap -----

#[test]
fn nodes_joining_through_one_bootstrap_node_fill_their_tables() {
    let n = 200u32;
    let config = DhtConfig {
        bootstrap_on_start: false,
        ..quiet()
    };
    let nodes = (0..n)
        .map(|i| {
            let bootstrap = if i == 0 { vec![] } else { vec![NodeId(0)] };
            Dht::new(NodeId(i), bootstrap, config, rng(u64::from(i)))
        })
        .collect();
    let mut net = TestNet::new(nodes);
    for i in 1..n {
        net.command(NodeId(i), DhtCommand::Bootstrap);
        net.run();
    }
    let d = dones(&net);
    let bootstraps: Vec<&Done> = d
        .iter()
        .filter(|d| d.kind == LookupKind::Bootstrap)
        .collect();
    assert_eq!(bootstraps.len(), n as usize - 1);
    assert!(bootstraps.iter().all(|d| d.success));
    assert!(
        d.iter().any(|d| d.kind == LookupKind::Refresh),
        "buckets refreshed"
    );
    let sizes: Vec<usize> = net.nodes.iter().map(|x| x.routing_table().len()).collect();
    let smallest = *sizes.iter().min().unwrap();
    println!(
        "bootstrap of {n} nodes through n0: table sizes min {smallest}, mean {:.1}",
        mean(sizes.iter().map(|&s| s as f64))
    );
    assert!(
        smallest >= 20,
        "every node knows at least k peers: {sizes:?}"
    );
    // PeerAdded matches the tables.
    let added = net
        .events()
        .filter(|(_, e)| matches!(e, DhtEvent::PeerAdded(_)))
        .count();
    let evicted = net
        .events()
        .filter(|(_, e)| matches!(e, DhtEvent::PeerEvicted(_)))
        .count();
    assert_eq!(added - evicted, sizes.iter().sum::<usize>());

    // FIND_NODE for a node finds it.
    let warm = WarmStart::new((0..n).map(NodeId));
    let mut r = rng(9);
    let trials = 200;
    let mut found = 0;
    let mut exact = 0;
    for _ in 0..trials {
        let from = NodeId(uniform_below(&mut r, u64::from(n)) as u32);
        let target = NodeId(uniform_below(&mut r, u64::from(n)) as u32);
        if from == target {
            continue;
        }
        let key = Key::for_node(target);
        net.command(from, DhtCommand::FindNode(key));
        net.run();
        let done = dones(&net).pop().unwrap();
        assert!(done.success);
        found += usize::from(done.closest.first() == Some(&target));
        let truth: Vec<NodeId> = warm
            .closest(&key, 21)
            .into_iter()
            .filter(|&x| x != from)
            .take(20)
            .collect();
        exact += usize::from(done.closest == truth);
    }
    println!("after bootstrap: target found {found}/{trials}, exact k closest {exact}/{trials}");
    assert!(found * 100 >= trials * 97);
}

#[test]
fn a_node_built_with_bootstrap_nodes_joins_at_its_first_wake_up() {
    let config = DhtConfig {
        refresh_interval: secs(600),
        ..DhtConfig::default()
    };
    let nodes = (0..30)
        .map(|i| Dht::new(NodeId(i), vec![NodeId(0)], config, rng(u64::from(i))))
        .collect();
    let mut net = TestNet::new(nodes);
    drive(&mut net, Instant::ZERO + secs(1));
    assert!(net.nodes.iter().all(|x| x.routing_table().len() >= 20));
    // The first periodic refresh comes between 5 and 10 minutes.
    let refreshes = |net: &TestNet<Dht>| {
        dones(net)
            .iter()
            .filter(|d| d.kind == LookupKind::Refresh && d.at > Instant::ZERO + secs(1))
            .map(|d| d.at)
            .collect::<Vec<_>>()
    };
    drive(&mut net, Instant::ZERO + secs(299));
    assert!(refreshes(&net).is_empty());
    drive(&mut net, Instant::ZERO + secs(601));
    assert!(!refreshes(&net).is_empty());
}

// ----- records over time -----

fn record_net(seed: u64) -> (TestNet<Dht>, Key) {
    let config = quiet(); // 24 h TTL, replication 1 h, publication 22 h
    let (net, _) = warm_net(60, config, seed);
    (net, Key::for_name(b"a value"))
}

fn count(net: &TestNet<Dht>, after: Instant, pred: impl Fn(&DhtEvent) -> bool) -> usize {
    net.log
        .iter()
        .filter(|r| r.at > after)
        .filter(|r| matches!(&r.output, Output::Event(e) if pred(e)))
        .count()
}

#[test]
fn values_are_replicated_hourly_and_expire_after_their_ttl() {
    let hour = 3600;
    let publisher = NodeId(17);
    let (mut net, key) = record_net(11);
    net.advance_to(Instant::ZERO); // start-up of every node
    net.command(
        publisher,
        DhtCommand::PutValue {
            key,
            value_size: 64,
        },
    );
    net.run();
    // Take the publisher away: nobody renews the TTL.
    net.set_down(publisher, true);
    drive(&mut net, Instant::ZERO + secs(5 * hour + 1));
    let republished = count(&net, Instant::ZERO, |e| {
        matches!(
            e,
            DhtEvent::LookupDone {
                kind: LookupKind::Republish,
                success: true,
                ..
            }
        )
    });
    println!("holder replications in 5 h: {republished}");
    // One holder's replication resets the others' clocks: about one per hour.
    assert!((4..=10).contains(&republished), "{republished}");

    let reader = NodeId(3);
    drive(&mut net, Instant::ZERO + secs(24 * hour - 1));
    net.command(reader, DhtCommand::GetValue(key));
    net.run();
    assert!(
        dones(&net).pop().unwrap().success,
        "still there just before the TTL"
    );

    drive(&mut net, Instant::ZERO + secs(24 * hour + 1));
    let expired = count(&net, Instant::ZERO, |e| {
        matches!(e, DhtEvent::RecordExpired { .. })
    });
    let holders = net.nodes.iter().filter(|x| !x.store().is_empty()).count();
    assert!(expired >= 20, "{expired} expiries");
    assert_eq!(holders, 1, "only the (down) publisher still holds it");
    net.command(reader, DhtCommand::GetValue(key));
    let lookup = last_started(&net, reader);
    // The down publisher is asked too: its request times out.
    drive(&mut net, Instant::ZERO + secs(24 * hour + 60));
    let done = dones(&net)
        .into_iter()
        .find(|d| d.lookup == lookup)
        .unwrap();
    assert!(!done.success, "gone after the TTL");
}

#[test]
fn the_publisher_keeps_its_value_alive() {
    let hour = 3600;
    let (mut net, key) = record_net(12);
    net.advance_to(Instant::ZERO);
    net.command(
        NodeId(17),
        DhtCommand::PutValue {
            key,
            value_size: 64,
        },
    );
    net.run();
    drive(&mut net, Instant::ZERO + secs(30 * hour));
    let republications = dones(&net)
        .iter()
        .filter(|d| d.node == NodeId(17) && d.kind == LookupKind::Republish)
        .map(|d| d.at)
        .collect::<Vec<_>>();
    assert!(
        republications.contains(&(Instant::ZERO + secs(22 * hour))),
        "{republications:?}"
    );
    net.command(NodeId(3), DhtCommand::GetValue(key));
    net.run();
    assert!(dones(&net).pop().unwrap().success, "alive after 30 h");
}

#[test]
fn providers_expire_unless_reprovided() {
    let hour = 3600;
    let (mut net, key) = record_net(13);
    net.advance_to(Instant::ZERO);
    net.command(NodeId(8), DhtCommand::AddProvider(key));
    net.command(NodeId(9), DhtCommand::AddProvider(key));
    net.run();
    net.set_down(NodeId(9), true);
    drive(&mut net, Instant::ZERO + secs(49 * hour));
    net.command(NodeId(3), DhtCommand::GetProviders(key));
    net.run();
    let found: Vec<NodeId> = net
        .events()
        .filter_map(|(_, e)| match e {
            DhtEvent::ProvidersFound { providers, .. } => Some(providers.clone()),
            _ => None,
        })
        .last()
        .unwrap();
    assert_eq!(
        found,
        [NodeId(8)],
        "n9 stopped reproviding; its records lapsed at 48 h"
    );
}

// ----- memory -----

#[test]
fn bytes_per_node_with_a_warm_table() {
    // The tables of a million-node DHT: ~16 full buckets and a tail.
    let n: u32 = if cfg!(debug_assertions) {
        1 << 16
    } else {
        1 << 20
    };
    let warm = WarmStart::new((0..n).map(NodeId));
    let mut r = rng(1);
    let sample = 200u32;
    let before = heap::live();
    let nodes: Vec<Dht> = (0..sample)
        .map(|i| {
            let node = NodeId(i * (n / sample));
            let peers = warm.peers_for(node, 20, &mut r);
            Dht::new(
                node,
                vec![NodeId(0)],
                DhtConfig::default(),
                rng(u64::from(i)),
            )
            .with_peers(peers)
        })
        .collect();
    let heap_bytes =
        (heap::live() - before) as f64 / f64::from(sample) - std::mem::size_of::<Dht>() as f64; // the Vec holding them
    let entries = mean(nodes.iter().map(|x| x.routing_table().len() as f64));
    let buckets = mean(
        nodes
            .iter()
            .map(|x| x.routing_table().buckets().count() as f64),
    );
    let reported = mean(nodes.iter().map(|x| x.heap_bytes() as f64));
    let per_node = std::mem::size_of::<Dht>() as f64 + heap_bytes;
    println!(
        "N = {n}: {entries:.0} table entries in {buckets:.1} buckets; \
         Dht value {} B + heap {heap_bytes:.0} B (self-reported {reported:.0} B) = {per_node:.0} B per node; \
         entry {} B (with the whole key it would be 36 B: {:.0} B more)",
        std::mem::size_of::<Dht>(),
        std::mem::size_of::<kbucket::Entry>(),
        entries * 24.0,
    );
    assert!(
        (250.0..400.0).contains(&entries) || cfg!(debug_assertions),
        "{entries}"
    );
    assert!(per_node < 6_000.0, "{per_node} B per node");
    assert!(
        (heap_bytes - reported).abs() < 64.0,
        "the self-report is accurate"
    );
    drop(nodes);
}

// ----- invariants under loss and churn -----

/// The test's record of a node's life: when it went down, if it did.
#[derive(Default)]
struct Lives {
    down_at: BTreeMap<NodeId, Vec<Instant>>,
}

impl Lives {
    fn down_between(&self, node: NodeId, from: Instant, to: Instant) -> bool {
        self.down_at
            .get(&node)
            .is_some_and(|ts| ts.iter().any(|&t| t >= from && t <= to))
    }
}

fn churn_config() -> DhtConfig {
    DhtConfig {
        k: 6,
        alpha: 2,
        replacement_cache_size: 2,
        refresh_interval: secs(120),
        record_ttl: secs(1800),
        record_replication_interval: secs(300),
        record_publication_interval: secs(1200),
        provider_record_ttl: secs(1800),
        provider_publication_interval: secs(1200),
        ..DhtConfig::default()
    }
}

/// The size every value under pool key `j` has.
fn pool_size(j: u8) -> u32 {
    10 + 7 * u32::from(j)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 6 } else { 24 }))]

    /// On random networks with loss and churn: every lookup of a node that
    /// stays up ends within a bound of virtual time, lookup ids never
    /// repeat, and no node finds or stores a value that was never put (or
    /// with the wrong size or publisher).
    #[test]
    fn lookups_end_and_only_published_values_are_delivered(
        n in 10u32..40,
        warm_share in 0u32..=100,
        loss in 0.0f64..0.3,
        seed in any::<u64>(),
        ops in proptest::collection::vec((0u8..7, any::<u32>(), 0u8..4), 5..30),
    ) {
        let config = churn_config();
        let warm = WarmStart::new((0..n).map(NodeId));
        let mut r = rng(seed);
        let warm_count = (n * warm_share / 100).max(1);
        let nodes = (0..n)
            .map(|i| {
                let node = NodeId(i);
                let d = Dht::new(node, vec![NodeId(0)], config, rng(seed ^ u64::from(i)));
                if i < warm_count {
                    // Warm-start only among the warm nodes.
                    let peers = warm.peers_for(node, config.k, &mut r).into_iter().filter(|p| p.0 < warm_count);
                    d.with_peers(peers)
                } else {
                    d
                }
            })
            .collect();
        let mut net = TestNet::new(nodes).lossy(loss, seed);
        let mut lives = Lives::default();
        let mut incarnation = 0u64;
        let mut puts: BTreeMap<Key, (u32, BTreeSet<NodeId>)> = BTreeMap::new();
        let step = secs(20);
        for (i, &(op, pick, j)) in ops.iter().enumerate() {
            let at = Instant::ZERO + Duration::from_nanos(step.as_nanos() * i as u64);
            drive(&mut net, at);
            let up: Vec<NodeId> = (0..n).map(NodeId).filter(|&x| !net.is_down(x)).collect();
            let down: Vec<NodeId> = (0..n).map(NodeId).filter(|&x| net.is_down(x)).collect();
            let node = up[pick as usize % up.len()];
            let key = Key::for_name(&[j]);
            match op {
                0 => net.command(node, DhtCommand::FindNode(Key::for_node(NodeId(pick % n)))),
                1 => net.command(node, DhtCommand::GetValue(key)),
                2 => {
                    puts.entry(key).or_insert((pool_size(j), BTreeSet::new())).1.insert(node);
                    net.command(node, DhtCommand::PutValue { key, value_size: pool_size(j) });
                }
                3 => net.command(node, DhtCommand::AddProvider(key)),
                4 => net.command(node, DhtCommand::GetProviders(key)),
                5 if up.len() > 3 => {
                    net.set_down(node, true);
                    lives.down_at.entry(node).or_default().push(net.now);
                }
                6 if !down.is_empty() => {
                    // A fresh incarnation that joins through a node that is up.
                    let node = down[pick as usize % down.len()];
                    incarnation += 1;
                    let via = up[(pick / 7) as usize % up.len()];
                    net.nodes[node.index()] =
                        Dht::new(node, vec![via], config, rng(seed ^ (incarnation << 40) ^ u64::from(node.0)));
                    net.set_down(node, false);
                }
                _ => {}
            }
        }
        let last_op = net.now;
        // Instant delivery: only timeouts take time, at most one per candidate.
        let bound = Duration::from_nanos(config.request_timeout.as_nanos() * (u64::from(n) + 2));
        let end = last_op + bound + bound;
        drive(&mut net, end);

        let mut started: BTreeMap<u64, (NodeId, Instant)> = BTreeMap::new();
        let mut ended: BTreeMap<u64, Instant> = BTreeMap::new();
        for rec in &net.log {
            match &rec.output {
                Output::Event(DhtEvent::LookupStarted { lookup, .. }) => {
                    prop_assert!(started.insert(*lookup, (rec.node, rec.at)).is_none(), "lookup id {} reused", lookup);
                }
                Output::Event(DhtEvent::LookupDone { lookup, .. }) => {
                    prop_assert!(started.contains_key(lookup), "done before started");
                    prop_assert!(ended.insert(*lookup, rec.at).is_none(), "done twice");
                }
                Output::Event(DhtEvent::RecordFound { key, value_size, publisher, .. })
                | Output::Event(DhtEvent::RecordStored { key, value_size, publisher, .. }) => {
                    let Some((size, publishers)) = puts.get(key) else {
                        return Err(TestCaseError::fail(format!("{} delivered a value never put", rec.node)));
                    };
                    prop_assert_eq!(value_size, size);
                    prop_assert!(publishers.contains(publisher));
                }
                _ => {}
            }
        }
        for (lookup, &(node, at)) in &started {
            if at + bound > end || lives.down_between(node, at, at + bound) {
                continue;
            }
            match ended.get(lookup) {
                Some(&done) => prop_assert!(done <= at + bound, "lookup {} took {:?}", lookup, done.saturating_duration_since(at)),
                None => return Err(TestCaseError::fail(format!("lookup {lookup} of {node} started at {at} never ended"))),
            }
        }
    }

    #[test]
    fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120), framed in any::<bool>()) {
        let mut bytes = bytes;
        if framed {
            let mut f = Vec::new();
            prost::encode_length_delimiter(bytes.len(), &mut f).unwrap();
            f.extend(bytes);
            bytes = f;
        }
        let mut node = Dht::new(NodeId(0), vec![], quiet(), rng(1)).with_peers([NodeId(1), NodeId(2)]);
        node.handle_datagram(Instant::ZERO, NodeId(1), &bytes);
        let out = drain(&mut node);
        if Repr::from_bytes(&bytes).is_err() {
            prop_assert_eq!(out, vec![Output::Drop { from: NodeId(1), len: bytes.len(), cause: DropCause::Malformed }]);
        }
    }
}
