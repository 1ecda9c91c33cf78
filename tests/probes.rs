//! `faults` and `isolation` on the local backends (real processes, no Docker), the leftover
//! check that both rely on (scoped to this run's own processes), bad flags, and stop signals:
//! Ctrl-C, SIGTERM and SIGHUP during a run, a second signal, and `serve` stopped by one.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{bench, read_results, write_workload};
use predicates::prelude::*;
use sandbox_bench::probes;
use sandbox_bench::transport::{Local, Transport};

const LOCAL: &str = "local:per-call,local:persistent";

#[test]
fn faults_on_the_local_backends_are_reported_recovered_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("faults.json");
    bench()
        // Five seconds for a probe that should answer (100 MB of output included) on a busy
        // machine; the two that hang take them.
        .args(["faults", "--quiet", "--backends", LOCAL, "--timeout", "5"])
        .arg("--output")
        .arg(&output)
        .assert()
        .success()
        .stdout(predicate::str::contains("infinite_loop"));
    let results = read_results(&output);
    assert_eq!(results["all_green"], true);
    let outcomes = results["outcomes"].as_array().unwrap();
    assert_eq!(
        outcomes.len(),
        2 * sandbox_bench::probes::fault_probes::PROBES.len()
    );
    for o in outcomes {
        let skipped = o["outcome"] == "skipped";
        assert_eq!(
            skipped,
            ["memory_bomb", "fork_bomb", "kill_parent"].contains(&o["probe"].as_str().unwrap()),
            "{o}"
        );
        if !skipped {
            assert_eq!(o["recovered"], true, "{o}");
            assert!(o["recover_ms"].as_f64().unwrap() > 0.0, "{o}");
            assert_eq!(o["leftovers"].as_array().unwrap().len(), 0, "{o}");
        }
    }
    let find = |probe: &str, backend: &str| {
        outcomes
            .iter()
            .find(|o| o["probe"] == probe && o["backend"] == backend)
            .unwrap()["outcome"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for backend in ["local:per-call", "local:persistent"] {
        assert_eq!(find("infinite_loop", backend), "error: Timeout");
        assert_eq!(find("os_exit", backend), "error: agent_died");
        assert_eq!(find("segfault", backend), "error: agent_died");
        assert_eq!(find("syntax_error", backend), "error: SyntaxError");
        assert_eq!(find("input_without_stdin", backend), "error: EOFError");
        assert_eq!(find("input_with_stdin", backend), "ok: 'hello'");
        assert_eq!(find("thread_left_running", backend), "ok: 'started'");
    }
}

#[test]
fn isolation_shows_what_a_persistent_interpreter_leaks_beside_its_speed() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("isolation.json");
    bench()
        .args(["isolation", "--quiet", "--backends", LOCAL])
        .arg("--output")
        .arg(&output)
        .assert()
        .success()
        .stdout(predicate::str::contains("p50 of a normal call"));
    let results = read_results(&output);
    let outcome = |probe: &str, backend: &str| {
        results["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["probe"] == probe && o["backend"] == backend)
            .unwrap()["outcome"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for probe in ["variable", "function", "import", "sys_path", "os_environ"] {
        assert_eq!(outcome(probe, "local:per-call"), "isolated", "{probe}");
    }
    for probe in ["import", "sys_path", "builtin_monkeypatch", "module_memory"] {
        assert_eq!(outcome(probe, "local:persistent"), "leaks", "{probe}");
    }
    assert_eq!(outcome("variable", "local:persistent"), "isolated");
    assert_eq!(outcome("tmp_file", "local:per-call"), "leaks");
    let speed = results["speed"].as_array().unwrap();
    assert_eq!(speed.len(), 2, "one per backend: {speed:?}");
    for s in speed {
        assert_eq!(s["errors"], 0, "{s}");
        assert!(s["p50_us"].as_f64().unwrap() > 0.0, "{s}");
    }
}

#[test]
fn the_leftover_check_sees_a_process_this_run_left_and_not_another_runs() {
    let transport: Arc<dyn Transport> = Arc::new(Local {
        python: "python3".into(),
    });
    let host = probes::leftover_scan::Place::SharedHost;
    let before = probes::leftover_scan::leftovers(transport.as_ref(), host).unwrap();
    // A session whose leader exits at once, leaving its child behind: what a crashed agent
    // would leave if nothing killed its group. One carries this run's mark, as what the local
    // transport starts does; the other another run's (another checkout testing on this host).
    let plant = |mark: &str| {
        let planted =
            "import subprocess as s; print(s.Popen(['sleep', '37.5'], stdout=s.DEVNULL).pid)";
        let out = Command::new("setsid")
            .args(["python3", "-c", planted])
            .env(sandbox_bench::transport::RUN_MARK, mark)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(!pid.is_empty(), "the planted process started");
        pid
    };
    let ours = plant(sandbox_bench::transport::run_mark());
    let theirs = plant("another-run");
    let left = probes::leftover_scan::new_leftovers(transport.as_ref(), host, &before).unwrap();
    let _ = Command::new("kill").args(["-9", &ours, &theirs]).status();
    assert!(
        left.iter()
            .any(|l| l.starts_with(&format!("{ours} sleep 37.5"))),
        "{left:?}"
    );
    assert!(
        !left.iter().any(|l| l.starts_with(&format!("{theirs} "))),
        "another run's process counted: {left:?}"
    );
}

#[test]
fn bad_flags_of_faults_and_isolation_are_one_line_errors_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().display().to_string();
    for command in ["faults", "isolation"] {
        let attempts: [(&[&str], &str); 5] = [
            (&["--backends", "local:turbo"], "unknown strategy 'turbo'"),
            (&["--backends", ","], "no backend given"),
            (&["--timeout", "-3"], "--timeout"),
            (&["--output", "/no/such/dir/r.json"], "--output"),
            (&["--output", &folder], "is a folder"),
        ];
        for (args, needle) in attempts {
            let mut cmd = bench();
            cmd.arg(command).args(args);
            if !args.contains(&"--backends") {
                cmd.args(["--backends", "local:persistent"]);
            }
            let assert = cmd
                .assert()
                .code(2)
                .stderr(predicate::str::contains(needle))
                .stderr(predicate::str::contains("panicked").not());
            let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
            assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        }
    }
}

#[test]
fn compose_backends_without_an_engine_are_a_clear_error() {
    for command in ["faults", "isolation"] {
        bench()
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args([command, "--backends", "compose-exec"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("need a Docker engine"));
    }
}

#[test]
fn ctrl_c_sigterm_and_sighup_write_what_was_measured_marked_incomplete() {
    for (signal, exit) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let dir = tempfile::tempdir().unwrap();
        // Each call appends a byte to a file: the test sees calls being made, without a clock.
        let ticks = dir.path().join("ticks");
        let code = format!(
            "open({:?}, 'a').write('x')\nresult = 1",
            ticks.display().to_string()
        );
        let workloads = dir.path().join("workloads");
        std::fs::create_dir(&workloads).unwrap();
        write_workload(&workloads, "long", 1_000_000, &[(&code, "1")]);
        let output = dir.path().join("out.json");
        let args = [
            "run",
            "--quiet",
            "--backends",
            "local:persistent",
            "--warmup",
            "2",
            "--calibration",
            "0",
            "--workloads-dir",
            workloads.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ];
        let mut run = common::Running::start(&args, Stdio::null());
        // A cold start, two warm-up calls, then at least ten measured calls; the run would take
        // far longer. Bounds for a busy machine, not measurements: a local call takes
        // milliseconds.
        let ticked = || std::fs::metadata(&ticks).map_or(0, |m| m.len());
        run.wait_until(Duration::from_secs(120), || ticked() >= 13);
        run.signal(signal);
        let (code, stderr) = run.end(Duration::from_secs(120));
        assert_eq!(code, exit, "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        let results = read_results(&output);
        assert_eq!(results["complete"], false);
        let entry = &results["results"][0];
        assert_eq!(entry["errors"], 0, "{entry}");
        // Every call that ran is counted, but for the one the interrupt cut short.
        let (calls, ran) = (entry["calls"].as_u64().unwrap(), ticked() - 3);
        assert!(
            calls >= 10 && (ran - 1..=ran).contains(&calls),
            "{calls} of {ran}: {entry}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file left behind");
    }
}

#[test]
fn soak_checks_every_answer_and_reports_the_agents_memory() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("soak.json");
    bench()
        .args(["soak", "--quiet", "--backends", "local:persistent"])
        .args(["--calls", "300", "--output"])
        .arg(&output)
        .assert()
        .success()
        .stdout(predicate::str::contains("Agent RSS after"));
    let results = read_results(&output);
    let o = &results["outcomes"][0];
    assert_eq!(o["calls"], 300, "{o}");
    assert_eq!(o["errors"], 0, "{o}");
    assert_eq!(o["restarts"], 0, "{o}");
    assert!(o["rss_before_kib"].as_u64().unwrap() > 0, "{o}");
    assert!(o["rss_after_kib"].as_u64().unwrap() > 0, "{o}");

    // A wrong expected answer is counted, never passed over.
    write_workload(dir.path(), "wrong", 1, &[("result = 1", "2")]);
    bench()
        .args(["soak", "--quiet", "--backends", "local:persistent"])
        .args(["--calls", "5", "--workloads-dir"])
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    let results = read_results(&output);
    assert_eq!(results["outcomes"][0]["errors"], 5);
    assert_eq!(results["outcomes"][0]["errors_by_kind"]["wrong_answer"], 5);
}

#[test]
fn a_soak_bounded_by_time_stops_on_its_own_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("soak.json");
    bench()
        .args(["soak", "--quiet", "--backends", "local:persistent"])
        .args(["--duration", "0.5", "--output"])
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_eq!(results["calls"], serde_json::Value::Null, "{results}");
    assert_eq!(results["duration_s"], 0.5, "{results}");
    let o = &results["outcomes"][0];
    assert!(o["calls"].as_u64().unwrap() > 0, "{o}");
    assert_eq!(o["errors"], 0, "{o}");
}

#[test]
fn bad_soak_input_is_a_one_line_error_with_exit_2() {
    let attempts: [(&[&str], &str); 4] = [
        (&["--calls", "0"], "--calls"),
        (&["--duration", "0"], "--duration"),
        (&["--workloads-dir", "/no/such/dir"], "--workloads-dir"),
        (
            &[
                "--compose-file",
                "/no/such/compose.yml",
                "--backends",
                "persistent",
            ],
            "no compose file at '/no/such/compose.yml'",
        ),
    ];
    for (args, needle) in attempts {
        let mut cmd = bench();
        cmd.arg("soak").args(args);
        if !args.contains(&"--backends") {
            cmd.args(["--backends", "local:persistent"]);
        }
        let assert = cmd
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle))
            .stderr(predicate::str::contains("panicked").not());
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn isolation_and_soak_stopped_by_sigterm_write_what_ran_marked_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("isolation.json");
    let out = output.to_str().unwrap();
    // Every probe on per-call starts interpreters for seconds: stopped as soon as it starts.
    let args = ["isolation", "--backends", LOCAL, "--output", out];
    let (code, stderr) = common::stopped_by_sigterm(&args, Duration::from_secs(120), |l| {
        l.starts_with("local:per-call:")
    });
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let results = read_results(&output);
    assert_eq!(results["complete"], false, "{results}");
    let ran = results["outcomes"].as_array().unwrap().len();
    let all = 2 * probes::isolation_probes::PROBES.len();
    assert!(ran < all, "{ran} of {all} outcomes: {results}");

    // A soak with an hour to go, stopped once it made calls.
    let output = dir.path().join("soak.json");
    let out = output.to_str().unwrap();
    let args = [
        "soak",
        "--backends",
        "local:persistent",
        "--duration",
        "3600",
    ];
    let (code, stderr) = common::stopped_by_sigterm(
        &[&args[..], &["--output", out]].concat(),
        Duration::from_secs(120),
        |l| l.starts_with("local:persistent:"),
    );
    assert_eq!(code, 143, "{stderr}");
    let results = read_results(&output);
    assert_eq!(results["complete"], false, "{results}");
    assert_eq!(results["outcomes"][0]["errors"], 0, "{results}");
}

