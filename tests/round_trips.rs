//! `run --count-round-trips` on the real engine: each engine backend's calls go through a
//! counting relay; per-call transports cost more round trips than a persistent stream, every
//! answer is still checked, the results carry the counts, and `report --model-from` sets the
//! model against a run with a real added delay. Timing figures are never asserted: the machine
//! is shared. Docker-backed tests skip visibly without an engine and fail under CI.

mod common;

use std::path::Path;

use common::sandbox::engine;
use common::{ROOT, assert_clean, bench, entry, read_results, write_workload};
use predicates::prelude::*;

/// A small checked workload: three calls whose answer is computed in the sandbox.
fn workload(dir: &Path) {
    write_workload(dir, "sum", 3, &[("result = sum(range(10))", "45")]);
}

/// Runs `backends` with round trips counted (and `extra` flags); the results file.
fn counted_run(dir: &Path, name: &str, backends: &str, extra: &[&str]) -> serde_json::Value {
    let output = dir.join(name);
    bench()
        .args(["run", "--warmup", "1", "--calibration", "0", "--quiet"])
        .args([
            "--workloads-dir",
            dir.to_str().unwrap(),
            "--backends",
            backends,
        ])
        .args(["--count-round-trips", "--output", output.to_str().unwrap()])
        .args(extra)
        .assert()
        .success();
    read_results(&output)
}

fn round_trips(results: &serde_json::Value, backend: &str) -> f64 {
    let network = &entry(results, backend, "sum")["network"];
    assert_eq!(network["path"], "relay", "{backend}: {network}");
    network["round_trips_per_call"].as_f64().unwrap()
}

#[test]
fn per_call_costs_more_round_trips_than_a_persistent_stream_on_each_transport() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    workload(dir.path());
    let backends = [
        "docker:per-call",
        "docker:persistent",
        "api:per-call",
        "api:persistent",
        "compose:per-call",
        "compose:fork",
        "local:persistent",
    ];
    let results = counted_run(dir.path(), "out.json", &backends.join(","), &[]);
    assert_clean(&results, &backends, &[("sum", 3)]);
    assert_eq!(results["settings"]["round_trips"]["added_rtt_ms"], 0.0);
    for (per_call, stream) in [
        ("docker:per-call", "docker:persistent"),
        ("api:per-call", "api:persistent"),
        ("compose:per-call", "compose:fork"),
    ] {
        let (a, b) = (
            round_trips(&results, per_call),
            round_trips(&results, stream),
        );
        assert!(a > b, "{per_call}: {a} round trips, {stream}: {b}");
        // One request, one reply on a stream opened before: exactly one a call, which also
        // shows the cold start, warm-up and memory calls are not in the count.
        assert_eq!(b, 1.0, "{stream}: {b} round trips a call");
        // Means over 3 calls of whole counts.
        assert_eq!((a * 3.0).round(), a * 3.0, "{per_call}: {a}");
        let n = &entry(&results, per_call, "sum")["network"];
        assert!(n["connections_per_call"].as_f64().unwrap() >= 1.0, "{n}");
        assert!(n["bytes_up_per_call"].as_f64().unwrap() > 0.0, "{n}");
        assert!(n["bytes_down_per_call"].as_f64().unwrap() > 0.0, "{n}");
    }
    let local = &entry(&results, "local:persistent", "sum")["network"];
    assert_eq!(local["path"], "no-engine", "{local}");
    assert_eq!(local["round_trips_per_call"], 0.0);

    // The model's table, in the report as in run's output.
    let report = bench()
        .args(["report", dir.path().join("out.json").to_str().unwrap()])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&report.get_output().stdout).to_string();
    assert!(text.contains("is a model"), "{text}");
    assert!(
        text.contains("@50 ms") && text.contains("no engine"),
        "{text}"
    );
    let html = bench()
        .args([
            "report",
            "--format",
            "html",
            dir.path().join("out.json").to_str().unwrap(),
        ])
        .assert()
        .success();
    let page = String::from_utf8_lossy(&html.get_output().stdout).to_string();
    assert!(page.contains("a model (measured p50 + round trips × RTT)"));
}

#[test]
fn the_model_check_reports_an_error_per_backend() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    workload(dir.path());
    let backends = "docker:per-call,docker:persistent";
    let base = counted_run(dir.path(), "base.json", backends, &[]);
    let delayed = counted_run(dir.path(), "delayed.json", backends, &["--added-rtt", "5"]);
    assert_eq!(delayed["settings"]["round_trips"]["added_rtt_ms"], 5.0);
    // The relay changes how long a call takes, not what it exchanges.
    for b in ["docker:per-call", "docker:persistent"] {
        assert!(round_trips(&delayed, b) >= 1.0);
        assert!(round_trips(&base, b) >= 1.0);
    }
    let (base_path, delayed_path) = (
        dir.path().join("base.json"),
        dir.path().join("delayed.json"),
    );
    let out = bench()
        .args(["report", delayed_path.to_str().unwrap()])
        .args(["--model-from", base_path.to_str().unwrap()])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("The model against a real delay"), "{text}");
    for b in ["docker:per-call", "docker:persistent"] {
        let line = text
            .lines()
            .rev()
            .find(|l| l.starts_with(b))
            .unwrap_or_else(|| panic!("no check row for {b}:\n{text}"));
        assert!(line.trim_end().ends_with('%'), "{line}");
    }
    // The other way round, the base has no added delay to check: one line, exit 2.
    bench()
        .args(["report", base_path.to_str().unwrap()])
        .args(["--model-from", delayed_path.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--added-rtt"));
}

#[test]
fn counting_is_refused_when_calls_would_share_a_relay() {
    let out = bench()
        .args([
            "run",
            "--backends",
            "local:persistent",
            "--count-round-trips",
        ])
        .args(["--concurrency", "2", "--output", "/nonexistent/never.json"])
        .current_dir(ROOT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--concurrency 1"));
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    // A prefix of the user's reaches its sandbox past any engine endpoint known here.
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    bench()
        .args([
            "run",
            "--backends",
            "cmd:per-call",
            "--prefix",
            "docker exec -i x",
        ])
        .args(["--count-round-trips", "--output", output.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not relayed"));
    // An added delay means nothing without the relays.
    bench()
        .args(["run", "--backends", "local:persistent", "--added-rtt", "5"])
        .assert()
        .code(2);
}
