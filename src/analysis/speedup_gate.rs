//! `gate NEW --against BASE`: a regression check that survives a slower or busier machine. It
//! compares ratios between backends measured in the same run (each backend's overall p50
//! against the run's baseline backend), not absolute times: a machine twice as slow slows both
//! sides of a ratio alike, while a strategy that becomes slow again loses its speed-up. A
//! backend NEW no longer measures, or whose calls now fail, fails the gate whatever its speed.

use crate::analysis::losses::{self, Loss, Tally};
use crate::bench::stats;
use crate::results::{BenchmarkResults, Entry};

/// One backend's speed-up over the baseline backend, in BASE and in NEW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratios {
    /// Baseline p50 / backend p50, overall.
    pub base: f64,
    pub new: f64,
    /// Fraction of the speed-up lost (negative: gained).
    pub loss: f64,
}

/// The verdict on one backend of BASE.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioCheck {
    pub backend: String,
    pub baseline: String,
    /// `None` for the baseline itself, or where either run has no sample of the pair.
    pub ratios: Option<Ratios>,
    /// What NEW lost of this backend's calls; any loss fails the gate.
    pub lost: Vec<Loss>,
    pub failed: bool,
}

impl RatioCheck {
    pub fn is_baseline(&self) -> bool {
        self.backend == self.baseline
    }
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

/// The calls of `backend` over `workloads` in `r`; `None` when `r` has no entry of it.
fn tally(r: &BenchmarkResults, backend: &str, workloads: &[&str]) -> Option<Tally> {
    let entries: Vec<&Entry> = r
        .results
        .iter()
        .filter(|e| e.backend == backend && workloads.contains(&e.workload.as_str()))
        .collect();
    (!entries.is_empty()).then(|| Tally {
        ok: entries
            .iter()
            .map(|e| e.calls.saturating_sub(e.errors) as u64)
            .sum(),
        errors: entries.iter().map(|e| e.all_errors() as u64).sum(),
        planned: entries
            .iter()
            .map(|e| e.planned_calls.map(|p| p as u64))
            .sum(),
    })
}

/// Checks each backend of BASE in NEW: its speed-up over the baseline backend, over the
/// workloads both runs measured for both, may lose at most `max_loss`; and NEW may lose none
/// of its calls (the baseline's included), nor the backend itself.
pub fn check(
    base: &BenchmarkResults,
    new: &BenchmarkResults,
    max_loss: f64,
) -> Result<Vec<RatioCheck>, String> {
    let baseline = &base.settings.baseline;
    if new.settings.baseline != *baseline {
        return Err(format!(
            "the runs have different baselines ({baseline} in BASE, {} in NEW): \
             run NEW with --baseline {baseline}",
            new.settings.baseline
        ));
    }
    let mut backends: Vec<&str> = Vec::new();
    for e in &base.results {
        if !backends.contains(&e.backend.as_str()) {
            backends.push(&e.backend);
        }
    }
    if !backends.iter().any(|b| b != baseline) {
        return Err(format!(
            "BASE has no backend besides the baseline {baseline}: nothing to gate"
        ));
    }
    let has = |r: &BenchmarkResults, b: &str, w: &str| {
        r.results.iter().any(|e| e.backend == b && e.workload == w)
    };
    let mut checks = Vec::new();
    for backend in backends {
        let workloads: Vec<&str> = base
            .results
            .iter()
            .filter(|e| e.backend == backend)
            .map(|e| e.workload.as_str())
            .collect();
        let base_tally = tally(base, backend, &workloads).unwrap_or_default();
        let lost = losses::losses(base_tally, tally(new, backend, &workloads));
        let ratios = if backend == baseline {
            None
        } else {
            let shared: Vec<&str> = workloads
                .iter()
                .copied()
                .filter(|w| {
                    [base, new]
                        .iter()
                        .all(|r| has(r, backend, w) && has(r, baseline, w))
                })
                .collect();
            let ratio = |r: &BenchmarkResults| {
                Some(overall_p50(r, baseline, &shared)? / overall_p50(r, backend, &shared)?)
            };
            ratio(base).zip(ratio(new)).map(|(b, n)| Ratios {
                base: b,
                new: n,
                loss: 1.0 - n / b,
            })
        };
        if backend == baseline && lost.is_empty() {
            continue;
        }
        checks.push(RatioCheck {
            backend: backend.to_string(),
            baseline: baseline.clone(),
            failed: !lost.is_empty() || ratios.is_some_and(|r| r.loss > max_loss),
            ratios,
            lost,
        });
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::synthetic::{Row, results, row};

    const PER_CALL: &str = "compose:per-call";
    const PERSISTENT: &str = "compose:persistent";

    /// Two backends on one workload, 20 calls each at a fixed latency (µs).
    fn run(baseline_us: u64, persistent_us: u64, baseline: &str) -> BenchmarkResults {
        results(
            baseline,
            &[
                row(PER_CALL, "w", baseline_us, 20),
                row(PERSISTENT, "w", persistent_us, 20),
            ],
        )
    }

    fn failed_row(backend: &str, errors: usize) -> Row<'_> {
        Row {
            backend,
            workload: "w",
            latencies_us: vec![],
            errors,
        }
    }

    #[test]
    fn a_slower_machine_keeps_the_ratio_and_passes() {
        let base = run(200_000, 400, PER_CALL);
        let twice_as_slow = run(400_000, 800, PER_CALL);
        let checks = check(&base, &twice_as_slow, 0.5).unwrap();
        assert_eq!(
            checks.len(),
            1,
            "the baseline is listed only when it lost calls"
        );
        let r = checks[0].ratios.unwrap();
        assert!(!checks[0].failed && r.loss.abs() < 0.01, "{checks:?}");
        assert!((r.base - 500.0).abs() < 1.0, "{r:?}");
    }

    #[test]
    fn a_persistent_path_made_slow_fails() {
        let base = run(200_000, 400, PER_CALL);
        let slowed = run(200_000, 1_400, PER_CALL);
        let c = &check(&base, &slowed, 0.5).unwrap()[0];
        assert!(c.failed && c.lost.is_empty(), "{c:?}");
        let r = c.ratios.unwrap();
        assert!((r.base / r.new - 3.5).abs() < 0.05, "{c:?}");
    }

    #[test]
    fn different_baselines_are_refused() {
        let base = run(200_000, 400, PER_CALL);
        let other = run(200_000, 400, PERSISTENT);
        assert!(
            check(&base, &other, 0.5)
                .unwrap_err()
                .contains("--baseline compose:per-call")
        );
        let alone = results(PER_CALL, &[row(PER_CALL, "w", 1000, 5)]);
        assert!(
            check(&alone, &alone, 0.5)
                .unwrap_err()
                .contains("nothing to gate")
        );
    }

    #[test]
    fn a_backend_missing_in_new_fails() {
        let base = run(200_000, 400, PER_CALL);
        let without = results(PER_CALL, &[row(PER_CALL, "w", 200_000, 20)]);
        let c = &check(&base, &without, 0.5).unwrap()[0];
        assert_eq!(c.backend, PERSISTENT);
        assert_eq!(c.lost, vec![Loss::Missing]);
        assert!(c.failed && c.ratios.is_none(), "{c:?}");
    }

    #[test]
    fn a_backend_whose_calls_all_failed_fails() {
        let base = run(200_000, 400, PER_CALL);
        let broken = results(
            PER_CALL,
            &[row(PER_CALL, "w", 200_000, 20), failed_row(PERSISTENT, 20)],
        );
        let c = &check(&base, &broken, 0.5).unwrap()[0];
        assert_eq!(
            c.lost,
            vec![Loss::NoSamples, Loss::MoreErrors { base: 0, new: 20 }]
        );
        assert!(c.failed && c.ratios.is_none(), "{c:?}");
    }

    #[test]
    fn a_baseline_that_lost_calls_fails_and_is_listed() {
        let base = run(200_000, 400, PER_CALL);
        let mut short = row(PER_CALL, "w", 200_000, 20);
        short.latencies_us.truncate(17);
        short.errors = 3;
        let new = results(PER_CALL, &[short, row(PERSISTENT, "w", 400, 20)]);
        let checks = check(&base, &new, 0.5).unwrap();
        assert_eq!(checks.len(), 2, "{checks:?}");
        let b = checks.iter().find(|c| c.is_baseline()).unwrap();
        assert_eq!(
            b.lost,
            vec![
                Loss::FewerCalls { base: 20, new: 17 },
                Loss::MoreErrors { base: 0, new: 3 }
            ]
        );
        assert!(b.failed && b.ratios.is_none());
        let p = checks.iter().find(|c| !c.is_baseline()).unwrap();
        assert!(!p.failed, "{p:?}");
    }
}
