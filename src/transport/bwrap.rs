//! `bwrap`: every program started in a bubblewrap sandbox of its own on the host, with no
//! daemon between the harness and the agent. The Compose sandbox's walls, as far as bubblewrap
//! and the kernel give them:
//! - new user, pid, network, ipc, uts and cgroup namespaces; nested user namespaces refused;
//! - a root of its own, read-only: the host's `/usr` (and the merged-usr links) read-only, a
//!   minimal `/dev`, its own `/proc`, a private 64 MiB `/tmp`, nothing else of the host's files;
//! - no network but its own loopback; no environment of the harness's;
//! - uid and gid 65534 inside, no capabilities, no new privileges; when the harness runs as
//!   root, bubblewrap itself runs as 65534 too, so the sandbox's user is nobody outside it;
//! - memory 512 MiB (no swap), 128 pids and 2 CPUs, in a cgroup of the transport's own that
//!   every one of its sandboxes joins (as every agent of a Compose sandbox shares one
//!   container's), when the harness may make one (root, a cgroup hierarchy it can write).
//!
//! What it cannot give is said by [`Bwrap::not_provided`]. A sandbox ends with its agent:
//! bubblewrap is the init of its pid namespace and dies with its parent, so killing what the
//! harness started ends everything the calls started inside.

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::local::host_sweep;
use super::{Local, Sweep, Transport};

/// The user and group the code runs as, as in docker-compose.yml (`user: "65534:65534"`).
const NOBODY: u32 = 65534;
/// The limits of docker-compose.yml's sandbox service.
pub const MEMORY_BYTES: u64 = 512 << 20;
pub const PIDS: u32 = 128;
pub const CPUS: u32 = 2;
const TMP_BYTES: u64 = 64 << 20;
const CPU_PERIOD_US: u64 = 100_000;

/// Runs each program in a bubblewrap sandbox on the host.
pub struct Bwrap {
    python: String,
    /// bubblewrap's arguments before the program.
    args: Vec<String>,
    /// The cgroup its sandboxes join; `None`: no limits (see [`Bwrap::not_provided`]).
    cgroup: Option<Cgroup>,
    /// Whether bubblewrap is started as [`NOBODY`] (the harness is root).
    drop_root: bool,
    /// The walls it does not give, one line each.
    missing: Vec<String>,
    /// The host, where every sandbox's processes can be seen.
    host: Local,
}

/// The interpreter a sandbox runs when `--python` names none: the system's `/usr/bin/python3`,
/// which the sandbox's user can read and which lives in the one host directory it sees, as an
/// image's would; else the host's `python3` ([`super::host_python`]), whose prefix is then
/// bound in read-only (a version manager's under /root cannot be read by uid 65534).
pub fn default_python() -> String {
    let system = "/usr/bin/python3";
    if Path::new(system).is_file() {
        system.to_string()
    } else {
        super::host_python()
    }
}

impl Bwrap {
    /// A transport running `python` (a host interpreter) in bubblewrap, checked by starting it
    /// once: an error says in one line why bubblewrap cannot make its sandbox here.
    pub fn new(python: &str) -> Result<Bwrap, String> {
        let help = Command::new("bwrap").arg("--help").output().map_err(|e| {
            format!(
                "bwrap cannot be started ({e}): install bubblewrap \
                     (`apt-get install bubblewrap`, or `bash scripts/setup-docker.sh` as root)"
            )
        })?;
        let help = String::from_utf8_lossy(&help.stdout).to_string();
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let mut missing = vec![
            "syscall filter: none (Docker applies its default seccomp profile; the kernel is \
             the host's, as under runc)"
                .to_string(),
            "host files: the host's /usr is readable (a container sees its image's)".to_string(),
        ];
        let cgroup = if root {
            match Cgroup::make() {
                Ok(c) => Some(c),
                Err(e) => {
                    missing.push(format!("memory, pids and CPU limits: none ({e})"));
                    None
                }
            }
        } else {
            missing.push(
                "memory, pids and CPU limits: none (a cgroup of its own needs root)".to_string(),
            );
            None
        };
        let nested = help.contains("--disable-userns");
        if !nested {
            missing.push(
                "nested user namespaces: allowed (this bubblewrap has no --disable-userns)"
                    .to_string(),
            );
        }
        if !root {
            missing.push(
                "outside the sandbox the code runs as the harness's user (root would run it \
                 as nobody)"
                    .to_string(),
            );
        }
        let transport = Bwrap {
            python: python.to_string(),
            args: arguments(python, cgroup.as_ref(), nested),
            cgroup,
            drop_root: root,
            missing,
            host: Local {
                python: python.to_string(),
            },
        };
        transport.check()?;
        Ok(transport)
    }

