//! MCP backends through the built binary. On the real Compose sandbox: the reproduction of the
//! original server (mcp/python_execute_server.py, on the Python SDK that scripts/setup-mcp.sh
//! installs) over stdio and streamable HTTP with both its executors, `serve`, and faults
//! through MCP. On the host: servers the tests write on the Python SDK (a string tool with
//! structured output on and off, differently named tools beside `serve`, a JSON answer, a
//! server that exits at start, one that leaves a process behind).
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

/// An MCP server on the Python SDK, written by the tests: one tool running the code in
/// process, named and answering as its flags say, the way servers of the package index do.
const SDK_SERVER: &str = r#"
import argparse, contextlib, io, json, subprocess, sys, traceback
from typing import Any, Optional

from mcp.server.mcpserver import MCPServer

parser = argparse.ArgumentParser()
parser.add_argument("--tool", default="python_execute")
parser.add_argument("--arg", default="code")
parser.add_argument("--structured", choices=["on", "off"], default="on")
parser.add_argument("--answer", choices=["session", "json"], default="session")
parser.add_argument("--exit-at-start", action="store_true")
parser.add_argument("--leave-child", action="store_true")
args = parser.parse_args()

if args.exit_at_start:
    # What a broken install prints: colours, a traceback, then the line that says why.
    sys.stderr.write("\x1b[33mstarting up\x1b[0m\nTraceback (most recent call last):\n")
    sys.stderr.write('  File "server.py", line 1, in <module>\n')
    sys.stderr.write("\x1b[1;31mModuleNotFoundError\x1b[0m: No module named 'kernel_gateway'\n")
    sys.exit(3)

if args.leave_child:
    # A background process of its own session, never stopped: it outlives the server.
    subprocess.Popen(["sleep", "300"], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)

server = MCPServer("test-sdk-server")
calls = [0]


def run(code):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<code>", "exec"), {"__name__": "__main__"})
        return out.getvalue(), 0, None
    except BaseException:
        return out.getvalue(), 1, traceback.format_exc()


if args.answer == "session":
    def tool(**kwargs) -> str:
        calls[0] += 1
        printed, status, error = run(kwargs[args.arg])
        if error:
            printed += error
        return f"Execution in session {calls[0]}\n--- Output ---\n{printed}"
else:
    def tool(**kwargs) -> dict:
        printed, status, error = run(kwargs[args.arg])
        return {"output": printed, "exit_code": status, "error": error}

# The tool's signature names its code argument as asked.
namespace = {"tool": tool, "Optional": Optional, "Any": Any}
returns = "str" if args.answer == "session" else "dict[str, Any]"
exec(
    f"def {args.tool}({args.arg}: str, input: Optional[str] = None) -> {returns}:\n"
    f"    return tool(**{{{args.arg!r}: {args.arg}}})\n",
    namespace,
)
function = namespace[args.tool]
server.tool(name=args.tool, structured_output=args.structured == "on")(function)
server.run("stdio")
"#;

/// The SDK server written into `dir`, when the Python SDK's environment is there; otherwise
/// `None` (the test skips, visibly), or a failure under CI or `SANDBOX_BENCH_REQUIRE_MCP`.
fn sdk_server(dir: &Path) -> Option<String> {
    if !Path::new(ROOT).join(VENV_PYTHON).exists() {
        common::skip::skip(
            &format!("no {VENV_PYTHON}, the MCP SDK's environment"),
            "run `bash scripts/setup-mcp.sh`",
            Some("SANDBOX_BENCH_REQUIRE_MCP"),
        );
        return None;
    }
    let path = dir.join("sdk_server.py");
    std::fs::write(&path, SDK_SERVER).unwrap();
    Some(format!("{}/{VENV_PYTHON} {}", ROOT, path.display()))
}

/// A run of the MCP servers `mcp` alone, with `extra` flags; its results.
fn run_servers(
    dir: &Path,
    mcp: &[String],
    extra: &[&str],
    code: i32,
) -> (serde_json::Value, String) {
    let out = dir.join("r.json");
    let mut cmd = bench();
    cmd.args(["run", "--workloads", "simple_calc,json_parsing"])
        .args([
            "--calls-scale",
            "0.1",
            "--calibration",
            "2",
            "--warmup",
            "1",
        ])
        .env("COLUMNS", "200")
        .arg("--output")
        .arg(&out)
        .args(extra);
    for m in mcp {
        cmd.args(["--mcp", m]);
    }
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(code),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (read_results(&out), stdout)
}

