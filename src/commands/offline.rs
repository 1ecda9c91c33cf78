//! The commands that work on saved results files: `report`, `compare` and `gate`. Renderers
//! turn results into bytes; every file is written here, atomically.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::bootstrap::{self, Metric};
use crate::compare::{self, Comparison};
use crate::error::usage;
use crate::load;
use crate::report::console::View;
use crate::report::{bmf, comparison, github_benchmark, hgrm, html, json, markdown};
use crate::results::{BenchmarkResults, write_atomically};
use crate::{gate, stats};

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

/// Options of `sandbox-bench compare`, already checked.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub base: PathBuf,
    pub new: PathBuf,
    pub metric: Metric,
    pub threshold: f64,
    pub markdown: bool,
    pub output: Option<PathBuf>,
    pub quiet: bool,
}

/// Options of `sandbox-bench gate`, already checked.
#[derive(Debug, Clone)]
pub struct GateOptions {
    pub new: PathBuf,
    pub against: PathBuf,
    pub max_loss: f64,
}

/// A bar on stderr for work that may take more than a second (resampling large histograms);
/// drawn only on a terminal, never with `--quiet`. It has no colours, so `NO_COLOR` holds.
fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} rows resampled")
    {
        bar.set_style(style);
    }
    bar
}

fn read(path: &Path) -> Result<BenchmarkResults> {
    load::load(path).map_err(|e| usage(e.to_string()))
}

/// Colours only on a terminal, never with `NO_COLOR` set.
pub fn colour_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `bytes` to `output` atomically, or to stdout without one.
fn emit(bytes: &[u8], output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => write_atomically(path, bytes)
            .map_err(|e| usage(format!("cannot write '{}': {e}", path.display()))),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .context("cannot write to stdout")
        }
    }
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
    let results = read(&opts.file)?;
    let bytes = match opts.format {
        ReportFormat::Table => {
            super::print_report(&results, opts.view);
            None
        }
        ReportFormat::Markdown => Some(markdown::render(&results).into_bytes()),
        ReportFormat::Json => Some(json::render(&results).context("cannot encode the results")?),
        ReportFormat::Html => Some(html::render(&results).into_bytes()),
        ReportFormat::GithubBenchmark => Some(github_benchmark::render(&results).into_bytes()),
        ReportFormat::Bmf => Some(bmf::render(&results).into_bytes()),
    };
    if let Some(bytes) = bytes {
        emit(&bytes, opts.output.as_deref())?;
    }
    if let Some(dir) = &opts.export_hgrm {
        let n = export_hgrm(&results, dir)?;
        if !opts.quiet {
            eprintln!("wrote {n} .hgrm files (values in ms) to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sandbox-bench compare BASE NEW`: exit 1 when a row regressed beyond the threshold.
pub fn compare(opts: CompareOptions) -> Result<ExitCode> {
    let (base, new) = (read(&opts.base)?, read(&opts.new)?);
    let options = compare::Options {
        metric: opts.metric,
        threshold: opts.threshold,
        bootstrap: bootstrap::Settings::default(),
    };
    let bar = progress_bar(opts.quiet);
    let mut tick = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let c: Comparison =
        compare::compare(&base, &new, options, &mut tick).map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    if c.rows.is_empty() {
        return Err(usage(format!(
            "'{}' and '{}' share no backend × workload: nothing to compare",
            opts.base.display(),
            opts.new.display()
        )));
    }
    let text = if opts.markdown {
        comparison::markdown(&c)
    } else {
        let mut t = format!(
            "{} → {}\n{}\n{}\n",
            opts.base.display(),
            opts.new.display(),
            comparison::console(&c, colour_wanted() && opts.output.is_none()),
            comparison::method(&c)
        );
        for n in comparison::notes(&c) {
            t.push_str(&n);
            t.push('\n');
        }
        t
    };
    emit(text.as_bytes(), opts.output.as_deref())?;
    let regressed = c.regressions().count();
    if regressed > 0 {
        eprintln!(
            "error: {regressed} rows are slower beyond ±{:.1} % ({})",
            opts.threshold * 100.0,
            opts.metric.name()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `sandbox-bench gate NEW --against BASE`: exit 1 when a backend lost too much of its
/// speed-up over the run's baseline backend.
pub fn gate(opts: GateOptions) -> Result<ExitCode> {
    let (base, new) = (read(&opts.against)?, read(&opts.new)?);
    let checks = gate::check(&base, &new, opts.max_loss).map_err(usage)?;
    let mut failed = false;
    for c in &checks {
        failed |= c.failed;
        let change = if c.loss >= 0.0 {
            format!("{:.1} % of it lost", c.loss * 100.0)
        } else {
            format!("{:.1} % gained", -c.loss * 100.0)
        };
        println!(
            "{} {}: p50 speed-up over {} {} in the baseline, {} now ({change}; at most {:.0} % may be lost)",
            if c.failed { "FAIL" } else { "ok  " },
            c.backend,
            c.baseline,
            crate::report::format_ratio(c.base_ratio),
            crate::report::format_ratio(c.new_ratio),
            opts.max_loss * 100.0
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
