//! The discovery registry run from scenario files: the TTL rule, archetype
//! filters and the staleness figures against hand-computed answers, and
//! the TTL × heartbeat sweep.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use protocols::discovery::{DiscoveryEvent, FoundPeer};
use protocols::transport::Layered;
use scenarios::build::build;
use scenarios::error::Locator;
use scenarios::load::parse;
use scenarios::stack::{DiscoveryNote, StackEvent};
use sim_core::{Duration, Instant, NodeId};

/// Node 0 is the registry (TTL 60 s, 20 ms per request, no cold start),
/// every link 10 ms. Heartbeats every 20 s from the register command.
///
/// - node 1 `quitter` (pepino) registers at 1 s and stops heartbeating at
///   50 s;
/// - node 2 `stayer` (pepino) registers at 2 s and heartbeats to the end;
/// - node 3 `ethic` (ethics) registers at 3 s and crashes for good at 70 s;
/// - node 4 `asker` asks for everyone every 10 s from 5 s;
/// - node 5 `asker2` asks for pepino peers every 10 s from 6 s;
/// - node 6 `phoenix` registers every 30 s from 4 s, crashes at 60 s
///   losing its state and comes back at 80 s: its register at 94 s is a new
///   peer id, while the old registration lives out its TTL.
///
/// A request on an open connection is sent at `t`, arrives at `t + 10 ms`
/// and completes (is stamped) at `t + 30 ms`; the first on a connection
/// waits for the TLS handshake's round trip, so it completes at `t + 50 ms`.
const TINY: &str = r#"(
    name: "tiny-discovery",
    seed: 1,
    duration: "150s",
    network: Graph(topology: FullMesh, link: (latency: Constant("10ms"))),
    groups: [
        (name: "registry", count: 1, protocol: Discovery(config: (server: (ttl: "60s", cold_start_delay: "0s")))),
        (name: "quitter", count: 1, protocol: Discovery(server: "registry", config: (client: (heartbeat_interval: "20s")))),
        (name: "stayer", count: 1, protocol: Discovery(server: "registry", config: (client: (heartbeat_interval: "20s")))),
        (name: "ethic", count: 1, protocol: Discovery(server: "registry", config: (client: (heartbeat_interval: "20s")))),
        (name: "asker", count: 1, protocol: Discovery(server: "registry")),
        (name: "asker2", count: 1, protocol: Discovery(server: "registry")),
        (name: "phoenix", count: 1, protocol: Discovery(server: "registry", config: (client: (heartbeat_interval: "20s")))),
    ],
    workload: [
        (group: "quitter", action: Register(archetypes: ["pepino"]), arrivals: Every("1h"), start: "1s"),
        (group: "stayer", action: Register(archetypes: ["pepino"]), arrivals: Every("1h"), start: "2s"),
        (group: "ethic", action: Register(archetypes: ["ethics"]), arrivals: Every("1h"), start: "3s"),
        (group: "phoenix", action: Register(archetypes: ["phoenix"]), arrivals: Every("30s"), start: "4s"),
        (group: "quitter", action: StopHeartbeats, arrivals: Every("1h"), start: "50s"),
        (group: "asker", action: Discover(), arrivals: Every("10s"), start: "5s"),
        (group: "asker2", action: Discover(archetype: "pepino"), arrivals: Every("10s"), start: "6s"),
    ],
    faults: [
        At("70s", Crash(node: 3)),
        At("60s", Crash(node: 6)),
        At("80s", Restart(node: 6)),
    ],
)"#;

const QUITTER: NodeId = NodeId(1);
const STAYER: NodeId = NodeId(2);
const ETHIC: NodeId = NodeId(3);
const ASKER: NodeId = NodeId(4);
const ASKER2: NodeId = NodeId(5);
const PHOENIX: NodeId = NodeId(6);
const TTL: Duration = Duration::from_secs(60);

fn ms(m: u64) -> Instant {
    Instant::from_nanos(m * 1_000_000)
}

/// An answered discover as the asking client saw it.
struct Answer {
    node: NodeId,
    as_of: Instant,
    peers: Vec<FoundPeer>,
}

