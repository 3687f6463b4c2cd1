//! Sweeps: the grid, seeds, sweep.csv's bytes with any number of threads,
//! shards merged, sweeps resumed, and errors with their positions.

mod common;

use std::path::Path;
use std::process::Command;

use scenarios::load::parse;
use scenarios::schema::ProtocolSpec;
use scenarios::sweep::runner::{self, Finished, Options};
use scenarios::sweep::{merge, replication_seed, Plan, Shard, SweepError};

/// 30 flooding nodes for 5 s: 4 × 2 points, 3 replications, 24 runs in
/// about 0.1 s.
const TINY: &str = r#"(
    name: "tiny",
    seed: 5,
    duration: "5s",
    network: Graph(
        topology: RandomGeometric(radius: 0.3),
        link: (latency: LogNormal(mean: "8ms", std_dev: "3ms"), loss: Bernoulli(p: 0.01)),
    ),
    groups: [(name: "peers", count: 30, protocol: Flood(hop_limit: 12))],
    workload: [(group: "peers", action: Broadcast(size: "512B"), arrivals: Poisson(5.0),
                start: "1s", stop: "4s")],
    sweep: (
        parameters: [
            (path: "groups.0.protocol.Flood.hop_limit", name: "hop limit", values: [1, 2, 4, 8]),
            (path: "network.link.loss", values: [Bernoulli(p: 0.0), Bernoulli(p: 0.1)]),
        ],
        replications: 3,
    ),
)"#;

const FILE: &str = "tiny.ron";

fn plan_of(text: &str) -> Plan {
    let scenario = parse(Path::new(FILE), text).unwrap_or_else(|e| panic!("{e}"));
    Plan::new(&scenario, Path::new(FILE), text).unwrap_or_else(|e| panic!("{e}"))
}

/// The error of a scenario text whose sweep is wrong.
fn error_of(text: &str) -> scenarios::error::ScenarioError {
    parse(Path::new(FILE), text).expect_err("an invalid sweep")
}

fn run(plan: &Plan, dir: &Path, options: Options) -> Finished {
    runner::run(plan, Path::new(FILE), TINY, dir, &options, &|_, _| {})
        .unwrap_or_else(|e| panic!("{e}"))
}

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

fn threads(n: usize) -> Options {
    Options {
        threads: n,
        ..Options::default()
    }
}

