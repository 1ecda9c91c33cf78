//! The results file: what a run measured, with the facts needed to trust and re-read it later.
//! Written atomically (temporary file, then rename), so a reader never sees half a file; read
//! back with the schema version checked first ([`reading`]).

pub mod reading;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agent::ErrorKind;
use crate::bench::machine_load::MachineSample;
use crate::bench::memory::Memory;
use crate::bench::runner::{ForkFloor, Load, Measurement};
use crate::bench::stats::{self, LatencySummary};
use crate::bench::warnings::Warning;
pub use crate::sandbox::record::{ProfileRecord, SandboxInfo, Versions};

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// How the `histogram` fields are encoded.
pub const HISTOGRAM_ENCODING: &str = "HdrHistogram V2, base64; values in nanoseconds";

/// Schema version of the files of `faults`, `isolation` and `soak` (2: the shared header).
pub const PROBE_SCHEMA_VERSION: u32 = 2;

/// The fields every results file opens with, whichever command wrote it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// The file's schema: [`SCHEMA_VERSION`] for `run`, [`PROBE_SCHEMA_VERSION`] for the probes.
    pub schema_version: u32,
    pub tool: Tool,
    pub started_at: String,
    pub finished_at: String,
    pub host: Host,
}

impl Header {
    /// The header of a file whose work started at `started_at` and finishes now.
    pub fn finished_now(schema_version: u32, started_at: String) -> Self {
        Header {
            schema_version,
            tool: Tool {
                name: env!("CARGO_PKG_NAME").into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            started_at,
            finished_at: now(),
            host: Host::detect(),
        }
    }
}

/// The time now, in RFC 3339 to the second.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What `run` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchmarkResults {
    #[serde(flatten)]
    pub header: Header,
    /// False when the run was interrupted before every call was made.
    pub complete: bool,
    pub versions: Versions,
    pub settings: Settings,
    pub histogram_encoding: String,
    /// Each backend's floor: empty calls measured before anything else.
    #[serde(default)]
    pub calibration: Vec<Entry>,
    pub results: Vec<Entry>,
    /// Reasons to doubt a figure; see the README.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The highest 1-minute load average seen during the run.
    #[serde(default)]
    pub max_load: Option<f64>,
    /// The sandbox container measured, read from the engine (none for local backends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxInfo>,
    /// Each sandbox profile the run used, in full; absent in older files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<ProfileRecord>,
    /// Each fork backend's platform floor: fork + exit + wait of the agent's interpreter,
    /// measured inside the sandbox.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fork_floors: BTreeMap<String, ForkFloor>,
    /// The machine's wake-up floor, measured on the host before the run; absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wakeup_floor: Option<crate::bench::wakeup_floor::WakeupFloor>,
    /// The same round trips inside the sandbox, in Python through a persistent agent, per
    /// sandboxed persistent backend; absent in older files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sandbox_wakeup_floors: BTreeMap<String, crate::bench::wakeup_floor::WakeupFloor>,
    /// Load and CPU steal sampled during the run; absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachineSample>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    pub cpus: usize,
    pub os: String,
    pub kernel: String,
    pub arch: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub backends: Vec<String>,
    pub baseline: String,
    pub workloads: Vec<String>,
    pub calls_scale: f64,
    pub warmup: usize,
    pub timeout_s: f64,
    pub compose_file: Option<String>,
    pub service: Option<String>,
    /// `interleaved` (seeded-shuffled rounds) or `sequential` (one block per backend × workload).
    pub order: String,
    /// The shuffle's seed; `--seed` with it reproduces the order.
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub rounds: Option<usize>,
    /// Empty calls per backend that measured its floor.
    #[serde(default)]
    pub calibration_calls: usize,
    /// The shape of the load: closed-loop clients or an open-loop rate.
    #[serde(default)]
    pub load: LoadShape,
    /// How long calls were kept apart as the switch warm-up each time a pair resumed after
    /// another backend (at least one call); `None` without interleaving (and in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_warmup_ms: Option<f64>,
    /// Modules every agent imported at start.
    #[serde(default)]
    pub preload: Vec<String>,
    /// How the harness waited for replies (`block` in older files, which had no choice).
    #[serde(default)]
    pub wait: crate::agent::WaitMode,
    /// Microseconds a `spin` wait polled before blocking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spin_us: Option<f64>,
    /// Seconds each backend × workload was measured for at least: a fast backend made more
    /// calls than its workload's count (0, and in older files: exactly that count).
    #[serde(default)]
    pub min_time_s: f64,
    /// The `cmd` transport's prefix, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The MCP servers measured as `mcp:NAME` backends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp: Vec<McpServerRecord>,
    /// Whether engine round trips were counted (`--count-round-trips`), and any added delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trips: Option<RoundTripSettings>,
}

