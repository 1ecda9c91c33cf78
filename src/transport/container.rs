//! `container`: a fresh container for every command (`docker compose run --rm`), from the same
//! service definition, so with the same image and limits as `compose`. The full-isolation
//! reference: nothing, not even the filesystem, survives from one call to the next.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Control, Started, Transport, spawn, with_env};

/// Runs each program in a new container of a Compose service.
pub struct Container {
    pub file: PathBuf,
    pub service: String,
    pub python: String,
    /// The profile's engine environment (`DOCKER_HOST`, the Compose project and variables).
    env: super::EngineEnv,
}

/// Numbers the containers of this process: names must be unique across every transport.
static NEXT: AtomicU64 = AtomicU64::new(0);

impl Container {
    pub fn new(file: PathBuf, service: String, python: String) -> Self {
        Container {
            file,
            service,
            python,
            env: Vec::new(),
        }
    }

    /// The same transport, with a profile's engine environment (see [`super::OnEngine`]).
    pub fn on_engine(mut self, env: &[(String, String)]) -> Self {
        self.env = env.to_vec();
        self
    }

    /// A name for the next container.
    fn next_name() -> String {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("sandbox-bench-{}-{n}", std::process::id())
    }

    /// The command that runs `program args…` in a new container called `name`.
    fn named(&self, name: String, program: &str, args: &[String]) -> duct::Expression {
        let mut argv: Vec<std::ffi::OsString> = vec![
            "compose".into(),
            "-f".into(),
            self.file.clone().into(),
            "run".into(),
            "--rm".into(),
            "-T".into(),
            "--no-deps".into(),
            "--name".into(),
            name.into(),
            self.service.clone().into(),
            program.into(),
        ];
        argv.extend(args.iter().map(Into::into));
        with_env(duct::cmd("docker", argv), &self.env)
    }
}

impl Transport for Container {
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        self.named(Self::next_name(), program, args)
    }

    fn start(&self, program: &str, args: &[String]) -> std::io::Result<Started> {
        // Killing the CLI client would leave the container running: what is started carries
        // its container's name, so a stuck call's kill reaches that container and no other,
        // however many calls run at once.
        let name = Self::next_name();
        let started = spawn(self.named(name.clone(), program, args))?;
        Ok(Started {
            control: Box::new(OwnContainer {
                client: started.control,
                name,
                env: self.env.clone(),
            }),
            ..started
        })
    }

    fn python(&self) -> &str {
        &self.python
    }

    fn sweep(&self, _what: super::Sweep, _agent: Option<u32>) -> Option<usize> {
        None // every command has a container of its own, removed with what ran in it
    }

    fn kill_in_sandbox(&self, _pid: u32) {
        // Each container has a pid namespace of its own, where every agent gets the same pid:
        // a pid names no container. The container goes with the `kill` of what was started.
    }
}

/// The `docker compose run` client of one container, and that container's name.
struct OwnContainer {
    client: Box<dyn Control>,
    name: String,
    env: super::EngineEnv,
}

impl Control for OwnContainer {
    fn wait_deadline(&self, deadline: Instant) -> std::io::Result<Option<String>> {
        self.client.wait_deadline(deadline)
    }

    /// Kills the container, which ends its client, and then the client if it is still there.
    fn kill(&self) {
        if let Ok(handle) = with_env(duct::cmd("docker", ["kill", self.name.as_str()]), &self.env)
            .stdin_null()
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start()
            && !matches!(handle.wait_timeout(Duration::from_secs(20)), Ok(Some(_)))
        {
            let _ = handle.kill();
        }
        self.client.kill();
    }

    fn exited(&self) -> bool {
        self.client.exited()
    }
}
