//! Bencher Metric Format (BMF): per backend × workload, the `latency` measure (p50 in ns with
//! its bootstrap interval as lower and upper values) and the `throughput` measure (calls/s).

use serde_json::{Map, Value, json};

use super::points::{Point, points, round3};
use crate::results::BenchmarkResults;

/// The BMF object of these points, as pretty JSON with a final newline.
pub fn render_points(points: &[Point]) -> String {
    let mut root = Map::new();
    for p in points {
        root.insert(
            p.name.clone(),
            json!({
                "latency": {
                    "value": round3(p.p50_us * 1000.0),
                    "lower_value": round3(p.low_us * 1000.0),
                    "upper_value": round3(p.high_us * 1000.0),
                },
                "throughput": { "value": round3(p.throughput_per_s) },
            }),
        );
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
    text.push('\n');
    text
}

/// The whole results file in BMF.
pub fn render(results: &BenchmarkResults) -> String {
    render_points(&points(results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_becomes_latency_with_bounds_and_throughput() {
        let p = Point {
            name: "compose:per-call/simple_calc".into(),
            p50_us: 247_000.5,
            low_us: 240_000.0,
            high_us: 255_123.456_7,
            p95_us: 300_000.0,
            calls: 50,
            errors: 0,
            throughput_per_s: 3.91234,
        };
        assert_eq!(
            render_points(&[p]),
            r#"{
  "compose:per-call/simple_calc": {
    "latency": {
      "lower_value": 240000000.0,
      "upper_value": 255123456.7,
      "value": 247000500.0
    },
    "throughput": {
      "value": 3.912
    }
  }
}
"#
        );
    }
}
