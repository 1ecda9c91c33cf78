//! Transports: how a process inside the sandbox is reached. A transport only builds the command
//! that runs a program there with its standard streams piped; strategies do the rest.

mod api;
mod bwrap;
mod cmd;
mod compose;
mod container;
mod docker;
#[cfg(test)]
pub mod fake;
mod local;
mod on_engine;
mod socket;
mod spread;
mod started;

pub use api::{Api, ApiEndpoint};
pub use bwrap::{Bwrap, default_python as bwrap_python};
pub use cmd::{Prefix, parse_prefix};
pub use compose::Compose;
pub use container::Container;
pub use docker::DockerExec;
pub use local::{Local, RUN_MARK, host_python, run_mark};
pub use on_engine::{EngineEnv, OnEngine, with_env};
pub use socket::{CONTAINER_DIR, Socket, prepare_dir};
pub use spread::Spread;
pub use started::{Control, Framing, Started, become_subreaper, spare, spawn};

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A directory both the harness and the programs a transport starts can reach, as each sees
/// it: the profile's shared directory (mounted at [`CONTAINER_DIR`]), or one on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedDir {
    pub host: PathBuf,
    pub sandbox: String,
}

impl SharedDir {
    /// A host directory, where the programs run on the host too.
    pub fn same(dir: &Path) -> Self {
        SharedDir {
            host: dir.to_path_buf(),
            sandbox: dir.display().to_string(),
        }
    }
}

/// A way to start a program in the sandbox.
pub trait Transport: Send + Sync {
    /// The command that runs `program args…` in the sandbox with stdin, stdout, stderr passed on.
    fn command(&self, program: &str, args: &[String]) -> duct::Expression;

    /// Starts `program args…` in the sandbox. Transports that are commands need not say more;
    /// others (a connection to a server in the container) start things their own way.
    fn start(&self, program: &str, args: &[String]) -> std::io::Result<Started> {
        spawn(self.command(program, args))
    }

    /// The Python interpreter to run there.
    fn python(&self) -> &str;

    /// Whether the started program's streams pass through relay processes (a CLI client, the
    /// engine and its shim) on their way to the harness.
    fn relayed(&self) -> bool {
        true
    }

    /// Kills process `pid` inside the sandbox. Killing a `docker exec` client does not kill the
    /// process it started in the container, so a stuck agent is killed from inside, with its
    /// process group (the agent leads one), and then whatever its calls left re-parented to
    /// the container's init: once the agent is gone, nothing else would end those.
    fn kill_in_sandbox(&self, pid: u32) {
        let _ = self.sweep(Sweep::Orphans, Some(pid));
    }

    /// Whether the sandbox's memory, pids and CPU limits apply where it runs programs, though no
    /// container of a profile holds them (`bwrap` with a cgroup of its own).
    fn limited(&self) -> bool {
        false
    }

    /// The memory limit its programs share, in bytes, when the harness set it and the programs
    /// cannot read it themselves (`bwrap`'s cgroup, hidden by its cgroup namespace); `None`:
    /// whatever the sandbox's own cgroup says.
    fn memory_wall(&self) -> Option<u64> {
        None
    }

    /// Where every program this transport started can be seen, when each start is a sandbox
    /// of its own that sees nothing of the others (`bwrap`): the host.
    fn outside(&self) -> Option<&dyn Transport> {
        None
    }

    /// Whether process `pid`, as [`Transport::outside`] sees it, is one of this transport's
    /// sandboxes' (a leftover scan there lists only those); every process, by default.
    fn holds(&self, _pid: i32) -> bool {
        true
    }

    /// The transports a pool's slots are dealt over, one per engine (`transport@a+b:pool=N`);
    /// `None`: every slot starts here.
    fn places(&self) -> Option<&[std::sync::Arc<dyn Transport>]> {
        None
    }

    /// Servers the transport found dead and started again (a real cost, counted in results).
    fn restarts(&self) -> u32 {
        0
    }

    /// Counts, or kills, processes in the sandbox that no live agent answers for (see
    /// [`Sweep`]), after killing `agent` if given; how many there were, `None` when the sandbox
    /// could not be reached.
    fn sweep(&self, what: Sweep, agent: Option<u32>) -> Option<usize> {
        let mut args = vec!["-c".to_string(), SWEEP.to_string(), what.arg().to_string()];
        args.extend(agent.map(|p| p.to_string()));
        let handle = self
            .command(self.python(), &args)
            .stdin_null()
            .stdout_capture()
            .stderr_null()
            .unchecked()
            .start()
            .ok()?;
        // As long as a stuck agent's kill always took: a fork bomb can hold every pid of the
        // container, and the sweep cannot start until some are free.
        match handle.wait_timeout(Duration::from_secs(10)) {
            Ok(Some(out)) if out.status.success() => {
                String::from_utf8_lossy(&out.stdout).trim().parse().ok()
            }
            Ok(Some(_)) => None,
            _ => {
                let _ = handle.kill();
                None
            }
        }
    }
}

/// The program that sweeps a sandbox, run there with its Python.
pub const SWEEP: &str = include_str!("sweep.py");

/// What a sweep looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Counts every process but the sandbox's own (its init and command).
    Count,
    /// Kills every process but the sandbox's own: only when no other run uses the sandbox.
    All,
    /// Kills what was re-parented to the sandbox's init: left by agents that are gone.
    Orphans,
}

impl Sweep {
    fn arg(self) -> &'static str {
        match self {
            Sweep::Count => "count",
            Sweep::All => "all",
            Sweep::Orphans => "orphans",
        }
    }
}
