//! Flags of `compare`, checked and turned into `CompareOptions`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::values;
use crate::analysis::bootstrap::Metric;
use crate::commands::compare::CompareOptions;

/// The figure compared in each row.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MetricArg {
    P50,
    P95,
    P99,
    Mean,
}

/// Formats `compare` writes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompareFormatArg {
    Table,
    Markdown,
}

/// The change a row must clear, from 0 to 1000 %, as a fraction.
fn threshold(text: &str) -> Result<f64, String> {
    values::percentage(text, 1000.0)
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The results file to compare against
    pub base: PathBuf,
    /// The results file to judge
    pub new: PathBuf,
    /// Change (in %) the whole confidence interval must clear to count as slower or faster
    #[arg(long, value_name = "PCT", default_value = "50", value_parser = threshold)]
    pub threshold: f64,
    /// Figure compared in each row
    #[arg(long, value_enum, default_value = "p50")]
    pub metric: MetricArg,
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: CompareFormatArg,
    /// Write to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

impl CompareArgs {
    pub fn options(self) -> anyhow::Result<CompareOptions> {
        Ok(CompareOptions {
            base: self.base,
            new: self.new,
            metric: match self.metric {
                MetricArg::P50 => Metric::P50,
                MetricArg::P95 => Metric::P95,
                MetricArg::P99 => Metric::P99,
                MetricArg::Mean => Metric::Mean,
            },
            threshold: self.threshold,
            markdown: matches!(self.format, CompareFormatArg::Markdown),
            output: self.output,
            quiet: self.quiet,
        })
    }
}
