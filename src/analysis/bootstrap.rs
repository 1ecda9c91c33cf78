//! The uncertainty of a change between two runs, from their stored histograms: a seeded
//! percentile bootstrap. Each resample draws as many latencies as each run measured, with
//! replacement, from that run's histogram; the spread of the resampled change is the noise.

use hdrhistogram::Histogram;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The figure a comparison is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    P50,
    P95,
    P99,
    Mean,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::Mean => "mean",
        }
    }

    /// The metric of a sorted, non-empty sample (a quantile is the value at rank ⌈q·n⌉).
    pub fn of_sorted(self, sorted: &[u64]) -> f64 {
        let quantile = |q: f64| {
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1] as f64
        };
        match self {
            Metric::P50 => quantile(0.50),
            Metric::P95 => quantile(0.95),
            Metric::P99 => quantile(0.99),
            Metric::Mean => sorted.iter().map(|&v| v as f64).sum::<f64>() / sorted.len() as f64,
        }
    }
}

impl std::str::FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "p50" => Ok(Metric::P50),
            "p95" => Ok(Metric::P95),
            "p99" => Ok(Metric::P99),
            "mean" => Ok(Metric::Mean),
            other => Err(format!("'{other}' is not one of p50, p95, p99, mean")),
        }
    }
}

/// How a bootstrap is run; recorded beside its figures so they can be reproduced.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub resamples: usize,
    /// Two-sided confidence level of the interval, e.g. 0.95.
    pub confidence: f64,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            resamples: 5000,
            confidence: 0.95,
            seed: 0x5eed,
        }
    }
}

/// A relative change `new / base − 1` and its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub base: f64,
    pub new: f64,
    pub change: f64,
    pub low: f64,
    pub high: f64,
}

/// The samples of a histogram, each value as its bucket's highest equivalent (as summaries
/// report them), sorted.
pub fn samples(h: &Histogram<u64>) -> Vec<u64> {
    let mut out = Vec::with_capacity(usize::try_from(h.len()).unwrap_or(0));
    for v in h.iter_recorded() {
        let value = h.highest_equivalent(v.value_iterated_to());
        out.extend(std::iter::repeat_n(value, v.count_at_value() as usize));
    }
    out
}

/// The change of `metric` from `base` to `new` with its bootstrap interval; `None` when either
/// sample is empty or the base metric is zero.
pub fn change(base: &[u64], new: &[u64], metric: Metric, settings: Settings) -> Option<Change> {
    if base.is_empty() || new.is_empty() {
        return None;
    }
    let (b, n) = (metric.of_sorted(base), metric.of_sorted(new));
    if b <= 0.0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut draws = Vec::with_capacity(settings.resamples);
    let (mut rb, mut rn) = (Vec::new(), Vec::new());
    for _ in 0..settings.resamples {
        resample(base, &mut rng, &mut rb);
        resample(new, &mut rng, &mut rn);
        let mb = metric.of_sorted(&rb);
        if mb > 0.0 {
            draws.push(metric.of_sorted(&rn) / mb - 1.0);
        }
    }
    draws.sort_by(f64::total_cmp);
    let tail = (1.0 - settings.confidence) / 2.0;
    let at = |q: f64| -> f64 {
        let i = ((q * draws.len() as f64) as usize).min(draws.len().saturating_sub(1));
        draws.get(i).copied().unwrap_or(f64::NAN)
    };
    Some(Change {
        base: b,
        new: n,
        change: n / b - 1.0,
        low: at(tail),
        high: at(1.0 - tail),
    })
}

/// `metric` of one sorted sample with its percentile-bootstrap interval: (value, low, high).
pub fn interval(sorted: &[u64], metric: Metric, settings: Settings) -> Option<(f64, f64, f64)> {
    if sorted.is_empty() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut draws = Vec::with_capacity(settings.resamples);
    let mut r = Vec::new();
    for _ in 0..settings.resamples {
        resample(sorted, &mut rng, &mut r);
        draws.push(metric.of_sorted(&r));
    }
    draws.sort_by(f64::total_cmp);
    let tail = (1.0 - settings.confidence) / 2.0;
    let at = |q: f64| draws[((q * draws.len() as f64) as usize).min(draws.len() - 1)];
    Some((metric.of_sorted(sorted), at(tail), at(1.0 - tail)))
}

fn resample(from: &[u64], rng: &mut ChaCha8Rng, into: &mut Vec<u64>) {
    into.clear();
    into.extend((0..from.len()).map(|_| from[rng.random_range(0..from.len())]));
    into.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(center: u64, n: u64) -> Vec<u64> {
        // A fixed, noisy-looking sample: center ± 20 %.
        let mut v: Vec<u64> = (0..n)
            .map(|i| center * (80 + (i * 37) % 41) / 100)
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn quantiles_and_mean_of_a_known_sample() {
        let s: Vec<u64> = (1..=100).collect();
        assert_eq!(Metric::P50.of_sorted(&s), 50.0);
        assert_eq!(Metric::P95.of_sorted(&s), 95.0);
        assert_eq!(Metric::P99.of_sorted(&s), 99.0);
        assert_eq!(Metric::Mean.of_sorted(&s), 50.5);
        assert_eq!("p95".parse::<Metric>(), Ok(Metric::P95));
        assert!("p42".parse::<Metric>().is_err());
    }

    #[test]
    fn one_sample_interval_holds_its_value() {
        let s = spread(1000, 50);
        let (v, low, high) = interval(&s, Metric::P50, Settings::default()).unwrap();
        assert_eq!(v, Metric::P50.of_sorted(&s));
        assert!(low <= v && v <= high && low < high, "{low} {v} {high}");
        assert_eq!(interval(&[], Metric::P50, Settings::default()), None);
    }

    #[test]
    fn same_sample_gives_an_interval_around_zero() {
        let s = spread(1000, 50);
        let c = change(&s, &s, Metric::P50, Settings::default()).unwrap();
        assert_eq!(c.change, 0.0);
        assert!(c.low < 0.0 && c.high > 0.0, "{c:?}");
    }

    #[test]
    fn a_tripled_latency_is_outside_the_noise() {
        let (base, new) = (spread(400, 50), spread(1400, 50));
        let c = change(&base, &new, Metric::P50, Settings::default()).unwrap();
        assert!((c.change - 2.5).abs() < 0.3, "{c:?}");
        assert!(c.low > 1.5, "{c:?}");
    }

    #[test]
    fn seeded_and_reproducible() {
        let (base, new) = (spread(1000, 30), spread(1100, 30));
        let a = change(&base, &new, Metric::Mean, Settings::default());
        let b = change(&base, &new, Metric::Mean, Settings::default());
        assert_eq!(a, b);
        assert!(change(&[], &new, Metric::P50, Settings::default()).is_none());
    }

    #[test]
    fn samples_expand_histogram_counts() {
        let mut h = crate::bench::stats::new_histogram();
        h.record_n(1000, 3).unwrap();
        h.record(1500).unwrap();
        assert_eq!(samples(&h), vec![1000, 1000, 1000, 1500]);
    }
}
