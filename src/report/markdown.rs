//! Markdown: the console tables as GitHub-flavoured Markdown, ready for a pull-request comment
//! or `$GITHUB_STEP_SUMMARY`. The tables are the console's (the same model, drawn here), so a
//! column added there appears here too.

use super::model::{Align, Table};
use super::{mcp_layer, table};
use crate::results::BenchmarkResults;

/// A table as a Markdown table: text columns left-aligned, figures right.
pub fn render_table(t: &Table) -> String {
    let escape = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = line(t.headers().map(escape).collect());
    let rule: Vec<&str> = t
        .columns
        .iter()
        .map(|c| match c.align {
            Align::Left => "---",
            Align::Right => "---:",
        })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in &t.rows {
        out.push_str(&line(
            (0..t.columns.len())
                .map(|i| escape(row.cells.get(i).map_or("", |c| c.text.as_str())))
                .collect(),
        ));
    }
    out
}

/// The whole report of one results file.
pub fn render(results: &BenchmarkResults) -> String {
    let mut out = String::from("## sandbox-bench results\n\n");
    out.push_str(&format!(
        "{} · {} cpus · {} · started {}{}\n\n",
        results.header.host.os,
        results.header.host.cpus,
        results
            .versions
            .docker
            .as_deref()
            .map_or_else(|| "no Docker".to_string(), |d| format!("Docker {d}")),
        results.header.started_at,
        if results.complete {
            ""
        } else {
            " · **incomplete (interrupted)**"
        }
    ));
    out.push_str("### Latency per backend × workload\n\n");
    out.push_str(&render_table(&table::latency_table(results)));
    if let Some(comparison) = table::comparison_table(results) {
        out.push_str(&format!(
            "\n### Against the baseline, `{}`\n\n",
            results.settings.baseline
        ));
        out.push_str(&render_table(&comparison));
    }
    if let Some(layers) = mcp_layer::layer_table(results) {
        out.push_str(
            "\n### The MCP layer\n\nEach MCP server's latency minus the executor its tool runs \
             on, both measured in this run.\n\n",
        );
        out.push_str(&render_table(&layers));
    }
    if let Some(t) = super::round_trips::round_trip_table(results) {
        out.push_str(&format!(
            "\n### Round trips per call, and the latency model\n\n{}.\n\n",
            super::round_trips::CAPTION
        ));
        out.push_str(&render_table(&t));
    }
    let verdicts = table::verdicts(results);
    if !verdicts.is_empty() {
        out.push('\n');
        for v in verdicts {
            out.push_str(&format!("- {v}\n"));
        }
    }
    let errors = table::error_notes(results);
    if !errors.is_empty() {
        out.push_str("\n### Errors\n\n");
        for e in errors {
            out.push_str(&format!("- ⚠ {}\n", e.line()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_figures_right_and_escape_pipes() {
        let mut t = Table::with_headers(&["Backend", "p50"], 1);
        t.push(["a|b", "1.27 ms"]);
        assert_eq!(
            render_table(&t),
            "| Backend | p50 |\n|---|---:|\n| a\\|b | 1.27 ms |\n"
        );
    }
}
