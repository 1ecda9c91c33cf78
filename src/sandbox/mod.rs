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
use crate::strategy::Strategy;
use crate::transport::{
    Api, Compose, Container, DockerExec, Local, OnHost, Prefix, Socket, Sweep, Transport,
};
use backend::{Backend, Engine, TransportKind};
use compose_stack::Stack;

/// Which backends, and how to reach the sandbox, as the user gave them (already checked).
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// `None`: the default backends, chosen by whether a Docker engine answers.
    pub backends: Option<Vec<Backend>>,
    pub compose_file: PathBuf,
    pub service: String,
    /// `--python`; `None`: `python3` in the sandbox, and on the host the interpreter `python3`
    /// resolves to (see [`crate::transport::host_python`]).
    pub python: Option<String>,
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
                "no Docker engine answers: measuring {} only (start one with `bash scripts/setup-docker.sh`, or name --backends)",
                DEFAULT_BACKENDS[1]
            ));
            Backend::parse_list(DEFAULT_BACKENDS[1]).map_err(usage)?
        }
    };
    Ok((backends, docker))
}

/// The backends, each with its transport, and what was found on the way.
pub struct Sandbox {
    /// The sandbox service of the first engine used (the same compose file on each engine).
    pub stack: Option<Stack>,
    /// The Docker engine's sandbox container: its image and limits.
    pub info: Option<compose_stack::SandboxInfo>,
    pub versions: Versions,
    pub transports: Vec<(Backend, Arc<dyn Transport>)>,
}

/// The sandbox on one engine: its Compose service and, when a transport needs it, the id of the
/// service's container.
struct OnEngine {
    engine: Engine,
    stack: Stack,
    container: Option<String>,
}

/// Checks the engines, brings the sandbox up on each engine a backend needs, and builds the
/// transports. `docker` is the Docker engine's version when one answers.
pub fn prepare(
    backends: &[Backend],
    reach: &SandboxOptions,
    docker: Option<String>,
) -> Result<Sandbox> {
    if reach.prefix.is_none()
        && let Some(b) = backends
            .iter()
            .find(|b| b.transport == TransportKind::Cmd && b.engine == Engine::Docker)
    {
        return Err(usage(format!(
            "{b} needs --prefix: give the command that runs a program in the sandbox, e.g. \
             --prefix \"kubectl exec -i my-pod --\" (or name cmd@podman:…)"
        )));
    }
    let mut versions = Versions::default();
    let host_python = backends
        .iter()
        .any(|b| b.transport == TransportKind::Local)
        .then(|| {
            reach
                .python
                .clone()
                .unwrap_or_else(crate::transport::host_python)
        });
    versions.local_interpreter.clone_from(&host_python);
    let mut engines = Vec::new();
    let mut info = None;
    let up = with_mcp_executors(backends);
    for engine in Engine::ALL {
        let on: Vec<&Backend> = up
            .iter()
            .filter(|b| b.engine == engine && b.sandboxed())
            .collect();
        if on.is_empty() {
            continue;
        }
        let named = on.iter().map(ToString::to_string).collect::<Vec<_>>();
        let stack = match engine {
            Engine::Docker => {
                let Some(version) = docker.clone() else {
                    return Err(usage(format!(
                        "{} need a Docker engine and none answers: start one \
                         (`bash scripts/setup-docker.sh` as root) or choose local backends",
                        named.join(", ")
                    )));
                };
                versions.docker = Some(version);
                Stack::new(&reach.compose_file, &reach.service)?
            }
            Engine::Podman => {
                let host = compose_stack::podman_host();
                let Some(version) = compose_stack::podman_version(&host) else {
                    return Err(usage(format!(
                        "{} need Podman and its service on {host}, which does not answer: \
                         start it (`bash scripts/setup-podman.sh` as root) or set CONTAINER_HOST",
                        named.join(", ")
                    )));
                };
                versions.podman = Some(version);
                Stack::new(&reach.compose_file, &reach.service)?.on(&host)
            }
        };
        if versions.compose.is_none() {
            versions.compose = compose_stack::compose_version();
        }
        if versions.compose.is_none() {
            return Err(usage(
                "`docker compose` is missing: install Compose v2 (`bash scripts/setup-docker.sh`)",
            ));
        }
        reach.notice(&format!(
            "sandbox: service '{}' of {} on {}",
            stack.service,
            stack.file.display(),
            engine.name()
        ));
        if on.iter().any(|b| b.transport == TransportKind::Socket) {
            let dir = stack.shared_dir();
            crate::transport::prepare_dir(&dir).map_err(|e| {
                usage(format!(
                    "cannot prepare the socket directory '{}': {e}",
                    dir.display()
                ))
            })?;
        }
        // At every run: recreates a container whose image or configuration changed.
        stack.up()?;
        let container = Some(stack.container_id()?);
        if engine == Engine::Docker
            && let Some(id) = &container
        {
            let found = compose_stack::inspect(id)?;
            reach.notice(&format!(
                "sandbox: container {} of image {} ({})",
                found.container,
                found.image,
                found.image_id.chars().take(19).collect::<String>()
            ));
            info = Some(found);
        }
        engines.push(OnEngine {
            engine,
            stack,
            container,
        });
    }

    let transports = backends
        .iter()
        .map(|b| {
            let on = engines.iter().find(|e| e.engine == b.engine);
            Ok((*b, transport(b, reach, on, host_python.as_deref())?))
        })
        .collect::<Result<_>>()?;
    Ok(Sandbox {
        stack: engines.first().map(|e| e.stack.clone()),
        info,
        versions,
        transports,
    })
}

