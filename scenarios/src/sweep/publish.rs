//! A sweep's charts and `report.html`, drawn from its rows.
//!
//! Each key metric gets a chart against the x-axis parameter (the first, or
//! the second when `series` names the first), one line per combination of
//! the other parameters' values, each point the mean over its replications
//! with a 95 % confidence band (see [`reports::render_sweep_chart`]). A
//! metric that is zero in every run (no lookups, no energy) is not drawn.
//! A value sits on the x axis at the first number written in it
//! (`Bernoulli(p: 0.02)` at 0.02, `[4, 3, 8]` at 4); if some value has none,
//! or two values share one, every value sits at its index instead, the
//! ticks labelled with the values. Legends and ticks show a value set at
//! several paths alike (`[Seed, Seed, Seed]`) once (`Seed`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reports::sweep_report::{write_sweep_report, SweepPage, SweepParameter, SweepPoint};
use reports::{render_sweep_chart, SweepChart, SweepSeries};

use super::grid::Plan;
use super::table::{self, Row};
use super::SweepError;

/// A metric the charts and the means table show.
struct Metric {
    /// Its `sweep.csv` column.
    column: &'static str,
    /// The chart's file stem.
    chart: &'static str,
    /// The axis label, with its unit.
    label: &'static str,
}

const METRICS: [Metric; 17] = [
    Metric {
        column: "delivery_ratio",
        chart: "sweep_delivery_ratio",
        label: "delivery ratio",
    },
    Metric {
        column: "latency_ms.p50",
        chart: "sweep_latency_p50",
        label: "latency p50 (ms)",
    },
    Metric {
        column: "latency_ms.p99",
        chart: "sweep_latency_p99",
        label: "latency p99 (ms)",
    },
    Metric {
        column: "hops_mean",
        chart: "sweep_hops",
        label: "mean hops",
    },
    Metric {
        column: "bytes_sent",
        chart: "sweep_bytes_sent",
        label: "bytes sent",
    },
    Metric {
        column: "duplicates",
        chart: "sweep_duplicates",
        label: "duplicates received",
    },
    Metric {
        column: "relays",
        chart: "sweep_relays",
        label: "relays",
    },
    Metric {
        column: "lookups.success_ratio",
        chart: "sweep_lookup_success",
        label: "lookup success ratio",
    },
    Metric {
        column: "lookups.latency_ms.p50",
        chart: "sweep_lookup_latency_p50",
        label: "lookup latency p50 (ms)",
    },
    Metric {
        column: "energy.mean_j",
        chart: "sweep_energy",
        label: "energy per node (J)",
    },
    Metric {
        column: "transports.delivery_ratio",
        chart: "sweep_manager_delivery",
        label: "messages acknowledged (share)",
    },
    Metric {
        column: "transports.latency_ms_mean",
        chart: "sweep_manager_latency",
        label: "manager latency, mean (ms)",
    },
    Metric {
        column: "discovery.staleness_ms.mean",
        chart: "sweep_staleness",
        label: "staleness of dead peers returned, mean (ms)",
    },
    Metric {
        column: "discovery.stale_share",
        chart: "sweep_stale_share",
        label: "share of returned peers that were dead",
    },
    Metric {
        column: "discovery.requests_per_s",
        chart: "sweep_registry_load",
        label: "registry requests/s",
    },
    Metric {
        column: "discovery.monthly_cost_usd.total",
        chart: "sweep_registry_cost",
        label: "registry cost per month ($)",
    },
    Metric {
        column: "signaling.setup_ms.p50",
        chart: "sweep_setup_p50",
        label: "connection set-up p50 (ms)",
    },
];

