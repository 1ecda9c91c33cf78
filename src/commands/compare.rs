//! `sandbox-bench compare BASE NEW`: two results files row by row, with bootstrap intervals
//! from their histograms; exit 1 when a row is slower beyond the threshold, or NEW lost calls,
//! samples or the row itself.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::{colour_wanted, emit, read_results};
use crate::analysis::bootstrap::{self, Metric};
use crate::analysis::compare_rows::{self as compare, Comparison};
use crate::error::usage;
use crate::report::comparison;

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

/// `sandbox-bench compare BASE NEW`: exit 1 when a row is slower beyond the threshold, or NEW
/// lost calls, samples or the row itself.
pub fn compare(opts: CompareOptions) -> Result<ExitCode> {
    let (base, new) = (read_results(&opts.base)?, read_results(&opts.new)?);
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
            "'{}' has no backend × workload: nothing to compare against",
            opts.base.display()
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
    if c.regressions().next().is_some() {
        eprintln!("error: {}", comparison::summary(&c));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
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
