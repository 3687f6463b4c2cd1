//! The whole machine, driven through the test network.

use proptest::prelude::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim_core::{ByteSize, DropCause, Duration, Instant, NodeId, Output};

use super::frame::{Body, Flags, Kind, Packet, Repr, HEADER_LEN, MAGIC, TAG_LEN, VERSION};
use super::*;
use crate::flood::{Flood, FloodCommand, FloodConfig, FloodEvent};
use crate::ping::{Ping, PingCommand, PingConfig, PingEvent};
use crate::test_net::TestNet;
use crate::transport::{Layered, Over, TransportCommand, TransportEvent};

const A: NodeId = NodeId(0);
const B: NodeId = NodeId(1);
const C: NodeId = NodeId(2);

fn ms(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000)
}

fn secs(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000_000)
}

/// The defaults, but connections never idle out during a test.
fn config() -> HtxConfig {
    HtxConfig {
        idle_timeout: Duration::from_secs(3600),
        ..HtxConfig::default()
    }
}

fn htx(i: u32, config: HtxConfig) -> Htx {
    Htx::new(
        NodeId(i),
        config,
        ChaCha8Rng::seed_from_u64(1000 + u64::from(i)),
    )
}

fn network(n: u32, config: HtxConfig) -> TestNet<Htx> {
    TestNet::new((0..n).map(|i| htx(i, config)).collect())
}

fn send(net: &mut TestNet<Htx>, from: NodeId, to: NodeId, bytes: &[u8]) {
    let bytes = bytes.to_vec();
    net.command(from, TransportCommand::Send { to, bytes });
}

/// The messages node `at` handed up, in order.
fn received(net: &TestNet<Htx>, at: NodeId) -> Vec<Vec<u8>> {
    net.events()
        .filter(|&(node, _)| node == at)
        .filter_map(|(_, e)| match e {
            TransportEvent::Received { bytes, .. } => Some(bytes.clone()),
            TransportEvent::Note(_) => None,
        })
        .collect()
}

fn notes(net: &TestNet<Htx>) -> Vec<(NodeId, HtxNote)> {
    net.events()
        .filter_map(|(node, e)| match e {
            TransportEvent::Note(n) => Some((node, n.clone())),
            TransportEvent::Received { .. } => None,
        })
        .collect()
}

fn drops(net: &TestNet<Htx>) -> Vec<(NodeId, DropCause)> {
    net.log
        .iter()
        .filter_map(|r| match r.output {
            Output::Drop { cause, .. } => Some((r.node, cause)),
            _ => None,
        })
        .collect()
}

fn header(bytes: &[u8]) -> Repr {
    Repr::parse(&Packet::new_checked(bytes).expect("a valid frame")).expect("a valid header")
}

/// Every frame `node` transmitted: when, its header, its bytes.
fn frames(net: &TestNet<Htx>, node: NodeId) -> Vec<(Instant, Repr, Vec<u8>)> {
    net.log
        .iter()
        .filter(|r| r.node == node)
        .filter_map(|r| match &r.output {
            Output::Transmit { bytes, .. } => Some((r.at, header(bytes), bytes.to_vec())),
            _ => None,
        })
        .collect()
}

fn kinds(net: &TestNet<Htx>, node: NodeId) -> Vec<Kind> {
    frames(net, node).iter().map(|(_, r, _)| r.kind).collect()
}

/// The last frame of type `kind` that `node` transmitted.
fn last_frame(net: &TestNet<Htx>, node: NodeId, kind: Kind) -> Vec<u8> {
    let frames = frames(net, node);
    let (_, _, bytes) = frames
        .iter()
        .rev()
        .find(|(_, r, _)| r.kind == kind)
        .expect("sent");
    bytes.clone()
}

/// Injects `bytes` into `node` and checks that it is dropped and counted
/// for `reason`, and that nothing else happens.
fn assert_rejected(
    net: &mut TestNet<Htx>,
    node: NodeId,
    from: NodeId,
    bytes: &[u8],
    reason: Reject,
) {
    let mark = net.log.len();
    net.inject(node, from, bytes);
    let outputs: Vec<_> = net.log[mark..].iter().map(|r| &r.output).collect();
    let drop = Output::Drop {
        from,
        len: bytes.len(),
        cause: DropCause::Malformed,
    };
    let note = Output::Event(TransportEvent::Note(HtxNote::Rejected {
        peer: from,
        reason,
    }));
    assert_eq!(outputs, [&drop, &note]);
}

