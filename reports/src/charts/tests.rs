//! The charts as files: every chart is written, its SVG parses and names what
//! it shows, its PNG decodes to a real picture, and empty or extreme runs
//! still give valid charts.

use std::collections::BTreeSet;
use std::path::Path;

use super::*;
use crate::data::{sample_run, DeliveryRow, FaultRow, NodeRow};

/// Every `<text>` of an SVG document, trimmed.
fn svg_texts(svg: &str) -> BTreeSet<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

/// Decodes a PNG file and checks its size and that it is not one flat
/// colour; returns the share of non-white pixels.
fn check_png(path: &Path) -> f64 {
    let bytes = std::fs::read(path).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("PNG image data");
    assert_eq!((info.width, info.height), (1000, 600), "{}", path.display());
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
    let distinct: BTreeSet<&[u8]> = pixels.iter().copied().collect();
    assert!(
        distinct.len() > 8,
        "{} is (nearly) one flat colour",
        path.display()
    );
    let ink = pixels.iter().filter(|p| **p != [255, 255, 255]).count();
    ink as f64 / pixels.len() as f64
}

/// Checks one chart's files and returns its SVG texts.
fn check_chart(dir: &Path, chart: &Chart) -> BTreeSet<String> {
    let svg_path = dir.join(format!("{}.svg", chart.name));
    assert_eq!(std::fs::read_to_string(&svg_path).unwrap(), chart.svg);
    let texts = svg_texts(&chart.svg);
    assert!(
        texts.contains(&chart.title),
        "{}: no title in {texts:?}",
        chart.name
    );
    let ink = check_png(&dir.join(format!("{}.png", chart.name)));
    assert!(ink > 0.01, "{}: almost nothing drawn ({ink})", chart.name);
    texts
}

/// The axis labels each run chart must show (as prefixes: a log axis adds
/// "log scale" to its label).
fn axis_labels(name: &str) -> &'static [&'static str] {
    match name {
        "latency_cdf" => &["latency (ms", "deliveries with latency ≤ x (%)"],
        "timeline" => &["time (s)", "latency (ms)", "delivery ratio (0–1)"],
        "hops" => &["hops per delivery (count)", "deliveries (count)"],
        "node_load" => &["node rank (1 = most bytes sent)", "bytes sent ("],
        "drops" => &["packets dropped (count)", "cause"],
        "energy" => &[
            "node rank (1 = most energy spent)",
            "energy spent (",
            "charge at end (%)",
        ],
        other => panic!("unexpected chart {other}"),
    }
}

/// The charts a run should get: [`RUN_CHARTS`], and the energy chart after
/// `node_load` where some node models energy.
fn expected_charts(run: &RunData) -> Vec<&'static str> {
    let mut names = RUN_CHARTS.to_vec();
    if run.nodes.iter().any(|n| n.energy_j.is_some()) {
        names.insert(4, ENERGY_CHART);
    }
    names
}

fn render_and_check(run: &RunData) -> Vec<(Chart, BTreeSet<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let charts = render_run_charts(run, dir.path()).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.name).collect();
    let expected = expected_charts(run);
    assert_eq!(names, expected);
    let files: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let want: BTreeSet<String> = expected
        .iter()
        .flat_map(|n| [format!("{n}.svg"), format!("{n}.png")])
        .collect();
    assert_eq!(files, want, "one SVG and one PNG each, no temp files");
    charts
        .into_iter()
        .map(|c| {
            let texts = check_chart(dir.path(), &c);
            for label in axis_labels(c.name) {
                assert!(
                    texts.iter().any(|t| t.starts_with(label)),
                    "{}: no axis label {label:?} in {texts:?}",
                    c.name
                );
            }
            (c, texts)
        })
        .collect()
}

#[test]
fn every_run_chart_is_written_and_valid() {
    let charts = render_and_check(&sample_run());
    let texts = |name: &str| charts.iter().find(|c| c.0.name == name).unwrap().1.clone();
    // the CDF has a curve per destination group and one for all
    let cdf = texts("latency_cdf");
    assert!(cdf.contains("receivers (n = 200)"), "{cdf:?}");
    // the timeline labels both faults
    let timeline = texts("timeline");
    assert!(
        timeline.contains("crash node 3") && timeline.contains("restart node 3"),
        "{timeline:?}"
    );
    // node load spans 1 kB .. 121 kB: a log axis
    assert!(texts("node_load").contains("bytes sent (log scale)"));
    // drops name each cause
    let drops = texts("drops");
    for cause in ["link_down", "loss", "queue_full"] {
        assert!(drops.contains(cause), "{drops:?}");
    }
}

/// No deliveries, no faults, one interval with nothing sent, no bytes, zero
/// drops.
fn quiet_run() -> RunData {
    let mut run = sample_run();
    run.deliveries.clear();
    run.faults.clear();
    run.timeseries.truncate(1);
    let first = &mut run.timeseries[0];
    (first.expected, first.delivered_of_sent, first.deliveries) = (0, 0, 0);
    for v in run.summary.drops.values_mut() {
        *v = 0;
    }
    for n in &mut run.nodes {
        n.bytes_sent = 0;
    }
    run
}

