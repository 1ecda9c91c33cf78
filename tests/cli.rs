//! The built binary against the local transport: real agent processes, no Docker needed.

mod common;

use common::{SEVEN_AT_A_TENTH, assert_clean, bench, entry, read_results, write_workload};
use predicates::prelude::*;

#[test]
fn version_is_printed() {
    bench()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn local_run_measures_all_seven_workloads_and_saves_them() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--backends", "local:per-call,local:persistent"])
        .args(["--calls-scale", "0.1", "--output"])
        .arg(&output)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Against the baseline, local:per-call",
        ))
        .stdout(predicate::str::contains("local:persistent is"));
    let results = read_results(&output);
    assert_eq!(results["schema_version"], 1);
    assert_eq!(
        results["settings"]["order"], "interleaved",
        "two backends interleave"
    );
    assert!(results["settings"]["seed"].as_u64().is_some());
    assert_eq!(results["settings"]["calibration_calls"], 20);
    for (i, backend) in ["local:per-call", "local:persistent"].iter().enumerate() {
        let floor = &results["calibration"][i];
        assert_eq!(floor["backend"], *backend);
        assert_eq!(
            (floor["calls"].as_u64(), floor["errors"].as_u64()),
            (Some(20), Some(0))
        );
        assert!(floor["latency_us"]["p50"].as_f64().unwrap() > 0.0);
    }
    assert!(results["max_load"].as_f64().is_some());
    let few = results["warnings"].as_array().unwrap();
    assert!(
        few.iter().any(|w| w["kind"] == "few_samples"),
        "5 samples cannot back a p99: {few:?}"
    );
    assert_eq!(results["complete"], true);
    assert_eq!(results["settings"]["baseline"], "local:per-call");
    assert_eq!(
        results["host"]["cpus"].as_u64(),
        std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u64)
    );
    assert!(
        results["versions"]["local_python"]
            .as_str()
            .unwrap()
            .starts_with('3')
    );
    assert_clean(
        &results,
        &["local:per-call", "local:persistent"],
        &SEVEN_AT_A_TENTH,
    );
    // 50 calls × 0.1 = 5 measured calls; mixed_workload runs its five cases once each.
    assert_eq!(
        entry(&results, "local:persistent", "simple_calc")["calls"],
        5
    );
    assert_eq!(
        entry(&results, "local:persistent", "mixed_workload")["calls"],
        5
    );
    let copies: Vec<_> = std::fs::read_dir(dir.path().join("results"))
        .unwrap()
        .collect();
    assert_eq!(copies.len(), 1, "one timestamped copy beside the output");
}

#[test]
fn wrong_answers_are_errors_not_samples() {
    let dir = tempfile::tempdir().unwrap();
    write_workload(dir.path(), "off_by_one", 4, &[("result = 1 + 1", "3")]);
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--backends", "local:persistent", "--warmup", "0"])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "wrong answer: expected '3', got '2'",
        ))
        .stderr(predicate::str::contains("calls failed"));
    let e = entry(&read_results(&output), "local:persistent", "off_by_one").clone();
    assert_eq!(e["errors"], 4);
    assert_eq!(e["warmup_errors"], 1, "the cold-start call is checked too");
    assert_eq!(e["errors_by_kind"], serde_json::json!({"wrong_answer": 5}));
    assert!(
        e["latency_us"].is_null(),
        "no sample from a wrong answer: {e}"
    );
}

#[test]
fn faults_are_per_call_errors_and_the_next_call_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    // The good case comes first (it is the cold start); every fault is followed by a good call.
    // Each case runs once: the endless loop takes its whole timeout.
    std::fs::write(
        dir.path().join("faults.toml"),
        r#"
name = "faults"
calls = 1
[[case]]
code = "result = 'ok'"
expected = "'ok'"
[[case]]
code = "while True: pass"
expected = "None"
[[case]]
code = "result = input()"
expected = "'piped'"
stdin = "piped\n"
[[case]]
code = "import os; os._exit(3)"
expected = "None"
[[case]]
code = "result = 'after a crash'"
expected = "'after a crash'"
"#,
    )
    .unwrap();
    for backend in ["local:persistent", "local:per-call"] {
        let output = dir.path().join("out.json");
        bench()
            .args([
                "run",
                "--backends",
                backend,
                "--warmup",
                "0",
                "--timeout",
                "5",
            ])
            .arg("--workloads-dir")
            .arg(dir.path())
            .arg("--output")
            .arg(&output)
            .assert()
            .code(1);
        let e = entry(&read_results(&output), backend, "faults").clone();
        assert_eq!(e["calls"], 5, "{backend}: {e}");
        assert_eq!(
            e["errors_by_kind"],
            serde_json::json!({"timeout": 1, "agent_died": 1}),
            "{backend}: {e}"
        );
        assert_eq!(e["errors"], 2, "{backend}: {e}");
        assert_eq!(e["warmup_errors"], 0, "{backend}: {e}");
        let h = sandbox_bench::bench::stats::decode(e["histogram"].as_str().unwrap()).unwrap();
        assert_eq!(
            h.len(),
            3,
            "{backend}: the good calls after each fault are samples"
        );
        if backend == "local:persistent" {
            assert_eq!(e["restarts"], 1, "one restart per crash: {e}");
        }
    }
}