/// Draws the charts of a complete sweep (`rows` sorted, one per run) and
/// writes its `report.html` into `dir`; `text` is the scenario file and
/// `version` the p2psim version shown. Returns the report's path.
pub fn publish(
    plan: &Plan,
    text: &str,
    rows: &[Row],
    dir: &Path,
    version: &str,
) -> Result<PathBuf, SweepError> {
    let header = table::header(plan);
    // For each metric shown, its value in every run of every point.
    let shown: Vec<(&Metric, Vec<Vec<f64>>)> = METRICS
        .iter()
        .filter_map(|m| {
            let column = header.iter().position(|h| h == m.column)?;
            let mut per_point = vec![Vec::new(); plan.points.len()];
            for row in rows {
                per_point[row.pair.point].push(row.number(column));
            }
            let drawn = per_point
                .iter()
                .flatten()
                .any(|v| *v != 0.0 && v.is_finite());
            drawn.then_some((m, per_point))
        })
        .collect();

    let mut charts = Vec::new();
    if let Some(x) = plan.x {
        let (positions, axis_label, x_ticks) = positions(plan, x);
        for (metric, per_point) in &shown {
            let mut lines: BTreeMap<Vec<usize>, Vec<(f64, Vec<f64>)>> = BTreeMap::new();
            for (point, values) in plan.points.iter().zip(per_point) {
                let mut others = point.levels.clone();
                let at = positions[others.remove(x)];
                lines.entry(others).or_default().push((at, values.clone()));
            }
            let series = lines
                .into_iter()
                .map(|(others, points)| SweepSeries {
                    label: line_label(plan, x, &others),
                    points,
                })
                .collect();
            let spec = SweepChart {
                name: metric.chart,
                title: format!("{} vs {}", metric.label, plan.parameters[x].name),
                parameter: axis_label.clone(),
                x_ticks: x_ticks.clone(),
                metric: metric.label.to_string(),
                series,
            };
            charts.push(render_sweep_chart(&spec, dir)?);
        }
    }

    let page = SweepPage {
        scenario: plan.base.name.clone(),
        seed: plan.base.seed,
        seeds: (0..plan.replications).map(|r| plan.seed(r)).collect(),
        parameters: plan
            .parameters
            .iter()
            .map(|a| SweepParameter {
                name: a.name.clone(),
                paths: a.paths.clone(),
                values: a.levels.iter().map(|l| l.written.clone()).collect(),
            })
            .collect(),
        metrics: shown.iter().map(|(m, _)| m.label.to_string()).collect(),
        points: plan
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| SweepPoint {
                values: plan
                    .parameters
                    .iter()
                    .zip(&p.levels)
                    .map(|(a, &l)| a.levels[l].written.clone())
                    .collect(),
                samples: shown.iter().map(|(_, v)| v[i].clone()).collect(),
            })
            .collect(),
        scenario_text: text.to_string(),
    };
    write_sweep_report(dir, &page, &charts, version).map_err(|e| SweepError::Io {
        path: dir.join(super::files::REPORT),
        source: e,
    })
}

/// Where each value of parameter `x` sits on the x axis, the axis label,
/// and the tick labels where the values sit at their indices.
fn positions(plan: &Plan, x: usize) -> (Vec<f64>, String, Vec<String>) {
    let axis = &plan.parameters[x];
    let numbers: Option<Vec<f64>> = axis.levels.iter().map(|l| l.number).collect();
    if let Some(numbers) = numbers {
        let mut sorted = numbers.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.windows(2).all(|w| w[0] != w[1]) {
            return (numbers, axis.name.clone(), Vec::new());
        }
    }
    (
        (0..axis.levels.len()).map(|i| i as f64).collect(),
        axis.name.clone(),
        axis.levels.iter().map(|l| shown(&l.written)).collect(),
    )
}

/// A value as charts show it: a list whose entries are all the same (one
/// value set at several paths, `[Seed, Seed, Seed]`) as that entry, and a
/// string without its quotes.
fn shown(written: &str) -> String {
    let unquoted = |v: &str| match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner.to_string(),
        _ => v.to_string(),
    };
    let Some(inner) = written.strip_prefix('[').and_then(|w| w.strip_suffix(']')) else {
        return unquoted(written);
    };
    // Split at the commas outside any brackets.
    let (mut entries, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                entries.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    entries.push(inner[start..].trim());
    match entries.split_first() {
        Some((first, rest)) if depth == 0 && rest.iter().all(|e| e == first) => unquoted(first),
        _ => written.to_string(),
    }
}

/// A line's legend: the values of every parameter but `x`.
fn line_label(plan: &Plan, x: usize, others: &[usize]) -> String {
    let names = plan
        .parameters
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != x)
        .map(|(_, a)| a);
    let label: Vec<String> = names
        .zip(others)
        .map(|(a, &l)| format!("{} = {}", a.name, shown(&a.levels[l].written)))
        .collect();
    if label.is_empty() {
        plan.base.name.clone()
    } else {
        label.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_list_of_one_value_repeated_is_shown_as_the_value() {
        assert_eq!(shown("[Seed, Seed, Seed]"), "Seed");
        assert_eq!(shown("[\"6KiB\", \"6KiB\"]"), "6KiB");
        assert_eq!(shown("\"250ms\""), "250ms");
        assert_eq!(shown("[Fixed(Quic), Fixed(Quic)]"), "Fixed(Quic)");
        assert_eq!(shown("[36, 4]"), "[36, 4]");
        assert_eq!(shown("[A(x: 1, y: 2), A(x: 1, y: 2)]"), "A(x: 1, y: 2)");
        assert_eq!(
            shown("[A(x: 1, y: 2), A(x: 1, y: 3)]"),
            "[A(x: 1, y: 2), A(x: 1, y: 3)]"
        );
        assert_eq!(shown("Bernoulli(p: 0.02)"), "Bernoulli(p: 0.02)");
    }
}
