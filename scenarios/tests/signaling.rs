//! The signaling server run from scenario files: joins, direct channels and
//! their set-up time against the formula of `protocols::signaling`, the
//! connection limit, and the validation of signaling groups.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use scenarios::load::parse;
use sim_core::Duration;

/// One server (node 0) and `pairs` caller/callee pairs, caller `k` opening a
/// channel to callee `k` at `5 + k` s and sending it a message a second
/// later. Every link between peers is 10 ms one way; every link to the
/// server `s` ms.
fn pairs_scenario(pairs: u32, s: u32) -> String {
    let mut groups = String::from(r#"(name: "server", count: 1, protocol: Signaling()),"#);
    let mut workload = String::new();
    let mut overrides = String::new();
    for k in 0..pairs {
        let _ = write!(
            groups,
            r#"(name: "caller{k}", count: 1, protocol: Signaling(server: "server")),
               (name: "callee{k}", count: 1, protocol: Signaling(server: "server")),"#
        );
        let _ = write!(
            workload,
            r#"(group: "caller{k}", action: Connect(to: Group("callee{k}")), arrivals: Every("1h"), start: "{}s"),
               (group: "caller{k}", action: SendDirect(size: "1KiB", to: Connected), arrivals: Every("1h"), start: "{}s"),"#,
            5 + k,
            6 + k
        );
    }
    for node in 1..=2 * pairs {
        let _ = write!(
            overrides,
            r#"(a: 0, b: {node}, forward: (latency: Constant("{s}ms"))),"#
        );
    }
    format!(
        r#"(
        name: "pairs",
        seed: 4,
        duration: "{}s",
        network: Graph(topology: FullMesh, link: (latency: Constant("10ms")), overrides: [{overrides}]),
        groups: [{groups}],
        workload: [{join}{workload}],
    )"#,
        8 + pairs,
        join = (0..pairs)
            .flat_map(|k| [format!("caller{k}"), format!("callee{k}")])
            .map(|g| format!(
                r#"(group: "{g}", action: Join, arrivals: Every("1h"), start: "1s"),"#
            ))
            .collect::<String>()
    )
}

#[test]
fn pairs_join_and_every_channel_opens_in_the_formulas_time() {
    let (pairs, s) = (6, 25);
    let outcome = common::run_text(&pairs_scenario(pairs, s), None);
    let g = outcome
        .services
        .signaling
        .as_ref()
        .expect("signaling figures");
    assert_eq!(g.joins, u64::from(2 * pairs));
    assert_eq!((g.refused, g.join_timed_out), (0, 0));
    // A join is three round trips to the server: TLS, upgrade, join.
    for took in &g.join_times {
        assert_eq!(*took, Duration::from_millis(6 * u64::from(s)));
    }
    // Every Connect opens, in 2(s₁ + s₂) + 8d with s₁ = s₂ = 25 ms and
    // d = 10 ms: 180 ms. Tolerance: none is needed on constant links (the
    // set-up is exact to the nanosecond); 1 µs is allowed for rounding.
    assert_eq!(g.connects, u64::from(pairs));
    assert_eq!(g.setups.len() as u64, g.connects);
    assert_eq!(g.setup_failed, 0);
    let formula = Duration::from_millis(2 * (2 * u64::from(s)) + 8 * 10);
    for setup in &g.setups {
        let off = setup.as_nanos().abs_diff(formula.as_nanos());
        assert!(off <= 1_000, "set-up {setup} vs {formula}");
    }
    // The kernel measured the same set-up as the message latency.
    assert_eq!(outcome.summary.delivery_ratio, 1.0);
    assert!((outcome.summary.latency.max - 180.0).abs() < 1e-3);
    // Each caller's message went over its channel.
    assert_eq!((g.direct_messages, g.no_channel), (u64::from(pairs), 0));
    assert_eq!(g.direct_bytes, 1024 * u64::from(pairs));
    // Offer, answer and a candidate each way through the server.
    assert_eq!(g.relayed, 4 * u64::from(pairs));
}

