//! Reaching the backends: naming them ([`backend`]), choosing the default ones, the Docker engine
//! and the Compose sandbox when a backend needs them ([`compose_stack`]), then one transport per
//! backend (the kind → transport factory). `run` and the probe commands (faults, isolation, soak)
//! share it, so a backend name means the same path everywhere.

pub mod backend;
pub mod compose_stack;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use crate::error::usage;
use crate::results::Versions;
use crate::transport::{Api, Compose, Container, DockerExec, Local, Prefix, Socket, Transport};
use backend::{Backend, TransportKind};
use compose_stack::Stack;

/// Which backends, and how to reach the sandbox, as the user gave them (already checked).
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// `None`: the default backends, chosen by whether a Docker engine answers.
    pub backends: Option<Vec<Backend>>,
    pub compose_file: PathBuf,
    pub service: String,
    pub python: String,
    /// The `cmd` transport's prefix, split into words.
    pub prefix: Option<Vec<String>>,
    /// No notices on stderr.
    pub quiet: bool,
}

impl SandboxOptions {
    /// Prints a notice on stderr unless quiet.
    pub fn notice(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }
}

/// The backends measured when none are named: the original pair in the Compose sandbox when an
/// engine answers, else the same two strategies on the host.
pub const DEFAULT_BACKENDS: [&str; 2] =
    ["compose-exec,persistent", "local:per-call,local:persistent"];

/// The backends to use (named, or the defaults) and the Docker engine's version if one answers.
pub fn choose_backends(opts: &SandboxOptions) -> Result<(Vec<Backend>, Option<String>)> {
    let docker = compose_stack::engine_version();
    let backends = match &opts.backends {
        Some(list) => list.clone(),
        None if docker.is_some() => Backend::parse_list(DEFAULT_BACKENDS[0]).map_err(usage)?,
        None => {
            opts.notice(&format!(
                "no Docker engine answers: measuring {} only (start one with                  `bash scripts/setup-docker.sh`, or name --backends)",
                DEFAULT_BACKENDS[1]
            ));
            Backend::parse_list(DEFAULT_BACKENDS[1]).map_err(usage)?
        }
    };
    Ok((backends, docker))
}

/// The backends, each with its transport, and what was found on the way.
pub struct Sandbox {
    pub stack: Option<Stack>,
    pub versions: Versions,
    pub transports: Vec<(Backend, Arc<dyn Transport>)>,
}

/// Checks the engine, brings the sandbox up when a backend needs it, and builds the transports.
/// `docker` is the engine's version when one answers.
pub fn prepare(
    backends: &[Backend],
    reach: &SandboxOptions,
    docker: Option<String>,
) -> Result<Sandbox> {
    if reach.prefix.is_none()
        && let Some(b) = backends.iter().find(|b| b.transport == TransportKind::Cmd)
    {
        return Err(usage(format!(
            "{b} needs --prefix: give the command that runs a program in the sandbox, e.g. \
             --prefix \"kubectl exec -i my-pod --\""
        )));
    }
    let needs_docker = backends.iter().any(|b| b.transport.needs_docker());
    let mut versions = Versions::default();
    let stack = if needs_docker {
        let Some(engine) = docker else {
            let named: Vec<String> = backends
                .iter()
                .filter(|b| b.transport.needs_docker())
                .map(ToString::to_string)
                .collect();
            return Err(usage(format!(
                "{} need a Docker engine and none answers: start one (`bash scripts/setup-docker.sh` \
                 as root) or choose local backends",
                named.join(", ")
            )));
        };
        versions.docker = Some(engine);
        versions.compose = compose_stack::compose_version();
        if versions.compose.is_none() {
            return Err(usage(
                "`docker compose` is missing: install Compose v2 (`bash scripts/setup-docker.sh`)",
            ));
        }
        let stack = Stack::new(&reach.compose_file, &reach.service)?;
        reach.notice(&format!(
            "sandbox: service '{}' of {}",
            stack.service,
            stack.file.display()
        ));
        if backends
            .iter()
            .any(|b| b.transport == TransportKind::Socket)
        {
            let dir = stack.shared_dir();
            crate::transport::prepare_dir(&dir).map_err(|e| {
                usage(format!(
                    "cannot prepare the socket directory '{}': {e}",
                    dir.display()
                ))
            })?;
            // Recreates the container if it predates the shared directory's volume.
            stack.up()?;
        } else {
            stack.ensure_up()?;
        }
        Some(stack)
    } else {
        None
    };

    let container = match &stack {
        Some(stack)
            if backends.iter().any(|b| {
                matches!(
                    b.transport,
                    TransportKind::Docker | TransportKind::Socket | TransportKind::Api
                )
            }) =>
        {
            Some(stack.container_id()?)
        }
        _ => None,
    };
    let transports = backends
        .iter()
        .map(|b| {
            let t = transport(b.transport, reach, stack.as_ref(), container.as_deref())?;
            Ok((*b, t))
        })
        .collect::<Result<_>>()?;
    Ok(Sandbox {
        stack,
        versions,
        transports,
    })
}

/// The transport of one kind, over the stack and container that `prepare` set up.
fn transport(
    kind: TransportKind,
    reach: &SandboxOptions,
    stack: Option<&Stack>,
    container: Option<&str>,
) -> Result<Arc<dyn Transport>> {
    let python = reach.python.to_string();
    let exec = |container: &str| DockerExec {
        container: container.to_string(),
        python: python.clone(),
    };
    // `prepare` set up the stack, container and prefix each kind needs; a kind without them is a
    // bug here, never a reason to measure something else under its name.
    let missing = || {
        anyhow::anyhow!(
            "internal: no sandbox set up for the {} transport",
            kind.name()
        )
    };
    Ok(match kind {
        // An MCP backend's server runs the code its own way; this transport is never used.
        TransportKind::Local | TransportKind::Mcp => Arc::new(Local { python }),
        TransportKind::Compose => {
            let stack = stack.ok_or_else(missing)?;
            Arc::new(Compose {
                file: stack.file.clone(),
                service: stack.service.clone(),
                python,
            })
        }
        TransportKind::Docker => Arc::new(exec(container.ok_or_else(missing)?)),
        TransportKind::Socket => {
            let stack = stack.ok_or_else(missing)?;
            Arc::new(Socket::new(
                exec(container.ok_or_else(missing)?),
                &stack.shared_dir(),
            ))
        }
        TransportKind::Api => {
            let api = Api::connect(container.ok_or_else(missing)?, &python).map_err(|e| {
                usage(format!(
                    "{e}: the api transport needs the engine's socket (DOCKER_HOST=unix://… or /var/run/docker.sock)"
                ))
            })?;
            Arc::new(api)
        }
        TransportKind::Cmd => Arc::new(Prefix {
            argv: reach.prefix.clone().ok_or_else(missing)?,
            python,
        }),
        TransportKind::Container => {
            let stack = stack.ok_or_else(missing)?;
            Arc::new(Container::new(
                stack.file.clone(),
                stack.service.clone(),
                python,
            ))
        }
    })
}
