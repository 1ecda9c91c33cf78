//! `api`: the Docker Engine API, with no CLI process at all: exec create and inspect through
//! `bollard`; an agent's exec started attached on a connection of its own, taken over from HTTP
//! as the API's hijacked stream. On a unix socket the harness writes the agent's stdin to that
//! connection and reads its multiplexed stdout and stderr from it in the calling thread. On a
//! `tcp://` engine (mutual TLS with bollard's rustls) the stream is bollard's: a task of the
//! client's runtime decrypts it into a socket pair that the caller reads the same way, since
//! the bytes on the wire are not the stream's until TLS is taken off.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

use super::started::WriteHalf;
use super::{Control, Framing, Started, Transport, with_env};

/// How long a request to a `tcp://` engine may take before it fails: a cut link must end in
/// an error, not a wait of bollard's default two minutes.
const REMOTE_TIMEOUT_S: u64 = 20;

/// Runs programs in one container through the Engine API.
pub struct Api {
    /// One small runtime owns the connections; the harness's threads block on it.
    runtime: Runtime,
    docker: Docker,
    container: String,
    python: String,
    /// The engine's endpoint when not Docker's default.
    host: Option<String>,
    /// The environment of the equivalent CLI command (`DOCKER_HOST`, TLS variables).
    env: super::EngineEnv,
}

/// How a profile's engine is reached through the API.
pub struct ApiEndpoint<'a> {
    /// `unix:///…` or `tcp://HOST:PORT`; `None`: Docker's default.
    pub host: Option<&'a str>,
    /// The client certificates (`ca.pem`, `cert.pem`, `key.pem`) of a `tcp://` engine.
    pub tls: Option<&'a std::path::Path>,
    /// The environment the equivalent `docker` command runs with.
    pub env: super::EngineEnv,
}

impl Api {
    /// Connects to the engine (`DOCKER_HOST` or /var/run/docker.sock) and settles on the API
    /// version both sides speak (1.41 for Docker 20.10).
    pub fn connect(container: &str, python: &str) -> Result<Self, String> {
        let default = ApiEndpoint {
            host: None,
            tls: None,
            env: Vec::new(),
        };
        Self::connect_on(&default, container, python)
    }

    /// `connect`, to the engine at `at`: another Docker-compatible socket (Podman's service
    /// speaks API 1.41 too), or a `tcp://` engine, with mutual TLS when `at.tls` is given.
    pub fn connect_on(at: &ApiEndpoint, container: &str, python: &str) -> Result<Self, String> {
        let host = at.host;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Engine API client: {e}"))?;
        let version = bollard::API_DEFAULT_VERSION;
        let docker = match (host, at.tls) {
            (Some(h), Some(tls)) if h.starts_with("tcp://") => Docker::connect_with_ssl(
                h,
                &tls.join("key.pem"),
                &tls.join("cert.pem"),
                &tls.join("ca.pem"),
                REMOTE_TIMEOUT_S,
                version,
            ),
            (Some(h), None) if h.starts_with("tcp://") => {
                Docker::connect_with_http(h, REMOTE_TIMEOUT_S, version)
            }
            (Some(host), _) => Docker::connect_with_unix(host, 120, version),
            (None, _) => Docker::connect_with_unix_defaults(),
        }
        .map_err(|e| format!("cannot reach the Docker Engine API: {e}"))?;
        let docker = runtime
            .block_on(docker.negotiate_version())
            .map_err(|e| format!("the Docker Engine API does not answer: {e}"))?;
        Ok(Api {
            runtime,
            docker,
            container: container.to_string(),
            python: python.to_string(),
            host: host.map(String::from),
            env: at.env.clone(),
        })
    }

    /// Whether the engine is reached over TCP, where the attached stream is bollard's.
    fn over_tcp(&self) -> bool {
        self.host
            .as_deref()
            .is_some_and(|h| h.starts_with("tcp://"))
    }

