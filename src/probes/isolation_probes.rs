//! `sandbox-bench isolation`: does anything from call A reach call B on the same executor? Each
//! probe is a pair of programs: A leaves something behind, B sets `result` to whether it sees
//! it. Beside each backend goes its p50 on a normal call, so speed and isolation are one picture.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agent::AgentOptions;
use crate::bench::stats;
use crate::probes;
use crate::sandbox::Reached;
use crate::strategy::Call;

/// One leak test; `{token}` in the code is replaced by a value unique to the run.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub name: &'static str,
    /// Call A: leaves something behind.
    pub first: &'static str,
    /// Call B: `result = True` when it sees what A left.
    pub second: &'static str,
    /// Run afterwards on a fresh executor, so the sandbox is as before the probe.
    pub cleanup: Option<&'static str>,
}

const fn probe(name: &'static str, first: &'static str, second: &'static str) -> Probe {
    Probe {
        name,
        first,
        second,
        cleanup: None,
    }
}

/// The isolation probes, in the order they run.
pub const PROBES: [Probe; 9] = [
    probe(
        "variable",
        "sb_secret_{token} = 'secret'",
        "result = 'sb_secret_{token}' in globals()",
    ),
    probe(
        "import",
        "import colorsys",
        "import sys\nresult = 'colorsys' in sys.modules",
    ),
    probe(
        "function",
        "def sb_helper_{token}():\n    return 42",
        "result = 'sb_helper_{token}' in globals()",
    ),
    probe(
        "sys_path",
        "import sys\nsys.path.append('/tmp/sb-path-{token}')",
        "import sys\nresult = '/tmp/sb-path-{token}' in sys.path",
    ),
    probe(
        "builtin_monkeypatch",
        "import builtins\nbuiltins.abs = lambda x: 'patched'",
        "result = abs(-1) == 'patched'",
    ),
    probe(
        "os_environ",
        "import os\nos.environ['SB_SECRET_{token}'] = '1'",
        "import os\nresult = 'SB_SECRET_{token}' in os.environ",
    ),
    Probe {
        cleanup: Some(
            "import os\ntry:\n    os.remove('/tmp/sb-file-{token}')\nexcept OSError:\n    pass",
        ),
        ..probe(
            "tmp_file",
            "open('/tmp/sb-file-{token}', 'w').write('secret')",
            "import os\nresult = os.path.exists('/tmp/sb-file-{token}')",
        )
    },
    // Memory held by a module the interpreter keeps loaded (`os`, loaded before any call;
    // a module the call itself imports is unloaded again by `reset`).
    probe(
        "module_memory",
        "import os\nos.sb_hold_{token} = bytearray(32 << 20)",
        "import os\nresult = hasattr(os, 'sb_hold_{token}')",
    ),
    // A plants a request of its own in every pipe it can reach that a process of its session
    // reads (a zygote's waiting children, the request stream) or that it holds itself; B says
    // whether the planted code ran. Only the session is searched: on the host that is the
    // agent's own processes, never the harness's.
    Probe {
        cleanup: Some(
            "import os\ntry:\n    os.remove('/tmp/sb-planted-{token}')\nexcept OSError:\n    pass",
        ),
        ..probe(
            "planted_call",
            PLANT,
            "import os, time\nfor _ in range(20):\n    if os.path.exists('/tmp/sb-planted-{token}'):\n        break\n    time.sleep(0.01)\nresult = os.path.exists('/tmp/sb-planted-{token}')",
        )
    },
];

/// Call A of `planted_call`: writes a request line into every pipe of its session it can
/// open for writing (through /proc/PID/fd, which a process that is not dumpable refuses) and
/// into the pipes it inherited that another process of the session reads.
const PLANT: &str = r#"import json, os
line = (json.dumps({"id": 0, "code": "open('/tmp/sb-planted-{token}', 'w').close()"}) + "\n").encode()
me, parent, sid = os.getpid(), os.getppid(), os.getsid(0)
def pipes(pid):
    found = {}
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            if link.startswith("pipe:"):
                with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                    found[int(fd)] = (link, int(f.read().split("flags:")[1].split()[0], 8) & 3)
    except (OSError, IndexError, ValueError):
        pass
    return found
def plant(path):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass
read_by_others = set()
for name in os.listdir("/proc"):
    if not name.isdigit() or int(name) in (me, parent):
        continue
    try:
        if os.getsid(int(name)) != sid:
            continue
    except OSError:
        continue
    for fd, (link, mode) in pipes(int(name)).items():
        if mode == 0:
            read_by_others.add(link)
            plant("/proc/%s/fd/%d" % (name, fd))
for fd, (link, mode) in pipes(me).items():
    if mode == 0:
        plant("/proc/self/fd/%d" % fd)
    elif link in read_by_others:
        try:
            os.write(fd, line)
        except OSError:
            pass
"#;

/// One probe × backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsolationOutcome {
    pub probe: String,
    pub backend: String,
    pub outcome: Verdict,
}