/// Half the messages compress well, half do not.
fn message(i: usize, len: usize) -> Vec<u8> {
    if i % 2 == 0 {
        (0..len).map(|j| (j / 16 + i) as u8).collect()
    } else {
        let mut bytes = vec![0; len];
        ChaCha8Rng::seed_from_u64(i as u64).fill_bytes(&mut bytes);
        bytes
    }
}

#[test]
fn the_first_data_waits_one_round_trip_for_the_hellos() {
    let mut net = network(2, config());
    send(&mut net, A, B, b"first");
    assert_eq!(kinds(&net, A), [Kind::ClientHello]);
    // Each step is one 10 ms trip.
    net.now = ms(10);
    net.step();
    assert_eq!(kinds(&net, B), [Kind::ServerHello]);
    assert!(received(&net, B).is_empty());
    net.now = ms(20);
    net.step();
    assert_eq!(kinds(&net, A), [Kind::ClientHello, Kind::Data]);
    net.now = ms(30);
    net.step();
    assert_eq!(received(&net, B), [b"first"]);
    let established = |peer, initiator| HtxNote::Established {
        peer,
        initiator,
        handshake_rtt: Duration::from_millis(20),
    };
    assert_eq!(
        notes(&net),
        [(A, established(B, true)), (B, established(A, false))]
    );
    // Each side opens what the other sealed: the two derived the same key.
    send(&mut net, B, A, b"and back");
    net.run_until(secs(1));
    assert_eq!(received(&net, A), [b"and back"]);
    for (node, peer) in [(A, B), (B, A)] {
        let stats = net.nodes[node.index()].stats(peer).unwrap();
        assert!(stats.established);
        assert_eq!((stats.unacked_bytes, stats.undelivered), (0, 0));
    }
    assert!(drops(&net).is_empty());
}

