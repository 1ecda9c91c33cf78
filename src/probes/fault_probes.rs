//! `sandbox-bench faults`: hostile code through every backend. Each probe runs on a fresh
//! executor, then a normal call on the same executor must succeed, and once the executor is
//! gone no process of the probe may be left in the sandbox. Probes are data: a new backend is
//! covered by the whole table without a line of code here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::agent::AgentOptions;
use crate::probes;
use crate::probes::leftover_scan::Place;
use crate::sandbox::Reached;
use crate::sandbox::backend::Backend;
use crate::strategy::{Call, TIMEOUT_GRACE};

/// Time allowed past the harness's deadline (timeout + grace) to kill a stuck agent inside the
/// sandbox: one more `docker compose exec`, which `kill_in_sandbox` waits on for at most 10 s.
/// A fork bomb that holds every CPU and every pid of the container can use all of it.
pub const KILL_ALLOWANCE: Duration = Duration::from_secs(10);

/// What a probe must end in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// A per-call error: the code's exception, a timeout or a dead agent.
    Error,
    /// A normal reply with this `repr` of `result`.
    Result(&'static str),
    /// Either: whether the code survives what it did depends on the strategy (killing its
    /// parent kills a zygote, a socket server, or the agent's own group under `docker exec`).
    Either(&'static str),
}

/// One hostile program.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub name: &'static str,
    pub code: &'static str,
    pub stdin: Option<&'static str>,
    pub expect: Expect,
    /// Only meaningful where the sandbox's memory and pids limits exist (not on the host).
    pub needs_limits: bool,
    /// What gVisor does not give that the probe needs, when it needs one: its memory wall
    /// stops no call, since the host's OOM killer takes gVisor itself, and with it the whole
    /// sandbox and every agent in it (so the probes after it would find no sandbox).
    pub gvisor_lacks: Option<&'static str>,
}

const fn probe(name: &'static str, code: &'static str, expect: Expect) -> Probe {
    Probe {
        name,
        code,
        stdin: None,
        expect,
        needs_limits: false,
        gvisor_lacks: None,
    }
}

/// The fault probes, in the order they run.
pub const PROBES: [Probe; 19] = [
    probe("infinite_loop", "while True: pass", Expect::Error),
    probe(
        "sleep_past_timeout",
        "import time; time.sleep(3600)",
        Expect::Error,
    ),
    probe("os_exit", "import os; os._exit(1)", Expect::Error),
    probe(
        "segfault",
        "import ctypes; ctypes.string_at(0)",
        Expect::Error,
    ),
    Probe {
        needs_limits: true,
        gvisor_lacks: Some("memory wall per call (the host kills the whole gVisor sandbox)"),
        ..probe(
            "memory_bomb",
            "hog = b'x' * (2 << 30)\nresult = len(hog)",
            Expect::Error,
        )
    },
    Probe {
        needs_limits: true,
        // The pids wall holds (128 processes), but 128 interpreters pass 512 MiB in gVisor's
        // memory first.
        gvisor_lacks: Some(
            "memory wall per call (128 forked interpreters pass 512 MiB and the host kills the \
             whole gVisor sandbox)",
        ),
        ..probe(
            "fork_bomb",
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
            Expect::Error,
        )
    },
    probe(
        "stdout_100mb",
        "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\nresult = 'done'",
        Expect::Result("'done'"),
    ),
    probe(
        "raw_fd_writes",
        "import os\nos.write(1, b'to fd 1\\n')\nos.write(2, b'to fd 2\\n')\nresult = 'done'",
        Expect::Result("'done'"),
    ),
    Probe {
        stdin: Some("hello\n"),
        ..probe(
            "input_with_stdin",
            "result = input()",
            Expect::Result("'hello'"),
        )
    },
    probe("input_without_stdin", "result = input()", Expect::Error),
    probe(
        "stdout_none",
        "import sys\nsys.stdout = None\nprint('lost')\nresult = 'done'",
        Expect::Result("'done'"),
    ),
    probe("system_exit", "raise SystemExit(3)", Expect::Error),
    probe(
        "keyboard_interrupt",
        "raise KeyboardInterrupt",
        Expect::Error,
    ),
    probe("syntax_error", "def f(:", Expect::Error),
    probe(
        "non_utf8_output",
        "import os\nos.write(1, b'\\xff\\xfe raw\\n')\nprint(b'\\xff'.decode('utf-8', 'surrogateescape'))\nresult = 'done'",
        Expect::Result("'done'"),
    ),
    probe(
        "thread_left_running",
        "import threading, time\ndef talk():\n    while True:\n        print('stale')\n        time.sleep(0.01)\nthreading.Thread(target=talk, daemon=True).start()\nresult = 'started'",
        Expect::Result("'started'"),
    ),
    probe(
        "daemonize_grandchild",
        "import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(300)\n    os._exit(0)\nos.waitpid(pid, 0)\nresult = 'parent'",
        Expect::Result("'parent'"),
    ),
    Probe {
        // On the host the parent is the harness itself: nothing stands between them.
        needs_limits: true,
        ..probe(
            "kill_parent",
            "import os, time\nos.kill(os.getppid(), 9)\ntime.sleep(0.2)\nresult = 'survived'",
            Expect::Either("'survived'"),
        )
    },
    probe(
        "kill_own_group",
        "import os\nos.killpg(os.getpgid(0), 9)\nresult = 'survived'",
        Expect::Error,
    ),
];

