//! `report`, `compare`, `gate` and `completions` on results files written by real local runs.

mod common;

use std::path::{Path, PathBuf};

use common::{bench, read_results, write_workload};
use predicates::prelude::*;

/// Runs `backends` on one workload `probe` whose code is `code`, into `dir/name.json`.
fn run_probe(dir: &Path, name: &str, backends: &str, code: &str, calls: u32) -> PathBuf {
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
        .success();
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
fn compare_flags_a_slowed_path_and_not_a_run_against_itself() {
    let dir = tempfile::tempdir().unwrap();
    let fast = run_probe(dir.path(), "fast", "local:persistent", "result = 1", 30);
    let slow = run_probe(
        dir.path(),
        "slow",
        "local:persistent",
        "import time\ntime.sleep(0.02)\nresult = 1",
        30,
    );
    bench()
        .arg("compare")
        .arg(&fast)
        .arg(&fast)
        .assert()
        .success()
        .stdout(predicate::str::contains("no significant change"))
        .stdout(predicate::str::contains("no regression among 1 rows"));
    bench()
        .arg("compare")
        .arg(&fast)
        .arg(&slow)
        .args(["--format", "markdown"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "| local:persistent | probe | 30 → 30 |",
        ))
        .stdout(predicate::str::contains("slower (beyond 50.0 %)"))
        .stderr(predicate::str::contains("1 rows are slower"));
    bench()
        .arg("compare")
        .arg(&slow)
        .arg(&fast)
        .args(["--metric", "mean"])
        .assert()
        .success()
        .stdout(predicate::str::contains("faster"));
    bench()
        .arg("compare")
        .arg(&fast)
        .arg(&slow)
        .args(["--threshold", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--threshold: 'lots'"));
}

#[test]
fn gate_fails_when_the_persistent_speed_up_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let both = "local:per-call,local:persistent";
    let base = run_probe(dir.path(), "base", both, "result = 1", 6);
    // The same sleep in both strategies: per-call keeps its start-up cost, persistent loses
    // nearly all of its lead.
    let slowed = run_probe(
        dir.path(),
        "slowed",
        both,
        "import time\ntime.sleep(0.05)\nresult = 1",
        6,
    );
    bench()
        .arg("gate")
        .arg(&base)
        .arg("--against")
        .arg(&base)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ok   local:persistent"));
    bench()
        .arg("gate")
        .arg(&slowed)
        .arg("--against")
        .arg(&base)
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("FAIL local:persistent"));
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
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no chromium: .ci/run installs it (apt-get install -y chromium)"
        );
        eprintln!("SKIPPED: no chromium to render the report (apt-get install -y chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    bench()
        .args(["report", "results/baseline.json", "--format", "html", "-o"])
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
