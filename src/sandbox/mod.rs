//! Reaching the backends: naming them ([`backend`]), choosing the default ones, the Docker engine
//! and the Compose sandbox when a backend needs them ([`compose_stack`]), then one transport per
//! backend (the kind → transport factory). `run` and the probe commands (faults, isolation, soak)
//! share it, so a backend name means the same path everywhere.

pub mod backend;
pub mod compose_stack;
pub mod profile;
pub mod record;

use std::sync::Arc;

use anyhow::Result;

use crate::agent::AgentOptions;
use crate::error::usage;
use crate::mcp::McpExecutor;
use crate::strategy::Executor;
use crate::transport::{
    Api, ApiEndpoint, Bwrap, CONTAINER_DIR, Compose, Container, DockerExec, Local, OnEngine,
    Prefix, SharedDir, Socket, Spread, Sweep, Transport,
};
use backend::{Backend, Catalog, SandboxBackend, TransportKind};
use compose_stack::Stack;
use profile::{Engine, Profile};
use record::{ProfileRecord, SandboxInfo, Versions};

/// Which backends, and how to reach the sandbox, as the user gave them (already checked).
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// `None`: the default backends, chosen by whether a Docker engine answers.
    pub backends: Option<Vec<Backend>>,
    /// The profiles and MCP servers backend names refer to.
    pub catalog: Catalog,
    /// `--python`; `None`: `python3` in the sandbox, and on the host the interpreter `python3`
    /// resolves to (see [`crate::transport::host_python`]).
    pub python: Option<String>,
    /// The `cmd` transport's prefix, split into words.
    pub prefix: Option<Vec<String>>,
    /// No notices on stderr.
    pub quiet: bool,
    /// Count each engine backend's round trips through a relay of its own (`run` only).
    pub counting: Option<crate::netcount::Counting>,
}

