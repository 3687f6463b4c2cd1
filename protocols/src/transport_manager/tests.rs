use proptest::prelude::*;
use rand::SeedableRng;
use sim_core::{BatteryLevel, Duration, Instant, NodeId, Output, Protocol, SimRng};

use super::policy::{Rule, Situation};
use super::*;
use crate::ping::{Ping, PingCommand, PingConfig, PingEvent};
use crate::test_net::TestNet;
use crate::transport::{Layered, Over, TransportCommand, TransportEvent};

use TransportKind::{BetaNet, BitChat, Quic, Raw, WebSocket};

// ----- helpers -----

fn secs(n: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(n)
}

fn manager(i: u32, config: TransportManagerConfig) -> TransportManager {
    TransportManager::new(NodeId(i), config, SimRng::seed_from_u64(u64::from(i)))
}

/// Holding none of the seed's transports: set what a test needs.
fn bare() -> TransportManagerConfig {
    TransportManagerConfig {
        htx: None,
        quic: None,
        mesh: None,
        ..TransportManagerConfig::default()
    }
}

fn raw_only() -> TransportManagerConfig {
    TransportManagerConfig {
        raw: true,
        ..bare()
    }
}

fn net(configs: Vec<TransportManagerConfig>) -> TestNet<TransportManager> {
    let nodes = configs
        .into_iter()
        .enumerate()
        .map(|(i, c)| manager(i as u32, c))
        .collect();
    TestNet::new(nodes)
}

fn send(to: u32, bytes: Vec<u8>) -> TransportCommand {
    TransportCommand::Send {
        to: NodeId(to),
        bytes,
    }
}

fn notes(net: &TestNet<TransportManager>) -> Vec<(NodeId, TmNote)> {
    net.events()
        .filter_map(|(n, e)| match e {
            TransportEvent::Note(note) => Some((n, note.clone())),
            TransportEvent::Received { .. } => None,
        })
        .collect()
}

fn received(net: &TestNet<TransportManager>) -> Vec<(NodeId, NodeId, Vec<u8>)> {
    net.events()
        .filter_map(|(n, e)| match e {
            TransportEvent::Received { from, bytes } => Some((n, *from, bytes.clone())),
            TransportEvent::Note(_) => None,
        })
        .collect()
}

fn chosen(net: &TestNet<TransportManager>) -> Vec<(TransportKind, u8)> {
    notes(net)
        .into_iter()
        .filter_map(|(_, n)| match n {
            TmNote::Chosen { kind, attempt, .. } => Some((kind, attempt)),
            _ => None,
        })
        .collect()
}

// ----- the seed's table -----

#[test]
fn the_seed_policy_picks_what_the_seed_table_says_in_every_case() {
    use BatteryLevel::{High, Low, Medium};
    use Quality::{Excellent, Good, Poor};
    // The sizes of each bucket, its edges included.
    let small = [0, 100, 1023];
    let medium = [1024, 4000, 10 * 1024];
    let large = [10 * 1024 + 1, 40_000, 1 << 20];
    // (battery, quality, sizes, expected for [mobile, desktop, server]),
    // from the seed's rules with the precedence of `policy`'s docs:
    // battery restriction, then quality, size, battery preference, device.
    let table: [(BatteryLevel, Quality, [usize; 3], [TransportKind; 3]); 27] = [
        // Low battery: BitChat only.
        (Low, Poor, small, [BitChat; 3]),
        (Low, Poor, medium, [BitChat; 3]),
        (Low, Poor, large, [BitChat; 3]),
        (Low, Good, small, [BitChat; 3]),
        (Low, Good, medium, [BitChat; 3]),
        (Low, Good, large, [BitChat; 3]),
        (Low, Excellent, small, [BitChat; 3]),
        (Low, Excellent, medium, [BitChat; 3]),
        (Low, Excellent, large, [BitChat; 3]),
        // Medium battery: BitChat or BetaNet; quality decides.
        (Medium, Poor, small, [BitChat; 3]),
        (Medium, Poor, medium, [BitChat; 3]),
        (Medium, Poor, large, [BitChat; 3]),
        (Medium, Good, small, [BetaNet; 3]),
        (Medium, Good, medium, [BetaNet; 3]),
        (Medium, Good, large, [BetaNet; 3]),
        (Medium, Excellent, small, [BetaNet; 3]),
        (Medium, Excellent, medium, [BetaNet; 3]),
        (Medium, Excellent, large, [BetaNet; 3]),
        // High battery: all transports.
        (High, Poor, small, [BitChat; 3]),
        (High, Poor, medium, [BitChat; 3]),
        (High, Poor, large, [BitChat; 3]),
        // Good ties BetaNet and QUIC; small prefers neither, so the
        // device decides.
        (High, Good, small, [BetaNet, BetaNet, Quic]),
        (High, Good, medium, [BetaNet; 3]),
        (High, Good, large, [Quic; 3]),
        (High, Excellent, small, [Quic; 3]),
        (High, Excellent, medium, [Quic; 3]),
        (High, Excellent, large, [Quic; 3]),
    ];
    let policy = Policy::seed();
    let devices = [DeviceType::Mobile, DeviceType::Desktop, DeviceType::Server];
    let mut cases = 0;
    for (battery, quality, sizes, expected) in table {
        for (device, want) in devices.into_iter().zip(expected) {
            for size in sizes {
                let s = Situation {
                    device,
                    size,
                    battery,
                    quality: Some(quality),
                    priority: Priority::Normal,
                };
                assert_eq!(policy.rank(&s)[0], want, "{s:?}");
                if battery == Low {
                    // Critical is the low band too.
                    let critical = Situation {
                        battery: BatteryLevel::Critical,
                        ..s
                    };
                    assert_eq!(policy.rank(&critical), [BitChat]);
                }
            }
            cases += 1;
        }
    }
    assert_eq!(cases, 81);
}