#[test]
fn points_are_the_product_of_the_values_and_set_what_they_name() {
    let plan = plan_of(TINY);
    assert_eq!(plan.points.len(), 8);
    assert_eq!(plan.runs(), 24);
    // The first parameter varies slowest.
    let hop_limits: Vec<u8> = plan
        .points
        .iter()
        .map(|p| match &p.scenario.groups[0].protocol {
            ProtocolSpec::Flood(f) => f.hop_limit,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(hop_limits, [1, 1, 2, 2, 4, 4, 8, 8]);
    assert_eq!(
        plan.describe(3),
        "hop limit = 2, network.link.loss = Bernoulli(p: 0.1)"
    );
    // Everything the sweep does not set is the scenario as written.
    let base = &plan.base;
    for p in &plan.points {
        assert_eq!(p.scenario.workload, base.workload);
        assert_eq!(p.scenario.duration, base.duration);
        assert_eq!(p.scenario.sweep, None);
    }
    assert_eq!((plan.pair(5).point, plan.pair(5).replication), (1, 2));
    assert_eq!(plan.index(plan.pair(17)), 17);
}

#[test]
fn replication_seeds_are_the_same_at_every_point() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(TINY);
    let done = run(&plan, dir.path(), Options::default());
    assert_eq!(done.rows.len(), 24);
    assert_eq!(
        replication_seed(5, 0),
        5,
        "replication 0 is the scenario's seed"
    );
    let seeds: Vec<u64> = (0..3).map(|r| replication_seed(5, r)).collect();
    assert!(seeds[0] != seeds[1] && seeds[1] != seeds[2] && seeds[0] != seeds[2]);
    assert_ne!(replication_seed(6, 1), seeds[1]);
    for (j, row) in done.rows.iter().enumerate() {
        let r = j % 3;
        assert_eq!(row.cells[0], (j / 3).to_string());
        assert_eq!(row.cells[1], r.to_string());
        assert_eq!(row.cells[2], seeds[r].to_string(), "row {j}");
    }
    // Different seeds give different runs; the same seed at two points does
    // not make them equal (hop limit 1 vs 8).
    assert_ne!(done.rows[0].cells[5], done.rows[1].cells[5]);
    assert_ne!(done.rows[0].cells[5], done.rows[21].cells[5]);
}

#[test]
fn sweep_csv_is_the_same_bytes_with_one_and_two_threads() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plan = plan_of(TINY);
    assert!(run(&plan, one.path(), threads(1)).complete());
    assert!(run(&plan, two.path(), threads(2)).complete());
    let csv = read(one.path().join("sweep.csv"));
    assert_eq!(csv, read(two.path().join("sweep.csv")));
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(text.lines().count(), 1 + 24);
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("point,replication,seed,hop limit,network.link.loss,trace_hash,"));
    for column in [
        "delivery_ratio",
        "latency_ms.p50",
        "latency_ms.p99",
        "bytes_sent",
        "drops.loss",
        "duplicates",
        "energy.nodes",
        "lookups.started",
    ] {
        assert!(
            header.split(',').any(|h| h == column),
            "{column} in {header}"
        );
    }
    assert!(!header.contains("wall"), "no wall-clock column: {header}");
    assert!(!one.path().join("sweep.partial.csv").exists());
}

#[test]
fn shards_merged_are_the_unsharded_sweep_byte_for_byte() {
    let root = tempfile::tempdir().unwrap();
    let at = |name: &str| root.path().join(name);
    let plan = plan_of(TINY);
    let whole = run(&plan, &at("whole"), Options::default());
    scenarios::sweep::publish::publish(&plan, TINY, &whole.rows, &at("whole"), "test").unwrap();
    let mut shards = Vec::new();
    for k in 1..=2 {
        let dir = at(&format!("shard{k}"));
        let shard = Shard { k, n: 2 };
        let done = run(
            &plan,
            &dir,
            Options {
                shard,
                ..Options::default()
            },
        );
        assert_eq!(done.rows.len(), 12);
        assert!(done.rows.iter().all(|r| shard.holds(plan.index(r.pair))));
        shards.push(dir);
    }
    let merged = merge(&at("merged"), &shards, "test").unwrap();
    assert_eq!((merged.runs, merged.duplicates), (24, 0));
    for file in [
        "sweep.csv",
        "report.html",
        "sweep_delivery_ratio.svg",
        "scenario.ron",
    ] {
        assert_eq!(
            read(at("whole").join(file)),
            read(at("merged").join(file)),
            "{file}"
        );
    }
    // A shard given twice: its rows are identical, kept once.
    let twice = [shards[0].clone(), shards[0].clone(), shards[1].clone()];
    let merged = merge(&at("merged2"), &twice, "test").unwrap();
    assert_eq!(merged.duplicates, 12);
    assert_eq!(
        read(at("whole").join("sweep.csv")),
        read(at("merged2").join("sweep.csv"))
    );

    // A missing shard: every missing run is reported and nothing written.
    let err = merge(&at("half"), &shards[..1], "test")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "12 of the sweep's 24 runs are in none of the folders: \
                             point 0 replication 1, point 1 replication 0"
        ),
        "{err}"
    );
    assert!(!at("half").exists());

    // Two different results for one run are refused.
    let csv = shards[1].join("sweep.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let first_row = text.lines().nth(1).unwrap();
    let changed = format!("{first_row}9"); // more relays
    let forged = at("forged");
    std::fs::create_dir_all(&forged).unwrap();
    std::fs::copy(shards[1].join("scenario.ron"), forged.join("scenario.ron")).unwrap();
    std::fs::write(forged.join("sweep.csv"), text.replace(first_row, &changed)).unwrap();
    let err = merge(
        &at("bad"),
        &[shards[0].clone(), shards[1].clone(), forged],
        "test",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("have different results for point 0 replication 1"),
        "{err}"
    );
}

