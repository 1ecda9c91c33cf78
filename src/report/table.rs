//! The tables of a run: latency per backend × workload, the floors, and each backend against the
//! baseline; the notes under them (verdicts, errors, restarts, the sandbox).

use super::model::{Cell, Mark, Table};
use super::{format_mean_sd, format_ratio, format_us};
use crate::analysis::bootstrap::{self, Metric};
use crate::bench::stats;
use crate::bench::warnings;
use crate::results::{BenchmarkResults, Entry};
use crate::units::format_kib;

/// One row per backend × workload: calls, errors, latency figures, throughput, cold start, and
/// how far the p50 sits above the backend's floor. A percentile without the samples to back it
/// (p99 under 100, p99.9 under 1000) is shown as –.
pub fn latency_table(results: &BenchmarkResults) -> Table {
    let mut table = Table::with_headers(
        &[
            "Backend",
            "Workload",
            "Calls",
            "Errors",
            "Mean ± σ",
            "Min",
            "p50",
            "p90",
            "p95",
            "p99",
            "p99.9",
            "Max",
            "Calls/s",
            "Cold start",
            "Above floor",
            "Exec p50",
            "Rest p50",
            "Switch p50",
            "Memory",
        ],
        2,
    );
    for e in &results.results {
        let mut row = vec![
            Cell::from(e.backend.clone()),
            e.workload.clone().into(),
            e.calls.to_string().into(),
            errors_cell(e),
        ];
        match &e.latency_us {
            Some(l) => {
                let missing = warnings::unsupported_percentiles(e.calls - e.errors);
                let pct = |name: &str, v: f64| {
                    if missing.contains(&name) {
                        "–".to_string()
                    } else {
                        format_us(v)
                    }
                };
                let figures = [
                    format_mean_sd(l.mean, l.stddev),
                    format_us(l.min),
                    format_us(l.p50),
                    format_us(l.p90),
                    format_us(l.p95),
                    pct("p99", l.p99),
                    pct("p99.9", l.p999),
                    format_us(l.max),
                    format!("{:.1}", e.throughput_per_s),
                ];
                row.extend(figures.map(Cell::from));
            }
            None => row.extend(std::iter::repeat_n(Cell::from("–"), 9)),
        }
        let mut more = vec![
            e.cold_start_us.map_or("failed".into(), format_us),
            above_floor(results, e),
        ];
        // The agent's own exec time, and the rest: transport, process start, framing.
        match (&e.latency_us, &e.exec_us) {
            (Some(l), Some(x)) => more.extend([format_us(x.p50), format_us(l.p50 - x.p50)]),
            _ => more.extend(["–".to_string(), "–".to_string()]),
        }
        more.push(
            e.switch_warmup_us
                .as_ref()
                .map_or("–".into(), |s| format_us(s.p50)),
        );
        more.push(
            e.memory
                .map_or("–".into(), |m| format_kib(m.footprint_kib())),
        );
        row.extend(more.into_iter().map(Cell::from));
        table.push(row);
    }
    table
}

/// The change of the p50 from `base`'s stored latencies to `new`'s, with its bootstrap interval
/// (1000 resamples: a report's column, not a verdict); `None` without samples on either side.
pub(super) fn p50_change(base: &Entry, new: &Entry) -> Option<bootstrap::Change> {
    let sorted = |h: &str| stats::decode(h).map(|h| bootstrap::samples(&h)).ok();
    let settings = bootstrap::Settings {
        resamples: 1000,
        ..bootstrap::Settings::default()
    };
    let (base, new) = (sorted(&base.histogram)?, sorted(&new.histogram)?);
    bootstrap::change(&base, &new, Metric::P50, settings)
}

/// The p50's distance above the backend's floor, and its share of the p50: the estimated cost
/// of executing the code rather than reaching the interpreter. "in noise" when the bootstrap
/// interval of the p50's change from the floor holds zero: no difference can be told.
fn above_floor(results: &BenchmarkResults, e: &Entry) -> String {
    let floor = results.calibration.iter().find(|c| c.backend == e.backend);
    let (Some(floor), Some(l)) = (floor, &e.latency_us) else {
        return "–".into();
    };
    match p50_change(floor, e) {
        Some(c) if c.low > 0.0 => {
            let above = c.new / 1000.0 - c.base / 1000.0;
            format!("{} ({:.0} %)", format_us(above), above / l.p50 * 100.0)
        }
        Some(_) => "in noise".into(),
        None => "–".into(),
    }
}