    /// The walls of the Compose sandbox this one does not give, one line each.
    pub fn not_provided(&self) -> &[String] {
        &self.missing
    }

    /// Starts Python once in the sandbox.
    fn check(&self) -> Result<(), String> {
        let out = self
            .command(&self.python, &["-c".into(), "print('ok')".into()])
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| format!("bwrap cannot be started: {e}"))?;
        if String::from_utf8_lossy(&out.stdout).trim() == "ok" {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty());
        Err(format!(
            "bubblewrap cannot run {} in its sandbox here: {} (it needs user namespaces, and \
             an interpreter uid 65534 can read: --python)",
            self.python,
            last.unwrap_or("no output").trim()
        ))
    }
}

/// bubblewrap's arguments: the namespaces, the filesystem, the environment.
fn arguments(python: &str, cgroup: Option<&Cgroup>, disable_userns: bool) -> Vec<String> {
    let id = NOBODY.to_string();
    let mut args: Vec<String> = [
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--uid",
        id.as_str(),
        "--gid",
        id.as_str(),
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    .map(String::from)
    .to_vec();
    if disable_userns {
        args.push("--disable-userns".into());
    }
    // The top-level directories a merged-usr system links into /usr, or that hold libraries.
    for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let path = Path::new("/").join(top);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let path = path.display().to_string();
        if meta.file_type().is_symlink() {
            if let Ok(target) = std::fs::read_link(&path) {
                args.extend(["--symlink".into(), target.display().to_string(), path]);
            }
        } else if meta.is_dir() {
            args.extend(["--ro-bind".into(), path.clone(), path]);
        }
    }
    for file in ["/etc/ld.so.cache", "/etc/localtime"] {
        args.extend(["--ro-bind-try".into(), file.into(), file.into()]);
    }
    // An interpreter installed outside /usr (a pyenv or a venv's base) brings its prefix.
    if let Some(prefix) = python_prefix(python).filter(|p| !p.starts_with("/usr")) {
        args.extend(["--ro-bind".into(), prefix.clone(), prefix]);
    }
    let tmp_size = TMP_BYTES.to_string();
    args.extend(
        [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            tmp_size.as_str(),
            "--perms",
            "1777",
            "--tmpfs",
            "/tmp",
        ]
        .map(String::from),
    );
    // The limits, readable where a container shows them.
    for (dir, inside) in cgroup.map(|c| c.binds.as_slice()).unwrap_or_default() {
        args.extend([
            "--ro-bind".into(),
            dir.display().to_string(),
            inside.clone(),
        ]);
    }
    args.extend(
        [
            "--remount-ro",
            "/",
            "--chdir",
            "/tmp",
            "--hostname",
            "sandbox",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/local/bin:/usr/bin:/bin",
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--setenv",
            "HOME",
            "/tmp",
            "--",
        ]
        .map(String::from),
    );
    args
}

/// The interpreter's `sys.base_prefix`, when it answers.
fn python_prefix(python: &str) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import sys; print(sys.base_prefix)"])
        .output()
        .ok()?;
    let prefix = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && prefix.starts_with('/') && prefix != "/").then_some(prefix)
}