/// One probe × backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultOutcome {
    pub probe: String,
    pub backend: String,
    /// `error` or the expected `repr` of `result`.
    pub expected: String,
    /// What came back.
    pub outcome: Answer,
    pub as_expected: bool,
    pub duration_ms: f64,
    /// Whether the probe ended within the timeout, the grace and the kill allowance.
    pub within_time: bool,
    /// Whether the next normal call on the same executor answered right.
    pub recovered: bool,
    /// Time of that call (a restart included); `None` when it failed.
    pub recover_ms: Option<f64>,
    /// Why the next call failed, when it did.
    #[serde(default)]
    pub recover_error: Option<String>,
    /// Processes of the probe still running in the sandbox afterwards (`pid cmdline`).
    pub leftovers: Vec<String>,
    pub green: bool,
}

/// What a fault probe's call came back with; in results files `error: <kind>`, `ok: <repr>`,
/// `skipped` or `not provided: <what>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Answer {
    /// An error: the kind the harness counts (`timeout`, `agent_died`…) or the type the code
    /// raised (`MemoryError`, `Timeout`…).
    Error(String),
    /// The `repr` of `result` (`None` without one).
    Ok(String),
    /// Not run: the probe needs limits the transport does not have.
    Skipped,
    /// Not run: the wall the probe tests is known to be missing on the backend's runtime, and
    /// running it would take the sandbox down with the probes after it; what is missing.
    NotProvided(String),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Error(kind) => write!(f, "error: {kind}"),
            Answer::Ok(repr) => write!(f, "ok: {repr}"),
            Answer::Skipped => f.write_str("skipped"),
            Answer::NotProvided(what) => write!(f, "not provided: {what}"),
        }
    }
}

impl From<Answer> for String {
    fn from(a: Answer) -> String {
        a.to_string()
    }
}

impl TryFrom<String> for Answer {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text == "skipped" {
            Ok(Answer::Skipped)
        } else if let Some(kind) = text.strip_prefix("error: ") {
            Ok(Answer::Error(kind.into()))
        } else if let Some(repr) = text.strip_prefix("ok: ") {
            Ok(Answer::Ok(repr.into()))
        } else if let Some(what) = text.strip_prefix("not provided: ") {
            Ok(Answer::NotProvided(what.into()))
        } else {
            Err(format!(
                "'{text}' is not a fault probe outcome (error: …, ok: …, skipped or not \
                 provided: …)"
            ))
        }
    }
}

