//! `report`, `compare`, `gate` and `completions` on results files written by real local runs.

mod common;

use std::path::{Path, PathBuf};

use common::{bench, each_histogram, read_results, rewrite, times, write_workload};
use predicates::prelude::*;
use sandbox_bench::bench::stats;

/// A full default run kept as it was recorded (2026-11-29, before `--min-time`): its figures and
/// warnings are known, whatever the current baseline holds.
const RECORDED_RUN: &str = "results/benchmark_results-20261129T031721Z.json";

/// Runs `backends` on one workload `probe` whose code is `code`, into `dir/name.json`.
fn run_probe(dir: &Path, name: &str, backends: &str, code: &str, calls: u32) -> PathBuf {
    run_probe_exiting(dir, name, backends, code, calls, 0)
}

/// As `run_probe`, for code whose every call fails: `run` exits 1.
fn run_probe_failing(dir: &Path, name: &str, backends: &str, code: &str, calls: u32) -> PathBuf {
    run_probe_exiting(dir, name, backends, code, calls, 1)
}

/// As `run_probe`, with the exit code `run` must give.
fn run_probe_exiting(
    dir: &Path,
    name: &str,
    backends: &str,
    code: &str,
    calls: u32,
    exit: i32,
) -> PathBuf {
    let workloads = dir.join(format!("{name}-workloads"));
    std::fs::create_dir_all(&workloads).unwrap();
    write_workload(&workloads, "probe", calls, &[(code, "1")]);
    let output = dir.join(format!("{name}.json"));
    bench()
        .args(["run", "--quiet", "--backends", backends])
        .arg("--workloads-dir")
        .arg(&workloads)
        .arg("--output")
        .arg(&output)
        .assert()
        .code(exit);
    output
}

/// A short run of two real workloads on both local strategies.
fn local_run(dir: &Path) -> PathBuf {
    let output = dir.join("run.json");
    bench()
        .args([
            "run",
            "--quiet",
            "--backends",
            "local:per-call,local:persistent",
        ])
        .args([
            "--workloads",
            "simple_calc,json_parsing",
            "--calls-scale",
            "0.1",
        ])
        .arg("--output")
        .arg(&output)
        .arg("--export-hgrm")
        .arg(dir.join("run-hgrm"))
        .assert()
        .success();
    output
}

#[test]
fn report_renders_a_saved_run_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let run = local_run(dir.path());

    let shown = bench().arg("report").arg(&run).output().unwrap();
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(
        shown.contains("Against the baseline, local:per-call"),
        "{shown}"
    );
    assert!(shown.contains("local:persistent is"), "{shown}");
    let tables = dir.path().join("tables.txt");
    bench()
        .arg("report")
        .arg(&run)
        .args(["--format", "table", "-o"])
        .arg(&tables)
        .assert()
        .success()
        .stdout("");
    assert_eq!(
        std::fs::read_to_string(&tables).unwrap(),
        shown,
        "the table format written to a file is what the console shows"
    );

    let md = bench()
        .arg("report")
        .arg(&run)
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("### Latency per backend × workload"), "{md}");
    assert!(
        md.contains("| local:persistent | json_parsing | 3 | 0 |"),
        "{md}"
    );
    assert!(md.contains("|---|---|---:|"), "{md}");

    let json = dir.path().join("again.json");
    bench()
        .arg("report")
        .arg(&run)
        .args(["--format", "json", "-o"])
        .arg(&json)
        .assert()
        .success();
    assert_eq!(
        read_results(&json),
        read_results(&run),
        "JSON re-encodes the same results"
    );

    let html = dir.path().join("report.html");
    let hgrm = dir.path().join("hgrm");
    bench()
        .arg("report")
        .arg(&run)
        .args(["--format", "html", "-o"])
        .arg(&html)
        .arg("--export-hgrm")
        .arg(&hgrm)
        .assert()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    // Per workload a spectrum (one line per backend) and a bar chart: self-contained.
    assert_eq!(page.matches("<svg").count(), 4, "2 workloads × 2 charts");
    assert_eq!(
        page.matches("<polyline").count(),
        4,
        "2 workloads × 2 backends"
    );
    // Nothing to fetch: no script, no external source or link (the SVG namespace is a name).
    for fetch in ["<script", " src=", " href=", "@import", "url("] {
        assert!(!page.contains(fetch), "{fetch} in the page");
    }

    let text = std::fs::read_to_string(hgrm.join("local_persistent.simple_calc.hgrm")).unwrap();
    assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
    assert!(text.contains("Total count    =            5]"), "{text}");
    assert_eq!(std::fs::read_dir(&hgrm).unwrap().count(), 4);
    let from_run = dir
        .path()
        .join("run-hgrm/local_persistent.simple_calc.hgrm");
    assert_eq!(
        std::fs::read_to_string(from_run).unwrap(),
        text,
        "run exports the same"
    );
}

