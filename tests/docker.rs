//! The built binary against the real Compose sandbox. Without a Docker engine these tests skip
//! with a notice on a developer's machine, and fail under CI: CI never skips them.

mod common;

use std::process::Command;

use common::sandbox::{BLOCKED_HANG, engine, processes_left};
use common::{SEVEN_AT_A_TENTH, assert_clean, bench, entry, read_results, write_workload};
use predicates::prelude::*;

#[test]
fn compose_exec_and_persistent_measure_the_seven_workloads() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    let run = bench()
        .args(["run", "--calls-scale", "0.1", "--output"])
        .arg(&output)
        .env("COLUMNS", "100")
        .assert()
        .success()
        .stdout(predicate::str::contains("compose:persistent is"));
    common::assert_fits(&String::from_utf8_lossy(&run.get_output().stdout), 100);
    let results = read_results(&output);
    assert_eq!(
        results["settings"]["backends"][0], "compose:per-call",
        "default pair"
    );
    assert!(results["versions"]["docker"].as_str().is_some());
    assert!(results["versions"]["compose"].as_str().is_some());
    assert!(
        results["versions"]["sandbox_python"]
            .as_str()
            .unwrap()
            .starts_with('3')
    );
    let workloads: Vec<String> = results["settings"]["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    let seven: Vec<&str> = SEVEN_AT_A_TENTH.iter().map(|(w, _)| *w).collect();
    assert_eq!(workloads, seven);
    assert_clean(
        &results,
        &["compose:per-call", "compose:persistent"],
        &SEVEN_AT_A_TENTH,
    );
}

#[test]
fn faults_in_the_container_are_recovered_and_leave_no_agent_behind() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Each case once, every fault followed by a normal call. The hangs never end by themselves;
    // a normal call has 5 + 2 s (a `docker compose exec` on a busy machine included): the
    // counts do not depend on the machine's speed.
    write_workload(
        dir.path(),
        "faults",
        1,
        &[
            ("result = 'ok'", "'ok'"),
            ("import time; time.sleep(3600)", "None"),
            ("result = 2 ** 10", "1024"),
            ("import os; os._exit(1)", "None"),
            ("result = 'after a crash'", "'after a crash'"),
            // The agent's own timer cannot fire: the harness must kill it inside the sandbox.
            (BLOCKED_HANG, "None"),
            ("result = 'after a kill'", "'after a kill'"),
        ],
    );
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--backends", "compose:persistent,compose:per-call"])
        .args(["--warmup", "0", "--timeout", "5"])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    let results = read_results(&output);
    for backend in ["compose:persistent", "compose:per-call"] {
        let e = entry(&results, backend, "faults");
        assert_eq!(e["calls"], 7, "{backend}: {e}");
        assert_eq!(e["errors_by_kind"]["timeout"], 2, "{backend}: {e}");
        assert_eq!(e["errors_by_kind"]["agent_died"], 1, "{backend}: {e}");
        assert_eq!(e["warmup_errors"], 0, "{backend}: {e}");
        let h = sandbox_bench::bench::stats::decode(e["histogram"].as_str().unwrap()).unwrap();
        assert_eq!(h.len(), 4, "{backend}: every call after a fault succeeded");
    }
    // A crash and a hang the agent could not stop itself.
    let restarts = &entry(&results, "compose:persistent", "faults")["restarts"];
    assert_eq!(*restarts, 2);
    // Agents exit when their input closes; give the last one a moment to go.
    let left = processes_left();
    assert!(
        left.is_empty(),
        "agents left running in the sandbox: {left:?}"
    );
}

#[test]
fn a_missing_compose_file_is_a_clear_error() {
    let Some(_sandbox) = engine() else { return };
    bench()
        .args([
            "run",
            "--backends",
            "persistent",
            "--compose-file",
            "/no/such/compose.yml",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no compose file at '/no/such/compose.yml'",
        ));
}

#[test]
fn container_per_call_gives_every_call_a_fresh_filesystem() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let marker = "import os\nseen = os.path.exists('/tmp/marker')\nopen('/tmp/marker', 'w').close()\nresult = seen";
    write_workload(
        dir.path(),
        "fresh_fs",
        2,
        &[(marker, "False"), (BLOCKED_HANG, "None")],
    );
    let output = dir.path().join("out.json");
    // A normal call has 5 + 2 s for a container's start: the verdict does not depend on speed.
    bench()
        .args(["run", "--backends", "container:per-call,compose:per-call"])
        .args(["--warmup", "0", "--timeout", "5", "--calibration", "2"])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    let results = read_results(&output);
    let fresh = entry(&results, "container:per-call", "fresh_fs");
    assert_eq!(fresh["errors_by_kind"]["timeout"], 2, "{fresh}");
    assert_eq!(
        fresh["errors"], 2,
        "only the hangs fail: no call saw the marker: {fresh}"
    );
    assert_eq!(results["calibration"][0]["errors"], 0);
    // The same container for every call: the marker left by the cold start (or an earlier run)
    // is seen, so every measured call is a wrong answer or a hang.
    let shared = entry(&results, "compose:per-call", "fresh_fs");
    assert_eq!(shared["errors"], 4, "every measured call fails: {shared}");
    // Hung containers were killed, not left running. (By the project's labels: a name filter
    // also matched the service's own container when the checkout's folder is sandbox-bench.)
    let left = one_off_containers();
    assert!(left.is_empty(), "containers left running: {left:?}");
}