/// Everything `faults` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultResults {
    #[serde(flatten)]
    pub header: crate::results::Header,
    pub backends: Vec<String>,
    pub timeout_s: f64,
    /// What the harness adds to the timeout before it kills an agent itself.
    pub grace_s: f64,
    /// What killing a stuck agent inside the sandbox may add after that.
    #[serde(default)]
    pub kill_allowance_s: f64,
    pub all_green: bool,
    /// False when a signal stopped the probes before every one had run.
    pub complete: bool,
    pub outcomes: Vec<FaultOutcome>,
}

/// Where the backend's transport runs programs: a container of the run's own (a sandbox
/// backend's), or the shared host (a local or prefix backend, and an MCP server's host).
fn place(reached: &Reached) -> Place {
    match &reached.backend {
        Backend::Sandbox(s) if s.sandboxed() => Place::OwnContainer,
        _ => Place::SharedHost,
    }
}

/// Runs every probe through one backend, or those before `stop` is set.
pub fn run_backend(
    reached: &Reached,
    timeout: Duration,
    stop: &AtomicBool,
    mut progress: impl FnMut(&FaultOutcome),
) -> Vec<FaultOutcome> {
    // An MCP server runs its code where its executor does: in the sandbox when that is one.
    let backend = &reached.backend;
    // Or a transport whose sandboxes hold the limits themselves (bwrap's cgroup).
    let sandboxed = backend.sandboxed() || reached.transport.limited();
    let before = probes::leftover_scan::leftovers(reached.transport.as_ref(), place(reached))
        .unwrap_or_default();
    let mut outcomes = Vec::new();
    for probe in PROBES {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let outcome = if probe.needs_limits && !sandboxed {
            skipped(&probe, backend, Answer::Skipped)
        } else if let Some(what) = not_provided(&probe, backend) {
            skipped(&probe, backend, Answer::NotProvided(what.into()))
        } else {
            run_probe(&probe, reached, timeout, &before)
        };
        progress(&outcome);
        outcomes.push(outcome);
    }
    outcomes
}

fn run_probe(
    probe: &Probe,
    reached: &Reached,
    timeout: Duration,
    before: &[String],
) -> FaultOutcome {
    let backend = &reached.backend;
    let transport = &reached.transport;
    let executor = reached.executor(&AgentOptions::default());
    let start = Instant::now();
    let reply = executor.call(Call {
        code: probe.code,
        stdin: probe.stdin,
        timeout,
    });
    let took = start.elapsed();
    let (outcome, as_expected) = match (&reply, probe.expect) {
        (Err(e), expect) => (
            Answer::Error(e.kind().to_string()),
            !matches!(expect, Expect::Result(_)),
        ),
        (Ok(r), expect) if !r.ok => {
            let kind = r.error.as_ref().map_or("unknown", |e| e.kind.as_str());
            (
                Answer::Error(kind.into()),
                !matches!(expect, Expect::Result(_)),
            )
        }
        (Ok(r), Expect::Result(want) | Expect::Either(want)) => {
            let got = r.result.as_deref().unwrap_or("None");
            (Answer::Ok(got.into()), got == want)
        }
        (Ok(r), Expect::Error) => (
            Answer::Ok(r.result.as_deref().unwrap_or("None").into()),
            false,
        ),
    };
    let recovery = probes::normal_call(executor.as_ref(), timeout);
    drop(executor);
    let leftovers =
        match probes::leftover_scan::new_leftovers(transport.as_ref(), place(reached), before) {
            Ok(list) => list,
            Err(e) => vec![e],
        };
    let within_time = took <= timeout + TIMEOUT_GRACE + KILL_ALLOWANCE;
    let recovered = recovery.is_ok();
    FaultOutcome {
        probe: probe.name.into(),
        backend: backend.to_string(),
        expected: expected(probe),
        outcome,
        as_expected,
        duration_ms: ms(took),
        within_time,
        recovered,
        recover_ms: recovery.as_ref().ok().map(|d| ms(*d)),
        recover_error: recovery.err(),
        green: as_expected && within_time && recovered && leftovers.is_empty(),
        leftovers,
    }
}

