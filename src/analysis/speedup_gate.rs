//! `gate NEW --against BASE`: a regression check that survives a slower or busier machine. It
//! compares ratios between backends measured in the same run (each backend's overall p50
//! against the run's baseline backend), not absolute times: a machine twice as slow slows both
//! sides of a ratio alike, while a strategy that becomes slow again loses its speed-up.

use crate::bench::stats;
use crate::results::{BenchmarkResults, Entry};

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A results file of two backends on one workload, each at a fixed latency (µs).
    fn run(baseline_us: u64, persistent_us: u64, baseline: &str) -> BenchmarkResults {
        let entry = |backend: &str, us: u64| {
            let mut h = stats::new_histogram();
            h.record_n(us * 1000, 20).unwrap();
            serde_json::json!({
                "backend": backend, "workload": "w", "calls": 20, "errors": 0,
                "warmup_errors": 0, "errors_by_kind": {}, "error_samples": [],
                "latency_us": null, "exec_us": null, "throughput_per_s": 1.0, "elapsed_s": 1.0,
                "cold_start_us": null, "restarts": 0, "histogram": stats::encode(&h)
            })
        };
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "tool": {"name": "t", "version": "0"},
            "started_at": "", "finished_at": "", "complete": true,
            "host": {"cpus": 2, "os": "", "kernel": "", "arch": ""}, "versions": {},
            "settings": {"backends": ["compose:per-call", "compose:persistent"],
                "baseline": baseline, "workloads": ["w"], "calls_scale": 1.0, "warmup": 2,
                "timeout_s": 30.0, "compose_file": null, "service": null, "order": "sequential"},
            "histogram_encoding": "", "results": [
                entry("compose:per-call", baseline_us), entry("compose:persistent", persistent_us)]
        }))
        .unwrap()
    }

    #[test]
    fn a_slower_machine_keeps_the_ratio_and_passes() {
        let base = run(200_000, 400, "compose:per-call");
        let twice_as_slow = run(400_000, 800, "compose:per-call");
        let checks = check(&base, &twice_as_slow, 0.5).unwrap();
        assert_eq!(checks.len(), 1);
        assert!(
            !checks[0].failed && checks[0].loss.abs() < 0.01,
            "{checks:?}"
        );
    }

    #[test]
    fn a_persistent_path_made_slow_fails() {
        let base = run(200_000, 400, "compose:per-call");
        let slowed = run(200_000, 1_400, "compose:per-call");
        let c = &check(&base, &slowed, 0.5).unwrap()[0];
        assert!(c.failed, "{c:?}");
        assert!((c.base_ratio / c.new_ratio - 3.5).abs() < 0.05, "{c:?}");
    }

    #[test]
    fn different_baselines_are_refused() {
        let base = run(200_000, 400, "compose:per-call");
        let other = run(200_000, 400, "compose:persistent");
        assert!(
            check(&base, &other, 0.5)
                .unwrap_err()
                .contains("--baseline")
        );
    }
}
