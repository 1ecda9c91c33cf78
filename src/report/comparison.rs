//! A `compare` of two runs as a console table or Markdown: base, new, the change with its
//! confidence interval, and the verdict.

use super::model::{Cell, Column, Mark, Table};
use super::{boxed, format_us, markdown};
use crate::analysis::compare_rows::{Comparison, Row, Verdict};
use crate::analysis::losses::{self, Loss};

/// The comparison as a table: one row per backend × workload, its verdict marked good when
/// faster and bad when regressed.
pub fn table(c: &Comparison) -> Table {
    let mut table = Table::new(vec![
        Column::text("Backend"),
        Column::text("Workload"),
        Column::figure("Calls"),
        Column::figure("Base"),
        Column::figure("New"),
        Column::figure("Change"),
        Column::text("Verdict"),
    ]);
    for r in &c.rows {
        table.push(cells(c, r));
    }
    table
}

fn cells(c: &Comparison, r: &Row) -> [Cell; 7] {
    let calls = format!("{} → {}", r.base_calls, r.new_calls);
    let (base, new, change) = match r.change {
        Some(ch) => (
            format_us(ch.base / 1000.0),
            format_us(ch.new / 1000.0),
            format!(
                "{} [{}, {}]",
                percent(ch.change),
                percent(ch.low),
                percent(ch.high)
            ),
        ),
        None if r.lost.contains(&Loss::Missing) => ("–".into(), "–".into(), "–".into()),
        None => ("–".into(), "–".into(), "no samples".into()),
    };
    let mut verdict = if r.lost.is_empty() {
        r.verdict.label().to_string()
    } else {
        String::new()
    };
    if r.verdict == Verdict::Slower {
        verdict = format!(
            "slower (beyond {})",
            percent(c.options.threshold).trim_start_matches('+')
        );
    }
    if !r.lost.is_empty() {
        let sep = if verdict.is_empty() { "" } else { "; " };
        verdict = format!("{verdict}{sep}regressed: {}", losses::describe(&r.lost));
    } else if r.base_errors + r.new_errors > 0 {
        verdict.push_str(&format!(
            " ⚠ failed calls {} → {}",
            r.base_errors, r.new_errors
        ));
    }
    let mark = if r.regressed() {
        Mark::Bad
    } else if r.verdict == Verdict::Faster {
        Mark::Good
    } else {
        Mark::Plain
    };
    [
        r.backend.clone().into(),
        r.workload.clone().into(),
        calls.into(),
        base.into(),
        new.into(),
        change.into(),
        Cell::marked(verdict, mark),
    ]
}

/// A signed percentage: `+12.3 %`, `-0.8 %`.
pub fn percent(x: f64) -> String {
    format!("{:+.1} %", x * 100.0)
}

/// One line on how the intervals were made, so the figures can be reproduced.
pub fn method(c: &Comparison) -> String {
    let b = c.options.bootstrap;
    format!(
        "{} of each row, change = new/base − 1 with its bootstrap interval at {:.2} % per row \
         ({:.0} % for the whole table; {} resamples of the stored histograms, seed {}); a verdict \
         needs the whole interval beyond ±{:.1} %",
        c.options.metric.name(),
        c.row_confidence * 100.0,
        b.confidence * 100.0,
        b.resamples,
        b.seed,
        c.options.threshold * 100.0
    )
}

/// Lines on rows missing from one file and on the outcome.
pub fn notes(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    let missing: Vec<String> = c
        .rows
        .iter()
        .filter(|r| r.lost.contains(&Loss::Missing))
        .map(|r| format!("{} × {}", r.backend, r.workload))
        .collect();
    if !missing.is_empty() {
        out.push(format!("missing in NEW: {}", missing.join(", ")));
    }
    if !c.only_in_new.is_empty() {
        out.push(format!(
            "only in NEW (not compared): {}",
            c.only_in_new.join(", ")
        ));
    }
    out.push(summary(c));
    out
}

/// The outcome in one line: how many rows regressed, and how.
pub fn summary(c: &Comparison) -> String {
    let regressed = c.regressions().count();
    if regressed == 0 {
        return format!("no regression among {} rows", c.rows.len());
    }
    let slower = c
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Slower)
        .count();
    let lost = c.rows.iter().filter(|r| !r.lost.is_empty()).count();
    let mut how = Vec::new();
    if slower > 0 {
        how.push(format!(
            "{slower} slower beyond ±{:.1} % ({})",
            c.options.threshold * 100.0,
            c.options.metric.name()
        ));
    }
    if lost > 0 {
        how.push(format!("{lost} lost calls, samples or the row"));
    }
    format!(
        "{regressed} of {} rows regressed: {}",
        c.rows.len(),
        how.join(", ")
    )
}

