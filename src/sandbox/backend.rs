//! Backends, the things measured side by side. Two kinds:
//! - a **sandbox backend**: a transport × a strategy on a sandbox profile, named
//!   `transport:strategy` (`compose:per-call`) on the built-in `docker` profile, or
//!   `transport@profile:strategy` (`api@podman:persistent`, `compose@py313:fork`); with the
//!   original benchmark's two arms as aliases (`compose-exec`, `persistent`);
//! - an **MCP backend**: a declared MCP server's tool (`mcp:NAME`); the server owns both the way
//!   in and the executor, so it has neither a transport nor a strategy here, only, when known,
//!   the sandbox backend its tool runs on (`over`).
//!
//! Names are resolved against a [`Catalog`] of the profiles and MCP servers the command line
//! declared: nothing is global.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::profile::{Engine, Profile, RUNTIME_PROFILES};
use crate::mcp::McpServer;
use crate::strategy::Strategy;

/// The transports a sandbox backend can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Local,
    Compose,
    Docker,
    Cmd,
    Socket,
    Api,
    Container,
    Bwrap,
}

impl TransportKind {
    pub const ALL: [TransportKind; 8] = [
        TransportKind::Local,
        TransportKind::Compose,
        TransportKind::Docker,
        TransportKind::Cmd,
        TransportKind::Socket,
        TransportKind::Api,
        TransportKind::Container,
        TransportKind::Bwrap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TransportKind::Local => "local",
            TransportKind::Compose => "compose",
            TransportKind::Docker => "docker",
            TransportKind::Cmd => "cmd",
            TransportKind::Socket => "socket",
            TransportKind::Api => "api",
            TransportKind::Container => "container",
            TransportKind::Bwrap => "bwrap",
        }
    }

    /// One line on how the transport reaches Python, for `--help` and listings.
    pub fn about(self) -> &'static str {
        match self {
            TransportKind::Local => "the host's python3, no sandbox (trusted code only)",
            TransportKind::Compose => "`docker compose exec -T <service>` in the Compose sandbox",
            TransportKind::Docker => {
                "`docker exec -i <container>` on the Compose service's container"
            }
            TransportKind::Cmd => {
                "--prefix's command (kubectl exec -i …); on a profile, its engine's exec -i"
            }
            TransportKind::Socket => "a unix socket into the Compose container, past the daemon",
            TransportKind::Api => "the Engine API (exec create/start/attach), no CLI process",
            TransportKind::Container => {
                "`docker compose run --rm -T <service>`: a new container per start"
            }
            TransportKind::Bwrap => {
                "bubblewrap on the host: a namespace sandbox per start, no daemon"
            }
        }
    }

    /// Whether the transport runs in a sandbox profile's container (every one but `local`,
    /// `bwrap`, whose sandboxes are made on the host, and `cmd` on the `docker` profile, whose
    /// prefix goes wherever the user points it).
    fn in_sandbox(self, profile: &Profile) -> bool {
        match self {
            TransportKind::Local | TransportKind::Bwrap => false,
            TransportKind::Cmd => !(profile.builtin && profile.engine == Engine::Docker),
            _ => true,
        }
    }
}

impl TransportKind {
    /// Whether a Jupyter kernel can run behind it: on the host (`local`), or in a profile's
    /// container reached by exec (its sockets in the container's shared directory). Not
    /// `socket` (its server runs the agent only), `container` (one container per start), `bwrap`
    /// (a sandbox per start), nor `cmd` on the `docker` profile (no directory is known there).
    pub fn hosts_kernel(self, profile: &Profile) -> bool {
        match self {
            TransportKind::Local => true,
            TransportKind::Compose | TransportKind::Docker | TransportKind::Api => true,
            TransportKind::Cmd => self.in_sandbox(profile),
            TransportKind::Socket | TransportKind::Container | TransportKind::Bwrap => false,
        }
    }
}