/// 400 nodes in three groups, 5000 deliveries with latencies over four
/// decades and up to 39 hops, 200 faults (churn).
fn large_run() -> RunData {
    let mut run = sample_run();
    run.nodes = (0..400u32)
        .map(|n| NodeRow {
            node: n,
            group: ["a", "b", "c"][n as usize % 3].into(),
            packets_sent: 1,
            bytes_sent: 1000 + u64::from(n * 37 % 1000),
            packets_received: 1,
            bytes_received: 1,
            relays: 0,
            drops: 0,
            duplicates: 0,
            energy_j: None,
            battery: None,
        })
        .collect();
    run.deliveries = (0..5000u64)
        .map(|i| DeliveryRow {
            message: i,
            source: 0,
            destination: (i % 400) as u32,
            sent_ns: i * 1_000_000,
            delivered_ns: i * 1_000_000 + 1,
            latency_ms: 0.5 + (i % 1000) as f64 * (i % 7) as f64,
            hops: (i % 40) as u32,
        })
        .collect();
    run.faults = (0..200u64)
        .map(|i| FaultRow {
            time_ns: i * 45_000_000,
            kind: "crash".into(),
            detail: format!("node {i}"),
        })
        .collect();
    run
}

#[test]
fn a_quiet_run_still_gives_valid_charts() {
    let charts = render_and_check(&quiet_run());
    assert!(charts[0].1.contains("no deliveries"));
    assert!(charts[1].1.contains("no deliveries") && charts[1].1.contains("no messages sent"));
    assert!(charts[3].1.contains("no bytes sent"));
    assert!(charts[4].1.contains("no drops"));
}

#[test]
fn an_empty_run_still_gives_valid_charts() {
    let mut run = quiet_run();
    run.timeseries.clear();
    run.nodes.clear();
    run.summary.drops.clear();
    let charts = render_and_check(&run);
    assert!(charts[1].1.contains("no intervals recorded"));
    assert!(charts[3].1.contains("no nodes"));
    assert!(charts[4].1.contains("no drop causes recorded"));
}

#[test]
fn large_runs_and_churn_give_valid_charts() {
    let charts = render_and_check(&large_run());
    // 0.5 ms to 6 s: a log latency axis
    assert!(charts[0].1.contains("latency (ms, log scale)"));
    assert!(charts[1].1.contains("faults (200, unlabelled)"));
    assert!(charts[3].1.contains("nodes (n = 400)"));
}

#[test]
fn charts_are_byte_identical_across_renders() {
    for run in [sample_run(), energy_run(12)] {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = render_run_charts(&run, a.path()).unwrap();
        let second = render_run_charts(&run.clone(), b.path()).unwrap();
        assert_eq!(first, second);
        for name in expected_charts(&run) {
            for ext in ["svg", "png"] {
                let file = format!("{name}.{ext}");
                assert_eq!(
                    std::fs::read(a.path().join(&file)).unwrap(),
                    std::fs::read(b.path().join(&file)).unwrap(),
                    "{file}"
                );
            }
        }
    }
}

/// `n` nodes in three groups that model energy but for every seventh; the
/// busier a node, the more it spent, and every fifth one's battery ran out.
fn energy_run(n: u32) -> RunData {
    let mut run = sample_run();
    run.nodes = (0..n)
        .map(|i| {
            let modelled = i % 7 != 3;
            NodeRow {
                node: i,
                group: ["phones", "relays", "sinks"][i as usize % 3].into(),
                packets_sent: u64::from(i),
                bytes_sent: 1000 + u64::from(i * 37 % 1000),
                packets_received: 1,
                bytes_received: 1,
                relays: 0,
                drops: 0,
                duplicates: 0,
                energy_j: modelled.then(|| 50.0 + f64::from(i * 37 % 1000) * 1.5),
                battery: modelled.then(|| {
                    if i % 5 == 0 {
                        0.0
                    } else {
                        f64::from(i * 53 % 100) / 100.0
                    }
                }),
            }
        })
        .collect();
    run
}

#[test]
fn the_energy_chart_is_drawn_only_where_energy_is_modelled() {
    // no battery anywhere: exactly the usual charts, no energy file
    assert_eq!(expected_charts(&sample_run()), RUN_CHARTS);
    render_and_check(&sample_run());

    let charts = render_and_check(&energy_run(12));
    let (chart, texts) = &charts[4];
    assert_eq!(chart.name, "energy");
    assert_eq!(chart.title, "Energy spent per node (busiest first)");
    // 12 nodes, 10 with a battery (not 3 and 10), of which 0 and 5 ran out
    for t in [
        "phones (3 nodes)",
        "relays (3 nodes)",
        "sinks (4 nodes)",
        "charge at end",
        "battery emptied (2)",
        "2 nodes without a battery (not shown)",
        "energy spent (J)",
    ] {
        assert!(texts.contains(t), "no {t:?} in {texts:?}");
    }
    // a dot per battery with charge left (8), and the legend's
    assert_eq!(chart.svg.matches("<circle").count(), 9);

    // a single node with a battery is enough
    let mut run = sample_run();
    run.nodes[3].energy_j = Some(0.25);
    let charts = render_and_check(&run);
    assert!(charts[4].1.contains("mean = 0.25 J"), "{:?}", charts[4].1);
}

