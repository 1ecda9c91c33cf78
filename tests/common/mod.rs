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

/// A `sandbox-bench` started in the background, its stderr read line by line.
pub struct Running {
    pub child: std::process::Child,
    what: String,
    lines: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<String>,
}

impl Running {
    /// Starts `sandbox-bench ARGS` from the repository root, stdout to `stdout`.
    pub fn start(args: &[&str], stdout: std::process::Stdio) -> Running {
        Self::spawn(args, stdout, std::process::Stdio::null())
    }

    /// As `start`, with stdin and stdout as pipes for the test to use.
    pub fn piped(args: &[&str]) -> Running {
        use std::process::Stdio;
        Self::spawn(args, Stdio::piped(), Stdio::piped())
    }

    fn spawn(args: &[&str], stdout: std::process::Stdio, stdin: std::process::Stdio) -> Running {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sandbox-bench"))
            .current_dir(ROOT)
            .env("NO_COLOR", "1")
            .args(args)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = sender.send(line.clone());
                all.push(line);
            }
            all.join("\n")
        });
        Running {
            child,
            what: format!("{args:?}"),
            lines,
            reader,
        }
    }

    /// Waits (at most `within`, a bound for a busy machine) for a line of stderr `ready`
    /// holds for; past that, or when stderr ends first, the process is killed and the test
    /// fails.
    pub fn wait_for_line(
        &mut self,
        within: std::time::Duration,
        mut ready: impl FnMut(&str) -> bool,
    ) {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if ready(&line) => return,
                Ok(_) => {}
                Err(e) => {
                    let _ = self.child.kill();
                    panic!("{}: no awaited line within {within:?} ({e})", self.what);
                }
            }
        }
    }

    /// Waits (at most `within`) until `ready` holds, looking every 50 ms; past that the process
    /// is killed and the test fails.
    pub fn wait_until(&mut self, within: std::time::Duration, mut ready: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + within;
        while !ready() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{}: ended ({status}) before it was ready", self.what);
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{}: not ready within {within:?}", self.what);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Sends `kill -SIGNAL` (`TERM`, `INT`, `HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "{}: kill -{signal} failed", self.what);
    }

    /// Waits for the exit, at most `limit` (past that the process is killed and the test
    /// fails); its exit code (-1 when a signal killed it) and its whole stderr.
    pub fn end(mut self, limit: std::time::Duration) -> (i32, String) {
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{}: still running {limit:?} after it was told to stop",
                    self.what
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        drop(self.child.stdin.take());
        (status.code().unwrap_or(-1), self.reader.join().unwrap())
    }
}

/// Starts `sandbox-bench ARGS` with its stderr read line by line, waits (at most `ready_within`)
/// until `ready` holds for a line, sends SIGTERM and returns the exit code and stderr, the
/// process having ended within two minutes.
pub fn stopped_by_sigterm(
    args: &[&str],
    ready_within: std::time::Duration,
    ready: impl FnMut(&str) -> bool,
) -> (i32, String) {
    let mut running = Running::start(args, std::process::Stdio::null());
    // Bounds for a busy machine, not measurements.
    running.wait_for_line(ready_within, ready);
    running.signal("TERM");
    running.end(std::time::Duration::from_secs(120))
}

/// The processes below `pid` (its children, theirs…) whose command line holds `needle`.
pub fn descendants_with(pid: u32, needle: &str) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
        if let Some(ppid) = fields.get(1).and_then(|f| f.parse::<u32>().ok()) {
            parent_of.push((p, ppid));
        }
    }
    let mut below = vec![pid];
    let mut i = 0;
    while i < below.len() {
        let parent = below[i];
        below.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    below
        .into_iter()
        .skip(1)
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// Whether `pid` is a live process (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Waits up to half a minute (a bound for a busy machine) for `pid` to be gone; whether it is.
pub fn gone(pid: u32) -> bool {
    for _ in 0..600 {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    !alive(pid)
}

/// Kills `pid` and its process group, if still there (a test's own clean-up). Through kill(2)
/// itself: procps' `kill -9 -PID` reads `-PID` as an option and signals every process there is.
pub fn kill_group(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if pid <= 1 {
        return; // never 0 (this group), 1 or -1 (every process)
    }
    // SAFETY: kill(2) with plain integers, on a group and a process this test started.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
}
