//! Warnings: when a figure cannot be trusted, say so. Each check is a pure function of the
//! samples (in call order) or of the machine's state, so each can be tested on made-up data.

use serde::{Deserialize, Serialize};

use crate::bench::machine_load::MachineSample;

/// Samples whose modified Z-score (0.6745·(x − median) / MAD) exceeds this are outliers, the
/// robust test hyperfine uses.
pub const OUTLIER_Z: f64 = 14.0;
/// A coefficient of variation (σ / mean) above this makes a mean doubtful.
pub const CV_LIMIT: f64 = 0.5;
/// The first calls are "much slower" when their median is this many times the rest's.
pub const SLOW_START_RATIO: f64 = 1.5;
/// Latency "grows" when the last quarter's median is this many times the first quarter's.
pub const GROWTH_RATIO: f64 = 2.0;
/// Samples needed before a percentile means anything: p99 needs 100, p99.9 needs 1000.
pub const PERCENTILE_SAMPLES: [(&str, usize); 2] = [("p99", 100), ("p99.9", 1000)];

/// What a warning is about; in results files, its snake_case name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Slow outliers by the modified Z-score.
    Outliers,
    /// σ is a large share of the mean.
    HighCv,
    /// The first calls were much slower than the rest: the warm-up was too short.
    SlowStart,
    /// Latency grew through the run: a queue built up.
    GrowingLatency,
    /// Too few samples for some percentiles.
    FewSamples,
    /// Other work kept the machine busy.
    MachineLoad,
    /// The hypervisor gave the CPU to other guests.
    CpuSteal,
    /// A fork backend's platform floor could not be measured.
    ForkFloor,
    /// The machine's wake-up floor is a large share of a backend's p50.
    WakeupFloor,
    /// A kind this version does not know, from a file another version wrote: warnings only
    /// advise, so such a file still loads, and the name is kept as it was written.
    #[serde(untagged)]
    Other(String),
}

impl WarningKind {
    /// The name results files and the console use.
    pub fn name(&self) -> &str {
        match self {
            WarningKind::Outliers => "outliers",
            WarningKind::HighCv => "high_cv",
            WarningKind::SlowStart => "slow_start",
            WarningKind::GrowingLatency => "growing_latency",
            WarningKind::FewSamples => "few_samples",
            WarningKind::MachineLoad => "machine_load",
            WarningKind::CpuSteal => "cpu_steal",
            WarningKind::ForkFloor => "fork_floor",
            WarningKind::WakeupFloor => "wakeup_floor",
            WarningKind::Other(name) => name,
        }
    }
}

impl std::fmt::Display for WarningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One reason to doubt a figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub kind: WarningKind,
    /// The backend × workload it is about, when it is about one.
    pub backend: Option<String>,
    pub workload: Option<String>,
    pub message: String,
}

impl Warning {
    fn about(kind: WarningKind, backend: &str, workload: &str, message: String) -> Self {
        Warning {
            kind,
            backend: Some(backend.into()),
            workload: Some(workload.into()),
            message,
        }
    }
}

/// The checks on one backend × workload's successful samples, in call order (nanoseconds).
pub fn check_samples(backend: &str, workload: &str, samples: &[u64]) -> Vec<Warning> {
    let mut found = Vec::new();
    if let Some((count, fence, worst)) = outliers(samples) {
        found.push(Warning::about(
            WarningKind::Outliers,
            backend,
            workload,
            format!(
                "{count} of {} calls are outliers (slower than {}, a modified Z-score above {OUTLIER_Z}); the slowest is {:.1}× the median",
                samples.len(),
                crate::units::format_us(fence / 1000.0),
                worst
            ),
        ));
    }
    if let Some(cv) = coefficient_of_variation(samples).filter(|cv| *cv > CV_LIMIT) {
        found.push(Warning::about(
            WarningKind::HighCv,
            backend,
            workload,
            format!(
                "σ is {:.0} % of the mean (above {:.0} %): prefer the median to the mean",
                cv * 100.0,
                CV_LIMIT * 100.0
            ),
        ));
    }
    if let Some(ratio) = slow_start(samples) {
        found.push(Warning::about(
            WarningKind::SlowStart,
            backend,
            workload,
            format!(
                "the first calls took {ratio:.1}× the median of the rest: the warm-up was too short (raise --warmup)"
            ),
        ));
    }
    if let Some(ratio) = growing(samples) {
        found.push(Warning::about(
            WarningKind::GrowingLatency,
            backend,
            workload,
            format!(
                "latency grew {ratio:.1}× from the first to the last quarter of the calls: a queue \
                 built up (with --rate: the rate is above what the backend serves)"
            ),
        ));
    }
    found
}

