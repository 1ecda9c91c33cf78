//! Helpers shared by the integration tests: run the real binary, read its results file.

#![allow(dead_code)]

pub mod sandbox;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The built binary, run from the repository root.
pub fn bench() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_sandbox-bench"));
    cmd.current_dir(ROOT).env("NO_COLOR", "1");
    cmd
}

/// Reads a results file written by `run`.
pub fn read_results(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("results file written");
    serde_json::from_str(&text).expect("results file is JSON")
}

/// The entry of one backend × workload.
pub fn entry<'a>(results: &'a Value, backend: &str, workload: &str) -> &'a Value {
    results["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["backend"] == backend && e["workload"] == workload)
        .unwrap_or_else(|| panic!("no entry for {backend} × {workload}"))
}

/// Writes a workload file into `dir`.
pub fn write_workload(dir: &Path, name: &str, calls: u32, cases: &[(&str, &str)]) -> PathBuf {
    let mut text = format!("name = \"{name}\"\ncalls = {calls}\n");
    for (code, expected) in cases {
        text.push_str(&format!(
            "[[case]]\ncode = '''{code}'''\nexpected = '''{expected}'''\n"
        ));
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Checks every entry of a results file: no errors, and latency figures that hang together.
pub fn assert_clean(results: &Value, backends: &[&str], workloads: &[&str]) {
    let entries = results["results"].as_array().unwrap();
    assert_eq!(entries.len(), backends.len() * workloads.len());
    for b in backends {
        for w in workloads {
            let e = entry(results, b, w);
            assert_eq!(e["errors"], 0, "{b} × {w}: {e}");
            assert_eq!(e["warmup_errors"], 0, "{b} × {w}: {e}");
            let l = &e["latency_us"];
            let (min, p50, p99, max) = (
                l["min"].as_f64().unwrap(),
                l["p50"].as_f64().unwrap(),
                l["p99"].as_f64().unwrap(),
                l["max"].as_f64().unwrap(),
            );
            assert!(
                0.0 < min && min <= p50 && p50 <= p99 && p99 <= max,
                "{b} × {w}: {l}"
            );
            assert!(e["throughput_per_s"].as_f64().unwrap() > 0.0);
            assert!(e["cold_start_us"].as_f64().unwrap() > 0.0);
            let h = sandbox_bench::bench::stats::decode(e["histogram"].as_str().unwrap()).unwrap();
            assert_eq!(
                h.len(),
                e["calls"].as_u64().unwrap(),
                "{b} × {w}: one sample per call"
            );
        }
    }
}
