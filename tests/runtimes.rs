//! Isolation runtimes side by side, on the real engines: every transport that runs in a Compose
//! sandbox runs under gVisor (`@runsc`) and crun (`@crun`), every strategy runs in bubblewrap
//! (`bwrap`), every answer checked; in bubblewrap the fault probes are all green and the
//! isolation matrix is the one docs/runtimes.md shows; under gVisor the fault probes are green
//! but for the memory and fork bombs, which are reported as not provided (they take the whole
//! sandbox down: tests/walls.rs asserts that). A runtime that is not set up skips visibly, and
//! fails under
//! CI (whose set-up installs and registers them) or `SANDBOX_BENCH_REQUIRE_RUNTIMES`.

mod common;

use std::path::Path;
use std::sync::MutexGuard;

use common::{ROOT, assert_clean, bench, read_results, write_workload};
use sandbox_bench::sandbox::profile::Profile;

/// The engine lock when Docker offers `runtime`, else a visible skip.
fn docker_with(runtime: &str) -> Option<MutexGuard<'static, ()>> {
    let compose = Path::new(ROOT).join("docker-compose.yml");
    common::sandbox::runtime(&Profile::for_runtime(runtime, &compose, "sandbox"))
}

/// A workload of two checked cases (the second fails unless the interpreter is real Python 3).
fn workload(dir: &Path) {
    write_workload(
        dir,
        "sums",
        2,
        &[
            ("result = sum(range(10))", "45"),
            ("import sys\nresult = sys.version_info[0]", "3"),
        ],
    );
}

/// Runs `backends` over the small workload and checks every answer and figure; returns the
/// results.
fn run_clean(backends: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    workload(dir.path());
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--quiet", "--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(&results, backends, &[("sums", 4)]);
    results
}

/// The profile of the results file called `name`.
fn profile_of<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["profiles"]
        .as_array()
        .expect("profiles recorded")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("profile {name} in {results}"))
}

/// Brings a built-in runtime profile's Compose project down after its test.
fn down(runtime: &str) {
    let _ = std::process::Command::new("docker")
        .args(["compose", "-f", "docker-compose.yml"])
        .args(["-p", &format!("{}-{runtime}", project_dir())])
        .args(["down", "-t", "0"])
        .current_dir(ROOT)
        .output();
}

/// The Compose project prefix of this checkout (its directory's name, as `Profile::project`).
fn project_dir() -> String {
    let compose = Path::new(ROOT).join("docker-compose.yml");
    let p = Profile::for_runtime("x", &compose, "sandbox");
    p.project().unwrap().trim_end_matches("-x").to_string()
}

/// The transports into the Compose sandbox and every strategy, interleaved in one run under
/// gVisor (its own Compose service, whose pids cgroup leaves room for gVisor's threads).
#[test]
fn the_compose_transports_run_under_gvisor() {
    let Some(_sandbox) = docker_with("runsc") else {
        return;
    };
    let backends = [
        "compose@runsc:persistent",
        "compose@runsc:fork",
        "compose@runsc:reset=1000",
        "compose@runsc:pool=2",
        "docker@runsc:per-call",
        "api@runsc:persistent",
        "cmd@runsc:persistent",
        "socket@runsc:fork",
        "container@runsc:per-call",
    ];
    let results = run_clean(&backends);
    let p = profile_of(&results, "runsc");
    assert_eq!(p["runtime"], "runsc", "{p}");
    assert_eq!(
        p["sandbox"]["runtime"], "runsc",
        "the engine ran it so: {p}"
    );
    down("runsc");
}

#[test]
fn compose_transports_run_under_crun() {
    let Some(_sandbox) = docker_with("crun") else {
        return;
    };
    let backends = [
        "compose@crun:persistent",
        "socket@crun:fork",
        "container@crun:per-call",
    ];
    let results = run_clean(&backends);
    assert_eq!(profile_of(&results, "crun")["sandbox"]["runtime"], "crun");
    down("crun");
}

/// bubblewrap's lock, when it can make its sandbox here.
fn bwrap() -> Option<MutexGuard<'static, ()>> {
    common::sandbox::bwrap().map(|(guard, _)| guard)
}

#[test]
fn every_strategy_runs_in_bubblewrap() {
    let Some(_bwrap) = bwrap() else { return };
    run_clean(&[
        "bwrap:per-call",
        "bwrap:persistent",
        "bwrap:pool=2",
        "bwrap:fork",
        "bwrap:reset=3",
    ]);
}

/// The fault probes through `backends`: every probe run (none skipped for want of limits),
/// all green, nothing left behind.
fn faults_all_green(backends: &[&str]) {
    faults_green_but(backends, &[]);
}

