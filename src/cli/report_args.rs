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
    /// Check the latency model: FILE is a run with --added-rtt, BASE the same backends
    /// counted without it; prints each row's predicted p50 (BASE's p50 + round trips × the
    /// added RTT) against the measured one, and the model's error in %
    #[arg(long, value_name = "BASE")]
    pub model_from: Option<PathBuf>,
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
        if self.model_from.is_some()
            && !matches!(
                format,
                ReportFormat::Table | ReportFormat::Markdown | ReportFormat::Html
            )
        {
            return Err(crate::error::usage(
                "--model-from: the model's check is drawn in the table, markdown and html formats only",
            ));
        }
        Ok(ReportOptions {
            model_from: self.model_from,
            file: self.file,
            format,
            output: self.output,
            export_hgrm: self.export_hgrm,
            quiet: self.quiet,
            view: self.display.view(),
        })
    }
}