#[test]
fn the_energy_chart_summarises_ten_thousand_nodes() {
    let charts = render_and_check(&energy_run(10_000));
    let (chart, texts) = &charts[4];
    for t in [
        "nodes (n = 8571)",
        "charge at end, mean per 43 ranks",
        "lowest–highest",
        "1714 of 8571 batteries emptied",
        "1429 nodes without a battery (not shown)",
    ] {
        assert!(texts.contains(t), "no {t:?} in {texts:?}");
    }
    // lines and a band, not a shape per node
    assert!(!chart.svg.contains("<circle"));
    assert!(chart.svg.matches("<rect").count() < 20, "{}", chart.svg);
    assert!(chart.svg.len() < 200_000, "{} bytes", chart.svg.len());
}

#[test]
fn charts_can_be_drawn_from_several_threads_at_once() {
    // the font is registered once, whichever thread gets there first
    let run = sample_run();
    let svgs: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let dir = tempfile::tempdir().unwrap();
                    let charts = render_run_charts(&run, dir.path()).unwrap();
                    charts.into_iter().map(|c| c.svg).collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(svgs.windows(2).all(|w| w[0] == w[1]));
}

fn sample_sweep() -> SweepChart {
    let series = |label: &str, base: f64, slope: f64| SweepSeries {
        label: label.into(),
        points: [0.0, 5.0, 10.0, 20.0]
            .iter()
            .map(|&loss| {
                let reps = (0..5)
                    .map(|r| base - slope * loss + (r as f64 - 2.0) * (0.5 + loss * 0.05))
                    .collect();
                (loss, reps)
            })
            .collect(),
    };
    SweepChart {
        name: "delivery_vs_loss",
        title: "Delivery ratio against link loss".into(),
        parameter: "link loss rate (%)".into(),
        x_ticks: Vec::new(),
        metric: "delivery ratio (%)".into(),
        series: vec![
            series("flooding", 99.0, 0.4),
            series("gossip (fanout 3)", 97.0, 1.5),
        ],
    }
}

#[test]
fn sweep_chart_with_bands_is_written_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sample_sweep();
    let chart = render_sweep_chart(&spec, dir.path()).unwrap();
    assert_eq!(chart.name, "delivery_vs_loss");
    let texts = check_chart(dir.path(), &chart);
    for t in [
        "link loss rate (%)",
        "delivery ratio (%)",
        "flooding",
        "gossip (fanout 3)",
        "mean ± 95 % CI (n = 5 replications)",
    ] {
        assert!(texts.contains(t), "no {t:?} in {texts:?}");
    }
    // one band polygon per series
    assert_eq!(chart.svg.matches("<polygon").count(), 2, "{}", chart.svg);
}

/// Values without numbers sit at their indices, labelled with the values,
/// and nothing is written between them.
#[test]
fn sweep_chart_labels_indexed_values_with_the_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = sample_sweep();
    spec.x_ticks = vec!["300B".into(), "6KiB".into(), "40KiB".into()];
    for s in &mut spec.series {
        s.points.truncate(3);
        for (k, p) in s.points.iter_mut().enumerate() {
            p.0 = k as f64;
        }
    }
    let chart = render_sweep_chart(&spec, dir.path()).unwrap();
    let texts = check_chart(dir.path(), &chart);
    for t in ["300B", "6KiB", "40KiB"] {
        assert!(texts.contains(t), "no {t:?} in {texts:?}");
    }
    assert!(
        !texts.contains("0.5") && !texts.contains("1.5"),
        "{texts:?}"
    );
}

#[test]
fn sweep_chart_copes_with_one_replication_and_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = sample_sweep();
    for s in &mut spec.series {
        for p in &mut s.points {
            p.1.truncate(1);
        }
    }
    let chart = render_sweep_chart(&spec, dir.path()).unwrap();
    assert!(!chart.svg.contains("<polygon"), "one replication: no band");
    check_chart(dir.path(), &chart);

    spec.series.clear();
    let chart = render_sweep_chart(&spec, dir.path()).unwrap();
    assert!(svg_texts(&chart.svg).contains("no data"));
    check_png(&dir.path().join("delivery_vs_loss.png"));

    spec.series = vec![SweepSeries {
        label: "nan".into(),
        points: vec![(1.0, vec![f64::NAN]), (f64::NAN, vec![1.0])],
    }];
    render_sweep_chart(&spec, dir.path()).unwrap();
}

#[test]
fn group_colours_are_shared_between_charts() {
    let run = sample_run();
    let colours = GroupColours::from_run(&run);
    assert_eq!(colours.names(), ["receivers", "senders"]);
    assert_eq!(colours.get("receivers"), style::series_colour(0));
    assert_eq!(colours.get("senders"), style::series_colour(1));
    assert_eq!(colours.get("elsewhere"), style::series_colour(2));
}