/// Why `transport` cannot run on a profile whose engine is across a network, if it cannot.
fn remote_refusal(transport: TransportKind, profile: &Profile) -> Option<String> {
    if !profile.remote() {
        return None;
    }
    let host = profile.host.as_deref().unwrap_or_default();
    match transport {
        // Its server's socket is in a directory of this host bound into the container: on a
        // remote engine the bind names a directory of that host, out of this one's reach.
        TransportKind::Socket => Some(format!(
            "the socket transport binds a directory of this host into the container, and \
             {host} would bind one of its own host: use docker, compose or api there"
        )),
        TransportKind::Api if host.starts_with("ssh://") => Some(format!(
            "the api transport reaches an engine over unix:// or tcp:// (with tls=), not \
             {host}: the CLI transports (docker, compose, cmd) take ssh:// through the Docker CLI"
        )),
        _ => None,
    }
}

/// What joins the profiles of a spread pool in a backend's name (`api@r1+r2:pool=4`).
pub const SPREAD: &str = "+";

/// What a backend's name ends with when a result cache sits over its strategy.
pub const CACHE_SUFFIX: &str = "+cache";

/// A transport × a strategy on a sandbox profile.
#[derive(Debug, Clone)]
pub struct SandboxBackend {
    pub transport: TransportKind,
    pub profile: Arc<Profile>,
    pub strategy: Strategy,
    /// A result cache over the strategy (`STRATEGY+cache`).
    pub cached: bool,
    /// The further profiles a spread pool deals its slots over, after `profile`
    /// (`transport@r1+r2:pool=N`); empty for a backend on one profile.
    pub also: Vec<Arc<Profile>>,
}

impl SandboxBackend {
    /// Its profiles: `profile`, then those of a spread.
    pub fn profiles(&self) -> impl Iterator<Item = &Arc<Profile>> {
        std::iter::once(&self.profile).chain(&self.also)
    }

    /// The same backend on `profile` alone: one place of a spread.
    pub fn on_one(&self, profile: &Arc<Profile>) -> SandboxBackend {
        SandboxBackend {
            profile: Arc::clone(profile),
            also: Vec::new(),
            ..self.clone()
        }
    }

    /// Whether the code runs in a container of the profile, that this harness brought up
    /// (its limits apply).
    pub fn sandboxed(&self) -> bool {
        self.transport.in_sandbox(&self.profile)
    }
}

/// A declared MCP server as a backend.
#[derive(Debug, Clone)]
pub struct McpBackend {
    pub server: Arc<McpServer>,
    /// The sandbox backend its tool runs on, when known (`--mcp-over`, or this project's own
    /// servers' commands): its MCP layer is its latency minus that backend's.
    pub over: Option<SandboxBackend>,
}

/// One backend to measure.
#[derive(Debug, Clone)]
pub enum Backend {
    Sandbox(SandboxBackend),
    Mcp(McpBackend),
}

impl PartialEq for Backend {
    /// Names are unique within a catalog: two backends are the same when named alike.
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Backend {}

impl Backend {
    /// The sandbox backend, `None` for an MCP server.
    pub fn sandbox(&self) -> Option<&SandboxBackend> {
        match self {
            Backend::Sandbox(s) => Some(s),
            Backend::Mcp(_) => None,
        }
    }

    /// Whether its code runs in a sandbox this harness set up: a sandbox backend's container,
    /// or the one an MCP server's tool runs over.
    pub fn sandboxed(&self) -> bool {
        match self {
            Backend::Sandbox(s) => s.sandboxed(),
            Backend::Mcp(m) => m.over.as_ref().is_some_and(SandboxBackend::sandboxed),
        }
    }

    /// The strategy, for a sandbox backend.
    pub fn strategy(&self) -> Option<Strategy> {
        self.sandbox().map(|s| s.strategy)
    }

