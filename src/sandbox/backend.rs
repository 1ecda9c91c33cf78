//! Backends: a transport × a strategy, named `transport:strategy` (`compose:per-call`), with the
//! original benchmark's two arms as aliases (`compose-exec`, `persistent`). A transport may name
//! the engine it goes through: `transport@engine:strategy` (`api@podman:persistent`); without
//! one it is Docker.

use std::fmt;

use crate::strategy::Strategy;

/// The transports a backend can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Local,
    Compose,
    Docker,
    Cmd,
    Socket,
    Api,
    Container,
    /// An MCP server declared with `--mcp NAME=…` (not listed in `ALL`: its strategy is the server).
    Mcp,
}

impl TransportKind {
    pub const ALL: [TransportKind; 7] = [
        TransportKind::Local,
        TransportKind::Compose,
        TransportKind::Docker,
        TransportKind::Cmd,
        TransportKind::Socket,
        TransportKind::Api,
        TransportKind::Container,
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
            TransportKind::Mcp => "mcp",
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
                "any command prefix given with --prefix (kubectl/podman exec -i …)"
            }
            TransportKind::Socket => "a unix socket into the Compose container, past the daemon",
            TransportKind::Api => {
                "the Docker Engine API (exec create/start/attach), no CLI process"
            }
            TransportKind::Container => {
                "`docker compose run --rm -T <service>`: a new container per start"
            }
            TransportKind::Mcp => "an MCP server's tool (mcp:NAME, declared with --mcp NAME=…)",
        }
    }

    /// Whether the transport needs a Docker engine.
    pub fn needs_docker(self) -> bool {
        matches!(
            self,
            TransportKind::Compose
                | TransportKind::Docker
                | TransportKind::Socket
                | TransportKind::Api
                | TransportKind::Container
        )
    }
}

/// The container engine a backend's sandbox runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The Docker engine (`docker`, /var/run/docker.sock or `DOCKER_HOST`).
    #[default]
    Docker,
    /// Podman, through its CLI and the Docker-compatible socket of `podman system service`.
    Podman,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::Docker, Engine::Podman];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }

    /// One line on the engine, for listings.
    pub fn about(self) -> &'static str {
        match self {
            Engine::Docker => "the default: transport:strategy without @engine runs on Docker",
            Engine::Podman => {
                "on Podman, via its Docker-compatible socket (cmd@podman: podman exec -i)"
            }
        }
    }

    /// Why `transport` cannot run on this engine, `None` when it can.
    pub fn refuses(self, transport: TransportKind) -> Option<&'static str> {
        match (self, transport) {
            (Engine::Docker, _) => None,
            (Engine::Podman, TransportKind::Local) => {
                Some("local runs the host's python3, on no engine")
            }
            (Engine::Podman, _) => None,
        }
    }
}

/// One backend to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backend {
    pub transport: TransportKind,
    pub engine: Engine,
    pub strategy: Strategy,
}

/// Short names kept from the original benchmark.
pub const ALIASES: [(&str, &str); 2] = [
    ("compose-exec", "compose:per-call"),
    ("persistent", "compose:persistent"),
];

impl Backend {
    /// Parses `transport:strategy` or an alias.
    pub fn parse(text: &str) -> Result<Backend, String> {
        let text = text.trim();
        let full = ALIASES
            .iter()
            .find(|(alias, _)| *alias == text)
            .map_or(text, |(_, full)| full);
        let Some((transport, strategy)) = full.split_once(':') else {
            return Err(format!(
                "unknown backend '{text}': write transport:strategy (e.g. local:persistent) or an alias ({})",
                ALIASES.iter().map(|a| a.0).collect::<Vec<_>>().join(", ")
            ));
        };
        if transport == "mcp" {
            let server = crate::mcp::lookup(strategy)?;
            return Ok(Backend {
                transport: TransportKind::Mcp,
                engine: Engine::Docker,
                strategy: Strategy::Mcp(server),
            });
        }
        let (transport, engine) = match transport.split_once('@') {
            Some((transport, engine)) => {
                let engine = Engine::ALL
                    .into_iter()
                    .find(|e| e.name() == engine)
                    .ok_or_else(|| {
                        format!(
                            "unknown engine '{engine}' in '{text}' (known: {})",
                            names(Engine::ALL.map(Engine::name))
                        )
                    })?;
                (transport, engine)
            }
            None => (transport, Engine::Docker),
        };
        let transport = TransportKind::ALL
            .into_iter()
            .find(|t| t.name() == transport)
            .ok_or_else(|| {
                format!(
                    "unknown transport '{transport}' in '{text}' (known: {})",
                    names(TransportKind::ALL.map(TransportKind::name))
                )
            })?;
        if let Some(why) = engine.refuses(transport) {
            return Err(format!(
                "'{text}' is not available on {}: {why}",
                engine.name()
            ));
        }
        let strategy = Strategy::parse(strategy).map_err(|e| format!("{e} in '{text}'"))?;
        Ok(Backend {
            transport,
            engine,
            strategy,
        })
    }

