//! A profile's engine under a CLI transport: the same `docker` and `docker compose` commands,
//! with the profile's environment (`DOCKER_HOST` of another engine's Docker-compatible socket,
//! `COMPOSE_PROJECT_NAME` and the Compose file's variables), so backends on several engines and
//! profiles run side by side in one run.

use std::sync::Arc;

use super::Transport;

/// The environment a profile's `docker` commands run with.
pub type EngineEnv = Vec<(String, String)>;

/// A command transport whose `docker` commands run with a profile's environment.
pub struct OnEngine {
    pub inner: Arc<dyn Transport>,
    pub env: EngineEnv,
}

impl Transport for OnEngine {
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        with_env(self.inner.command(program, args), &self.env)
    }

    fn python(&self) -> &str {
        self.inner.python()
    }
}

/// `command` with the variables of `env` set.
pub fn with_env(command: duct::Expression, env: &[(String, String)]) -> duct::Expression {
    env.iter().fold(command, |c, (k, v)| c.env(k, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::DockerExec;

    #[test]
    fn commands_carry_the_engine_socket() {
        let t = OnEngine {
            inner: Arc::new(DockerExec {
                container: "box".into(),
                python: "python3".into(),
            }),
            env: vec![(
                "DOCKER_HOST".into(),
                "unix:///run/podman/podman.sock".into(),
            )],
        };
        let shown = format!("{:?}", t.command("python3", &["-V".into()]));
        assert!(
            shown.contains("DOCKER_HOST") && shown.contains("/run/podman/podman.sock"),
            "{shown}"
        );
        assert_eq!(t.python(), "python3");
    }
}
