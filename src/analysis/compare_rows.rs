//! `compare BASE NEW`: each backend × workload of two results files, the change of one metric
//! with its bootstrap interval, and a verdict that knows about noise. A row is a regression only
//! when the whole interval lies beyond the threshold: a change inside the noise is not one. The
//! intervals are widened for the number of rows (Bonferroni), so the stated confidence holds for
//! the whole table, not for each row: fourteen rows at 95 % each would give a false alarm in
//! every second comparison of two identical builds. Whatever the latencies, a row NEW lost,
//! lost calls in, or has more failed calls in is a regression too (see `losses`).

use crate::analysis::bootstrap::{self, Change, Metric};
use crate::analysis::losses::{self, Loss, Tally};
use crate::bench::stats;
use crate::results::{BenchmarkResults, Entry};

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

/// One backend × workload of BASE, or of NEW only.
#[derive(Debug, Clone)]
pub struct Row {
    pub backend: String,
    pub workload: String,
    /// Successful calls (samples) in each run.
    pub base_calls: u64,
    pub new_calls: u64,
    /// Failed calls of any phase in each run: their latencies are in neither figure.
    pub base_errors: u64,
    pub new_errors: u64,
    /// `None` when either run has no successful call for it, or NEW lacks it.
    pub change: Option<Change>,
    pub verdict: Verdict,
    /// What NEW lost against BASE in this row; any loss is a regression.
    pub lost: Vec<Loss>,
}

impl Row {
    /// Slower beyond the threshold, or lost calls, samples or the row itself.
    pub fn regressed(&self) -> bool {
        self.verdict == Verdict::Slower || !self.lost.is_empty()
    }
}

/// A whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub options: Options,
    /// BASE's rows in NEW's order, then those NEW lacks in BASE's order.
    pub rows: Vec<Row>,
    /// `backend × workload` measured in NEW only: not compared, not a regression.
    pub only_in_new: Vec<String>,
    /// Confidence of each row's interval: the family confidence spread over the rows that
    /// have one.
    pub row_confidence: f64,
}

impl Comparison {
    /// Rows that fail the comparison: slower beyond the threshold with confidence, or lost.
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.regressed())
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

/// The entry of `r` for the same backend × workload as `e`.
fn find<'a>(r: &'a BenchmarkResults, e: &Entry) -> Option<&'a Entry> {
    r.results
        .iter()
        .find(|x| x.backend == e.backend && x.workload == e.workload)
}

fn tally(e: &Entry, samples: &[u64]) -> Tally {
    Tally {
        ok: samples.len() as u64,
        errors: e.all_errors() as u64,
        planned: e.planned_calls.map(|p| p as u64),
    }
}

