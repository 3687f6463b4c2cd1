//! `report.html`: one self-contained page that shows a run.
//!
//! The page holds everything inline: its CSS, every chart's SVG markup, the
//! tables and the scenario file's text. It loads nothing (a Content Security
//! Policy in the page forbids it), runs no JavaScript and uses the system's
//! fonts, so it reads the same offline, from an archive or printed.
//!
//! Every figure of `summary.json` appears in the page in an element with a
//! `data-key` attribute (the figure's dotted path in the JSON, e.g.
//! `latency_ms.p50` or `drops.loss`) followed by a `data-value` attribute that
//! holds the exact value: integers as they are, floating-point numbers in
//! Rust's shortest round-trip form, so parsing it gives back the very `f64` of
//! `summary.json`. The text a reader sees may be rounded; the attribute never
//! is. Rendering is a pure function of its inputs: the same run, charts and
//! version give the same bytes.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io;
use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use crate::charts::Chart;
use crate::data::{files, NodeRow, RunData};
use crate::summary::{DiscoveryJson, LatencyMs, SignalingJson};

/// The page's style sheet: one readable column, dark on light, printable.
const CSS: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
html { background: #f4f5f7; }
body {
  margin: 0 auto; padding: 28px 32px 40px; max-width: 1100px;
  background: #fff; color: #1d2330;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", sans-serif;
}
h1 { font-size: 28px; margin: 2px 0 14px; line-height: 1.2; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 34px 0 12px; padding-bottom: 4px; border-bottom: 2px solid #d9dde5; }
h3 { font-size: 13px; margin: 0 0 6px; text-transform: uppercase; letter-spacing: .04em; color: #4a5366; }
.kicker { margin: 0; color: #5b6478; font-size: 13px; text-transform: uppercase; letter-spacing: .08em; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
nav { margin: 0 0 6px; font-size: 14px; }
nav a { color: #1f5fbf; text-decoration: none; margin-right: 14px; }
nav a:hover { text-decoration: underline; }
dl.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 8px 24px; margin: 0 0 18px; padding: 12px 16px; background: #f7f8fa; border: 1px solid #e1e4ea; border-radius: 6px; }
dl.meta div { min-width: 0; }
dl.meta dt { font-size: 12px; color: #5b6478; text-transform: uppercase; letter-spacing: .04em; }
dl.meta dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 18px 24px; align-items: start; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #e1e4ea; padding: 4px 10px; vertical-align: top; }
thead th { background: #f2f4f7; text-align: left; font-weight: 600; }
tbody th { text-align: left; font-weight: normal; color: #2c3445; }
table.faults { width: auto; min-width: 60%; }
table.faults td.num { width: 7em; }
dl.meta code { font-size: 14px; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.text { overflow-wrap: anywhere; }
td.none { color: #7a8294; font-style: italic; }
figure { margin: 0 0 26px; break-inside: avoid; page-break-inside: avoid; }
figure .chart { border: 1px solid #e1e4ea; border-radius: 6px; padding: 8px; background: #fff; }
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { margin-top: 6px; font-size: 14px; color: #3b4456; text-align: center; }
p.empty { color: #5b6478; font-style: italic; }
pre { background: #f7f8fa; border: 1px solid #e1e4ea; border-radius: 6px; padding: 12px 14px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.45; }
footer { margin-top: 34px; padding-top: 10px; border-top: 1px solid #e1e4ea; font-size: 12px; color: #5b6478; }
@media print {
  html { background: #fff; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table, .cards > div { break-inside: avoid; page-break-inside: avoid; }
}
"#;

/// The page's Content Security Policy: nothing may be fetched and no script
/// may run; only the page's own style sheet and the SVGs' style attributes
/// apply.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// The HTML report of a run: a complete, self-contained HTML document.
///
/// `charts` are inlined in their order; `version` is the p2psim version shown
/// in the header. The result depends on nothing but the arguments (no clock,
/// no environment), so the same inputs give the same bytes.
pub fn render_report(run: &RunData, charts: &[Chart], version: &str) -> String {
    let mut out = String::with_capacity(
        16 * 1024 + run.scenario_text.len() + charts.iter().map(|c| c.svg.len()).sum::<usize>(),
    );
    render(&mut out, run, charts, version).expect("writing to a String cannot fail");
    out
}

/// Renders the report of a run into `dir/report.html`, atomically, and
/// returns that path. `dir` is created if need be.
pub fn write_report(
    dir: &Path,
    run: &RunData,
    charts: &[Chart],
    version: &str,
) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let html = render_report(run, charts, version);
    let path = dir.join(files::REPORT);
    write_atomic(&path, |w| w.write_all(html.as_bytes()))?;
    Ok(path)
}

/// An exact value for a `data-value` attribute.
#[derive(Clone, Copy)]
enum Exact<'a> {
    Int(u64),
    Float(f64),
    Text(&'a str),
}

impl fmt::Display for Exact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exact::Int(v) => write!(f, "{v}"),
            // Rust's `Display` for f64 is the shortest string that parses
            // back to the same value.
            Exact::Float(v) => write!(f, "{v}"),
            Exact::Text(s) => f.write_str(&escape(s)),
        }
    }
}

/// `data-key="…" data-value="…"`: the attributes that tie an element to a
/// figure of `summary.json`.
fn keyed(key: &str, value: Exact<'_>) -> String {
    format!(r#"data-key="{}" data-value="{value}""#, escape(key))
}

fn render(out: &mut String, run: &RunData, charts: &[Chart], version: &str) -> fmt::Result {
    let s = &run.summary;
    page_start(out, &format!("{} · p2psim report", s.scenario), version)?;

    header(out, run, version)?;
    summary_tables(out, run)?;
    charts_section(out, charts)?;
    faults_section(out, run)?;
    nodes_section(out, &run.nodes)?;

    writeln!(out, r#"<h2 id="scenario">Scenario file</h2>"#)?;
    writeln!(
        out,
        r#"<pre class="scenario">{}</pre>"#,
        escape(&run.scenario_text)
    )?;

    writeln!(
        out,
        "<footer>p2psim {} · scenario {} · seed {} · trace hash <code>{}</code></footer>",
        escape(version),
        escape(&s.scenario),
        s.seed,
        escape(&s.trace_hash)
    )?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

/// A page's start, up to and including `<body>`: the doctype, the Content
/// Security Policy, the generator (`version`), `title` and the style sheet.
pub(crate) fn page_start(out: &mut String, title: &str, version: &str) -> fmt::Result {
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, r#"<html lang="en">"#)?;
    writeln!(out, "<head>")?;
    writeln!(out, r#"<meta charset="utf-8">"#)?;
    writeln!(
        out,
        r#"<meta http-equiv="Content-Security-Policy" content="{CSP}">"#
    )?;
    writeln!(
        out,
        r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
    )?;
    writeln!(
        out,
        r#"<meta name="generator" content="p2psim {}">"#,
        escape(version)
    )?;
    writeln!(out, "<title>{}</title>", escape(title))?;
    writeln!(out, "<style>{CSS}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")
}

fn header(out: &mut String, run: &RunData, version: &str) -> fmt::Result {
    let s = &run.summary;
    writeln!(out, "<header>")?;
    writeln!(out, r#"<p class="kicker">p2psim run report</p>"#)?;
    writeln!(
        out,
        "<h1><span {}>{}</span></h1>",
        keyed("scenario", Exact::Text(&s.scenario)),
        escape(&s.scenario)
    )?;
    writeln!(out, r#"<dl class="meta">"#)?;
    let item = |out: &mut String, label: &str, dd: String| -> fmt::Result {
        writeln!(out, "<div><dt>{label}</dt><dd>{dd}</dd></div>")
    };
    item(out, "Version", format!("p2psim {}", escape(version)))?;
    item(
        out,
        "Seed",
        format!(
            "<span {}>{}</span>",
            keyed("seed", Exact::Int(s.seed)),
            s.seed
        ),
    )?;
    item(
        out,
        "Trace hash",
        format!(
            "<code {}>{}</code>",
            keyed("trace_hash", Exact::Text(&s.trace_hash)),
            escape(&s.trace_hash)
        ),
    )?;
    let duration = match run.timeseries.last() {
        Some(last) => format!("{} s", ns_as_seconds(last.end_ns)),
        None => "—".to_string(),
    };
    item(out, "Simulated time", duration)?;
    item(
        out,
        "Events",
        format!(
            "<span {}>{}</span>",
            keyed("events", Exact::Int(s.events)),
            group_digits(s.events)
        ),
    )?;
    item(
        out,
        "Wall time",
        format!(
            "<span {}>{}</span> s",
            keyed("wall_s", Exact::Float(s.wall_s)),
            friendly(s.wall_s)
        ),
    )?;
    writeln!(out, "</dl>")?;
    writeln!(
        out,
        "<nav><a href=\"#summary\">Summary</a><a href=\"#charts\">Charts</a><a href=\"#faults\">Faults</a>\
         <a href=\"#nodes\">Nodes</a><a href=\"#scenario\">Scenario file</a></nav>"
    )?;
    writeln!(out, "</header>")
}

/// One row of a summary table: a label and a number. `key` ties it to
/// `summary.json`; figures derived here have none.
fn number_row(
    out: &mut String,
    label: &str,
    key: Option<(&str, Exact<'_>)>,
    shown: &str,
) -> fmt::Result {
    let attrs = key
        .map(|(k, exact)| format!(" {}", keyed(k, exact)))
        .unwrap_or_default();
    writeln!(
        out,
        r#"<tr><th scope="row">{label}</th><td class="num"{attrs}>{shown}</td></tr>"#
    )
}

fn card_start(out: &mut String, title: &str) -> fmt::Result {
    writeln!(out, "<div><h3>{title}</h3><table><tbody>")
}

fn card_end(out: &mut String) -> fmt::Result {
    writeln!(out, "</tbody></table></div>")
}

fn summary_tables(out: &mut String, run: &RunData) -> fmt::Result {
    let s = &run.summary;
    let int = |v: u64| (Exact::Int(v), group_digits(v));
    let float = |v: f64| (Exact::Float(v), friendly(v));
    writeln!(out, r#"<h2 id="summary">Summary</h2>"#)?;
    writeln!(out, r#"<div class="cards">"#)?;

    card_start(out, "Delivery")?;
    let (e, t) = int(s.messages);
    number_row(out, "Messages sent", Some(("messages", e)), &t)?;
    let (e, t) = int(s.deliveries);
    number_row(out, "Deliveries", Some(("deliveries", e)), &t)?;
    number_row(
        out,
        "Delivery ratio",
        Some(("delivery_ratio", Exact::Float(s.delivery_ratio))),
        &percent(s.delivery_ratio),
    )?;
    let (e, t) = float(s.hops_mean);
    number_row(out, "Mean hops", Some(("hops_mean", e)), &t)?;
    card_end(out)?;

    card_start(out, "Latency (ms)")?;
    let l = &s.latency_ms;
    for (label, key, v) in [
        ("p50", "latency_ms.p50", l.p50),
        ("p90", "latency_ms.p90", l.p90),
        ("p99", "latency_ms.p99", l.p99),
        ("Mean", "latency_ms.mean", l.mean),
        ("Max", "latency_ms.max", l.max),
    ] {
        let (e, t) = float(v);
        number_row(out, label, Some((key, e)), &t)?;
    }
    card_end(out)?;

    card_start(out, "Network")?;
    let (e, t) = int(s.packets_sent);
    number_row(out, "Packets sent", Some(("packets_sent", e)), &t)?;
    let (e, t) = int(s.bytes_sent);
    number_row(out, "Bytes sent", Some(("bytes_sent", e)), &t)?;
    let total_drops: u64 = s.drops.values().sum();
    number_row(out, "Drops, all causes", None, &group_digits(total_drops))?;
    card_end(out)?;

    // Only where some node models energy: the figures are all zero
    // otherwise, and summary.json then leaves them out.
    let en = &s.energy;
    if !en.is_unmodelled() {
        card_start(out, "Energy")?;
        let (e, t) = int(en.nodes);
        number_row(out, "Nodes with a battery", Some(("energy.nodes", e)), &t)?;
        for (label, key, v) in [
            ("Spent, total (J)", "energy.total_j", en.total_j),
            ("Spent, mean (J)", "energy.mean_j", en.mean_j),
            ("Spent, max (J)", "energy.max_j", en.max_j),
        ] {
            let (e, t) = float(v);
            number_row(out, label, Some((key, e)), &t)?;
        }
        let (e, t) = int(en.batteries_emptied);
        number_row(
            out,
            "Batteries emptied",
            Some(("energy.batteries_emptied", e)),
            &t,
        )?;
        number_row(
            out,
            "Mean charge at end",
            Some(("energy.charge_mean", Exact::Float(en.charge_mean))),
            &percent(en.charge_mean),
        )?;
        card_end(out)?;
    }

    let tr = &s.transports;
    if !tr.is_unused() {
        card_start(out, "Transport manager")?;
        for (label, key, v) in [
            ("Messages", "transports.messages", tr.messages),
            ("Delivered", "transports.delivered", tr.delivered),
            ("Failovers", "transports.failovers", tr.failovers),
            ("Given up", "transports.gave_up", tr.gave_up),
            ("No route", "transports.no_route", tr.no_route),
            (
                "Refused, queue full",
                "transports.queue_dropped",
                tr.queue_dropped,
            ),
        ] {
            let (e, t) = int(v);
            number_row(out, label, Some((key, e)), &t)?;
        }
        let (e, t) = float(tr.latency_ms_mean);
        number_row(
            out,
            "Mean latency (ms)",
            Some(("transports.latency_ms_mean", e)),
            &t,
        )?;
        for (name, key, chosen, via) in [
            (
                "BitChat",
                "bitchat",
                tr.chosen.bitchat,
                tr.delivered_by.bitchat,
            ),
            (
                "BetaNet",
                "betanet",
                tr.chosen.betanet,
                tr.delivered_by.betanet,
            ),
            ("QUIC", "quic", tr.chosen.quic, tr.delivered_by.quic),
            (
                "WebSocket",
                "websocket",
                tr.chosen.websocket,
                tr.delivered_by.websocket,
            ),
            ("Raw", "raw", tr.chosen.raw, tr.delivered_by.raw),
        ] {
            if chosen + via == 0 {
                continue;
            }
            let (e, t) = int(chosen);
            let label = format!("{name}: chosen first");
            number_row(
                out,
                &label,
                Some((&format!("transports.chosen.{key}"), e)),
                &t,
            )?;
            let (e, t) = int(via);
            let label = format!("{name}: delivered");
            number_row(
                out,
                &label,
                Some((&format!("transports.delivered_by.{key}"), e)),
                &t,
            )?;
        }
        card_end(out)?;
    }

    // Only where the scenario runs them (summary.json leaves them out
    // otherwise).
    if let Some(d) = &s.discovery {
        discovery_cards(out, d)?;
    }
    if let Some(g) = &s.signaling {
        signaling_card(out, g)?;
    }

    card_start(out, "Drops by cause")?;
    if s.drops.is_empty() {
        writeln!(out, r#"<tr><td class="none">none recorded</td></tr>"#)?;
    }
    for (cause, n) in &s.drops {
        let (e, t) = int(*n);
        number_row(
            out,
            &escape(cause),
            Some((&format!("drops.{cause}"), e)),
            &t,
        )?;
    }
    card_end(out)?;

    card_start(out, "Lookups")?;
    let lk = &s.lookups;
    for (label, key, v) in [
        ("Started", "lookups.started", lk.started),
        ("Ended", "lookups.done", lk.done),
        ("Succeeded", "lookups.succeeded", lk.succeeded),
    ] {
        let (e, t) = int(v);
        number_row(out, label, Some((key, e)), &t)?;
    }
    for (label, key, v) in [
        ("Success ratio", "lookups.success_ratio", lk.success_ratio),
        ("Mean hops", "lookups.hops_mean", lk.hops_mean),
        ("Mean requests", "lookups.requests_mean", lk.requests_mean),
        (
            "Latency p50 (ms)",
            "lookups.latency_ms.p50",
            lk.latency_ms.p50,
        ),
        (
            "Latency p90 (ms)",
            "lookups.latency_ms.p90",
            lk.latency_ms.p90,
        ),
        (
            "Latency p99 (ms)",
            "lookups.latency_ms.p99",
            lk.latency_ms.p99,
        ),
        (
            "Latency mean (ms)",
            "lookups.latency_ms.mean",
            lk.latency_ms.mean,
        ),
        (
            "Latency max (ms)",
            "lookups.latency_ms.max",
            lk.latency_ms.max,
        ),
    ] {
        let (e, t) = float(v);
        number_row(out, label, Some((key, e)), &t)?;
    }
    card_end(out)?;

    card_start(out, "Kernel")?;
    let (e, t) = int(s.events);
    number_row(out, "Events", Some(("events", e)), &t)?;
    let (e, t) = float(s.wall_s);
    number_row(out, "Wall time (s)", Some(("wall_s", e)), &t)?;
    let rate = if s.wall_s > 0.0 {
        group_digits((s.events as f64 / s.wall_s).round() as u64)
    } else {
        "—".to_string()
    };
    number_row(out, "Events/s", None, &rate)?;
    if let Some(last) = run.timeseries.last() {
        number_row(out, "Simulated time (s)", None, &ns_as_seconds(last.end_ns))?;
    }
    card_end(out)?;

    writeln!(out, "</div>")
}

/// A row per number, each tied to its `summary.json` key.
fn int_rows(out: &mut String, rows: &[(&str, &str, u64)]) -> fmt::Result {
    for &(label, key, v) in rows {
        number_row(out, label, Some((key, Exact::Int(v))), &group_digits(v))?;
    }
    Ok(())
}

fn float_rows(out: &mut String, rows: &[(&str, &str, f64)]) -> fmt::Result {
    for &(label, key, v) in rows {
        number_row(out, label, Some((key, Exact::Float(v))), &friendly(v))?;
    }
    Ok(())
}

fn ratio_rows(out: &mut String, rows: &[(&str, &str, f64)]) -> fmt::Result {
    for &(label, key, v) in rows {
        number_row(out, label, Some((key, Exact::Float(v))), &percent(v))?;
    }
    Ok(())
}

/// The five figures of a [`LatencyMs`] under `key`.
fn percentile_rows(out: &mut String, what: &str, key: &str, l: &LatencyMs) -> fmt::Result {
    for (name, v) in [
        ("p50", l.p50),
        ("p90", l.p90),
        ("p99", l.p99),
        ("mean", l.mean),
        ("max", l.max),
    ] {
        let label = format!("{what} {name} (ms)");
        number_row(
            out,
            &label,
            Some((&format!("{key}.{name}"), Exact::Float(v))),
            &friendly(v),
        )?;
    }
    Ok(())
}

/// The discovery figures: what the clients got, then what the registry
/// did and cost.
fn discovery_cards(out: &mut String, d: &DiscoveryJson) -> fmt::Result {
    card_start(out, "Discovery")?;
    int_rows(
        out,
        &[
            ("Discovers", "discovery.discovers", d.discovers),
            ("Answered", "discovery.answered", d.answered),
            ("Unavailable (503)", "discovery.unavailable", d.unavailable),
            ("Timed out", "discovery.timed_out", d.timed_out),
            ("Peers returned", "discovery.returned", d.returned),
            ("Stale returns", "discovery.stale_returns", d.stale_returns),
            ("Deaths", "discovery.deaths", d.deaths),
            ("Expired", "discovery.expired", d.expired),
        ],
    )?;
    ratio_rows(
        out,
        &[
            ("Success ratio", "discovery.success_ratio", d.success_ratio),
            ("Stale share", "discovery.stale_share", d.stale_share),
        ],
    )?;
    percentile_rows(out, "Staleness", "discovery.staleness_ms", &d.staleness_ms)?;
    card_end(out)?;

    card_start(out, "Registry")?;
    let served = &d.served;
    int_rows(
        out,
        &[
            ("Served", "discovery.served.total", served.total),
            ("Register", "discovery.served.register", served.register),
            ("Heartbeat", "discovery.served.heartbeat", served.heartbeat),
            ("Discover", "discovery.served.discover", served.discover),
            ("Health", "discovery.served.health", served.health),
            ("Rejected (503)", "discovery.rejected", d.rejected),
            ("Cold starts", "discovery.cold_starts", d.cold_starts),
        ],
    )?;
    let month = &d.monthly_cost_usd;
    float_rows(
        out,
        &[
            ("Requests/s", "discovery.requests_per_s", d.requests_per_s),
            (
                "Queue wait mean (ms)",
                "discovery.queue_wait_ms.mean",
                d.queue_wait_ms.mean,
            ),
            (
                "Queue wait max (ms)",
                "discovery.queue_wait_ms.max",
                d.queue_wait_ms.max,
            ),
            ("Cost of the run ($)", "discovery.cost_usd", d.cost_usd),
            (
                "Per month ($)",
                "discovery.monthly_cost_usd.total",
                month.total,
            ),
            (
                "Gateway per month ($)",
                "discovery.monthly_cost_usd.gateway",
                month.gateway,
            ),
            (
                "Function per month ($)",
                "discovery.monthly_cost_usd.function",
                month.function,
            ),
            (
                "Database per month ($)",
                "discovery.monthly_cost_usd.database",
                month.database,
            ),
        ],
    )?;
    card_end(out)
}

fn signaling_card(out: &mut String, g: &SignalingJson) -> fmt::Result {
    card_start(out, "Signaling")?;
    let removed = &g.removed;
    int_rows(
        out,
        &[
            ("Joins", "signaling.joins", g.joins),
            ("Refused (429)", "signaling.refused", g.refused),
            (
                "Join timed out",
                "signaling.join_timed_out",
                g.join_timed_out,
            ),
            ("Connects", "signaling.connects", g.connects),
            (
                "Channels opened",
                "signaling.channels_opened",
                g.channels_opened,
            ),
            ("Set-ups failed", "signaling.setup_failed", g.setup_failed),
            (
                "Direct messages",
                "signaling.direct_messages",
                g.direct_messages,
            ),
            ("Direct bytes", "signaling.direct_bytes", g.direct_bytes),
            ("No channel", "signaling.no_channel", g.no_channel),
            ("Relayed", "signaling.relayed", g.relayed),
            ("Removed: left", "signaling.removed.left", removed.left),
            (
                "Removed: closed",
                "signaling.removed.closed",
                removed.closed,
            ),
            (
                "Removed: idle timeout",
                "signaling.removed.idle_timeout",
                removed.idle_timeout,
            ),
            (
                "Removed: replaced",
                "signaling.removed.replaced",
                removed.replaced,
            ),
        ],
    )?;
    ratio_rows(
        out,
        &[("Connect ratio", "signaling.connect_ratio", g.connect_ratio)],
    )?;
    float_rows(
        out,
        &[
            ("Join mean (ms)", "signaling.join_ms.mean", g.join_ms.mean),
            ("Join max (ms)", "signaling.join_ms.max", g.join_ms.max),
        ],
    )?;
    percentile_rows(out, "Set-up", "signaling.setup_ms", &g.setup_ms)?;
    card_end(out)
}

pub(crate) fn charts_section(out: &mut String, charts: &[Chart]) -> fmt::Result {
    writeln!(out, r#"<h2 id="charts">Charts</h2>"#)?;
    if charts.is_empty() {
        return writeln!(out, r#"<p class="empty">No charts.</p>"#);
    }
    for chart in charts {
        let id = format!("chart-{}", chart.name);
        writeln!(out, r#"<figure id="{}">"#, escape(&id))?;
        writeln!(
            out,
            r#"<div class="chart">{}</div>"#,
            inline_svg(&chart.svg, &id)
        )?;
        writeln!(out, "<figcaption>{}</figcaption>", escape(&chart.title))?;
        writeln!(out, "</figure>")?;
    }
    Ok(())
}

fn faults_section(out: &mut String, run: &RunData) -> fmt::Result {
    writeln!(out, r#"<h2 id="faults">Faults</h2>"#)?;
    if run.faults.is_empty() {
        return writeln!(out, r#"<p class="empty">No faults were applied.</p>"#);
    }
    writeln!(out, r#"<table class="faults">"#)?;
    writeln!(
        out,
        r#"<thead><tr><th class="num">Time (s)</th><th>Kind</th><th>Detail</th></tr></thead>"#
    )?;
    writeln!(out, "<tbody>")?;
    for f in &run.faults {
        writeln!(
            out,
            r#"<tr><td class="num">{}</td><td>{}</td><td class="text">{}</td></tr>"#,
            ns_as_seconds(f.time_ns),
            escape(&f.kind),
            escape(&f.detail)
        )?;
    }
    writeln!(out, "</tbody></table>")
}

/// Per-group totals of `nodes.csv`.
#[derive(Default)]
struct GroupTotals {
    nodes: u64,
    bytes_total: u64,
    bytes_max: u64,
    relays: u64,
    duplicates: u64,
    energy_j: Option<f64>,
    /// Sum and count of the end charges of the group's batteries.
    charge: (f64, u64),
}

fn nodes_section(out: &mut String, nodes: &[NodeRow]) -> fmt::Result {
    writeln!(out, r#"<h2 id="nodes">Nodes by group</h2>"#)?;
    if nodes.is_empty() {
        return writeln!(out, r#"<p class="empty">No nodes recorded.</p>"#);
    }
    // Groups in the order of their first node, as the scenario lists them.
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, GroupTotals> = BTreeMap::new();
    for n in nodes {
        let g = groups.entry(&n.group).or_insert_with(|| {
            order.push(&n.group);
            GroupTotals::default()
        });
        g.nodes += 1;
        g.bytes_total += n.bytes_sent;
        g.bytes_max = g.bytes_max.max(n.bytes_sent);
        g.relays += n.relays;
        g.duplicates += n.duplicates;
        if let Some(e) = n.energy_j {
            *g.energy_j.get_or_insert(0.0) += e;
        }
        if let Some(c) = n.battery {
            g.charge = (g.charge.0 + c, g.charge.1 + 1);
        }
    }
    let energy = nodes.iter().any(|n| n.energy_j.is_some());
    let battery = nodes.iter().any(|n| n.battery.is_some());
    writeln!(out, "<table>")?;
    write!(
        out,
        "<thead><tr><th>Group</th><th class=\"num\">Nodes</th><th class=\"num\">Bytes sent, total</th>\
         <th class=\"num\">Bytes sent, mean</th><th class=\"num\">Bytes sent, max</th><th class=\"num\">Relays</th><th class=\"num\">Duplicates received</th>"
    )?;
    if energy {
        write!(out, r#"<th class="num">Energy (J)</th>"#)?;
    }
    if battery {
        write!(out, r#"<th class="num">Mean charge at end</th>"#)?;
    }
    writeln!(out, "</tr></thead>")?;
    writeln!(out, "<tbody>")?;
    for name in order {
        let g = &groups[name];
        write!(
            out,
            r#"<tr><th scope="row">{}</th><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>"#,
            escape(name),
            group_digits(g.nodes),
            group_digits(g.bytes_total),
            friendly(g.bytes_total as f64 / g.nodes as f64),
            group_digits(g.bytes_max),
            group_digits(g.relays),
            group_digits(g.duplicates)
        )?;
        if energy {
            let e = g.energy_j.map(friendly).unwrap_or_else(|| "—".to_string());
            write!(out, r#"<td class="num">{e}</td>"#)?;
        }
        if battery {
            let (sum, count) = g.charge;
            let c = if count == 0 {
                "—".to_string()
            } else {
                percent(sum / count as f64)
            };
            write!(out, r#"<td class="num">{c}</td>"#)?;
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table>")
}

/// A fraction as a percentage for reading: `0.8` → `80 %`.
fn percent(v: f64) -> String {
    if v.is_finite() {
        format!("{} %", friendly(100.0 * v))
    } else {
        friendly(v)
    }
}

/// `s` with the characters that mean something in HTML text or a quoted
/// attribute replaced by entities.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Nanoseconds as an exact decimal number of seconds, without trailing
/// zeros: `1_500_000_000` → `1.5`.
fn ns_as_seconds(ns: u64) -> String {
    let (whole, frac) = (ns / 1_000_000_000, ns % 1_000_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:09}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// An integer with its digits grouped by threes, separated by narrow
/// no-break spaces (the SI style, the same in every language).
pub(crate) fn group_digits(v: u64) -> String {
    group_digit_string(&v.to_string())
}

/// [`group_digits`] of a string of ASCII digits.
fn group_digit_string(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 8);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push_str("&#8239;");
        }
        out.push(c);
    }
    out
}

/// A float rounded for reading: about four significant digits below 100,
/// at most three decimals, no trailing zeros. The exact value goes in the
/// `data-value` attribute; this is only for the eye.
pub(crate) fn friendly(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1e15 {
        let s = format!("{v:.3e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}×10<sup>{exponent}</sup>");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 9) as usize;
    let decimals = if v.abs() >= 1.0 {
        decimals.min(3)
    } else {
        decimals
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.truncate(s.trim_end_matches('0').trim_end_matches('.').len());
    }
    if s == "-0" {
        s = "0".into();
    }
    if s.len() > 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        return group_digit_string(&s);
    }
    s
}

/// An SVG document made ready to sit inside the page: anything before the
/// `<svg` element (XML declaration, DOCTYPE, comments) is dropped; a
/// `viewBox` is added from `width` and `height` where it lacks one, so that
/// the chart scales with the page; and its `id`s (and the references to them)
/// are prefixed with `prefix`, so two charts' ids cannot clash in one page.
fn inline_svg(svg: &str, prefix: &str) -> String {
    let Some(start) = svg.find("<svg") else {
        // Not an SVG document: show it as text rather than break the page.
        return format!("<pre>{}</pre>", escape(svg));
    };
    let svg = svg[start..].trim_end();
    let Some(tag_end) = svg.find('>') else {
        return format!("<pre>{}</pre>", escape(svg));
    };
    let (open_tag, rest) = svg.split_at(tag_end);
    let mut open_tag = open_tag.to_string();
    if attribute(&open_tag, "viewBox").is_none() {
        let number = |name: &str| {
            attribute(&open_tag, name)
                .map(|v| v.trim().trim_end_matches("px").trim().to_string())
                .filter(|v| v.parse::<f64>().is_ok_and(|x| x > 0.0 && x.is_finite()))
        };
        if let (Some(w), Some(h)) = (number("width"), number("height")) {
            let insert_at = if open_tag.ends_with('/') {
                open_tag.len() - 1
            } else {
                open_tag.len()
            };
            open_tag.insert_str(insert_at, &format!(r#" viewBox="0 0 {w} {h}""#));
        }
    }
    let mut svg = open_tag + rest;
    for id in defined_ids(&svg) {
        let new = format!("{}-{id}", escape(prefix));
        for (from, to) in [
            (format!(r#" id="{id}""#), format!(r#" id="{new}""#)),
            (format!("url(#{id})"), format!("url(#{new})")),
            (format!(r##"href="#{id}""##), format!(r##"href="#{new}""##)),
        ] {
            svg = svg.replace(&from, &to);
        }
    }
    svg
}

/// The value of attribute `name` in a start tag, if it has one.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    for sep in [' ', '\n', '\t', '\r'] {
        for quote in ['"', '\''] {
            let pat = format!("{sep}{name}={quote}");
            if let Some(i) = tag.find(&pat) {
                let value_start = i + pat.len();
                if let Some(len) = tag[value_start..].find(quote) {
                    return Some(&tag[value_start..value_start + len]);
                }
            }
        }
    }
    None
}

/// Every `id="…"` defined in an SVG document, in order, without repeats.
fn defined_ids(svg: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find(r#" id=""#) {
        rest = &rest[i + 5..];
        let Some(end) = rest.find('"') else { break };
        let id = &rest[..end];
        if !id.is_empty() && !ids.iter().any(|x| x == id) {
            ids.push(id.to_string());
        }
        rest = &rest[end..];
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample_run;

    fn fake_charts() -> Vec<Chart> {
        vec![
            Chart {
                name: "latency_cdf",
                title: "Latency CDF".into(),
                svg: concat!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                    "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x\">\n",
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"200\">",
                    "<defs><clipPath id=\"c0\"><rect width=\"400\" height=\"200\"/></clipPath></defs>",
                    "<polyline clip-path=\"url(#c0)\" points=\"0,200 200,100 400,0\" fill=\"none\" stroke=\"#1f5fbf\"/>",
                    "</svg>\n"
                )
                .into(),
            },
            Chart {
                name: "hops",
                title: "Hops <per> delivery & more".into(),
                svg: "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 300 150\">\
                      <defs><clipPath id=\"c0\"><rect width=\"300\" height=\"150\"/></clipPath></defs>\
                      <rect clip-path=\"url(#c0)\" x=\"10\" y=\"50\" width=\"40\" height=\"100\" fill=\"#888\"/></svg>"
                    .into(),
            },
        ]
    }

    /// Undoes [`escape`].
    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    /// Every `data-key="K" data-value="V"` pair in the page, in order.
    fn keyed_values(html: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut rest = html;
        while let Some(i) = rest.find("data-key=\"") {
            rest = &rest[i + "data-key=\"".len()..];
            let end = rest.find('"').expect("closing quote of data-key");
            let key = unescape(&rest[..end]);
            rest = &rest[end + 1..];
            let rest_v = rest
                .strip_prefix(" data-value=\"")
                .unwrap_or_else(|| panic!("data-key {key:?} not followed by data-value"));
            let end = rest_v.find('"').expect("closing quote of data-value");
            found.push((key, unescape(&rest_v[..end])));
            rest = &rest_v[end + 1..];
        }
        found
    }

    /// The figures of a `summary.json` text, by dotted path.
    fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, serde_json::Value>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
            v => {
                out.insert(prefix.to_string(), v.clone());
            }
        }
    }

    /// Checks that every figure of `summary.json` (as written to disk) is in
    /// the page with exactly its value, and that the page has no keyed value
    /// that is not in `summary.json`.
    ///
    /// Floats are compared bit for bit; the workspace enables serde_json's
    /// `float_roundtrip`, so its parser reads back exactly what was written.
    fn assert_page_matches_summary_json(run: &RunData) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(files::SUMMARY);
        run.summary.write(&path).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut expected = BTreeMap::new();
        flatten("", &json, &mut expected);
        assert!(expected.len() >= 16, "{expected:?}");

        let html = render_report(run, &fake_charts(), "0.1.0");
        let found = keyed_values(&html);
        for (key, value) in &found {
            let want = expected
                .get(key)
                .unwrap_or_else(|| panic!("report has data-key {key:?}, which summary.json lacks"));
            match want {
                serde_json::Value::String(s) => assert_eq!(value, s, "{key}"),
                serde_json::Value::Number(n) if n.is_u64() => {
                    assert_eq!(
                        value.parse::<u64>().ok(),
                        n.as_u64(),
                        "{key}: {value} vs {n}"
                    )
                }
                serde_json::Value::Number(n) => {
                    let want = n.as_f64().unwrap();
                    let got: f64 = value
                        .parse()
                        .unwrap_or_else(|e| panic!("{key}: {value:?}: {e}"));
                    assert_eq!(got.to_bits(), want.to_bits(), "{key}: {value} vs {n}");
                }
                other => panic!("{key}: unexpected JSON value {other}"),
            }
        }
        for key in expected.keys() {
            assert!(
                found.iter().any(|(k, _)| k == key),
                "summary.json's {key} is not in the report"
            );
        }
    }

    #[test]
    fn every_summary_json_figure_is_in_the_page_exactly() {
        assert_page_matches_summary_json(&sample_run());
        // Values whose short decimal forms are not what one would type.
        let mut run = sample_run();
        run.summary.delivery_ratio = 2.0 / 3.0;
        run.summary.latency_ms.p50 = 0.1 + 0.2;
        run.summary.latency_ms.p90 = 1e-7;
        run.summary.latency_ms.p99 = 123_456_789.123_456_79;
        run.summary.latency_ms.mean = std::f64::consts::PI;
        run.summary.latency_ms.max = 1e21;
        run.summary.hops_mean = 5e-324;
        run.summary.wall_s = 0.000_123_456_789;
        run.summary.events = u64::MAX;
        run.summary.drops.insert("no_route".into(), 123_456_789);
        run.summary.scenario = "a <b> & \"c\" 'd'".into();
        assert_page_matches_summary_json(&run);
    }

    /// The sample run with batteries on nodes 0..11: node n spent 10·(n+1)
    /// J; 0, 4 and 8 ran out, the others kept half their charge.
    fn energy_run() -> RunData {
        let mut run = sample_run();
        for n in &mut run.nodes[..11] {
            n.energy_j = Some(10.0 * f64::from(n.node + 1));
            n.battery = Some(if n.node % 4 == 0 { 0.0 } else { 0.5 });
        }
        run.summary.energy = crate::summary::EnergyJson::from_nodes(&run.nodes);
        run
    }

    #[test]
    fn energy_figures_are_shown_only_where_energy_is_modelled() {
        let plain = render_report(&sample_run(), &fake_charts(), "0.1.0");
        for absent in [
            "data-key=\"energy.",
            "<h3>Energy</h3>",
            "Energy (J)",
            "charge at end",
        ] {
            assert!(
                !plain.contains(absent),
                "{absent:?} in a run without energy"
            );
        }

        let run = energy_run();
        assert_page_matches_summary_json(&run);
        let html = render_report(&run, &fake_charts(), "0.1.0");
        assert!(html.contains("<h3>Energy</h3>"));
        for row in [
            r#"<th scope="row">Nodes with a battery</th><td class="num" data-key="energy.nodes" data-value="11">11</td>"#,
            r#"<th scope="row">Spent, total (J)</th><td class="num" data-key="energy.total_j" data-value="660">660</td>"#,
            r#"<th scope="row">Batteries emptied</th><td class="num" data-key="energy.batteries_emptied" data-value="3">3</td>"#,
            r#"<th scope="row">Mean charge at end</th><td class="num" data-key="energy.charge_mean" data-value="0.36363636363636365">36.36 %</td>"#,
        ] {
            assert!(html.contains(row), "no {row} in the page");
        }
        // Per group: senders (0..5) spent 150 J, mean charge (0 + 3 × 0.5 + 0) / 5;
        // receivers 5..11 spent 510 J, node 11 has no battery.
        assert!(html.contains(
            r#"<th class="num">Energy (J)</th><th class="num">Mean charge at end</th></tr>"#
        ));
        assert!(html.contains(r#"<td class="num">150</td><td class="num">30 %</td></tr>"#));
        assert!(html.contains(r#"<td class="num">510</td><td class="num">41.67 %</td></tr>"#));
    }

    #[test]
    fn discovery_and_signaling_figures_are_shown_only_where_run() {
        let plain = render_report(&sample_run(), &fake_charts(), "0.1.0");
        for absent in ["data-key=\"discovery.", "data-key=\"signaling."] {
            assert!(!plain.contains(absent), "{absent:?} in a plain run");
        }
        let mut run = sample_run();
        run.summary.discovery = Some(crate::summary::DiscoveryJson {
            discovers: 10,
            answered: 9,
            success_ratio: 0.9,
            returned: 90,
            stale_returns: 3,
            stale_share: 3.0 / 90.0,
            monthly_cost_usd: crate::summary::CostJson {
                gateway: 1.5,
                total: 1.5,
                ..Default::default()
            },
            ..Default::default()
        });
        run.summary.signaling = Some(crate::summary::SignalingJson {
            joins: 4,
            connects: 2,
            channels_opened: 2,
            connect_ratio: 1.0,
            ..Default::default()
        });
        // Every figure of both objects is on the page, exactly.
        assert_page_matches_summary_json(&run);
        let html = render_report(&run, &fake_charts(), "0.1.0");
        for card in [
            "<h3>Discovery</h3>",
            "<h3>Registry</h3>",
            "<h3>Signaling</h3>",
        ] {
            assert!(html.contains(card), "no {card}");
        }
        assert!(html.contains(
            r#"<th scope="row">Stale returns</th><td class="num" data-key="discovery.stale_returns" data-value="3">3</td>"#
        ));
    }

    #[test]
    fn scenario_text_is_escaped() {
        let mut run = sample_run();
        run.scenario_text = "(name: \"x\", note: \"<script>alert(1)</script>&\\\"\")".into();
        let html = render_report(&run, &fake_charts(), "0.1.0");
        assert!(!html.contains("<script"));
        assert!(html.contains(
            "(name: &quot;x&quot;, note: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&amp;\\&quot;&quot;)"
        ));
        // Round trip: the <pre> holds exactly the file's text once unescaped.
        let start =
            html.find("<pre class=\"scenario\">").unwrap() + "<pre class=\"scenario\">".len();
        let end = start + html[start..].find("</pre>").unwrap();
        assert_eq!(unescape(&html[start..end]), run.scenario_text);
    }

    #[test]
    fn self_contained_no_script_no_external_urls() {
        let html = render_report(&sample_run(), &fake_charts(), "0.1.0");
        assert!(!html.to_ascii_lowercase().contains("<script"));
        assert!(!html.contains("@import") && !html.contains("@font-face"));
        // The only URLs allowed are XML namespace names, which are never fetched.
        let mut stripped = html.clone();
        for ns in [
            r#"xmlns="http://www.w3.org/2000/svg""#,
            r#"xmlns:xlink="http://www.w3.org/1999/xlink""#,
        ] {
            stripped = stripped.replace(ns, "");
        }
        for bad in [
            "http://", "https://", "src=", "url(http", "url(//", "@import",
        ] {
            let hits = stripped.match_indices(bad).count();
            assert_eq!(hits, 0, "{bad:?} in the page");
        }
        // Every href is a fragment of this page.
        for (i, _) in html.match_indices("href=\"") {
            assert_eq!(&html[i + 6..i + 7], "#", "{}", &html[i..i + 40]);
        }
        assert!(html.contains(CSP));
    }

    #[test]
    fn render_is_deterministic_and_write_report_writes_it() {
        let run = sample_run();
        let charts = fake_charts();
        let a = render_report(&run, &charts, "0.1.0");
        let b = render_report(&run.clone(), &charts.clone(), "0.1.0");
        assert_eq!(a, b);
        let dir = tempfile::tempdir().unwrap();
        let path = write_report(&dir.path().join("run"), &run, &charts, "0.1.0").unwrap();
        assert_eq!(path, dir.path().join("run").join(files::REPORT));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), a);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("run")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file left behind");
    }

    #[test]
    fn page_shows_header_charts_faults_groups() {
        let run = sample_run();
        let html = render_report(&run, &fake_charts(), "9.8.7");
        assert!(html.starts_with("<!DOCTYPE html>\n"));
        assert!(html.contains("p2psim 9.8.7"));
        assert!(html.contains(r#"<code data-key="trace_hash" data-value="0123456789abcdef">"#));
        assert!(html.contains("<div><dt>Simulated time</dt><dd>10 s</dd></div>"));
        // Charts: one figure each, caption escaped, no XML prolog, viewBox added.
        assert_eq!(html.matches("<figure").count(), 2);
        assert!(html.contains("<figcaption>Hops &lt;per&gt; delivery &amp; more</figcaption>"));
        assert!(!html.contains("<?xml") && !html.contains("<!DOCTYPE svg"));
        assert!(html.contains(r#"width="400" height="200" viewBox="0 0 400 200">"#));
        assert_eq!(html.matches("viewBox=").count(), 2);
        // The two charts' clip paths no longer share an id.
        assert!(
            html.contains(r#"id="chart-latency_cdf-c0""#)
                && html.contains("url(#chart-latency_cdf-c0)")
        );
        assert!(html.contains(r#"id="chart-hops-c0""#) && html.contains("url(#chart-hops-c0)"));
        // Faults, in seconds.
        assert!(html.contains(
            r#"<tr><td class="num">4</td><td>crash</td><td class="text">node 3</td></tr>"#
        ));
        // Groups in order of first node: senders are nodes 0..5 (bytes 0, 1k, 4k, 9k,
        // 16k; relays n % 3 → 4; duplicates n % 4 → 6).
        let senders = html.find("<th scope=\"row\">senders</th>").unwrap();
        let receivers = html.find("<th scope=\"row\">receivers</th>").unwrap();
        assert!(senders < receivers);
        let row = &html[senders..senders + html[senders..].find("</tr>").unwrap()];
        assert_eq!(
            row,
            "<th scope=\"row\">senders</th><td class=\"num\">5</td><td class=\"num\">30&#8239;000</td>\
             <td class=\"num\">6&#8239;000</td><td class=\"num\">16&#8239;000</td><td class=\"num\">4</td>\
             <td class=\"num\">6</td>"
        );
    }

    #[test]
    fn empty_run_renders() {
        let mut run = sample_run();
        run.timeseries.clear();
        run.nodes.clear();
        run.faults.clear();
        run.summary.drops.clear();
        run.summary.wall_s = 0.0;
        let html = render_report(&run, &[], "0.1.0");
        assert!(html.contains("No charts."));
        assert!(html.contains("No faults were applied."));
        assert!(html.contains("No nodes recorded."));
        assert!(html.ends_with("</html>\n"));
    }

    #[test]
    fn helpers() {
        assert_eq!(ns_as_seconds(0), "0");
        assert_eq!(ns_as_seconds(1_500_000_000), "1.5");
        assert_eq!(ns_as_seconds(12_000_000_001), "12.000000001");
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1&#8239;000");
        assert_eq!(group_digits(1_234_567), "1&#8239;234&#8239;567");
        assert_eq!(friendly(29.0), "29");
        assert_eq!(friendly(29.5), "29.5");
        assert_eq!(friendly(2.0 / 3.0), "0.6667");
        assert_eq!(friendly(0.000_123_456), "0.0001235");
        assert_eq!(friendly(12.345_678), "12.35");
        assert_eq!(friendly(1234.5678), "1&#8239;235");
        assert_eq!(friendly(123_456.7), "123&#8239;457");
        assert_eq!(friendly(1e21), "1×10<sup>21</sup>");
        assert_eq!(friendly(-1.2345e300), "-1.234×10<sup>300</sup>");
        assert_eq!(
            friendly(999_999_999_999_999.0),
            "999&#8239;999&#8239;999&#8239;999&#8239;999"
        );
        assert_eq!(friendly(-0.0), "0");
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let svg = inline_svg("<svg width=\"10px\" height=\"5\"/>", "p");
        assert_eq!(svg, r#"<svg width="10px" height="5" viewBox="0 0 10 5"/>"#);
        assert_eq!(
            inline_svg("not svg <b>", "p"),
            "<pre>not svg &lt;b&gt;</pre>"
        );
    }
}
