//! The flags of every command that reaches a sandbox (`run`, `faults`, `isolation`, `soak`):
//! one struct, flattened into each, so a backend is reached the same way by all of them.

use std::path::PathBuf;

use clap::Args;

use super::values;
use crate::error::usage;
use crate::sandbox::SandboxOptions;
use crate::sandbox::backend::{Backend, Catalog};
use crate::sandbox::profile::{self, Profile};

/// Which backends, and how to reach the sandbox they run in.
#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Comma-separated backends (transport[@profile]:strategy, mcp:NAME or an alias) [default:
    /// compose-exec,persistent when a Docker engine answers, else
    /// local:per-call,local:persistent]
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
    /// Command prefix of the `cmd` transport on the docker profile (`cmd:…`), split as a shell
    /// would ("kubectl exec -i my-pod --"); on another profile cmd runs its engine's exec CLI
    #[arg(long, value_name = "COMMAND")]
    prefix: Option<String>,
    /// Declare sandbox profile NAME for backends transport@NAME:strategy; keys: engine
    /// (docker|podman), host (unix://…), runtime (runc, crun, runsc…), image, compose-file,
    /// service; repeatable. E.g. py313:image=sandbox-bench-python:trixie
    #[arg(long = "profile", value_name = "NAME:KEY=VALUE,…")]
    profiles: Vec<String>,
    /// A TOML file of sandbox profiles: [profiles.NAME] tables with the keys of --profile
    #[arg(long = "profiles", value_name = "FILE")]
    profile_file: Option<PathBuf>,
}

impl SandboxPlace {
    /// The profiles backend names may refer to: the built-ins, those of --profiles, then those
    /// of --profile.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        if self.service.trim().is_empty() {
            return Err(usage("--service: give the Compose service name"));
        }
        let mut extra = match &self.profile_file {
            Some(file) => profile::read_file(file, &self.compose_file, &self.service)
                .map_err(|e| usage(format!("--profiles: {e}")))?,
            None => Vec::new(),
        };
        for text in &self.profiles {
            extra.push(
                Profile::parse(text, &self.compose_file, &self.service)
                    .map_err(|e| usage(format!("--profile: {e}")))?,
            );
        }
        Catalog::new(&self.compose_file, &self.service, extra).map_err(usage)
    }

    /// Checks the flags and completes the options with the backends and catalog chosen
    /// elsewhere.
    pub fn options(
        self,
        catalog: Catalog,
        backends: Option<Vec<Backend>>,
        quiet: bool,
    ) -> anyhow::Result<SandboxOptions> {
        if self.python.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(usage("--python: give an interpreter, e.g. python3"));
        }
        Ok(SandboxOptions {
            backends,
            catalog,
            python: self.python,
            prefix: self.prefix.as_deref().map(values::prefix).transpose()?,
            quiet,
            counting: None,
        })
    }
}

impl SandboxArgs {
    /// Checks the flags: the profiles first, then the MCP servers (whose `over` names a
    /// profile's backend), then the backends, which may name both.
    pub fn options(self) -> anyhow::Result<SandboxOptions> {
        let mut catalog = self.place.catalog()?;
        let mcp = self.mcp.declare(&mut catalog)?;
        let backends = self
            .backends
            .as_deref()
            .map(|list| values::backends(&catalog, "--backends", list))
            .transpose()?;
        self.place.options(
            catalog,
            super::mcp_args::with_mcp(backends, mcp),
            self.quiet,
        )
    }
}