/// Each backend's floor: the latency of its empty calls.
pub fn floor_table(results: &BenchmarkResults) -> Option<Table> {
    if results.calibration.is_empty() {
        return None;
    }
    let mut table = Table::with_headers(
        &[
            "Backend", "Calls", "Errors", "p50", "p90", "Min", "Max", "σ",
        ],
        1,
    );
    for e in &results.calibration {
        let mut row = vec![
            Cell::from(e.backend.clone()),
            e.calls.to_string().into(),
            errors_cell(e),
        ];
        match &e.latency_us {
            // One unit across the row, the p50's.
            Some(l) => row.extend(
                [l.p50, l.p90, l.min, l.max, l.stddev]
                    .map(|v| crate::units::format_us_as(v, l.p50))
                    .map(Cell::from),
            ),
            None => row.extend(std::iter::repeat_n(Cell::from("–"), 5)),
        }
        table.push(row);
    }
    Some(table)
}

/// The failed calls of a row, marked when there are any.
fn errors_cell(e: &Entry) -> Cell {
    match (e.errors, e.warmup_errors) {
        (0, 0) => "0".into(),
        (n, 0) => Cell::marked(format!("⚠ {n}"), Mark::Warn),
        (n, w) => Cell::marked(format!("⚠ {n} (+{w} warm-up)"), Mark::Warn),
    }
}

/// Totals of one backend over the workloads it ran.
struct Overall {
    p50: f64,
    mean: f64,
    throughput: f64,
}

fn overall(entries: &[&Entry]) -> Option<Overall> {
    let mut merged = stats::new_histogram();
    let (mut ok, mut secs) = (0u64, 0.0);
    for e in entries {
        let h = stats::decode(&e.histogram).ok()?;
        ok += h.len();
        secs += e.elapsed_s;
        merged.add(&h).ok()?;
    }
    let summary = stats::summarize(&merged)?;
    Some(Overall {
        p50: summary.p50,
        mean: summary.mean,
        throughput: if secs > 0.0 { ok as f64 / secs } else { 0.0 },
    })
}

/// Each backend against the baseline, per workload and overall: p50 of both, how many times
/// lower the p50 is, how much lower the mean is, how many times the throughput.
pub fn comparison_table(results: &BenchmarkResults) -> Option<Table> {
    let baseline = &results.settings.baseline;
    let others: Vec<&String> = results
        .settings
        .backends
        .iter()
        .filter(|b| *b != baseline)
        .collect();
    if others.is_empty() {
        return None;
    }
    let mut table = Table::with_headers(
        &[
            "Backend",
            "Workload",
            "Baseline p50",
            "p50",
            "p50 speed-up",
            "Mean cut",
            "Throughput",
        ],
        2,
    );
    let of = |backend: &str| -> Vec<&Entry> {
        results
            .results
            .iter()
            .filter(|e| e.backend == backend)
            .collect()
    };
    let base_entries = of(baseline);
    for other in others {
        let entries = of(other);
        for e in &entries {
            let base = base_entries.iter().find(|b| b.workload == e.workload);
            let pair = base.and_then(|b| Some((b.latency_us.as_ref()?, e.latency_us.as_ref()?)));
            let Some((b, n)) = pair else { continue };
            table.push(compare_row(
                other,
                &e.workload,
                (b.p50, b.mean, base.map_or(0.0, |b| b.throughput_per_s)),
                (n.p50, n.mean, e.throughput_per_s),
            ));
        }
        if let (Some(b), Some(n)) = (overall(&base_entries), overall(&entries)) {
            table.push(compare_row(
                other,
                "overall",
                (b.p50, b.mean, b.throughput),
                (n.p50, n.mean, n.throughput),
            ));
        }
    }
    // No backend with figures beside the baseline's: no table rather than bare headers.
    (!table.is_empty()).then_some(table)
}

fn compare_row(
    backend: &str,
    workload: &str,
    base: (f64, f64, f64),
    new: (f64, f64, f64),
) -> [String; 7] {
    [
        backend.to_string(),
        workload.to_string(),
        format_us(base.0),
        format_us(new.0),
        format_ratio(base.0 / new.0),
        mean_cut(base.1, new.1),
        format_ratio(new.2 / base.2),
    ]
}

/// How much lower the mean is than the baseline's, in percent; for a slower backend, how many
/// times slower (a cut of −4315 % says nothing a reader can use).
fn mean_cut(base: f64, new: f64) -> String {
    if new > base && base > 0.0 {
        format!("{} slower", format_ratio(new / base))
    } else {
        format!("{:.1} %", (base - new) / base * 100.0)
    }
}

/// One sentence per backend: how it compares with the baseline overall, at p50.
pub fn verdicts(results: &BenchmarkResults) -> Vec<String> {
    let baseline = &results.settings.baseline;
    let entries =
        |b: &str| -> Vec<&Entry> { results.results.iter().filter(|e| e.backend == b).collect() };
    let Some(base) = overall(&entries(baseline)) else {
        return Vec::new();
    };
    results
        .settings
        .backends
        .iter()
        .filter(|b| *b != baseline)
        .filter_map(|b| {
            let o = overall(&entries(b))?;
            let r = base.p50 / o.p50;
            Some(if r >= 1.0 {
                format!(
                    "{b} is {} faster than {baseline} at p50 ({} vs {})",
                    format_ratio(r),
                    format_us(o.p50),
                    format_us(base.p50)
                )
            } else {
                format!(
                    "{b} is {} slower than {baseline} at p50 ({} vs {})",
                    format_ratio(1.0 / r),
                    format_us(o.p50),
                    format_us(base.p50)
                )
            })
        })
        .collect()
}

