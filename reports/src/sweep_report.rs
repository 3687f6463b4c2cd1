//! A sweep's `report.html`: its charts, the mean of each key metric at every
//! point, the sweep's parameters and seeds, and its scenario file.
//!
//! Self-contained like a run's report (the same style sheet and Content
//! Security Policy, see [`crate::html`]): nothing fetched, no script, and
//! the same inputs give the same bytes.

use std::fmt::{self, Write as _};
use std::io;
use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use crate::charts::{mean_ci95, Chart};
use crate::data::files;
use crate::html::{charts_section, escape, friendly, group_digits, page_start};

/// What a sweep's report shows.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPage {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario's seed.
    pub seed: u64,
    /// The seed of each replication, in order.
    pub seeds: Vec<u64>,
    /// The parameters, in the order of the grid.
    pub parameters: Vec<SweepParameter>,
    /// The metrics of the means table, with their units: `"latency p50 (ms)"`.
    pub metrics: Vec<String>,
    /// The points, in grid order.
    pub points: Vec<SweepPoint>,
    /// The scenario file, its sweep included.
    pub scenario_text: String,
}

/// One parameter of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepParameter {
    /// Its name.
    pub name: String,
    /// The fields it sets.
    pub paths: Vec<String>,
    /// Its values, as written.
    pub values: Vec<String>,
}

/// One point of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// Each parameter's value, as written.
    pub values: Vec<String>,
    /// For each metric, its value in each replication.
    pub samples: Vec<Vec<f64>>,
}

/// The report of a sweep: a complete, self-contained HTML document.
pub fn render_sweep_report(page: &SweepPage, charts: &[Chart], version: &str) -> String {
    let mut out = String::with_capacity(
        32 * 1024 + page.scenario_text.len() + charts.iter().map(|c| c.svg.len()).sum::<usize>(),
    );
    render(&mut out, page, charts, version).expect("writing to a String cannot fail");
    out
}

/// Renders the report of a sweep into `dir/report.html`, atomically, and
/// returns that path. `dir` is created if need be.
pub fn write_sweep_report(
    dir: &Path,
    page: &SweepPage,
    charts: &[Chart],
    version: &str,
) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let html = render_sweep_report(page, charts, version);
    let path = dir.join(files::REPORT);
    write_atomic(&path, |w| w.write_all(html.as_bytes()))?;
    Ok(path)
}