impl Transport for Bwrap {
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        let mut argv = self.args.clone();
        argv.push(program.to_string());
        argv.extend(args.iter().cloned());
        let procs = self
            .cgroup
            .as_ref()
            .map(|c| c.procs.clone())
            .unwrap_or_default();
        let drop_root = self.drop_root;
        duct::cmd("bwrap", argv)
            .dir("/")
            .before_spawn(move |command| {
                let procs = procs.clone();
                // SAFETY: the closure runs in the child between fork and exec and only makes
                // system calls (open, write, close, setgroups, setgid, setuid) on data prepared
                // before the fork.
                unsafe {
                    std::os::unix::process::CommandExt::pre_exec(command, move || {
                        join_and_drop(&procs, drop_root)
                    });
                }
                Ok(())
            })
    }

    fn python(&self) -> &str {
        &self.python
    }

    /// Nothing relays the streams: bubblewrap hands its pipes to the agent.
    fn relayed(&self) -> bool {
        false
    }

    /// The pid is the agent's inside its namespace, where nothing else lives: killing the
    /// bubblewrap process the harness started (which it does next) ends the whole sandbox.
    fn kill_in_sandbox(&self, _pid: u32) {}

    /// Sandboxes die with their agents, so what is left is on the host: bubblewrap processes
    /// the harness let go of (as for `local`), and processes in the transport's cgroup that no
    /// held sandbox answers for.
    fn sweep(&self, what: Sweep, _agent: Option<u32>) -> Option<usize> {
        let on_host = host_sweep(what, None)?;
        let in_cgroup = self.cgroup.as_ref().map_or(0, |c| c.sweep(what));
        Some(on_host + in_cgroup)
    }

    fn limited(&self) -> bool {
        self.cgroup.is_some()
    }

    fn memory_wall(&self) -> Option<u64> {
        self.cgroup.is_some().then_some(MEMORY_BYTES)
    }

    fn outside(&self) -> Option<&dyn Transport> {
        Some(&self.host)
    }

    /// With a cgroup, the processes in it; without one, every process on the host (a scan
    /// there also sees what others run).
    fn holds(&self, pid: i32) -> bool {
        self.cgroup
            .as_ref()
            .is_none_or(|c| c.members().contains(&pid))
    }
}