    /// The transport, for a sandbox backend.
    pub fn transport(&self) -> Option<TransportKind> {
        self.sandbox().map(|s| s.transport)
    }
}

impl fmt::Display for SandboxBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.profile;
        let cache = if self.cached { CACHE_SUFFIX } else { "" };
        if !self.also.is_empty() {
            let names: Vec<&str> = self.profiles().map(|p| p.name.as_str()).collect();
            return write!(
                f,
                "{}@{}:{}{cache}",
                self.transport.name(),
                names.join(SPREAD),
                self.strategy.name()
            );
        }
        if p.builtin && p.engine == Engine::Docker {
            write!(
                f,
                "{}:{}{cache}",
                self.transport.name(),
                self.strategy.name()
            )
        } else {
            write!(
                f,
                "{}@{}:{}{cache}",
                self.transport.name(),
                p.name,
                self.strategy.name()
            )
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Sandbox(s) => s.fmt(f),
            Backend::Mcp(m) => write!(f, "mcp:{}", m.server.name),
        }
    }
}

impl Backend {
    /// A sandbox backend on the built-in `docker` profile (over `docker-compose.yml`), for
    /// unit tests of what runs backends.
    #[cfg(test)]
    pub fn on_docker(transport: TransportKind, strategy: Strategy) -> Backend {
        Backend::Sandbox(SandboxBackend {
            transport,
            profile: Arc::new(Profile::builtin(
                Engine::Docker,
                Path::new("docker-compose.yml"),
                "sandbox",
            )),
            cached: false,
            strategy,
            also: Vec::new(),
        })
    }
}

/// Short names kept from the original benchmark.
pub const ALIASES: [(&str, &str); 2] = [
    ("compose-exec", "compose:per-call"),
    ("persistent", "compose:persistent"),
];

/// What backend names can refer to: the sandbox profiles (the built-ins first) and the
/// declared MCP servers with the backend each runs over.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub profiles: Vec<Arc<Profile>>,
    pub mcp: Vec<McpBackend>,
}

