//! The console report of a run: a compact latency table (every column with `--wide`), the
//! comparison with the baseline, the floors, the verdicts, one line per kind of warning (each
//! warning with `--verbose`) and the errors, every line within the terminal's width.

use std::collections::BTreeMap;

use super::grid::{self, wrap};
use super::model::Table;
use super::{format_us, mcp_layer, table, waterfall};
use crate::agent::WaitMode;
use crate::bench::warnings::{Warning, WarningKind};
use crate::results::BenchmarkResults;

/// The columns of the default latency table; the others need `--wide`.
pub const COMPACT: [&str; 9] = [
    "Backend",
    "Workload",
    "Calls",
    "Errors",
    "p50",
    "p95",
    "p99",
    "Mean ± σ",
    "Calls/s",
];

/// The width a report is drawn for when nothing tells a terminal's.
pub const DEFAULT_WIDTH: usize = 100;

/// How the console report is drawn.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Every column of the latency table, however wide.
    pub wide: bool,
    /// Each warning on its own, not one line per kind.
    pub verbose: bool,
    /// The terminal's width: no line is longer (but `--wide` tables).
    pub width: usize,
}

impl View {
    /// The default view for a terminal of this width.
    pub fn new(width: usize) -> Self {
        View {
            wide: false,
            verbose: false,
            width,
        }
    }
}

/// The width of the terminal: `COLUMNS` when set, else the size of the terminal on stdout,
/// else [`DEFAULT_WIDTH`] (piped output gets the same compact table).
pub fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n >= 20)
    {
        return n;
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map_or(DEFAULT_WIDTH, |(w, _)| usize::from(w.0))
}

