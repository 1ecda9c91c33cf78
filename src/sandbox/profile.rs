//! Sandbox profiles: where a backend's interpreter lives, beside how it is reached (the
//! transport) and how it is used (the strategy). A profile bundles the engine and its endpoint,
//! the OCI runtime, the image and the Compose file and service. Four are built in, `docker` and
//! `podman` (each engine as it is), `runsc` and `crun` (Docker with that runtime, see
//! [`RUNTIME_PROFILES`]); more are declared with `--profile NAME:KEY=VALUE,…` or in a TOML file
//! (`--profiles FILE`), and backends name them as `transport@profile:strategy`.
//!
//! Each user profile runs its own container: a Compose project of its own
//! (`COMPOSE_PROJECT_NAME`), with its image (`SANDBOX_IMAGE`), runtime (`SANDBOX_RUNTIME`) and
//! socket directory (`SANDBOX_RUN_DIR`) given to the Compose file through the environment, so
//! two profiles on one engine that differ only in image run side by side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The engine a profile's sandbox runs on: which CLI and API dialect.
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

    fn parse(text: &str) -> Result<Engine, String> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == text)
            .ok_or_else(|| format!("unknown engine '{text}' (known: docker, podman)"))
    }
}

/// The runtimes with a built-in profile of their name: Docker with that OCI runtime, in a
/// Compose project of its own (the `docker` profile's container keeps the engine's default).
/// Built in because the set-up registers exactly these (scripts/setup-docker.sh), so
/// `compose@runsc:persistent` needs no `--profile`; another runtime, or one on Podman, is a
/// user profile (`--profile pc:engine=podman,runtime=crun`).
pub const RUNTIME_PROFILES: [&str; 2] = ["runsc", "crun"];

/// The built-in profiles and how to declare more, one line each, for `--help` and listings.
pub const ABOUT: [(&str, &str); 5] = [
    (
        "docker",
        "built in, the default: Docker, the Compose file's image and runtime",
    ),
    (
        "podman",
        "built in: Podman, via its Docker-compatible socket",
    ),
    (
        "runsc",
        "built in: Docker on gVisor (runsc), a user-space kernel under the code",
    ),
    ("crun", "built in: Docker on crun, runc's C counterpart"),
    (
        "NAME",
        "yours: --profile NAME:KEY=VALUE,… (keys below) or --profiles FILE",
    ),
];

/// One sandbox profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Its name in backend names (`compose@NAME:persistent`).
    pub name: String,
    pub engine: Engine,
    /// The engine's endpoint (`DOCKER_HOST` form: `unix:///…`, `tcp://HOST:PORT`,
    /// `ssh://USER@HOST`); `None`: the engine's default (Docker's own, or Podman's socket, see
    /// [`podman_host`]).
    pub host: Option<String>,
    /// The client certificates of a `tcp://` engine with mutual TLS (`ca.pem`, `cert.pem`,
    /// `key.pem`: the Docker CLI's `DOCKER_CERT_PATH`).
    pub tls: Option<PathBuf>,
    /// The OCI runtime the container runs under (`runc`, `crun`, `runsc`); `None`: the engine's
    /// default.
    pub runtime: Option<String>,
    /// The image; `None`: the one the Compose file names.
    pub image: Option<String>,
    pub compose_file: PathBuf,
    pub service: String,
    /// Built in (`docker`, `podman`): the Compose project is the file's default one.
    pub builtin: bool,
}

/// The keys a profile takes, for errors and `--help`.
pub const KEYS: &str = "engine, host, tls, runtime, image, compose-file, service";

impl Profile {
    /// A built-in profile: the engine's defaults, the Compose file and service of the flags.
    pub fn builtin(engine: Engine, compose_file: &Path, service: &str) -> Profile {
        Profile {
            name: engine.name().to_string(),
            engine,
            host: None,
            tls: None,
            runtime: None,
            image: None,
            compose_file: compose_file.to_path_buf(),
            service: service.to_string(),
            builtin: true,
        }
    }

