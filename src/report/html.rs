//! HTML: one self-contained page (no script, no network) with the console tables and, per
//! workload, a percentile spectrum of every backend and a bar chart of their p50s.

use super::model::{Align, Mark, Table};
use super::svg::{self, Series};
use super::table;
use crate::bench::stats;
use crate::results::BenchmarkResults;

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1320px}\
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 8px}th{background:#f3f3f3}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.plots{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}\
.meta{color:#555}.warn{color:#b00}.good{color:#070}";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A table as HTML: figures right-aligned (class `n`), marked cells coloured.
pub fn render_table(t: &Table) -> String {
    let mut out = String::from("<table><tr>");
    for h in t.headers() {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr>");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, column) in t.columns.iter().enumerate() {
            let cell = row.cells.get(i).cloned().unwrap_or_default();
            let mut classes = Vec::new();
            if column.align == Align::Right {
                classes.push("n");
            }
            match cell.mark {
                Mark::Plain => {}
                Mark::Warn | Mark::Bad => classes.push("warn"),
                Mark::Good => classes.push("good"),
            }
            let class = if classes.is_empty() {
                String::new()
            } else {
                format!(" class=\"{}\"", classes.join(" "))
            };
            out.push_str(&format!("<td{class}>{}</td>", escape(&cell.text)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// The percentile points of a stored histogram, in µs.
fn spectrum_points(histogram: &str) -> Vec<(f64, f64)> {
    let Ok(h) = stats::decode(histogram) else {
        return Vec::new();
    };
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_quantiles(5)
        .map(|v| {
            let us = h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0;
            (v.quantile_iterated_to(), us)
        })
        .collect()
}

fn workload_section(results: &BenchmarkResults, workload: &str) -> String {
    let entries: Vec<_> = results
        .results
        .iter()
        .filter(|e| e.workload == workload)
        .collect();
    let series: Vec<Series> = entries
        .iter()
        .map(|e| Series {
            name: e.backend.clone(),
            points: spectrum_points(&e.histogram),
        })
        .collect();
    let p50s: Vec<(String, f64)> = entries
        .iter()
        .filter_map(|e| Some((e.backend.clone(), e.latency_us.as_ref()?.p50)))
        .collect();
    format!(
        "<h3>{}</h3><div class=\"plots\">{}{}</div>",
        escape(workload),
        svg::spectrum(&format!("{workload}: latency by percentile"), &series),
        svg::bars(&format!("{workload}: p50 per backend"), &p50s)
    )
}

/// The whole report as one HTML page.
pub fn render(results: &BenchmarkResults) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>sandbox-bench report</title><style>{STYLE}</style></head><body>\
         <h1>sandbox-bench report</h1><p class=\"meta\">{} · {} cpus · kernel {} · {} · \
         started {} · {}</p>",
        escape(&results.header.host.os),
        results.header.host.cpus,
        escape(&results.header.host.kernel),
        results.versions.docker.as_deref().map_or_else(
            || "no Docker".to_string(),
            |d| format!("Docker {}", escape(d))
        ),
        escape(&results.header.started_at),
        if results.complete {
            "complete"
        } else {
            "<span class=\"warn\">incomplete (interrupted)</span>"
        }
    );
    out.push_str("<h2>Latency per backend × workload</h2>");
    out.push_str(&render_table(&table::latency_table(results)));
    if let Some(t) = table::comparison_table(results) {
        out.push_str(&format!(
            "<h2>Against the baseline, {}</h2>",
            escape(&results.settings.baseline)
        ));
        out.push_str(&render_table(&t));
    }
    if let Some(t) = super::mcp_layer::layer_table(results) {
        out.push_str(
            "<h2>The MCP layer</h2><p>Each MCP server's latency minus the executor its tool \
             runs on, both measured in this run.</p>",
        );
        out.push_str(&render_table(&t));
    }
    if let Some(t) = super::round_trips::round_trip_table(results) {
        out.push_str(&format!(
            "<h2>Round trips per call, and the latency model</h2><p>{}.</p>",
            escape(super::round_trips::CAPTION)
        ));
        out.push_str(&render_table(&t));
        out.push_str(
            "<p><b>A model, not a measurement:</b> each line is a backend's measured p50 plus \
             its counted round trips × the RTT.</p>",
        );
        out.push_str(&svg::against_rtt(
            "p50 against network RTT: a model (measured p50 + round trips × RTT), not a measurement",
            &super::round_trips::model_lines(results),
        ));
    }
    for v in table::verdicts(results) {
        out.push_str(&format!("<p><b>{}</b></p>", escape(&v)));
    }
    for e in table::error_notes(results) {
        out.push_str(&format!("<p class=\"warn\">⚠ {}</p>", escape(&e.line())));
    }
    out.push_str("<h2>Distributions per workload</h2>");
    for w in &results.settings.workloads {
        out.push_str(&workload_section(results, w));
    }
    out.push_str("</body></html>\n");
    out
}
