//! Every strategy through the built binary, on the local transport and in the real Compose
//! sandbox: zero errors on the shipped workloads, what leaks between calls and what does not,
//! faults, concurrency and the open loop.

mod common;

use common::sandbox::{BLOCKED_HANG, engine, processes_left};
use common::{assert_clean, bench, entry, read_results, write_workload};
use predicates::prelude::*;

const STRATEGIES: [&str; 5] = ["per-call", "persistent", "pool=2", "fork", "reset=3"];

/// Two cases: the first imports a module and changes sys.path, the second looks for both.
fn leak_workload(dir: &std::path::Path) {
    write_workload(
        dir,
        "leaks",
        3,
        &[
            (
                "import colorsys, sys, os\nsys.path.append('/leak')\nos.environ['LEAK'] = '1'\nresult = 1",
                "1",
            ),
            (
                "import sys, os\nresult = ('colorsys' in sys.modules, '/leak' in sys.path, 'LEAK' in os.environ)",
                "(False, False, False)",
            ),
        ],
    );
}

fn backends(transport: &str) -> Vec<String> {
    STRATEGIES
        .iter()
        .map(|s| format!("{transport}:{s}"))
        .collect()
}

/// Runs every strategy over `transport` on two shipped workloads and on the leak probe.
fn every_strategy(transport: &str) {
    let names = backends(transport);
    let list = names.join(",");
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    bench()
        .args([
            "run",
            "--backends",
            &list,
            "--workloads",
            "simple_calc,json_parsing",
        ])
        .args([
            "--calls-scale",
            "0.2",
            "--calibration",
            "3",
            "--preload",
            "json",
        ])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_eq!(results["settings"]["preload"][0], "json");
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_clean(&results, &refs, &[("simple_calc", 10), ("json_parsing", 6)]);

    leak_workload(dir.path());
    bench()
        .args([
            "run",
            "--backends",
            &list,
            "--warmup",
            "0",
            "--calibration",
            "0",
        ])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    let results = read_results(&output);
    for strategy in STRATEGIES {
        let e = entry(&results, &format!("{transport}:{strategy}"), "leaks");
        match strategy {
            // One interpreter for every call (a pool hands sequential calls to the same idle
            // agent): the import, sys.path and environ survive into each of the 3 checks.
            "persistent" | "pool=2" => {
                assert_eq!(e["errors"], 3, "{strategy} should leak: {e}");
                assert_eq!(
                    e["errors_by_kind"],
                    serde_json::json!({"wrong_answer": 3}),
                    "{strategy}: {e}"
                );
            }
            _ => assert_eq!(e["errors"], 0, "{strategy} must not leak: {e}"),
        }
    }
}

#[test]
fn every_strategy_works_locally_and_isolates_as_documented() {
    every_strategy("local");
}

#[test]
fn every_strategy_works_in_the_sandbox_and_isolates_as_documented() {
    let Some(_sandbox) = engine() else { return };
    every_strategy("compose");
    let left = processes_left();
    assert!(
        left.is_empty(),
        "agents left running in the sandbox: {left:?}"
    );
}

#[test]
fn a_dead_pool_agent_is_replaced_without_failing_the_others() {
    let dir = tempfile::tempdir().unwrap();
    write_workload(
        dir.path(),
        "crashes",
        10,
        &[
            ("result = 6 * 7", "42"),
            ("import os; os._exit(9)", "None"),
            ("result = 'ok'", "'ok'"),
        ],
    );
    let output = dir.path().join("out.json");
    bench()
        .args([
            "run",
            "--backends",
            "local:pool=2",
            "--concurrency",
            "2",
            "--warmup",
            "0",
        ])
        .args(["--calibration", "0", "--workloads-dir"])
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    let results = read_results(&output);
    assert_eq!(results["settings"]["load"]["concurrency"], 2);
    let e = entry(&results, "local:pool=2", "crashes");
    assert_eq!(e["calls"], 30, "{e}");
    assert_eq!(e["errors"], 10, "only the crashing calls fail: {e}");
    assert_eq!(e["errors_by_kind"]["agent_died"], 10, "{e}");
    assert_eq!(e["restarts"], 10, "{e}");
}

#[test]
fn fork_kills_a_hung_child_in_the_sandbox_and_leaves_nothing() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spawn = "import subprocess\nsubprocess.Popen(['sleep', '600'])\nresult = 'spawned'";
    // Each case once; the hang never ends by itself, the normal calls have 5 + 2 s.
    write_workload(
        dir.path(),
        "hangs",
        1,
        &[
            ("result = 1", "1"),
            (BLOCKED_HANG, "None"),
            (spawn, "'spawned'"),
        ],
    );
    let output = dir.path().join("out.json");
    bench()
        .args([
            "run",
            "--backends",
            "compose:fork",
            "--timeout",
            "5",
            "--warmup",
            "0",
        ])
        .args(["--calibration", "0", "--workloads-dir"])
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    let e = entry(&read_results(&output), "compose:fork", "hangs").clone();
    assert_eq!(
        e["errors_by_kind"]["timeout"], 1,
        "the zygote kills the hung child: {e}"
    );
    assert_eq!(e["errors"], 1, "{e}");
    assert_eq!(e["restarts"], 0, "the zygote itself survives: {e}");
    let left = processes_left();
    assert!(
        left.is_empty(),
        "processes left running in the sandbox: {left:?}"
    );
}

