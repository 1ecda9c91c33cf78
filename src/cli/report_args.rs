//! Flags of `report`, checked and turned into `ReportOptions`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::commands::report::{ReportFormat, ReportOptions};
use crate::error::usage;

/// Formats `report` writes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Table,
    Markdown,
    Json,
    Html,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A results file written by `sandbox-bench run`
    pub file: PathBuf,
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: FormatArg,
    /// Write to FILE (atomically) instead of stdout; not with --format table
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write each histogram's percentile distribution (.hgrm, values in ms) into DIR
    #[arg(long, value_name = "DIR")]
    pub export_hgrm: Option<PathBuf>,
    /// No notices on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

impl ReportArgs {
    pub fn options(self) -> anyhow::Result<ReportOptions> {
        let format = match self.format {
            FormatArg::Table => ReportFormat::Table,
            FormatArg::Markdown => ReportFormat::Markdown,
            FormatArg::Json => ReportFormat::Json,
            FormatArg::Html => ReportFormat::Html,
        };
        if format == ReportFormat::Table && self.output.is_some() {
            return Err(usage(
                "--output needs --format markdown, json or html (tables go to stdout)",
            ));
        }
        Ok(ReportOptions {
            file: self.file,
            format,
            output: self.output,
            export_hgrm: self.export_hgrm,
            quiet: self.quiet,
        })
    }
}
