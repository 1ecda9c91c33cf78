//! The Docker side of a run: whether an engine answers, which versions are in use, and bringing
//! the Compose sandbox service up when it is not running.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use super::profile::Profile;
use super::record::SandboxInfo;
use crate::error::usage;
use crate::transport::{EngineEnv, with_env};

/// Output of a helper command that finished in time.
struct Finished {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `program args` to completion within `limit`; `None` if it could not start or hung.
fn capture(program: &str, args: &[&str], limit: Duration) -> Option<Finished> {
    capture_on(&[], program, args, limit)
}

/// `capture`, with a profile's engine environment (another engine's socket, a Compose project).
fn capture_on(
    env: &[(String, String)],
    program: &str,
    args: &[&str],
    limit: Duration,
) -> Option<Finished> {
    let handle = with_env(duct::cmd(program, args), env)
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
    engine_version_on(&[])
}

/// The version of the engine a profile's environment points at, when it answers.
pub fn engine_version_on(env: &[(String, String)]) -> Option<String> {
    let out = capture_on(
        env,
        "docker",
        &["version", "--format", "{{.Server.Version}}"],
        Duration::from_secs(15),
    )?;
    (out.success && !out.stdout.is_empty()).then_some(out.stdout)
}

/// The version of a remote engine (a profile's `tcp://` or `ssh://` host), or why it does not
/// answer: the Docker CLI's own last line (a refused connection, an unknown certificate
/// authority, a host out of reach), or that it did not answer within 15 s.
pub fn remote_engine_version(env: &[(String, String)]) -> Result<String, String> {
    let args = ["version", "--format", "{{.Server.Version}}"];
    match capture_on(env, "docker", &args, Duration::from_secs(15)) {
        Some(out) if out.success && !out.stdout.is_empty() => Ok(out.stdout),
        Some(out) => Err(last_line(&out.stderr).to_string()),
        None => Err("no answer within 15 s".into()),
    }
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

/// Podman's version when its service answers on `host` and its CLI runs, `None` otherwise.
pub fn podman_version(host: &str) -> Option<String> {
    let limit = Duration::from_secs(15);
    let format = ["version", "--format", "{{.Server.Version}}"];
    let env = [("DOCKER_HOST".to_string(), host.to_string())];
    let served = capture_on(&env, "docker", &format, limit)?;
    let cli = capture(
        "podman",
        &["version", "--format", "{{.Client.Version}}"],
        limit,
    )?;
    (served.success && cli.success && !cli.stdout.is_empty()).then_some(cli.stdout)
}

/// The Compose service a profile's sandbox runs in.
#[derive(Debug, Clone)]
pub struct Stack {
    pub file: PathBuf,
    pub service: String,
    /// The profile's engine environment (`DOCKER_HOST`, `COMPOSE_PROJECT_NAME`, the Compose
    /// file's variables); empty for Docker's own default.
    pub env: EngineEnv,
    /// The socket transport's directory, shared with the container.
    pub shared_dir: PathBuf,
    /// Its Compose project; `None`: the file's default one.
    pub project: Option<String>,
}

impl Stack {
    /// The stack of a profile: checks its compose file exists and makes the path absolute.
    pub fn of(profile: &Profile) -> Result<Self> {
        let file = std::fs::canonicalize(&profile.compose_file).map_err(|_| {
            usage(format!(
                "no compose file at '{}': pass --compose-file with the path of docker-compose.yml",
                profile.compose_file.display()
            ))
        })?;
        // The variables take the absolute path, as the Compose file is read from anywhere.
        let absolute = Profile {
            compose_file: file.clone(),
            ..profile.clone()
        };
        Ok(Stack {
            file,
            service: profile.service.clone(),
            env: absolute.env(),
            shared_dir: absolute.shared_dir(),
            project: absolute.project(),
        })
    }

    /// Runs `docker args` against this stack's engine within `limit`.
    fn docker(&self, args: &[&str], limit: Duration) -> Option<Finished> {
        capture_on(&self.env, "docker", args, limit)
    }

    /// The `VAR=… ` settings to put before a command shown to the user.
    fn shown_host(&self) -> String {
        self.env.iter().map(|(k, v)| format!("{k}={v} ")).collect()
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

    /// `docker compose down`: removes the project's containers (a remote engine's, after a
    /// run); whether it did.
    pub fn down(&self) -> bool {
        let file = self.file.to_string_lossy();
        let args = ["compose", "-f", &file, "down", "-t", "1"];
        self.docker(&args, Duration::from_secs(60))
            .is_some_and(|o| o.success)
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

/// Reads a container's image, runtime and limits from the engine (`docker inspect`).
pub fn inspect(env: &[(String, String)], container: &str) -> Result<SandboxInfo> {
    let out = capture_on(
        env,
        "docker",
        &["inspect", container],
        Duration::from_secs(30),
    )
    .filter(|o| o.success)
    .ok_or_else(|| usage(format!("`docker inspect {container}` failed")))?;
    let all: serde_json::Value = serde_json::from_str(&out.stdout)
        .map_err(|e| usage(format!("`docker inspect {container}`: {e}")))?;
    let c = &all[0];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let positive = |v: &serde_json::Value| v.as_i64().filter(|n| *n > 0);
    let host = &c["HostConfig"];
    let mut runtime = Some(text(&host["Runtime"])).filter(|r| !r.is_empty());
    if runtime.as_deref() == Some("oci") {
        // Podman's Docker-compatible inspect says "oci" for every runtime: its own API names it.
        runtime = podman_runtime(env, container).or(runtime);
    }
    Ok(SandboxInfo {
        container: text(&c["Id"]).chars().take(12).collect(),
        image_id: text(&c["Image"]),
        image: text(&c["Config"]["Image"]),
        runtime,
        memory_bytes: positive(&host["Memory"]),
        pids_limit: positive(&host["PidsLimit"]),
        cpus: positive(&host["NanoCpus"]).map(|n| n as f64 / 1e9),
        read_only_root: host["ReadonlyRootfs"].as_bool().unwrap_or(false),
        network_mode: text(&host["NetworkMode"]),
        user: text(&c["Config"]["User"]),
        strays_at_start: None,
        strays_removed: false,
    })
}

/// The OCI runtime a Podman container runs under, asked through Podman's own API (`podman
/// --remote` at the profile's socket), `None` when that does not answer.
fn podman_runtime(env: &[(String, String)], container: &str) -> Option<String> {
    let url = env.iter().find(|(k, _)| k == "DOCKER_HOST")?.1.clone();
    let out = capture_on(
        env,
        "podman",
        &[
            "--remote",
            "--url",
            &url,
            "inspect",
            "--format",
            "{{.OCIRuntime}}",
            container,
        ],
        Duration::from_secs(15),
    )
    .filter(|o| o.success)?;
    let name = out.stdout.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// The OCI runtimes the engine a profile points at offers (`docker info`), `None` when it does
/// not say. Podman lists every runtime its configuration knows of, installed or not: one whose
/// absolute path does not exist on this machine (where the engine's socket is) is left out.
pub fn runtimes(env: &[(String, String)]) -> Option<Vec<String>> {
    let out = capture_on(
        env,
        "docker",
        &["info", "--format", "{{json .Runtimes}}"],
        Duration::from_secs(15),
    )
    .filter(|o| o.success)?;
    let found: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
    Some(
        found
            .as_object()?
            .iter()
            .filter(|(_, r)| {
                r["path"]
                    .as_str()
                    .is_none_or(|p| !p.starts_with('/') || std::path::Path::new(p).exists())
            })
            .map(|(name, _)| name.clone())
            .collect(),
    )
}

/// The engine's default OCI runtime (`docker info`'s `DefaultRuntime`), `None` when it does
/// not answer.
pub fn default_runtime(env: &[(String, String)]) -> Option<String> {
    let out = capture_on(
        env,
        "docker",
        &["info", "--format", "{{.DefaultRuntime}}"],
        Duration::from_secs(15),
    )
    .filter(|o| o.success)?;
    let name = out.stdout.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// The libraries whose versions a profile's record names when its image has them.
pub const LIBRARIES: [&str; 3] = ["numpy", "pandas", "matplotlib"];

/// What a running container's Python is: its version and the versions of the [`LIBRARIES`] it
/// has, read from their package metadata without importing them (one `docker exec`).
pub fn python_found(
    env: &[(String, String)],
    container: &str,
    python: &str,
) -> (Option<String>, BTreeMap<String, String>) {
    let code = format!(
        "import sys, json\n\
         libs = {{}}\n\
         try:\n    from importlib import metadata\n\
         except ImportError:\n    metadata = None\n\
         for name in {:?} if metadata else ():\n\
         \x20   try:\n        libs[name] = metadata.version(name)\n\
         \x20   except Exception:\n        pass\n\
         print(json.dumps({{'python': sys.version.split()[0], 'libraries': libs}}))",
        LIBRARIES
    );
    let out = capture_on(
        env,
        "docker",
        &["exec", container, python, "-c", &code],
        Duration::from_secs(30),
    )
    .filter(|o| o.success);
    let Some(found) = out.and_then(|o| serde_json::from_str::<serde_json::Value>(&o.stdout).ok())
    else {
        return (None, BTreeMap::new());
    };
    let version = found["python"].as_str().map(str::to_string);
    let libraries = found["libraries"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    (version, libraries)
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
}
