//! `sandbox-bench report FILE`: re-render a saved results file as console tables, Markdown,
//! JSON or a self-contained HTML page, and optionally export its histograms as .hgrm files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{emit, read_results};
use crate::bench::stats;
use crate::error::usage;
use crate::report::console::{self, View};
use crate::report::{bmf, github_benchmark, hgrm, html, json, markdown};
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

/// `sandbox-bench report FILE`.
pub fn report(opts: ReportOptions) -> Result<ExitCode> {
    let results = read_results(&opts.file)?;
    let bytes = match opts.format {
        ReportFormat::Table => console::render(&results, opts.view).into_bytes(),
        ReportFormat::Markdown => markdown::render(&results).into_bytes(),
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
