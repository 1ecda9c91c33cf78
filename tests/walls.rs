//! The walls of the sandbox, tested from inside the real sandbox: no network, a read-only
//! root, no root and no capabilities, the memory, CPU and pids limits of `docker-compose.yml`
//! in force, and what stands between the code and the host's kernel. Each wall is tested on
//! every place code can run in a sandbox: the Compose file on Docker under its default runtime
//! (runc), under crun and under gVisor (runsc); on Podman (runc: its Docker-compatible API
//! ignores a container's runtime, so crun there is refused); and bubblewrap on the host (the
//! `bwrap` transport). A wall a place does not give is asserted as such (its
//! test checks that it is missing, so the day it appears the test says so) and listed in
//! docs/runtimes.md. Skips a place that is not set up, visibly; fails under CI.

mod common;

use std::process::{Command, Output};
use std::sync::MutexGuard;

use common::{ROOT, bench, read_results};
use sandbox_bench::sandbox::profile::Profile;
use sandbox_bench::transport::Transport;

/// Which sandbox a wall is checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A Compose sandbox under runc or crun (Docker or Podman): the host's kernel behind
    /// namespaces, cgroups and a seccomp filter.
    Container,
    /// A Compose sandbox under gVisor: its own kernel in user space.
    Gvisor,
    /// bubblewrap on the host.
    Bwrap,
}

/// Where a wall is checked, and how code gets there.
enum On {
    /// The Compose file's service, with a profile's environment (engine socket, Compose
    /// project, runtime).
    Compose {
        kind: Kind,
        env: Vec<(String, String)>,
        /// The profile's Compose service (gVisor's has one of its own).
        service: String,
    },
    Bwrap(Box<sandbox_bench::transport::Bwrap>),
}

impl On {
    /// Whether the memory, pids and CPU limits are set: always in a container; in bubblewrap
    /// only with a cgroup of its own, which needs root.
    fn limited(&self) -> bool {
        match self {
            On::Compose { .. } => true,
            On::Bwrap(bwrap) => bwrap.limited(),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            On::Compose { kind, .. } => *kind,
            On::Bwrap(_) => Kind::Bwrap,
        }
    }

    /// `docker compose -f docker-compose.yml …` with the profile's environment.
    fn compose(env: &[(String, String)]) -> Command {
        let mut command = Command::new("docker");
        command.envs(env.iter().map(|(k, v)| (k, v)));
        command.args(["compose", "-f", &format!("{ROOT}/docker-compose.yml")]);
        command
    }