/// How many times the last quarter's median exceeds the first quarter's, above the limit.
pub fn growing(samples: &[u64]) -> Option<f64> {
    if samples.len() < 12 {
        return None;
    }
    let q = samples.len() / 4;
    let median = |part: &[u64]| {
        let mut v = part.to_vec();
        v.sort_unstable();
        quantile(&v, 0.5)
    };
    let ratio = median(&samples[samples.len() - q..]) / median(&samples[..q]).max(1.0);
    (ratio > GROWTH_RATIO).then_some(ratio)
}

/// Slow outliers by the modified Z-score: their count, the latency past which a sample is one
/// (ns), and the slowest sample over the median.
pub fn outliers(samples: &[u64]) -> Option<(usize, f64, f64)> {
    if samples.len() < 8 {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let median = quantile(&sorted, 0.5);
    let mut deviations: Vec<u64> = sorted
        .iter()
        .map(|&s| (s as f64 - median).abs() as u64)
        .collect();
    deviations.sort_unstable();
    let mad = quantile(&deviations, 0.5).max(1.0);
    let fence = median + OUTLIER_Z * mad / 0.6745;
    let count = sorted.iter().filter(|&&s| s as f64 > fence).count();
    let worst = *sorted.last()? as f64 / median.max(1.0);
    (count > 0).then_some((count, fence, worst))
}

/// σ / mean of the samples.
pub fn coefficient_of_variation(samples: &[u64]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let n = samples.len() as f64;
    let mean = samples.iter().map(|&s| s as f64).sum::<f64>() / n;
    let var = samples
        .iter()
        .map(|&s| (s as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    (mean > 0.0).then(|| var.sqrt() / mean)
}

/// How many times slower the first tenth of the calls (at least 3) were than the rest, at the
/// median, when that exceeds the limit.
pub fn slow_start(samples: &[u64]) -> Option<f64> {
    if samples.len() < 10 {
        return None;
    }
    let k = (samples.len() / 10).max(3);
    let median = |part: &[u64]| {
        let mut v = part.to_vec();
        v.sort_unstable();
        quantile(&v, 0.5)
    };
    let (first, rest) = (median(&samples[..k]), median(&samples[k..]));
    let ratio = first / rest.max(1.0);
    (ratio > SLOW_START_RATIO).then_some(ratio)
}

/// Percentiles that too few samples make meaningless, for `n` samples.
pub fn unsupported_percentiles(n: usize) -> Vec<&'static str> {
    PERCENTILE_SAMPLES
        .iter()
        .filter(|(_, need)| n < *need)
        .map(|(name, _)| *name)
        .collect()
}

/// One warning per percentile that some rows lack the samples for.
pub fn few_samples(rows: &[(String, String, usize)]) -> Vec<Warning> {
    PERCENTILE_SAMPLES
        .iter()
        .filter_map(|(name, need)| {
            let short: Vec<&(String, String, usize)> =
                rows.iter().filter(|(_, _, n)| n < need).collect();
            let fewest = short.iter().map(|(_, _, n)| *n).min()?;
            Some(Warning {
                kind: WarningKind::FewSamples,
                backend: None,
                workload: None,
                message: format!(
                    "{name} needs at least {need} samples; {} of {} rows have fewer (as few as {fewest}): \
                     it is shown as – (raise --calls-scale)",
                    short.len(),
                    rows.len()
                ),
            })
        })
        .collect()
}

/// A warning when the machine was busier than its cores during the run. The run's own
/// `clients` (each a harness thread and an agent, taking turns) keep up to that many processes
/// runnable themselves, so only load beyond cores + clients is someone else's.
pub fn machine_load(max_load: f64, cpus: usize, clients: usize) -> Option<Warning> {
    let limit = (cpus + clients) as f64;
    (max_load > limit).then(|| Warning {
        kind: WarningKind::MachineLoad,
        backend: None,
        workload: None,
        message: format!(
            "the load average reached {max_load:.2} on {cpus} cores, above the {limit:.0} this run \
             accounts for: other work competed for the CPU, and the figures are slower and noisier \
             than they should be"
        ),
    })
}

/// Steal above this share of the run's CPU time (in %) makes the figures doubtful.
pub const STEAL_LIMIT: f64 = 10.0;
/// Steal above this in any one second (in %) is worth a warning too.
pub const STEAL_WINDOW_LIMIT: f64 = 30.0;

/// A warning when the hypervisor gave a noticeable share of the CPU to other guests: the
/// load average does not count that time, so a busy host would otherwise go unnoticed.
pub fn cpu_steal(machine: &MachineSample) -> Option<Warning> {
    let (whole, worst) = (machine.steal_percent, machine.steal_max_percent);
    (whole > STEAL_LIMIT || worst > STEAL_WINDOW_LIMIT).then(|| Warning {
        kind: WarningKind::CpuSteal,
        backend: None,
        workload: None,
        message: format!(
            "the hypervisor took {whole:.0} % of the CPU time for other guests (steal; {worst:.0} % \
             in the worst second): the figures are slower and noisier than on a quiet machine"
        ),
    })
}

/// Linear-interpolated quantile of sorted samples.
fn quantile(sorted: &[u64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let frac = pos - lo as f64;
    sorted[lo] as f64 * (1.0 - frac) + sorted[hi] as f64 * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady(n: usize) -> Vec<u64> {
        // 1 ms ± 2 %, deterministic.
        (0..n)
            .map(|i| 1_000_000 + (i as u64 % 5) * 10_000)
            .collect()
    }

    #[test]
    fn steady_samples_raise_nothing() {
        assert!(check_samples("b", "w", &steady(200)).is_empty());
    }

    #[test]
    fn outliers_are_counted_with_their_distance() {
        let mut s = steady(100);
        s[40] = 50_000_000;
        s[70] = 20_000_000;
        let (count, fence, worst) = outliers(&s).unwrap();
        assert_eq!(count, 2);
        // median 1.02 ms, MAD 10 µs: the fence is 1.02 ms + 14 × 10 µs / 0.6745 ≈ 1.23 ms.
        assert!((fence - 1_227_560.0).abs() < 1_000.0, "{fence}");
        assert!((worst - 50.0).abs() < 2.0, "{worst}");
        let w = check_samples("b", "w", &s);
        assert!(
            w.iter()
                .any(|w| w.kind == WarningKind::Outliers && w.message.starts_with("2 of 100"))
        );
    }

    #[test]
    fn a_wide_spread_is_flagged() {
        let s: Vec<u64> = (0..100)
            .map(|i| if i % 2 == 0 { 100_000 } else { 2_000_000 })
            .collect();
        let cv = coefficient_of_variation(&s).unwrap();
        assert!(cv > 0.8, "{cv}");
        assert!(
            check_samples("b", "w", &s)
                .iter()
                .any(|w| w.kind == WarningKind::HighCv)
        );
    }

    #[test]
    fn slow_first_calls_mean_a_short_warm_up() {
        let mut s = steady(50);
        for x in s.iter_mut().take(5) {
            *x *= 3;
        }
        let ratio = slow_start(&s).unwrap();
        assert!((ratio - 3.0).abs() < 0.2, "{ratio}");
        assert!(slow_start(&steady(50)).is_none());
        assert!(
            check_samples("b", "w", &s)
                .iter()
                .any(|w| w.kind == WarningKind::SlowStart)
        );
    }

    #[test]
    fn a_growing_queue_is_reported() {
        // An overloaded open loop: each call waits for all before it.
        let s: Vec<u64> = (1..=40).map(|i| i * 1_000_000).collect();
        let ratio = growing(&s).unwrap();
        assert!(ratio > 5.0, "{ratio}");
        assert!(growing(&steady(40)).is_none());
        assert!(
            check_samples("b", "w", &s)
                .iter()
                .any(|w| w.kind == WarningKind::GrowingLatency)
        );
    }

    #[test]
    fn kinds_keep_their_names_and_unknown_ones_load() {
        let w: Vec<Warning> = serde_json::from_str(
            r#"[{"kind": "high_cv", "backend": null, "workload": null, "message": "m"},
                {"kind": "from_the_future", "backend": null, "workload": null, "message": "m"}]"#,
        )
        .unwrap();
        assert_eq!(w[0].kind, WarningKind::HighCv);
        assert_eq!(w[1].kind, WarningKind::Other("from_the_future".into()));
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(json[0]["kind"], "high_cv");
        assert_eq!(json[1]["kind"], "from_the_future");
        for kind in [
            WarningKind::Outliers,
            WarningKind::HighCv,
            WarningKind::SlowStart,
            WarningKind::GrowingLatency,
            WarningKind::FewSamples,
            WarningKind::MachineLoad,
            WarningKind::CpuSteal,
            WarningKind::ForkFloor,
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<WarningKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn percentiles_need_their_samples() {
        assert_eq!(unsupported_percentiles(50), ["p99", "p99.9"]);
        assert_eq!(unsupported_percentiles(200), ["p99.9"]);
        assert!(unsupported_percentiles(1000).is_empty());
        let rows = vec![
            ("a".to_string(), "x".to_string(), 200),
            ("b".to_string(), "x".to_string(), 50),
            ("c".to_string(), "x".to_string(), 5000),
        ];
        let w = few_samples(&rows);
        assert_eq!(w.len(), 2);
        assert!(
            w[0].message
                .starts_with("p99 needs at least 100 samples; 1 of 3 rows"),
            "{}",
            w[0].message
        );
        assert!(
            w[1].message
                .contains("2 of 3 rows have fewer (as few as 50)"),
            "{}",
            w[1].message
        );
    }

    #[test]
    fn a_busy_machine_is_reported() {
        assert!(
            machine_load(2.9, 2, 1).is_none(),
            "the run's own client is not other work"
        );
        let w = machine_load(3.25, 2, 1).unwrap();
        assert!(
            w.message.contains("3.25 on 2 cores, above the 3"),
            "{}",
            w.message
        );
        assert!(machine_load(3.25, 2, 2).is_none());
    }

    #[test]
    fn steal_is_reported_over_the_run_or_in_its_worst_second() {
        let quiet = MachineSample {
            steal_percent: 2.0,
            steal_max_percent: 8.0,
            ..MachineSample::default()
        };
        assert!(cpu_steal(&quiet).is_none());
        let busy = MachineSample {
            steal_percent: 12.4,
            ..quiet.clone()
        };
        let w = cpu_steal(&busy).unwrap();
        assert_eq!(w.kind, WarningKind::CpuSteal);
        assert!(
            w.message.starts_with("the hypervisor took 12 % "),
            "{}",
            w.message
        );
        let spike = MachineSample {
            steal_max_percent: 45.0,
            ..quiet
        };
        assert!(cpu_steal(&spike).is_some());
    }
}
