//! `compare BASE NEW`: each backend × workload of two results files, the change of one metric
//! with its bootstrap interval, and a verdict that knows about noise. A row is a regression only
//! when the whole interval lies beyond the threshold: a change inside the noise is not one. The
//! intervals are widened for the number of rows (Bonferroni), so the stated confidence holds for
//! the whole table, not for each row: fourteen rows at 95 % each would give a false alarm in
//! every second comparison of two identical builds.

use crate::analysis::bootstrap::{self, Change, Metric};
use crate::bench::stats;
use crate::results::BenchmarkResults;

/// What a comparison found for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Faster,
    Slower,
    NoChange,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::NoChange => "no significant change",
        }
    }
}

/// How to compare.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub metric: Metric,
    /// Relative change (0.10 = 10 %) the interval must clear to count.
    pub threshold: f64,
    pub bootstrap: bootstrap::Settings,
}

/// One backend × workload present in both files.
#[derive(Debug, Clone)]
pub struct Row {
    pub backend: String,
    pub workload: String,
    pub base_calls: u64,
    pub new_calls: u64,
    /// Failed calls in either run: their latencies are in neither figure.
    pub errors: usize,
    /// `None` when either run has no successful call for it.
    pub change: Option<Change>,
    pub verdict: Verdict,
}

/// A whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub options: Options,
    pub rows: Vec<Row>,
    /// `backend × workload` measured in only one of the files.
    pub only_in_base: Vec<String>,
    pub only_in_new: Vec<String>,
    /// Confidence of each row's interval: the family confidence spread over the rows.
    pub row_confidence: f64,
}

impl Comparison {
    /// Rows whose slowdown clears the threshold with confidence: each one fails the gate.
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.verdict == Verdict::Slower)
    }
}

/// The verdict on a change at `threshold`: only an interval wholly beyond it counts.
pub fn verdict(change: &Change, threshold: f64) -> Verdict {
    if change.low > threshold {
        Verdict::Slower
    } else if change.high < -threshold {
        Verdict::Faster
    } else {
        Verdict::NoChange
    }
}

/// Compares every backend × workload the two files share, in NEW's order; `tick` is called
/// after each row (for a progress bar: large histograms take a while to resample).
pub fn compare(
    base: &BenchmarkResults,
    new: &BenchmarkResults,
    options: Options,
    tick: &mut dyn FnMut(usize, usize),
) -> Result<Comparison, String> {
    let key = |b: &str, w: &str| format!("{b} × {w}");
    let mut pairs = Vec::new();
    let mut only_in_new = Vec::new();
    for n in &new.results {
        match base
            .results
            .iter()
            .find(|b| b.backend == n.backend && b.workload == n.workload)
        {
            Some(b) => pairs.push((b, n)),
            None => only_in_new.push(key(&n.backend, &n.workload)),
        }
    }
    let row_confidence = 1.0 - (1.0 - options.bootstrap.confidence) / pairs.len().max(1) as f64;
    let settings = bootstrap::Settings {
        confidence: row_confidence,
        ..options.bootstrap
    };
    let mut rows = Vec::new();
    let total = pairs.len();
    for (b, n) in pairs {
        let histogram = |text: &str, which: &str| {
            stats::decode(text)
                .map_err(|e| format!("{which} {}: {e}", key(&n.backend, &n.workload)))
        };
        let (hb, hn) = (
            histogram(&b.histogram, "BASE")?,
            histogram(&n.histogram, "NEW")?,
        );
        let (sb, sn) = (bootstrap::samples(&hb), bootstrap::samples(&hn));
        let change = bootstrap::change(&sb, &sn, options.metric, settings);
        rows.push(Row {
            backend: n.backend.clone(),
            workload: n.workload.clone(),
            base_calls: hb.len(),
            new_calls: hn.len(),
            errors: b.all_errors() + n.all_errors(),
            verdict: change.map_or(Verdict::NoChange, |c| verdict(&c, options.threshold)),
            change,
        });
        tick(rows.len(), total);
    }
    let only_in_base = base
        .results
        .iter()
        .filter(|b| {
            !new.results
                .iter()
                .any(|n| n.backend == b.backend && n.workload == b.workload)
        })
        .map(|b| key(&b.backend, &b.workload))
        .collect();
    Ok(Comparison {
        options,
        rows,
        only_in_base,
        only_in_new,
        row_confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(low: f64, high: f64) -> Change {
        Change {
            base: 1.0,
            new: 1.0,
            change: (low + high) / 2.0,
            low,
            high,
        }
    }

    #[test]
    fn only_an_interval_beyond_the_threshold_is_a_verdict() {
        assert_eq!(verdict(&change(0.15, 0.40), 0.10), Verdict::Slower);
        assert_eq!(verdict(&change(0.05, 0.40), 0.10), Verdict::NoChange);
        assert_eq!(verdict(&change(-0.02, 0.03), 0.0), Verdict::NoChange);
        assert_eq!(verdict(&change(-0.50, -0.20), 0.10), Verdict::Faster);
        assert_eq!(verdict(&change(-0.50, -0.05), 0.10), Verdict::NoChange);
    }
}