/// What every agent's command line holds (its source's first words), and no other process's.
const AGENT: &str = "\"\"\"sandbox-bench agent:";

/// Kills the given processes and their groups when the test ends, however it ends: what a test
/// planted, or what a second signal left by design.
struct Reap(Vec<u32>);

impl Drop for Reap {
    fn drop(&mut self) {
        for &pid in &self.0 {
            common::kill_group(pid);
        }
    }
}

/// One JSON-RPC exchange with `serve` over its stdin and stdout: sends `request` and returns the
/// answer with the same id.
fn rpc(
    input: &mut impl std::io::Write,
    output: &mut impl std::io::BufRead,
    request: serde_json::Value,
) -> serde_json::Value {
    writeln!(input, "{request}").unwrap();
    input.flush().unwrap();
    loop {
        let mut line = String::new();
        assert!(
            output.read_line(&mut line).unwrap() > 0,
            "serve closed stdout"
        );
        let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
        if answer["id"] == request["id"] {
            return answer;
        }
    }
}

#[test]
fn serve_stopped_by_a_signal_stops_its_agent_and_exits_with_the_signal() {
    use std::io::Write;
    for (signal, exit) in [("TERM", 143), ("INT", 130), ("HUP", 129)] {
        let mut serve = common::Running::piped(&["serve", "--backend", "local:persistent"]);
        let mut input = serve.child.stdin.take().unwrap();
        let mut output = std::io::BufReader::new(serve.child.stdout.take().unwrap());
        let init = rpc(
            &mut input,
            &mut output,
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-03-26", "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"}}}),
        );
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        writeln!(
            input,
            "{}",
            serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )
        .unwrap();
        // The agent starts before the first call.
        let agents = common::descendants_with(serve.child.id(), AGENT);
        assert_eq!(agents.len(), 1, "one agent: {agents:?}");
        let _reap = Reap(agents.clone());
        let answer = rpc(
            &mut input,
            &mut output,
            serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "python_execute", "arguments": {"code": "result = 6 * 7"}}}),
        );
        assert!(
            answer.to_string().contains(r#"\"result\":\"42\""#),
            "{answer}"
        );

        // Its client still connected (stdin open): only the signal ends it.
        serve.signal(signal);
        let (code, stderr) = serve.end(Duration::from_secs(120));
        assert_eq!(code, exit, "SIG{signal}: {stderr}");
        assert!(stderr.contains("stopped by a signal"), "{stderr}");
        assert!(
            common::gone(agents[0]),
            "SIG{signal}: the agent outlived serve"
        );
        drop(input);
    }
}