    /// Starts exec `id` attached through bollard (TLS or plain TCP), with a task of the runtime
    /// relaying between its stream and one end of a socket pair: the other end, whose bytes
    /// are the API's multiplexed frames again, and the relay's abort handle.
    fn attach_relayed(&self, id: &str) -> std::io::Result<(UnixStream, AbortHandle)> {
        let start = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: None,
        };
        let results = self
            .runtime
            .block_on(self.docker.start_exec(id, Some(start)))
            .map_err(|e| std::io::Error::other(format!("exec start: {e}")))?;
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = results
        else {
            return Err(std::io::Error::other("exec start: the engine detached it"));
        };
        let (ours, theirs) = UnixStream::pair()?;
        theirs.set_nonblocking(true)?;
        let _entered = self.runtime.enter();
        let theirs = tokio::net::UnixStream::from_std(theirs)?;
        let task = self.runtime.spawn(async move {
            let (mut from_caller, mut to_caller) = theirs.into_split();
            let replies = async {
                while let Some(Ok(frame)) = output.next().await {
                    let (kind, bytes) = match frame {
                        LogOutput::StdOut { message } | LogOutput::Console { message } => {
                            (1u8, message)
                        }
                        LogOutput::StdErr { message } => (2, message),
                        LogOutput::StdIn { .. } => continue,
                    };
                    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                    let mut head = [kind, 0, 0, 0, 0, 0, 0, 0];
                    head[4..].copy_from_slice(&len.to_be_bytes());
                    if to_caller.write_all(&head).await.is_err()
                        || to_caller.write_all(&bytes).await.is_err()
                    {
                        break;
                    }
                }
            };
            let requests = async {
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    match from_caller.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if input.write_all(&buf[..n]).await.is_err()
                                || input.flush().await.is_err()
                            {
                                return;
                            }
                        }
                    }
                }
                // The caller's end of input: the agent's stdin closes.
                let _ = input.shutdown().await;
                std::future::pending::<()>().await;
            };
            // The exec's output ends with it (or with the connection); then the caller reads
            // the end of its stream.
            tokio::select! {
                () = replies => {}
                () = requests => {}
            }
        });
        Ok((ours, task.abort_handle()))
    }

    /// Creates an exec of `argv` in the container: its id.
    fn create(&self, argv: Vec<String>, attach: bool) -> Result<String, String> {
        self.runtime.block_on(async {
            let options = CreateExecOptions {
                attach_stdin: Some(attach),
                attach_stdout: Some(attach),
                attach_stderr: Some(attach),
                cmd: Some(argv),
                ..Default::default()
            };
            self.docker
                .create_exec(&self.container, options)
                .await
                .map(|created| created.id)
                .map_err(|e| format!("exec create: {e}"))
        })
    }

    /// Starts a detached exec of `argv`.
    fn exec_detached(&self, argv: Vec<String>) -> Result<(), String> {
        let id = self.create(argv, false)?;
        self.runtime.block_on(async {
            let start = StartExecOptions {
                detach: true,
                tty: false,
                output_capacity: None,
            };
            self.docker
                .start_exec(&id, Some(start))
                .await
                .map(|_| ())
                .map_err(|e| format!("exec start: {e}"))
        })
    }

    /// The engine's socket file: `--engine`'s, else `DOCKER_HOST`'s when it is a unix socket,
    /// else Docker's default (as bollard's own connection finds it).
    fn socket_path(&self) -> String {
        let host = self
            .host
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .filter(|h| h.starts_with("unix://"));
        host.map_or("/var/run/docker.sock".into(), |h| {
            h.trim_start_matches("unix://").to_string()
        })
    }

    /// Starts exec `id` attached, on a connection of its own taken over from HTTP (the API's
    /// hijacked stream): the connection, and the stream's bytes already read with the response.
    fn attach(&self, id: &str) -> std::io::Result<(UnixStream, Vec<u8>)> {
        let mut conn = UnixStream::connect(self.socket_path())?;
        let version = self.docker.client_version();
        let body = r#"{"Detach":false,"Tty":false}"#;
        let request = format!(
            "POST /v{}.{}/exec/{id}/start HTTP/1.1\r\nHost: docker\r\n\
             Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
             Content-Length: {}\r\n\r\n{body}",
            version.major_version,
            version.minor_version,
            body.len()
        );
        conn.write_all(request.as_bytes())?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        let end = loop {
            let n = conn.read(&mut buf)?;
            if n == 0 {
                return Err(std::io::Error::other(
                    "exec start: the engine closed the connection",
                ));
            }
            head.extend_from_slice(&buf[..n]);
            if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if head.len() > 64 << 10 {
                return Err(std::io::Error::other(
                    "exec start: no end to the response head",
                ));
            }
        };
        conn.set_read_timeout(None)?;
        let status = String::from_utf8_lossy(&head[..end]);
        let code = status.split_whitespace().nth(1).unwrap_or("");
        if code != "101" && code != "200" {
            let first = status.lines().next().unwrap_or("").trim().to_string();
            let rest = String::from_utf8_lossy(&head[end..]).trim().to_string();
            return Err(std::io::Error::other(format!("exec start: {first} {rest}")));
        }
        Ok((conn, head[end..].to_vec()))
    }
}

