//! The Docker side of a run: whether an engine answers, which versions are in use, and bringing
//! the Compose sandbox service up when it is not running.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::error::usage;

/// Output of a helper command that finished in time.
struct Finished {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `program args` to completion within `limit`; `None` if it could not start or hung.
fn capture(program: &str, args: &[&str], limit: Duration) -> Option<Finished> {
    capture_on(None, program, args, limit)
}

/// `capture`, with `DOCKER_HOST` set to `host` when one is given (another engine's socket).
fn capture_on(
    host: Option<&str>,
    program: &str,
    args: &[&str],
    limit: Duration,
) -> Option<Finished> {
    let mut command = duct::cmd(program, args);
    if let Some(host) = host {
        command = command.env("DOCKER_HOST", host);
    }
    let handle = command
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .ok()?;
    match handle.wait_timeout(limit) {
        Ok(Some(out)) => Some(Finished {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
        _ => {
            let _ = handle.kill();
            None
        }
    }
}

/// The engine's version when a Docker engine answers, `None` otherwise.
pub fn engine_version() -> Option<String> {
    let out = capture(
        "docker",
        &["version", "--format", "{{.Server.Version}}"],
        Duration::from_secs(15),
    )?;
    (out.success && !out.stdout.is_empty()).then_some(out.stdout)
}

/// The Compose plugin's version, `None` when `docker compose` is missing.
pub fn compose_version() -> Option<String> {
    let out = capture(
        "docker",
        &["compose", "version", "--short"],
        Duration::from_secs(15),
    )?;
    (out.success && !out.stdout.is_empty()).then_some(out.stdout)
}

/// Where Podman's Docker-compatible socket is: `CONTAINER_HOST` (Podman's own variable) when set
/// to a unix socket, else the rootful default that scripts/setup-podman.sh serves.
pub fn podman_host() -> String {
    std::env::var("CONTAINER_HOST")
        .ok()
        .filter(|h| h.starts_with("unix://"))
        .unwrap_or_else(|| "unix:///run/podman/podman.sock".to_string())
}

/// Podman's version when its service answers on `host` and its CLI runs, `None` otherwise.
pub fn podman_version(host: &str) -> Option<String> {
    let limit = Duration::from_secs(15);
    let format = ["version", "--format", "{{.Server.Version}}"];
    let served = capture_on(Some(host), "docker", &format, limit)?;
    let cli = capture(
        "podman",
        &["version", "--format", "{{.Client.Version}}"],
        limit,
    )?;
    (served.success && cli.success && !cli.stdout.is_empty()).then_some(cli.stdout)
}

/// The Compose service the sandbox runs in.
#[derive(Debug, Clone)]
pub struct Stack {
    pub file: PathBuf,
    pub service: String,
    /// `DOCKER_HOST` of the engine it runs on; `None`: Docker's own default.
    pub host: Option<String>,
}

impl Stack {
    /// Checks the compose file exists and turns it into an absolute path.
    pub fn new(file: &Path, service: &str) -> Result<Self> {
        let file = std::fs::canonicalize(file).map_err(|_| {
            usage(format!(
                "no compose file at '{}': pass --compose-file with the path of docker-compose.yml",
                file.display()
            ))
        })?;
        Ok(Stack {
            file,
            service: service.to_string(),
            host: None,
        })
    }

    /// The same service on the engine whose Docker-compatible socket is `host`.
    pub fn on(mut self, host: &str) -> Self {
        self.host = Some(host.to_string());
        self
    }

    /// Runs `docker args` against this stack's engine within `limit`.
    fn docker(&self, args: &[&str], limit: Duration) -> Option<Finished> {
        capture_on(self.host.as_deref(), "docker", args, limit)
    }

    /// The `DOCKER_HOST=… ` to put before a command shown to the user.
    fn shown_host(&self) -> String {
        self.host
            .as_ref()
            .map_or_else(String::new, |h| format!("DOCKER_HOST={h} "))
    }

    /// Starts the service (`docker compose up -d --wait`) unless it is already running.
    pub fn ensure_up(&self) -> Result<()> {
        let file = self.file.to_string_lossy();
        let compose = |args: &[&str], secs| {
            let mut argv = vec!["compose", "-f", &file];
            argv.extend_from_slice(args);
            self.docker(&argv, Duration::from_secs(secs))
        };
        let running = compose(&["ps", "--status", "running", "-q", &self.service], 60);
        if running.is_some_and(|o| o.success && !o.stdout.is_empty()) {
            return Ok(());
        }
        self.up()
    }

    /// `docker compose up -d --wait`: starts the service, or recreates its container when the
    /// compose file changed (a volume added, for instance).
    pub fn up(&self) -> Result<()> {
        let file = self.file.to_string_lossy();
        let args = ["compose", "-f", &file, "up", "-d", "--wait", &self.service];
        let shown = self.shown_host();
        match self.docker(&args, Duration::from_secs(300)) {
            Some(out) if out.success => Ok(()),
            Some(out) => Err(usage(format!(
                "cannot start service '{}' of '{file}': {} (see `{shown}docker compose -f {file} up -d`)",
                self.service,
                last_line(&out.stderr)
            ))),
            None => Err(usage(format!(
                "`{shown}docker compose -f {file} up -d --wait` did not finish within 5 minutes"
            ))),
        }
    }

    /// The directory shared with the container for the `socket` transport, next to the
    /// compose file (see its `volumes`).
    pub fn shared_dir(&self) -> PathBuf {
        self.file
            .parent()
            .unwrap_or_else(|| Path::new("/"))
            .join(".sandbox-run")
    }

    /// The id of the service's running container, looked up once so that `docker exec` needs
    /// no Compose work per call.
    pub fn container_id(&self) -> Result<String> {
        let file = self.file.to_string_lossy();
        let args = ["compose", "-f", &file, "ps", "-q", &self.service];
        let shown = self.shown_host();
        match self.docker(&args, Duration::from_secs(60)) {
            Some(out) if out.success && !out.stdout.is_empty() => Ok(out
                .stdout
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()),
            Some(out) => Err(usage(format!(
                "no running container for service '{}' of '{file}': {} (see `{shown}docker compose -f {file} ps`)",
                self.service,
                last_line(&out.stderr)
            ))),
            None => Err(usage(format!(
                "`{shown}docker compose -f {file} ps -q {}` did not answer within a minute",
                self.service
            ))),
        }
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
}