/// A registration the TTL removed: its node, last refresh and expiry.
#[derive(Debug)]
struct Expiry {
    node: NodeId,
    last: Instant,
    at: Instant,
}

/// The run's answers and expiries, straight from its recorded events.
fn tiny_events() -> (Vec<Answer>, Vec<Expiry>) {
    let path = Path::new("tiny.ron");
    let scenario = parse(path, TINY).unwrap_or_else(|e| panic!("{e}"));
    let mut sim = build(&scenario, scenario.seed, &Locator::new(path, TINY)).unwrap();
    sim.record_events();
    sim.run_until(Instant::ZERO + scenario.duration);
    let mut answers = Vec::new();
    let mut expiries = Vec::new();
    for (_, node, event) in sim.events() {
        let Layered::App(StackEvent::Discovery(DiscoveryNote::Event(e))) = event else {
            continue;
        };
        match e {
            DiscoveryEvent::Discovered { peers, as_of, .. } => answers.push(Answer {
                node: *node,
                as_of: *as_of,
                peers: peers.clone(),
            }),
            DiscoveryEvent::Expired {
                peer,
                last_heartbeat,
                at,
                ..
            } => expiries.push(Expiry {
                node: *peer,
                last: *last_heartbeat,
                at: *at,
            }),
            _ => {}
        }
    }
    (answers, expiries)
}

#[test]
fn a_silent_peer_is_returned_until_its_last_heartbeat_plus_ttl_and_never_after() {
    let (answers, expiries) = tiny_events();
    assert_eq!(answers.len(), 15 + 15, "every discover is answered");
    // Each registration that died expired exactly a TTL after its last
    // register or heartbeat: the quitter's last heartbeat was the one sent
    // at 41 s, the crashed ethic's at 63 s, the phoenix's first
    // incarnation's at 54 s (20 s after its register at 34 s).
    let by_node: BTreeMap<NodeId, (Instant, Instant)> =
        expiries.iter().map(|e| (e.node, (e.last, e.at))).collect();
    assert_eq!(expiries.len(), 3, "{expiries:?}");
    assert_eq!(by_node[&QUITTER], (ms(41_030), ms(101_030)));
    assert_eq!(by_node[&ETHIC], (ms(63_030), ms(123_030)));
    assert_eq!(by_node[&PHOENIX], (ms(54_030), ms(114_030)));
    // The rule, answer by answer: a registration is returned from its
    // last refresh until that + TTL, and never after.
    for Expiry {
        node,
        last,
        at: expired_at,
    } in &expiries
    {
        assert_eq!(*expired_at, *last + TTL);
        for a in &answers {
            let returned = a
                .peers
                .iter()
                .any(|p| p.node == *node && p.last_seen == *last);
            let wants = a.node == ASKER || *node == QUITTER;
            let alive = *last <= a.as_of && a.as_of < *expired_at;
            if a.as_of >= *expired_at || !wants {
                assert!(
                    !returned,
                    "{node:?} returned at {} after {expired_at}",
                    a.as_of
                );
            } else if alive {
                assert!(returned, "{node:?} missing at {}", a.as_of);
            }
        }
    }
    // Every returned peer was alive by the TTL rule when the view was taken.
    for a in &answers {
        for p in &a.peers {
            assert!(p.last_seen <= a.as_of && a.as_of < p.last_seen + TTL);
        }
    }
    // The phoenix came back under a new peer id: between its new register
    // (94.05 s) and the old one's expiry, both are returned.
    let both = answers
        .iter()
        .filter(|a| a.peers.iter().filter(|p| p.node == PHOENIX).count() == 2)
        .map(|a| a.as_of)
        .collect::<Vec<_>>();
    assert_eq!(both, vec![ms(95_030), ms(105_030)]);
}