/// As `faults_all_green`, but the probes `not_provided` are reported so and not run.
fn faults_green_but(backends: &[&str], not_provided: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("faults.json");
    bench()
        .args(["faults", "--quiet", "--backends", &backends.join(",")])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    let outcomes = results["outcomes"].as_array().unwrap();
    assert_eq!(
        outcomes.len(),
        backends.len() * sandbox_bench::probes::fault_probes::PROBES.len()
    );
    for o in outcomes {
        assert_ne!(o["outcome"], "skipped", "{o}");
        let probe = o["probe"].as_str().unwrap();
        assert_eq!(
            o["outcome"].as_str().unwrap().starts_with("not provided: "),
            not_provided.contains(&probe),
            "{o}"
        );
        assert_eq!(o["as_expected"], true, "{o}");
        assert_eq!(o["green"], true, "{o}");
        assert_eq!(o["recovered"], true, "{o}");
        assert_eq!(o["leftovers"].as_array().unwrap().len(), 0, "{o}");
    }
    assert_eq!(results["all_green"], true);
}

#[test]
fn faults_are_all_green_in_bubblewrap_with_its_limits() {
    let Some(_bwrap) = bwrap() else { return };
    // Without root there is no cgroup, and the limit probes are skipped: not this test's case.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        common::skip::skip(
            "bubblewrap's limits need root (a cgroup of its own)",
            "run the tests as root",
            Some("SANDBOX_BENCH_REQUIRE_RUNTIMES"),
        );
        return;
    }
    faults_all_green(&["bwrap:per-call", "bwrap:persistent", "bwrap:fork"]);
}

/// Under gVisor: no subreaper (gVisor refuses PR_SET_CHILD_SUBREAPER), so a daemonized
/// grandchild is found among the container init's children; the bombs are not provided.
#[test]
fn faults_under_gvisor_are_green_but_the_bombs_not_provided() {
    let Some(_sandbox) = docker_with("runsc") else {
        return;
    };
    faults_green_but(
        &[
            "compose@runsc:persistent",
            "compose@runsc:fork",
            "compose@runsc:per-call",
        ],
        &["memory_bomb", "fork_bomb"],
    );
    down("runsc");
}

/// The isolation matrix: a sandbox per call forgets everything, its /tmp too; a fork zygote
/// forgets all but the sandbox's /tmp; a persistent interpreter keeps what the Compose sandbox's
/// keeps.
#[test]
fn isolation_in_bubblewrap_is_per_sandbox() {
    let Some(_bwrap) = bwrap() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("isolation.json");
    bench()
        .args(["isolation", "--quiet", "--backends"])
        .arg("bwrap:per-call,bwrap:fork,bwrap:persistent")
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    let outcomes = results["outcomes"].as_array().unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let persistent_leaks = [
        "import",
        "sys_path",
        "builtin_monkeypatch",
        "os_environ",
        "tmp_file",
        "module_memory",
        "planted_call",
    ];
    for o in outcomes {
        let probe = o["probe"].as_str().unwrap();
        let leaks = match o["backend"].as_str().unwrap() {
            "bwrap:per-call" => false,
            "bwrap:fork" => probe == "tmp_file",
            // A call cannot plant a request in its agent's stdin when the harness is root:
            // the pipe is root's, and /proc/self/fd/0 does not reopen it for uid 65534.
            "bwrap:persistent" if probe == "planted_call" => !root,
            "bwrap:persistent" => persistent_leaks.contains(&probe),
            other => panic!("{other}"),
        };
        let expected = if leaks { "leaks" } else { "isolated" };
        assert_eq!(o["outcome"], expected, "{o}");
    }
    assert_eq!(
        outcomes.len(),
        3 * sandbox_bench::probes::isolation_probes::PROBES.len()
    );
}

#[test]
fn bwrap_is_refused_on_a_profile_in_one_line() {
    bench()
        .args(["run", "--backends", "bwrap@runsc:persistent"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("on no engine"));
}

/// Podman's Docker-compatible API ignores a container's runtime: a profile asking for one
/// would be measured under its default runtime, so it is refused before anything starts.
/// Podman runs crun through a service of its own (its Docker-compatible API ignores a
/// container's runtime): a profile with engine=podman,runtime=crun goes there and runs under
/// crun, as the engine reports it; a runtime no service runs by default is refused in one line.
#[test]
fn crun_on_podman_runs_through_its_own_service_and_another_runtime_is_refused() {
    let Some(_podman) = common::sandbox::podman() else {
        return;
    };
    let profile = "pc:engine=podman,runtime=crun";
    let dir = tempfile::tempdir().unwrap();
    workload(dir.path());
    let output = dir.path().join("out.json");
    let backends = ["compose@pc:persistent", "compose@pc:fork"];
    bench()
        .args(["run", "--quiet", "--profile", profile])
        .args(["--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(&results, &backends, &[("sums", 4)]);
    let p = profile_of(&results, "pc");
    assert_eq!(p["sandbox"]["runtime"], "crun", "the engine ran it so: {p}");
    let _ = std::process::Command::new("docker")
        .args(["compose", "-f", "docker-compose.yml"])
        .args(["-p", &format!("{}-pc", project_dir())])
        .args(["down", "-t", "0"])
        .env("DOCKER_HOST", "unix:///run/podman/podman-crun.sock")
        .current_dir(ROOT)
        .output();

    let run = bench()
        .args(["run", "--profile", "pr:engine=podman,runtime=runc"])
        .args(["--profile", "pg:engine=podman,runtime=runsc"])
        .args(["--backends", "compose@pg:persistent"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("podman-runsc.sock"), "{stderr}");
}