    /// The built-in profile of a runtime of [`RUNTIME_PROFILES`]: Docker with that runtime,
    /// in a Compose project (and socket directory) of its own.
    pub fn for_runtime(runtime: &str, compose_file: &Path, service: &str) -> Profile {
        Profile {
            name: runtime.to_string(),
            engine: Engine::Docker,
            host: None,
            tls: None,
            runtime: Some(runtime.to_string()),
            image: None,
            compose_file: compose_file.to_path_buf(),
            service: service_for(Some(runtime), compose_file, service),
            builtin: false,
        }
    }

    /// Parses `NAME:KEY=VALUE,…` (`py313:image=sandbox-bench-python:trixie`); the Compose file
    /// and service default to the flags'.
    pub fn parse(text: &str, compose_file: &Path, service: &str) -> Result<Profile, String> {
        let Some((name, settings)) = text.split_once(':') else {
            return Err(format!(
                "'{text}': write NAME:KEY=VALUE[,KEY=VALUE…] (keys: {KEYS})"
            ));
        };
        let mut table = ProfileTable::default();
        for pair in settings.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!(
                    "'{pair}' in '{text}': write KEY=VALUE (keys: {KEYS})"
                ));
            };
            let value = Some(value.trim().to_string());
            match key.trim() {
                "engine" => table.engine = value,
                "host" => table.host = value,
                "tls" => table.tls = value.map(PathBuf::from),
                "runtime" => table.runtime = value,
                "image" => table.image = value,
                "compose-file" | "compose_file" => table.compose_file = value.map(PathBuf::from),
                "service" => table.service = value,
                other => return Err(format!("unknown key '{other}' in '{text}' (keys: {KEYS})")),
            }
        }
        table.into_profile(name.trim(), compose_file, service)
    }

    /// The Compose project its container belongs to; `None`: the file's default one.
    pub fn project(&self) -> Option<String> {
        if self.builtin {
            return None;
        }
        let dir = self
            .compose_file
            .parent()
            .and_then(Path::file_name)
            .map(|d| d.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let dir: String = dir
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let dir = if dir.is_empty() {
            "sandbox".into()
        } else {
            dir
        };
        Some(format!("{dir}-{}", self.name))
    }

    /// The socket transport's directory, shared with the container: `.sandbox-run` beside the
    /// Compose file, `.sandbox-run-NAME` for a user profile (each container binds its own).
    pub fn shared_dir(&self) -> PathBuf {
        let dir = self.compose_file.parent().unwrap_or_else(|| Path::new("/"));
        if self.builtin {
            dir.join(".sandbox-run")
        } else {
            dir.join(format!(".sandbox-run-{}", self.name))
        }
    }

    /// Whether its engine is across a network (`tcp://`, `ssh://`): paths the engine binds are
    /// on that host's filesystem, and its processes are not in this host's `/proc`.
    pub fn remote(&self) -> bool {
        self.host
            .as_deref()
            .is_some_and(|h| h.starts_with("tcp://") || h.starts_with("ssh://"))
    }

    /// Whether its TLS directory holds the Docker CLI's three files, if it has one; else what
    /// is missing, in one line.
    pub fn check_tls_files(&self) -> Result<(), String> {
        let Some(dir) = &self.tls else {
            return Ok(());
        };
        let missing: Vec<&str> = ["ca.pem", "cert.pem", "key.pem"]
            .into_iter()
            .filter(|f| !dir.join(f).is_file())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "profile '{}': tls '{}': no {} there (a directory with ca.pem, cert.pem and \
             key.pem, as scripts/setup-remote-host.sh makes)",
            self.name,
            dir.display(),
            missing.join(", ")
        ))
    }

    /// The endpoint its `docker` commands go to: `None` for Docker's own default.
    pub fn endpoint(&self) -> Option<String> {
        match (&self.host, self.engine) {
            (Some(host), _) => Some(host.clone()),
            (None, Engine::Docker) => None,
            (None, Engine::Podman) => Some(podman_host_for(self.runtime.as_deref())),
        }
    }

    /// The environment every `docker` and `docker compose` command of this profile runs with.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(host) = self.endpoint() {
            env.push(("DOCKER_HOST".into(), host));
        }
        if let Some(tls) = &self.tls {
            env.push(("DOCKER_TLS_VERIFY".into(), "1".into()));
            env.push(("DOCKER_CERT_PATH".into(), tls.display().to_string()));
        }
        if let Some(project) = self.project() {
            env.push(("COMPOSE_PROJECT_NAME".into(), project));
            env.push((
                "SANDBOX_RUN_DIR".into(),
                self.shared_dir().display().to_string(),
            ));
        }
        if let Some(image) = &self.image {
            env.push(("SANDBOX_IMAGE".into(), image.clone()));
        }
        if let Some(runtime) = &self.runtime {
            env.push(("SANDBOX_RUNTIME".into(), runtime.clone()));
        }
        env
    }

    /// One line on what the profile sets, for listings and notices.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("engine {}", self.engine.name())];
        if let Some(h) = &self.host {
            parts.push(format!("host {h}"));
        }
        if let Some(t) = &self.tls {
            parts.push(format!("TLS certificates {}", t.display()));
        }
        parts.push(format!(
            "runtime {}",
            self.runtime.as_deref().unwrap_or("(engine default)")
        ));
        parts.push(format!(
            "image {}",
            self.image.as_deref().unwrap_or("(the Compose file's)")
        ));
        parts.push(format!(
            "service {} of {}",
            self.service,
            self.compose_file.display()
        ));
        parts.join(", ")
    }
}

