use proptest::prelude::*;
use sim_core::{DropCause, Duration, Instant, NodeId, Observation, Observe, Output, Protocol};

use super::wire::{self, Kind, Repr};
use super::{Ping, PingCommand, PingConfig, PingEvent};
use crate::test_net::TestNet;

fn node(id: u32) -> Ping {
    Ping::new(NodeId(id), PingConfig::default())
}

fn drain(ping: &mut Ping) -> Vec<Output<PingEvent>> {
    std::iter::from_fn(|| ping.poll_output()).collect()
}

/// The bytes of the single transmit among `outputs`.
fn transmitted(outputs: &[Output<PingEvent>]) -> Vec<u8> {
    let mut transmits = outputs.iter().filter_map(|o| match o {
        Output::Transmit { bytes, .. } => Some(bytes.to_vec()),
        _ => None,
    });
    let bytes = transmits.next().expect("a transmit");
    assert!(transmits.next().is_none(), "more than one transmit");
    bytes
}

fn response(id: u64) -> Vec<u8> {
    Repr {
        kind: Kind::Response,
        id,
        padding: 0,
    }
    .to_bytes()
}

#[test]
fn request_and_response_make_a_round_trip() {
    let mut net = TestNet::new(vec![node(0), node(1)]);
    net.command(
        NodeId(0),
        PingCommand {
            to: NodeId(1),
            size: 100,
        },
    );
    net.run();

    let events: Vec<_> = net.events().map(|(n, e)| (n, *e)).collect();
    assert_eq!(
        events,
        [
            (
                NodeId(0),
                PingEvent::Sent {
                    id: 0,
                    to: NodeId(1)
                }
            ),
            (
                NodeId(0),
                PingEvent::Reply {
                    id: 0,
                    from: NodeId(1)
                }
            ),
        ]
    );
    let sizes: Vec<_> = net
        .log
        .iter()
        .filter_map(|r| match &r.output {
            Output::Transmit { to, bytes } => Some((r.node, *to, bytes.len())),
            _ => None,
        })
        .collect();
    assert_eq!(
        sizes,
        [(NodeId(0), NodeId(1), 100), (NodeId(1), NodeId(0), 100)]
    );
    assert_eq!(net.nodes[0].outstanding(), 0);
    assert_eq!(net.nodes[0].poll_timeout(), None);
}

#[test]
fn ids_are_node_id_and_sequence() {
    let mut a = node(7);
    for seq in 0..3 {
        a.handle_command(
            Instant::ZERO,
            PingCommand {
                to: NodeId(1),
                size: 0,
            },
        );
        assert_eq!(
            drain(&mut a)[0],
            Output::Event(PingEvent::Sent {
                id: (7 << 32) | seq,
                to: NodeId(1)
            })
        );
    }
    assert_eq!(a.outstanding(), 3);
}

#[test]
fn a_size_below_the_header_gives_a_bare_header() {
    let mut a = node(0);
    a.handle_command(
        Instant::ZERO,
        PingCommand {
            to: NodeId(1),
            size: 3,
        },
    );
    assert_eq!(transmitted(&drain(&mut a)).len(), wire::HEADER_LEN);
}

#[test]
fn timeout_fires_at_exactly_now_plus_timeout() {
    let timeout = Duration::from_millis(250);
    let mut net = TestNet::new(vec![Ping::new(NodeId(0), PingConfig { timeout }), node(1)]);
    let start = Instant::ZERO + Duration::from_secs(1);
    net.now = start;
    net.command(
        NodeId(0),
        PingCommand {
            to: NodeId(1),
            size: 0,
        },
    );
    net.lose_in_flight();
    let deadline = start + timeout;
    assert_eq!(net.nodes[0].poll_timeout(), Some(deadline));

    net.advance_to(Instant::from_nanos(deadline.as_nanos() - 1));
    assert!(!net
        .events()
        .any(|(_, e)| matches!(e, PingEvent::TimedOut { .. })));

    net.advance_to(deadline);
    let timed_out: Vec<_> = net
        .events()
        .filter(|(_, e)| matches!(e, PingEvent::TimedOut { .. }))
        .collect();
    assert_eq!(timed_out, [(NodeId(0), &PingEvent::TimedOut { id: 0 })]);
    assert_eq!(net.nodes[0].outstanding(), 0);
    assert_eq!(net.nodes[0].poll_timeout(), None);
}

