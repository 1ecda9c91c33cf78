//! The console report of a run: the latency table, the comparison with the baseline, where the
//! time goes, the verdicts, the floor, warnings and errors, as one text. `run` prints it;
//! `report --format table` prints it or writes it to a file.

use std::fmt::Write;

use super::{table, waterfall};
use crate::results::BenchmarkResults;

/// Appends one line (`writeln!` into a `String` cannot fail).
macro_rules! put {
    ($out:expr) => {{
        let _ = writeln!($out);
    }};
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// The tables, the verdicts, the warnings and any errors, as printed after a run.
pub fn render(results: &BenchmarkResults) -> String {
    let mut out = String::new();
    put!(
        out,
        "Latency per backend × workload (successful measured calls)"
    );
    put!(out, "{}", table::latency_table(results));
    if let Some(comparison) = table::comparison_table(results) {
        put!(out, "\nAgainst the baseline, {}", results.settings.baseline);
        put!(out, "{comparison}");
    }
    if let Some(waterfall) = waterfall::waterfall_table(results) {
        put!(
            out,
            "\nWhere the time goes (per-call layers, outermost first)"
        );
        put!(out, "{waterfall}");
    }
    for line in table::verdicts(results) {
        put!(out, "{line}");
    }
    if let Some(floor) = table::floor_table(results) {
        put!(
            out,
            "\nFloor: {} empty calls per backend, measured first",
            results.settings.calibration_calls
        );
        put!(out, "{floor}");
    }
    if !results.warnings.is_empty() {
        put!(out, "\nWarnings:");
        for w in &results.warnings {
            match (&w.backend, &w.workload) {
                (Some(b), Some(wl)) => put!(out, "  {b} · {wl}: {}", w.message),
                _ => put!(out, "  {}", w.message),
            }
        }
    }
    let restarts = table::restart_notes(results);
    if !restarts.is_empty() {
        put!(
            out,
            "\nRestarts (an agent or server started again after a fault, at that call's cost):"
        );
        for line in restarts {
            put!(out, "  {line}");
        }
    }
    if let Some(line) = table::sandbox_line(results) {
        put!(out, "\n{line}");
    }
    let errors = table::error_notes(results);
    if !errors.is_empty() {
        put!(out, "\nErrors:");
        for line in errors {
            put!(out, "  {line}");
        }
    }
    out
}