/// Where Podman's Docker-compatible socket is: `CONTAINER_HOST` (Podman's own variable) when set
/// to a unix socket, else the rootful default that scripts/setup-podman.sh serves.
pub fn podman_host() -> String {
    std::env::var("CONTAINER_HOST")
        .ok()
        .filter(|h| h.starts_with("unix://"))
        .unwrap_or_else(|| "unix:///run/podman/podman.sock".to_string())
}

/// The Podman service whose containers run under `runtime`. Podman's Docker-compatible API
/// ignores a container's runtime and runs its service's default one, so each runtime has a
/// service of its own: runc (Podman's default as scripts/setup-podman.sh keeps it, and no
/// runtime named) at [`podman_host`], another one R at `/run/podman/podman-R.sock`, which the
/// set-up serves for crun (a `containers.conf` whose default runtime is crun).
pub fn podman_host_for(runtime: Option<&str>) -> String {
    match runtime {
        None | Some("runc") => podman_host(),
        Some(r) => format!("unix:///run/podman/podman-{r}.sock"),
    }
}

/// A profile as written in the TOML file or after `NAME:` on the command line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ProfileTable {
    engine: Option<String>,
    host: Option<String>,
    tls: Option<PathBuf>,
    runtime: Option<String>,
    image: Option<String>,
    #[serde(alias = "compose_file")]
    compose_file: Option<PathBuf>,
    service: Option<String>,
}

/// The TOML file: `[profiles.NAME]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    profiles: BTreeMap<String, ProfileTable>,
}

impl ProfileTable {
    fn into_profile(
        self,
        name: &str,
        compose_file: &Path,
        service: &str,
    ) -> Result<Profile, String> {
        check_name(name)?;
        if Engine::ALL.iter().any(|e| e.name() == name) || RUNTIME_PROFILES.contains(&name) {
            return Err(format!(
                "'{name}' is a built-in profile: give yours another name"
            ));
        }
        let engine = self
            .engine
            .as_deref()
            .map_or(Ok(Engine::Docker), Engine::parse)?;
        let nonempty = |key: &str, v: Option<String>| -> Result<Option<String>, String> {
            match v {
                Some(v) if v.trim().is_empty() => Err(format!(
                    "profile '{name}': {key} is empty (leave it out for the default)"
                )),
                v => Ok(v.map(|v| v.trim().to_string())),
            }
        };
        let host = nonempty("host", self.host)?;
        if let Some(h) = &host {
            check_host(h).map_err(|e| format!("profile '{name}': host '{h}': {e}"))?;
        }
        let tls = match self.tls {
            Some(dir) if dir.as_os_str().is_empty() => {
                return Err(format!(
                    "profile '{name}': tls is empty (leave it out for no TLS)"
                ));
            }
            Some(dir) => Some(
                check_tls(host.as_deref(), &dir)
                    .map_err(|e| format!("profile '{name}': tls '{}': {e}", dir.display()))?,
            ),
            None => None,
        };
        let runtime = nonempty("runtime", self.runtime)?;
        if let Some(r) = &runtime
            && !r
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!("profile '{name}': '{r}' is not a runtime name"));
        }
        Ok(Profile {
            name: name.to_string(),
            engine,
            host,
            tls,
            image: nonempty("image", self.image)?,
            service: match nonempty("service", self.service)? {
                Some(named) => named,
                None => service_for(
                    runtime.as_deref(),
                    self.compose_file.as_deref().unwrap_or(compose_file),
                    service,
                ),
            },
            compose_file: self
                .compose_file
                .unwrap_or_else(|| compose_file.to_path_buf()),
            runtime,
            builtin: false,
        })
    }
}

