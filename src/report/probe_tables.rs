//! Tables of `faults` and `isolation`: one row per probe, one column per backend.

use super::boxed::boxed;
use super::format_us;
use super::model::{Cell, Column, Mark, Table};
use crate::probes::fault_probes::{Answer, FaultOutcome, FaultResults};
use crate::probes::isolation_probes::{IsolationResults, Verdict};

/// A probe column, then one column per backend: all text.
fn new_table(backends: &[String], first: &str) -> Table {
    let mut columns = vec![Column::text(first)];
    columns.extend(backends.iter().map(|b| Column::text(b)));
    Table::new(columns)
}

/// A cell marked by its leading ✔ or ✘.
fn verdict_cell(text: String) -> Cell {
    let mark = if text.starts_with('✔') {
        Mark::Good
    } else if text.starts_with('✘') {
        Mark::Bad
    } else {
        Mark::Plain
    };
    Cell::marked(text, mark)
}

/// Adds one row per probe (in the order first seen) with a cell per backend; `–` where a
/// probe × backend has no outcome.
fn add_probe_rows<T>(
    table: &mut Table,
    backends: &[String],
    outcomes: &[T],
    key: impl Fn(&T) -> (&str, &str),
    cell: impl Fn(&T) -> String,
) {
    let mut probes: Vec<&str> = Vec::new();
    for o in outcomes {
        let probe = key(o).0;
        if !probes.contains(&probe) {
            probes.push(probe);
        }
    }
    for probe in probes {
        let mut row = vec![Cell::from(probe)];
        for backend in backends {
            let found = outcomes
                .iter()
                .find(|o| key(o) == (probe, backend.as_str()));
            row.push(verdict_cell(found.map_or_else(|| "–".to_string(), &cell)));
        }
        table.push(row);
    }
}

/// Probe × backend: ✔ or ✘, what came back, and the time the next normal call took.
pub fn fault_table(results: &FaultResults) -> comfy_table::Table {
    let mut table = new_table(&results.backends, "Probe");
    add_probe_rows(
        &mut table,
        &results.backends,
        &results.outcomes,
        |o| (o.probe.as_str(), o.backend.as_str()),
        fault_cell,
    );
    boxed(&table, false)
}

/// `✔ timeout 2.01 s → ok 118 ms`: the outcome, how long it took, the recovery call.
pub fn fault_cell(o: &FaultOutcome) -> String {
    let what = match &o.outcome {
        Answer::Skipped => return "– skipped (no limits)".into(),
        Answer::NotProvided(what) => return format!("– not provided: {what}"),
        Answer::Error(kind) => kind.clone(),
        Answer::Ok(_) => o.outcome.to_string(),
    };
    let mark = if o.green { "✔" } else { "✘" };
    let mut cell = format!("{mark} {what} {}", format_us(o.duration_ms * 1e3));
    match (&o.recover_ms, &o.recover_error) {
        (Some(ms), _) => cell.push_str(&format!(" → ok {}", format_us(ms * 1e3))),
        (None, Some(e)) => cell.push_str(&format!(" → next call failed: {e}")),
        (None, None) => {}
    }
    if !o.as_expected {
        cell.push_str(&format!(" (expected {})", o.expected));
    }
    if !o.within_time {
        cell.push_str(" (past the time limit)");
    }
    if !o.leftovers.is_empty() {
        cell.push_str(&format!(" ({} left running)", o.leftovers.len()));
    }
    cell
}

/// Probe × backend of `isolated` / `leaks`, with each backend's p50 as the last row.
pub fn isolation_table(results: &IsolationResults) -> comfy_table::Table {
    let mut table = new_table(&results.backends, "Probe (A → B)");
    add_probe_rows(
        &mut table,
        &results.backends,
        &results.outcomes,
        |o| (o.probe.as_str(), o.backend.as_str()),
        |o| match &o.outcome {
            Verdict::Isolated => "✔ isolated".to_string(),
            Verdict::Leaks => "✘ leaks".to_string(),
            error => format!("? {error}"),
        },
    );
    let mut row = vec![Cell::from("p50 of a normal call")];
    for backend in &results.backends {
        let speed = results.speed.iter().find(|s| &s.backend == backend);
        row.push(match speed {
            Some(s) if s.errors == 0 => s.p50_us.map_or("–".into(), format_us).into(),
            Some(s) => Cell::marked(
                format!("⚠ {} of {} calls failed", s.errors, s.calls),
                Mark::Warn,
            ),
            None => "–".into(),
        });
    }
    table.push(row);
    boxed(&table, false)
}

/// One row per soaked backend: calls, errors, restarts, rate and the agent's memory.
pub fn soak_table(outcomes: &[crate::probes::soak_loop::SoakOutcome]) -> comfy_table::Table {
    let mut table = Table::with_headers(
        &[
            "Backend",
            "Calls",
            "Errors",
            "Restarts",
            "Calls/s",
            "Agent RSS before",
            "Agent RSS after",
        ],
        1,
    );
    let kib = |v: Option<u64>| v.map_or("–".to_string(), crate::units::format_kib);
    for o in outcomes {
        table.push([
            o.backend.clone(),
            o.calls.to_string(),
            o.errors.to_string(),
            o.restarts.to_string(),
            format!("{:.0}", o.calls as f64 / o.elapsed_s.max(1e-9)),
            kib(o.rss_before_kib),
            kib(o.rss_after_kib),
        ]);
    }
    boxed(&table, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(green: bool, leftovers: usize) -> FaultOutcome {
        FaultOutcome {
            probe: "infinite_loop".into(),
            backend: "local:persistent".into(),
            expected: "error".into(),
            outcome: Answer::Error("Timeout".into()),
            as_expected: true,
            duration_ms: 2010.0,
            within_time: true,
            recovered: true,
            recover_ms: Some(118.0),
            recover_error: None,
            leftovers: vec!["7 sleep".into(); leftovers],
            green,
        }
    }

    #[test]
    fn fault_cells_say_what_happened_and_what_went_wrong() {
        assert_eq!(
            fault_cell(&outcome(true, 0)),
            "✔ Timeout 2.01 s → ok 118 ms"
        );
        assert_eq!(
            fault_cell(&outcome(false, 2)),
            "✘ Timeout 2.01 s → ok 118 ms (2 left running)"
        );
    }
}
