//! What `p2psim run` leaves in its folder, as a user finds it: the tables,
//! every chart as SVG and PNG, report.html, and `--trace`; and `p2psim report`
//! rebuilding the charts and report from the tables alone.

mod common;

use std::path::Path;
use std::process::Command;

use common::shipped;

const CHARTS: [&str; 5] = ["latency_cdf", "timeline", "hops", "node_load", "drops"];

fn p2psim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_p2psim"))
}

fn run_into(dir: &Path, extra: &[&str]) {
    let out = p2psim()
        .arg("run")
        .arg(shipped("quickstart"))
        .arg("--out")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_leaves_tables_charts_and_report() {
    let dir = tempfile::tempdir().unwrap();
    run_into(dir.path(), &["--quiet"]);
    for f in [
        "summary.json",
        "deliveries.csv",
        "timeseries.csv",
        "nodes.csv",
        "faults.csv",
        "scenario.ron",
        "report.html",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    for c in CHARTS {
        let svg = std::fs::read_to_string(dir.path().join(format!("{c}.svg"))).unwrap();
        assert!(svg.contains("<svg"), "{c}.svg is not SVG");
        let png = std::fs::read(dir.path().join(format!("{c}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{c}.png is not PNG");
    }
    // No temporary file is left behind.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "{name} left behind");
    }
}

#[test]
fn tables_agree_with_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    run_into(dir.path(), &["--quiet"]);
    let run = reports::RunData::load(dir.path()).unwrap();
    let s = &run.summary;
    assert_eq!(run.deliveries.len() as u64, s.deliveries);
    let ts = &run.timeseries;
    assert_eq!(ts.len(), 120, "60 s in 500 ms intervals");
    assert_eq!(
        ts.iter().map(|r| r.packets_sent).sum::<u64>(),
        s.packets_sent
    );
    assert_eq!(ts.iter().map(|r| r.bytes_sent).sum::<u64>(), s.bytes_sent);
    assert_eq!(ts.iter().map(|r| r.messages).sum::<u64>(), s.messages);
    assert_eq!(ts.iter().map(|r| r.deliveries).sum::<u64>(), s.deliveries);
    assert_eq!(
        ts.iter().map(|r| r.delivered_of_sent).sum::<u64>(),
        s.deliveries
    );
    for (cause, total) in &s.drops {
        assert_eq!(
            ts.iter().map(|r| r.drops[cause]).sum::<u64>(),
            *total,
            "drops of {cause}"
        );
    }
    assert_eq!(run.nodes.len(), 200);
    assert_eq!(
        run.nodes.iter().map(|n| n.bytes_sent).sum::<u64>(),
        s.bytes_sent
    );
    // quickstart crashes node 17 at 20 s and restarts it at 30 s.
    let faults: Vec<(u64, &str)> = run
        .faults
        .iter()
        .map(|f| (f.time_ns, f.kind.as_str()))
        .collect();
    assert_eq!(
        faults,
        vec![(20_000_000_000, "crash"), (30_000_000_000, "restart")]
    );
    let up = |t_s: u64| ts[(t_s * 2) as usize].nodes_up;
    assert_eq!((up(10), up(25), up(40)), (200, 199, 200));
}

#[test]
fn report_rebuilds_the_same_charts_and_page_from_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    run_into(dir.path(), &["--quiet"]);
    let page = std::fs::read(dir.path().join("report.html")).unwrap();
    let svg = std::fs::read(dir.path().join("timeline.svg")).unwrap();
    std::fs::remove_file(dir.path().join("report.html")).unwrap();
    for c in CHARTS {
        std::fs::remove_file(dir.path().join(format!("{c}.svg"))).unwrap();
        std::fs::remove_file(dir.path().join(format!("{c}.png"))).unwrap();
    }
    let out = p2psim().arg("report").arg(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.path().join("report.html")).unwrap(), page);
    assert_eq!(std::fs::read(dir.path().join("timeline.svg")).unwrap(), svg);
    // A folder that is not a run folder is a clear error, exit 1.
    let empty = tempfile::tempdir().unwrap();
    let out = p2psim().arg("report").arg(empty.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("summary.json"));
}

#[test]
fn trace_file_holds_the_ordered_event_log() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.csv");
    run_into(dir.path(), &["--quiet", "--trace", trace.to_str().unwrap()]);
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time_ns,node,kind,peer,size,cause"));
    let summary = reports::RunData::load(dir.path()).unwrap().summary;
    let mut last = 0u64;
    let (mut sends, mut drops) = (0u64, 0u64);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let t: u64 = f[0].parse().unwrap();
        assert!(t >= last, "time went backwards at {line}");
        last = t;
        match f[2] {
            "send" => sends += 1,
            "drop" => drops += 1,
            _ => {}
        }
    }
    assert_eq!(sends, summary.packets_sent);
    assert_eq!(drops, summary.drops.values().sum::<u64>());
}

/// Every figure of summary.json appears in report.html with exactly its value
/// (the page carries each as `data-key="…" data-value="…"`).
#[test]
fn report_numbers_equal_summary_numbers() {
    let dir = tempfile::tempdir().unwrap();
    run_into(dir.path(), &["--quiet"]);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let mut shown = std::collections::BTreeMap::new();
    for part in page.split("data-key=\"").skip(1) {
        let (key, rest) = part.split_once('"').unwrap();
        let value = rest
            .split_once("data-value=\"")
            .unwrap()
            .1
            .split_once('"')
            .unwrap()
            .0;
        shown.insert(key.to_string(), value.to_string());
    }
    let mut checked = 0;
    let mut check = |key: &str, v: &serde_json::Value| {
        let key = key.to_string();
        let on_page = shown
            .get(&key)
            .unwrap_or_else(|| panic!("{key} is not in report.html"));
        match v {
            serde_json::Value::String(s) => assert_eq!(on_page, s, "{key}"),
            serde_json::Value::Number(n) => {
                assert_eq!(
                    on_page.parse::<f64>().unwrap(),
                    n.as_f64().unwrap(),
                    "{key}"
                );
            }
            other => panic!("unexpected {key}: {other}"),
        }
        checked += 1;
    };
    fn leaves(
        prefix: &str,
        v: &serde_json::Value,
        visit: &mut dyn FnMut(&str, &serde_json::Value),
    ) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&key, v, visit);
                }
            }
            leaf => visit(prefix, leaf),
        }
    }
    leaves("", &summary, &mut check);
    assert_eq!(checked, 35, "summary.json has 35 figures");
}
