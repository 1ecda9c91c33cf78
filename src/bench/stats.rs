//! Statistics: one HdrHistogram per backend × workload, recorded in nanoseconds (1 ns … 10 min,
//! 3 significant figures), summarized in microseconds and stored as base64 HdrHistogram V2.

use std::time::Duration;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

/// The largest latency recorded exactly: 10 minutes, in nanoseconds.
const HIGHEST_NS: u64 = 600_000_000_000;

/// An empty latency histogram with the bounds every result uses.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("constant bounds are valid")
}

/// Records one latency; anything past 10 minutes is kept as 10 minutes.
pub fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
    histogram.saturating_record(ns.clamp(1, HIGHEST_NS));
}

/// Latency figures of one histogram, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub mean: f64,
    pub stddev: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Summarizes a histogram; `None` when it holds no sample.
pub fn summarize(h: &Histogram<u64>) -> Option<LatencySummary> {
    if h.is_empty() {
        return None;
    }
    let us = |ns: f64| ns / 1000.0;
    let q = |quantile: f64| us(h.value_at_quantile(quantile) as f64);
    Some(LatencySummary {
        mean: us(h.mean()),
        stddev: us(h.stdev()),
        min: us(h.min() as f64),
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
        p999: q(0.999),
        max: us(h.max() as f64),
    })
}

/// The histogram as base64 of its HdrHistogram V2 encoding.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        .expect("writing to memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads back a histogram written by [`encode`].
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram is not HdrHistogram V2: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_us(samples: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for &s in samples {
            record(&mut h, Duration::from_micros(s));
        }
        h
    }

    #[test]
    fn summary_of_known_samples() {
        let samples: Vec<u64> = (1..=100).collect();
        let s = summarize(&from_us(&samples)).unwrap();
        assert!((s.mean - 50.5).abs() < 0.05, "{s:?}");
        assert!((s.stddev - 28.866).abs() < 0.05, "{s:?}");
        // Values come back as their bucket's highest equivalent: within 0.1 % at 3 figures.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001;
        for (got, want) in [(s.min, 1.0), (s.p50, 50.0), (s.p90, 90.0), (s.p99, 99.0)] {
            assert!(close(got, want), "{got} vs {want}: {s:?}");
        }
        assert!(close(s.p999, 100.0) && close(s.max, 100.0), "{s:?}");
    }

    #[test]
    fn three_significant_figures_across_the_range() {
        for us in [3, 517, 245_000, 30_000_000] {
            let s = summarize(&from_us(&[us])).unwrap();
            let err = (s.p50 - us as f64).abs() / us as f64;
            assert!(err < 0.001, "{us} µs read back as {}", s.p50);
        }
        let s = summarize(&from_us(&[1_000_000_000])).unwrap();
        assert!(
            (s.max - 600_000_000.0).abs() / 600_000_000.0 < 0.001,
            "clamped to 10 min"
        );
    }

    #[test]
    fn empty_histogram_has_no_summary() {
        assert!(summarize(&new_histogram()).is_none());
    }

    #[test]
    fn histogram_round_trips_through_base64() {
        let h = from_us(&[5, 10, 10, 2_000, 450_000]);
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(summarize(&back), summarize(&h));
        assert!(decode("not base64!").unwrap_err().contains("base64"));
        assert!(decode("AAAA").unwrap_err().contains("V2"));
    }
}
