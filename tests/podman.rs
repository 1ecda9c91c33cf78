//! The backends on Podman, for real: every transport through Podman's Docker-compatible socket
//! (and `podman exec` for cmd@podman) beside a Docker backend in one run, the fault probes and
//! the isolation matrix over Podman backends, and the errors of a missing or refused engine.
//! Skips, visibly, without Podman's service; fails under CI, which sets it up with
//! scripts/setup-podman.sh.

mod common;

use common::{assert_clean, bench, read_results, write_workload};

#[test]
fn every_transport_runs_on_podman_beside_docker_in_one_run() {
    let Some(_docker) = common::sandbox::engine() else {
        return;
    };
    let Some(_podman) = common::sandbox::podman() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_workload(dir.path(), "sums", 3, &[("result = sum(range(10))", "45")]);
    let output = dir.path().join("results.json");
    let backends = [
        "docker:persistent",
        "compose@podman:per-call",
        "docker@podman:persistent",
        "api@podman:per-call",
        "api@podman:persistent",
        "cmd@podman:per-call",
        "cmd@podman:fork",
        "socket@podman:persistent",
        "container@podman:per-call",
    ];
    bench()
        .args(["run", "--quiet", "--warmup", "1", "--calibration", "0"])
        .args(["--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(&results, &backends, &[("sums", 3)]);
    let versions = &results["versions"];
    assert!(versions["docker"].is_string(), "{versions}");
    assert!(
        versions["podman"].as_str().is_some_and(|v| !v.is_empty()),
        "{versions}"
    );
}

#[test]
fn the_fault_probes_are_green_on_podman() {
    let Some(_podman) = common::sandbox::podman() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("faults.json");
    bench()
        .args(["faults", "--quiet"])
        .args(["--backends", "cmd@podman:per-call,api@podman:persistent"])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_eq!(results["all_green"], true, "{results}");
    let outcomes = results["outcomes"].as_array().unwrap();
    // Probes that need the sandbox's limits run on Podman: nothing is skipped there.
    let probes = sandbox_bench::probes::fault_probes::PROBES.len();
    assert_eq!(outcomes.len(), 2 * probes, "every probe on both: {results}");
    assert!(
        outcomes.iter().all(
            |o| o["outcome"] != "skipped" && o["backend"].as_str().unwrap().contains("@podman")
        ),
        "{results}"
    );
}

#[test]
fn isolation_on_podman_tells_a_fresh_interpreter_from_a_kept_one() {
    let Some(_podman) = common::sandbox::podman() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("isolation.json");
    bench()
        // A per-call start through `podman exec` can take seconds on a busy machine, and the
        // probes' default 2 s timeout counts it.
        .args(["isolation", "--quiet", "--timeout", "10"])
        .args(["--backends", "cmd@podman:per-call,cmd@podman:persistent"])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    let outcome = |backend: &str, probe: &str| {
        results["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["probe"] == probe && o["backend"] == backend)
            .unwrap_or_else(|| panic!("{backend} × {probe} in {results}"))["outcome"]
            .clone()
    };
    // A module imported by call A is there for call B only in the interpreter that stays.
    assert_eq!(outcome("cmd@podman:per-call", "import"), "isolated");
    assert_eq!(outcome("cmd@podman:persistent", "import"), "leaks");
}

#[test]
fn a_podman_service_that_does_not_answer_is_one_clear_line() {
    let assert = bench()
        .env("CONTAINER_HOST", "unix:///nonexistent/podman.sock")
        .args(["run", "--backends", "api@podman:persistent"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/podman.sock") && stderr.contains("setup-podman.sh"),
        "{stderr}"
    );
}

#[test]
fn a_transport_podman_cannot_run_is_refused_with_the_reason() {
    let assert = bench()
        .args(["run", "--backends", "local@podman:per-call"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("not available on podman") && stderr.contains("no engine"),
        "{stderr}"
    );
}
