//! The real Compose sandbox, for the Docker-backed tests: whether an engine answers (a skip on
//! a developer's machine, a failure under CI=true), and what is left running inside it.

use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use super::ROOT;

/// The tests share one sandbox container and count its processes: one at a time.
static SANDBOX: Mutex<()> = Mutex::new(());

/// The sandbox lock when an engine answers; `None` (skip) without one, a panic under CI=true.
pub fn engine() -> Option<MutexGuard<'static, ()>> {
    let answers = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !answers {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no Docker engine answers: run `bash scripts/setup-docker.sh` first"
        );
        eprintln!("SKIPPED: no Docker engine answers (run `bash scripts/setup-docker.sh`)");
    }
    answers.then(|| SANDBOX.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Code that blocks SIGALRM, so the agent's own time limit cannot stop it.
pub const BLOCKED_HANG: &str = "import signal, time; signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM]); time.sleep(600)";

/// Command lines of the agents still running in the sandbox container.
pub fn agents_in_sandbox() -> Vec<String> {
    let probe = "import os\n\
        for p in os.listdir('/proc'):\n\
        \x20   if p.isdigit() and int(p) != os.getpid():\n\
        \x20       try:\n\
        \x20           c = open('/proc/%s/cmdline' % p, 'rb').read().replace(b'\\0', b' ')\n\
        \x20       except OSError:\n\
        \x20           continue\n\
        \x20       if b'sandbox-bench agent' in c:\n\
        \x20           print(p)";
    let out = Command::new("docker")
        .args(["compose", "-f", &format!("{ROOT}/docker-compose.yml")])
        .args(["exec", "-T", "sandbox", "python3", "-c", probe])
        .output()
        .expect("docker compose exec runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Waits up to five seconds for the agents in the sandbox to go; returns those still there.
pub fn agents_left() -> Vec<String> {
    let mut left = agents_in_sandbox();
    for _ in 0..20 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        left = agents_in_sandbox();
    }
    left
}
