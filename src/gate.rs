//! `gate NEW --against BASE`: a regression check that survives a slower or busier machine. It
//! compares ratios between backends measured in the same run (each backend's overall p50
//! against the run's baseline backend), not absolute times: a machine twice as slow slows both
//! sides of a ratio alike, while a strategy that becomes slow again loses its speed-up.

use crate::results::{BenchmarkResults, Entry};
use crate::stats;

/// One backend's speed-up over its run's baseline backend, in both files.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioCheck {
    pub backend: String,
    pub baseline: String,
    /// Baseline p50 / backend p50, overall, in BASE and in NEW.
    pub base_ratio: f64,
    pub new_ratio: f64,
    /// Fraction of the speed-up lost (negative: gained).
    pub loss: f64,
    pub failed: bool,
}

/// The overall p50 (µs) of one backend: its workloads' histograms merged.
fn overall_p50(results: &BenchmarkResults, backend: &str, workloads: &[&str]) -> Option<f64> {
    let mut merged = stats::new_histogram();
    let entries: Vec<&Entry> = results
        .results
        .iter()
        .filter(|e| e.backend == backend && workloads.contains(&e.workload.as_str()))
        .collect();
    for e in entries {
        merged.add(stats::decode(&e.histogram).ok()?).ok()?;
    }
    stats::summarize(&merged).map(|s| s.p50)
}

/// Checks each non-baseline backend of NEW whose ratio BASE also has, over the workloads both
/// runs measured for both backends. `max_loss` is the fraction of speed-up that may be lost.
pub fn check(
    base: &BenchmarkResults,
    new: &BenchmarkResults,
    max_loss: f64,
) -> Result<Vec<RatioCheck>, String> {
    let baseline = &new.settings.baseline;
    if base.settings.baseline != *baseline {
        return Err(format!(
            "the runs have different baselines ({} in BASE, {baseline} in NEW): \
             run NEW with --baseline {}",
            base.settings.baseline, base.settings.baseline
        ));
    }
    let has = |r: &BenchmarkResults, b: &str, w: &str| {
        r.results.iter().any(|e| e.backend == b && e.workload == w)
    };
    let mut checks = Vec::new();
    for backend in new.settings.backends.iter().filter(|b| *b != baseline) {
        let workloads: Vec<&str> = new
            .settings
            .workloads
            .iter()
            .map(String::as_str)
            .filter(|w| {
                [base, new]
                    .iter()
                    .all(|r| has(r, backend, w) && has(r, baseline, w))
            })
            .collect();
        let ratio = |r: &BenchmarkResults| {
            Some(overall_p50(r, baseline, &workloads)? / overall_p50(r, backend, &workloads)?)
        };
        let (Some(base_ratio), Some(new_ratio)) = (ratio(base), ratio(new)) else {
            continue;
        };
        let loss = 1.0 - new_ratio / base_ratio;
        checks.push(RatioCheck {
            backend: backend.clone(),
            baseline: baseline.clone(),
            base_ratio,
            new_ratio,
            loss,
            failed: loss > max_loss,
        });
    }
    if checks.is_empty() {
        return Err(format!(
            "no backend besides the baseline {baseline} was measured in both runs: nothing to gate"
        ));
    }
    Ok(checks)
}