impl Transport for Api {
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        // The trait's `start` and `kill_in_sandbox` are replaced here; this equivalent CLI
        // command, on the same engine, serves messages and the probes' look into the sandbox.
        let mut argv = vec!["exec".to_string(), "-i".into(), self.container.clone()];
        argv.push(program.into());
        argv.extend(args.iter().cloned());
        with_env(duct::cmd("docker", argv), &self.env)
    }

    fn start(&self, program: &str, args: &[String]) -> std::io::Result<Started> {
        let mut argv = vec![program.to_string()];
        argv.extend(args.iter().cloned());
        let id = self.create(argv, true).map_err(std::io::Error::other)?;
        if self.over_tcp() {
            let (conn, relay) = self.attach_relayed(&id)?;
            return Ok(Started {
                stdin: Box::new(WriteHalf(conn.try_clone()?)),
                stdout: conn.try_clone()?.into(),
                framing: Framing::Multiplexed(Vec::new()),
                stderr: None,
                control: Box::new(ExecControl {
                    docker: self.docker.clone(),
                    handle: self.runtime.handle().clone(),
                    id,
                    conn,
                    relay: Some(relay),
                }),
            });
        }
        let (conn, already) = self.attach(&id)?;
        // The agent's replies are read straight from the connection by the caller, frames cut
        // apart in its own thread: no thread of the runtime relays them.
        Ok(Started {
            stdin: Box::new(WriteHalf(conn.try_clone()?)),
            stdout: conn.try_clone()?.into(),
            framing: Framing::Multiplexed(already),
            stderr: None,
            control: Box::new(ExecControl {
                docker: self.docker.clone(),
                handle: self.runtime.handle().clone(),
                id,
                conn,
                relay: None,
            }),
        })
    }

    fn python(&self) -> &str {
        &self.python
    }

    fn kill_in_sandbox(&self, pid: u32) {
        // A detached exec of its own, through the API like everything else here.
        let argv = vec![
            self.python.clone(),
            "-c".into(),
            super::SWEEP.into(),
            "orphans".into(),
            pid.to_string(),
        ];
        let _ = self.exec_detached(argv);
    }
}

/// An exec started through the API, on its own connection.
struct ExecControl {
    docker: Docker,
    handle: tokio::runtime::Handle,
    id: String,
    conn: UnixStream,
    /// The task relaying a `tcp://` engine's stream, ended with the exec.
    relay: Option<AbortHandle>,
}

impl Drop for ExecControl {
    fn drop(&mut self) {
        if let Some(relay) = &self.relay {
            relay.abort();
        }
    }
}

impl Control for ExecControl {
    fn wait_deadline(&self, deadline: Instant) -> std::io::Result<Option<String>> {
        loop {
            let inspected = self
                .handle
                .block_on(self.docker.inspect_exec(&self.id))
                .map_err(std::io::Error::other)?;
            if inspected.running != Some(true) {
                return Ok(Some(match inspected.exit_code {
                    Some(code) => format!("exit code {code}"),
                    None => "ended".to_string(),
                }));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&self) {
        // The engine has no call that kills an exec: strategies kill the agent in the sandbox
        // by its pid first (`kill_in_sandbox`), which ends the exec. The connection goes here.
        let _ = self.conn.shutdown(Shutdown::Both);
        if let Some(relay) = &self.relay {
            relay.abort();
        }
    }
}