#[test]
fn the_1001st_join_is_refused_with_429() {
    let text = r#"(
        name: "crowd",
        seed: 9,
        duration: "20s",
        network: Internet(
            core: (regions: ["here"], latency: [["20ms"]]),
            access: {"any": ()},
        ),
        groups: [
            (name: "server", count: 1, protocol: Signaling()),
            (name: "peers", count: 1001, protocol: Signaling(server: "server")),
        ],
        workload: [
            (group: "peers", action: Join, arrivals: Every("1h"), senders: Each, start: "1s"),
        ],
    )"#;
    let outcome = common::run_text(text, None);
    let g = outcome.services.signaling.as_ref().unwrap();
    assert_eq!((g.joins, g.refused, g.join_timed_out), (1000, 1, 0));
    let scenario = parse(Path::new("crowd.ron"), text).unwrap();
    let data = scenarios::results::run_data(&outcome, &scenario, text);
    let json = data.summary.signaling.expect("a signaling object");
    assert_eq!((json.joins, json.refused), (1000, 1));
    assert!(data.summary.discovery.is_none());
}

#[test]
fn a_silent_peer_is_removed_by_the_idle_timeout() {
    let outcome = common::run_shipped("signaling", None);
    let g = outcome.services.signaling.as_ref().unwrap();
    assert_eq!(g.joins, 300);
    assert_eq!((g.removed.left, g.removed.idle_timeout), (1, 1));
    assert!(g.setups.len() as f64 >= 0.99 * g.connects as f64);
    assert!(g.direct_messages > 10_000);
}

fn error_of(text: &str) -> String {
    parse(Path::new("bad.ron"), text).unwrap_err().to_string()
}

const BASE: &str = r#"(
    name: "v",
    seed: 1,
    duration: "10s",
    network: Graph(topology: FullMesh, link: (latency: Constant("5ms"))),
    groups: [
        (name: "server", count: 1, protocol: Signaling()),
        (name: "peers", count: 3, protocol: Signaling(server: "server")),
        (name: "registry", count: 1, protocol: Discovery()),
        (name: "clients", count: 3, protocol: Discovery(server: "registry")),
    ],
    workload: [
        (group: "peers", action: Join, arrivals: Every("1h")),
        (group: "clients", action: Register(archetypes: ["x"]), arrivals: Every("1h")),
    ],
)"#;

#[test]
fn server_groups_actions_and_configs_are_checked_with_their_position() {
    assert!(parse(Path::new("ok.ron"), BASE).is_ok());
    let cases = [
        (
            r#"Signaling(server: "server")),
        (name: "registry""#,
            r#"Signaling(server: "servr")),
        (name: "registry""#,
            "no group named \"servr\"",
        ),
        (
            r#"Discovery(server: "registry")"#,
            r#"Discovery(server: "peers")"#,
            "server group \"peers\" is not a Discovery server",
        ),
        (
            r#"Signaling(server: "server")),
        (name: "registry""#,
            r#"Signaling(server: "clients")),
        (name: "registry""#,
            "server group \"clients\" is not a Signaling server",
        ),
        (
            r#"(group: "peers", action: Join"#,
            r#"(group: "peers", action: Discover()"#,
            "group \"peers\" runs Signaling, which cannot do this action",
        ),
        (
            r#"(group: "peers", action: Join"#,
            r#"(group: "server", action: Join"#,
            "is a Signaling server, which takes no commands",
        ),
        (
            r#"(group: "peers", action: Join"#,
            r#"(group: "peers", action: Connect(to: Connected)"#,
            "`to: Connected` (an open direct channel) is for SendDirect only",
        ),
        (
            r#"Signaling(server: "server")),
        (name: "registry""#,
            r#"Signaling(server: "server", config: (role: Server))),
        (name: "registry""#,
            "the scenario sets `config.role`",
        ),
        (
            r#"Discovery()"#,
            r#"Discovery(config: (server: (ttl: "0s")))"#,
            "group \"registry\": expected a positive server.ttl",
        ),
        (
            r#"Signaling()"#,
            r#"Signaling(config: (heartbeat_interval: "0s"))"#,
            "group \"server\": expected a positive heartbeat_interval",
        ),
    ];
    for (from, to, want) in cases {
        assert!(BASE.contains(from), "{from}");
        let text = BASE.replacen(from, to, 1);
        let err = error_of(&text);
        assert!(err.contains(want), "{err}\n wanted: {want}");
        // Each points into the file, at a line past the header.
        let line: usize = err.split(':').nth(1).unwrap().parse().unwrap();
        assert!(line > 1, "{err}");
    }
}