#[test]
fn a_resumed_sweep_is_the_uninterrupted_one_byte_for_byte() {
    let root = tempfile::tempdir().unwrap();
    let (whole, part) = (root.path().join("whole"), root.path().join("part"));
    let plan = plan_of(TINY);
    run(&plan, &whole, threads(2));

    // Interrupted after 7 runs: the rows are in the partial file, no sweep.csv.
    let done = run(
        &plan,
        &part,
        Options {
            max_runs: Some(7),
            ..threads(2)
        },
    );
    assert_eq!((done.ran, done.rows.len(), done.complete()), (7, 7, false));
    let partial = part.join("sweep.partial.csv");
    assert!(partial.exists() && !part.join("sweep.csv").exists());
    assert_eq!(
        std::fs::read_to_string(&partial).unwrap().lines().count(),
        1 + 7
    );

    // A second interruption, this time killed while writing a row: its
    // line is cut short.
    let done = run(
        &plan,
        &part,
        Options {
            max_runs: Some(5),
            resume: true,
            ..threads(2)
        },
    );
    assert_eq!((done.resumed, done.ran), (7, 5));
    let mut bytes = read(&partial);
    bytes.extend_from_slice(b"7,1,40119657912348589");
    std::fs::write(&partial, &bytes).unwrap();

    let done = run(
        &plan,
        &part,
        Options {
            resume: true,
            ..threads(2)
        },
    );
    assert_eq!((done.resumed, done.ran, done.complete()), (12, 12, true));
    assert_eq!(read(whole.join("sweep.csv")), read(part.join("sweep.csv")));
    assert!(!partial.exists());

    // Resuming a finished sweep runs nothing and writes the same file.
    let done = run(
        &plan,
        &part,
        Options {
            resume: true,
            ..threads(1)
        },
    );
    assert_eq!((done.resumed, done.ran), (24, 0));
    assert_eq!(read(whole.join("sweep.csv")), read(part.join("sweep.csv")));
}

#[test]
fn resume_refuses_rows_of_another_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(TINY);
    run(
        &plan,
        dir.path(),
        Options {
            max_runs: Some(3),
            ..Options::default()
        },
    );
    // Same file, but the folder holds rows of shard 1/1, not 2/2.
    let err = runner::run(
        &plan,
        Path::new(FILE),
        TINY,
        dir.path(),
        &Options {
            shard: Shard { k: 2, n: 2 },
            resume: true,
            ..Options::default()
        },
        &|_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, SweepError::Data(_)), "{err}");
    assert!(
        err.to_string()
            .contains("which shard 1/2 runs, not shard 2/2"),
        "{err}"
    );
    // Another scenario file.
    let other = TINY.replace("seed: 5", "seed: 6");
    let err = runner::run(
        &plan_of(&other),
        Path::new(FILE),
        &other,
        dir.path(),
        &Options {
            resume: true,
            ..Options::default()
        },
        &|_, _| {},
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("was made from another scenario file"),
        "{err}"
    );
}