#[test]
fn report_fits_a_100_column_terminal_with_one_warning_line_per_kind() {
    let out = bench()
        .args(["report", RECORDED_RUN])
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    common::assert_fits(&text, 100);
    assert!(text.contains("compose:persistent  simple_calc"), "{text}");
    assert!(!text.contains("Cold start"), "{text}");
    let warnings = text.split("Warnings").nth(1).expect("warnings shown");
    let kinds: Vec<&str> = warnings
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&str> = kinds.iter().copied().collect();
    assert!(
        kinds.len() > 1,
        "several kinds, so a repeat could show: {text}"
    );
    assert_eq!(kinds.len(), unique.len(), "a kind on two lines: {text}");
    assert!(kinds.contains(&"high_cv"), "{text}");

    let wide = bench()
        .args(["report", RECORDED_RUN, "--wide", "--verbose"])
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let wide = String::from_utf8(wide.stdout).unwrap();
    assert!(wide.contains("Cold start"), "{wide}");
    assert!(wide.contains("σ is 124 % of the mean"), "{wide}");
}

#[test]
fn ci_dashboard_exports_hold_every_row_with_its_interval() {
    let run = |format: &str| -> serde_json::Value {
        let out = bench()
            .args(["report", RECORDED_RUN, "--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let action = run("github-benchmark");
    let entries = action.as_array().unwrap();
    assert_eq!(entries.len(), 14);
    let first = &entries[0];
    assert_eq!(first["name"], "compose:per-call/simple_calc p50");
    assert_eq!(first["unit"], "us");
    assert!(first["range"].as_str().unwrap().starts_with("± "));
    assert!(first["extra"].as_str().unwrap().contains("50 calls"));

    let bmf = run("bmf");
    let rows = bmf.as_object().unwrap();
    assert_eq!(rows.len(), 14);
    for (name, measures) in rows {
        let l = &measures["latency"];
        let (low, value, high) = (
            l["lower_value"].as_f64().unwrap(),
            l["value"].as_f64().unwrap(),
            l["upper_value"].as_f64().unwrap(),
        );
        assert!(low <= value && value <= high, "{name}: {l}");
    }
    // The same p50 in both, in µs and in ns.
    let p50_us = first["value"].as_f64().unwrap();
    let p50_ns = bmf["compose:per-call/simple_calc"]["latency"]["value"]
        .as_f64()
        .unwrap();
    assert!((p50_ns / 1000.0 - p50_us).abs() < 0.01);
}

#[test]
fn files_of_another_schema_version_are_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("newer.json");
    std::fs::write(&newer, r#"{"schema_version": 2, "results": []}"#).unwrap();
    bench()
        .arg("report")
        .arg(&newer)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("schema_version 2, newer than"));
    bench()
        .args(["compare", "no-such-file.json"])
        .arg(&newer)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read 'no-such-file.json'"));
    bench()
        .args(["run", "--backends", "local:persistent", "--export-hgrm"])
        .arg(newer.join("not-a-dir"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--export-hgrm: cannot create"));
}

#[test]
fn compare_fails_a_new_run_whose_calls_all_failed() {
    let dir = tempfile::tempdir().unwrap();
    let base = run_probe(dir.path(), "base", "local:persistent", "result = 1", 10);
    let broken = run_probe_failing(
        dir.path(),
        "broken",
        "local:persistent",
        "result = 1 / 0",
        10,
    );
    let e = common::entry(&read_results(&broken), "local:persistent", "probe").clone();
    assert_eq!(
        (&e["calls"], &e["errors"], &e["warmup_errors"]),
        (&10.into(), &10.into(), &3.into()),
        "10 measured calls, a cold start and 2 warm-up calls, all failed: {e}"
    );
    assert_eq!(e["errors_by_kind"], serde_json::json!({"code_error": 13}));
    bench()
        .arg("compare")
        .arg(&base)
        .arg(&broken)
        .args(["--format", "markdown"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "| local:persistent | probe | 10 → 0 | – | – | no samples \
             | regressed: no successful call, errors 0 → 13 |",
        ))
        .stderr(predicate::str::contains(
            "error: 1 of 1 rows regressed: 1 lost calls, samples or the row",
        ));
    bench()
        .arg("gate")
        .arg(&broken)
        .arg("--against")
        .arg(&base)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to gate"));
}

#[test]
fn compare_and_gate_fail_on_a_row_or_backend_missing_in_new() {
    let dir = tempfile::tempdir().unwrap();
    let both = "local:per-call,local:persistent";
    let base = run_probe(dir.path(), "base", both, "result = 1", 6);
    let without = rewrite(&base, &dir.path().join("without.json"), |v| {
        let rows = v["results"].as_array_mut().unwrap();
        rows.retain(|e| e["backend"] != "local:persistent");
        assert_eq!(rows.len(), 1);
    });
    bench()
        .arg("compare")
        .arg(&base)
        .arg(&without)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "missing in NEW: local:persistent × probe",
        ))
        .stdout(predicate::str::contains("regressed: missing in NEW"))
        .stdout(predicate::str::contains("no significant change"))
        .stderr(predicate::str::contains("1 of 2 rows regressed"));
    bench()
        .arg("gate")
        .arg(&without)
        .arg("--against")
        .arg(&base)
        .assert()
        .code(1)
        .stdout(predicate::eq(
            "FAIL local:persistent: no speed-up over local:per-call in both runs \
             lost: missing in NEW\n",
        ));
}

#[test]
fn compare_and_gate_on_known_changes_of_a_real_run() {
    let dir = tempfile::tempdir().unwrap();
    let both = "local:per-call,local:persistent";
    let base = run_probe(dir.path(), "base", both, "result = 1", 6);
    // Every call of NEW four times as slow as the slowest of BASE: every resampled change is
    // beyond +300 %, whatever the spread of this run.
    let slowest = rewrite(&base, &dir.path().join("slowest.json"), |v| {
        each_histogram(
            v,
            |_| true,
            |h| {
                let mut out = stats::new_histogram();
                out.record_n(4 * h.highest_equivalent(h.max()), h.len())
                    .unwrap();
                out
            },
        )
    });
    bench()
        .arg("compare")
        .arg(&base)
        .arg(&slowest)
        .args(["--format", "markdown"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "| local:per-call | probe | 6 → 6 |",
        ))
        .stdout(predicate::str::contains(
            "| local:persistent | probe | 6 → 6 |",
        ))
        .stdout(predicate::str::contains("slower (beyond 50.0 %)").count(2))
        .stderr(predicate::str::contains(
            "2 of 2 rows regressed: 2 slower beyond ±50.0 % (p50)",
        ));
    bench()
        .arg("compare")
        .arg(&slowest)
        .arg(&base)
        .args(["--metric", "mean"])
        .assert()
        .success()
        .stdout(predicate::str::contains("faster").count(2))
        .stdout(predicate::str::contains("no regression among 2 rows"));
    // Every latency doubled, as on a slower machine: each speed-up is kept.
    let scaled = rewrite(&base, &dir.path().join("scaled.json"), |v| {
        each_histogram(v, |_| true, |h| times(h, 2))
    });
    bench()
        .arg("gate")
        .arg(&scaled)
        .arg("--against")
        .arg(&base)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "ok   local:persistent: p50 speed-up over local:per-call",
        ));
    // Only the persistent path four times as slow: three quarters of its speed-up are lost.
    let slowed = rewrite(&base, &dir.path().join("slowed.json"), |v| {
        each_histogram(v, |e| e["backend"] == "local:persistent", |h| times(h, 4))
    });
    bench()
        .arg("gate")
        .arg(&slowed)
        .arg("--against")
        .arg(&base)
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("FAIL local:persistent"))
        .stdout(predicate::str::contains("(75.0 % of it lost;"));
    bench()
        .arg("compare")
        .arg(&base)
        .arg(&scaled)
        .args(["--threshold", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--threshold: 'lots'"));
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        bench()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("sandbox-bench"))
            .stdout(predicate::str::contains("compare"));
    }
    bench().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let browser = ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if browser.is_none() {
        common::skip::skip(
            "no chromium to render the report",
            "apt-get install -y chromium",
            None,
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    bench()
        .args(["report", RECORDED_RUN, "--format", "html", "-o"])
        .arg(&html)
        .assert()
        .success();
    let png = dir.path().join("report.png");
    let out = std::process::Command::new("bash")
        .arg(format!("{}/scripts/screenshot-report.sh", common::ROOT))
        .arg(&html)
        .arg(&png)
        .arg("1000,1200")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // A blank page compresses to a few kB; tables and plots take far more.
    assert!(
        bytes.len() > 30_000,
        "{} bytes: the page looks empty",
        bytes.len()
    );
}