#[test]
fn modelled_crypto_puts_the_same_sizes_on_the_wire() {
    let run = |encryption| {
        let mut net = network(
            2,
            HtxConfig {
                encryption,
                ..config()
            },
        )
        .lossy(0.2, 5);
        for i in 0..6 {
            send(&mut net, A, B, &message(i, 300 * i));
            send(&mut net, B, A, &message(i + 1, 70_000 * (i % 2)));
        }
        net.run_until(secs(600));
        assert_eq!(received(&net, B).len(), 6);
        net.log
            .iter()
            .filter_map(|r| match &r.output {
                Output::Transmit { to, bytes } => Some((r.at, r.node, *to, bytes.to_vec())),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let real = run(Encryption::Aes256Gcm);
    let modelled = run(Encryption::Modelled);
    let sizes = |t: &[(Instant, NodeId, NodeId, Vec<u8>)]| {
        t.iter()
            .map(|(at, from, to, b)| (*at, *from, *to, b.len()))
            .collect::<Vec<_>>()
    };
    assert_eq!(sizes(&real), sizes(&modelled));
    // The hellos carry keys either way; only the real ones seal.
    assert_eq!(header(&real[0].3).kind, Kind::ClientHello);
    let (_, _, _, real_data) = real
        .iter()
        .find(|t| header(&t.3).kind == Kind::Data)
        .unwrap();
    let (_, _, _, modelled_data) = modelled
        .iter()
        .find(|t| header(&t.3).kind == Kind::Data)
        .unwrap();
    assert_ne!(real_data[HEADER_LEN..], modelled_data[HEADER_LEN..]);
    let tag = modelled_data.len() - 4 - TAG_LEN..modelled_data.len() - 4;
    assert_eq!(modelled_data[tag], [0; TAG_LEN]);
}

#[test]
fn every_single_bit_flip_is_caught_and_counted() {
    for encryption in [Encryption::Aes256Gcm, Encryption::Modelled] {
        let mut net = network(
            3,
            HtxConfig {
                encryption,
                ..config()
            },
        );
        send(&mut net, A, B, b"established");
        net.run_until(secs(1));
        send(&mut net, A, B, b"a frame to corrupt");
        net.lose_in_flight();
        let client_hello = last_frame(&net, A, Kind::ClientHello);
        let server_hello = last_frame(&net, B, Kind::ServerHello);
        let data = last_frame(&net, A, Kind::Data);
        let ack = last_frame(&net, B, Kind::Ack);
        let before = (net.nodes[0].stats(B), net.nodes[1].stats(A));
        // The hellos go to the fresh node C, the rest to the connection.
        for (bytes, to, from) in [
            (&client_hello, C, A),
            (&server_hello, C, B),
            (&data, B, A),
            (&ack, A, B),
        ] {
            for bit in 0..bytes.len() * 8 {
                let mut flipped = bytes.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                assert_rejected(&mut net, to, from, &flipped, Reject::Crc);
            }
        }
        assert_eq!(net.nodes[2].peers().count(), 0);
        assert_eq!((net.nodes[0].stats(B), net.nodes[1].stats(A)), before);
        assert_eq!(received(&net, B), [b"established"]);
        // The frame itself still arrives, once.
        net.inject(B, A, &data);
        net.inject(B, A, &data);
        assert_eq!(
            received(&net, B),
            [&b"established"[..], b"a frame to corrupt"]
        );
    }
}

#[test]
fn a_tampered_frame_with_a_valid_crc_fails_the_tag() {
    let mut net = network(2, config());
    send(&mut net, A, B, b"established");
    net.run_until(secs(1));
    send(&mut net, A, B, b"a frame to tamper with");
    net.lose_in_flight();
    let data = last_frame(&net, A, Kind::Data);
    let edits: [fn(&mut Packet<&mut [u8]>); 4] = [
        |p| p.header_and_payload_mut().1[3] ^= 0x10,
        |p| p.header_and_payload_mut().1[30] ^= 0x01,
        |p| p.set_timestamp(12_345),
        |p| p.set_version_flags(VERSION, Flags::COMPRESSED.with(Flags::END, true)),
    ];
    for edit in edits {
        let mut tampered = data.clone();
        let mut packet = Packet::new_unchecked(&mut tampered[..]);
        edit(&mut packet);
        packet.fill_crc();
        assert_rejected(&mut net, B, A, &tampered, Reject::Auth);
    }
    // A forged ack is refused the same way, and a frame in the other
    // crypto mode too.
    let mut ack = last_frame(&net, B, Kind::Ack);
    Packet::new_unchecked(&mut ack[..]).set_sequence(1_000);
    Packet::new_unchecked(&mut ack[..]).fill_crc();
    assert_rejected(&mut net, A, B, &ack, Reject::Auth);
    let mut modelled = data.clone();
    modelled[1] |= Flags::MODELLED.bits();
    Packet::new_unchecked(&mut modelled[..]).fill_crc();
    assert_rejected(&mut net, B, A, &modelled, Reject::Auth);
    net.inject(B, A, &data);
    assert_eq!(received(&net, B).len(), 2);
}

#[test]
fn peers_in_different_crypto_modes_do_not_connect() {
    let modelled = HtxConfig {
        encryption: Encryption::Modelled,
        ..config()
    };
    let mut net = TestNet::new(vec![htx(0, config()), htx(1, modelled)]);
    send(&mut net, A, B, b"hello?");
    net.run_until(secs(2));
    assert!(received(&net, B).is_empty());
    assert!(notes(&net).contains(&(
        B,
        HtxNote::Rejected {
            peer: A,
            reason: Reject::Auth
        }
    )));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn messages_arrive_once_and_in_order_despite_loss_and_reordering(
        a_sizes in proptest::collection::vec(0usize..2000, 0..10),
        b_sizes in proptest::collection::vec(0usize..2000, 0..10),
        loss in 0.0f64..0.3,
        seed in any::<u64>(),
        real_crypto in any::<bool>(),
        lz4 in any::<bool>(),
    ) {
        let config = HtxConfig {
            encryption: if real_crypto { Encryption::Aes256Gcm } else { Encryption::Modelled },
            compression: if lz4 { Compression::Lz4 } else { Compression::None },
            max_frame_size: ByteSize(300),
            receive_window: ByteSize(1500),
            ..config()
        };
        let mut net = network(2, config).lossy(loss, seed).reordered(seed ^ 0x5eed);
        let a: Vec<Vec<u8>> = a_sizes.iter().enumerate().map(|(i, &n)| message(i, n)).collect();
        let b: Vec<Vec<u8>> = b_sizes.iter().enumerate().map(|(i, &n)| message(i + 1, n)).collect();
        for m in &a {
            send(&mut net, A, B, m);
        }
        for m in &b {
            send(&mut net, B, A, m);
        }
        net.run_until(secs(3000));
        prop_assert_eq!(received(&net, B), a);
        prop_assert_eq!(received(&net, A), b);
        prop_assert!(drops(&net).is_empty());
    }
}

#[test]
fn a_small_receive_window_is_never_overrun() {
    const WINDOW: u64 = 500;
    let config = HtxConfig {
        max_frame_size: ByteSize(300),
        receive_window: ByteSize(WINDOW),
        compression: Compression::None,
        ..config()
    };
    let mut net = network(2, config).lossy(0.2, 7).reordered(8);
    let messages: Vec<Vec<u8>> = (0..20).map(|i| vec![i; 700]).collect();
    for m in &messages {
        send(&mut net, A, B, m);
    }
    let check = |net: &TestNet<Htx>| {
        if let (Some(a), Some(b)) = (net.nodes[0].stats(B), net.nodes[1].stats(A)) {
            assert!(a.sent_bytes - b.received_bytes <= WINDOW, "{a:?} {b:?}");
            assert!(b.held_bytes <= WINDOW, "{b:?}");
        }
    };
    loop {
        while net.step() > 0 {
            check(&net);
        }
        match net.next_timeout() {
            Some(at) if at <= secs(3000) => net.advance_to(at.max(net.now)),
            _ => break,
        }
        check(&net);
    }
    assert_eq!(received(&net, B), messages);
    assert!(notes(&net).contains(&(A, HtxNote::WindowStalled { peer: B })));
    assert!(kinds(&net, B).contains(&Kind::WindowUpdate));
    assert!(drops(&net).is_empty());
}

#[test]
fn compression_shrinks_what_compresses_and_sends_the_rest_raw() {
    let zeros = vec![0; 10_000];
    let noise = message(1, 4096);
    for compression in [Compression::Lz4, Compression::None] {
        let mut net = network(
            2,
            HtxConfig {
                compression,
                ..config()
            },
        );
        send(&mut net, A, B, &zeros);
        send(&mut net, A, B, &noise);
        net.run_until(secs(1));
        assert_eq!(received(&net, B), [zeros.clone(), noise.clone()]);
        let data: Vec<Repr> = frames(&net, A)
            .into_iter()
            .map(|(_, r, _)| r)
            .filter(|r| r.kind == Kind::Data)
            .collect();
        assert_eq!(data.len(), 2);
        let lz4 = compression == Compression::Lz4;
        assert_eq!(data[0].flags.contains(Flags::COMPRESSED), lz4);
        if lz4 {
            assert!(data[0].payload_len < 100, "{}", data[0].payload_len);
        } else {
            assert_eq!(data[0].payload_len, 10_000 + TAG_LEN);
        }
        assert!(!data[1].flags.contains(Flags::COMPRESSED));
        assert_eq!(data[1].payload_len, 4096 + TAG_LEN);
    }
}

#[test]
fn messages_larger_than_a_frame_are_split_and_reassembled() {
    let config = HtxConfig {
        max_frame_size: ByteSize(1200),
        compression: Compression::None,
        ..config()
    };
    let mut net = network(2, config);
    let big = message(1, 10_000);
    send(&mut net, A, B, &big);
    send(&mut net, A, B, b"");
    net.run_until(secs(1));
    assert_eq!(received(&net, B), [big, Vec::new()]);
    let data: Vec<(usize, bool)> = frames(&net, A)
        .into_iter()
        .filter(|(_, r, _)| r.kind == Kind::Data)
        .map(|(_, r, _)| (r.payload_len - TAG_LEN, r.flags.contains(Flags::END)))
        .collect();
    let capacity = config.data_capacity();
    assert_eq!(capacity, 1200 - 38);
    let mut expected = vec![(capacity, false); 10_000 / capacity];
    expected.push((10_000 % capacity, true));
    expected.push((0, true));
    assert_eq!(data, expected);
}

/// A frame with a valid CRC around whatever fields it is given.
fn forged(kind: u8, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0; HEADER_LEN + payload.len() + 4];
    bytes[0] = MAGIC;
    bytes[1] = (VERSION << 4) | flags;
    bytes[5] = kind;
    let mut packet = Packet::new_unchecked(&mut bytes[..]);
    packet.set_length(payload.len());
    packet.set_sequence(seq);
    packet.header_and_payload_mut().1.copy_from_slice(payload);
    packet.fill_crc();
    bytes
}

/// A connection over which node A sent one message.
fn established(config: HtxConfig) -> TestNet<Htx> {
    let mut net = network(2, config);
    send(&mut net, A, B, b"established");
    net.run_until(secs(1));
    net
}

proptest! {
    #[test]
    fn arbitrary_bytes_are_dropped_and_counted(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        connected in any::<bool>(),
    ) {
        let mut net = if connected { established(config()) } else { network(2, config()) };
        let mark = net.log.len();
        net.inject(B, A, &bytes);
        let outputs: Vec<_> = net.log[mark..].iter().map(|r| &r.output).collect();
        prop_assert_eq!(outputs.len(), 2);
        let is_drop = matches!(
            outputs[0],
            Output::Drop { cause: DropCause::Malformed, len, .. } if *len == bytes.len()
        );
        prop_assert!(is_drop);
        let is_note = matches!(outputs[1], Output::Event(TransportEvent::Note(HtxNote::Rejected { .. })));
        prop_assert!(is_note);
    }

    #[test]
    fn frames_with_a_valid_crc_never_panic(
        kind in 0u8..9,
        flags in 0u8..16,
        seq in prop_oneof![0u32..8, any::<u32>()],
        payload in proptest::collection::vec(any::<u8>(), 0..120),
        connected in any::<bool>(),
        real_crypto in any::<bool>(),
    ) {
        let encryption = if real_crypto { Encryption::Aes256Gcm } else { Encryption::Modelled };
        let config = HtxConfig { encryption, ..config() };
        let mut net = if connected { established(config) } else { network(2, config) };
        let bytes = forged(kind, flags, seq, &payload);
        let before = net.nodes[1].stats(A);
        let mark = net.log.len();
        net.inject(B, A, &bytes);
        let outputs = &net.log[mark..];
        let drops = outputs.iter().filter(|r| matches!(r.output, Output::Drop { .. })).count();
        prop_assert!(drops <= 1);
        // Sealed for real, nothing made up gets through.
        if real_crypto && kind > 2 {
            prop_assert_eq!(net.nodes[1].stats(A), before);
            let delivered = outputs.iter().any(|r| {
                matches!(r.output, Output::Event(TransportEvent::Received { .. }))
            });
            prop_assert!(!delivered);
        }
    }
}

/// A modelled frame with a valid CRC, well formed but with made-up numbers,
/// as a peer could send it: the modelled mode authenticates nothing.
fn made_up_frame() -> impl Strategy<Value = Vec<u8>> {
    fn seal(body: &Body, flags: u8, seq: u32) -> Vec<u8> {
        let mut payload = vec![0; body.buffer_len() + TAG_LEN];
        body.emit(&mut payload[..body.buffer_len()]);
        forged(
            body.kind() as u8,
            flags | Flags::MODELLED.bits(),
            seq,
            &payload,
        )
    }
    let seq = || prop_oneof![0u32..8, any::<u32>()];
    let sacks = proptest::collection::vec((0u32..6, 1u32..6), 0..4).prop_map(|steps| {
        let mut at = 0u32;
        steps
            .into_iter()
            .map(|(gap, len)| {
                let start = at + gap + 1;
                at = start + len;
                start..at
            })
            .collect::<Vec<_>>()
    });
    let ack = (seq(), any::<u64>(), sacks, seq()).prop_map(|(cumulative, limit, sacks, seq)| {
        let ack = super::frame::Ack {
            cumulative,
            limit,
            sacks,
        };
        seal(&Body::Ack(ack), 0, seq)
    });
    let data = (proptest::collection::vec(any::<u8>(), 0..64), 0u8..4, seq())
        .prop_map(|(data, flags, seq)| seal(&Body::Data(&data), flags, seq));
    let other = (
        prop_oneof![
            any::<u64>().prop_map(Body::WindowUpdate),
            Just(Body::Ping),
            Just(Body::Close)
        ],
        seq(),
    )
        .prop_map(|(body, seq)| seal(&body, 0, seq));
    prop_oneof![ack, data, other]
}

proptest! {
    #[test]
    fn made_up_frames_from_a_peer_never_panic(
        frames in proptest::collection::vec(made_up_frame(), 1..8),
    ) {
        let config = HtxConfig { encryption: Encryption::Modelled, ..config() };
        let mut net = established(config);
        send(&mut net, B, A, b"from B");
        for bytes in frames {
            let mark = net.log.len();
            net.inject(B, A, &bytes);
            let outputs = &net.log[mark..];
            let count = |f: fn(&Output<TransportEvent<HtxNote>>) -> bool| {
                outputs.iter().filter(|r| f(&r.output)).count()
            };
            let drops = count(|o| matches!(o, Output::Drop { .. }));
            let rejected = count(|o| {
                matches!(o, Output::Event(TransportEvent::Note(HtxNote::Rejected { .. })))
            });
            prop_assert!(drops <= 1);
            prop_assert_eq!(drops, rejected);
        }
        net.run_until(secs(4000));
    }
}

#[test]
fn ping_runs_over_htx_through_a_lossy_network() {
    let ping = PingConfig {
        timeout: Duration::from_secs(600),
    };
    let node = |i| Over::new(Ping::new(NodeId(i), ping), htx(i, config()));
    let mut net = TestNet::new(vec![node(0), node(1)])
        .lossy(0.25, 3)
        .reordered(4);
    for size in [10, 100, 1000, 10_000, 100_000] {
        net.command(A, PingCommand { to: B, size });
    }
    net.run_until(secs(600));
    let replies = net
        .events()
        .filter(|(node, e)| *node == A && matches!(e, Layered::App(PingEvent::Reply { .. })))
        .count();
    assert_eq!(replies, 5);
}

#[test]
fn flood_runs_over_htx_along_a_line() {
    let neighbours = |i: u32| (0..4).filter(|&j| i.abs_diff(j) == 1).map(NodeId).collect();
    let node = |i| {
        let flood = Flood::new(NodeId(i), neighbours(i), FloodConfig::default());
        Over::new(flood, htx(i, config()))
    };
    let mut net = TestNet::new((0..4).map(node).collect()).lossy(0.25, 9);
    net.command(A, FloodCommand::Broadcast { size: 500 });
    net.run_until(secs(600));
    let mut delivered: Vec<(NodeId, u32)> = net
        .events()
        .filter_map(|(node, e)| match e {
            Layered::App(FloodEvent::Delivered { hops, .. }) => Some((node, *hops)),
            _ => None,
        })
        .collect();
    delivered.sort();
    assert_eq!(delivered, [(NodeId(1), 1), (NodeId(2), 2), (NodeId(3), 3)]);
}

#[test]
fn idle_connections_close_and_a_later_send_reopens() {
    let config = HtxConfig {
        idle_timeout: Duration::from_secs(10),
        ..HtxConfig::default()
    };
    let mut net = network(2, config);
    send(&mut net, A, B, b"once");
    net.run_until(secs(60));
    let closed = |peer, reason| HtxNote::Closed {
        peer,
        reason,
        undelivered: 0,
    };
    // B last heard A at 0 s; A last heard B's delayed ack at 25 ms. B idles
    // out first and says so.
    let closes: Vec<_> = notes(&net)
        .into_iter()
        .filter(|(_, n)| matches!(n, HtxNote::Closed { .. }))
        .collect();
    assert_eq!(
        closes,
        [
            (B, closed(A, CloseReason::Idle)),
            (A, closed(B, CloseReason::Remote))
        ]
    );
    assert_eq!(
        net.nodes[0].peers().count() + net.nodes[1].peers().count(),
        0
    );
    assert_eq!(net.next_timeout(), None);
    send(&mut net, A, B, b"twice");
    net.run_until(secs(61));
    assert_eq!(received(&net, B), [&b"once"[..], b"twice"]);
    assert!(drops(&net).is_empty());
}

#[test]
fn keepalives_hold_an_idle_connection_open() {
    let config = HtxConfig {
        idle_timeout: Duration::from_secs(12),
        keepalive: Duration::from_secs(5),
        ..HtxConfig::default()
    };
    let mut net = network(2, config);
    send(&mut net, A, B, b"once");
    net.run_until(secs(120));
    assert!(!notes(&net)
        .iter()
        .any(|(_, n)| matches!(n, HtxNote::Closed { .. })));
    assert!(kinds(&net, A).iter().filter(|&&k| k == Kind::Ping).count() >= 10);
    assert!(net.nodes[0].stats(B).unwrap().established);
}

#[test]
fn an_unreachable_peer_is_retried_with_backoff_then_given_up() {
    let config = HtxConfig {
        idle_timeout: Duration::from_secs(60),
        ..HtxConfig::default()
    };
    let mut net = network(2, config);
    net.set_down(B, true);
    send(&mut net, A, B, b"into the void");
    net.run_until(secs(120));
    let times: Vec<u64> = frames(&net, A)
        .iter()
        .map(|(at, r, _)| {
            assert_eq!(r.kind, Kind::ClientHello);
            at.as_nanos() / 1_000_000_000
        })
        .collect();
    assert_eq!(times, [0, 1, 3, 7, 15, 31]);
    let retransmitted = HtxNote::Retransmitted {
        peer: B,
        kind: Kind::ClientHello,
        seq: 0,
        timeout: true,
    };
    let closed = HtxNote::Closed {
        peer: B,
        reason: CloseReason::Idle,
        undelivered: 1,
    };
    let mut expected = vec![(A, retransmitted); 5];
    expected.push((A, closed));
    assert_eq!(notes(&net), expected);
    assert_eq!(net.next_timeout(), None);

    // Established, the data frame backs off the same way.
    let mut net = established(config);
    net.set_down(B, true);
    send(&mut net, A, B, b"lost");
    let start = net.now;
    net.run_until(secs(120));
    let gaps: Vec<u64> = frames(&net, A)
        .iter()
        .filter(|(at, r, _)| r.kind == Kind::Data && *at >= start)
        .map(|(at, _, _)| (*at - start).as_nanos() / 1_000_000_000)
        .collect();
    assert_eq!(gaps, [0, 1, 3, 7, 15, 31]);
}

#[test]
fn a_restarted_peer_replaces_the_connection() {
    let mut net = established(config());
    net.nodes[1] = Htx::new(B, config(), ChaCha8Rng::seed_from_u64(99));
    send(&mut net, B, A, b"I am back");
    net.run_until(secs(2));
    assert_eq!(received(&net, A), [b"I am back"]);
    assert!(notes(&net).contains(&(
        A,
        HtxNote::Closed {
            peer: B,
            reason: CloseReason::Replaced,
            undelivered: 0
        }
    )));
    send(&mut net, A, B, b"welcome back");
    net.run_until(secs(3));
    assert_eq!(received(&net, B), [&b"established"[..], b"welcome back"]);
    assert!(drops(&net).is_empty());
}

#[test]
fn a_simultaneous_open_makes_one_connection() {
    let mut net = network(2, config()).reordered(1);
    send(&mut net, A, B, b"from A");
    send(&mut net, B, A, b"from B");
    net.run_until(secs(1));
    assert_eq!(received(&net, A), [b"from B"]);
    assert_eq!(received(&net, B), [b"from A"]);
    // The higher id answered; both client hellos went out.
    assert!(!kinds(&net, A).contains(&Kind::ServerHello));
    assert_eq!(
        kinds(&net, B)
            .iter()
            .filter(|&&k| k == Kind::ServerHello)
            .count(),
        1
    );
    let established: Vec<(NodeId, bool)> = notes(&net)
        .into_iter()
        .filter_map(|(node, n)| match n {
            HtxNote::Established { initiator, .. } => Some((node, initiator)),
            _ => None,
        })
        .collect();
    assert_eq!(established, [(A, true), (B, false)]);
    assert!(drops(&net).is_empty());
}

#[test]
fn the_same_seeds_give_the_same_bytes() {
    let run = || {
        let mut net = network(2, config()).lossy(0.2, 11).reordered(12);
        for i in 0..5 {
            send(&mut net, A, B, &message(i, 1000 * i));
        }
        net.run_until(secs(100));
        frames(&net, A)
            .into_iter()
            .map(|(at, _, bytes)| (at, bytes))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}
