//! The CI gate on a real run through the Compose sandbox. Without a Docker engine this skips
//! with a notice on a developer's machine, and fails under CI=true.

mod common;

use std::process::Command;

use common::{bench, read_results};
use predicates::prelude::*;

fn engine_answers() -> bool {
    let answers = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !answers {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no Docker engine answers: run `bash scripts/setup-docker.sh` first"
        );
        eprintln!("SKIPPED: no Docker engine answers (run `bash scripts/setup-docker.sh`)");
    }
    answers
}

#[test]
fn a_real_compose_run_passes_the_gate_against_the_committed_baseline() {
    if !engine_answers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("run.json");
    bench()
        .args(["run", "--quiet", "--backends", "compose-exec,persistent"])
        .args([
            "--workloads",
            "simple_calc,dict_ops",
            "--calls-scale",
            "0.2",
        ])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    assert_eq!(
        read_results(&output)["results"].as_array().unwrap().len(),
        4
    );
    bench()
        .arg("gate")
        .arg(&output)
        .args(["--against", "results/baseline.json"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "ok   compose:persistent: p50 speed-up over compose:per-call",
        ));
    // The baseline holds all seven workloads; only the two shared rows are compared.
    bench()
        .args(["compare", "results/baseline.json"])
        .arg(&output)
        .args(["--format", "markdown"])
        .assert()
        .stdout(predicate::str::contains(
            "| compose:persistent | dict_ops |",
        ))
        .stdout(predicate::str::contains(
            "only in BASE: compose:per-call × loop_calc",
        ));
}
