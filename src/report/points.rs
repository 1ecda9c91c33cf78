//! Each backend × workload as one point for a CI dashboard: its p50 with a bootstrap interval,
//! the figures the GitHub benchmark and Bencher exports are made of.

use crate::analysis::bootstrap::{self, Metric};
use crate::bench::stats;
use crate::results::BenchmarkResults;

/// One backend × workload's p50 and its 95 % bootstrap interval, in microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// `backend/workload`
    pub name: String,
    pub p50_us: f64,
    pub low_us: f64,
    pub high_us: f64,
    pub p95_us: f64,
    pub calls: usize,
    pub errors: usize,
    pub throughput_per_s: f64,
}

/// The points of every row with successful calls, in the results' order.
pub fn points(results: &BenchmarkResults) -> Vec<Point> {
    results
        .results
        .iter()
        .filter_map(|e| {
            let h = stats::decode(&e.histogram).ok()?;
            let sorted = bootstrap::samples(&h);
            let settings = bootstrap::Settings::default();
            let (p50, low, high) = bootstrap::interval(&sorted, Metric::P50, settings)?;
            Some(Point {
                name: format!("{}/{}", e.backend, e.workload),
                p50_us: p50 / 1000.0,
                low_us: low / 1000.0,
                high_us: high / 1000.0,
                p95_us: Metric::P95.of_sorted(&sorted) / 1000.0,
                calls: e.calls,
                errors: e.all_errors(),
                throughput_per_s: e.throughput_per_s,
            })
        })
        .collect()
}

/// A figure rounded to three decimals, as the exports print them.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
