//! The leftover scan: which processes a call or an agent left behind in the sandbox, listed
//! by a small Python program run through the backend's own transport.

use std::time::Duration;

use crate::transport::Transport;

/// Lists, one `pid cmdline` per line, the processes of the sandbox (but init and itself) with
/// `every`; else only those no agent owns any more: agents lead their own session, so a live
/// process whose session leader is gone was left behind by a call, and an agent (`marker`)
/// that leads a session outlived its executor. The second form is for the shared host.
/// Where the scan itself carries the run's mark (`RUN_MARK`, set by the local transport), only
/// processes that carry the same mark are listed: those this run started, not another run's
/// or another checkout's on the same host. A prefix that does not pass the environment through
/// (`docker exec`) reaches a sandbox of its own, where the scan lists everything as before.
const SCAN: &str = r#"import os, sys
me, marker, every = os.getpid(), sys.argv[1].encode(), sys.argv[2] == 'every'
mark = os.environ.get('SANDBOX_BENCH_RUN', '').encode()

def ours(pid):
    if not mark:
        return True
    try:
        env = open('/proc/%s/environ' % pid, 'rb').read().split(b'\0')
    except OSError:
        return False
    return b'SANDBOX_BENCH_RUN=' + mark in env

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
    if (orphan or agent or every) and ours(name):
        print(name, cmd[:80].decode('utf-8', 'replace'))
"#;

/// Marks every agent's command line (the agent's docstring starts with it).
const AGENT_MARKER: &str = "sandbox-bench agent";

/// Where a scan runs: in a sandbox container of its own, or on a host that others share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Every process there but its init is the run's: all are listed.
    OwnContainer,
    /// Only what agents left (orphans, agents that outlived their executor) is listed.
    SharedHost,
}

/// Processes where `transport` runs programs, as `pid cmdline`, or why they could not be
/// listed.
pub fn leftovers(transport: &dyn Transport, place: Place) -> Result<Vec<String>, String> {
    let which = match place {
        Place::SharedHost => "orphans",
        Place::OwnContainer => "every",
    };
    let args = vec![
        "-c".to_string(),
        SCAN.to_string(),
        AGENT_MARKER.to_string(),
        which.to_string(),
    ];
    // Where each start is a sandbox of its own, the others' processes are seen from outside,
    // and only those the transport answers for are its leftovers.
    let sandbox = transport;
    let transport = transport.outside().unwrap_or(transport);
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
        .filter(|l| {
            l.split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .is_none_or(|pid| sandbox.holds(pid))
        })
        .map(String::from)
        .collect())
}

/// Leftovers not in `before`, waiting up to a few seconds for exiting agents to go.
pub fn new_leftovers(
    transport: &dyn Transport,
    place: Place,
    before: &[String],
) -> Result<Vec<String>, String> {
    let mut left = Vec::new();
    for _ in 0..12 {
        left = leftovers(transport, place)?
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
