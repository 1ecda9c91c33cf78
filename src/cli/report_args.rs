//! Flags of `report`, checked and turned into `ReportOptions`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::display_args::DisplayArgs;
use crate::commands::report::{ReportFormat, ReportOptions};

/// Formats `report` writes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Table,
    Markdown,
    Json,
    Html,
    /// github-action-benchmark's customSmallerIsBetter JSON (p50 per row, µs)
    GithubBenchmark,
    /// Bencher Metric Format (latency in ns with bootstrap bounds, throughput)
    Bmf,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A results file written by `sandbox-bench run`
    pub file: PathBuf,
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: FormatArg,
    /// Write to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write each histogram's percentile distribution (.hgrm, values in ms) into DIR
    #[arg(long, value_name = "DIR")]
    pub export_hgrm: Option<PathBuf>,
    /// No notices on stderr
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub display: DisplayArgs,
}

impl ReportArgs {
    pub fn options(self) -> anyhow::Result<ReportOptions> {
        let format = match self.format {
            FormatArg::Table => ReportFormat::Table,
            FormatArg::Markdown => ReportFormat::Markdown,
            FormatArg::Json => ReportFormat::Json,
            FormatArg::Html => ReportFormat::Html,
            FormatArg::GithubBenchmark => ReportFormat::GithubBenchmark,
            FormatArg::Bmf => ReportFormat::Bmf,
        };
        Ok(ReportOptions {
            file: self.file,
            format,
            output: self.output,
            export_hgrm: self.export_hgrm,
            quiet: self.quiet,
            view: self.display.view(),
        })
    }
}