#[test]
fn errors_name_the_segment_or_value_with_its_position() {
    let line_col = |text: &str, needle: &str| {
        let offset = text.find(needle).unwrap();
        let line = text[..offset].matches('\n').count() + 1;
        let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, col)
    };
    // A segment that does not exist: the error points at it.
    let text = TINY.replace("groups.0.protocol.Flood", "groups.0.protcol.Flood");
    let e = error_of(&text);
    assert_eq!((e.line, e.col), line_col(&text, "protcol.Flood"));
    assert!(
        e.message.starts_with(
            "sweep path \"groups.0.protcol.Flood.hop_limit\": no `protcol` in `groups.0`; it has: "
        ),
        "{e}"
    );
    // An index out of range.
    let text = TINY.replace("groups.0.protocol", "groups.1.protocol");
    let e = error_of(&text);
    assert_eq!((e.line, e.col), line_col(&text, "1.protocol.Flood"));
    assert!(
        e.message
            .ends_with("`groups` has 1 entry; index 1 is out of range"),
        "{e}"
    );
    // A last field the schema does not have.
    let text = TINY.replace("Flood.hop_limit", "Flood.hop_limt");
    let e = error_of(&text);
    assert_eq!((e.line, e.col), line_col(&text, "hop_limt\""));
    assert!(
        e.message
            .contains("unknown field `hop_limt`, expected one of `hop_limit`"),
        "{e}"
    );
    // A value of the wrong type, and a variant that does not exist.
    let text = TINY.replace("[1, 2, 4, 8]", "[1, 2, \"four\", 8]");
    let e = error_of(&text);
    assert_eq!((e.line, e.col), line_col(&text, "\"four\""));
    assert!(
        e.message.contains(
            "sweep value `\"four\"` of \"hop limit\": invalid type: string \"four\", expected u8"
        ),
        "{e}"
    );
    let text = TINY.replace("Bernoulli(p: 0.1)", "Bernouli(p: 0.1)");
    let e = error_of(&text);
    assert_eq!((e.line, e.col), line_col(&text, "Bernouli("));
    assert!(e.message.contains("unknown variant `Bernouli`"), "{e}");
    // A point that converts but is not a valid scenario.
    let e = error_of(&TINY.replace("Bernoulli(p: 0.1)", "Bernoulli(p: 1.5)"));
    assert!(
        e.message
            .starts_with("sweep point 1 (hop limit = 1, network.link.loss = Bernoulli(p: 1.5)): "),
        "{e}"
    );
    // Spec errors.
    let e = error_of(&TINY.replace("replications: 3", "replications: 0"));
    assert!(e.message.contains("at least one replication"), "{e}");
    let e = error_of(&TINY.replace("replications: 3", "replications: 3, series: \"hop\""));
    assert!(
        e.message.contains("`series` names no parameter: \"hop\""),
        "{e}"
    );
    let e = error_of(&TINY.replace("name: \"hop limit\"", "name: \"network.link.loss\""));
    assert!(
        e.message
            .contains("two parameters are named \"network.link.loss\""),
        "{e}"
    );
    let e = error_of(&TINY.replace("name: \"hop limit\"", "name: \"seed\""));
    assert!(
        e.message.contains("sweep.csv has a column of that name"),
        "{e}"
    );
}

#[test]
fn several_paths_set_together() {
    let text = TINY.replace(
        r#"(path: "groups.0.protocol.Flood.hop_limit", name: "hop limit", values: [1, 2, 4, 8]),"#,
        r#"(name: "size", paths: ["groups.0.count", "workload.0.action.Broadcast.size"],
            values: [[10, "100B"], [20, "1KiB"]]),"#,
    );
    let plan = plan_of(&text);
    assert_eq!(plan.points.len(), 4);
    let p = &plan.points[2].scenario;
    assert_eq!(p.groups[0].count, 20);
    assert_eq!(
        format!("{:?}", p.workload[0].action),
        "Broadcast { size: ByteSize(1024) }"
    );
    let e = error_of(&text.replace("[20, \"1KiB\"]", "[20]"));
    assert!(
        e.message
            .contains("expected a list of 2 values, one for each of `paths`"),
        "{e}"
    );
}

#[test]
fn the_series_parameter_moves_the_other_to_the_x_axis() {
    assert_eq!(plan_of(TINY).x, Some(0));
    let plan = plan_of(&TINY.replace("replications: 3", "replications: 3, series: \"hop limit\""));
    assert_eq!(plan.x, Some(1));
}