/// The whole console report.
pub fn render(results: &BenchmarkResults, view: View) -> String {
    let mut out = String::new();
    // Sentences stay readable on a very wide terminal.
    let prose = view.width.min(120);
    let para = |out: &mut String, text: &str| {
        out.push_str(&wrap(text, prose, "  "));
        out.push('\n');
    };
    para(
        &mut out,
        "Latency per backend × workload (successful measured calls)",
    );
    let full = table::latency_table(results);
    if view.wide {
        push_table(&mut out, &full, None);
    } else {
        push_table(&mut out, &full.select(&COMPACT), Some(view.width));
    }
    if !view.wide {
        para(
            &mut out,
            "More columns (min, p90, p99.9, max, cold start, floor, exec time, switch, memory): --wide",
        );
    }
    para(&mut out, &wait_line(results));
    if let Some(line) = switch_line(results) {
        para(&mut out, &line);
    }
    for line in fork_floor_lines(results) {
        para(&mut out, &line);
    }
    if let Some(line) = wakeup_floor_line(results) {
        para(&mut out, &line);
    }
    if let Some(t) = table::comparison_table(results) {
        out.push('\n');
        para(
            &mut out,
            &format!("Against the baseline, {}", results.settings.baseline),
        );
        push_table(&mut out, &t, Some(view.width));
    }
    if let Some(t) = waterfall::waterfall_table(results) {
        out.push('\n');
        para(&mut out, "Where the time goes (layers, outermost first)");
        push_table(&mut out, &t, Some(view.width));
    }
    if let Some(t) = mcp_layer::layer_table(results) {
        out.push('\n');
        para(
            &mut out,
            "The MCP layer: each MCP server's latency minus the executor its tool runs on, \
             both measured in this run (\"in noise\": the 95 % interval holds zero)",
        );
        push_table(&mut out, &t, Some(view.width));
    }
    if let Some(t) = super::round_trips::round_trip_table(results) {
        out.push('\n');
        para(&mut out, super::round_trips::CAPTION);
        push_table(&mut out, &t, Some(view.width));
    }
    for line in table::verdicts(results) {
        para(&mut out, &line);
    }
    if let Some(t) = table::floor_table(results) {
        out.push('\n');
        para(
            &mut out,
            &format!(
                "Floor: {} empty calls per backend, measured first",
                results.settings.calibration_calls
            ),
        );
        push_table(&mut out, &t, Some(view.width));
    }
    if let Some(m) = &results.machine {
        out.push('\n');
        para(
            &mut out,
            &format!(
                "Machine during the run: load average up to {:.2} (mean {:.2}) on {} cores; \
                 CPU {:.0} % busy, {:.1} % stolen by the hypervisor (worst second {:.0} %)",
                m.load_max,
                m.load_mean,
                results.header.host.cpus,
                m.busy_percent,
                m.steal_percent,
                m.steal_max_percent
            ),
        );
    }
    if !results.warnings.is_empty() {
        out.push('\n');
        if view.verbose {
            para(&mut out, "Warnings:");
            for w in &results.warnings {
                let text = match (&w.backend, &w.workload) {
                    (Some(b), Some(wl)) => format!("  {b} · {wl}: {}", w.message),
                    _ => format!("  {}", w.message),
                };
                out.push_str(&wrap(&text, prose, "    "));
                out.push('\n');
            }
        } else {
            para(
                &mut out,
                "Warnings (each one: --verbose; all in the results file):",
            );
            for line in grouped(&results.warnings, prose) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    let restarts = table::restart_notes(results);
    if !restarts.is_empty() {
        out.push('\n');
        para(
            &mut out,
            "Restarts (an agent or server started again after a fault, at that call's cost):",
        );
        for line in restarts {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if let Some(line) = table::sandbox_line(results) {
        out.push_str(&format!("\n{line}\n"));
    }
    let errors = table::error_notes(results);
    if !errors.is_empty() {
        out.push('\n');
        para(&mut out, "Errors:");
        for e in errors {
            // The counts, then the first message on a line of its own.
            out.push_str(&wrap(&format!("  {}", e.counts()), prose, "    "));
            out.push('\n');
            if let Some(first) = &e.first {
                out.push_str(&wrap(&format!("    first: {first}"), prose, "      "));
                out.push('\n');
            }
        }
    }
    let servers: Vec<String> = results
        .settings
        .mcp
        .iter()
        .flat_map(|m| [m.down_line(), m.leftovers_line()])
        .flatten()
        .collect();
    if !servers.is_empty() {
        out.push('\n');
        para(&mut out, "MCP servers:");
        for line in servers {
            out.push_str(&wrap(&format!("  {line}"), prose, "    "));
            out.push('\n');
        }
    }
    out
}

/// How the harness waited for replies: what the figures include of the machine's wake-up.
pub fn wait_line(results: &BenchmarkResults) -> String {
    match (results.settings.wait, results.settings.spin_us) {
        (WaitMode::Spin, spin) => format!(
            "Waiting: spin (--wait spin): each reply polled for without blocking for {} µs, \
             then waited for blocking, and agents reached without relays poll for requests: \
             no core goes idle between calls, as on a loaded gateway",
            spin.map_or("?".into(), |us| format!("{us:.0}"))
        ),
        (WaitMode::Block, _) => "Waiting: block (--wait block): each reply waited for with a \
             blocking poll; an idle core's wake-up is in every figure, as on a quiet machine"
            .into(),
    }
}

/// What resuming after another backend cost: per backend, the p50 of its switch warm-up calls
/// (kept out of the table) beside the p50 of its measured calls, both the median over its rows.
pub fn switch_line(results: &BenchmarkResults) -> Option<String> {
    let ms = results.settings.switch_warmup_ms?;
    let median = |mut v: Vec<f64>| -> Option<f64> {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let parts: Vec<String> = results
        .settings
        .backends
        .iter()
        .filter_map(|b| {
            let rows = results.results.iter().filter(|e| &e.backend == b);
            let calls: usize = rows.clone().map(|e| e.switch_warmup_calls).sum();
            let switch = median(
                rows.clone()
                    .filter_map(|e| Some(e.switch_warmup_us.as_ref()?.p50))
                    .collect(),
            )?;
            let steady = median(
                rows.filter_map(|e| Some(e.latency_us.as_ref()?.p50))
                    .collect(),
            )?;
            Some(format!(
                "{b} {} ({calls} calls; measured p50 {})",
                format_us(switch),
                format_us(steady)
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "Switch warm-up, {ms:.0} ms of empty calls after another backend ran, kept out of \
             the figures: p50 {}",
            parts.join("; ")
        )
    })
}

/// The machine's wake-up floor beside the persistent backends' p50s: how much of a reply's
/// round trip is this machine waking a process, whatever the executor.
pub fn wakeup_floor_line(results: &BenchmarkResults) -> Option<String> {
    let f = results.wakeup_floor.as_ref()?;
    let persistent: Vec<String> = results
        .results
        .iter()
        .filter(|e| e.backend.ends_with(":persistent"))
        .filter_map(|e| {
            Some(format!(
                "{} · {} {}",
                e.backend,
                e.workload,
                format_us(e.latency_us.as_ref()?.p50)
            ))
        })
        .collect();
    let beside = if persistent.is_empty() {
        String::new()
    } else {
        format!("; persistent p50: {}", persistent.join(", "))
    };
    let inside: Vec<String> = results
        .sandbox_wakeup_floors
        .iter()
        .map(|(backend, s)| {
            format!(
                "{} sleeping, {} spinning inside {backend}'s sandbox (in Python)",
                format_us(s.idle_p50_us),
                format_us(s.spin_p50_us)
            )
        })
        .collect();
    let inside = if inside.is_empty() {
        String::new()
    } else {
        format!("; {}", inside.join("; "))
    };
    Some(format!(
        "Wake-up floor of this machine: a blocking pipe round trip between two processes takes \
         {} p50 with both sides sleeping, {} with the other side spinning ({} round trips \
         each, on the host before the run){inside}{beside}",
        format_us(f.idle_p50_us),
        format_us(f.spin_p50_us),
        f.round_trips
    ))
}

/// Beside each fork backend's p50s, the sandbox's own fork + exit + wait: the part of the
/// p50 that belongs to the platform, not to the strategy.
pub fn fork_floor_lines(results: &BenchmarkResults) -> Vec<String> {
    results
        .fork_floors
        .iter()
        .map(|(backend, f)| {
            let p50s: Vec<f64> = results
                .results
                .iter()
                .filter(|e| &e.backend == backend)
                .filter_map(|e| e.latency_us.as_ref().map(|l| l.p50))
                .collect();
            let (lo, hi) = p50s
                .iter()
                .fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
            let p50 = match p50s.len() {
                0 => "no p50".to_string(),
                1 => format!("p50 {}", format_us(lo)),
                n => format!("p50 {}–{} over {n} workloads", format_us(lo), format_us(hi)),
            };
            format!(
                "{backend}: {p50}; the sandbox's own fork + exit + wait of its interpreter \
                 takes {} of that (p25–p75 {}–{}, {} forks)",
                format_us(f.p50_us),
                format_us(f.p25_us),
                format_us(f.p75_us),
                f.forks
            )
        })
        .collect()
}

fn push_table(out: &mut String, table: &Table, limit: Option<usize>) {
    let r = grid::render(table, limit);
    out.push_str(&r.text);
    if r.dropped > 0 {
        let columns = if r.dropped == 1 {
            "column does"
        } else {
            "columns do"
        };
        out.push_str(&format!(
            "({} more {columns} not fit {} characters: widen the terminal)\n",
            r.dropped,
            limit.unwrap_or(0)
        ));
    }
}

/// What one kind of warning means, in a few words.
fn kind_summary(kind: &WarningKind) -> &'static str {
    match kind {
        WarningKind::Outliers => "slow outliers (modified Z-score above 14)",
        WarningKind::HighCv => "σ above 50 % of the mean: read the p50, not the mean",
        WarningKind::SlowStart => "first calls much slower: raise --warmup",
        WarningKind::GrowingLatency => "latency grew through the run: a queue built up",
        WarningKind::WakeupFloor => {
            "the machine's wake-up is over half the p50: compare --wait spin"
        }
        _ => "",
    }
}

/// One line per kind of warning, in the order kinds first appear, naming the rows concerned;
/// each line within `width` characters.
pub fn grouped(warnings: &[Warning], width: usize) -> Vec<String> {
    let mut kinds: Vec<&WarningKind> = Vec::new();
    for w in warnings {
        if !kinds.contains(&&w.kind) {
            kinds.push(&w.kind);
        }
    }
    kinds
        .into_iter()
        .map(|kind| {
            let of_kind: Vec<&Warning> = warnings.iter().filter(|w| &w.kind == kind).collect();
            let candidates = kind_line(kind, &of_kind);
            let fits = candidates
                .iter()
                .find(|c| c.chars().count() <= width)
                .or(candidates.last());
            let line = fits.cloned().unwrap_or_default();
            truncate(&line, width)
        })
        .collect()
}

/// The line of one kind, most detailed first: rows by name, then by count.
fn kind_line(kind: &WarningKind, warnings: &[&Warning]) -> Vec<String> {
    let mut by_backend: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut general: Vec<&str> = Vec::new();
    for w in warnings {
        match (&w.backend, &w.workload) {
            (Some(b), Some(wl)) => by_backend.entry(b).or_default().push(wl),
            _ => general.push(&w.message),
        }
    }
    if by_backend.is_empty() {
        let more = match general.len() {
            0 | 1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        let mut lines = vec![format!("  {kind}: {}", general.join("; "))];
        // The first message, shortened clause by clause from its end.
        let first = general.first().copied().unwrap_or_default();
        let cuts = first
            .match_indices("; ")
            .chain(first.match_indices(": "))
            .map(|(i, _)| i);
        let mut cuts: Vec<usize> = cuts.chain(std::iter::once(first.len())).collect();
        cuts.sort_unstable_by(|a, b| b.cmp(a));
        lines.extend(
            cuts.into_iter()
                .map(|i| format!("  {kind}: {}{more}", &first[..i])),
        );
        return lines;
    }
    let rows: usize = by_backend.values().map(Vec::len).sum();
    let named: Vec<String> = by_backend
        .iter()
        .map(|(b, wls)| format!("{b} ({})", wls.join(", ")))
        .collect();
    let counted: Vec<String> = by_backend
        .iter()
        .map(|(b, wls)| format!("{b} ×{}", wls.len()))
        .collect();
    let what = kind_summary(kind);
    let in_rows = format!("{kind} in {rows} row{}", if rows == 1 { "" } else { "s" });
    let head = if what.is_empty() {
        format!("  {in_rows}")
    } else {
        format!("  {in_rows}, {what}")
    };
    vec![
        format!("{head}: {}", named.join("; ")),
        format!("  {in_rows}: {}", named.join("; ")),
        format!("{head}: {}", counted.join(", ")),
        format!("  {in_rows}: {}", counted.join(", ")),
    ]
}

fn truncate(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn about(kind: WarningKind, backend: &str, workload: &str) -> Warning {
        Warning {
            message: format!("{kind} details"),
            kind,
            backend: Some(backend.into()),
            workload: Some(workload.into()),
        }
    }

    #[test]
    fn errors_show_their_counts_and_first_message_on_a_line_of_its_own() {
        use crate::results::synthetic::{self, Row};
        let mut r = synthetic::results(
            "local:persistent",
            &[Row {
                errors: 3,
                ..synthetic::row("local:persistent", "probe", 300, 10)
            }],
        );
        r.results[0].error_samples = vec!["ZeroDivisionError: division by zero".into()];
        let text = render(&r, View::new(100));
        let errors = text.split("Errors:\n").nth(1).expect("errors shown");
        assert_eq!(
            errors,
            "  local:persistent · probe: 3 (3 code_error)\n\
             \x20   first: ZeroDivisionError: division by zero\n"
        );
        assert!(
            text.contains("local:persistent  probe        13     ⚠ 3"),
            "{text}"
        );
        let md = super::super::markdown::render(&r);
        assert!(
            md.contains(
                "- ⚠ local:persistent · probe: 3 (3 code_error); \
                 first: ZeroDivisionError: division by zero\n"
            ),
            "{md}"
        );
        let html = super::super::html::render(&r);
        assert!(html.contains("<td class=\"n warn\">⚠ 3</td>"), "{html}");
        assert!(
            html.contains(
                "<p class=\"warn\">⚠ local:persistent · probe: 3 (3 code_error); \
                 first: ZeroDivisionError: division by zero</p>"
            ),
            "{html}"
        );
    }

    #[test]
    fn one_line_per_kind_names_its_rows() {
        let ws = vec![
            about(WarningKind::Outliers, "compose:persistent", "simple_calc"),
            about(WarningKind::HighCv, "compose:persistent", "simple_calc"),
            about(WarningKind::Outliers, "compose:persistent", "loop_calc"),
            about(WarningKind::Outliers, "compose:per-call", "loop_calc"),
            Warning {
                kind: WarningKind::MachineLoad,
                backend: None,
                workload: None,
                message: "the load reached 3.1: other work ran".into(),
            },
        ];
        let lines = grouped(&ws, 140);
        assert_eq!(
            lines,
            [
                "  outliers in 3 rows, slow outliers (modified Z-score above 14): \
                 compose:per-call (loop_calc); compose:persistent (simple_calc, loop_calc)",
                "  high_cv in 1 row, σ above 50 % of the mean: read the p50, not the mean: \
                 compose:persistent (simple_calc)",
                "  machine_load: the load reached 3.1: other work ran",
            ]
        );
        assert_eq!(
            grouped(&ws, 100)[0],
            "  outliers in 3 rows: compose:per-call (loop_calc); compose:persistent (simple_calc, loop_calc)"
        );
        let narrow = grouped(&ws, 70);
        assert_eq!(
            narrow[0],
            "  outliers in 3 rows: compose:per-call ×1, compose:persistent ×2"
        );
        assert!(narrow.iter().all(|l| l.chars().count() <= 70), "{narrow:?}");
        assert!(grouped(&ws, 40)[0].ends_with('…'));
        assert_eq!(
            narrow[2],
            "  machine_load: the load reached 3.1: other work ran"
        );
        assert_eq!(grouped(&ws, 40)[2], "  machine_load: the load reached 3.1");
    }
}