/// The console table; verdicts are coloured only when `color` is true.
pub fn console(c: &Comparison, color: bool) -> comfy_table::Table {
    let mut table = boxed::boxed(&table(c), color);
    if !color {
        table.force_no_tty();
    }
    table
}

/// The comparison as Markdown.
pub fn markdown(c: &Comparison) -> String {
    let mut out = String::from("## sandbox-bench compare\n\n");
    out.push_str(&markdown::render_table(&table(c)));
    out.push_str(&format!("\n{}\n\n", method(c)));
    for n in notes(c) {
        out.push_str(&format!("- {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::bootstrap::{Change, Metric, Settings};
    use crate::analysis::compare_rows::Options;

    fn comparison() -> Comparison {
        let row = |workload: &str, change: Change, verdict| Row {
            backend: "compose:persistent".into(),
            workload: workload.into(),
            base_calls: 50,
            new_calls: 50,
            base_errors: 0,
            new_errors: 0,
            change: Some(change),
            verdict,
            lost: vec![],
        };
        Comparison {
            options: Options {
                metric: Metric::P50,
                threshold: 0.1,
                bootstrap: Settings::default(),
            },
            rows: vec![
                row(
                    "simple_calc",
                    Change {
                        base: 400_000.0,
                        new: 1_400_000.0,
                        change: 2.5,
                        low: 2.2,
                        high: 2.9,
                    },
                    Verdict::Slower,
                ),
                row(
                    "loop_calc",
                    Change {
                        base: 400_000.0,
                        new: 404_000.0,
                        change: 0.01,
                        low: -0.05,
                        high: 0.06,
                    },
                    Verdict::NoChange,
                ),
            ],
            only_in_new: vec!["local:per-call × dict_ops".into()],
            row_confidence: 0.975,
        }
    }

    #[test]
    fn markdown_of_a_comparison() {
        let text = markdown(&comparison());
        // Figures right, the verdict (text) left.
        assert!(
            text.contains("| Backend | Workload | Calls | Base | New | Change | Verdict |\n|---|---|---:|---:|---:|---:|---|\n"),
            "{text}"
        );
        assert!(text.contains(
            "| compose:persistent | simple_calc | 50 → 50 | 400 µs | 1.40 ms | +250.0 % [+220.0 %, +290.0 %] | slower (beyond 10.0 %) |"
        ), "{text}");
        assert!(text.contains("| loop_calc | 50 → 50 | 400 µs | 404 µs | +1.0 % [-5.0 %, +6.0 %] | no significant change |"), "{text}");
        assert!(
            text.contains("- only in NEW (not compared): local:per-call × dict_ops\n"),
            "{text}"
        );
        assert!(
            text.contains("- 1 of 2 rows regressed: 1 slower beyond ±10.0 % (p50)\n"),
            "{text}"
        );
    }

    #[test]
    fn console_without_colour_has_no_escape_codes() {
        let text = console(&comparison(), false).to_string();
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("slower"));
    }

    #[test]
    fn lost_rows_say_what_was_lost() {
        let mut c = comparison();
        c.rows.truncate(1);
        c.rows[0].verdict = Verdict::NoChange;
        c.rows[0].change = None;
        c.rows[0].new_calls = 0;
        c.rows[0].new_errors = 53;
        c.rows[0].lost = vec![Loss::NoSamples, Loss::MoreErrors { base: 0, new: 53 }];
        let mut missing = c.rows[0].clone();
        missing.workload = "dict_ops".into();
        missing.new_errors = 0;
        missing.lost = vec![Loss::Missing];
        c.rows.push(missing);
        let text = markdown(&c);
        assert!(
            text.contains(
                "| compose:persistent | simple_calc | 50 → 0 | – | – | no samples \
                 | regressed: no successful call, errors 0 → 53 |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| dict_ops | 50 → 0 | – | – | – | regressed: missing in NEW |"),
            "{text}"
        );
        assert!(
            text.contains("- missing in NEW: compose:persistent × dict_ops\n"),
            "{text}"
        );
        assert!(
            text.contains("- 2 of 2 rows regressed: 2 lost calls, samples or the row\n"),
            "{text}"
        );
    }
}
