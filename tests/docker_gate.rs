//! The CI gate and compare on a real run through the Compose sandbox. Without a Docker engine
//! this skips with a notice on a developer's machine, and fails under CI=true.

mod common;

use common::sandbox::engine;
use common::{bench, read_results};
use predicates::prelude::*;

#[test]
fn the_gate_and_compare_read_a_real_compose_run() {
    let Some(_sandbox) = engine() else { return };
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
    // Whether this run keeps the baseline's speed-up depends on the machine's load at this
    // moment: .ci/run checks that on a release build. Here: the gate reads a real run and
    // passes it against itself, losing nothing.
    bench()
        .arg("gate")
        .arg(&output)
        .arg("--against")
        .arg(&output)
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
