//! The real Compose sandbox, for the Docker-backed tests: whether an engine answers (a visible
//! skip on a developer's machine, a failure under CI), and what is left running inside it.

use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use super::ROOT;

/// The tests share one sandbox container and count its processes: one at a time.
static SANDBOX: Mutex<()> = Mutex::new(());

/// The sandbox lock when an engine answers; without one `None` (the test skips, visibly), or a
/// failure under CI or `SANDBOX_BENCH_REQUIRE_DOCKER`.
pub fn engine() -> Option<MutexGuard<'static, ()>> {
    let answers = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !answers {
        super::skip::skip(
            "no Docker engine answers",
            "run `bash scripts/setup-docker.sh`",
            Some("SANDBOX_BENCH_REQUIRE_DOCKER"),
        );
    }
    answers.then(|| SANDBOX.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Code that blocks SIGALRM, so the agent's own time limit cannot stop it.
pub const BLOCKED_HANG: &str = "import signal, time; signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM]); time.sleep(600)";

/// Processes left in the sandbox container besides its init and its `sleep infinity`: agents
/// and anything a call started. Each as "pid: command line"; zombies are listed too.
pub fn processes_in_sandbox() -> Vec<String> {
    let probe = "import os\n\
        for p in os.listdir('/proc'):\n\
        \x20   if not p.isdigit() or int(p) in (1, os.getpid()):\n\
        \x20       continue\n\
        \x20   try:\n\
        \x20       c = open('/proc/%s/cmdline' % p, 'rb').read().replace(b'\\0', b' ').strip()\n\
        \x20       state = open('/proc/%s/stat' % p).read().rsplit(')', 1)[1].split()[0]\n\
        \x20   except OSError:\n\
        \x20       continue\n\
        \x20   if c != b'sleep infinity':\n\
        \x20       print(p + ':', state, c[:80].decode('utf-8', 'replace'))";
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

/// Waits for the processes in the sandbox to go; returns those still there after 80 looks
/// (half a minute or more: a bound for a stuck process on a busy machine, not a measurement).
pub fn processes_left() -> Vec<String> {
    let mut left = processes_in_sandbox();
    for _ in 0..80 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        left = processes_in_sandbox();
    }
    left
}

/// Podman's Docker-compatible socket, as the harness finds it (see `compose_stack::podman_host`).
pub fn podman_host() -> String {
    sandbox_bench::sandbox::profile::podman_host()
}

/// One sandbox at a time on Podman too.
static PODMAN: Mutex<()> = Mutex::new(());

/// The Podman lock when Podman and its service answer; without them `None` (the test skips,
/// visibly), or a failure under CI (which sets Podman up with scripts/setup-podman.sh) or
/// `SANDBOX_BENCH_REQUIRE_PODMAN`.
pub fn podman() -> Option<MutexGuard<'static, ()>> {
    let answers = sandbox_bench::sandbox::compose_stack::podman_version(&podman_host()).is_some();
    if !answers {
        super::skip::skip(
            &format!("Podman's service does not answer on {}", podman_host()),
            "run `bash scripts/setup-podman.sh`",
            Some("SANDBOX_BENCH_REQUIRE_PODMAN"),
        );
    }
    answers.then(|| PODMAN.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The lock of the engine of `profile` when that engine answers and offers the profile's
/// runtime (as the harness asks: `docker info`); without them `None` (the test skips, visibly),
/// or a failure under CI (whose set-up installs and registers runsc and crun) or
/// `SANDBOX_BENCH_REQUIRE_RUNTIMES`.
pub fn runtime(
    profile: &sandbox_bench::sandbox::profile::Profile,
) -> Option<MutexGuard<'static, ()>> {
    use sandbox_bench::sandbox::profile::Engine;
    let guard = match profile.engine {
        Engine::Docker => engine()?,
        Engine::Podman => podman()?,
    };
    let runtime = profile.runtime.as_deref().unwrap_or("runc");
    let offered = sandbox_bench::sandbox::compose_stack::runtimes(&profile.env())
        .is_some_and(|r| r.iter().any(|n| n == runtime));
    if !offered {
        super::skip::skip(
            &format!(
                "runtime {runtime} is not offered by the {} engine",
                profile.engine.name()
            ),
            &format!(
                "run `bash scripts/setup-{}.sh` as root",
                profile.engine.name()
            ),
            Some("SANDBOX_BENCH_REQUIRE_RUNTIMES"),
        );
    }
    offered.then_some(guard)
}

/// bubblewrap sandboxes on the host are made one at a time too (each run makes a cgroup).
static BWRAP: Mutex<()> = Mutex::new(());

/// The `bwrap` transport over the host's Python, with its lock, when bubblewrap can make its
/// sandbox here; else `None` (the test skips, visibly), or a failure under CI or
/// `SANDBOX_BENCH_REQUIRE_RUNTIMES`.
pub fn bwrap() -> Option<(MutexGuard<'static, ()>, sandbox_bench::transport::Bwrap)> {
    let guard = BWRAP.lock().unwrap_or_else(|e| e.into_inner());
    match sandbox_bench::transport::Bwrap::new(&sandbox_bench::transport::bwrap_python()) {
        Ok(transport) => Some((guard, transport)),
        Err(e) => {
            super::skip::skip(
                &e,
                "run `bash scripts/setup-docker.sh` as root (it installs bubblewrap)",
                Some("SANDBOX_BENCH_REQUIRE_RUNTIMES"),
            );
            None
        }
    }
}