#[test]
fn an_open_loop_records_its_shape_and_makes_rate_times_duration_calls() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    bench()
        .args([
            "run",
            "--backends",
            "local:persistent,local:pool=2",
            "--workloads",
            "simple_calc",
        ])
        .args([
            "--rate",
            "40",
            "--duration",
            "0.5",
            "--calibration",
            "0",
            "--output",
        ])
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    let load = &results["settings"]["load"];
    assert_eq!(
        (load["shape"].as_str(), load["rate_per_s"].as_f64()),
        (Some("open"), Some(40.0))
    );
    assert_eq!(load["duration_s"], 0.5);
    assert_eq!(results["settings"]["order"], "sequential");
    assert_clean(
        &results,
        &["local:persistent", "local:pool=2"],
        &[("simple_calc", 20)],
    );
    assert_eq!(
        entry(&results, "local:persistent", "simple_calc")["calls"],
        20
    );
}

#[test]
fn a_preload_that_fails_is_a_reported_error() {
    bench()
        .args([
            "run",
            "--backends",
            "local:persistent",
            "--workloads",
            "simple_calc",
        ])
        .args([
            "--preload",
            "no_such_module_xyz",
            "--calls-scale",
            "0.1",
            "--calibration",
            "0",
        ])
        .args(["--output", "/tmp/sandbox-bench-preload-test.json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("no_such_module_xyz"));
}

#[test]
fn bad_strategy_parameters_are_refused() {
    for (list, needle) in [
        ("local:pool=0", "from 1 to 64"),
        ("local:reset=x", "reset=K"),
        ("local:fork=2", "unknown strategy"),
    ] {
        bench()
            .args(["run", "--backends", list])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
    for (flag, value) in [
        ("--concurrency", "0"),
        ("--concurrency", "1.5"),
        ("--rate", "-3"),
        ("--preload", "a b"),
    ] {
        bench()
            .args(["run", "--backends", "local:persistent", flag, value])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(flag));
    }
}

#[test]
fn a_result_cache_answers_repeats_and_every_stale_answer_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    bench()
        .args([
            "run",
            "--backends",
            "local:persistent,local:persistent+cache,local:fork+cache",
            "--workloads-dir",
            "workloads/fresh",
            "--calibration",
            "0",
            "--output",
        ])
        .arg(&output)
        .assert()
        .code(1);
    let results = read_results(&output);
    // Uncached, every answer is new.
    let plain = entry(&results, "local:persistent", "fresh_answers");
    assert_eq!(plain["errors"], 0, "{plain}");
    assert!(plain.get("cache").is_none(), "{plain}");
    for backend in ["local:persistent+cache", "local:fork+cache"] {
        let e = entry(&results, backend, "fresh_answers");
        // Every measured call was answered from the cache, and each answer was caught.
        let calls = e["calls"].as_u64().unwrap();
        assert!(calls >= 60, "{e}");
        assert_eq!(e["errors"].as_u64(), Some(calls), "{e}");
        // Counted by kind with the warm-up's stale answers too.
        let warmup = e["warmup_errors"].as_u64().unwrap();
        assert_eq!(
            e["errors_by_kind"]["wrong_answer"].as_u64(),
            Some(calls + warmup),
            "{e}"
        );
        assert!(e["cache"]["hits"].as_u64().unwrap() >= calls, "{e}");
        // The cold start, the first warm-up call, the memory call, and at most one switch
        // warm-up call: each ran for real once.
        let misses = e["cache"]["misses"].as_u64().unwrap();
        assert!((3..=4).contains(&misses), "{e}");
    }
}

#[test]
fn memory_once_warm_is_recorded_for_each_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    let backends = backends("local").join(",");
    bench()
        .args(["run", "--backends", &backends, "--workloads", "simple_calc"])
        .args(["--calibration", "0", "--output"])
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    for strategy in STRATEGIES {
        let backend = format!("local:{strategy}");
        let m = &entry(&results, &backend, "simple_calc")["memory"];
        assert!(m["call_rss_kib"].as_u64().unwrap() > 1024, "{backend}: {m}");
        let agents = match strategy {
            "per-call" => 0,
            "pool=2" => 2,
            _ => 1,
        };
        assert_eq!(m["agents"], agents, "{backend}: {m}");
        assert_eq!(m["agents_unreadable"], 0, "{backend}: {m}");
        if strategy == "fork" {
            assert!(m["waiting_children"].as_u64().unwrap() >= 1, "{m}");
        }
    }
}
