//! `sandbox-bench report FILE`: re-render a saved results file as console tables, Markdown,
//! JSON or a self-contained HTML page, and optionally export its histograms as .hgrm files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{emit, read_results};
use crate::bench::stats;
use crate::error::usage;
use crate::report::console::{self, View};
use crate::report::{bmf, github_benchmark, grid, hgrm, html, json, markdown, round_trips};
use crate::results::{BenchmarkResults, write_atomically};

/// Output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Markdown,
    Json,
    Html,
    GithubBenchmark,
    Bmf,
}

/// Options of `sandbox-bench report`, already checked.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub file: PathBuf,
    pub format: ReportFormat,
    pub output: Option<PathBuf>,
    pub export_hgrm: Option<PathBuf>,
    /// A run without added delay whose model the file's delayed run checks.
    pub model_from: Option<PathBuf>,
    pub quiet: bool,
    pub view: View,
}

/// Writes one `.hgrm` file per backend × workload into `dir`; returns how many.
pub fn export_hgrm(results: &BenchmarkResults, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).map_err(|e| {
        usage(format!(
            "--export-hgrm: cannot create '{}': {e}",
            dir.display()
        ))
    })?;
    for e in &results.results {
        let h = stats::decode(&e.histogram)
            .map_err(|m| anyhow::anyhow!("{} × {}: {m}", e.backend, e.workload))?;
        let path = dir.join(hgrm::file_name(&e.backend, &e.workload));
        write_atomically(&path, hgrm::render(&h).as_bytes()).map_err(|err| {
            usage(format!(
                "--export-hgrm: cannot write '{}': {err}",
                path.display()
            ))
        })?;
    }
    Ok(results.results.len())
}

/// The model's check: `delayed` must be a counted run with an added RTT, `base` a counted run
/// without one. Its caption and table.
fn model_check(
    base: &BenchmarkResults,
    base_path: &Path,
    delayed: &BenchmarkResults,
) -> Result<(String, crate::report::model::Table)> {
    let added = match delayed.settings.round_trips {
        Some(r) if r.added_rtt_ms > 0.0 => r.added_rtt_ms,
        _ => {
            return Err(usage(
                "--model-from: the file to report has no added RTT: make it with run --count-round-trips --added-rtt MS",
            ));
        }
    };
    if base
        .settings
        .round_trips
        .is_none_or(|r| r.added_rtt_ms > 0.0)
    {
        return Err(usage(format!(
            "--model-from {}: not a run that counted round trips without added delay (run --count-round-trips)",
            base_path.display()
        )));
    }
    let table = round_trips::model_check_table(base, delayed)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            usage(format!(
                "--model-from {}: no backend × workload of it was measured in both runs",
                base_path.display()
            ))
        })?;
    let caption = format!(
        "The model against a real delay: p50 predicted from {} (its p50 + round trips × {added} ms) \
         against the p50 measured with each round trip held {added} ms in the relay; error = \
         (predicted − measured) / measured",
        base_path.display()
    );
    Ok((caption, table))
}

/// `sandbox-bench report FILE`.
pub fn report(opts: ReportOptions) -> Result<ExitCode> {
    let results = read_results(&opts.file)?;
    let check = match &opts.model_from {
        Some(base) => Some(model_check(&read_results(base)?, base, &results)?),
        None => None,
    };
    let bytes = match opts.format {
        ReportFormat::Table => {
            let mut text = console::render(&results, opts.view);
            if let Some((caption, table)) = &check {
                text.push_str(&format!(
                    "\n{}\n{}",
                    grid::wrap(caption, opts.view.width.min(120), "  "),
                    grid::render(table, None).text
                ));
            }
            text.into_bytes()
        }
        ReportFormat::Markdown => {
            let mut text = markdown::render(&results);
            if let Some((caption, table)) = &check {
                text.push_str(&format!(
                    "\n### The model against a real delay\n\n{caption}\n\n{}",
                    markdown::render_table(table)
                ));
            }
            text.into_bytes()
        }
        ReportFormat::Html if check.is_some() => {
            let page = html::render(&results);
            let (caption, table) = check.as_ref().expect("checked above");
            let section = format!(
                "<h2>The model against a real delay</h2><p>{}</p>{}</body>",
                caption.replace('&', "&amp;").replace('<', "&lt;"),
                html::render_table(table)
            );
            page.replacen("</body>", &section, 1).into_bytes()
        }
        ReportFormat::Json => json::render(&results).context("cannot encode the results")?,
        ReportFormat::Html => html::render(&results).into_bytes(),
        ReportFormat::GithubBenchmark => github_benchmark::render(&results).into_bytes(),
        ReportFormat::Bmf => bmf::render(&results).into_bytes(),
    };
    emit(&bytes, opts.output.as_deref())?;
    if let Some(dir) = &opts.export_hgrm {
        let n = export_hgrm(&results, dir)?;
        if !opts.quiet {
            eprintln!("wrote {n} .hgrm files (values in ms) to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
