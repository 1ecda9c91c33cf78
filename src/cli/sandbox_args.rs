//! The flags of every command that reaches a sandbox (`run`, `faults`, `isolation`, `soak`):
//! one struct, flattened into each, so a backend is reached the same way by all of them.

use std::path::PathBuf;

use clap::Args;

use super::values;
use crate::error::usage;
use crate::sandbox::SandboxOptions;

/// Which backends, and how to reach the sandbox they run in.
#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Comma-separated backends [default: compose-exec,persistent when a Docker engine
    /// answers, else local:per-call,local:persistent]
    #[arg(short, long, value_name = "LIST")]
    backends: Option<String>,
    #[command(flatten)]
    place: SandboxPlace,
    /// No progress and no notices on stderr; tables still go to stdout
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    mcp: super::mcp_args::McpArgs,
}

/// Where the sandbox is and what to start in it: shared by the commands that take a list of
/// backends and by `serve`, which takes one.
#[derive(Args, Debug)]
pub struct SandboxPlace {
    /// Compose file of the sandbox service
    #[arg(long, value_name = "FILE", default_value = "docker-compose.yml")]
    compose_file: PathBuf,
    /// Compose service the code runs in
    #[arg(long, value_name = "NAME", default_value = "sandbox")]
    service: String,
    /// Python interpreter to start, on the host for local, in the sandbox otherwise [default:
    /// python3; on the host, the interpreter python3 resolves to, not a version manager's shim]
    #[arg(long, value_name = "CMD")]
    python: Option<String>,
    /// Command prefix of the `cmd` transport, split as a shell would ("podman exec -i box")
    #[arg(long, value_name = "COMMAND")]
    prefix: Option<String>,
}

impl SandboxPlace {
    /// Checks the flags and completes the options with the backends chosen elsewhere.
    pub fn options(
        self,
        backends: Option<Vec<crate::sandbox::backend::Backend>>,
        quiet: bool,
    ) -> anyhow::Result<SandboxOptions> {
        if self.service.trim().is_empty() {
            return Err(usage("--service: give the Compose service name"));
        }
        if self.python.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(usage("--python: give an interpreter, e.g. python3"));
        }
        Ok(SandboxOptions {
            backends,
            compose_file: self.compose_file,
            service: self.service,
            python: self.python,
            prefix: self.prefix.as_deref().map(values::prefix).transpose()?,
            quiet,
        })
    }
}

impl SandboxArgs {
    /// Checks the flags.
    pub fn options(self) -> anyhow::Result<SandboxOptions> {
        // Declared first, so that --backends may name mcp:NAME.
        let mcp = self.mcp.declare()?;
        let backends = self
            .backends
            .as_deref()
            .map(|list| values::backends("--backends", list))
            .transpose()?;
        self.place
            .options(super::mcp_args::with_mcp(backends, mcp), self.quiet)
    }
}