/// Compares every backend × workload of BASE with NEW; `tick` is called after each row (for
/// a progress bar: large histograms take a while to resample).
pub fn compare(
    base: &BenchmarkResults,
    new: &BenchmarkResults,
    options: Options,
    tick: &mut dyn FnMut(usize, usize),
) -> Result<Comparison, String> {
    let key = |b: &str, w: &str| format!("{b} × {w}");
    let samples = |e: &Entry, which: &str| {
        stats::decode(&e.histogram)
            .map(|h| bootstrap::samples(&h))
            .map_err(|err| format!("{which} {}: {err}", key(&e.backend, &e.workload)))
    };
    let mut pairs = Vec::new();
    let mut only_in_new = Vec::new();
    for n in &new.results {
        match find(base, n) {
            Some(b) => pairs.push((b, samples(b, "BASE")?, n, samples(n, "NEW")?)),
            None => only_in_new.push(key(&n.backend, &n.workload)),
        }
    }
    // Bonferroni over the intervals actually drawn: rows where both runs have samples.
    let tested = pairs
        .iter()
        .filter(|(_, sb, _, sn)| !sb.is_empty() && !sn.is_empty())
        .count();
    let row_confidence = 1.0 - (1.0 - options.bootstrap.confidence) / tested.max(1) as f64;
    let settings = bootstrap::Settings {
        confidence: row_confidence,
        ..options.bootstrap
    };
    let mut rows = Vec::new();
    let total = base.results.len();
    for (b, sb, n, sn) in &pairs {
        let change = bootstrap::change(sb, sn, options.metric, settings);
        let (tb, tn) = (tally(b, sb), tally(n, sn));
        rows.push(Row {
            backend: n.backend.clone(),
            workload: n.workload.clone(),
            base_calls: tb.ok,
            new_calls: tn.ok,
            base_errors: tb.errors,
            new_errors: tn.errors,
            verdict: change.map_or(Verdict::NoChange, |c| verdict(&c, options.threshold)),
            change,
            lost: losses::losses(tb, Some(tn)),
        });
        tick(rows.len(), total);
    }
    for b in base.results.iter().filter(|b| find(new, b).is_none()) {
        let tb = tally(b, &samples(b, "BASE")?);
        rows.push(Row {
            backend: b.backend.clone(),
            workload: b.workload.clone(),
            base_calls: tb.ok,
            new_calls: 0,
            base_errors: tb.errors,
            new_errors: 0,
            change: None,
            verdict: Verdict::NoChange,
            lost: losses::losses(tb, None),
        });
        tick(rows.len(), total);
    }
    Ok(Comparison {
        options,
        rows,
        only_in_new,
        row_confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::synthetic::{Row as R, results, row};

    fn change(low: f64, high: f64) -> Change {
        Change {
            base: 1.0,
            new: 1.0,
            change: (low + high) / 2.0,
            low,
            high,
        }
    }

    /// `n` latencies around `center` µs, ±20 %, the same spread for every center.
    fn spread(center: u64, n: u64) -> Vec<u64> {
        (0..n)
            .map(|i| center * (80 + (i * 37) % 41) / 100)
            .collect()
    }

    fn spread_row<'a>(backend: &'a str, workload: &'a str, center: u64, n: u64) -> R<'a> {
        R {
            backend,
            workload,
            latencies_us: spread(center, n),
            errors: 0,
        }
    }

    fn options() -> Options {
        Options {
            metric: Metric::P50,
            threshold: 0.10,
            bootstrap: bootstrap::Settings::default(),
        }
    }

    fn run_compare(base: &BenchmarkResults, new: &BenchmarkResults) -> Comparison {
        compare(base, new, options(), &mut |_, _| {}).unwrap()
    }

    fn find<'a>(c: &'a Comparison, backend: &str, workload: &str) -> &'a Row {
        c.rows
            .iter()
            .find(|r| r.backend == backend && r.workload == workload)
            .unwrap_or_else(|| panic!("no row {backend} × {workload}: {c:?}"))
    }

    #[test]
    fn only_an_interval_beyond_the_threshold_is_a_verdict() {
        assert_eq!(verdict(&change(0.15, 0.40), 0.10), Verdict::Slower);
        assert_eq!(verdict(&change(0.05, 0.40), 0.10), Verdict::NoChange);
        assert_eq!(verdict(&change(-0.02, 0.03), 0.0), Verdict::NoChange);
        assert_eq!(verdict(&change(-0.50, -0.20), 0.10), Verdict::Faster);
        assert_eq!(verdict(&change(-0.50, -0.05), 0.10), Verdict::NoChange);
    }

    #[test]
    fn rows_are_paired_by_backend_and_workload_in_new_order() {
        let base = results(
            "a",
            &[
                spread_row("a", "w1", 1000, 30),
                spread_row("a", "w2", 2000, 40),
            ],
        );
        let new = results(
            "a",
            &[
                spread_row("a", "w2", 2000, 40),
                spread_row("a", "w1", 1000, 30),
            ],
        );
        let c = run_compare(&base, &new);
        let keys: Vec<_> = c.rows.iter().map(|r| r.workload.as_str()).collect();
        assert_eq!(keys, ["w2", "w1"]);
        let w1 = find(&c, "a", "w1");
        assert_eq!((w1.base_calls, w1.new_calls), (30, 30));
        let ch = w1.change.unwrap();
        assert_eq!((ch.base, ch.change), (ch.new, 0.0), "{ch:?}");
        assert_eq!(find(&c, "a", "w2").base_calls, 40);
        assert_eq!(c.regressions().count(), 0);
    }

    #[test]
    fn a_row_missing_in_new_regresses_and_a_row_new_only_does_not() {
        let base = results("a", &[row("a", "w1", 1000, 20), row("b", "w1", 50, 20)]);
        let new = results("a", &[row("a", "w1", 1000, 20), row("a", "w2", 900, 20)]);
        let c = run_compare(&base, &new);
        assert_eq!(c.rows.len(), 2, "{c:?}");
        let missing = find(&c, "b", "w1");
        assert_eq!(missing.lost, vec![Loss::Missing]);
        assert!(missing.regressed() && missing.change.is_none());
        assert_eq!((missing.base_calls, missing.new_calls), (20, 0));
        assert_eq!(c.only_in_new, vec!["a × w2".to_string()]);
        assert!(!find(&c, "a", "w1").regressed());
        assert_eq!(c.regressions().count(), 1);
    }

    #[test]
    fn a_new_run_whose_calls_all_failed_regresses() {
        let base = results("a", &[spread_row("a", "w", 1000, 50)]);
        let broken = R {
            backend: "a",
            workload: "w",
            latencies_us: vec![],
            errors: 53,
        };
        let c = run_compare(&base, &results("a", &[broken]));
        let r = &c.rows[0];
        assert_eq!((r.base_calls, r.new_calls), (50, 0));
        assert_eq!((r.base_errors, r.new_errors), (0, 53));
        assert_eq!(r.change, None);
        assert_eq!(r.verdict, Verdict::NoChange, "no latency to be slower with");
        assert_eq!(
            r.lost,
            vec![Loss::NoSamples, Loss::MoreErrors { base: 0, new: 53 }]
        );
        assert_eq!(c.regressions().count(), 1);
    }

    #[test]
    fn fewer_calls_or_more_errors_regress_at_unchanged_speed() {
        let base = results(
            "a",
            &[
                spread_row("a", "w1", 1000, 50),
                spread_row("a", "w2", 1000, 50),
            ],
        );
        let mut failing = spread_row("a", "w2", 1000, 50);
        failing.errors = 2;
        let new = results("a", &[spread_row("a", "w1", 1000, 47), failing]);
        let c = run_compare(&base, &new);
        let w1 = find(&c, "a", "w1");
        assert_eq!(w1.verdict, Verdict::NoChange);
        assert_eq!(w1.lost, vec![Loss::FewerCalls { base: 50, new: 47 }]);
        let w2 = find(&c, "a", "w2");
        assert_eq!(w2.verdict, Verdict::NoChange);
        assert_eq!(w2.lost, vec![Loss::MoreErrors { base: 0, new: 2 }]);
        assert_eq!(c.regressions().count(), 2);
    }

    #[test]
    fn each_speed_verdict_on_known_changes() {
        let base = results(
            "a",
            &[
                spread_row("a", "slower", 1000, 50),
                spread_row("a", "faster", 1000, 50),
                spread_row("a", "same", 1000, 50),
            ],
        );
        let new = results(
            "a",
            &[
                spread_row("a", "slower", 3000, 50),
                spread_row("a", "faster", 500, 50),
                spread_row("a", "same", 1020, 50),
            ],
        );
        let c = run_compare(&base, &new);
        let slower = find(&c, "a", "slower");
        assert_eq!(slower.verdict, Verdict::Slower);
        assert!(slower.regressed() && slower.lost.is_empty());
        let ch = slower.change.unwrap();
        assert!((ch.change - 2.0).abs() < 0.01, "{ch:?}");
        let faster = find(&c, "a", "faster");
        assert_eq!(faster.verdict, Verdict::Faster);
        assert!(!faster.regressed());
        let same = find(&c, "a", "same");
        assert_eq!(same.verdict, Verdict::NoChange);
        let ch = same.change.unwrap();
        assert!(
            ch.change > 0.0 && ch.low < 0.10,
            "+2 %, within the noise: {ch:?}"
        );
        assert_eq!(c.regressions().count(), 1);
    }

    #[test]
    fn more_rows_widen_each_rows_interval() {
        let one = [spread_row("a", "w0", 1000, 30)];
        let one_new = [spread_row("a", "w0", 1100, 30)];
        let c1 = run_compare(&results("a", &one), &results("a", &one_new));
        assert!((c1.row_confidence - 0.95).abs() < 1e-12);
        let names = ["w0", "w1", "w2", "w3", "w4"];
        let many: Vec<R> = names.iter().map(|w| spread_row("a", w, 1000, 30)).collect();
        let many_new: Vec<R> = names.iter().map(|w| spread_row("a", w, 1100, 30)).collect();
        let c5 = run_compare(&results("a", &many), &results("a", &many_new));
        assert!(
            (c5.row_confidence - 0.99).abs() < 1e-12,
            "{}",
            c5.row_confidence
        );
        let (i1, i5) = (
            c1.rows[0].change.unwrap(),
            find(&c5, "a", "w0").change.unwrap(),
        );
        assert_eq!(i1.change, i5.change);
        assert!(i5.low < i1.low && i5.high > i1.high, "{i1:?} {i5:?}");
        // A row without samples draws no interval and does not widen the others.
        let mut with_empty = one.to_vec();
        with_empty.push(R {
            backend: "a",
            workload: "dead",
            latencies_us: vec![],
            errors: 0,
        });
        let c = run_compare(&results("a", &with_empty), &results("a", &one_new));
        assert!((c.row_confidence - 0.95).abs() < 1e-12);
    }
}