#[test]
fn a_second_signal_ends_run_and_faults_at_once_with_its_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    // A call that never ends by itself: after the first signal `run` waits for it (an hour);
    // the second ends it at once, with SIGINT's code, writing nothing.
    let pid_file = dir.path().join("agent.pid");
    let hang = format!(
        "import os, time\nopen({:?}, 'w').write(str(os.getpid()))\ntime.sleep(3600)",
        pid_file.display().to_string()
    );
    let workloads = dir.path().join("workloads");
    std::fs::create_dir(&workloads).unwrap();
    write_workload(&workloads, "hang", 1, &[(&hang, "None")]);
    let output = dir.path().join("run.json");
    let args = [
        "run",
        "--quiet",
        "--backends",
        "local:persistent",
        "--warmup",
        "0",
        "--calibration",
        "0",
        "--timeout",
        "3600",
        "--workloads-dir",
        workloads.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ];
    let mut run = common::Running::start(&args, Stdio::null());
    // Bounds for a busy machine, not measurements.
    let agent = || {
        std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
    };
    run.wait_until(Duration::from_secs(120), || agent().is_some());
    let _reap = Reap(agent().into_iter().collect());
    run.signal("TERM");
    run.wait_for_line(Duration::from_secs(120), |l| {
        l.starts_with("SIGTERM: stopping")
    });
    run.signal("INT");
    let (code, stderr) = run.end(Duration::from_secs(120));
    assert_eq!(code, 130, "{stderr}");
    assert!(!output.exists(), "the second signal writes nothing");

    // `faults`: its first probe, an endless loop, may run for the hour of --timeout.
    let output = dir.path().join("faults.json");
    let args = [
        "faults",
        "--backends",
        "local:persistent",
        "--timeout",
        "3600",
        "--output",
        output.to_str().unwrap(),
    ];
    let mut faults = common::Running::start(&args, Stdio::null());
    let pid = faults.child.id();
    faults.wait_until(Duration::from_secs(120), || {
        !common::descendants_with(pid, AGENT).is_empty()
    });
    let _reap = Reap(common::descendants_with(pid, AGENT));
    faults.signal("HUP");
    faults.wait_for_line(Duration::from_secs(120), |l| {
        l.starts_with("SIGHUP: stopping")
    });
    faults.signal("TERM");
    let (code, stderr) = faults.end(Duration::from_secs(120));
    assert_eq!(code, 143, "{stderr}");
    assert!(!output.exists(), "the second signal writes nothing");
}
