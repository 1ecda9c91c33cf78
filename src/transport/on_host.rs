//! Another engine's Docker-compatible socket under a CLI transport: the same `docker` and
//! `docker compose` commands, with `DOCKER_HOST` pointing at that socket (Podman's
//! `podman system service`), so Docker and Podman backends can run side by side in one run.

use std::sync::Arc;

use super::Transport;

/// A command transport whose `docker` commands go to the engine at `host`.
pub struct OnHost {
    pub inner: Arc<dyn Transport>,
    /// `unix:///…` of the engine's socket.
    pub host: String,
}

impl Transport for OnHost {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        with_host(self.inner.command(program, args), Some(&self.host))
    }

    fn python(&self) -> &str {
        self.inner.python()
    }
}

/// `command` with `DOCKER_HOST` set to `host` when one is given.
pub fn with_host(command: duct::Expression, host: Option<&str>) -> duct::Expression {
    match host {
        Some(host) => command.env("DOCKER_HOST", host),
        None => command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::DockerExec;

    #[test]
    fn commands_carry_the_engine_socket() {
        let t = OnHost {
            inner: Arc::new(DockerExec {
                container: "box".into(),
                python: "python3".into(),
            }),
            host: "unix:///run/podman/podman.sock".into(),
        };
        let shown = format!("{:?}", t.command("python3", &["-V".into()]));
        assert!(
            shown.contains("DOCKER_HOST") && shown.contains("/run/podman/podman.sock"),
            "{shown}"
        );
        assert_eq!((t.name(), t.python()), ("docker", "python3"));
    }
}