impl SandboxOptions {
    /// Prints a notice on stderr unless quiet.
    pub fn notice(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// The built-in `docker` profile: the Compose file and service of the flags.
    pub fn docker_profile(&self) -> &Profile {
        &self.catalog.profiles[0]
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
        None if docker.is_some() => opts
            .catalog
            .parse_list(DEFAULT_BACKENDS[0])
            .map_err(usage)?,
        None => {
            opts.notice(&format!(
                "no Docker engine answers: measuring {} only (start one with `bash scripts/setup-docker.sh`, or name --backends)",
                DEFAULT_BACKENDS[1]
            ));
            opts.catalog
                .parse_list(DEFAULT_BACKENDS[1])
                .map_err(usage)?
        }
    };
    Ok((backends, docker))
}

/// A backend made reachable: what its executors are started over.
#[derive(Clone)]
pub struct Reached {
    pub backend: Backend,
    /// How programs are started where its code runs: the sandbox backend's transport; for an
    /// MCP server, the host, where the processes its calls leave are looked for.
    pub transport: Arc<dyn Transport>,
    /// The directory its sandbox shares with the harness, for a strategy that needs one there
    /// (a kernel's sockets); `None` otherwise.
    pub shared_dir: Option<SharedDir>,
    /// What counts its engine traffic (`run --count-round-trips`); `None`: not counted.
    pub tap: Option<crate::netcount::Tap>,
}

impl Reached {
    /// A new executor of the backend; nothing starts until the first call.
    pub fn executor(&self, options: &AgentOptions) -> Box<dyn Executor> {
        match &self.backend {
            Backend::Sandbox(s) => {
                let executor = s.strategy.executor_with(
                    Arc::clone(&self.transport),
                    options,
                    self.shared_dir.as_ref(),
                );
                if s.cached {
                    Box::new(crate::strategy::Cached::new(executor))
                } else {
                    executor
                }
            }
            Backend::Mcp(m) => Box::new(McpExecutor::new(Arc::clone(&m.server))),
        }
    }
}

/// The backends, each with its transport, and what was found on the way.
pub struct Sandbox {
    /// The sandbox service of the first profile used.
    pub stack: Option<Stack>,
    /// The built-in Docker profile's container: its image and limits (the first profile's when
    /// that one is not used).
    pub info: Option<SandboxInfo>,
    /// Each profile used, in full.
    pub profiles: Vec<ProfileRecord>,
    pub versions: Versions,
    pub reached: Vec<Reached>,
}

/// The sandbox of one profile: its Compose service and the id of the service's container.
struct OnProfile {
    profile: Arc<Profile>,
    stack: Stack,
    container: String,
}

/// The variables of a profile's environment that choose its engine (`DOCKER_*`).
fn engine_env(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .filter(|(k, _)| k.starts_with("DOCKER_"))
        .cloned()
        .collect()
}

/// Checks the engines, brings the sandbox of each profile a backend needs up, and builds the
/// transports. `docker` is the Docker engine's version when one answers.
pub fn prepare(
    backends: &[Backend],
    reach: &SandboxOptions,
    docker: Option<String>,
) -> Result<Sandbox> {
    if reach.prefix.is_none()
        && let Some(b) = backends
            .iter()
            .find(|b| b.transport() == Some(TransportKind::Cmd) && !b.sandboxed())
    {
        return Err(usage(format!(
            "{b} needs --prefix: give the command that runs a program in the sandbox, e.g. \
             --prefix \"kubectl exec -i my-pod --\" (or name cmd@podman:…)"
        )));
    }
    if reach.counting.is_some()
        && let Some(b) = backends
            .iter()
            .find(|b| b.sandbox().is_some_and(|s| !s.also.is_empty()))
    {
        return Err(usage(format!(
            "--count-round-trips: {b} spreads over several engines, each with traffic of its \
             own; count its profiles one at a time"
        )));
    }
    let mut versions = Versions::default();
    let host_python = backends
        .iter()
        .any(|b| b.transport() == Some(TransportKind::Local))
        .then(|| {
            reach
                .python
                .clone()
                .unwrap_or_else(crate::transport::host_python)
        });
    versions.local_interpreter.clone_from(&host_python);
    let python = reach.python.clone().unwrap_or_else(|| "python3".into());
    let mut profiles: Vec<OnProfile> = Vec::new();
    let mut records = Vec::new();
    let up = sandboxes_to_bring_up(backends);
    for profile in distinct_profiles(&up) {
        let on: Vec<&SandboxBackend> = up
            .iter()
            .filter(|b| b.profile.name == profile.name)
            .collect();
        let named = on.iter().map(ToString::to_string).collect::<Vec<_>>();
        let engine_version = engine_answers(&profile, &named, docker.as_deref())?;
        match profile.engine {
            Engine::Docker if profile.host.is_none() => {
                versions.docker = Some(engine_version.clone())
            }
            Engine::Docker => {}
            Engine::Podman => versions.podman = Some(engine_version.clone()),
        }
        if versions.compose.is_none() {
            versions.compose = compose_stack::compose_version();
        }
        if versions.compose.is_none() {
            return Err(usage(
                "`docker compose` is missing: install Compose v2 (`bash scripts/setup-docker.sh`)",
            ));
        }
        let stack = Stack::of(&profile)?;
        check_runtime(&profile, &stack)?;
        reach.notice(&format!(
            "sandbox: profile {}: service '{}' of {} on {}",
            profile.name,
            stack.service,
            stack.file.display(),
            profile.engine.name()
        ));
        if on
            .iter()
            .any(|b| b.transport == TransportKind::Socket || b.strategy.shares_dir())
        {
            crate::transport::prepare_dir(&stack.shared_dir).map_err(|e| {
                let kernel = on.iter().any(|b| b.strategy.shares_dir());
                usage(format!(
                    "cannot prepare the {} directory '{}': {e}",
                    if kernel { "kernel's socket" } else { "socket" },
                    stack.shared_dir.display()
                ))
            })?;
        }
        // At every run: recreates a container whose image or configuration changed.
        stack.up()?;
        let container = stack.container_id()?;
        let found = compose_stack::inspect(&stack.env, &container)?;
        let (python_version, libraries) =
            compose_stack::python_found(&stack.env, &container, &python);
        let with: String = python_version
            .iter()
            .map(|v| format!(", Python {v}"))
            .chain(libraries.iter().map(|(k, v)| format!(", {k} {v}")))
            .collect();
        reach.notice(&format!(
            "sandbox: container {} of image {} ({}){}{with}",
            found.container,
            found.image,
            found.image_id.chars().take(19).collect::<String>(),
            found
                .runtime
                .as_deref()
                .map_or_else(String::new, |r| format!(" under {r}"))
        ));
        if let (Some(want), Some(ran)) = (&profile.runtime, &found.runtime)
            && want != ran
        {
            return Err(anyhow::anyhow!(
                "profile '{}': asked for runtime {want}, but the engine runs container {} under {ran}",
                profile.name,
                found.container
            ));
        }
        records.push(ProfileRecord {
            name: profile.name.clone(),
            engine: profile.engine.name().into(),
            engine_version: Some(engine_version),
            endpoint: profile.endpoint(),
            runtime: profile.runtime.clone(),
            compose_file: stack.file.display().to_string(),
            service: stack.service.clone(),
            project: stack.project.clone(),
            python: python_version,
            libraries,
            sandbox: found,
        });
        profiles.push(OnProfile {
            profile,
            stack,
            container,
        });
    }

    let reached = backends
        .iter()
        .map(|b| {
            let mut tap = None;
            let mut shared_dir = None;
            let transport = match b {
                Backend::Sandbox(s) => {
                    if !s.also.is_empty() {
                        let places = s
                            .profiles()
                            .map(|p| {
                                let on = profiles.iter().find(|o| o.profile.name == p.name);
                                transport(&s.on_one(p), reach, on, host_python.as_deref(), None)
                            })
                            .collect::<Result<Vec<_>>>()?;
                        Arc::new(Spread::new(places)) as Arc<dyn Transport>
                    } else {
                        let on = profiles.iter().find(|p| p.profile.name == s.profile.name);
                        if s.strategy.shares_dir() && s.sandboxed() {
                            shared_dir = on.map(|o| SharedDir {
                                host: o.stack.shared_dir.clone(),
                                sandbox: CONTAINER_DIR.into(),
                            });
                        }
                        tap = reach.counting.map(|c| tap_for(s, on, c)).transpose()?;
                        let relay = match &tap {
                            Some(crate::netcount::Tap::Relay(r)) => Some(r.endpoint()),
                            _ => None,
                        };
                        transport(s, reach, on, host_python.as_deref(), relay)?
                    }
                }
                // The host: where what a server's calls leave is looked for.
                Backend::Mcp(_) => Arc::new(Local {
                    python: host_python
                        .clone()
                        .unwrap_or_else(crate::transport::host_python),
                }) as Arc<dyn Transport>,
            };
            Ok(Reached {
                backend: b.clone(),
                transport,
                shared_dir,
                tap,
            })
        })
        .collect::<Result<_>>()
        .inspect_err(|_| {
            // Refused after the sandboxes came up: a remote engine keeps none of them.
            for on in profiles.iter().filter(|o| o.profile.remote()) {
                on.stack.down();
            }
        })?;
    // Each MCP server started once now, its sandbox up: a missing tool stops the run before
    // anything is measured; a server that does not start is said so.
    crate::mcp::check_servers(&mcp_servers(backends), &|text: &str| reach.notice(text))
        .map_err(usage)?;
    let info = records
        .iter()
        .find(|r| r.name == Engine::Docker.name())
        .or(records.first())
        .map(|r| r.sandbox.clone());
    Ok(Sandbox {
        stack: profiles.first().map(|p| p.stack.clone()),
        info,
        profiles: records,
        versions,
        reached,
    })
}

/// The engine's version when the profile's engine answers, else a usage error saying how to
/// start it.
fn engine_answers(profile: &Profile, named: &[String], docker: Option<&str>) -> Result<String> {
    match profile.engine {
        Engine::Docker if profile.remote() => {
            profile.check_tls_files().map_err(usage)?;
            compose_stack::remote_engine_version(&profile.env()).map_err(|why| {
                usage(format!(
                    "{}: the engine of profile '{}' at {} does not answer: {} (a host of \
                     scripts/setup-remote-host.sh: run it; tls= must name that host's \
                     certificates)",
                    named.join(", "),
                    profile.name,
                    profile.host.as_deref().unwrap_or_default(),
                    one_line(&why)
                ))
            })
        }
        Engine::Docker => {
            let version = match &profile.host {
                None => docker.map(str::to_string),
                Some(_) => compose_stack::engine_version_on(&profile.env()),
            };
            version.ok_or_else(|| {
                usage(format!(
                    "{} need a Docker engine{} and none answers: start one \
                     (`bash scripts/setup-docker.sh` as root) or choose local backends",
                    named.join(", "),
                    profile
                        .host
                        .as_deref()
                        .map_or_else(String::new, |h| format!(" at {h}"))
                ))
            })
        }
        Engine::Podman => {
            let host = profile.endpoint().unwrap_or_else(profile::podman_host);
            compose_stack::podman_version(&host).ok_or_else(|| {
                let runtime = profile.runtime.as_deref().filter(|r| *r != "runc");
                usage(match (runtime, &profile.host) {
                    (Some(r), None) => format!(
                        "{} need a Podman service whose default runtime is {r} (Podman's \
                         Docker-compatible API ignores a container's runtime), at {host}, and \
                         none answers: `bash scripts/setup-podman.sh` as root serves crun at \
                         {}; another runtime needs a service of its own at {host} \
                         (CONTAINERS_CONF naming it) or host=",
                        named.join(", "),
                        profile::podman_host_for(Some("crun"))
                    ),
                    _ => format!(
                        "{} need Podman and its service on {host}, which does not answer: \
                         start it (`bash scripts/setup-podman.sh` as root) or set CONTAINER_HOST",
                        named.join(", ")
                    ),
                })
            })
        }
    }
}

/// `text` on one line, at most 300 characters: an engine's error can run long.
fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// Refuses a profile whose runtime its engine does not offer, with the ones it does.
fn check_runtime(profile: &Profile, stack: &Stack) -> Result<()> {
    let Some(runtime) = &profile.runtime else {
        return Ok(());
    };
    if profile.engine == Engine::Podman {
        // Its Docker-compatible API takes the Compose file's `runtime:` and runs the container
        // under its service's default runtime all the same: the profile reaches the service
        // whose default is its runtime (`podman_host_for`), and that is checked here, or the
        // backend would be measured under a name that is not what runs.
        let default = compose_stack::default_runtime(&stack.env);
        if default.as_deref() != Some(runtime.as_str()) {
            return Err(usage(format!(
                "profile '{}': the Podman service at {} runs {} by default, not {runtime}                  (Podman's Docker-compatible API ignores a container's runtime):                  `bash scripts/setup-podman.sh` as root serves crun at                  unix:///run/podman/podman-crun.sock, or set host= to a service whose                  containers.conf has `runtime = \"{runtime}\"` under [engine]",
                profile.name,
                profile.endpoint().unwrap_or_default(),
                default.as_deref().unwrap_or("an unknown runtime"),
            )));
        }
        return Ok(());
    }
    match compose_stack::runtimes(&stack.env) {
        Some(known) if !known.contains(runtime) => Err(usage(format!(
            "profile '{}': runtime '{runtime}' is not installed on its {} engine (it has: {}); \
             `bash scripts/setup-{}.sh` as root installs and registers runsc and crun",
            profile.name,
            profile.engine.name(),
            known.join(", "),
            profile.engine.name()
        ))),
        _ => Ok(()),
    }
}

/// The sandbox backends whose sandbox must be up: those given and, for each MCP server, the
/// backend its tool runs on (`over`). A server that reaches the sandbox itself (the
/// reproduction runs `docker compose exec`) finds it running even when no other backend of the
/// run needs it.
fn sandboxes_to_bring_up(backends: &[Backend]) -> Vec<SandboxBackend> {
    backends
        .iter()
        .filter_map(|b| match b {
            Backend::Sandbox(s) => Some(s),
            Backend::Mcp(m) => m.over.as_ref(),
        })
        .filter(|s| s.sandboxed())
        // A spread's sandbox is up on each of its profiles.
        .flat_map(|s| s.profiles().map(|p| s.on_one(p)).collect::<Vec<_>>())
        .collect()
}

/// Each profile of `backends` once, in the order first named.
fn distinct_profiles(backends: &[SandboxBackend]) -> Vec<Arc<Profile>> {
    let mut found: Vec<Arc<Profile>> = Vec::new();
    for b in backends {
        if !found.iter().any(|p| p.name == b.profile.name) {
            found.push(Arc::clone(&b.profile));
        }
    }
    found
}

/// The transports that reach each distinct sandbox once: one into each profile's Compose
/// container (any but `container`, whose sandboxes die with their calls) and the host's when a
/// local backend (or an MCP server) runs.
fn sweepers(reached: &[Reached]) -> Vec<&Arc<dyn Transport>> {
    let mut found: Vec<(Option<String>, &Arc<dyn Transport>)> = Vec::new();
    for r in reached {
        let place = match &r.backend {
            Backend::Sandbox(s) if s.transport == TransportKind::Container => continue,
            // A spread sweeps each of its profiles' sandboxes.
            Backend::Sandbox(s) if s.sandboxed() => Some(
                s.profiles()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(backend::SPREAD),
            ),
            // Its sandboxes are on the host, in a cgroup of the transport's own.
            Backend::Sandbox(s) if s.transport == TransportKind::Bwrap => Some("(bwrap)".into()),
            _ => None,
        };
        if !found.iter().any(|(p, _)| *p == place) {
            found.push((place, &r.transport));
        }
    }
    found.into_iter().map(|(_, t)| t).collect()
}

/// Before a run: how many processes something else left in the sandboxes (`None`: could not
/// be counted); with `clean`, they are killed.
pub fn sweep_before(reached: &[Reached], clean: bool) -> Option<usize> {
    let what = if clean { Sweep::All } else { Sweep::Count };
    sweepers(reached)
        .into_iter()
        .map(|t| t.sweep(what, None))
        .sum()
}

/// After a run: kills what the run's agents left behind them once they were gone, and what
/// the MCP servers left on the host (unless asked to keep it); returns one line per server
/// that left something.
pub fn sweep_after(reached: &[Reached]) -> Vec<String> {
    // First the servers' leftovers, each by its session's mark (or spared when kept); then
    // the sweeps, which kill what else is left below the harness.
    let backends: Vec<Backend> = reached.iter().map(|r| r.backend.clone()).collect();
    crate::mcp::end_of_run(&mcp_servers(&backends));
    for t in sweepers(reached) {
        let _ = t.sweep(Sweep::Orphans, None);
    }
    take_down_remote(reached);
    backends
        .iter()
        .filter_map(|b| match b {
            Backend::Mcp(m) => crate::results::McpServerRecord::of(m).leftovers_line(),
            Backend::Sandbox(_) => None,
        })
        .collect()
}

/// Takes down the sandboxes of the profiles on a remote engine: another machine's engine keeps
/// nothing of a run (the local sandbox stays up for the next one, as it was found).
fn take_down_remote(reached: &[Reached]) {
    let on_remote: Vec<SandboxBackend> = reached
        .iter()
        .filter_map(|r| r.backend.sandbox())
        .filter(|s| s.sandboxed())
        .flat_map(|s| s.profiles().map(|p| s.on_one(p)).collect::<Vec<_>>())
        .filter(|s| s.profile.remote())
        .collect();
    for profile in distinct_profiles(&on_remote) {
        if let Ok(stack) = Stack::of(&profile)
            && !stack.down()
        {
            eprintln!(
                "sandbox: profile {}: could not take its containers down on {}",
                profile.name,
                profile.host.as_deref().unwrap_or_default()
            );
        }
    }
}

/// The MCP servers among `backends`.
fn mcp_servers(backends: &[Backend]) -> Vec<Arc<crate::mcp::McpServer>> {
    backends
        .iter()
        .filter_map(|b| match b {
            Backend::Mcp(m) => Some(Arc::clone(&m.server)),
            Backend::Sandbox(_) => None,
        })
        .collect()
}

/// What counts a sandbox backend's engine traffic: a relay of its own to its profile's engine,
/// or nothing to count without an engine. The `cmd` transport on a user's prefix reaches a
/// sandbox this project does not know the endpoint of: refused.
fn tap_for(
    backend: &SandboxBackend,
    on: Option<&OnProfile>,
    counting: crate::netcount::Counting,
) -> Result<crate::netcount::Tap> {
    use crate::netcount::{Relay, Tap, Upstream};
    match backend.transport {
        TransportKind::Local | TransportKind::Bwrap => return Ok(Tap::NoEngine),
        TransportKind::Cmd if !backend.sandboxed() => {
            return Err(usage(format!(
                "--count-round-trips: {backend} goes through a prefix of yours, whose traffic \
                 is not relayed; count cmd@PROFILE:… or another transport"
            )));
        }
        _ => {}
    }
    let endpoint = on.and_then(|o| o.profile.endpoint());
    let upstream = Upstream::parse(endpoint.as_deref()).map_err(usage)?;
    let relay = Relay::start(upstream, counting.added_rtt)
        .map_err(|e| anyhow::anyhow!("{backend}: cannot start the counting relay: {e}"))?;
    Ok(Tap::Relay(Arc::new(relay)))
}

/// The transport of one sandbox backend, over the stack and container that `prepare` set up
/// for its profile (the `docker` commands run with the profile's environment: another engine's
/// socket, its Compose project), or over the host interpreter it chose.
fn transport(
    backend: &SandboxBackend,
    reach: &SandboxOptions,
    on: Option<&OnProfile>,
    host_python: Option<&str>,
    relay: Option<&str>,
) -> Result<Arc<dyn Transport>> {
    let python = reach.python.clone().unwrap_or_else(|| "python3".into());
    // `prepare` set up the stack, container and prefix each kind needs; a kind without them is a
    // bug here, never a reason to measure something else under its name.
    let missing = || anyhow::anyhow!("internal: no sandbox set up for {backend}");
    let stack = on.map(|o| &o.stack);
    let container = on.map(|o| o.container.as_str());
    let mut env = stack.map(|s| s.env.clone()).unwrap_or_default();
    let mut endpoint = on.and_then(|o| o.profile.endpoint());
    // Counting round trips: every engine client of this backend talks to its relay instead.
    if let Some(relay) = relay {
        env.retain(|(k, _)| k != "DOCKER_HOST");
        env.push(("DOCKER_HOST".into(), relay.to_string()));
        endpoint = Some(relay.to_string());
    }
    let exec = |container: &str| DockerExec {
        container: container.to_string(),
        python: python.clone(),
    };
    // A command transport, run with the profile's engine environment.
    let on_engine = |inner: Arc<dyn Transport>| -> Arc<dyn Transport> {
        if env.is_empty() {
            inner
        } else {
            Arc::new(OnEngine {
                inner,
                env: env.clone(),
            })
        }
    };
    Ok(match backend.transport {
        TransportKind::Local => {
            // What a dead local agent's calls leave running comes back to the harness.
            crate::transport::become_subreaper();
            Arc::new(Local {
                python: host_python.ok_or_else(missing)?.to_string(),
            })
        }
        TransportKind::Bwrap => {
            // What a bubblewrap process the harness let go of leaves comes back to it.
            crate::transport::become_subreaper();
            let python = reach
                .python
                .clone()
                .unwrap_or_else(crate::transport::bwrap_python);
            let bwrap = Bwrap::new(&python).map_err(|e| usage(format!("{backend}: {e}")))?;
            for wall in bwrap.not_provided() {
                reach.notice(&format!("sandbox: {backend}: not provided: {wall}"));
            }
            Arc::new(bwrap)
        }
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
                    &stack.shared_dir,
                    crate::agent::SOURCE,
                )
                .on_engine(&env),
            )
        }
        TransportKind::Api => {
            let at = ApiEndpoint {
                host: endpoint.as_deref(),
                tls: on.and_then(|o| o.profile.tls.as_deref()),
                env: engine_env(&env),
            };
            let api =
                Api::connect_on(&at, container.ok_or_else(missing)?, &python).map_err(|e| {
                    usage(format!(
                        "{e}: {backend} needs the engine's endpoint ({})",
                        endpoint
                            .as_deref()
                            .unwrap_or("DOCKER_HOST=unix://… or /var/run/docker.sock")
                    ))
                })?;
            Arc::new(api)
        }
        // On a profile: the engine's own exec CLI into the profile's container.
        TransportKind::Cmd if backend.sandboxed() => {
            let on = on.ok_or_else(missing)?;
            let cli = match on.profile.engine {
                Engine::Podman => "podman",
                Engine::Docker => "docker",
            };
            on_engine(Arc::new(Prefix {
                argv: vec![cli.into(), "exec".into(), "-i".into(), on.container.clone()],
                python,
            }))
        }
        TransportKind::Cmd => Arc::new(Prefix {
            argv: reach.prefix.clone().ok_or_else(missing)?,
            python,
        }),
        TransportKind::Container => {
            let stack = stack.ok_or_else(missing)?;
            Arc::new(
                Container::new(stack.file.clone(), stack.service.clone(), python).on_engine(&env),
            )
        }
    })
}