#[test]
fn the_seed_policy_without_an_estimate_or_in_an_emergency() {
    let policy = Policy::seed();
    let s = |size, battery, priority| Situation {
        device: DeviceType::Desktop,
        size,
        battery,
        quality: None,
        priority,
    };
    let high = BatteryLevel::High;
    // No estimate: the size decides, then the (desktop) device order.
    assert_eq!(
        policy.rank(&s(100, high, Priority::Normal)),
        [BitChat, BetaNet, Quic, WebSocket, Raw]
    );
    assert_eq!(policy.rank(&s(4000, high, Priority::Normal))[0], BetaNet);
    assert_eq!(policy.rank(&s(40_000, high, Priority::Normal))[0], Quic);
    // An emergency takes the fastest, within what the battery allows.
    assert_eq!(policy.rank(&s(100, high, Priority::Emergency))[0], Quic);
    assert_eq!(
        policy.rank(&s(100, BatteryLevel::Medium, Priority::Emergency)),
        [BetaNet, BitChat]
    );
}

#[test]
fn simpler_policies_and_policies_as_data() {
    let s = Situation {
        device: DeviceType::Mobile,
        size: 40_000,
        battery: BatteryLevel::Low,
        quality: Some(Quality::Poor),
        priority: Priority::Normal,
    };
    assert_eq!(
        Policy::fixed(Quic).rank(&s),
        [Quic, BitChat, BetaNet, WebSocket, Raw]
    );
    assert_eq!(Policy::size_only().rank(&s)[0], Quic);
    assert_eq!(Policy::size_only().precedence, [Rule::Size]);
    // Selectable by name, or written out.
    let choice: PolicyChoice = serde_json::from_str(r#"{"Fixed":"Quic"}"#).expect("parses");
    assert_eq!(choice.policy(), Policy::fixed(Quic));
    let seed_json = serde_json::to_string(&Policy::seed()).expect("serialises");
    let back: Policy = serde_json::from_str(&seed_json).expect("parses");
    assert_eq!(back, Policy::seed());
    let partial: Policy =
        serde_json::from_str(r#"{"precedence":["Size","Device"]}"#).expect("parses");
    assert_eq!(partial.device, Policy::seed().device);
    assert!(serde_json::from_str::<Policy>(r#"{"precedance":[]}"#).is_err());
}

// ----- failover -----

#[test]
fn a_message_the_first_choice_cannot_deliver_goes_over_the_next() {
    // Node 0 prefers BetaNet and holds QUIC too; node 1 holds QUIC only,
    // so it never answers HTX.
    let a = TransportManagerConfig {
        policy: PolicyChoice::Fixed(BetaNet),
        htx: Some(Default::default()),
        quic: Some(Default::default()),
        ..bare()
    };
    let b = TransportManagerConfig {
        quic: Some(Default::default()),
        ..bare()
    };
    let mut net = net(vec![a, b]);
    net.command(NodeId(0), send(1, b"over the next".to_vec()));
    net.run_until(secs(10));
    assert_eq!(chosen(&net), [(BetaNet, 0), (Quic, 1)]);
    assert_eq!(
        received(&net),
        [(NodeId(1), NodeId(0), b"over the next".to_vec())]
    );
    let stats = net.nodes[0].stats();
    assert_eq!((stats.failovers, stats.delivered, stats.gave_up), (1, 1, 0));
    assert!(notes(&net).iter().any(|(_, n)| matches!(
        n,
        TmNote::Delivered {
            kind: Quic,
            attempts: 2,
            ..
        }
    )));
    // The failed transport goes last for that peer now.
    assert_eq!(
        net.nodes[0].candidates(NodeId(1), 10, Priority::Normal),
        [Quic, BetaNet]
    );
}

#[test]
fn failover_is_bounded() {
    // Node 1 holds nothing node 0 can use: every attempt fails.
    let a = TransportManagerConfig {
        raw: true,
        htx: Some(Default::default()),
        quic: Some(Default::default()),
        max_attempts: 2,
        ..bare()
    };
    let mut net = net(vec![a, bare()]);
    net.command(NodeId(0), send(1, vec![1; 10]));
    net.run_until(secs(30));
    assert_eq!(chosen(&net).len(), 2);
    assert!(received(&net).is_empty());
    let stats = net.nodes[0].stats();
    assert_eq!((stats.failovers, stats.gave_up), (1, 1));
    assert!(notes(&net)
        .iter()
        .any(|(_, n)| matches!(n, TmNote::GaveUp { attempts: 2, .. })));
    assert_eq!(net.nodes[0].poll_timeout().filter(|&t| t <= secs(30)), None);
}

// ----- routing fallback -----

#[test]
fn direct_when_reachable_then_mesh_then_the_server() {
    // Nodes 0, 1, 2 phones with HTX, the mesh and the relay; node 3 serves
    // the relay. Node 0 reaches 1 directly, 2 only over the radio, and
    // neither directly nor over the radio node 4.
    let phone = |direct: &[u32]| TransportManagerConfig {
        htx: Some(Default::default()),
        mesh: Some(Default::default()),
        relay_server: Some(NodeId(3)),
        direct_peers: Some(direct.iter().map(|&n| NodeId(n)).collect()),
        policy: PolicyChoice::Fixed(BetaNet),
        ..bare()
    };
    let server = TransportManagerConfig {
        relay_server: Some(NodeId(3)),
        serve_relay: true,
        ..raw_only()
    };
    let configs = vec![phone(&[1]), phone(&[0]), phone(&[]), server, phone(&[])];
    let links = [
        vec![1, 2, 3],
        vec![0, 3],
        vec![0],
        vec![0, 1, 2, 4],
        vec![3],
    ];
    let mut net = net(configs).with_links(&links);
    net.run_until(secs(15)); // announces: the radios learn their neighbours
    for to in [1, 2, 4] {
        net.command(NodeId(0), send(to, vec![to as u8; 300]));
    }
    net.run_until(secs(40));
    let routes: Vec<(NodeId, Route)> = notes(&net)
        .into_iter()
        .filter_map(|(_, n)| match n {
            TmNote::Chosen { to, route, .. } => Some((to, route)),
            _ => None,
        })
        .collect();
    assert_eq!(
        routes,
        [
            (NodeId(1), Route::Direct),
            (NodeId(2), Route::Mesh),
            (NodeId(4), Route::Server)
        ]
    );
    let mut got = received(&net);
    got.sort();
    let want: Vec<_> = [1u32, 2, 4]
        .iter()
        .map(|&to| (NodeId(to), NodeId(0), vec![to as u8; 300]))
        .collect();
    assert_eq!(got, want);
    assert_eq!(net.nodes[0].stats().delivered, 3);
}

// ----- fragmentation -----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn large_messages_are_cut_to_the_mtu_and_arrive_exactly(
        len in 0usize..6000,
        mtu in 19usize..1500,
        seed in any::<u64>(),
    ) {
        let config = TransportManagerConfig { raw_mtu: mtu, ..raw_only() };
        let mut net = net(vec![config.clone(), config]).reordered(seed);
        let message: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        net.command(NodeId(0), send(1, message.clone()));
        net.run_until(secs(5));
        let max = net.log.iter().filter_map(|r| match &r.output {
            Output::Transmit { bytes, .. } if r.node == NodeId(0) => Some(bytes.len()),
            _ => None,
        }).max();
        // Each datagram: the tag and one frame of at most the MTU.
        prop_assert!(max.is_some_and(|m| m <= 1 + mtu));
        prop_assert_eq!(received(&net), vec![(NodeId(1), NodeId(0), message)]);
        let room = mtu - fragment::DATA_HEADER_LEN;
        let fragments = len.div_ceil(room).max(1) as u16;
        let chose = notes(&net).into_iter().any(|(_, n)| {
            matches!(n, TmNote::Chosen { fragments: f, .. } if f == fragments)
        });
        prop_assert!(chose);
    }

    #[test]
    fn arbitrary_datagrams_never_panic(
        datagrams in proptest::collection::vec(
            (prop_oneof![Just(b'B'), Just(b'H'), Just(b'Q'), Just(b'W'), Just(b'R'), any::<u8>()],
             proptest::collection::vec(any::<u8>(), 0..80)),
            1..20),
    ) {
        let config = TransportManagerConfig {
            raw: true,
            relay_server: Some(NodeId(2)),
            serve_relay: true,
            ..TransportManagerConfig::default()
        };
        let mut m = manager(0, config);
        for (i, (tag, rest)) in datagrams.into_iter().enumerate() {
            let mut bytes = vec![tag];
            bytes.extend(rest);
            m.handle_datagram(Instant::ZERO + Duration::from_millis(i as u64), NodeId(1), &bytes);
            while m.poll_output().is_some() {}
        }
    }
}

#[test]
fn a_lost_fragment_times_out_and_is_counted() {
    let config = TransportManagerConfig {
        raw_mtu: 100,
        max_attempts: 1,
        ..raw_only()
    };
    let mut net = net(vec![config.clone(), config]);
    net.command(NodeId(0), send(1, vec![7; 500]));
    let frames: Vec<Vec<u8>> = net
        .log
        .iter()
        .filter_map(|r| match &r.output {
            Output::Transmit { bytes, .. } => Some(bytes.to_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(frames.len(), 7); // 82 bytes of data per 100-byte frame
                                 // Every fragment but the second arrives.
    net.lose_in_flight();
    for (_, bytes) in frames.iter().enumerate().filter(|&(i, _)| i != 1) {
        net.inject(NodeId(1), NodeId(0), bytes);
    }
    net.run_until(secs(60));
    assert!(received(&net).is_empty());
    assert_eq!(net.nodes[1].stats().reassembly_timeouts, 1);
    assert!(notes(&net).iter().any(|(n, note)| *n == NodeId(1)
        && matches!(
            note,
            TmNote::ReassemblyTimedOut {
                received: 6,
                total: 7,
                ..
            }
        )));
    assert_eq!(net.nodes[0].stats().gave_up, 1);
}

// ----- QoS -----

#[test]
fn a_backlog_leaves_strictly_by_priority_and_full_queues_drop() {
    let config = TransportManagerConfig {
        max_in_flight: 1,
        queues: QueueSizes {
            emergency: 2,
            high: 2,
            normal: 2,
            low: 2,
        },
        ..raw_only()
    };
    let mut net = net(vec![config.clone(), config]);
    let now = net.now;
    // The first goes at once; the rest wait behind it.
    let order = [
        (Priority::Normal, 0u8),
        (Priority::Low, 1),
        (Priority::Normal, 2),
        (Priority::High, 3),
        (Priority::Emergency, 4),
        (Priority::Low, 5),
        (Priority::Emergency, 6),
        (Priority::Low, 7), // the low queue is full: dropped
    ];
    for (priority, tag) in order {
        net.nodes[0].send(now, NodeId(1), vec![tag], priority);
    }
    let outputs: Vec<_> = std::iter::from_fn(|| net.nodes[0].poll_output()).collect();
    let first = outputs
        .iter()
        .filter(|o| matches!(o, Output::Transmit { .. }));
    assert_eq!(first.count(), 1);
    assert_eq!(net.nodes[0].queued(Priority::Low), 2);
    assert_eq!(net.nodes[0].stats().queue_dropped, 1);
    assert!(outputs.iter().any(|o| matches!(
        o,
        Output::Event(TransportEvent::Note(TmNote::QueueDropped {
            priority: Priority::Low,
            ..
        }))
    )));
    for o in outputs {
        if let Output::Transmit { to, bytes } = o {
            net.inject(to, NodeId(0), &bytes);
        }
    }
    net.run_until(secs(5));
    let got: Vec<u8> = received(&net).into_iter().map(|(_, _, b)| b[0]).collect();
    assert_eq!(got, [0, 4, 6, 3, 2, 1, 5]);
}

// ----- battery and quality -----

#[test]
fn battery_and_measured_quality_change_the_choice() {
    let config = TransportManagerConfig {
        htx: Some(Default::default()),
        quic: Some(Default::default()),
        relay_server: None,
        mesh: None,
        ..bare()
    };
    let mut net = net(vec![config.clone(), config]);
    // No estimate yet: 40 kB goes over QUIC.
    assert_eq!(
        net.nodes[0].candidates(NodeId(1), 40_000, Priority::Normal)[0],
        Quic
    );
    // A round trip with no delay and no loss: excellent.
    net.command(NodeId(0), send(1, vec![1; 100]));
    net.run_until(secs(1));
    assert_eq!(net.nodes[0].quality(NodeId(1)), Some(Quality::Excellent));
    assert_eq!(
        net.nodes[0].candidates(NodeId(1), 100, Priority::Normal)[0],
        Quic
    );
    // At medium battery QUIC is not allowed.
    net.battery(NodeId(0), BatteryLevel::Medium);
    assert_eq!(
        net.nodes[0].candidates(NodeId(1), 40_000, Priority::Normal),
        [BetaNet]
    );
}

// ----- end to end -----

#[test]
fn ping_runs_over_the_manager() {
    let node = |i: u32| {
        Over::new(
            Ping::new(NodeId(i), PingConfig::default()),
            manager(i, TransportManagerConfig::default()),
        )
    };
    let mut net = TestNet::new(vec![node(0), node(1)]);
    net.command(
        NodeId(0),
        PingCommand {
            to: NodeId(1),
            size: 64,
        },
    );
    net.run_until(secs(5));
    let replied = net.events().any(|(n, e)| {
        n == NodeId(0)
            && matches!(
                e,
                Layered::App(PingEvent::Reply {
                    from: NodeId(1),
                    ..
                })
            )
    });
    assert!(replied);
    let kinds: Vec<TransportKind> = net
        .events()
        .filter_map(|(_, e)| match e {
            Layered::Transport(TmNote::Chosen { kind, .. }) => Some(*kind),
            _ => None,
        })
        .collect();
    // 64 bytes prefer BitChat, but no radio reaches the peer: the mobile
    // order's next, BetaNet (the relay being absent).
    assert_eq!(kinds, [BetaNet, BetaNet]);
}

#[test]
fn peers_device_types_come_from_the_config_then_the_directory_then_the_node() {
    // Holding only BetaNet and QUIC, a small message is ranked by the
    // recipient's device: a desktop prefers BetaNet, a server QUIC.
    let config = TransportManagerConfig {
        device: DeviceType::Server,
        peer_devices: [(NodeId(2), DeviceType::Desktop)].into(),
        mesh: None,
        ..TransportManagerConfig::default()
    };
    let mut directory = vec![DeviceType::Server; 3];
    directory[1] = DeviceType::Desktop;
    let tm = manager(0, config).with_directory(directory.into());
    let first = |peer| tm.candidates(NodeId(peer), 100, Priority::Normal)[0];
    assert_eq!(first(1), BetaNet, "the directory's desktop");
    assert_eq!(
        first(2),
        BetaNet,
        "the config's desktop, over the directory's server"
    );
    assert_eq!(first(3), Quic, "unlisted: a server like this node");
    assert_eq!(transport_of(b"Hxyz"), Some(BetaNet));
    assert_eq!(transport_of(b"B"), Some(BitChat));
    assert_eq!(transport_of(b"?"), None);
    assert_eq!(transport_of(b""), None);
}