#[test]
fn archetype_filters_return_exactly_the_matching_peers() {
    let (answers, _) = tiny_events();
    let pepino: BTreeSet<NodeId> = [QUITTER, STAYER].into();
    for a in answers.iter().filter(|a| a.node == ASKER2) {
        let got: BTreeSet<NodeId> = a.peers.iter().map(|p| p.node).collect();
        // The quitter until its registration expires, the stayer always.
        let want: BTreeSet<NodeId> = if a.as_of < ms(101_030) {
            pepino.clone()
        } else {
            [STAYER].into()
        };
        assert_eq!(got, want, "at {}", a.as_of);
    }
    // Unfiltered answers hold the others too.
    let all = answers.iter().find(|a| a.node == ASKER).unwrap();
    let got: BTreeSet<NodeId> = all.peers.iter().map(|p| p.node).collect();
    assert_eq!(got, [QUITTER, STAYER, ETHIC, PHOENIX].into());
}

#[test]
fn staleness_matches_the_hand_computed_answer() {
    let outcome = common::run_text(TINY, None);
    let d = outcome
        .services
        .discovery
        .as_ref()
        .expect("discovery figures");
    // Deaths: the quitter stops at 50 s, the phoenix crashes at 60 s, the
    // ethic at 70 s. A discover sent at t is stamped at t + 30 ms (t + 50
    // ms for the first, which waits for the handshake).
    let mut want: BTreeMap<(NodeId, Instant), Vec<Duration>> = BTreeMap::new();
    let mut stale = |asker: NodeId, sent_s: u64, died_s: u64| {
        let as_of = ms(sent_s * 1000 + 30);
        want.entry((asker, as_of))
            .or_default()
            .push(as_of - ms(died_s * 1000));
    };
    for t in [55, 65, 75, 85, 95] {
        stale(ASKER, t, 50); // quitter, until 101.03 s
        stale(ASKER2, t + 1, 50); // the same, asked for by archetype
    }
    for t in [65, 75, 85, 95, 105] {
        stale(ASKER, t, 60); // the phoenix's first incarnation, until 114.03 s
    }
    for t in [75, 85, 95, 105, 115] {
        stale(ASKER, t, 70); // ethic, until 123.03 s
    }
    let mut got: BTreeMap<(NodeId, Instant), Vec<Duration>> = BTreeMap::new();
    for r in &d.responses {
        if !r.stale.is_empty() {
            let mut s = r.stale.clone();
            s.sort_unstable();
            got.insert((r.node, r.as_of), s);
        }
    }
    for v in want.values_mut() {
        v.sort_unstable();
    }
    assert_eq!(got, want);
    assert_eq!((d.discovers, d.responses.len()), (30, 30));
    assert_eq!((d.deaths, d.expired), (3, 3));

    // The same in summary.json: 20 stale returns; staleness 5.03 s to
    // 46.03 s, mean (3 × 25.03 + 26.03) / 4 s.
    let text = TINY;
    let scenario = parse(Path::new("tiny.ron"), text).unwrap();
    let data = scenarios::results::run_data(&outcome, &scenario, text);
    let j = data.summary.discovery.expect("a discovery object");
    assert_eq!(j.stale_returns, 20);
    assert_eq!(j.staleness_ms.max, 46_030.0);
    assert_eq!(j.staleness_ms.mean, 25_280.0);
    assert_eq!(j.staleness_ms.p50, 25_030.0);
    // Returned: asker 15 answers × stayer + quitter 10 + ethic 12 + phoenix
    // (old 11 up to 105 s, new 6 from 95 s); asker2 15 × stayer + quitter 10.
    assert_eq!(j.returned, 15 + 10 + 12 + 11 + 6 + 15 + 10);
    assert_eq!(j.stale_share, 20.0 / 79.0);
    assert_eq!(j.success_ratio, 1.0);
    // discovery.csv: one row per answer, its staleness in seconds.
    assert_eq!(data.discovery.len(), 30);
    let row = data
        .discovery
        .iter()
        .find(|r| r.node == ASKER.0 && r.as_of_ns == ms(105_030).as_nanos())
        .unwrap();
    // stayer, ethic (dead 35.03 s), phoenix old (dead 45.03 s) and new
    assert_eq!((row.returned, row.stale), (4, 2));
    assert_eq!(row.staleness_max_s, Some(45.03));
}