/// An MCP server measured as a backend, as the run declared it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpServerRecord {
    /// The backend is `mcp:NAME`.
    pub name: String,
    /// `stdio` or `http`.
    pub transport: String,
    /// The command that started it (stdio) or its URL (HTTP).
    pub target: String,
    pub tool: String,
    /// The tool's argument that carried the code.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code_arg: String,
    /// How answers were read: `print`, `repr` or `json:stdout=F,status=F,error=F`.
    pub answer: String,
    /// The backend its tool runs on, when known: its MCP layer is its latency minus that one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<String>,
    /// Why it was down (not started again) for the rest of the run, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
    /// Processes it started that were still running on the host after its sessions ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<LeftoverRecord>,
    /// Whether those were left running (`--mcp-keep-leftovers`) rather than killed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leftovers_kept: bool,
}

/// A process an MCP server left running on the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeftoverRecord {
    pub pid: u32,
    pub command: String,
}

impl McpServerRecord {
    pub fn of(backend: &crate::sandbox::backend::McpBackend) -> Self {
        let server = &backend.server;
        McpServerRecord {
            name: server.name.clone(),
            transport: server.transport_name().into(),
            target: server.target_text(),
            tool: server.tool.clone(),
            code_arg: server.code_arg.clone(),
            answer: server.answer.name(),
            over: backend.over.as_ref().map(ToString::to_string),
            down: server.state.down(),
            leftovers: server
                .state
                .leftovers()
                .into_iter()
                .map(|l| LeftoverRecord {
                    pid: l.pid,
                    command: l.command,
                })
                .collect(),
            leftovers_kept: server.keep_leftovers,
        }
    }

    /// One line on what the server left on the host, when it left something.
    pub fn leftovers_line(&self) -> Option<String> {
        let n = self.leftovers.len();
        if n == 0 {
            return None;
        }
        let shown: Vec<String> = self
            .leftovers
            .iter()
            .take(3)
            .map(|l| format!("{} {}", l.pid, l.command))
            .collect();
        let more = if n > 3 {
            format!(" and {} more", n - 3)
        } else {
            String::new()
        };
        let (processes, fate) = (
            if n == 1 { "process" } else { "processes" },
            if self.leftovers_kept {
                "left running (--mcp-keep-leftovers)"
            } else {
                "killed at the end of the run"
            },
        );
        Some(format!(
            "mcp:{} left {n} {processes} running on the host after its sessions ({}{more}): {fate}",
            self.name,
            shown.join("; ")
        ))
    }

    /// One line on why the server was down, when it was.
    pub fn down_line(&self) -> Option<String> {
        let cause = self.down.as_ref()?;
        Some(format!(
            "mcp:{} is down, not started again in this run: {cause}",
            self.name
        ))
    }
}

/// How calls were issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadShape {
    /// `closed`: each client makes its next call when the last returns; `open`: calls start
    /// at a fixed rate and their latency runs from their intended start.
    pub shape: String,
    pub concurrency: usize,
    pub rate_per_s: Option<f64>,
    pub duration_s: Option<f64>,
}