/// The backends whose sandbox must be up: those given and, for each MCP server, the backend its
/// tool runs on (`over`). A server that reaches the sandbox itself (the reproduction runs
/// `docker compose exec`) finds it running even when no other backend of the run needs it.
fn with_mcp_executors(backends: &[Backend]) -> Vec<Backend> {
    let mut all = backends.to_vec();
    for b in backends {
        if let Strategy::Mcp(server) = b.strategy
            && let Some(over) = server.over.as_deref().and_then(|o| Backend::parse(o).ok())
            && !all.contains(&over)
        {
            all.push(over);
        }
    }
    all
}

/// The transports that reach each distinct sandbox once: one into each engine's Compose
/// container (any but `container`, whose sandboxes die with their calls) and the host's when a
/// local backend runs.
fn sweepers(transports: &[(Backend, Arc<dyn Transport>)]) -> Vec<&Arc<dyn Transport>> {
    let mut found: Vec<&(Backend, Arc<dyn Transport>)> = Vec::new();
    for entry in transports {
        let (b, _) = entry;
        let reach = b.transport != TransportKind::Container;
        if reach
            && !found
                .iter()
                .any(|(f, _)| f.engine == b.engine && f.sandboxed() == b.sandboxed())
        {
            found.push(entry);
        }
    }
    found.into_iter().map(|(_, t)| t).collect()
}

/// Before a run: how many processes something else left in the sandboxes (`None`: could not
/// be counted); with `clean`, they are killed.
pub fn sweep_before(transports: &[(Backend, Arc<dyn Transport>)], clean: bool) -> Option<usize> {
    let what = if clean { Sweep::All } else { Sweep::Count };
    sweepers(transports)
        .into_iter()
        .map(|t| t.sweep(what, None))
        .sum()
}

/// After a run: kills what the run's agents left behind them once they were gone.
pub fn sweep_after(transports: &[(Backend, Arc<dyn Transport>)]) {
    for t in sweepers(transports) {
        let _ = t.sweep(Sweep::Orphans, None);
    }
}

/// The transport of one backend, over the stack and container that `prepare` set up on its
/// engine (on an engine other than Docker, the `docker` commands go to that engine's socket),
/// or over the host interpreter it chose.
fn transport(
    backend: &Backend,
    reach: &SandboxOptions,
    on: Option<&OnEngine>,
    host_python: Option<&str>,
) -> Result<Arc<dyn Transport>> {
    let kind = backend.transport;
    let python = reach.python.clone().unwrap_or_else(|| "python3".into());
    // `prepare` set up the stack, container and prefix each kind needs; a kind without them is a
    // bug here, never a reason to measure something else under its name.
    let missing = || anyhow::anyhow!("internal: no sandbox set up for {backend}");
    let stack = on.map(|o| &o.stack);
    let container = on.and_then(|o| o.container.as_deref());
    let host = stack.and_then(|s| s.host.clone());
    let exec = |container: &str| DockerExec {
        container: container.to_string(),
        python: python.clone(),
    };
    // A command transport, sent to the stack's engine.
    let on_engine = |inner: Arc<dyn Transport>| -> Arc<dyn Transport> {
        match &host {
            Some(host) => Arc::new(OnHost {
                inner,
                host: host.clone(),
            }),
            None => inner,
        }
    };
    Ok(match kind {
        TransportKind::Local => {
            // What a dead local agent's calls leave running comes back to the harness.
            crate::transport::become_subreaper();
            Arc::new(Local {
                python: host_python.ok_or_else(missing)?.to_string(),
            })
        }
        // An MCP backend's server runs the code its own way; this transport is never used.
        TransportKind::Mcp => Arc::new(Local {
            python: "python3".into(),
        }),
        TransportKind::Compose => {
            let stack = stack.ok_or_else(missing)?;
            on_engine(Arc::new(Compose {
                file: stack.file.clone(),
                service: stack.service.clone(),
                python,
            }))
        }
        TransportKind::Docker => on_engine(Arc::new(exec(container.ok_or_else(missing)?))),
        TransportKind::Socket => {
            let stack = stack.ok_or_else(missing)?;
            Arc::new(
                Socket::new(
                    exec(container.ok_or_else(missing)?),
                    &stack.shared_dir(),
                    crate::agent::SOURCE,
                )
                .on_host(host.as_deref()),
            )
        }
        TransportKind::Api => {
            let api = Api::connect_on(host.as_deref(), container.ok_or_else(missing)?, &python)
                .map_err(|e| {
                    usage(format!(
                        "{e}: {backend} needs the engine's socket ({})",
                        host.as_deref()
                            .unwrap_or("DOCKER_HOST=unix://… or /var/run/docker.sock")
                    ))
                })?;
            Arc::new(api)
        }
        TransportKind::Cmd if backend.engine == Engine::Podman => Arc::new(Prefix {
            argv: vec![
                "podman".into(),
                "exec".into(),
                "-i".into(),
                container.ok_or_else(missing)?.to_string(),
            ],
            python,
        }),
        TransportKind::Cmd => Arc::new(Prefix {
            argv: reach.prefix.clone().ok_or_else(missing)?,
            python,
        }),
        TransportKind::Container => {
            let stack = stack.ok_or_else(missing)?;
            Arc::new(
                Container::new(stack.file.clone(), stack.service.clone(), python)
                    .on_host(host.as_deref()),
            )
        }
    })
}
