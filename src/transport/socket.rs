//! `socket`: a server agent inside the container listens on a unix socket in a directory shared
//! with the host; the harness connects to the socket file directly, so requests and replies no
//! longer pass through the Docker daemon's stream relay. The server is started once (through
//! `docker exec -d`) and forks one process per connection, which then speaks the usual protocol.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::started::WriteHalf;
use super::{Control, DockerExec, Started, Transport, with_env};

/// The shared directory's path inside the container (see docker-compose.yml).
pub const CONTAINER_DIR: &str = "/run/sandbox-bench";
/// The user the sandbox runs as, who must be able to create the socket file.
const SANDBOX_UID: u32 = 65534;

/// Reaches agents through a unix socket the container shares with the host.
pub struct Socket {
    /// How the server is started and a stuck agent killed: `docker exec` on the same container.
    exec: DockerExec,
    /// The socket file as the host sees it.
    host_path: PathBuf,
    /// The same file as the container sees it.
    container_path: String,
    started: Mutex<bool>,
    /// Servers found dead (a call can kill its agent's parent) and started again.
    restarts: AtomicU32,
    /// The profile's engine environment (`DOCKER_HOST` of the engine the container runs on).
    env: super::EngineEnv,
    /// The Python program the server runs (`-c SOURCE socket PATH`): the agent's source, given
    /// by whoever builds the transport, so transports need not know the agent.
    server: &'static str,
}

/// Creates the shared directory (before the container starts, or Docker creates it owned by
/// root) and hands it to the sandbox's user alone (owner 65534, mode 0700), so the server can
/// create its socket in it and no other local user can reach that socket. Only root can give a
/// directory away: otherwise this refuses rather than open the directory to every user.
pub fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "only root can hand it to the sandbox's user (uid {SANDBOX_UID}): run as root, \
                 or use backends that need no shared directory (neither socket nor jupyter)"
            ),
        ));
    }
    std::fs::create_dir_all(dir)?;
    // Root follows no link planted in place of the directory: it would give away its target.
    if !std::fs::symlink_metadata(dir)?.is_dir() {
        return Err(std::io::Error::other(
            "it is not a directory (a symbolic link?)",
        ));
    }
    std::os::unix::fs::lchown(dir, Some(SANDBOX_UID), Some(SANDBOX_UID))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

impl Socket {
    /// A transport whose server, the Python program `server`, will listen in `host_dir`,
    /// mounted at [`CONTAINER_DIR`].
    pub fn new(exec: DockerExec, host_dir: &Path, server: &'static str) -> Self {
        // One socket per transport: runs side by side, and backends of one run, never share a
        // server (a second server on the same path would replace the first one's file).
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("agent-{}-{n}.sock", std::process::id());
        Socket {
            exec,
            host_path: host_dir.join(&name),
            container_path: format!("{CONTAINER_DIR}/{name}"),
            started: Mutex::new(false),
            restarts: AtomicU32::new(0),
            env: Vec::new(),
            server,
        }
    }

    /// The same transport, with a profile's engine environment (see [`super::OnEngine`]).
    pub fn on_engine(mut self, env: &[(String, String)]) -> Self {
        self.env = env.to_vec();
        self
    }

    /// Starts the server in the container on first use and waits until it accepts; `dead`:
    /// the server was found dead, start another (unless a concurrent caller just did).
    fn ensure_server(&self, dead: bool) -> std::io::Result<()> {
        let mut started = self
            .started
            .lock()
            .map_err(|_| std::io::Error::other("socket server lock poisoned"))?;
        if *started && !(dead && UnixStream::connect(&self.host_path).is_err()) {
            return Ok(());
        }
        if *started {
            self.restarts.fetch_add(1, Ordering::Relaxed);
        }
        let args = [
            "exec",
            "-d",
            &self.exec.container,
            &self.exec.python,
            "-u",
            "-c",
            self.server,
            "socket",
            &self.container_path,
        ];
        let out = with_env(duct::cmd("docker", args), &self.env)
            .stdin_null()
            .stdout_null()
            .stderr_capture()
            .unchecked()
            .run()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "`docker exec -d` of the socket server failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            // A connection that names no mode is closed by the server's child right away.
            match UnixStream::connect(&self.host_path) {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => {
                    return Err(std::io::Error::other(format!(
                        "the socket server did not listen on {} within 15 s ({e}); is the \
                         shared directory mounted (docker compose up -d)?",
                        self.host_path.display()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        *started = true;
        Ok(())
    }
}

impl Transport for Socket {
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        // Used to kill a stuck agent from inside the container.
        with_env(self.exec.command(program, args), &self.env)
    }

    fn start(&self, _program: &str, args: &[String]) -> std::io::Result<Started> {
        self.ensure_server(false)?;
        // The server already runs the agent: the connection's first line is what follows the
        // agent's source in its arguments, the mode and its options.
        let after_source = args.iter().position(|a| a == "-c").map_or(0, |i| i + 2);
        let mode = args.get(after_source..).unwrap_or_default().join(" ");
        let mut stream = match UnixStream::connect(&self.host_path) {
            Ok(stream) => stream,
            Err(_) => {
                // An earlier call killed the server (its agent's parent): nothing was sent yet,
                // so a new server takes this connection.
                self.ensure_server(true)?;
                UnixStream::connect(&self.host_path)?
            }
        };
        stream.write_all(format!("{mode}\n").as_bytes())?;
        Ok(Started {
            stdin: Box::new(WriteHalf(stream.try_clone()?)),
            // Read straight from the connection: the reply wakes only the harness's caller.
            stdout: stream.try_clone()?.into(),
            framing: super::Framing::Plain,
            stderr: None,
            control: Box::new(Connection(stream)),
        })
    }

    fn relayed(&self) -> bool {
        false // the harness connects to the agent's own socket
    }

    fn python(&self) -> &str {
        &self.exec.python
    }

    fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The server exits once its socket file is gone.
        let _ = std::fs::remove_file(&self.host_path);
    }
}

/// A connection has no exit status: once the harness is done with it, it is over.
struct Connection(UnixStream);

impl Control for Connection {
    fn wait_deadline(&self, _deadline: Instant) -> std::io::Result<Option<String>> {
        Ok(Some("its connection closed".into()))
    }

    fn kill(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn the_shared_directory_is_the_sandbox_users_alone_or_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(".sandbox-run-py313");
        // A directory left world-writable (as an older version made it) is closed again.
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let prepared = prepare_dir(&dir);
        let meta = std::fs::metadata(&dir).unwrap();
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            prepared.unwrap();
            assert_eq!(meta.mode() & 0o7777, 0o700);
            assert_eq!((meta.uid(), meta.gid()), (SANDBOX_UID, SANDBOX_UID));
            let link = root.path().join(".sandbox-run");
            std::os::unix::fs::symlink(root.path(), &link).unwrap();
            assert!(prepare_dir(&link).is_err(), "a link is not followed");
            assert_ne!(std::fs::metadata(root.path()).unwrap().uid(), SANDBOX_UID);
        } else {
            let e = prepared.unwrap_err().to_string();
            assert!(e.contains("run as root") && !e.contains('\n'), "{e}");
            assert_eq!(meta.mode() & 0o777, 0o777, "left as it was");
        }
    }
}