impl Catalog {
    /// The built-in profiles over the Compose file and service of the flags, then `extra`;
    /// refuses a name given twice.
    pub fn new(compose_file: &Path, service: &str, extra: Vec<Profile>) -> Result<Catalog, String> {
        let mut profiles: Vec<Arc<Profile>> = Engine::ALL
            .iter()
            .map(|e| Arc::new(Profile::builtin(*e, compose_file, service)))
            .chain(
                RUNTIME_PROFILES
                    .iter()
                    .map(|r| Arc::new(Profile::for_runtime(r, compose_file, service))),
            )
            .collect();
        for p in extra {
            if profiles.iter().any(|q| q.name == p.name) {
                return Err(format!("sandbox profile '{}' is declared twice", p.name));
            }
            profiles.push(Arc::new(p));
        }
        Ok(Catalog {
            profiles,
            mcp: Vec::new(),
        })
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Result<Arc<Profile>, String> {
        self.profiles
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "unknown sandbox profile '{name}' (known: {}; declare one with --profile {name}:KEY=VALUE)",
                    self.profiles
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    /// Parses `transport[@profile]:strategy`, an alias, or `mcp:NAME`.
    pub fn parse(&self, text: &str) -> Result<Backend, String> {
        let text = text.trim();
        if let Some(name) = text.strip_prefix("mcp:") {
            let found = self
                .mcp
                .iter()
                .find(|m| m.server.name == name)
                .ok_or_else(|| {
                    format!(
                        "no MCP server '{name}' declared: add --mcp {name}=COMMAND or --mcp {name}=URL"
                    )
                })?;
            return Ok(Backend::Mcp(found.clone()));
        }
        self.parse_sandbox(text).map(Backend::Sandbox)
    }

    /// Parses a sandbox backend (`transport[@profile]:strategy` or an alias), refusing MCP.
    pub fn parse_sandbox(&self, text: &str) -> Result<SandboxBackend, String> {
        let text = text.trim();
        let full = ALIASES
            .iter()
            .find(|(alias, _)| *alias == text)
            .map_or(text, |(_, full)| full);
        let Some((transport, strategy)) = full.split_once(':') else {
            return Err(format!(
                "unknown backend '{text}': write transport:strategy (e.g. local:persistent), transport@profile:strategy, mcp:NAME or an alias ({})",
                ALIASES.iter().map(|a| a.0).collect::<Vec<_>>().join(", ")
            ));
        };
        if transport == "mcp" {
            return Err(format!(
                "'{text}' is an MCP server, not a sandbox backend (e.g. compose:persistent)"
            ));
        }
        let (transport, profile, also) = match transport.split_once('@') {
            Some((transport, profiles)) => {
                let mut found = Vec::new();
                for name in profiles.split(SPREAD) {
                    let p = self.profile(name).map_err(|e| format!("{e} in '{text}'"))?;
                    if found.iter().any(|q: &Arc<Profile>| q.name == p.name) {
                        return Err(format!("'{text}': profile '{name}' is named twice"));
                    }
                    found.push(p);
                }
                let profile = found.remove(0);
                (transport, profile, found)
            }
            None => (transport, self.profile(Engine::Docker.name())?, Vec::new()),
        };
        let transport = TransportKind::ALL
            .into_iter()
            .find(|t| t.name() == transport)
            .ok_or_else(|| {
                format!(
                    "unknown transport '{transport}' in '{text}' (known: {})",
                    TransportKind::ALL.map(TransportKind::name).join(", ")
                )
            })?;
        if matches!(transport, TransportKind::Local | TransportKind::Bwrap)
            && !(profile.builtin && profile.engine == Engine::Docker)
        {
            return Err(format!(
                "'{text}' is not available on {}: {} runs the host's python3, on no engine",
                profile.name,
                transport.name()
            ));
        }
        for p in std::iter::once(&profile).chain(&also) {
            if let Some(why) = remote_refusal(transport, p) {
                return Err(format!("'{text}': {why}"));
            }
        }
        let (strategy, cached) = match strategy.strip_suffix(CACHE_SUFFIX) {
            Some(strategy) => (strategy, true),
            None => (strategy, false),
        };
        let strategy = Strategy::parse(strategy).map_err(|e| format!("{e} in '{text}'"))?;
        if !also.is_empty() {
            if !matches!(strategy, Strategy::Pool(_)) {
                return Err(format!(
                    "'{text}': a spread over profiles takes pool=N, whose slots it deals round-robin over their engines"
                ));
            }
            if let Some(p) = std::iter::once(&profile)
                .chain(&also)
                .find(|p| !transport.in_sandbox(p))
            {
                return Err(format!(
                    "'{text}': {} on {} reaches no profile's container, so it cannot be spread",
                    transport.name(),
                    p.name
                ));
            }
        }
        if let Strategy::Jupyter(_) = strategy
            && (!transport.hosts_kernel(&profile) || profile.remote())
        {
            return Err(format!(
                "'{text}': {} cannot host a Jupyter kernel, whose sockets live in the directory \
                 a profile's container on this host shares with the harness: use compose, \
                 docker, api or cmd on a local profile (compose@PROFILE:jupyter), or local:jupyter",
                if profile.remote() {
                    format!("a remote engine ({})", profile.name)
                } else {
                    transport.name().to_string()
                }
            ));
        }
        Ok(SandboxBackend {
            transport,
            profile,
            strategy,
            cached,
            also,
        })
    }

    /// Parses a comma-separated list, refusing an empty list and repeats.
    pub fn parse_list(&self, text: &str) -> Result<Vec<Backend>, String> {
        let mut backends: Vec<Backend> = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let backend = self.parse(part)?;
            if backends.contains(&backend) {
                return Err(format!("backend '{backend}' is listed twice"));
            }
            backends.push(backend);
        }
        if backends.is_empty() {
            return Err("no backend given".into());
        }
        Ok(backends)
    }

    /// The backend of each declared MCP server.
    pub fn mcp_backends(&self) -> Vec<Backend> {
        self.mcp.iter().cloned().map(Backend::Mcp).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let extra =
            vec![Profile::parse("alt:image=img:alt", Path::new("c.yml"), "sandbox").unwrap()];
        Catalog::new(Path::new("c.yml"), "sandbox", extra).unwrap()
    }

    fn parse(text: &str) -> Result<Backend, String> {
        catalog().parse(text)
    }

    #[test]
    fn a_kernel_runs_where_a_directory_is_shared() {
        for ok in [
            "local:jupyter",
            "compose:jupyter=unsigned",
            "docker@alt:jupyter",
            "api:jupyter",
            "cmd@alt:jupyter",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for refused in [
            "socket:jupyter",
            "container:jupyter",
            "bwrap:jupyter",
            "cmd:jupyter",
        ] {
            let e = parse(refused).unwrap_err();
            assert!(
                e.contains("cannot host a Jupyter kernel") && !e.contains('\n'),
                "{e}"
            );
        }
    }

    #[test]
    fn a_cache_over_a_strategy_is_part_of_the_name() {
        let b = parse("local:pool=2+cache").unwrap();
        assert_eq!(b.strategy(), Some(Strategy::Pool(2)));
        assert_eq!(b.to_string(), "local:pool=2+cache");
        let Backend::Sandbox(s) = b else {
            panic!("a sandbox backend")
        };
        assert!(s.cached);
        assert!(parse("local:persistent").map(|b| b.to_string()).unwrap() == "local:persistent");
        assert!(parse("local:cache").is_err());
    }

    #[test]
    fn parses_full_names_and_aliases() {
        let b = parse("local:per-call").unwrap();
        assert_eq!(
            (b.transport(), b.strategy()),
            (Some(TransportKind::Local), Some(Strategy::PerCall))
        );
        assert_eq!(
            parse("compose-exec").unwrap().to_string(),
            "compose:per-call"
        );
        assert_eq!(
            parse(" persistent ").unwrap().to_string(),
            "compose:persistent"
        );
        let b = parse("bwrap:fork").unwrap();
        assert_eq!(
            (b.transport(), b.strategy()),
            (Some(TransportKind::Bwrap), Some(Strategy::Fork))
        );
        assert!(!b.sandboxed(), "no container to bring up");
        let g = parse("socket@runsc:persistent").unwrap();
        assert_eq!(
            g.sandbox().unwrap().profile.runtime.as_deref(),
            Some("runsc")
        );
        assert_eq!(g.to_string(), "socket@runsc:persistent");
    }

    #[test]
    fn bad_names_say_what_is_known() {
        let e = parse("ssh:per-call").unwrap_err();
        assert!(
            e.contains("unknown transport 'ssh'")
                && e.contains("local, compose, docker, cmd, socket, api, container"),
            "{e}"
        );
        let e = parse("local:turbo").unwrap_err();
        assert!(
            e.contains("unknown strategy 'turbo'") && e.contains("per-call"),
            "{e}"
        );
        let e = parse("fast").unwrap_err();
        assert!(
            e.contains("transport:strategy") && e.contains("compose-exec"),
            "{e}"
        );
        let e = parse("mcp:nobody").unwrap_err();
        assert!(e.contains("--mcp nobody="), "{e}");
    }

    #[test]
    fn a_profile_follows_the_transport() {
        let b = parse("api@podman:persistent").unwrap();
        let s = b.sandbox().unwrap();
        assert_eq!(
            (s.transport, s.profile.engine, s.strategy),
            (TransportKind::Api, Engine::Podman, Strategy::Persistent)
        );
        assert!(b.sandboxed());
        assert_eq!(b.to_string(), "api@podman:persistent");
        assert_eq!(
            parse("cmd@docker:per-call").unwrap().to_string(),
            "cmd:per-call"
        );
        assert!(!parse("cmd:per-call").unwrap().sandboxed());
        assert!(parse("cmd@podman:per-call").unwrap().sandboxed());
        assert!(parse("cmd@alt:per-call").unwrap().sandboxed());
        let alt = parse("compose@alt:fork").unwrap();
        assert_eq!(alt.to_string(), "compose@alt:fork");
        assert_eq!(
            alt.sandbox().unwrap().profile.image.as_deref(),
            Some("img:alt")
        );
        let list = catalog()
            .parse_list("compose:per-call,compose@podman:per-call,compose@alt:per-call")
            .unwrap();
        assert_eq!(list.len(), 3);
    }

    #[test]
    fn profiles_say_what_they_cannot_run() {
        let e = parse("api@kube:persistent").unwrap_err();
        assert!(
            e.contains("unknown sandbox profile 'kube'")
                && e.contains("docker, podman, runsc, crun, alt")
                && e.contains("--profile kube:"),
            "{e}"
        );
        for local in [
            "local@podman:per-call",
            "local@alt:per-call",
            "bwrap@runsc:fork",
        ] {
            let e = parse(local).unwrap_err();
            assert!(
                e.contains("not available on") && e.contains("no engine"),
                "{e}"
            );
        }
        let e = Catalog::new(
            Path::new("c.yml"),
            "s",
            vec![
                Profile::parse("a:image=x", Path::new("c.yml"), "s").unwrap(),
                Profile::parse("a:image=y", Path::new("c.yml"), "s").unwrap(),
            ],
        )
        .unwrap_err();
        assert!(e.contains("declared twice"), "{e}");
    }

    #[test]
    fn remote_engines_refuse_what_binds_this_hosts_paths() {
        let extra = vec![
            Profile::parse("far:host=ssh://me@box", Path::new("c.yml"), "sandbox").unwrap(),
            Profile::parse(
                "tcp:host=tcp://10.0.0.2:2375",
                Path::new("c.yml"),
                "sandbox",
            )
            .unwrap(),
        ];
        let c = Catalog::new(Path::new("c.yml"), "sandbox", extra).unwrap();
        let e = c.parse("socket@tcp:persistent").unwrap_err();
        assert!(e.contains("binds a directory of this host"), "{e}");
        let e = c.parse("api@far:persistent").unwrap_err();
        assert!(e.contains("not ssh://me@box"), "{e}");
        for fine in [
            "api@tcp:pool=2",
            "compose@far:per-call",
            "docker@tcp:fork",
            "cmd@far:persistent",
            "container@tcp:per-call",
        ] {
            assert!(c.parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn a_pool_spreads_over_several_profiles() {
        let extra = vec![
            Profile::parse("r1:host=tcp://10.0.0.2:2376", Path::new("c.yml"), "s").unwrap(),
            Profile::parse("r2:host=tcp://10.0.0.3:2376", Path::new("c.yml"), "s").unwrap(),
        ];
        let c = Catalog::new(Path::new("c.yml"), "s", extra).unwrap();
        let b = c.parse("api@r1+r2:pool=4").unwrap();
        assert_eq!(b.to_string(), "api@r1+r2:pool=4");
        let s = b.sandbox().unwrap();
        let names: Vec<&str> = s.profiles().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["r1", "r2"]);
        assert_eq!(s.on_one(&s.also[0]).to_string(), "api@r2:pool=4");
        assert_eq!(
            c.parse("compose@docker+r1:pool=2").unwrap().to_string(),
            "compose@docker+r1:pool=2"
        );
        for (bad, says) in [
            ("api@r1+r2:persistent", "takes pool=N"),
            ("api@r1+r1:pool=2", "named twice"),
            ("api@r1+r9:pool=2", "unknown sandbox profile 'r9'"),
            ("socket@r1+r2:pool=2", "binds a directory"),
            ("cmd@docker+r1:pool=2", "reaches no profile's container"),
        ] {
            let e = c.parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn lists_refuse_repeats_and_emptiness() {
        let c = catalog();
        assert_eq!(c.parse_list("compose-exec,persistent").unwrap().len(), 2);
        let e = c.parse_list("persistent,compose:persistent").unwrap_err();
        assert!(e.contains("listed twice"), "{e}");
        assert!(c.parse_list(" , ").is_err());
    }
}
