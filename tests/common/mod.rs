//! Helpers shared by the integration tests: run the real binary, read its results file.

#![allow(dead_code)]

pub mod sandbox;
pub mod skip;

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use sandbox_bench::bench::stats;
use serde_json::Value;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The built binary, run from the repository root. Runs make exactly their workloads' calls
/// (`--min-time 0` through its variable), so tests can count them; the test of the minimum
/// time itself removes the variable.
pub fn bench() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_sandbox-bench"));
    cmd.current_dir(ROOT)
        .env("NO_COLOR", "1")
        .env("SANDBOX_BENCH_MIN_TIME", "0");
    cmd
}

/// Fails naming the first line of `text` wider than `width` characters.
pub fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        let n = line.chars().count();
        assert!(n <= width, "a line of {n} characters:\n{line}\nin:\n{text}");
    }
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

/// The seven built-in workloads at `--calls-scale 0.1`, with their measured calls.
pub const SEVEN_AT_A_TENTH: [(&str, u64); 7] = [
    ("simple_calc", 5),
    ("loop_calc", 3),
    ("string_ops", 3),
    ("list_comp", 3),
    ("dict_ops", 3),
    ("json_parsing", 3),
    ("mixed_workload", 5),
];

/// Checks every entry of a results file: each backend × workload made exactly the calls given,
/// none failed, and latency figures that hang together.
pub fn assert_clean(results: &Value, backends: &[&str], workloads: &[(&str, u64)]) {
    let entries = results["results"].as_array().unwrap();
    assert_eq!(entries.len(), backends.len() * workloads.len());
    for b in backends {
        for &(w, calls) in workloads {
            let e = entry(results, b, w);
            assert_eq!(e["calls"], calls, "{b} × {w}: {e}");
            assert_eq!(e["planned_calls"], calls, "{b} × {w}: {e}");
            assert_eq!(e["errors"], 0, "{b} × {w}: {e}");
            assert_eq!(e["warmup_errors"], 0, "{b} × {w}: {e}");
            assert_eq!(e["errors_by_kind"], serde_json::json!({}), "{b} × {w}");
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

/// Writes `from` changed by `edit` to `to`: a second input whose difference is known exactly.
pub fn rewrite(from: &Path, to: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v = read_results(from);
    edit(&mut v);
    std::fs::write(to, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    to.to_path_buf()
}

/// Replaces the histogram of each row `which` selects by `f` of it.
pub fn each_histogram(
    v: &mut Value,
    which: impl Fn(&Value) -> bool,
    f: impl Fn(&Histogram<u64>) -> Histogram<u64>,
) {
    for e in v["results"].as_array_mut().unwrap() {
        if which(e) {
            let h = stats::decode(e["histogram"].as_str().unwrap()).unwrap();
            e["histogram"] = stats::encode(&f(&h)).into();
        }
    }
}

/// Every latency of `h` times `factor`, a power of two: HdrHistogram's buckets scale with it.
pub fn times(h: &Histogram<u64>, factor: u64) -> Histogram<u64> {
    let mut out = stats::new_histogram();
    for x in h.iter_recorded() {
        let value = h.highest_equivalent(x.value_iterated_to());
        out.record_n(value * factor, x.count_at_value()).unwrap();
    }
    out
}

/// Sends SIGTERM to `child` and waits for it to exit, at most `limit`: past that it is killed
/// and the test fails, naming `what`.
pub fn terminate(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "{what}: kill -TERM failed");
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running {limit:?} after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Starts `sandbox-bench ARGS` with its stderr read line by line, waits (at most `ready_within`)
/// until `ready` holds for a line, sends SIGTERM and returns the exit code and stderr, the
/// process having ended within two minutes.
pub fn stopped_by_sigterm(
    args: &[&str],
    ready_within: std::time::Duration,
    mut ready: impl FnMut(&str) -> bool,
) -> (i32, String) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let mut child = Command::new(env!("CARGO_BIN_EXE_sandbox-bench"))
        .current_dir(ROOT)
        .env("NO_COLOR", "1")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line.clone());
            all.push(line);
        }
        all.join("\n")
    });
    // Bounds for a busy machine, not measurements.
    let deadline = Instant::now() + ready_within;
    loop {
        match seen.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if ready(&line) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("{args:?}: not ready in {ready_within:?} ({e})");
            }
        }
    }
    let status = terminate(&mut child, Duration::from_secs(120), &format!("{args:?}"));
    (status.code().unwrap_or(-1), reader.join().unwrap())
}