/// Checks an engine endpoint: `unix:///PATH`, `tcp://HOST:PORT` or `ssh://[USER@]HOST[:PORT]`.
fn check_host(host: &str) -> Result<(), String> {
    if let Some(path) = host.strip_prefix("unix://") {
        return if path.starts_with('/') {
            Ok(())
        } else {
            Err("write unix:///absolute/path".into())
        };
    }
    if let Some(rest) = host.strip_prefix("tcp://") {
        let port = rest.rsplit_once(':').and_then(|(h, p)| {
            (!h.is_empty() && !h.contains('/')).then_some(p.parse::<u16>().ok())?
        });
        return match port {
            Some(p) if p > 0 => Ok(()),
            _ => Err("write tcp://HOST:PORT (e.g. tcp://10.231.1.2:2376)".into()),
        };
    }
    if let Some(rest) = host.strip_prefix("ssh://") {
        let at = rest.rsplit('@').next().unwrap_or("");
        return if !at.is_empty() && !rest.contains('/') && !rest.contains(char::is_whitespace) {
            Ok(())
        } else {
            Err("write ssh://USER@HOST".into())
        };
    }
    Err("an engine is reached at unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST".into())
}

/// Checks that TLS goes with a `tcp://` host; returns the directory absolute, since the
/// engine's commands run from other folders. Its files are checked before the run
/// ([`Profile::check_tls_files`]), so a profile can be written before its host is set up.
fn check_tls(host: Option<&str>, dir: &Path) -> Result<PathBuf, String> {
    if !host.is_some_and(|h| h.starts_with("tcp://")) {
        return Err("TLS is for a tcp:// host: add host=tcp://HOST:PORT".into());
    }
    std::path::absolute(dir).map_err(|e| e.to_string())
}

/// The Compose service gVisor's profiles run, where the Compose file defines it: the sandbox
/// with room in its pids cgroup for gVisor's own threads and the code's processes capped
/// inside gVisor instead (docker-compose.yml says why).
pub const GVISOR_SERVICE: &str = "sandbox-gvisor";

/// The service a profile runs when it names none: the flags' `service`, or for `runsc` the
/// Compose file's [`GVISOR_SERVICE`] in place of the default `sandbox`.
fn service_for(runtime: Option<&str>, compose_file: &Path, service: &str) -> String {
    let defines = |name: &str| {
        std::fs::read_to_string(compose_file)
            .is_ok_and(|text| text.lines().any(|l| l.trim_end() == format!("  {name}:")))
    };
    if runtime == Some("runsc") && service == "sandbox" && defines(GVISOR_SERVICE) {
        GVISOR_SERVICE.to_string()
    } else {
        service.to_string()
    }
}

/// A profile's name: lower-case letters, digits, '-' and '_', starting with a letter (it
/// becomes part of a Compose project's name).
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 32;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}': a profile's name takes lower-case letters, digits, '-' and '_', starts with a letter, 32 at most"
        ))
    }
}