/// Whether call B saw what call A left; in results files `isolated`, `leaks`, or `error: …`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Verdict {
    Isolated,
    Leaks,
    /// A call failed, or B's answer was neither `True` nor `False`: what went wrong.
    Error(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Isolated => f.write_str("isolated"),
            Verdict::Leaks => f.write_str("leaks"),
            Verdict::Error(what) => write!(f, "error: {what}"),
        }
    }
}

impl From<Verdict> for String {
    fn from(v: Verdict) -> String {
        v.to_string()
    }
}

impl TryFrom<String> for Verdict {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "isolated" => Ok(Verdict::Isolated),
            "leaks" => Ok(Verdict::Leaks),
            _ => match text.strip_prefix("error: ") {
                Some(what) => Ok(Verdict::Error(what.into())),
                None => Err(format!(
                    "'{text}' is not an isolation outcome (isolated, leaks or error: …)"
                )),
            },
        }
    }
}

/// A backend's speed beside its isolation: normal calls, all checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackendSpeed {
    pub backend: String,
    pub calls: usize,
    pub errors: usize,
    pub p50_us: Option<f64>,
}

/// Everything `isolation` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsolationResults {
    #[serde(flatten)]
    pub header: crate::results::Header,
    pub backends: Vec<String>,
    pub speed: Vec<BackendSpeed>,
    /// False when a signal stopped the probes before every one had run.
    pub complete: bool,
    pub outcomes: Vec<IsolationOutcome>,
}

/// Normal calls measured per backend for its p50 (after one warm-up call).
pub const SPEED_CALLS: usize = 50;

/// Runs every probe through one backend, each on a fresh executor, or those before `stop`
/// is set.
pub fn run_backend(
    reached: &Reached,
    timeout: Duration,
    token: &str,
    stop: &AtomicBool,
) -> Vec<IsolationOutcome> {
    PROBES
        .iter()
        .take_while(|_| !stop.load(Ordering::SeqCst))
        .map(|p| IsolationOutcome {
            probe: p.name.into(),
            backend: reached.backend.to_string(),
            outcome: run_probe(p, reached, timeout, token),
        })
        .collect()
}

fn run_probe(probe: &Probe, reached: &Reached, timeout: Duration, token: &str) -> Verdict {
    let executor = reached.executor(&AgentOptions::default());
    let call = |code: &str| {
        let code = code.replace("{token}", token);
        let reply = executor
            .call(Call {
                code: &code,
                stdin: None,
                timeout,
            })
            .map_err(|e| e.kind().to_string())?;
        match (&reply.error, reply.result) {
            (Some(e), _) => Err(e.kind.clone()),
            (None, result) => Ok(result),
        }
    };
    let outcome = match call(probe.first).and_then(|_| call(probe.second)) {
        Ok(Some(r)) if r == "True" => Verdict::Leaks,
        Ok(Some(r)) if r == "False" => Verdict::Isolated,
        Ok(other) => Verdict::Error(format!("B answered {other:?}")),
        Err(kind) => Verdict::Error(kind),
    };
    drop(executor);
    if let Some(cleanup) = probe.cleanup {
        let code = cleanup.replace("{token}", token);
        let _ = reached.executor(&AgentOptions::default()).call(Call {
            code: &code,
            stdin: None,
            timeout,
        });
    }
    outcome
}

/// The p50 of normal calls on one executor of `backend`, every answer checked; fewer calls
/// when `stop` is set.
pub fn measure_speed(reached: &Reached, timeout: Duration, stop: &AtomicBool) -> BackendSpeed {
    let executor = reached.executor(&AgentOptions::default());
    let warm = probes::normal_call(executor.as_ref(), timeout).is_ok();
    let mut histogram = stats::new_histogram();
    let mut errors = usize::from(!warm);
    let mut calls = 0;
    while calls < SPEED_CALLS && !stop.load(Ordering::SeqCst) {
        calls += 1;
        match probes::normal_call(executor.as_ref(), timeout) {
            Ok(took) => stats::record(&mut histogram, took),
            Err(_) => errors += 1,
        }
    }
    BackendSpeed {
        backend: reached.backend.to_string(),
        calls,
        errors,
        p50_us: stats::summarize(&histogram).map(|s| s.p50),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_keep_their_json() {
        for (verdict, json) in [
            (Verdict::Isolated, "\"isolated\""),
            (Verdict::Leaks, "\"leaks\""),
            (Verdict::Error("timeout".into()), "\"error: timeout\""),
        ] {
            assert_eq!(serde_json::to_string(&verdict).unwrap(), json);
            assert_eq!(serde_json::from_str::<Verdict>(json).unwrap(), verdict);
        }
        let e = serde_json::from_str::<Verdict>("\"sealed\"").unwrap_err();
        assert!(e.to_string().contains("not an isolation outcome"), "{e}");
    }

    #[test]
    fn probes_are_unique_and_use_the_token_where_names_could_clash() {
        let mut names: Vec<_> = PROBES.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PROBES.len());
        for p in PROBES {
            assert!(p.second.contains("result = "), "{}", p.name);
            if p.first.contains("{token}") {
                assert!(p.second.contains("{token}"), "{}", p.name);
            }
        }
    }
}
