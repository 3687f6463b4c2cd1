//! The p2psim binary as a user runs it: exit statuses, messages, outputs.

mod common;

use std::process::Command;

use common::shipped;

fn p2psim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_p2psim"))
}

#[test]
fn typo_in_a_field_names_line_and_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(shipped("quickstart"))
        .unwrap()
        .replace("hop_limit: 12", "hop_limt: 12");
    let file = dir.path().join("typo.ron");
    std::fs::write(&file, &text).unwrap();
    let (line, _) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("hop_limt"))
        .unwrap();
    let out = p2psim().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let prefix = format!("{}:{}:", file.display(), line + 1);
    assert!(err.starts_with(&prefix), "{err}");
    assert!(
        err.contains("hop_limt") && err.contains("expected one of: hop_limit"),
        "{err}"
    );
}

#[test]
fn semantic_errors_exit_2_and_missing_files_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(shipped("quickstart"))
        .unwrap()
        .replace("(group: \"peers\"", "(group: \"peerz\"");
    let file = dir.path().join("bad.ron");
    std::fs::write(&file, text).unwrap();
    let out = p2psim().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no group named \"peerz\""));
    let out = p2psim()
        .arg("validate")
        .arg(dir.path().join("absent.ron"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// A protocol's own parameter rules (here GossipSub's D_low ≤ D ≤ D_high)
/// are checked before a run, at the `config` that breaks them.
#[test]
fn protocol_parameters_that_break_the_spec_exit_2_with_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(shipped("gossip-1k"))
        .unwrap()
        .replace(
            "Gossip(topics: [0])",
            "Gossip(topics: [0], config: (d: 20))",
        );
    let file = dir.path().join("bad.ron");
    std::fs::write(&file, &text).unwrap();
    let out = p2psim().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .position(|l| l.contains("config: (d: 20)"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("bad.ron:{line}:")), "{err}");
    assert!(err.contains("d_low <= d <= d_high"), "{err}");
}

#[test]
fn every_shipped_scenario_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            let out = p2psim().arg("validate").arg(&path).output().unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            n += 1;
        }
    }
    assert!(n >= 4);
}

#[test]
fn run_writes_summary_and_deliveries_and_prints_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let out = p2psim()
        .args(["run", "--quiet"])
        .arg(shipped("flood-line"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "--quiet prints nothing");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    for key in [
        "scenario",
        "seed",
        "trace_hash",
        "messages",
        "deliveries",
        "delivery_ratio",
        "latency_ms",
        "hops_mean",
        "drops",
        "events",
        "wall_s",
    ] {
        assert!(summary.get(key).is_some(), "summary.json lacks {key}");
    }
    for key in ["p50", "p90", "p99", "mean", "max"] {
        assert!(
            summary["latency_ms"].get(key).is_some(),
            "latency_ms lacks {key}"
        );
    }
    assert_eq!(summary["deliveries"], 70);
    let csv = std::fs::read_to_string(dir.path().join("deliveries.csv")).unwrap();
    assert_eq!(csv.lines().count(), 71);
    assert!(csv.starts_with("message,source,destination,sent_ns,delivered_ns,latency_ms,hops"));

    let out = p2psim()
        .arg("run")
        .arg(shipped("flood-line"))
        .arg("--out")
        .arg(dir.path())
        .args(["--seed", "9"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let trace = stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace: "))
        .expect("a trace line");
    assert_eq!(trace.len(), 16);
    assert!(trace.chars().all(|c| c.is_ascii_hexdigit()));
}