#[test]
fn sdk_string_tools_are_read_by_their_text_with_structured_output_on_and_off() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = sdk_server(dir.path()) else {
        return;
    };
    let servers = [
        format!("on={server} --structured on"),
        format!("off={server} --structured off"),
    ];
    for mode in ["print", "repr"] {
        let (results, _) = run_servers(
            dir.path(),
            &servers,
            &["--mcp-answer", mode],
            if mode == "print" { 0 } else { 1 },
        );
        if mode == "print" {
            assert_clean(
                &results,
                &["mcp:on", "mcp:off"],
                &[("simple_calc", 5), ("json_parsing", 3)],
            );
        } else {
            // In repr mode the whole text is the answer: "Execution in session …", for both
            // alike; never the structured copy taken for something else.
            for name in ["mcp:on", "mcp:off"] {
                let e = entry(&results, name, "simple_calc");
                assert_eq!(e["errors"], e["calls"], "{e}");
                let kinds: Vec<&String> = e["errors_by_kind"].as_object().unwrap().keys().collect();
                assert_eq!(kinds, ["wrong_answer"], "{e}");
                let samples = e["error_samples"].to_string();
                assert!(samples.contains("got 'Execution in session"), "{samples}");
            }
        }
    }
}

#[test]
fn servers_with_different_tools_and_serve_compare_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = sdk_server(dir.path()) else {
        return;
    };
    let (results, stdout) = run_servers(
        dir.path(),
        &[
            format!("a={server} --structured on"),
            format!("b={server} --tool execute --arg source --structured on"),
            serve("serve", "local:persistent"),
        ],
        &["--mcp-tool", "b=execute", "--mcp-code-arg", "b=source"],
        0,
    );
    assert_clean(
        &results,
        &["mcp:a", "mcp:b", "mcp:serve"],
        &[("simple_calc", 5), ("json_parsing", 3)],
    );
    let tools: Vec<(&str, &str, &str)> = results["settings"]["mcp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap(),
                m["tool"].as_str().unwrap(),
                m["code_arg"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tools,
        [
            ("a", "python_execute", "code"),
            ("b", "execute", "source"),
            ("serve", "python_execute", "code")
        ]
    );
    // The baseline comparison has its rows.
    let against = stdout
        .split("Against the baseline")
        .nth(1)
        .unwrap_or_else(|| panic!("no comparison in:\n{stdout}"));
    for backend in ["mcp:b", "mcp:serve"] {
        assert!(
            against.lines().any(|l| l.starts_with(backend)),
            "no {backend} row in:{against}"
        );
    }
}

#[test]
fn a_missing_tool_is_one_line_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = sdk_server(dir.path()) else {
        return;
    };
    let out = bench()
        .args(["run", "--workloads", "simple_calc", "--calibration", "0"])
        .args(["--mcp", &format!("b={server} --tool execute")])
        .arg("--output")
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("MCP server 'b' has no tool 'python_execute' (it has: 'execute')")
            && lines[0].contains("--mcp-tool b=TOOL"),
        "{stderr}"
    );
    assert!(!dir.path().join("r.json").exists());
}

#[test]
fn a_json_answer_with_an_exit_status_is_a_tool_error() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = sdk_server(dir.path()) else {
        return;
    };
    let workloads = dir.path().join("w");
    std::fs::create_dir_all(&workloads).unwrap();
    write_workload(
        &workloads,
        "raises",
        4,
        &[("result = 6 * 7", "42"), ("result = 1 / 0", "None")],
    );
    let out = dir.path().join("r.json");
    bench()
        .args(["run", "--warmup", "0", "--calibration", "0", "--quiet"])
        .arg("--workloads-dir")
        .arg(&workloads)
        .args(["--mcp", &format!("j={server} --answer json")])
        .args(["--mcp-answer", "j=json:stdout=output"])
        .arg("--output")
        .arg(&out)
        .assert()
        .code(1);
    let results = read_results(&out);
    // Every other call raises: those, and those only, are tool errors.
    let e = entry(&results, "mcp:j", "raises");
    let calls = e["calls"].as_u64().unwrap();
    assert!(calls >= 4, "{e}");
    assert_eq!(e["errors"].as_u64(), Some(calls / 2), "{e}");
    assert_eq!(
        e["errors_by_kind"]["tool_error"].as_u64(),
        Some(calls / 2),
        "{e}"
    );
    let samples = e["error_samples"].to_string();
    assert!(
        samples.contains("exit_code 1: ZeroDivisionError: division by zero"),
        "{samples}"
    );
}