fn render(out: &mut String, page: &SweepPage, charts: &[Chart], version: &str) -> fmt::Result {
    let name = escape(&page.scenario);
    page_start(
        out,
        &format!("{} sweep · p2psim report", page.scenario),
        version,
    )?;
    writeln!(out, "<header>")?;
    writeln!(out, r#"<p class="kicker">p2psim sweep report</p>"#)?;
    writeln!(out, "<h1>{name}</h1>")?;
    writeln!(out, r#"<dl class="meta">"#)?;
    let runs = page.points.len() as u64 * page.seeds.len() as u64;
    for (label, value) in [
        ("Version", format!("p2psim {}", escape(version))),
        ("Seed", page.seed.to_string()),
        ("Points", group_digits(page.points.len() as u64)),
        ("Replications", group_digits(page.seeds.len() as u64)),
        ("Runs", group_digits(runs)),
    ] {
        writeln!(out, "<div><dt>{label}</dt><dd>{value}</dd></div>")?;
    }
    writeln!(out, "</dl>")?;
    writeln!(
        out,
        "<nav><a href=\"#charts\">Charts</a><a href=\"#means\">Means</a>\
         <a href=\"#sweep\">Sweep</a><a href=\"#scenario\">Scenario file</a></nav>"
    )?;
    writeln!(out, "</header>")?;

    charts_section(out, charts)?;
    means_section(out, page)?;
    sweep_section(out, page)?;

    writeln!(out, r#"<h2 id="scenario">Scenario file</h2>"#)?;
    writeln!(
        out,
        r#"<pre class="scenario">{}</pre>"#,
        escape(&page.scenario_text)
    )?;
    writeln!(
        out,
        "<footer>p2psim {} · scenario {name} · seed {} · {} points × {} replications</footer>",
        escape(version),
        page.seed,
        page.points.len(),
        page.seeds.len()
    )?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

fn means_section(out: &mut String, page: &SweepPage) -> fmt::Result {
    writeln!(out, r#"<h2 id="means">Means per point</h2>"#)?;
    if page.points.is_empty() || page.metrics.is_empty() {
        return writeln!(out, r#"<p class="empty">No results.</p>"#);
    }
    writeln!(
        out,
        "<p>Each figure is the mean over the point's replications, ± the half-width of \
         its 95 % confidence interval (Student's t) where there are two or more.</p>"
    )?;
    // Many metrics make a wide table: it scrolls rather than overflow the page.
    write!(
        out,
        "<div style=\"overflow-x: auto\"><table>\n<thead><tr><th class=\"num\">Point</th>"
    )?;
    for p in &page.parameters {
        write!(out, "<th>{}</th>", escape(&p.name))?;
    }
    for m in &page.metrics {
        write!(out, r#"<th class="num">{}</th>"#, escape(m))?;
    }
    writeln!(out, "</tr></thead>\n<tbody>")?;
    for (i, point) in page.points.iter().enumerate() {
        write!(out, r#"<tr><td class="num">{i}</td>"#)?;
        for v in &point.values {
            write!(out, r#"<td class="text"><code>{}</code></td>"#, escape(v))?;
        }
        for samples in &point.samples {
            let finite: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
            let cell = if finite.is_empty() {
                "—".to_string()
            } else {
                let (mean, half) = mean_ci95(&finite);
                if half.is_finite() {
                    format!("{} ± {}", friendly(mean), friendly(half))
                } else {
                    friendly(mean)
                }
            };
            write!(out, r#"<td class="num">{cell}</td>"#)?;
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table></div>")
}

fn sweep_section(out: &mut String, page: &SweepPage) -> fmt::Result {
    writeln!(out, r#"<h2 id="sweep">Sweep</h2>"#)?;
    if page.parameters.is_empty() {
        writeln!(
            out,
            r#"<p class="empty">No parameters: one point, the scenario as written.</p>"#
        )?;
    } else {
        writeln!(
            out,
            "<table>\n<thead><tr><th>Parameter</th><th>Sets</th><th>Values</th></tr></thead>\n<tbody>"
        )?;
        for p in &page.parameters {
            let code = |items: &[String]| {
                items
                    .iter()
                    .map(|s| format!("<code>{}</code>", escape(s)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            writeln!(
                out,
                r#"<tr><th scope="row">{}</th><td class="text">{}</td><td class="text">{}</td></tr>"#,
                escape(&p.name),
                code(&p.paths),
                code(&p.values)
            )?;
        }
        writeln!(out, "</tbody></table>")?;
    }
    writeln!(
        out,
        "<p>Replication r runs with the same seed at every point (common random numbers):</p>"
    )?;
    writeln!(
        out,
        r#"<table class="faults"><thead><tr><th class="num">Replication</th><th class="num">Seed</th></tr></thead><tbody>"#
    )?;
    for (r, seed) in page.seeds.iter().enumerate() {
        writeln!(
            out,
            r#"<tr><td class="num">{r}</td><td class="num"><code>{seed}</code></td></tr>"#
        )?;
    }
    writeln!(out, "</tbody></table>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> SweepPage {
        SweepPage {
            scenario: "gossip <d>".into(),
            seed: 7,
            seeds: vec![7, 99],
            parameters: vec![SweepParameter {
                name: "D".into(),
                paths: vec!["groups.0.protocol.Gossip.config.d".into()],
                values: vec!["[4, 3, 8]".into(), "[6, 4, 12]".into()],
            }],
            metrics: vec!["delivery ratio".into(), "latency p50 (ms)".into()],
            points: vec![
                SweepPoint {
                    values: vec!["[4, 3, 8]".into()],
                    samples: vec![vec![1.0, 1.0], vec![10.0, 12.0]],
                },
                SweepPoint {
                    values: vec!["[6, 4, 12]".into()],
                    samples: vec![vec![0.5], vec![f64::NAN]],
                },
            ],
            scenario_text: "(name: \"x\", sweep: (replications: 2))".into(),
        }
    }

    #[test]
    fn shows_means_parameters_seeds_and_the_file() {
        let chart = Chart {
            name: "sweep_delivery_ratio",
            title: "delivery ratio vs D".into(),
            svg: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"5\"></svg>"
                .into(),
        };
        let html = render_sweep_report(&page(), std::slice::from_ref(&chart), "1.2.3");
        assert!(html.starts_with("<!DOCTYPE html>\n") && html.ends_with("</html>\n"));
        assert!(html.contains("<title>gossip &lt;d&gt; sweep · p2psim report</title>"));
        assert!(html.contains("<h1>gossip &lt;d&gt;</h1>"));
        assert!(html.contains("<div><dt>Runs</dt><dd>4</dd></div>"));
        assert!(html.contains(r#"<figure id="chart-sweep_delivery_ratio">"#));
        // 1 and 1: no spread; 10 and 12: mean 11, t(0.975, 1) × s / √2 = 12.706
        assert!(html.contains(r#"<td class="num">1 ± 0</td><td class="num">11 ± 12.71</td></tr>"#));
        // one replication: no interval; nothing finite: a dash
        assert!(html.contains(r#"<td class="num">0.5</td><td class="num">—</td></tr>"#));
        assert!(html.contains("<code>groups.0.protocol.Gossip.config.d</code>"));
        assert!(html.contains(r#"<td class="num">1</td><td class="num"><code>99</code></td>"#));
        assert!(html.contains("(name: &quot;x&quot;, sweep: (replications: 2))"));
        assert!(!html.to_ascii_lowercase().contains("<script"));
        assert_eq!(html, render_sweep_report(&page(), &[chart], "1.2.3"));
    }

    #[test]
    fn writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_sweep_report(dir.path(), &page(), &[], "0.1.0").unwrap();
        assert_eq!(path, dir.path().join("report.html"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            render_sweep_report(&page(), &[], "0.1.0")
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