/// In the child before exec: joins the cgroup (each `cgroup.procs` file) and, when the harness
/// is root, becomes [`NOBODY`] with no supplementary groups.
fn join_and_drop(procs: &[CString], drop_root: bool) -> io::Result<()> {
    for path in procs {
        // SAFETY: open, write and close on a valid C string and a one-byte buffer.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            let error = io::Error::last_os_error();
            libc::close(fd);
            if written != 1 {
                return Err(error);
            }
        }
    }
    if drop_root {
        // SAFETY: plain system calls with integer arguments; a null list with a zero count.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// A cgroup file, its value, and whether the limit needs it (`memory.memsw.*` and
/// `memory.swap.max` exist only where the kernel accounts swap).
type Setting = (&'static str, String, bool);

/// A cgroup of the transport's own with the Compose sandbox's limits, removed with it.
struct Cgroup {
    /// The `cgroup.procs` file of each hierarchy (one on cgroup v2, one per controller on v1).
    procs: Vec<CString>,
    /// Its directories.
    dirs: Vec<PathBuf>,
    /// Each directory and where the sandbox sees it (read-only), as a container would.
    binds: Vec<(PathBuf, String)>,
}

impl Cgroup {
    fn make() -> Result<Cgroup, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "sandbox-bench-bwrap-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let root = Path::new("/sys/fs/cgroup");
        let mut made = Cgroup {
            procs: Vec::new(),
            dirs: Vec::new(),
            binds: Vec::new(),
        };
        let quota = (u64::from(CPUS) * CPU_PERIOD_US).to_string();
        let settings: Vec<(&str, Vec<Setting>)> = if root.join("cgroup.controllers").exists() {
            // cgroup v2: one directory, the controllers enabled for the root's children.
            let _ = std::fs::write(root.join("cgroup.subtree_control"), "+memory +pids +cpu");
            vec![(
                "",
                vec![
                    ("memory.max", MEMORY_BYTES.to_string(), true),
                    ("memory.swap.max", "0".into(), false),
                    ("pids.max", PIDS.to_string(), true),
                    ("cpu.max", format!("{quota} {CPU_PERIOD_US}"), true),
                ],
            )]
        } else {
            vec![
                (
                    "memory",
                    vec![
                        ("memory.limit_in_bytes", MEMORY_BYTES.to_string(), true),
                        (
                            "memory.memsw.limit_in_bytes",
                            MEMORY_BYTES.to_string(),
                            false,
                        ),
                    ],
                ),
                ("pids", vec![("pids.max", PIDS.to_string(), true)]),
                (
                    "cpu",
                    vec![
                        ("cpu.cfs_period_us", CPU_PERIOD_US.to_string(), true),
                        ("cpu.cfs_quota_us", quota, true),
                    ],
                ),
            ]
        };
        for (controller, files) in settings {
            remove_stale(&root.join(controller));
            let dir = root.join(controller).join(&name);
            std::fs::create_dir(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
            made.dirs.push(dir.clone());
            for (file, value, needed) in files {
                match std::fs::write(dir.join(file), &value) {
                    Err(e) if needed => {
                        return Err(format!("cannot set {}/{file}: {e}", dir.display()));
                    }
                    _ => {}
                }
            }
            let procs = dir.join("cgroup.procs");
            made.procs.push(
                CString::new(procs.display().to_string())
                    .map_err(|_| format!("{}: not a path", procs.display()))?,
            );
            let inside = Path::new("/sys/fs/cgroup").join(controller);
            made.binds.push((dir, inside.display().to_string()));
        }
        Ok(made)
    }

    /// The processes in the cgroup.
    fn members(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .procs
            .iter()
            .filter_map(|p| std::fs::read_to_string(&*p.to_string_lossy()).ok())
            .flat_map(|t| {
                t.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Counts, or kills, the processes in the cgroup whose bubblewrap the harness no longer
    /// holds.
    fn sweep(&self, what: Sweep) -> usize {
        let strays: Vec<i32> = self.members().into_iter().filter(|&p| !held(p)).collect();
        if what != Sweep::Count {
            for &pid in &strays {
                // SAFETY: kill(2) with plain integers, on processes of the transport's cgroup.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        strays.len()
    }
}

/// Removes the empty cgroups that harnesses no longer running left in `parent` (one that exits
/// without dropping its transports leaves its cgroup behind; a cgroup with processes stays).
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("sandbox-bench-bwrap-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// Whether `pid` or one of its ancestors is a program the harness still holds.
fn held(pid: i32) -> bool {
    let mut pid = pid;
    for _ in 0..64 {
        if pid <= 1 {
            return false;
        }
        if super::started::is_live(pid as u32) {
            return true;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
        else {
            return false;
        };
        pid = ppid;
    }
    false
}

impl Drop for Cgroup {
    /// Kills what is left in it and removes it (a directory of a live cgroup cannot go).
    fn drop(&mut self) {
        for _ in 0..50 {
            let members = self.members();
            if members.is_empty() {
                break;
            }
            for pid in members {
                // SAFETY: as in `sweep`.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_gets_no_host_directory_but_usr_and_a_read_only_root() {
        let args = arguments("/usr/bin/python3", None, true);
        let binds: Vec<&str> = args
            .windows(3)
            .filter(|w| w[0] == "--ro-bind" || w[0] == "--bind")
            .map(|w| w[1].as_str())
            .collect();
        for bound in &binds {
            assert!(
                [
                    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"
                ]
                .contains(bound),
                "binds {bound}: {args:?}"
            );
        }
        assert!(!args.iter().any(|a| a == "--bind" || a == "--dev-bind"));
        for flag in [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--disable-userns",
        ] {
            assert!(args.iter().any(|a| a == flag), "{flag}: {args:?}");
        }
        let at = |flag: &str| args.iter().position(|a| a == flag).unwrap();
        assert!(at("--tmpfs") < at("--remount-ro"), "/ read-only, /tmp not");
        assert_eq!(args.last().map(String::as_str), Some("--"));
        let uid = at("--uid");
        assert_eq!(args[uid + 1], "65534");
    }
}