/// The failed calls of one backend × workload: how many, of which kinds, and the first message.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorNote {
    pub backend: String,
    pub workload: String,
    /// Measured and warm-up calls that failed.
    pub count: usize,
    /// Each kind of error with its count, e.g. `("timeout", 2)`.
    pub kinds: Vec<(String, usize)>,
    /// The first error message kept, if any.
    pub first: Option<String>,
}

impl ErrorNote {
    /// The counts in one line: `local:persistent · probe: 3 (2 timeout, 1 exit)`.
    pub fn counts(&self) -> String {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(
            "{} · {}: {} ({})",
            self.backend,
            self.workload,
            self.count,
            kinds.join(", ")
        )
    }
    /// The counts and the first message in one line, for the formats that keep it whole.
    pub fn line(&self) -> String {
        match &self.first {
            Some(first) => format!("{}; first: {first}", self.counts()),
            None => self.counts(),
        }
    }
}

/// Every backend × workload that had errors, with the first message.
pub fn error_notes(results: &BenchmarkResults) -> Vec<ErrorNote> {
    results
        .results
        .iter()
        .filter(|e| e.all_errors() > 0)
        .map(|e| ErrorNote {
            backend: e.backend.clone(),
            workload: e.workload.clone(),
            count: e.all_errors(),
            kinds: e
                .errors_by_kind
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
            first: e.error_samples.first().map(ToString::to_string),
        })
        .collect()
}

/// One line per backend × workload whose agents or servers were started again after a fault:
/// each restart's start-up is a real cost of that backend, so it is shown, not hidden.
pub fn restart_notes(results: &BenchmarkResults) -> Vec<String> {
    results
        .results
        .iter()
        .filter(|e| e.restarts > 0)
        .map(|e| format!("{} · {}: {}", e.backend, e.workload, e.restarts))
        .collect()
}

/// The sandbox measured, as the engine reported it, in two lines; with profiles other than
/// the built-in `docker` one, three lines for each profile (within a 100-column terminal).
pub fn sandbox_line(results: &BenchmarkResults) -> Option<String> {
    let only_docker = results.profiles.iter().all(|p| p.name == "docker");
    if only_docker {
        let s = results.sandbox.as_ref()?;
        let (image, limits) = sandbox_parts(s);
        return Some(format!("Sandbox: {image}\n  {limits}"));
    }
    let lines: Vec<String> = results
        .profiles
        .iter()
        .map(|p| {
            let (image, limits) = sandbox_parts(&p.sandbox);
            let mut about = vec![format!(
                "{} {}",
                p.engine,
                p.engine_version.as_deref().unwrap_or("?")
            )];
            if let Some(runtime) = &p.sandbox.runtime {
                about.push(format!("runtime {runtime}"));
            }
            if let Some(python) = &p.python {
                about.push(format!("Python {python}"));
            }
            about.extend(p.libraries.iter().map(|(k, v)| format!("{k} {v}")));
            format!(
                "Sandbox profile {}: {image}\n  {}\n  {limits}",
                p.name,
                about.join(", ")
            )
        })
        .collect();
    Some(lines.join("\n"))
}

/// A sandbox's image (with its id) and its limits, as shown under the tables.
fn sandbox_parts(s: &crate::results::SandboxInfo) -> (String, String) {
    let image = format!(
        "{} ({})",
        s.image,
        s.image_id.chars().take(19).collect::<String>()
    );
    let mut parts = Vec::new();
    if let Some(m) = s.memory_bytes {
        parts.push(format!("memory {} MiB", m >> 20));
    }
    if let Some(p) = s.pids_limit {
        parts.push(format!("pids {p}"));
    }
    if let Some(c) = s.cpus {
        parts.push(format!("cpus {c}"));
    }
    parts.push(
        if s.read_only_root {
            "read-only root"
        } else {
            "writable root"
        }
        .into(),
    );
    parts.push(format!("network {}", s.network_mode));
    parts.push(format!("user {}", s.user));
    if let Some(n) = s.strays_at_start.filter(|n| *n > 0) {
        let what = if s.strays_removed { "removed" } else { "found" };
        parts.push(format!("{n} stray processes {what} at start"));
    }
    (image, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slower_mean_reads_as_how_many_times_slower() {
        assert_eq!(mean_cut(200.0, 100.0), "50.0 %");
        assert_eq!(mean_cut(100.0, 100.0), "0.0 %");
        assert_eq!(mean_cut(100.0, 4414.9), "44.1× slower");
        assert_eq!(mean_cut(100.0, 130.0), "1.30× slower");
    }
}
