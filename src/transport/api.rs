//! `api`: the Docker Engine API over its unix socket, through `bollard`: exec create, start and
//! attach, with no CLI process at all. The exec's attached stdin and multiplexed stdout/stderr
//! are bridged to the plain pipes the agent code reads and writes, by two threads per program.

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::runtime::Runtime;

use super::{Control, Started, Transport, with_host};

/// Runs programs in one container through the Engine API.
pub struct Api {
    /// One small runtime owns the connections; the harness's threads block on it.
    runtime: Runtime,
    docker: Docker,
    container: String,
    python: String,
    /// The engine's socket when not Docker's default, for the equivalent CLI command.
    host: Option<String>,
}

impl Api {
    /// Connects to the engine (`DOCKER_HOST` or /var/run/docker.sock) and settles on the API
    /// version both sides speak (1.41 for Docker 20.10).
    pub fn connect(container: &str, python: &str) -> Result<Self, String> {
        Self::connect_on(None, container, python)
    }

    /// `connect`, to the engine whose Docker-compatible socket is `host` (`unix:///…`) when one
    /// is given: Podman's service speaks API 1.41 too.
    pub fn connect_on(host: Option<&str>, container: &str, python: &str) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Engine API client: {e}"))?;
        let docker = match host {
            Some(host) => Docker::connect_with_unix(host, 120, bollard::API_DEFAULT_VERSION),
            None => Docker::connect_with_unix_defaults(),
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
        })
    }

    fn exec(&self, argv: Vec<String>, attach: bool) -> Result<(String, StartExecResults), String> {
        self.runtime.block_on(async {
            let options = CreateExecOptions {
                attach_stdin: Some(attach),
                attach_stdout: Some(attach),
                attach_stderr: Some(attach),
                cmd: Some(argv),
                ..Default::default()
            };
            let created = self
                .docker
                .create_exec(&self.container, options)
                .await
                .map_err(|e| format!("exec create: {e}"))?;
            let start = StartExecOptions {
                detach: !attach,
                tty: false,
                output_capacity: None,
            };
            let started = self
                .docker
                .start_exec(&created.id, Some(start))
                .await
                .map_err(|e| format!("exec start: {e}"))?;
            Ok((created.id, started))
        })
    }
}

impl Transport for Api {
    fn name(&self) -> &'static str {
        "api"
    }

    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        // The trait's `start` and `kill_in_sandbox` are replaced here; this equivalent CLI
        // command, on the same engine, serves messages and the probes' look into the sandbox.
        let mut argv = vec!["exec".to_string(), "-i".into(), self.container.clone()];
        argv.push(program.into());
        argv.extend(args.iter().cloned());
        with_host(duct::cmd("docker", argv), self.host.as_deref())
    }

    fn start(&self, program: &str, args: &[String]) -> std::io::Result<Started> {
        let mut argv = vec![program.to_string()];
        argv.extend(args.iter().cloned());
        let (id, started) = self.exec(argv, true).map_err(std::io::Error::other)?;
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        else {
            return Err(std::io::Error::other(
                "exec start: the engine did not attach",
            ));
        };
        let (in_r, in_w) = os_pipe::pipe()?;
        let (out_r, mut out_w) = os_pipe::pipe()?;
        let (err_r, mut err_w) = os_pipe::pipe()?;
        let done = Arc::new((Mutex::new(false), Condvar::new()));

        // The agent's stdin: whatever the harness writes, until it closes its end.
        let handle = self.runtime.handle().clone();
        std::thread::spawn(move || {
            let mut in_r = in_r;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match in_r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let sent = handle.block_on(async {
                            input.write_all(&buf[..n]).await?;
                            input.flush().await
                        });
                        if sent.is_err() {
                            return;
                        }
                    }
                }
            }
            // End of input reaches the agent as EOF on its stdin.
            let _ = handle.block_on(input.shutdown());
        });

        // The agent's stdout and stderr, demultiplexed; their end is the program's end.
        let handle = self.runtime.handle().clone();
        let ended = Arc::clone(&done);
        std::thread::spawn(move || {
            handle.block_on(async {
                while let Some(Ok(item)) = output.next().await {
                    let written = match item {
                        LogOutput::StdOut { message } | LogOutput::Console { message } => {
                            out_w.write_all(&message)
                        }
                        LogOutput::StdErr { message } => err_w.write_all(&message),
                        LogOutput::StdIn { .. } => Ok(()),
                    };
                    if written.is_err() {
                        break;
                    }
                }
            });
            drop(out_w);
            drop(err_w);
            let (flag, signal) = &*ended;
            if let Ok(mut flag) = flag.lock() {
                *flag = true;
                signal.notify_all();
            }
        });

        // The one transport whose replies still pass a thread before the caller's read: the
        // exec's output is a stream of the runtime's, demultiplexed here into the pipe the
        // caller polls. Reading the attach connection itself would need its own HTTP upgrade
        // and frame parsing in place of bollard's.
        Ok(Started {
            stdin: Box::new(in_w),
            stdout: out_r.into(),
            stderr: Some(Box::new(err_r)),
            control: Box::new(ExecControl {
                docker: self.docker.clone(),
                handle: self.runtime.handle().clone(),
                id,
                done,
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
        let _ = self.exec(argv, false);
    }
}

/// An exec started through the API: it has ended once its output stream has.
struct ExecControl {
    docker: Docker,
    handle: tokio::runtime::Handle,
    id: String,
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl Control for ExecControl {
    fn wait_deadline(&self, deadline: Instant) -> std::io::Result<Option<String>> {
        let (flag, signal) = &*self.done;
        let mut ended = flag
            .lock()
            .map_err(|_| std::io::Error::other("exec state lock poisoned"))?;
        while !*ended {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            ended = signal
                .wait_timeout(ended, left)
                .map_err(|_| std::io::Error::other("exec state lock poisoned"))?
                .0;
        }
        drop(ended);
        let inspected = self
            .handle
            .block_on(self.docker.inspect_exec(&self.id))
            .map_err(std::io::Error::other)?;
        Ok(Some(match inspected.exit_code {
            Some(code) => format!("exit code {code}"),
            None => "ended".to_string(),
        }))
    }

    fn kill(&self) {
        // The engine has no call that kills an exec: strategies kill the agent in the sandbox
        // by its pid first (`kill_in_sandbox`), which ends the exec and its output.
    }
}
