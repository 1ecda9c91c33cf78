//! The `customSmallerIsBetter` JSON of github-action-benchmark: one entry per backend ×
//! workload with its p50 in µs, the bootstrap interval as its range, and the rest as extra.

use serde::Serialize;

use super::points::{Point, points, round3};
use crate::results::BenchmarkResults;

#[derive(Debug, Serialize)]
struct Benchmark {
    name: String,
    unit: &'static str,
    value: f64,
    range: String,
    extra: String,
}

fn benchmark(p: &Point) -> Benchmark {
    // The action shows one ± figure: the larger side of the interval.
    let half = (p.p50_us - p.low_us).max(p.high_us - p.p50_us);
    Benchmark {
        name: format!("{} p50", p.name),
        unit: "us",
        value: round3(p.p50_us),
        range: format!("± {}", round3(half)),
        extra: format!(
            "95 % bootstrap interval {}–{} us\np95 {} us\n{} calls, {} errors, {:.1} calls/s",
            round3(p.low_us),
            round3(p.high_us),
            round3(p.p95_us),
            p.calls,
            p.errors,
            p.throughput_per_s
        ),
    }
}

/// The entries of these points, as pretty JSON with a final newline.
pub fn render_points(points: &[Point]) -> String {
    let entries: Vec<Benchmark> = points.iter().map(benchmark).collect();
    let mut text = serde_json::to_string_pretty(&entries).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}

/// The whole results file in the action's format.
pub fn render(results: &BenchmarkResults) -> String {
    render_points(&points(results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_becomes_one_smaller_is_better_entry() {
        let p = Point {
            name: "compose:persistent/simple_calc".into(),
            p50_us: 631.2345,
            low_us: 600.0,
            high_us: 700.5,
            p95_us: 5830.0,
            calls: 50,
            errors: 0,
            throughput_per_s: 645.26,
        };
        assert_eq!(
            render_points(&[p]),
            r#"[
  {
    "name": "compose:persistent/simple_calc p50",
    "unit": "us",
    "value": 631.235,
    "range": "± 69.265",
    "extra": "95 % bootstrap interval 600–700.5 us\np95 5830 us\n50 calls, 0 errors, 645.3 calls/s"
  }
]
"#
        );
        assert_eq!(render_points(&[]), "[]\n");
    }
}