#[test]
fn malformed_workload_files_name_the_file_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "name = \"x\"\ncalls = 1\n[[case]]\ncode = \"\"\nexpected = \"1\"\n",
            "empty code",
        ),
        (
            "name = \"x\"\ncalls = 1\nrounds = 3\n[[case]]\ncode = \"a\"\nexpected = \"1\"\n",
            "unknown field",
        ),
        (
            "name = \"x\"\ncalls = 1\n[[case]]\ncode = \"a\"\n",
            "missing field",
        ),
        ("name = \"x\"\ncalls = \n", "bad.toml"),
    ];
    for (text, needle) in cases {
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        bench()
            .args(["run", "--backends", "local:persistent", "--workloads-dir"])
            .arg(dir.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("bad.toml"))
            .stderr(predicate::str::contains(needle))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn by_default_a_fast_backend_is_measured_for_a_second_not_for_its_few_calls() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("r.json");
    bench()
        .env_remove("SANDBOX_BENCH_MIN_TIME")
        .args(["run", "--quiet", "--backends", "local:persistent"])
        .args([
            "--workloads",
            "simple_calc",
            "--calls-scale",
            "0.1",
            "--output",
        ])
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_eq!(results["settings"]["min_time_s"], 1.0);
    let e = entry(&results, "local:persistent", "simple_calc");
    // Five calls planned; the second they must fill takes far more, each one a sample.
    assert_eq!(e["planned_calls"], 5, "{e}");
    let calls = e["calls"].as_u64().unwrap();
    assert!(calls > 5, "{e}");
    assert!(e["elapsed_s"].as_f64().unwrap() >= 1.0, "{e}");
    let h = sandbox_bench::bench::stats::decode(e["histogram"].as_str().unwrap()).unwrap();
    assert_eq!((h.len(), e["errors"].as_u64()), (calls, Some(0)));
}

#[test]
fn bad_flags_get_one_line_errors_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let attempts: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--backends".into(), "local:turbo".into()],
            "unknown strategy 'turbo'",
        ),
        (vec!["--backends".into(), "".into()], "no backend given"),
        (
            vec!["--workloads".into(), "nope".into()],
            "unknown workload 'nope'",
        ),
        (vec!["--calls-scale".into(), "-1".into()], "--calls-scale"),
        (vec!["--timeout".into(), "soon".into()], "--timeout"),
        (vec!["--min-time".into(), "-1".into()], "--min-time"),
        (vec!["--min-time".into(), "a while".into()], "--min-time"),
        (
            vec!["--concurrency".into(), "2.5".into()],
            "--concurrency: '2.5' is not a whole number",
        ),
        (vec!["--rounds".into(), "0".into()], "--rounds: '0'"),
        (vec!["--rate".into(), "0".into()], "--rate: '0'"),
        (
            vec!["--mcp-over".into(), "sdk=compose:persistent".into()],
            "no --mcp sdk=",
        ),
        (
            vec![
                "--mcp".into(),
                "sdk=python3 server.py".into(),
                "--mcp-over".into(),
                "sdk".into(),
            ],
            "write NAME=BACKEND",
        ),
        (
            vec![
                "--mcp".into(),
                "sdk=python3 server.py".into(),
                "--mcp-over".into(),
                "sdk=warp:drive".into(),
            ],
            "is not a sandbox backend",
        ),
        (
            vec!["--workloads-dir".into(), "/no/such/dir".into()],
            "--workloads-dir",
        ),
        (
            vec!["--output".into(), "/no/such/dir/r.json".into()],
            "--output",
        ),
        (
            vec!["--output".into(), dir.path().display().to_string()],
            "is a folder",
        ),
        (
            vec!["--baseline".into(), "compose-exec".into()],
            "not one of --backends",
        ),
        (
            vec![
                "--wait".into(),
                "spin".into(),
                "--spin-us".into(),
                "0".into(),
            ],
            "--spin-us",
        ),
    ];
    for (args, needle) in attempts {
        let mut cmd = bench();
        cmd.arg("run").args(&args);
        if !args.contains(&"--backends".to_string()) {
            cmd.args(["--backends", "local:persistent"]);
        }
        let assert = cmd
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn a_docker_backend_without_an_engine_is_a_clear_error() {
    bench()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["run", "--backends", "compose-exec,local:persistent"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "compose:per-call need a Docker engine",
        ));
}

