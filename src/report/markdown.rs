//! Markdown: the console tables as GitHub-flavoured Markdown, ready for a pull-request comment
//! or `$GITHUB_STEP_SUMMARY`. The tables are taken from the console renderer, so a column added
//! there appears here too.

use comfy_table::Table;

use super::{mcp_layer, table};
use crate::results::BenchmarkResults;

/// The header and rows of a console table, as plain cell texts.
pub fn cells(table: &Table) -> (Vec<String>, Vec<Vec<String>>) {
    let header = table
        .header()
        .map(|h| h.cell_iter().map(|c| c.content()).collect())
        .unwrap_or_default();
    let rows = table
        .row_iter()
        .map(|r| r.cell_iter().map(|c| c.content()).collect())
        .collect();
    (header, rows)
}

/// A Markdown table; the first `text_columns` columns are left-aligned, the rest (figures) right.
pub fn grid(header: &[String], rows: &[Vec<String>], text_columns: usize) -> String {
    let escape = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    out.push_str(&format!(
        "| {} |\n",
        header
            .iter()
            .map(|h| escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    let rule: Vec<&str> = (0..header.len())
        .map(|i| if i < text_columns { "---" } else { "---:" })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| escape(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

fn from_table(table: &Table) -> String {
    let (header, rows) = cells(table);
    grid(&header, &rows, 2)
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
    out.push_str(&from_table(&table::latency_table(results)));
    if let Some(comparison) = table::comparison_table(results) {
        out.push_str(&format!(
            "\n### Against the baseline, `{}`\n\n",
            results.settings.baseline
        ));
        out.push_str(&from_table(&comparison));
    }
    if let Some(layers) = mcp_layer::layer_table(results) {
        out.push_str(
            "\n### The MCP layer\n\nEach MCP server's latency minus the executor its tool runs \
             on, both measured in this run.\n\n",
        );
        let (header, rows) = cells(&layers);
        out.push_str(&grid(&header, &rows, 3));
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
            out.push_str(&format!("- ⚠ {e}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_aligns_figures_right_and_escapes_pipes() {
        let header = vec!["Backend".to_string(), "p50".to_string()];
        let rows = vec![vec!["a|b".to_string(), "1.27 ms".to_string()]];
        assert_eq!(
            grid(&header, &rows, 1),
            "| Backend | p50 |\n|---|---:|\n| a\\|b | 1.27 ms |\n"
        );
    }
}