/// Reads the profiles of a TOML file (`[profiles.NAME]` tables with the keys of [`KEYS`]).
pub fn read_file(path: &Path, compose_file: &Path, service: &str) -> Result<Vec<Profile>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let file: ProfileFile = toml::from_str(&text).map_err(|e| {
        let at = e.to_string();
        let at = at.lines().next().unwrap_or("not TOML");
        let at = at.strip_prefix("TOML parse error ").unwrap_or(at);
        format!("'{}': {} ({at})", path.display(), e.message().trim())
    })?;
    file.profiles
        .into_iter()
        .map(|(name, table)| {
            // A relative Compose file is read from the profile file's folder.
            let table = ProfileTable {
                compose_file: table.compose_file.map(|f| {
                    if f.is_relative() {
                        path.parent().unwrap_or_else(|| Path::new(".")).join(f)
                    } else {
                        f
                    }
                }),
                ..table
            };
            table
                .into_profile(&name, compose_file, service)
                .map_err(|e| format!("'{}': {e}", path.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Profile, String> {
        Profile::parse(text, Path::new("/srv/box/docker-compose.yml"), "sandbox")
    }

    #[test]
    fn command_line_profiles_take_their_keys() {
        let p = parse("py313:image=sandbox-bench-python:trixie,runtime=runsc").unwrap();
        assert_eq!(p.name, "py313");
        assert_eq!(p.image.as_deref(), Some("sandbox-bench-python:trixie"));
        assert_eq!(p.runtime.as_deref(), Some("runsc"));
        assert_eq!(p.engine, Engine::Docker);
        assert_eq!(p.service, "sandbox");
        assert_eq!(p.project().as_deref(), Some("box-py313"));
        assert_eq!(p.shared_dir(), PathBuf::from("/srv/box/.sandbox-run-py313"));
        let env = p.env();
        for key in ["COMPOSE_PROJECT_NAME", "SANDBOX_IMAGE", "SANDBOX_RUNTIME"] {
            assert!(env.iter().any(|(k, _)| k == key), "{key}: {env:?}");
        }
        assert!(!env.iter().any(|(k, _)| k == "DOCKER_HOST"), "{env:?}");
        let q = parse("pc:engine=podman").unwrap();
        assert_eq!(q.endpoint(), Some(podman_host()));
        // Each runtime has a Podman service of its own; runc is the default one's.
        let c = parse("pc:engine=podman,runtime=crun").unwrap();
        assert_eq!(
            c.endpoint().as_deref(),
            Some("unix:///run/podman/podman-crun.sock")
        );
        let r = parse("pr:engine=podman,runtime=runc").unwrap();
        assert_eq!(r.endpoint(), Some(podman_host()));
        let h = parse("ph:engine=podman,runtime=crun,host=unix:///srv/p.sock").unwrap();
        assert_eq!(h.endpoint().as_deref(), Some("unix:///srv/p.sock"));
    }

    #[test]
    fn remote_hosts_carry_the_docker_clis_tls_variables() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let text = format!("r1:host=tcp://10.0.0.2:2376,tls={}", dir.path().display());
        let p = parse(&text).unwrap();
        assert!(p.remote());
        let env = p.env();
        for (k, v) in [
            ("DOCKER_HOST", "tcp://10.0.0.2:2376".to_string()),
            ("DOCKER_TLS_VERIFY", "1".to_string()),
            ("DOCKER_CERT_PATH", dir.path().display().to_string()),
        ] {
            assert!(env.contains(&(k.to_string(), v)), "{k}: {env:?}");
        }
        let s = parse("s:host=ssh://me@box.example").unwrap();
        assert!(s.remote() && s.tls.is_none());
        assert!(!parse("u:host=unix:///srv/d.sock").unwrap().remote());
        assert!(!s.env().iter().any(|(k, _)| k == "DOCKER_TLS_VERIFY"));
        assert_eq!(p.check_tls_files(), Ok(()));
        let e = parse("m:host=tcp://1.2.3.4:2376,tls=/nonexistent")
            .unwrap()
            .check_tls_files()
            .unwrap_err();
        assert!(e.contains("no ca.pem, cert.pem, key.pem"), "{e}");
    }

    #[test]
    fn built_ins_keep_the_files_defaults() {
        let p = Profile::builtin(Engine::Docker, Path::new("/srv/box/c.yml"), "sandbox");
        assert_eq!(p.project(), None);
        assert!(p.env().is_empty());
        assert_eq!(p.shared_dir(), PathBuf::from("/srv/box/.sandbox-run"));
    }

    #[test]
    fn runtime_profiles_are_docker_with_that_runtime_in_a_project_of_their_own() {
        let p = Profile::for_runtime("runsc", Path::new("/srv/box/c.yml"), "sandbox");
        assert_eq!(
            (p.engine, p.runtime.as_deref()),
            (Engine::Docker, Some("runsc"))
        );
        assert_eq!(p.project().as_deref(), Some("box-runsc"));
        assert_eq!(p.shared_dir(), PathBuf::from("/srv/box/.sandbox-run-runsc"));
        assert!(
            p.env()
                .contains(&("SANDBOX_RUNTIME".to_string(), "runsc".to_string()))
        );
    }

    #[test]
    fn gvisor_runs_the_compose_files_gvisor_service_unless_another_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(
            &file,
            "services:\n  sandbox:\n    image: x\n  sandbox-gvisor:\n    extends:\n",
        )
        .unwrap();
        let p = Profile::for_runtime("runsc", &file, "sandbox");
        assert_eq!(p.service, GVISOR_SERVICE);
        assert_eq!(
            Profile::for_runtime("crun", &file, "sandbox").service,
            "sandbox"
        );
        let user = |text: &str| Profile::parse(text, &file, "sandbox").unwrap().service;
        assert_eq!(user("g:runtime=runsc"), GVISOR_SERVICE);
        assert_eq!(user("g:runtime=runsc,service=mine"), "mine");
        assert_eq!(user("g:image=y"), "sandbox");
        // A Compose file without it: the service asked for.
        let other = dir.path().join("other.yml");
        std::fs::write(&other, "services:\n  sandbox:\n    image: x\n").unwrap();
        assert_eq!(
            Profile::for_runtime("runsc", &other, "sandbox").service,
            "sandbox"
        );
    }

    #[test]
    fn bad_profiles_say_why() {
        for (bad, says) in [
            ("noname", "NAME:KEY=VALUE"),
            ("Big:image=x", "lower-case"),
            ("docker:image=x", "built-in"),
            ("runsc:image=x", "built-in"),
            ("a:colour=red", "unknown key 'colour'"),
            ("a:image", "KEY=VALUE"),
            ("a:image=", "empty"),
            ("a:engine=kube", "unknown engine"),
            ("a:host=tcp://1.2.3.4", "tcp://HOST:PORT"),
            ("a:host=tcp://:2376", "tcp://HOST:PORT"),
            ("a:host=http://1.2.3.4:2376", "unix:///PATH, tcp://"),
            ("a:host=ssh://", "ssh://USER@HOST"),
            ("a:host=unix://rel.sock", "absolute"),
            ("a:tls=/tmp", "tcp:// host"),
            ("a:host=tcp://1.2.3.4:2376,tls=", "tls is empty"),
            ("a:runtime=ru nc", "runtime name"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn toml_files_declare_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(
            &path,
            "[profiles.gv]\nruntime = \"runsc\"\n\n[profiles.alt]\nimage = \"img:alt\"\ncompose-file = \"other.yml\"\n",
        )
        .unwrap();
        let found = read_file(&path, Path::new("/x/docker-compose.yml"), "sandbox").unwrap();
        assert_eq!(found.len(), 2);
        let alt = found.iter().find(|p| p.name == "alt").unwrap();
        assert_eq!(alt.compose_file, dir.path().join("other.yml"));
        std::fs::write(&path, "[profiles.gv]\nruntim = \"runsc\"\n").unwrap();
        let e = read_file(&path, Path::new("/x/c.yml"), "sandbox").unwrap_err();
        assert!(e.contains("runtim"), "{e}");
    }
}