    /// Runs Python code in the sandbox the way the harness does.
    fn in_sandbox(&self, code: &str) -> Output {
        match self {
            // Under a time limit: a gVisor sandbox that dies under a call can leave its
            // `docker exec` client waiting for ever.
            On::Compose { env, service, .. } => {
                let mut exec = Command::new("timeout");
                exec.envs(env.iter().map(|(k, v)| (k, v)))
                    .args(["-s", "KILL", "180", "docker", "compose", "-f"])
                    .arg(format!("{ROOT}/docker-compose.yml"))
                    .args(["exec", "-T", service, "python3", "-c", code]);
                exec.output().expect("docker compose exec runs")
            }
            On::Bwrap(bwrap) => bwrap
                .command(bwrap.python(), &["-c".to_string(), code.to_string()])
                .stdin_null()
                .stdout_capture()
                .stderr_capture()
                .unchecked()
                .run()
                .expect("bwrap runs"),
        }
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

    /// A setting of the sandbox container as the engine holds it (`docker inspect`'s
    /// `.HostConfig`), e.g. `{{.Memory}}`.
    fn host_config(&self, field: &str) -> String {
        let On::Compose { env, .. } = self else {
            panic!("bubblewrap has no container");
        };
        let format = field.replacen("{{.", "{{.HostConfig.", 1);
        let out = Command::new("docker")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(["inspect", "--format", &format, &self.container()])
            .output()
            .expect("docker inspect runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The id of the Compose service's container.
    fn container(&self) -> String {
        let On::Compose { env, service, .. } = self else {
            panic!("bubblewrap has no container");
        };
        let id = Self::compose(env)
            .args(["ps", "-a", "-q", service])
            .output()
            .expect("docker compose runs");
        String::from_utf8_lossy(&id.stdout).trim().to_string()
    }

    /// Runs `code`, which must end the whole sandbox, not just its own process; then brings
    /// the sandbox up again.
    fn takes_the_whole_sandbox_down(&self, code: &str) {
        let On::Compose { env, service, .. } = self else {
            panic!("bubblewrap has no container");
        };
        // The exec client may never return once the sandbox is gone: it is waited on only
        // until the container stops.
        let mut exec = Self::compose(env)
            .args(["exec", "-T", service, "python3", "-c", code])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker compose exec runs");
        let mut running = String::new();
        // A bound for a busy machine, not a measurement.
        for _ in 0..240 {
            let state = Command::new("docker")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .args([
                    "inspect",
                    "--format",
                    "{{.State.Running}}",
                    &self.container(),
                ])
                .output()
                .expect("docker inspect runs");
            running = String::from_utf8_lossy(&state.stdout).trim().to_string();
            if running == "false" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        let _ = exec.kill();
        let _ = exec.wait();
        assert_eq!(running, "false", "the sandbox is gone, not just the call");
        let up = Self::compose(env)
            .args(["up", "-d", "--wait", service])
            .output()
            .expect("docker compose runs");
        assert!(up.status.success(), "{up:?}");
    }

    /// The Compose service of `profile`, brought up.
    fn up(kind: Kind, profile: &Profile) -> On {
        let env = profile.env();
        let service = profile.service.clone();
        let up = Self::compose(&env)
            .args(["up", "-d", "--wait", &service])
            .output()
            .expect("docker compose runs");
        assert!(
            up.status.success(),
            "{}",
            String::from_utf8_lossy(&up.stderr)
        );
        if let Some(runtime) = &profile.runtime {
            // The walls below are the runtime's only if the engine really ran it so.
            let id = Self::compose(&env)
                .args(["ps", "-q", &service])
                .output()
                .expect("docker compose runs");
            let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
            // Podman's Docker-compatible inspect says "oci" for every runtime: its own CLI
            // names the one it used.
            let ran = match profile.engine {
                sandbox_bench::sandbox::profile::Engine::Podman => Command::new("podman")
                    .args(["inspect", "--format", "{{.OCIRuntime}}", &id])
                    .output(),
                sandbox_bench::sandbox::profile::Engine::Docker => Command::new("docker")
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .args(["inspect", "--format", "{{.HostConfig.Runtime}}", &id])
                    .output(),
            }
            .expect("inspect runs");
            assert_eq!(
                String::from_utf8_lossy(&ran.stdout).trim(),
                runtime,
                "container {id}: {}",
                String::from_utf8_lossy(&ran.stderr)
            );
        }
        On::Compose { kind, env, service }
    }
}

fn compose_file() -> std::path::PathBuf {
    format!("{ROOT}/docker-compose.yml").into()
}

/// The sandbox lock when an engine answers, with the service up; `None` (skip) without an
/// engine, a failure under CI.
fn engine() -> Option<(MutexGuard<'static, ()>, On)> {
    let guard = common::sandbox::engine()?;
    let docker = sandbox_bench::sandbox::profile::Engine::Docker;
    let profile = Profile::builtin(docker, &compose_file(), "sandbox");
    Some((guard, On::up(Kind::Container, &profile)))
}

/// The same on Podman.
fn podman() -> Option<(MutexGuard<'static, ()>, On)> {
    let guard = common::sandbox::podman()?;
    let podman = sandbox_bench::sandbox::profile::Engine::Podman;
    let profile = Profile::builtin(podman, &compose_file(), "sandbox");
    Some((guard, On::up(Kind::Container, &profile)))
}

/// Docker under the built-in profile of `runtime` (a Compose project of its own).
fn docker_runtime(kind: Kind, runtime: &str) -> Option<(MutexGuard<'static, ()>, On)> {
    let profile = Profile::for_runtime(runtime, &compose_file(), "sandbox");
    let guard = common::sandbox::runtime(&profile)?;
    Some((guard, On::up(kind, &profile)))
}

fn crun() -> Option<(MutexGuard<'static, ()>, On)> {
    docker_runtime(Kind::Container, "crun")
}

/// Podman under crun: its own service, whose default runtime is crun (Podman's
/// Docker-compatible API ignores a container's runtime).
fn podman_crun() -> Option<(MutexGuard<'static, ()>, On)> {
    let profile = Profile::parse(
        "pcrun:engine=podman,runtime=crun",
        &compose_file(),
        "sandbox",
    )
    .expect("a valid profile");
    let guard = common::sandbox::runtime(&profile)?;
    Some((guard, On::up(Kind::Container, &profile)))
}

fn runsc() -> Option<(MutexGuard<'static, ()>, On)> {
    docker_runtime(Kind::Gvisor, "runsc")
}

/// bubblewrap on the host, with the host's Python.
fn bwrap() -> Option<(MutexGuard<'static, ()>, On)> {
    let (guard, transport) = common::sandbox::bwrap()?;
    Some((guard, On::Bwrap(Box::new(transport))))
}

/// Runs code that must succeed in the Docker sandbox and returns its stdout.
fn answer(code: &str) -> String {
    let docker = sandbox_bench::sandbox::profile::Engine::Docker;
    On::Compose {
        kind: Kind::Container,
        service: "sandbox".into(),
        env: Profile::builtin(docker, &compose_file(), "sandbox").env(),
    }
    .answer(code)
}

/// Each wall, as a test in every place.
macro_rules! in_every_place {
    ($($wall:ident),* $(,)?) => {
        in_every_place!(@place on_docker, engine; $($wall),*);
        in_every_place!(@place on_podman, podman; $($wall),*);
        in_every_place!(@place on_docker_crun, crun; $($wall),*);
        in_every_place!(@place on_podman_crun, podman_crun; $($wall),*);
        in_every_place!(@place on_docker_runsc, runsc; $($wall),*);
        in_every_place!(@place on_bwrap, bwrap; $($wall),*);
    };
    (@place $module:ident, $place:ident; $($wall:ident),*) => {
        mod $module {
            $(#[test]
            fn $wall() {
                let Some((_sandbox, on)) = super::$place() else { return };
                super::$wall(&on);
            })*
        }
    };
}

in_every_place!(
    there_is_no_network,
    the_root_filesystem_is_read_only_and_tmp_is_not,
    the_process_is_not_root_and_has_no_capabilities,
    the_memory_limit_is_set_and_kills_what_passes_it,
    the_cpu_limit_is_two_cpus,
    the_pids_limit_is_set_and_stops_a_fork_bomb,
    the_kernel_and_its_syscall_filter_are_as_documented,
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
        print(sorted(n for _, n in socket.if_nameindex()))";
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
    assert!(text.ends_with("tmp ok"), "{text}");
    if on.kind() == Kind::Gvisor {
        // gVisor refuses the writes before it looks at the mount (EACCES for uid 65534) and
        // reports its root writable in statvfs: read-only cannot be seen from inside.
        assert!(!text.contains("EROFS") && text.contains("EACCES"), "{text}");
        assert_eq!(on.host_config("{{.ReadonlyRootfs}}"), "true");
    } else {
        assert!(text.contains("EROFS"), "{text}");
    }
}

fn the_process_is_not_root_and_has_no_capabilities(on: &On) {
    let code = "import os\n\
        status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n\
        import ctypes\n\
        no_new_privs = ctypes.CDLL(None, use_errno=True).prctl(39, 0, 0, 0, 0)\n\
        print(os.getuid(), os.getgid(), status['CapEff'].strip(), status['CapPrm'].strip(), no_new_privs)";
    assert_eq!(
        on.answer(code),
        "65534 65534 0000000000000000 0000000000000000 1"
    );
}

/// Where a limit is not set (bubblewrap without root), the test asserts just that: not provided.
fn not_provided(on: &On, setting: &str) -> bool {
    if on.limited() {
        return false;
    }
    assert_eq!(setting, "missing", "no cgroup, so no limit to read");
    true
}

fn the_memory_limit_is_set_and_kills_what_passes_it(on: &On) {
    if on.kind() == Kind::Gvisor {
        assert_eq!(on.host_config("{{.Memory}}"), "536870912");
        // Not provided per call: gVisor's kernel and the code share the container's memory
        // cgroup, and the host's OOM killer takes gVisor itself, so the whole sandbox goes.
        on.takes_the_whole_sandbox_down("hog = b'x' * (1 << 30)\nprint('allocated')");
        return;
    }
    let limit = on.answer(&format!(
        "{CGROUP}print(read('memory.max', 'memory/memory.limit_in_bytes'))"
    ));
    if not_provided(on, &limit) {
        return;
    }
    assert_eq!(limit, "536870912", "512 MiB as in docker-compose.yml");
    let bomb = on.in_sandbox("hog = b'x' * (1 << 30)\nprint('allocated')");
    assert_eq!(bomb.status.code(), Some(137), "killed by the OOM killer");
    assert!(bomb.stdout.is_empty());
}

fn the_cpu_limit_is_two_cpus(on: &On) {
    if on.kind() == Kind::Gvisor {
        // Set on the container (gVisor runs inside its cgroup), not visible inside: gVisor
        // shows no cgroup files of the host's.
        assert_eq!(on.host_config("{{.NanoCpus}}"), "2000000000");
        return;
    }
    let quota = on.answer(&format!(
        "{CGROUP}v2 = read('cpu.max')\n\
         if v2 != 'missing':\n    q, p = v2.split()\n\
         else:\n    q, p = read('cpu/cpu.cfs_quota_us', 'cpu,cpuacct/cpu.cfs_quota_us'), read('cpu/cpu.cfs_period_us', 'cpu,cpuacct/cpu.cfs_period_us')\n\
         print(int(q) / int(p) if q != 'missing' else q)"
    ));
    if not_provided(on, &quota) {
        return;
    }
    assert_eq!(quota, "2.0", "cpus: 2 as in docker-compose.yml");
}

/// Children that wait on a pipe, until fork fails; then all of them are released and reaped.
const FORK_BOMB: &str = "import os, errno\n\
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

/// The same bomb, whose children become `sleep` at once: 128 Python interpreters pass
/// 512 MiB in gVisor's memory before they pass its process limit (and the host's OOM killer then
/// takes the whole sandbox: the fault probes say `not provided`), so under gVisor the process
/// limit is checked with small processes.
const SMALL_FORK_BOMB: &str = "import os, errno, signal\n\
    kids, failure = [], None\n\
    while len(kids) < 1000:\n\
    \x20   try:\n        pid = os.fork()\n\
    \x20   except OSError as e:\n        failure = errno.errorcode[e.errno]; break\n\
    \x20   if pid == 0:\n        os.execv('/bin/sleep', ['sleep', '120'])\n\
    \x20   kids.append(pid)\n\
    for pid in kids:\n    os.kill(pid, signal.SIGKILL)\n\
    for pid in kids:\n    os.waitpid(pid, 0)\n\
    print(len(kids), failure)";

fn the_pids_limit_is_set_and_stops_a_fork_bomb(on: &On) {
    let code = FORK_BOMB;
    if on.kind() == Kind::Gvisor {
        // The container's pids cgroup holds gVisor's own threads and stub processes (room for
        // them, see docker-compose.yml); the code's processes are capped inside gVisor's
        // kernel by the sandbox user's process limit, 128, and gVisor survives the bomb.
        assert_eq!(on.host_config("{{.PidsLimit}}"), "4096");
        let limit = on.answer(
            "import resource
print(resource.getrlimit(resource.RLIMIT_NPROC))",
        );
        assert_eq!(limit, "(128, 128)");
        let text = on.answer(SMALL_FORK_BOMB);
        let (count, failure) = text.split_once(' ').unwrap();
        let count: usize = count.parse().unwrap();
        assert!(count < 128, "{text}");
        assert_eq!(failure, "EAGAIN", "{text}");
        assert_eq!(on.answer("print('still here')"), "still here");
        return;
    }
    let limit = on.answer(&format!("{CGROUP}print(read('pids.max', 'pids/pids.max'))"));
    if not_provided(on, &limit) {
        return;
    }
    assert_eq!(limit, "128", "pids_limit as in docker-compose.yml");

    let text = on.answer(code);
    let (count, failure) = text.split_once(' ').unwrap();
    let count: usize = count.parse().unwrap();
    assert!(count < 128, "{text}");
    assert_eq!(failure, "EAGAIN", "{text}");
}

/// What stands between the code and the host's kernel. Under runc and crun: the host's kernel
/// behind Docker's (or Podman's) default seccomp filter (`Seccomp: 2`). Under gVisor: a kernel
/// of its own in user space, which answers with a release that is not the host's. Under
/// bubblewrap: the host's kernel and no filter at all (`Seccomp: 0`), a wall it does not give.
fn the_kernel_and_its_syscall_filter_are_as_documented(on: &On) {
    let code = "import os\n\
        status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n\
        print(os.uname().release, status.get('Seccomp', '?').strip())";
    let text = on.answer(code);
    let (release, seccomp) = text.split_once(' ').expect("release and seccomp mode");
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let host = host.trim();
    match on.kind() {
        Kind::Container => {
            assert_eq!(release, host, "the host's kernel");
            assert_eq!(seccomp, "2", "the engine's default seccomp filter: {text}");
        }
        Kind::Gvisor => assert_ne!(release, host, "gVisor's own kernel: {text}"),
        Kind::Bwrap => {
            assert_eq!(release, host, "the host's kernel");
            assert_eq!(
                seccomp, "0",
                "not provided: bubblewrap installs no filter: {text}"
            );
        }
    }
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
