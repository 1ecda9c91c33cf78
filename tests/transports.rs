//! The `docker` and `cmd` transports through the built binary, on the real Compose sandbox and
//! on the host. Docker-backed tests skip with a notice on a developer's machine without an
//! engine, and fail under CI: CI never skips them.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::sandbox::engine;
use common::{ROOT, assert_clean, bench, entry, read_results, write_workload};
use predicates::prelude::*;

fn compose(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(["compose", "-f", &format!("{ROOT}/docker-compose.yml")])
        .args(args)
        .output()
        .expect("docker compose runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The sandbox container's id, the service started if it was not.
fn container() -> String {
    compose(&["up", "-d", "--wait", "sandbox"]);
    compose(&["ps", "-q", "sandbox"])
}

/// Pids of the agents still running in the sandbox container, waiting a little for the last
/// ones to exit after their input closed.
fn agents_left_in_sandbox() -> Vec<String> {
    let probe = "import os\n\
        for p in os.listdir('/proc'):\n\
        \x20   if p.isdigit() and int(p) != os.getpid():\n\
        \x20       try:\n\
        \x20           c = open('/proc/%s/cmdline' % p, 'rb').read().replace(b'\\0', b' ')\n\
        \x20       except OSError:\n\
        \x20           continue\n\
        \x20       if b'sandbox-bench agent' in c:\n\
        \x20           print(p)";
    let mut left = Vec::new();
    // A bound for a stuck agent on a busy machine (half a minute or more), not a measurement.
    for _ in 0..80 {
        left = compose(&["exec", "-T", "sandbox", "python3", "-c", probe])
            .lines()
            .map(String::from)
            .collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    left
}

/// A workload whose answer depends on where the code ran: the uid (65534 in the sandbox).
fn where_workload(dir: &Path) {
    write_workload(
        dir,
        "where",
        3,
        &[("import os; result = os.getuid()", "65534")],
    );
}

#[test]
fn docker_exec_runs_every_strategy_in_the_sandbox_and_the_waterfall_is_printed() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    where_workload(dir.path());
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--warmup", "1"])
        .args([
            "--backends",
            "compose:per-call,docker:per-call,docker:persistent",
        ])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success()
        .stdout(predicate::str::contains("Where the time goes"))
        .stdout(predicate::str::contains("Compose CLI"))
        .stdout(predicate::str::contains("exec (agent-reported)"));
    let results = read_results(&output);
    let backends = ["compose:per-call", "docker:per-call", "docker:persistent"];
    assert_clean(&results, &backends, &[("where", 3)]);
    for b in backends {
        let e = entry(&results, b, "where");
        let exec =
            sandbox_bench::bench::stats::decode(e["exec_histogram"].as_str().unwrap()).unwrap();
        assert_eq!(exec.len(), 3, "{b}: one exec time per measured call");
    }
    assert!(
        results["versions"]["sandbox_python"]
            .as_str()
            .unwrap()
            .starts_with('3')
    );
}

#[test]
fn a_docker_exec_prefix_runs_every_strategy_in_the_sandbox() {
    let Some(_sandbox) = engine() else { return };
    let prefix = format!("docker exec -i {}", container());
    let dir = tempfile::tempdir().unwrap();
    where_workload(dir.path());
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--warmup", "1", "--prefix", &prefix])
        .args(["--backends", "cmd:per-call,cmd:persistent"])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(
        &results,
        &["cmd:per-call", "cmd:persistent"],
        &[("where", 3)],
    );
    assert_eq!(results["settings"]["prefix"], prefix);
}

#[test]
fn faults_take_the_sandbox_flags_and_a_docker_exec_prefix_is_all_green() {
    let Some(_sandbox) = engine() else { return };
    let prefix = format!("docker exec -i {}", container());
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("faults.json");
    bench()
        .args(["faults", "--quiet", "--backends", "cmd:persistent"])
        // Five seconds for a probe that should answer, on a busy machine.
        .args(["--prefix", &prefix, "--timeout", "5"])
        .arg("--output")
        .arg(&output)
        .assert()
        .success()
        .stdout(predicate::str::contains("infinite_loop"));
    let results = read_results(&output);
    assert_eq!(results["all_green"], true, "{results}");
    let outcomes = results["outcomes"].as_array().unwrap();
    let ran: Vec<_> = outcomes
        .iter()
        .filter(|o| o["outcome"] != "skipped")
        .collect();
    assert!(ran.len() >= 5, "{outcomes:?}");
    for o in ran {
        assert_eq!(o["backend"], "cmd:persistent", "{o}");
        assert_eq!(o["recovered"], true, "{o}");
        assert_eq!(o["leftovers"].as_array().unwrap().len(), 0, "{o}");
    }
    let left = agents_left_in_sandbox();
    assert!(left.is_empty(), "agents left in the sandbox: {left:?}");
}

#[test]
fn an_env_prefix_runs_on_the_host_with_its_variables() {
    let dir = tempfile::tempdir().unwrap();
    write_workload(
        dir.path(),
        "env",
        2,
        &[(
            "import os; result = os.environ.get('SANDBOX_BENCH_PROBE')",
            "'through the prefix'",
        )],
    );
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--warmup", "0"])
        .args(["--prefix", "env 'SANDBOX_BENCH_PROBE=through the prefix'"])
        .args(["--backends", "cmd:per-call,cmd:persistent"])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(&results, &["cmd:per-call", "cmd:persistent"], &[("env", 2)]);
}

#[test]
fn cmd_without_a_usable_prefix_is_a_usage_error() {
    bench()
        .args(["run", "--backends", "cmd:per-call"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cmd:per-call needs --prefix"));
    bench()
        .args(["run", "--backends", "cmd:per-call", "--prefix", "env 'oops"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unbalanced quotes"));
}

#[test]
fn timeouts_over_docker_and_prefixes_leave_no_agent_in_the_sandbox() {
    let Some(_sandbox) = engine() else { return };
    let prefix = format!("docker exec -i {}", container());
    let dir = tempfile::tempdir().unwrap();
    // Each case once, every fault followed by a normal call; the hang never ends by itself,
    // and a normal call has 5 + 2 s: the counts do not depend on the machine's speed.
    write_workload(
        dir.path(),
        "faults",
        1,
        &[
            ("result = 'ok'", "'ok'"),
            ("import time; time.sleep(3600)", "None"),
            ("result = 'after a hang'", "'after a hang'"),
            ("import os; os._exit(1)", "None"),
            ("result = 'after a crash'", "'after a crash'"),
        ],
    );
    let output = dir.path().join("out.json");
    let backends = [
        "docker:per-call",
        "docker:persistent",
        "cmd:per-call",
        "cmd:persistent",
    ];
    bench()
        .args([
            "run",
            "--warmup",
            "0",
            "--timeout",
            "5",
            "--prefix",
            &prefix,
        ])
        .args(["--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    let results = read_results(&output);
    for b in backends {
        let e = entry(&results, b, "faults");
        assert_eq!(e["calls"], 5, "{b}: {e}");
        assert_eq!(e["errors_by_kind"]["timeout"], 1, "{b}: {e}");
        assert_eq!(e["errors_by_kind"]["agent_died"], 1, "{b}: {e}");
        let h = sandbox_bench::bench::stats::decode(e["histogram"].as_str().unwrap()).unwrap();
        assert_eq!(h.len(), 3, "{b}: every call after a fault succeeded");
    }
    let left = agents_left_in_sandbox();
    assert!(
        left.is_empty(),
        "agents left running in the sandbox: {left:?}"
    );
}

#[test]
fn the_socket_transport_runs_every_strategy_in_the_sandbox_and_its_server_exits_after() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    where_workload(dir.path());
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--warmup", "1"])
        .args(["--backends", "socket:per-call,socket:persistent"])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    // uid 65534: the code ran in the container, not in the host process that connected.
    assert_clean(
        &results,
        &["socket:per-call", "socket:persistent"],
        &[("where", 3)],
    );
    let left = agents_left_in_sandbox();
    assert!(left.is_empty(), "server or agents left running: {left:?}");
    let shared = Path::new(ROOT).join(".sandbox-run");
    let sockets: Vec<_> = std::fs::read_dir(&shared)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".sock"))
        .collect();
    assert!(
        sockets.is_empty(),
        "socket files left in {}",
        shared.display()
    );
}

#[test]
fn timeouts_over_the_socket_and_the_engine_api_leave_no_agent_in_the_sandbox() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Each case once, every fault followed by a normal call; the hang never ends by itself,
    // and a normal call has 5 + 2 s: the counts do not depend on the machine's speed.
    write_workload(
        dir.path(),
        "faults",
        1,
        &[
            ("result = 'ok'", "'ok'"),
            ("import time; time.sleep(3600)", "None"),
            ("result = 'after a hang'", "'after a hang'"),
            ("import os; os._exit(1)", "None"),
            ("result = 'after a crash'", "'after a crash'"),
        ],
    );
    let output = dir.path().join("out.json");
    let backends = [
        "socket:per-call",
        "socket:persistent",
        "api:per-call",
        "api:persistent",
    ];
    bench()
        .args(["run", "--warmup", "0", "--timeout", "5"])
        .args(["--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    let results = read_results(&output);
    for b in backends {
        let e = entry(&results, b, "faults");
        assert_eq!(e["calls"], 5, "{b}: {e}");
        assert_eq!(e["errors_by_kind"]["timeout"], 1, "{b}: {e}");
        assert_eq!(e["errors_by_kind"]["agent_died"], 1, "{b}: {e}");
        let h = sandbox_bench::bench::stats::decode(e["histogram"].as_str().unwrap()).unwrap();
        assert_eq!(h.len(), 3, "{b}: every call after a fault succeeded");
    }
    let left = agents_left_in_sandbox();
    assert!(
        left.is_empty(),
        "agents left running in the sandbox: {left:?}"
    );
}

#[test]
fn the_engine_api_runs_every_strategy_in_the_sandbox_and_joins_the_waterfall() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    where_workload(dir.path());
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--warmup", "1"])
        .args(["--backends", "docker:per-call,api:per-call,api:persistent"])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success()
        .stdout(predicate::str::contains("api:per-call"))
        .stdout(predicate::str::contains("Docker CLI"));
    let results = read_results(&output);
    let backends = ["docker:per-call", "api:per-call", "api:persistent"];
    assert_clean(&results, &backends, &[("where", 3)]);
    let left = agents_left_in_sandbox();
    assert!(
        left.is_empty(),
        "agents left running in the sandbox: {left:?}"
    );
}