#[test]
fn the_registry_bill_counts_what_it_served() {
    let outcome = common::run_text(TINY, None);
    let d = outcome.services.discovery.as_ref().unwrap();
    // Registers: 3 + the phoenix's at 4, 34, 94 and 124 s (64 s found it
    // down). Heartbeats, 20 s after each register: quitter 21, 41; stayer
    // 22 … 142 (7); ethic 23, 43, 63; phoenix 24, 54, then 114, 144.
    assert_eq!(d.served.register, 7);
    assert_eq!(d.served.heartbeat, 2 + 7 + 3 + 4);
    assert_eq!(d.served.discover, 30);
    assert_eq!(d.rejected.total(), 0);
    // At the default prices a request costs $1.20 per million, 20 ms of a
    // 128 MB function and one database operation at $0.07 per million; 53
    // requests over 150 s, scaled to 30 days.
    let requests = 53.0;
    let cost = requests * (1.2e-6 + 0.02 * 0.125 * 0.000_016_666_7 + 0.07e-6);
    assert!((d.cost.total() - cost).abs() < 1e-12, "{:?}", d.cost);
    let month = 30.0 * 86_400.0 / 150.0;
    assert!((d.monthly.total() - cost * month).abs() < 1e-9);
}

#[test]
fn the_discovery_scenario_shows_stale_answers_within_a_ttl() {
    let outcome = common::run_shipped("discovery", None);
    let d = outcome.services.discovery.as_ref().unwrap();
    let stale = d.staleness_sorted();
    assert!(d.deaths >= 10, "{}", d.deaths);
    assert!(!stale.is_empty());
    // No peer is returned more than a TTL after it died.
    assert!(*stale.last().unwrap() < Duration::from_secs(300));
    assert_eq!(d.unavailable + d.timed_out, 0);
}

/// discovery-ttl.ron cut down: three TTLs, one heartbeat interval, one
/// replication, a shorter run.
#[test]
fn the_ttl_sweep_writes_staleness_and_cost_and_staleness_grows_with_the_ttl() {
    let text = std::fs::read_to_string(common::shipped("discovery-ttl"))
        .unwrap()
        .replace(
            r#"values: ["1m", "2m", "5m", "10m"]"#,
            r#"values: ["1m", "2m", "4m"]"#,
        )
        .replace(r#"values: ["15s", "30s", "60s"]"#, r#"values: ["30s"]"#)
        .replace("replications: 2", "replications: 1")
        .replace(r#"duration: "18m""#, r#"duration: "11m""#)
        .replace("count: 150", "count: 60")
        .replace("Crash(node: 110)", "Crash(node: 50)");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ttl.ron");
    std::fs::write(&file, &text).unwrap();
    let plan = scenarios::sweep::Plan::new(
        &parse(&file, &text).unwrap_or_else(|e| panic!("{e}")),
        &file,
        &text,
    )
    .unwrap();
    let out = dir.path().join("out");
    let done = scenarios::sweep::runner::run(
        &plan,
        &file,
        &text,
        &out,
        &scenarios::sweep::runner::Options::default(),
        &|_, _| {},
    )
    .unwrap();
    assert!(done.complete());
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    let staleness = column("discovery.staleness_ms.mean");
    let cost = column("discovery.monthly_cost_usd.total");
    let share = column("discovery.stale_share");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let number = |r: &csv::StringRecord, c: usize| r[c].parse::<f64>().unwrap();
    for pair in rows.windows(2) {
        assert!(number(&pair[0], staleness) < number(&pair[1], staleness));
        assert!(number(&pair[0], share) < number(&pair[1], share));
    }
    // The same heartbeat everywhere: the bill barely moves with the TTL.
    let bills: Vec<f64> = rows.iter().map(|r| number(r, cost)).collect();
    assert!(
        bills
            .iter()
            .all(|b| *b > 0.0 && (b / bills[0] - 1.0).abs() < 0.05),
        "{bills:?}"
    );
}