#[test]
fn several_container_backends_in_one_run_do_not_collide() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    let backends = ["container:persistent", "container:fork", "container:pool=2"];
    bench()
        .args([
            "run",
            "--backends",
            &backends.join(","),
            "--workloads",
            "simple_calc",
        ])
        .args([
            "--calls-scale",
            "0.1",
            "--calibration",
            "2",
            "--concurrency",
            "2",
            "--output",
        ])
        .arg(&output)
        .assert()
        .success();
    assert_clean(&read_results(&output), &backends, &[("simple_calc", 5)]);
}

/// Containers of this checkout's Compose project started by `run` (one-off), still running.
fn one_off_containers() -> Vec<String> {
    let config = Command::new("docker")
        .args([
            "compose",
            "-f",
            &format!("{}/docker-compose.yml", common::ROOT),
        ])
        .args(["config", "--format", "json"])
        .output()
        .expect("docker compose config runs");
    let config: serde_json::Value = serde_json::from_slice(&config.stdout).expect("JSON config");
    let project = config["name"].as_str().expect("a project name");
    let out = Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!("label=com.docker.compose.project={project}"))
        .args(["--filter", "label=com.docker.compose.oneoff=True"])
        .output()
        .expect("docker ps runs");
    assert!(
        out.status.success(),
        "docker ps: an empty list would say nothing"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_container_per_call_timeout_kills_its_own_container_not_another_calls() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    // One hang among normal calls that each take a second or more: while the hang waits out
    // its timeout, the other client goes on starting containers, and one is running when the
    // hang's deadline comes. Seven of them outlast the hang's 5 + 2 s however fast the engine.
    let normal = ("import time\ntime.sleep(1)\nresult = 1", "1");
    let mut cases = vec![normal, (BLOCKED_HANG, "None")];
    cases.extend([normal; 7]);
    write_workload(dir.path(), "one_hang", 1, &cases);
    let output = dir.path().join("out.json");
    // A normal call has 5 + 2 s for a container start and a one-second sleep: a verdict that
    // does not hang on the machine's speed.
    bench()
        .args([
            "run",
            "--backends",
            "container:per-call",
            "--concurrency",
            "2",
        ])
        .args(["--timeout", "5", "--warmup", "0", "--calibration", "0"])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    // Cleared before the verdict, so a failure leaves no hang behind for the next test.
    let left = one_off_containers();
    if !left.is_empty() {
        let _ = Command::new("docker").arg("kill").args(&left).output();
    }
    let e = entry(&read_results(&output), "container:per-call", "one_hang").clone();
    assert_eq!(e["calls"], 9, "{e}");
    assert_eq!(
        e["errors_by_kind"]["timeout"], 1,
        "the hang is a timeout: {e}"
    );
    assert_eq!(
        e["errors"], 1,
        "only the hang fails: its kill reached no other call's container: {e}; left running: {left:?}"
    );
    assert!(
        left.is_empty(),
        "the hung container was left running: {left:?}"
    );
}

#[test]
fn faults_stopped_by_sigterm_write_what_ran_marked_incomplete_and_leave_nothing() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("faults.json");
    let out = output.to_str().unwrap();
    // Each probe's outcome is a progress line "backend × probe: …": stopped after two of them.
    // A probe takes seconds: the bound is for a busy machine, not a measurement.
    let mut probed = 0;
    let args = [
        "faults",
        "--backends",
        "compose:persistent",
        "--output",
        out,
    ];
    let (code, stderr) =
        common::stopped_by_sigterm(&args, std::time::Duration::from_secs(180), |line| {
            probed += usize::from(line.contains(" × "));
            probed == 2
        });
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let results = read_results(&output);
    assert_eq!(results["complete"], false, "{results}");
    let ran = results["outcomes"].as_array().unwrap().len();
    let all = sandbox_bench::probes::fault_probes::PROBES.len();
    assert!((2..all).contains(&ran), "{ran} of {all} probes: {results}");
    let left = processes_left();
    assert!(left.is_empty(), "left running in the sandbox: {left:?}");
}

/// The README's "which strategy" table, asserted on the real sandbox: a fork or per-call
/// backend lets nothing of one call's interpreter reach the next (a planted request included),
/// only the container's shared /tmp; a container per call not even that.
#[test]
fn the_isolation_the_readme_promises_holds_in_the_sandbox() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("isolation.json");
    let backends = [
        "compose:fork",
        "socket:fork",
        "compose:per-call",
        "container:per-call",
    ];
    bench()
        .args(["isolation", "--quiet", "--backends", &backends.join(",")])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    let outcomes = results["outcomes"].as_array().unwrap();
    let probes = sandbox_bench::probes::isolation_probes::PROBES;
    assert_eq!(
        outcomes.len(),
        probes.len() * backends.len(),
        "{outcomes:?}"
    );
    for b in backends {
        for p in &probes {
            let o = outcomes
                .iter()
                .find(|o| o["probe"] == p.name && o["backend"] == b)
                .unwrap_or_else(|| panic!("{b} × {}: no outcome", p.name));
            let expected = if p.name == "tmp_file" && b != "container:per-call" {
                "leaks"
            } else {
                "isolated"
            };
            assert_eq!(o["outcome"], expected, "{b} × {}: {o}", p.name);
        }
    }
}