impl Default for LoadShape {
    fn default() -> Self {
        LoadShape {
            shape: "closed".into(),
            concurrency: 1,
            rate_per_s: None,
            duration_s: None,
        }
    }
}

impl From<Load> for LoadShape {
    fn from(load: Load) -> Self {
        match load {
            Load::Closed { concurrency } => LoadShape {
                concurrency,
                ..LoadShape::default()
            },
            Load::Open {
                rate,
                duration,
                concurrency,
            } => LoadShape {
                shape: "open".into(),
                concurrency,
                rate_per_s: Some(rate),
                duration_s: Some(duration.as_secs_f64()),
            },
        }
    }
}

/// One backend × workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub backend: String,
    pub workload: String,
    pub calls: usize,
    /// The measured calls the plan asked for (the workload's count): `calls` is more when
    /// `settings.min_time_s` called for more; absent in older files, where the two are one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_calls: Option<usize>,
    pub errors: usize,
    pub warmup_errors: usize,
    pub errors_by_kind: BTreeMap<ErrorKind, usize>,
    pub error_samples: Vec<String>,
    /// Latency of the successful measured calls, harness side.
    pub latency_us: Option<LatencySummary>,
    /// The agent's own exec time of the same calls; the rest is transport and framing.
    pub exec_us: Option<LatencySummary>,
    pub throughput_per_s: f64,
    pub elapsed_s: f64,
    pub cold_start_us: Option<f64>,
    pub restarts: u32,
    pub histogram: String,
    /// The agent-reported exec times, encoded as `histogram` is; absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_histogram: Option<String>,
    /// The `--preload` imports each measured call paid for, agent-reported: per-call backends
    /// only (the others import once, before any call); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_us: Option<LatencySummary>,
    /// The same, encoded as `histogram` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_histogram: Option<String>,
    /// Calls made right after a switch from another backend, kept out of every figure above.
    #[serde(default)]
    pub switch_warmup_calls: usize,
    /// Their latency: what resuming after another backend costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_warmup_us: Option<LatencySummary>,
    /// Memory once warm, read by one more call after the measured ones; absent for MCP
    /// backends and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Why the memory call failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_error: Option<String>,
    /// A result cache's counts (`STRATEGY+cache` backends only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheCounts>,
    /// Engine traffic per measured call (`run --count-round-trips`); absent when not counted
    /// and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
}

/// A backend × workload's engine traffic, the mean over its measured calls (cold start,
/// warm-ups and the memory call excluded).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// `relay` (counted by a relay to the engine) or `no-engine` (nothing to count: all zero).
    pub path: crate::netcount::Path,
    /// Request/response exchanges: each time the client spoke after the engine did, or first.
    pub round_trips_per_call: f64,
    pub connections_per_call: f64,
    pub bytes_up_per_call: f64,
    pub bytes_down_per_call: f64,
}

impl Network {
    /// The means of `counts` over `calls` measured calls.
    pub fn per_call(
        path: crate::netcount::Path,
        counts: crate::netcount::Counts,
        calls: usize,
    ) -> Network {
        let n = calls.max(1) as f64;
        Network {
            path,
            round_trips_per_call: counts.round_trips as f64 / n,
            connections_per_call: counts.connections as f64 / n,
            bytes_up_per_call: counts.bytes_up as f64 / n,
            bytes_down_per_call: counts.bytes_down as f64 / n,
        }
    }
}

/// How round trips were counted in a run (`settings.round_trips`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoundTripSettings {
    /// The delay each round trip was held for (`--added-rtt`), in ms; 0: none.
    pub added_rtt_ms: f64,
}

/// Calls a result cache answered itself (`hits`) and passed on (`misses`), over every call the
/// backend got: cold start, warm-up and memory calls included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCounts {
    pub hits: u64,
    pub misses: u64,
}

