//! `local`: the host's own Python, no sandbox at all. For trusted code, and the floor the other
//! transports are measured against.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::started::is_live;
use super::{Sweep, Transport};

/// The interpreter the host's `python3` resolves to, asked once (`sys.executable`); `python3`
/// itself when it does not answer with a path. A version manager's `python3` on PATH (pyenv,
/// asdf) is a shell script that finds and starts the real interpreter on every call: measured
/// per call it adds its own start-up to every sample, which is not what `local:per-call` means.
pub fn host_python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let path = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => String::new(),
    };
    if path.starts_with('/') && std::path::Path::new(&path).is_file() {
        path
    } else {
        "python3".into()
    }
}

/// The environment variable that marks every process one harness starts on the host (agents,
/// what their calls start, MCP servers, and theirs): a host shared with other runs, or another
/// checkout's tests, is scanned for this run's own processes only.
pub const RUN_MARK: &str = "SANDBOX_BENCH_RUN";

/// This run's mark: the one this process was started with (a `serve` that a run started as an
/// MCP server belongs to that run), else a new one, its pid and start time.
pub fn run_mark() -> &'static str {
    static MARK: OnceLock<String> = OnceLock::new();
    MARK.get_or_init(|| {
        std::env::var(RUN_MARK)
            .ok()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                format!("{}-{nanos}", std::process::id())
            })
    })
}

/// Runs programs directly on the host.
pub struct Local {
    pub python: String,
}

impl Transport for Local {
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        duct::cmd(program, args).env(RUN_MARK, run_mark())
    }

    fn relayed(&self) -> bool {
        false
    }

    fn python(&self) -> &str {
        &self.python
    }

    /// On the host the harness is the sandbox's init: see [`host_sweep`].
    fn sweep(&self, what: Sweep, agent: Option<u32>) -> Option<usize> {
        host_sweep(what, agent)
    }
}

/// The host's sweep. The harness made itself a subreaper, so what a dead agent's calls left
/// running is re-parented to it. Its children in a session of their own that are not agents it
/// holds are those, and are killed with everything below them (after `agent`, when given).
/// The host's other processes are never counted or touched, whatever `what` says.
pub(super) fn host_sweep(what: Sweep, agent: Option<u32>) -> Option<usize> {
    if let Some(pid) = agent.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with plain integers.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let found = strays().len();
    if what == Sweep::Count {
        return Some(found);
    }
    for _ in 0..50 {
        let pids = strays();
        if pids.is_empty() {
            break;
        }
        for &pid in &pids {
            // SAFETY: as above; reaping only the harness's own re-parented children.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        for &pid in &pids {
            // SAFETY: waitpid on one pid; a pid that is not our child just fails.
            unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(found)
}

/// Processes below the harness that are neither agents it holds nor in its own session (the
/// Docker and Compose clients it runs are), with their descendants.
fn strays() -> Vec<i32> {
    let mut tree: HashMap<i32, Vec<i32>> = HashMap::new();
    let mut session = HashMap::new();
    for pid in crate::procfs::pids() {
        let Ok(pid) = i32::try_from(pid) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() < 4 || fields[0] == "Z" || fields[0] == "X" {
            continue;
        }
        let (Ok(ppid), Ok(sid)) = (fields[1].parse::<i32>(), fields[3].parse::<i32>()) else {
            continue;
        };
        tree.entry(ppid).or_default().push(pid);
        session.insert(pid, sid);
    }
    // SAFETY: getpid and getsid(0) only read this process's ids.
    let (me, mine) = unsafe { (libc::getpid(), libc::getsid(0)) };
    let mut found: Vec<i32> = tree
        .get(&me)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&p| session.get(&p) != Some(&mine) && !is_live(p as u32))
        .collect();
    let mut i = 0;
    while i < found.len() {
        found.extend(tree.get(&found[i]).into_iter().flatten().copied());
        i += 1;
    }
    found
}