#[test]
fn every_shipped_scenario_survives_its_serde_form() {
    // A sweep point is the scenario through JSON and back: nothing may change.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            let text = std::fs::read_to_string(&path).unwrap();
            let scenario = parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
            let json = serde_json::to_value(&scenario).unwrap();
            let back: scenarios::schema::Scenario = serde_json::from_value(json).unwrap();
            assert_eq!(back, scenario, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 10);
}

#[test]
fn gossip_d_sweeps_d_with_consistent_bounds() {
    let path = common::shipped("gossip-d");
    let text = std::fs::read_to_string(&path).unwrap();
    let scenario = parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let plan = Plan::new(&scenario, &path, &text).unwrap();
    assert_eq!((plan.points.len(), plan.replications), (5, 3));
    let ds: Vec<u32> = plan
        .points
        .iter()
        .map(|p| match &p.scenario.groups[0].protocol {
            ProtocolSpec::Gossip(g) => {
                g.config
                    .validate()
                    .unwrap_or_else(|e| panic!("D = {}: {e}", g.config.d));
                g.config.d
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ds, [4, 6, 8, 10, 12]);
}

fn p2psim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_p2psim"))
}

#[test]
fn cli_bad_path_exits_2_with_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let text = TINY.replace("network.link.loss", "network.lnk.loss");
    let file = dir.path().join("bad.ron");
    std::fs::write(&file, &text).unwrap();
    let out = p2psim()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let offset = text.find("lnk.loss").unwrap();
    let line = text[..offset].matches('\n').count() + 1;
    let col = offset - text[..offset].rfind('\n').unwrap();
    let prefix = format!(
        "{}:{line}:{col}: sweep path \"network.lnk.loss\": no `lnk` in `network.Graph`",
        file.display()
    );
    assert!(err.starts_with(&prefix), "{err}\nexpected {prefix}");
    assert!(!dir.path().join("o").exists(), "nothing runs");
}

#[test]
fn cli_sweep_shards_resume_and_merge() {
    let root = tempfile::tempdir().unwrap();
    let at = |name: &str| root.path().join(name);
    let file = at("tiny.ron");
    std::fs::write(&file, TINY).unwrap();
    let sweep = |args: &[&str]| {
        let out = p2psim()
            .arg("sweep")
            .arg(&file)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let dir = |name: &str| at(name).to_str().unwrap().to_string();
    let printed = sweep(&["--threads", "1", "--out", &dir("one")]);
    assert!(
        printed.contains("8 points × 3 replications = 24 runs"),
        "{printed}"
    );
    for chart in [
        "sweep_delivery_ratio",
        "sweep_latency_p50",
        "sweep_latency_p99",
        "sweep_bytes_sent",
    ] {
        assert!(
            at("one").join(format!("{chart}.svg")).exists()
                && at("one").join(format!("{chart}.png")).exists(),
            "{chart}"
        );
    }
    sweep(&["--threads", "2", "--quiet", "--out", &dir("two")]);
    assert_eq!(
        read(at("one").join("sweep.csv")),
        read(at("two").join("sweep.csv"))
    );

    sweep(&["--quiet", "--shard", "1/2", "--out", &dir("s1")]);
    let printed = sweep(&["--shard", "2/2", "--out", &dir("s2"), "--max-runs", "4"]);
    assert!(
        printed.contains("stopped: 4 of 12 runs done; run again with --resume"),
        "{printed}"
    );
    sweep(&["--quiet", "--shard", "2/2", "--out", &dir("s2"), "--resume"]);
    let out = p2psim()
        .arg("merge")
        .arg(at("merged"))
        .arg(at("s1"))
        .arg(at("s2"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in ["sweep.csv", "report.html"] {
        assert_eq!(
            read(at("one").join(file)),
            read(at("merged").join(file)),
            "{file}"
        );
    }
    let out = p2psim()
        .arg("merge")
        .arg(at("m"))
        .arg(at("s1"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = p2psim()
        .arg("sweep")
        .arg(&file)
        .args(["--shard", "3/2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected K/N with 1 <= K <= N"));
}