impl Entry {
    pub fn from_measurement(m: &Measurement) -> Self {
        Entry {
            backend: m.backend.clone(),
            workload: m.workload.clone(),
            calls: m.calls,
            planned_calls: Some(m.planned),
            errors: m.errors,
            warmup_errors: m.warmup_errors,
            errors_by_kind: m.errors_by_kind.clone(),
            error_samples: m.error_samples.clone(),
            latency_us: stats::summarize(&m.latency),
            exec_us: stats::summarize(&m.exec),
            throughput_per_s: m.throughput(),
            elapsed_s: m.elapsed.as_secs_f64(),
            cold_start_us: m.cold_start.map(|d| d.as_secs_f64() * 1e6),
            restarts: m.restarts,
            histogram: stats::encode(&m.latency),
            exec_histogram: Some(stats::encode(&m.exec)),
            import_us: stats::summarize(&m.import),
            import_histogram: (!m.import.is_empty()).then(|| stats::encode(&m.import)),
            switch_warmup_calls: m.switch_calls,
            switch_warmup_us: stats::summarize(&m.switch),
            memory: m.memory.as_ref().and_then(|r| r.as_ref().ok()).copied(),
            memory_error: m.memory.as_ref().and_then(|r| r.as_ref().err()).cloned(),
            cache: m.cache.map(|(hits, misses)| CacheCounts { hits, misses }),
            network: m
                .network
                .map(|(path, counts)| Network::per_call(path, counts, m.calls)),
        }
    }

    /// Errors of any phase: a backend with any is flagged in every table.
    pub fn all_errors(&self) -> usize {
        self.errors + self.warmup_errors
    }
}

impl Host {
    /// Facts about the machine the run happens on.
    pub fn detect() -> Self {
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Host {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os,
            kernel,
            arch: std::env::consts::ARCH.to_string(),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(&dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes the results to `output` and a timestamped copy under `results/` beside it; returns
/// the copy's path.
pub fn save(results: &BenchmarkResults, output: &Path) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let mut json = serde_json::to_vec_pretty(results).context("cannot encode the results")?;
    json.push(b'\n');
    write_atomically(output, &json)
        .with_context(|| format!("cannot write results to '{}'", output.display()))?;
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join("results"),
        _ => PathBuf::from("results"),
    };
    let stamp = results.header.started_at.replace([':', '-'], "");
    let copy = dir.join(format!("benchmark_results-{stamp}.json"));
    std::fs::create_dir_all(&dir)
        .and_then(|()| write_atomically(&copy, &json))
        .with_context(|| format!("cannot write the copy '{}'", copy.display()))?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let e = write_atomically(&dir.path().join("no/such/dir/r.json"), b"x");
        assert!(e.is_err());
    }

    #[test]
    fn an_older_file_without_a_waiting_mode_reads_as_block() {
        let old = synthetic::results("local:persistent", &[]);
        assert_eq!(old.settings.wait, crate::agent::WaitMode::Block);
        assert_eq!(old.settings.spin_us, None);
        let mut spun = old.clone();
        spun.settings.wait = crate::agent::WaitMode::Spin;
        spun.settings.spin_us = Some(150.0);
        let json = serde_json::to_value(&spun).unwrap();
        assert_eq!(json["settings"]["wait"], "spin");
        let back: BenchmarkResults = serde_json::from_value(json).unwrap();
        assert_eq!(back.settings.spin_us, Some(150.0));
    }

    #[test]
    fn network_counts_are_means_per_measured_call_and_absent_from_older_files() {
        let counts = crate::netcount::Counts {
            connections: 8,
            round_trips: 29,
            bytes_up: 1000,
            bytes_down: 4000,
        };
        let n = Network::per_call(crate::netcount::Path::Relay, counts, 4);
        assert_eq!(
            (n.connections_per_call, n.round_trips_per_call),
            (2.0, 7.25)
        );
        assert_eq!(
            (n.bytes_up_per_call, n.bytes_down_per_call),
            (250.0, 1000.0)
        );
        let old = synthetic::results(
            "docker:per-call",
            &[synthetic::row("docker:per-call", "w", 9, 2)],
        );
        assert_eq!(old.settings.round_trips, None);
        assert_eq!(old.results[0].network, None);
        let mut counted = old.clone();
        counted.results[0].network = Some(n);
        counted.settings.round_trips = Some(RoundTripSettings { added_rtt_ms: 5.0 });
        let json = serde_json::to_value(&counted).unwrap();
        assert_eq!(json["results"][0]["network"]["path"], "relay");
        let back: BenchmarkResults = serde_json::from_value(json).unwrap();
        assert_eq!(back.results[0].network, Some(n));
        let plain = serde_json::to_value(&old).unwrap();
        assert!(
            plain["results"][0].get("network").is_none(),
            "not written when not counted"
        );
    }
}

/// Results files made up for unit tests of what reads them: no run, exact latencies.
#[cfg(test)]
pub(crate) mod synthetic {
    use super::BenchmarkResults;
    use crate::bench::stats;

