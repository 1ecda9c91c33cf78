//! The walls of the sandbox, tested from inside the real container: no network, a read-only
//! root, no root and no capabilities, and the memory, CPU and pids limits of
//! `docker-compose.yml` in force. Each wall is tested on Docker and on Podman (the same Compose
//! file, brought up through Podman's Docker-compatible socket). Skips an engine that does not
//! answer, visibly; fails under CI.

mod common;

use std::process::{Command, Output};
use std::sync::MutexGuard;

use common::{ROOT, bench, read_results};

/// The engine a wall is checked on: `DOCKER_HOST` of its socket, `None` for Docker's default.
struct On {
    host: Option<String>,
}

impl On {
    /// `docker compose -f docker-compose.yml …` on this engine.
    fn compose(&self) -> Command {
        let mut command = Command::new("docker");
        if let Some(host) = &self.host {
            command.env("DOCKER_HOST", host);
        }
        command.args(["compose", "-f", &format!("{ROOT}/docker-compose.yml")]);
        command
    }

    /// Runs Python code in the sandbox the way the harness does.
    fn in_sandbox(&self, code: &str) -> Output {
        self.compose()
            .args(["exec", "-T", "sandbox", "python3", "-c", code])
            .output()
            .expect("docker compose exec runs")
    }

    /// Runs code that must succeed and returns its stdout.
    fn answer(&self, code: &str) -> String {
        let out = self.in_sandbox(code);
        assert!(
            out.status.success(),
            "{code}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Brings the service up on this engine.
    fn up(self) -> Self {
        let up = self
            .compose()
            .args(["up", "-d", "--wait"])
            .output()
            .expect("docker compose runs");
        assert!(
            up.status.success(),
            "{}",
            String::from_utf8_lossy(&up.stderr)
        );
        self
    }
}

/// The sandbox lock when an engine answers, with the service up; `None` (skip) without an
/// engine, a failure under CI.
fn engine() -> Option<(MutexGuard<'static, ()>, On)> {
    let guard = common::sandbox::engine()?;
    Some((guard, On { host: None }.up()))
}

/// The same on Podman.
fn podman() -> Option<(MutexGuard<'static, ()>, On)> {
    let guard = common::sandbox::podman()?;
    let host = Some(common::sandbox::podman_host());
    Some((guard, On { host }.up()))
}

/// Runs code that must succeed in the Docker sandbox and returns its stdout.
fn answer(code: &str) -> String {
    On { host: None }.answer(code)
}

/// Each wall, as a test on Docker and one on Podman.
macro_rules! on_both_engines {
    ($($wall:ident),* $(,)?) => {
        mod on_docker {
            $(#[test]
            fn $wall() {
                let Some((_sandbox, on)) = super::engine() else { return };
                super::$wall(&on);
            })*
        }
        mod on_podman {
            $(#[test]
            fn $wall() {
                let Some((_sandbox, on)) = super::podman() else { return };
                super::$wall(&on);
            })*
        }
    };
}

on_both_engines!(
    there_is_no_network,
    the_root_filesystem_is_read_only_and_tmp_is_not,
    the_process_is_not_root_and_has_no_capabilities,
    the_memory_limit_is_set_and_kills_what_passes_it,
    the_cpu_limit_is_two_cpus,
    the_pids_limit_is_set_and_stops_a_fork_bomb,
);

/// Reads a cgroup setting, v2 name first, then v1.
const CGROUP: &str = r#"import sys
def read(*paths):
    for p in paths:
        try:
            return open('/sys/fs/cgroup/' + p).read().strip()
        except OSError:
            pass
    return 'missing'
"#;

fn there_is_no_network(on: &On) {
    let code = "import socket\n\
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
        s.settimeout(3)\n\
        try:\n    s.connect(('1.1.1.1', 53)); print('connected')\n\
        except OSError as e:\n    print('refused', e.errno)\n\
        import os\n\
        print(sorted(os.listdir('/sys/class/net')))";
    let text = on.answer(code);
    assert!(text.starts_with("refused"), "{text}");
    assert!(text.ends_with("['lo']"), "only loopback: {text}");
}

fn the_root_filesystem_is_read_only_and_tmp_is_not(on: &On) {
    let code = "import errno\n\
        for path in ('/usr/lib/evil', '/etc/passwd', '/evil'):\n\
        \x20   try:\n        open(path, 'a').write('x'); print('wrote', path)\n\
        \x20   except OSError as e:\n        print(errno.errorcode[e.errno])\n\
        open('/tmp/walls-ok', 'w').write('x')\n\
        import os; os.remove('/tmp/walls-ok'); print('tmp ok')";
    let text = on.answer(code);
    assert!(!text.contains("wrote"), "{text}");
    assert!(text.contains("EROFS"), "{text}");
    assert!(text.ends_with("tmp ok"), "{text}");
}

fn the_process_is_not_root_and_has_no_capabilities(on: &On) {
    let code = "import os\n\
        status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n\
        print(os.getuid(), os.getgid(), status['CapEff'].strip(), status['CapPrm'].strip(), status['NoNewPrivs'].strip())";
    assert_eq!(
        on.answer(code),
        "65534 65534 0000000000000000 0000000000000000 1"
    );
}

fn the_memory_limit_is_set_and_kills_what_passes_it(on: &On) {
    let limit = on.answer(&format!(
        "{CGROUP}print(read('memory.max', 'memory/memory.limit_in_bytes'))"
    ));
    assert_eq!(limit, "536870912", "512 MiB as in docker-compose.yml");
    let bomb = on.in_sandbox("hog = b'x' * (1 << 30)\nprint('allocated')");
    assert_eq!(bomb.status.code(), Some(137), "killed by the OOM killer");
    assert!(bomb.stdout.is_empty());
}

fn the_cpu_limit_is_two_cpus(on: &On) {
    let quota = on.answer(&format!(
        "{CGROUP}v2 = read('cpu.max')\n\
         if v2 != 'missing':\n    q, p = v2.split()\n\
         else:\n    q, p = read('cpu/cpu.cfs_quota_us', 'cpu,cpuacct/cpu.cfs_quota_us'), read('cpu/cpu.cfs_period_us', 'cpu,cpuacct/cpu.cfs_period_us')\n\
         print(int(q) / int(p))"
    ));
    assert_eq!(quota, "2.0", "cpus: 2 as in docker-compose.yml");
}

fn the_pids_limit_is_set_and_stops_a_fork_bomb(on: &On) {
    let limit = on.answer(&format!("{CGROUP}print(read('pids.max', 'pids/pids.max'))"));
    assert_eq!(limit, "128", "pids_limit as in docker-compose.yml");
    // Children that wait on a pipe, until fork fails; then all of them are released and reaped.
    let code = "import os, errno\n\
        r, w = os.pipe()\n\
        kids, failure = [], None\n\
        while len(kids) < 1000:\n\
        \x20   try:\n        pid = os.fork()\n\
        \x20   except OSError as e:\n        failure = errno.errorcode[e.errno]; break\n\
        \x20   if pid == 0:\n        os.close(w); os.read(r, 1); os._exit(0)\n\
        \x20   kids.append(pid)\n\
        os.close(w)\n\
        for pid in kids:\n    os.waitpid(pid, 0)\n\
        print(len(kids), failure)";
    let text = on.answer(code);
    let (count, failure) = text.split_once(' ').unwrap();
    let count: usize = count.parse().unwrap();
    assert!(count < 128, "{text}");
    assert_eq!(failure, "EAGAIN", "{text}");
}

#[test]
fn the_leftover_check_sees_a_process_left_in_the_container() {
    let Some((_sandbox, _)) = engine() else {
        return;
    };
    let transport = sandbox_bench::transport::Compose {
        file: format!("{ROOT}/docker-compose.yml").into(),
        service: "sandbox".into(),
        python: "python3".into(),
    };
    let container = sandbox_bench::probes::leftover_scan::Place::OwnContainer;
    let before = sandbox_bench::probes::leftover_scan::leftovers(&transport, container).unwrap();
    // `docker exec -d` leaves its process running in the container, as a lost agent would be.
    let planted = Command::new("docker")
        .args(["compose", "-f", &format!("{ROOT}/docker-compose.yml")])
        .args(["exec", "-d", "sandbox", "sleep", "41.5"])
        .status()
        .unwrap();
    assert!(planted.success());
    let left = sandbox_bench::probes::leftover_scan::new_leftovers(&transport, container, &before)
        .unwrap();
    answer(
        "import os, signal\nfor p in os.listdir('/proc'):\n    if p.isdigit() and int(p) != os.getpid() and b'41.5' in open('/proc/%s/cmdline' % p, 'rb').read():\n        os.kill(int(p), signal.SIGKILL)",
    );
    assert!(left.iter().any(|l| l.contains("sleep 41.5")), "{left:?}");
}

#[test]
fn probes_reach_every_transport_for_real_not_a_local_stand_in() {
    let Some((_sandbox, _)) = engine() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("isolation.json");
    bench()
        .args([
            "isolation",
            "--quiet",
            "--backends",
            "container:per-call,docker:persistent",
        ])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    let outcome = |backend: &str, probe: &str| {
        results["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["probe"] == probe && o["backend"] == backend)
            .unwrap()["outcome"]
            .clone()
    };
    // Only a fresh container per call forgets a file in /tmp; on the host it would leak.
    assert_eq!(outcome("container:per-call", "tmp_file"), "isolated");
    assert_eq!(outcome("docker:persistent", "tmp_file"), "leaks");
}
