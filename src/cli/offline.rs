//! Flags of the commands on saved results (`report`, `compare`, `gate`) and of `completions`,
//! checked and turned into typed options.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::bootstrap::Metric;
use crate::commands::offline::{CompareOptions, GateOptions, ReportFormat, ReportOptions};
use crate::error::usage;

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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MetricArg {
    P50,
    P95,
    P99,
    Mean,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompareFormatArg {
    Table,
    Markdown,
}

/// How the console report is drawn; shared by `run` and `report`.
#[derive(Args, Debug, Clone, Copy)]
pub struct DisplayArgs {
    /// Every column of the latency table (min, p90, p99.9, max, cold start, floor, exec time),
    /// however wide
    #[arg(long)]
    pub wide: bool,
    /// Each warning on its own line with its details, not one line per kind
    #[arg(short, long)]
    pub verbose: bool,
}

impl DisplayArgs {
    /// The view for the terminal this process writes to.
    pub fn view(self) -> crate::report::console::View {
        crate::report::console::View {
            wide: self.wide,
            verbose: self.verbose,
            width: crate::report::console::terminal_width(),
        }
    }
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
    #[command(flatten)]
    pub display: DisplayArgs,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The results file to compare against
    pub base: PathBuf,
    /// The results file to judge
    pub new: PathBuf,
    /// Change (in %) the whole confidence interval must clear to count as slower or faster
    #[arg(long, value_name = "PCT", default_value = "50")]
    pub threshold: String,
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

#[derive(Args, Debug)]
pub struct GateArgs {
    /// The results file to judge
    pub new: PathBuf,
    /// The results file whose speed-ups are the reference (e.g. results/baseline.json)
    #[arg(long, value_name = "BASE")]
    pub against: PathBuf,
    /// Share (in %) of a backend's p50 speed-up over the run's baseline backend it may lose
    #[arg(long, value_name = "PCT", default_value = "50")]
    pub max_loss: String,
}

fn percent(flag: &str, text: &str, max: f64) -> anyhow::Result<f64> {
    match text.trim().trim_end_matches('%').trim().parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=max).contains(&x) => Ok(x / 100.0),
        _ => Err(usage(format!(
            "{flag}: '{text}' is not a percentage from 0 to {max}"
        ))),
    }
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
        if format == ReportFormat::Table && self.output.is_some() {
            return Err(usage(
                "--output needs a --format other than table (tables go to stdout)",
            ));
        }
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
            threshold: percent("--threshold", &self.threshold, 1000.0)?,
            markdown: matches!(self.format, CompareFormatArg::Markdown),
            output: self.output,
            quiet: self.quiet,
        })
    }
}

impl GateArgs {
    pub fn options(self) -> anyhow::Result<GateOptions> {
        Ok(GateOptions {
            new: self.new,
            against: self.against,
            max_loss: percent("--max-loss", &self.max_loss, 100.0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_checked() {
        assert_eq!(percent("--threshold", "10", 1000.0).unwrap(), 0.1);
        assert_eq!(percent("--threshold", "2.5%", 1000.0).unwrap(), 0.025);
        for bad in ["-1", "abc", "1001", "NaN"] {
            let e = percent("--threshold", bad, 1000.0).unwrap_err().to_string();
            assert!(e.starts_with("--threshold: '"), "{e}");
        }
    }
}