    /// One backend × workload: its successful calls' latencies (µs) and its failed calls.
    #[derive(Clone)]
    pub struct Row<'a> {
        pub backend: &'a str,
        pub workload: &'a str,
        pub latencies_us: Vec<u64>,
        pub errors: usize,
    }

    /// A row of `n` successful calls at `us` µs each, none failed.
    pub fn row<'a>(backend: &'a str, workload: &'a str, us: u64, n: usize) -> Row<'a> {
        Row {
            backend,
            workload,
            latencies_us: vec![us; n],
            errors: 0,
        }
    }

    /// An MCP server declared as `mcp:NAME` over stdio, running its tool on `over`.
    pub fn mcp_server(name: &str, over: Option<&str>) -> super::McpServerRecord {
        super::McpServerRecord {
            name: name.into(),
            transport: "stdio".into(),
            target: "python3 server.py".into(),
            tool: "python_execute".into(),
            code_arg: "code".into(),
            answer: "print".into(),
            over: over.map(str::to_string),
            down: None,
            leftovers: Vec::new(),
            leftovers_kept: false,
        }
    }

    /// A complete results file of `rows`, `baseline` its baseline backend.
    pub fn results(baseline: &str, rows: &[Row]) -> BenchmarkResults {
        let mut backends: Vec<&str> = Vec::new();
        let mut workloads: Vec<&str> = Vec::new();
        for r in rows {
            if !backends.contains(&r.backend) {
                backends.push(r.backend);
            }
            if !workloads.contains(&r.workload) {
                workloads.push(r.workload);
            }
        }
        let entries: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut h = stats::new_histogram();
                for us in &r.latencies_us {
                    h.record(us * 1000)
                        .expect("latency within the histogram's range");
                }
                serde_json::json!({
                    "backend": r.backend, "workload": r.workload,
                    "calls": r.latencies_us.len() + r.errors, "errors": r.errors,
                    "warmup_errors": 0,
                    "errors_by_kind": if r.errors > 0 {
                        serde_json::json!({"code_error": r.errors})
                    } else {
                        serde_json::json!({})
                    },
                    "error_samples": [], "latency_us": stats::summarize(&h), "exec_us": null,
                    "throughput_per_s": 1.0, "elapsed_s": 1.0, "cold_start_us": null,
                    "restarts": 0, "histogram": stats::encode(&h)
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "schema_version": super::SCHEMA_VERSION, "tool": {"name": "t", "version": "0"},
            "started_at": "", "finished_at": "", "complete": true,
            "host": {"cpus": 2, "os": "", "kernel": "", "arch": ""}, "versions": {},
            "settings": {"backends": backends, "baseline": baseline, "workloads": workloads,
                "calls_scale": 1.0, "warmup": 2, "timeout_s": 30.0, "compose_file": null,
                "service": null, "order": "sequential"},
            "histogram_encoding": super::HISTOGRAM_ENCODING, "results": entries
        }))
        .expect("a valid results file")
    }
}
