//! MCP backends through the built binary, on the real Compose sandbox: the reproduction of the
//! original server (mcp/python_execute_server.py, on the Python SDK that scripts/setup-mcp.sh
//! installs) over stdio and streamable HTTP with both its executors, and faults through MCP.
//! Skipped visibly (tests/common/skip.rs) without an engine or the Python environment; a
//! failure instead under any non-empty CI or SANDBOX_BENCH_REQUIRE_MCP.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::sandbox::{engine, processes_left};
use common::{ROOT, assert_clean, bench, entry, read_results, write_workload};

const VENV_PYTHON: &str = ".venv-mcp/bin/python";
const SERVER: &str = "mcp/python_execute_server.py";

/// The sandbox lock when an engine answers and the Python SDK is installed; otherwise `None`
/// (the test skips, visibly), or a failure under CI or `SANDBOX_BENCH_REQUIRE_MCP`.
fn ready() -> Option<std::sync::MutexGuard<'static, ()>> {
    let guard = engine()?;
    if !Path::new(ROOT).join(VENV_PYTHON).exists() {
        common::skip::skip(
            &format!("no {VENV_PYTHON}, the MCP SDK's environment"),
            "run `bash scripts/setup-mcp.sh`",
            Some("SANDBOX_BENCH_REQUIRE_MCP"),
        );
        return None;
    }
    Some(guard)
}

/// `--mcp NAME=…` starting the reproduction server over stdio.
fn stdio(name: &str, executor: &str, extra: &str) -> String {
    format!("{name}={VENV_PYTHON} {SERVER} --executor {executor} {extra}")
}

/// The reproduction server over HTTP on a free port, and its URL once it answers.
struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn start(executor: &str) -> HttpServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(VENV_PYTHON)
            .current_dir(ROOT)
            .args([SERVER, "--transport", "http", "--executor", executor])
            .args(["--port", &port.to_string()])
            .spawn()
            .expect("the reproduction server starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the HTTP server never listened");
            std::thread::sleep(Duration::from_millis(100));
        }
        HttpServer {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        // SIGTERM: the server stops its executor in the container, then exits.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn run_clean(out: &Path, mcp: &[String], backends: &[&str]) {
    let mut cmd = bench();
    cmd.args(["run", "--backends", "compose:persistent"])
        .args(["--workloads", "simple_calc,json_parsing"])
        .args(["--calls-scale", "0.1", "--calibration", "0", "--quiet"])
        .arg("--output")
        .arg(out);
    for m in mcp {
        cmd.args(["--mcp", m]);
    }
    cmd.assert().success();
    let results = read_results(out);
    assert_clean(
        &results,
        backends,
        &[("simple_calc", 5), ("json_parsing", 3)],
    );
}

#[test]
fn the_reproduction_server_over_stdio_with_both_executors() {
    let Some(_sandbox) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    run_clean(
        &dir.path().join("r.json"),
        &[
            stdio("sdk-persistent", "persistent", ""),
            stdio("sdk-per-call", "per-call", ""),
        ],
        &[
            "compose:persistent",
            "mcp:sdk-persistent",
            "mcp:sdk-per-call",
        ],
    );
    assert_eq!(processes_left(), Vec::<String>::new());
}