/// The wall `probe` needs that `backend`'s runtime is known not to give (docs/runtimes.md's
/// walls table, asserted by tests/walls.rs), `None` when it has it.
fn not_provided(probe: &Probe, backend: &Backend) -> Option<&'static str> {
    let Backend::Sandbox(s) = backend else {
        return None;
    };
    let gvisor = s.sandboxed() && s.profile.runtime.as_deref() == Some("runsc");
    probe.gvisor_lacks.filter(|_| gvisor)
}

fn skipped(probe: &Probe, backend: &Backend, outcome: Answer) -> FaultOutcome {
    FaultOutcome {
        probe: probe.name.into(),
        backend: backend.to_string(),
        expected: expected(probe),
        outcome,
        as_expected: true,
        duration_ms: 0.0,
        within_time: true,
        recovered: true,
        recover_ms: None,
        recover_error: None,
        leftovers: Vec::new(),
        green: true,
    }
}

fn expected(probe: &Probe) -> String {
    match probe.expect {
        Expect::Error => "error".into(),
        Expect::Result(r) => format!("ok: {r}"),
        Expect::Either(r) => format!("error or ok: {r}"),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::sandbox::backend::{SandboxBackend, TransportKind};
    use crate::sandbox::profile::Profile;
    use crate::strategy::Strategy;

    #[test]
    fn the_bombs_are_not_provided_under_gvisor_alone() {
        let bomb = PROBES.iter().find(|p| p.name == "memory_bomb").unwrap();
        let on = |runtime: &str, transport| {
            Backend::Sandbox(SandboxBackend {
                transport,
                profile: Arc::new(Profile::for_runtime(
                    runtime,
                    Path::new("docker-compose.yml"),
                    "sandbox",
                )),
                strategy: Strategy::Persistent,
                cached: false,
                also: Vec::new(),
            })
        };
        let what = not_provided(bomb, &on("runsc", TransportKind::Compose)).unwrap();
        assert!(what.contains("gVisor"), "{what}");
        assert_eq!(
            not_provided(bomb, &on("crun", TransportKind::Compose)),
            None
        );
        assert_eq!(
            not_provided(
                bomb,
                &Backend::on_docker(TransportKind::Compose, Strategy::Fork)
            ),
            None
        );
        let forks = PROBES.iter().find(|p| p.name == "fork_bomb").unwrap();
        assert!(not_provided(forks, &on("runsc", TransportKind::Docker)).is_some());
        // Only the bombs: the others run under gVisor.
        for probe in PROBES
            .iter()
            .filter(|p| !["memory_bomb", "fork_bomb"].contains(&p.name))
        {
            assert_eq!(
                not_provided(probe, &on("runsc", TransportKind::Compose)),
                None,
                "{}",
                probe.name
            );
        }
    }

    #[test]
    fn answers_keep_their_json() {
        for (answer, json) in [
            (Answer::Error("Timeout".into()), "\"error: Timeout\""),
            (Answer::Ok("'survived'".into()), "\"ok: 'survived'\""),
            (Answer::Skipped, "\"skipped\""),
            (
                Answer::NotProvided("memory wall".into()),
                "\"not provided: memory wall\"",
            ),
        ] {
            assert_eq!(serde_json::to_string(&answer).unwrap(), json);
            assert_eq!(serde_json::from_str::<Answer>(json).unwrap(), answer);
        }
        assert!(serde_json::from_str::<Answer>("\"fine\"").is_err());
    }

    #[test]
    fn probe_names_are_unique_and_every_code_is_python_text() {
        let mut names: Vec<_> = PROBES.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PROBES.len());
        assert!(PROBES.iter().all(|p| !p.code.trim().is_empty()));
        assert_eq!(PROBES.iter().filter(|p| p.needs_limits).count(), 3);
    }
}