#[test]
fn the_default_timeout_is_five_seconds() {
    let mut a = node(0);
    a.handle_command(
        Instant::ZERO,
        PingCommand {
            to: NodeId(1),
            size: 0,
        },
    );
    assert_eq!(
        a.poll_timeout(),
        Some(Instant::ZERO + Duration::from_secs(5))
    );
}

#[test]
fn a_response_at_the_deadline_is_late_even_before_handle_timeout() {
    let (mut a, mut b) = (node(0), node(1));
    a.handle_command(
        Instant::ZERO,
        PingCommand {
            to: NodeId(1),
            size: 0,
        },
    );
    let request = transmitted(&drain(&mut a));
    b.handle_datagram(Instant::ZERO, NodeId(0), &request);
    let response = transmitted(&drain(&mut b));

    let deadline = a.poll_timeout().unwrap();
    a.handle_datagram(deadline, NodeId(1), &response);
    assert_eq!(
        drain(&mut a),
        [Output::Event(PingEvent::TimedOut { id: 0 })]
    );
}

#[test]
fn duplicate_unknown_and_misdirected_responses_are_ignored() {
    let mut a = node(0);
    let now = Instant::ZERO;
    a.handle_command(
        now,
        PingCommand {
            to: NodeId(1),
            size: 0,
        },
    );
    drain(&mut a);

    a.handle_datagram(now, NodeId(2), &response(0));
    assert_eq!(drain(&mut a), [], "from a node that was not pinged");
    a.handle_datagram(now, NodeId(1), &response(99));
    assert_eq!(drain(&mut a), [], "an id never sent");
    a.handle_datagram(now, NodeId(1), &response(0));
    assert_eq!(
        drain(&mut a),
        [Output::Event(PingEvent::Reply {
            id: 0,
            from: NodeId(1)
        })]
    );
    a.handle_datagram(now, NodeId(1), &response(0));
    assert_eq!(drain(&mut a), [], "a duplicate");
}

#[test]
fn malformed_bytes_give_exactly_one_drop() {
    let valid = Repr {
        kind: Kind::Request,
        id: 1,
        padding: 2,
    }
    .to_bytes();
    let mut wrong_magic = valid.clone();
    wrong_magic[0] = b'F';
    let mut wrong_version = valid.clone();
    wrong_version[1] = 9;
    let mut wrong_kind = valid.clone();
    wrong_kind[2] = 7;
    let mut overrun = valid.clone();
    overrun[11..15].copy_from_slice(&1000u32.to_be_bytes());
    let cases: [(&str, &[u8]); 7] = [
        ("empty", &[]),
        ("truncated header", &valid[..wire::HEADER_LEN - 1]),
        ("truncated padding", &valid[..valid.len() - 1]),
        ("wrong magic", &wrong_magic),
        ("wrong version", &wrong_version),
        ("wrong kind", &wrong_kind),
        ("length overruns the buffer", &overrun),
    ];
    for (what, bytes) in cases {
        let mut a = node(0);
        a.handle_datagram(Instant::ZERO, NodeId(3), bytes);
        assert_eq!(
            drain(&mut a),
            [Output::Drop {
                from: NodeId(3),
                len: bytes.len(),
                cause: DropCause::Malformed
            }],
            "{what}"
        );
    }
}

#[test]
fn events_map_to_observations() {
    let to = NodeId(1);
    assert_eq!(
        PingEvent::Sent { id: 5, to }.observe(),
        Some(Observation::Sent {
            msg: 5,
            expected: 1
        })
    );
    assert_eq!(
        PingEvent::Reply { id: 5, from: to }.observe(),
        Some(Observation::Delivered { msg: 5, hops: 2 })
    );
    assert_eq!(PingEvent::TimedOut { id: 5 }.observe(), None);
}

proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        valid_prefix in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if valid_prefix && bytes.len() >= 2 {
            bytes[0] = wire::MAGIC;
            bytes[1] = wire::VERSION;
        }
        let mut a = node(0);
        a.handle_command(Instant::ZERO, PingCommand { to: NodeId(1), size: 0 });
        drain(&mut a);
        a.handle_datagram(Instant::ZERO, NodeId(1), &bytes);
        let outputs = drain(&mut a);
        let parsed = wire::Packet::new_checked(&bytes[..]).and_then(|p| Repr::parse(&p));
        if parsed.is_err() {
            prop_assert_eq!(
                outputs,
                vec![Output::Drop { from: NodeId(1), len: bytes.len(), cause: DropCause::Malformed }]
            );
        } else {
            prop_assert!(outputs.len() <= 1);
        }
    }
}
