//! What `faults` and `isolation` share: typed options, backends turned into transports (with
//! the sandbox brought up), a checked normal call, and a count of processes left in a sandbox.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::backend::Backend;
use crate::compose;
use crate::error::usage;
use crate::sandbox::{self, Reach};
use crate::strategy::{Call, Executor};
use crate::transport::Transport;

/// Options of `faults` and `isolation`, already checked.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// `None`: the Docker backends when an engine answers, else the local ones.
    pub backends: Option<Vec<Backend>>,
    pub timeout: Duration,
    pub output: PathBuf,
    pub compose_file: PathBuf,
    pub service: String,
    pub python: String,
    pub quiet: bool,
}

/// The backends to probe, each with its transport; the sandbox is up when one needs it.
pub fn prepare(opts: &ProbeOptions) -> Result<Vec<(Backend, Arc<dyn Transport>)>> {
    let docker = compose::engine_version();
    let backends = match &opts.backends {
        Some(list) => list.clone(),
        None if docker.is_some() => {
            Backend::parse_list("compose-exec,persistent").map_err(usage)?
        }
        None => Backend::parse_list("local:per-call,local:persistent").map_err(usage)?,
    };
    let reach = Reach {
        compose_file: &opts.compose_file,
        service: &opts.service,
        python: &opts.python,
        prefix: None,
    };
    let quiet = opts.quiet;
    let sandbox = sandbox::prepare(&backends, &reach, docker, |text| {
        if !quiet {
            eprintln!("{text}");
        }
    })?;
    Ok(sandbox.transports)
}

/// The call that shows a backend works: a fixed sum whose answer is checked.
pub const NORMAL_CODE: &str = "result = sum(range(10))";
const NORMAL_RESULT: &str = "45";

/// Runs the normal call; its duration when the answer is right, else what went wrong.
pub fn normal_call(executor: &dyn Executor, timeout: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let reply = executor
        .call(Call {
            code: NORMAL_CODE,
            stdin: None,
            timeout,
        })
        .map_err(|e| e.kind().to_string())?;
    let took = start.elapsed();
    if !reply.stdout.is_empty() {
        return Err(format!(
            "output it did not write: {:?}",
            reply.stdout.chars().take(40).collect::<String>()
        ));
    }
    match reply.result.as_deref() {
        Some(NORMAL_RESULT) if reply.ok => Ok(took),
        other => Err(format!("wrong answer {other:?}")),
    }
}

/// Lists, one `pid cmdline` per line, the processes of the sandbox (but init and itself) with
/// `every`; else only those no agent owns any more: agents lead their own session, so a live
/// process whose session leader is gone was left behind by a call, and an agent (`marker`)
/// that leads a session outlived its executor. The second form is for the shared host.
const SCAN: &str = r#"import os, sys
me, marker, every = os.getpid(), sys.argv[1].encode(), sys.argv[2] == 'every'
for name in os.listdir('/proc'):
    if not name.isdigit() or int(name) in (1, me, os.getppid()):
        continue
    try:
        stat = open('/proc/%s/stat' % name, 'rb').read().rsplit(b')', 1)[1].split()
        argv = open('/proc/%s/cmdline' % name, 'rb').read().split(b'\0')
    except (OSError, IndexError):
        continue
    cmd = b' '.join(argv)
    sid = int(stat[3])
    if stat[0] == b'Z':
        continue
    # The socket transport's server belongs to the transport, not to a call: started from
    # outside (parent 0 in the container), it outlives executors by design. Its connection
    # children (parent: the server) are still counted.
    if len(argv) >= 3 and argv[-3] == b'socket' and stat[1] == b'0':
        continue
    try:
        leader = open('/proc/%d/stat' % sid, 'rb').read().rsplit(b')', 1)[1].split()[0]
    except (OSError, IndexError):
        leader = b'Z'
    orphan = sid not in (0, int(name)) and leader == b'Z'
    agent = sid == int(name) and marker in cmd
    if orphan or agent or every:
        print(name, cmd[:80].decode('utf-8', 'replace'))
"#;

/// Marks every agent's command line (the agent's docstring starts with it).
const AGENT_MARKER: &str = "sandbox-bench agent";

/// Processes in the sandbox as `pid cmdline` (every one in a container of its own, those left
/// by agents on a shared host), or why they could not be listed.
pub fn leftovers(transport: &dyn Transport) -> Result<Vec<String>, String> {
    let which = if transport.name() == "local" {
        "orphans"
    } else {
        "every"
    };
    let args = vec![
        "-c".to_string(),
        SCAN.to_string(),
        AGENT_MARKER.to_string(),
        which.to_string(),
    ];
    let out = transport
        .command(transport.python(), &args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("cannot list processes: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cannot list processes: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect())
}

/// Leftovers not in `before`, waiting up to a few seconds for exiting agents to go.
pub fn new_leftovers(transport: &dyn Transport, before: &[String]) -> Result<Vec<String>, String> {
    let mut left = Vec::new();
    for _ in 0..12 {
        left = leftovers(transport)?
            .into_iter()
            .filter(|l| !before.contains(l))
            .collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(left)
}

/// Seconds since the Unix epoch as an RFC 3339 time.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