#[test]
fn an_mcp_only_run_brings_up_the_sandbox_its_server_runs_on() {
    let Some(_sandbox) = ready() else { return };
    // No other backend needs the sandbox, and it is down: the run must bring it up for the
    // reproduction, which reaches it with `docker compose exec` and would find no service.
    let down = Command::new("docker")
        .args(["compose", "down"])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(down.status.success(), "{down:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    bench()
        .args(["run", "--quiet", "--workloads", "simple_calc"])
        .args(["--calibration", "0", "--warmup", "0", "--output"])
        .arg(&out)
        .args(["--mcp", &stdio("sdk", "persistent", "")])
        .assert()
        .success();
    let results = read_results(&out);
    let e = entry(&results, "mcp:sdk", "simple_calc");
    assert_eq!(e["errors"], 0, "{e}");
    assert!(e["calls"].as_u64().unwrap() > 0, "{e}");
    assert_eq!(processes_left(), Vec::<String>::new());
}

#[test]
fn the_reproduction_server_over_http_with_both_executors() {
    let Some(_sandbox) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    {
        let persistent = HttpServer::start("persistent");
        let per_call = HttpServer::start("per-call");
        run_clean(
            &dir.path().join("r.json"),
            &[
                format!("http-persistent={}", persistent.url),
                format!("http-per-call={}", per_call.url),
            ],
            &[
                "compose:persistent",
                "mcp:http-persistent",
                "mcp:http-per-call",
            ],
        );
    }
    assert_eq!(processes_left(), Vec::<String>::new());
}

/// Runs one workload of `cases` (each once, in turn) through one MCP server.
fn run_faults(dir: &Path, mcp: &str, timeout: &str, cases: &[(&str, &str)]) -> serde_json::Value {
    let workloads = dir.join("w");
    std::fs::create_dir_all(&workloads).unwrap();
    write_workload(&workloads, "faults", 1, cases);
    let out = dir.join("r.json");
    bench()
        .args(["run", "--mcp", mcp, "--warmup", "0", "--calibration", "0"])
        .args(["--timeout", timeout, "--quiet", "--workloads-dir"])
        .arg(&workloads)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(1); // calls failed, as they should
    read_results(&out)
}

#[test]
fn a_hang_and_a_killed_executor_are_tool_errors_and_the_next_call_succeeds() {
    let Some(_sandbox) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ok = ("result = 6 * 7", "42");
    // The server's limit is generous for a normal call, a restart of its executor included;
    // the hang never ends by itself; the client waits longer than the server.
    let results = run_faults(
        dir.path(),
        &stdio("f", "persistent", "--timeout 10"),
        "60",
        &[
            ok,
            ("import time; time.sleep(3600)", "None"),
            ok,
            ("import os; os.kill(os.getpid(), 9)", "None"),
            ok,
        ],
    );
    let e = entry(&results, "mcp:f", "faults");
    assert_eq!(e["calls"], 5, "{e}");
    assert_eq!(e["errors"], 2, "{e}");
    assert_eq!(e["errors_by_kind"]["tool_error"], 2, "{e}");
    let samples = e["error_samples"].to_string();
    assert!(samples.contains("timeout after 10s"), "{samples}");
    assert!(samples.contains("interpreter died"), "{samples}");
    assert_eq!(processes_left(), Vec::<String>::new());
}

#[test]
fn a_call_past_the_client_timeout_restarts_the_server_and_leaves_nothing() {
    let Some(_sandbox) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ok = ("result = 6 * 7", "42");
    // The client gives up after 10 + 2 s, long before the server's own limit; the hang never
    // ends by itself. The restarted server has the client's 10 + 2 s for the next call.
    let results = run_faults(
        dir.path(),
        &stdio("t", "persistent", "--timeout 600"),
        "10",
        &[ok, ("import time; time.sleep(3600)", "None"), ok],
    );
    let e = entry(&results, "mcp:t", "faults");
    assert_eq!(e["calls"], 3, "{e}");
    assert_eq!(e["errors_by_kind"]["timeout"], 1, "{e}");
    assert_eq!(e["restarts"], 1, "{e}");
    assert_eq!(processes_left(), Vec::<String>::new());
}

/// `--mcp` starting `sandbox-bench serve` on `backend` over stdio.
fn serve(name: &str, backend: &str) -> String {
    format!(
        "{name}={} serve --backend {backend}",
        env!("CARGO_BIN_EXE_sandbox-bench")
    )
}

#[test]
fn serve_runs_the_tool_on_two_strategies_over_stdio() {
    let Some(_sandbox) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    run_clean(
        &out,
        &[
            serve("serve-persistent", "compose:persistent"),
            serve("serve-fork", "compose:fork"),
        ],
        &[
            "compose:persistent",
            "mcp:serve-persistent",
            "mcp:serve-fork",
        ],
    );
    assert_eq!(processes_left(), Vec::<String>::new());
    // Each server's executor is read from its command; serve reports the agent's exec time.
    let results = read_results(&out);
    let over: Vec<(&str, &str)> = results["settings"]["mcp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["over"].as_str().unwrap()))
        .collect();
    assert_eq!(
        over,
        [
            ("serve-persistent", "compose:persistent"),
            ("serve-fork", "compose:fork")
        ]
    );
    let e = entry(&results, "mcp:serve-persistent", "simple_calc");
    assert!(e["exec_us"]["p50"].as_f64().unwrap() > 0.0, "{e}");
    // The MCP layer of the server whose executor ran beside it, and of that one only.
    let report = bench()
        .env("COLUMNS", "160")
        .arg("report")
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    let layer = text
        .split("The MCP layer")
        .nth(1)
        .unwrap_or_else(|| panic!("no MCP layer table in:\n{text}"));
    let rows: Vec<&str> = layer
        .lines()
        .filter(|l| l.starts_with("mcp:") && l.contains(" (stdio) "))
        .collect();
    assert_eq!(rows.len(), 2, "{layer}");
    assert!(
        rows.iter()
            .all(|r| r.starts_with("mcp:serve-persistent (stdio)"))
    );
    assert!(rows[0].contains("simple_calc") && rows[1].contains("json_parsing"));
}

#[test]
fn faults_through_serve_are_each_their_calls_error_and_leave_nothing() {
    let Some(_sandbox) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("faults.json");
    bench()
        // Five seconds for a probe that should answer, on a busy machine.
        .args(["faults", "--quiet", "--timeout", "5", "--output"])
        .arg(&out)
        .args(["--mcp", &serve("serve", "compose:persistent --timeout 5")])
        .assert()
        .success();
    let results = read_results(&out);
    let outcomes = results["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 19);
    for o in outcomes {
        assert_eq!(o["green"], true, "{o}");
        // Run, not skipped: the server's executor is the sandbox, limits and all.
        assert_ne!(o["outcome"], "skipped", "{o}");
    }
    assert_eq!(processes_left(), Vec::<String>::new());
}

#[test]
fn serve_over_http_answers_checked_calls() {
    let Some(_sandbox) = ready() else { return };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sandbox-bench"))
        .current_dir(ROOT)
        .args([
            "serve",
            "--backend",
            "compose:persistent",
            "--transport",
            "http",
        ])
        .args(["--port", &port.to_string()])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    let dir = tempfile::tempdir().unwrap();
    run_clean(
        &dir.path().join("r.json"),
        &[format!("serve-http=http://127.0.0.1:{port}/mcp")],
        &["compose:persistent", "mcp:serve-http"],
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    // Stopped by SIGTERM, as `run` is: 128 + 15, its agent stopped and the sandbox swept.
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert_eq!(processes_left(), Vec::<String>::new());
}

#[test]
fn a_dead_server_is_a_counted_error_and_is_restarted_for_the_next_call() {
    // On local:persistent the agent is the server's child: the code kills the server itself.
    let dir = tempfile::tempdir().unwrap();
    let ok = ("result = 6 * 7", "42");
    let results = run_faults(
        dir.path(),
        &serve("dies", "local:persistent"),
        "30",
        &[ok, ("import os; os.kill(os.getppid(), 9)", "None"), ok],
    );
    let e = entry(&results, "mcp:dies", "faults");
    assert_eq!(e["calls"], 3, "{e}");
    assert_eq!(e["errors_by_kind"]["agent_died"], 1, "{e}");
    assert_eq!(e["restarts"], 1, "{e}");
    let samples = e["error_samples"].to_string();
    assert!(samples.contains("the MCP server is gone"), "{samples}");
}
