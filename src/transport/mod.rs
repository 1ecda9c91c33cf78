//! Transports: how a process inside the sandbox is reached. A transport only builds the command
//! that runs a program there with its standard streams piped; strategies do the rest.

mod api;
mod cmd;
mod compose;
mod container;
mod docker;
#[cfg(test)]
pub mod fake;
mod local;
mod on_host;
mod socket;
mod started;

pub use api::Api;
pub use cmd::{Prefix, parse_prefix};
pub use compose::Compose;
pub use container::Container;
pub use docker::DockerExec;
pub use local::{Local, host_python};
pub use on_host::{OnHost, with_host};
pub use socket::{CONTAINER_DIR, Socket, prepare_dir};
pub use started::{Control, Started, spawn};

use std::time::Duration;

/// A way to start a program in the sandbox.
pub trait Transport: Send + Sync {
    /// The transport's name in backend names (`compose`, `local`).
    fn name(&self) -> &'static str;

    /// The command that runs `program args…` in the sandbox with stdin, stdout, stderr passed on.
    fn command(&self, program: &str, args: &[String]) -> duct::Expression;

    /// Starts `program args…` in the sandbox. Transports that are commands need not say more;
    /// others (a connection to a server in the container) start things their own way.
    fn start(&self, program: &str, args: &[String]) -> std::io::Result<Started> {
        spawn(self.command(program, args))
    }

    /// The Python interpreter to run there.
    fn python(&self) -> &str;

    /// Kills process `pid` inside the sandbox. Killing a `docker exec` client does not kill the
    /// process it started in the container, so a stuck agent is killed from inside, with its
    /// process group (the agent leads one), so that nothing its calls forked stays behind.
    fn kill_in_sandbox(&self, pid: u32) {
        let code = format!(
            "import os\nfor kill in (os.killpg, os.kill):\n    try:\n        kill({pid}, 9)\n    except OSError:\n        pass"
        );
        let args = vec!["-c".to_string(), code];
        let started = self
            .command(self.python(), &args)
            .stdin_null()
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start();
        if let Ok(handle) = started
            && !matches!(handle.wait_timeout(Duration::from_secs(10)), Ok(Some(_)))
        {
            let _ = handle.kill();
        }
    }
}