#[test]
fn a_server_that_exits_at_start_is_down_after_a_few_attempts_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = sdk_server(dir.path()) else {
        return;
    };
    let log = dir.path().join("starts.log");
    // Each start leaves a line in the log before the server fails.
    let counted = format!(
        "broken=sh -c 'echo start >> {}; exec {server} --exit-at-start'",
        log.display()
    );
    let (results, stdout) = run_servers(dir.path(), &[counted, format!("fine={server}")], &[], 1);
    let starts = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!((1..=3).contains(&starts), "{starts} starts");
    let broken = results["settings"]["mcp"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "broken")
        .unwrap();
    let why = broken["down"].as_str().unwrap();
    assert!(
        why.contains("exited at start")
            && why.ends_with("ModuleNotFoundError: No module named 'kernel_gateway'"),
        "{why}"
    );
    assert!(!why.contains('\u{1b}') && !why.contains('\n'), "{why}");
    // Its rows failed, every call, with the cause; the other server ran clean.
    let e = entry(&results, "mcp:broken", "simple_calc");
    assert_eq!(e["errors"], e["calls"], "{e}");
    assert!(e["error_samples"].to_string().contains("is down"), "{e}");
    for w in ["simple_calc", "json_parsing"] {
        assert_eq!(entry(&results, "mcp:fine", w)["errors"], 0);
    }
    // One sentence, whatever the wrapping.
    let flat = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "mcp:broken is down, not started again in this run: it exited at start \
             (exit status: 3): ModuleNotFoundError: No module named 'kernel_gateway'"
        ),
        "{stdout}"
    );
}

/// Whether process `pid` runs (a zombie does not).
fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()? != "Z"))
        .unwrap_or(false)
}

#[test]
fn what_a_server_leaves_on_the_host_is_reported_and_killed_unless_kept() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = sdk_server(dir.path()) else {
        return;
    };
    // What the run keeps outlives it: it comes back to this test, which kills and reaps it,
    // rather than to whatever process above would adopt it.
    // SAFETY: prctl with integer arguments only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    for keep in [false, true] {
        let extra: &[&str] = if keep { &["--mcp-keep-leftovers"] } else { &[] };
        let (results, stdout) = run_servers(
            dir.path(),
            &[
                format!("leaves={server} --leave-child"),
                format!("clean={server}"),
            ],
            extra,
            0,
        );
        let servers = results["settings"]["mcp"].as_array().unwrap();
        let leaves = servers.iter().find(|m| m["name"] == "leaves").unwrap();
        let clean = servers.iter().find(|m| m["name"] == "clean").unwrap();
        assert!(clean.get("leftovers").is_none(), "{clean}");
        let left = leaves["leftovers"].as_array().unwrap();
        // One per session: the calibration's, then each workload's (and the check's).
        assert!(left.len() >= 3, "{leaves}");
        assert!(left.iter().all(|l| l["command"] == "sleep 300"), "{leaves}");
        assert!(stdout.contains("mcp:leaves left"), "{stdout}");
        let pids: Vec<u64> = left.iter().map(|l| l["pid"].as_u64().unwrap()).collect();
        if keep {
            assert_eq!(leaves["leftovers_kept"], true);
            assert!(pids.iter().all(|p| alive(*p)), "{pids:?}");
            for p in pids {
                let pid = i32::try_from(p).unwrap();
                // SAFETY: kill and waitpid on one pid, a child of this process by now.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
        } else {
            assert!(pids.iter().all(|p| !alive(*p)), "{pids:?} still run");
        }
    }
}
