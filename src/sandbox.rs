//! Reaching the backends: the Docker engine and the Compose sandbox when a backend needs them,
//! then one transport per backend. `run` and the probe commands (faults, isolation, soak) share
//! it, so a backend name means the same path everywhere.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use crate::backend::{Backend, Engine, TransportKind};
use crate::compose::{self, Stack};
use crate::error::usage;
use crate::results::Versions;
use crate::transport::{
    Api, Compose, Container, DockerExec, Local, OnHost, Prefix, Socket, Transport,
};

/// How to reach the sandbox, as the user gave it.
pub struct Reach<'a> {
    pub compose_file: &'a Path,
    pub service: &'a str,
    pub python: &'a str,
    /// The `cmd` transport's prefix, split into words.
    pub prefix: Option<&'a [String]>,
}

/// The backends, each with its transport, and what was found on the way.
pub struct Sandbox {
    /// The sandbox service of the first engine used (the same compose file on each engine).
    pub stack: Option<Stack>,
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
/// transports. `docker` is the Docker engine's version when one answers; `notice` reports what
/// is being used.
pub fn prepare(
    backends: &[Backend],
    reach: &Reach,
    docker: Option<String>,
    notice: impl Fn(&str),
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
    let mut engines = Vec::new();
    for engine in Engine::ALL {
        let on: Vec<&Backend> = backends
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
                Stack::new(reach.compose_file, reach.service)?
            }
            Engine::Podman => {
                let host = compose::podman_host();
                let Some(version) = compose::podman_version(&host) else {
                    return Err(usage(format!(
                        "{} need Podman and its service on {host}, which does not answer: \
                         start it (`bash scripts/setup-podman.sh` as root) or set CONTAINER_HOST",
                        named.join(", ")
                    )));
                };
                versions.podman = Some(version);
                Stack::new(reach.compose_file, reach.service)?.on(&host)
            }
        };
        if versions.compose.is_none() {
            versions.compose = compose::compose_version();
        }
        if versions.compose.is_none() {
            return Err(usage(
                "`docker compose` is missing: install Compose v2 (`bash scripts/setup-docker.sh`)",
            ));
        }
        notice(&format!(
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
            // Recreates the container if it predates the shared directory's volume.
            stack.up()?;
        } else {
            stack.ensure_up()?;
        }
        let container = if on.iter().any(|b| {
            matches!(
                b.transport,
                TransportKind::Docker
                    | TransportKind::Socket
                    | TransportKind::Api
                    | TransportKind::Cmd
            )
        }) {
            Some(stack.container_id()?)
        } else {
            None
        };
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
            Ok((*b, transport(b, reach, on)?))
        })
        .collect::<Result<_>>()?;
    Ok(Sandbox {
        stack: engines.first().map(|e| e.stack.clone()),
        versions,
        transports,
    })
}

/// The transport of one backend, over the stack and container that `prepare` set up on its
/// engine; on an engine other than Docker, the `docker` commands go to that engine's socket.
fn transport(
    backend: &Backend,
    reach: &Reach,
    on: Option<&OnEngine>,
) -> Result<Arc<dyn Transport>> {
    let kind = backend.transport;
    let python = reach.python.to_string();
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
        TransportKind::Local => Arc::new(Local { python }),
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
                Socket::new(exec(container.ok_or_else(missing)?), &stack.shared_dir())
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
            argv: reach.prefix.ok_or_else(missing)?.to_vec(),
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