    /// Whether the backend's code runs in a sandbox this harness set up (limits apply).
    pub fn sandboxed(&self) -> bool {
        self.transport.needs_docker() || self.engine == Engine::Podman
    }

    /// Parses a comma-separated list, refusing an empty list and repeats.
    pub fn parse_list(text: &str) -> Result<Vec<Backend>, String> {
        let mut backends: Vec<Backend> = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let backend = Backend::parse(part)?;
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
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.engine {
            Engine::Docker => write!(f, "{}:{}", self.transport.name(), self.strategy.name()),
            engine => write!(
                f,
                "{}@{}:{}",
                self.transport.name(),
                engine.name(),
                self.strategy.name()
            ),
        }
    }
}

fn names<const N: usize>(list: [&str; N]) -> String {
    list.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_names_and_aliases() {
        let b = Backend::parse("local:per-call").unwrap();
        assert_eq!(
            (b.transport, b.strategy),
            (TransportKind::Local, Strategy::PerCall)
        );
        assert_eq!(
            Backend::parse("compose-exec").unwrap().to_string(),
            "compose:per-call"
        );
        assert_eq!(
            Backend::parse(" persistent ").unwrap().to_string(),
            "compose:persistent"
        );
    }

    #[test]
    fn bad_names_say_what_is_known() {
        let e = Backend::parse("ssh:per-call").unwrap_err();
        assert!(
            e.contains("unknown transport 'ssh'")
                && e.contains("local, compose, docker, cmd, socket, api, container"),
            "{e}"
        );
        let e = Backend::parse("local:turbo").unwrap_err();
        assert!(
            e.contains("unknown strategy 'turbo'") && e.contains("per-call"),
            "{e}"
        );
        let e = Backend::parse("fast").unwrap_err();
        assert!(
            e.contains("transport:strategy") && e.contains("compose-exec"),
            "{e}"
        );
    }

    #[test]
    fn an_engine_follows_the_transport() {
        let b = Backend::parse("api@podman:persistent").unwrap();
        assert_eq!(
            (b.transport, b.engine, b.strategy),
            (TransportKind::Api, Engine::Podman, Strategy::Persistent)
        );
        assert!(b.sandboxed());
        assert_eq!(b.to_string(), "api@podman:persistent");
        assert_eq!(
            Backend::parse("cmd@docker:per-call").unwrap().to_string(),
            "cmd:per-call"
        );
        assert!(!Backend::parse("cmd:per-call").unwrap().sandboxed());
        assert!(Backend::parse("cmd@podman:per-call").unwrap().sandboxed());
        let list = Backend::parse_list("compose:per-call,compose@podman:per-call").unwrap();
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn engines_say_what_they_cannot_run() {
        let e = Backend::parse("api@kube:persistent").unwrap_err();
        assert!(
            e.contains("unknown engine 'kube'") && e.contains("docker, podman"),
            "{e}"
        );
        let e = Backend::parse("local@podman:per-call").unwrap_err();
        assert!(
            e.contains("not available on podman") && e.contains("no engine"),
            "{e}"
        );
    }

    #[test]
    fn lists_refuse_repeats_and_emptiness() {
        let list = Backend::parse_list("compose-exec,persistent").unwrap();
        assert_eq!(list.len(), 2);
        let e = Backend::parse_list("persistent,compose:persistent").unwrap_err();
        assert!(e.contains("listed twice"), "{e}");
        assert!(Backend::parse_list(" , ").is_err());
    }
}