#[test]
fn without_an_engine_the_default_is_the_local_pair() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    bench()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args([
            "run",
            "--workloads",
            "simple_calc",
            "--calls-scale",
            "0.1",
            "--output",
        ])
        .arg(&output)
        .assert()
        .success()
        .stderr(predicate::str::contains("no Docker engine answers"));
    let results = read_results(&output);
    assert_clean(
        &results,
        &["local:per-call", "local:persistent"],
        &[("simple_calc", 5)],
    );
}

#[test]
fn list_names_backends_and_workloads() {
    let out = bench().arg("list").assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for word in ["compose-exec", "per-call", "persistent", "local"]
        .into_iter()
        .chain(SEVEN_AT_A_TENTH.iter().map(|(w, _)| *w))
    {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
}

#[test]
fn the_order_is_recorded_and_sequential_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    let run = |extra: &[&str]| {
        bench()
            .args(["run", "--backends", "local:persistent,local:per-call"])
            .args([
                "--workloads",
                "simple_calc",
                "--calls-scale",
                "0.1",
                "--calibration",
                "0",
            ])
            .args(extra)
            .arg("--output")
            .arg(&output)
            .assert()
            .success();
        read_results(&output)
    };
    let r = run(&["--seed", "1234", "--rounds", "3"]);
    assert_eq!(r["settings"]["order"], "interleaved");
    assert_eq!(r["settings"]["seed"], 1234);
    assert_eq!(r["settings"]["rounds"], 3);
    assert!(r["calibration"].as_array().unwrap().is_empty());
    assert_eq!(r["settings"]["wait"], "spin", "the default");
    assert_eq!(r["settings"]["spin_us"], 200.0);
    let floor = &r["wakeup_floor"];
    assert!(floor["idle_p50_us"].as_f64().unwrap() > 0.0, "{floor}");
    assert!(floor["spin_p50_us"].as_f64().unwrap() > 0.0, "{floor}");
    let r = run(&["--order", "sequential", "--wait", "block"]);
    assert_eq!(r["settings"]["order"], "sequential");
    assert!(r["settings"]["seed"].is_null());
    assert_eq!(r["settings"]["wait"], "block");
    assert!(r["settings"]["spin_us"].is_null());
    let r = run(&["--spin-us", "50"]);
    assert_eq!(r["settings"]["spin_us"], 50.0);
    assert_clean(
        &r,
        &["local:persistent", "local:per-call"],
        &[("simple_calc", 5)],
    );
}

#[test]
fn local_runs_the_interpreter_behind_python3_not_a_shim_per_call() {
    let real = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    // A version manager's shim: a script named python3, first on PATH, that counts its starts.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let starts = dir.path().join("starts");
    let shim = bin.join("python3");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\necho x >> '{}'\nexec '{real}' \"$@\"\n",
            starts.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let output = dir.path().join("out.json");
    let run = |python: Option<&str>| {
        let _ = std::fs::remove_file(&starts);
        let mut cmd = bench();
        cmd.env("PATH", &path)
            .args(["run", "--quiet", "--backends", "local:per-call"])
            .args(["--workloads", "simple_calc", "--calls-scale", "0.1"])
            .args(["--warmup", "2", "--calibration", "0", "--output"])
            .arg(&output);
        if let Some(p) = python {
            cmd.args(["--python", p]);
        }
        cmd.assert().success();
        let n = std::fs::read_to_string(&starts).map_or(0, |t| t.lines().count());
        (read_results(&output), n)
    };
    // Asked once which interpreter it runs; then 9 calls (cold start, 2 warm-up, 5 measured,
    // the memory call), each a fresh interpreter started directly.
    let (results, shim_starts) = run(None);
    assert_eq!(shim_starts, 1);
    assert_eq!(results["versions"]["local_interpreter"], real.as_str());
    assert_clean(&results, &["local:per-call"], &[("simple_calc", 5)]);
    // Asked for by name, the shim is what is measured: it starts for every call.
    let (results, shim_starts) = run(Some("python3"));
    assert_eq!(shim_starts, 9);
    assert_eq!(results["versions"]["local_interpreter"], "python3");
}
