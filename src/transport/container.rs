//! `container`: a fresh container for every command (`docker compose run --rm`), from the same
//! service definition, so with the same image and limits as `compose`. The full-isolation
//! reference: nothing, not even the filesystem, survives from one call to the next.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Transport, with_env};

/// Runs each program in a new container of a Compose service.
pub struct Container {
    pub file: PathBuf,
    pub service: String,
    pub python: String,
    last: Mutex<Option<String>>,
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
            last: Mutex::new(None),
            env: Vec::new(),
        }
    }

    /// The same transport, with a profile's engine environment (see [`super::OnEngine`]).
    pub fn on_engine(mut self, env: &[(String, String)]) -> Self {
        self.env = env.to_vec();
        self
    }
}

impl Transport for Container {
    fn name(&self) -> &'static str {
        "container"
    }

    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        // A known name lets a stuck call's container be killed: killing the CLI client would
        // leave the container running.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("sandbox-bench-{}-{n}", std::process::id());
        if let Ok(mut last) = self.last.lock() {
            *last = Some(name.clone());
        }
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

    fn python(&self) -> &str {
        &self.python
    }

    fn sweep(&self, _what: super::Sweep, _agent: Option<u32>) -> Option<usize> {
        None // every command has a container of its own, removed with what ran in it
    }

    fn kill_in_sandbox(&self, _pid: u32) {
        let Some(name) = self.last.lock().ok().and_then(|mut l| l.take()) else {
            return;
        };
        if let Ok(handle) = with_env(duct::cmd("docker", ["kill", name.as_str()]), &self.env)
            .stdin_null()
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start()
            && !matches!(handle.wait_timeout(Duration::from_secs(20)), Ok(Some(_)))
        {
            let _ = handle.kill();
        }
    }
}
