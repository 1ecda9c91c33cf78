//! `docker`: `docker exec -i <container> …` on the Compose service's container, found once per
//! run. It skips Compose's own start-up (reading the project, asking the engine for the
//! service's container) on every call, leaving the Docker CLI and the engine's exec.

use super::Transport;

/// Runs programs in one running container through the Docker CLI.
pub struct DockerExec {
    /// The container's id, as `docker compose ps -q` gives it.
    pub container: String,
    pub python: String,
}

impl Transport for DockerExec {
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        let mut argv: Vec<String> = vec!["exec".into(), "-i".into(), self.container.clone()];
        argv.push(program.into());
        argv.extend(args.iter().cloned());
        duct::cmd("docker", argv)
    }

    fn python(&self) -> &str {
        &self.python
    }
}
