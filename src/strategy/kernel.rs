//! One ipykernel seen from the harness: the launcher that keeps it (`kernel_launcher.py`, started
//! through the transport as an agent is), its connection file read from the directory shared
//! with the sandbox, and its channels over ZeroMQ IPC, spoken with the Jupyter protocol crates.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jupyter_zmq_client::{
    ClientControlConnection, ClientIoPubConnection, ClientShellConnection, ClientStdinConnection,
    ConnectionInfo, ExecuteRequest, ExecutionState, InputReply, InterruptRequest, JupyterMessage,
    JupyterMessageContent, KernelInfoRequest, ReplyStatus, Stdio,
};

use super::{Call, CallError, TIMEOUT_GRACE};
use crate::agent::{AgentOptions, AgentProcess, CodeError, Reply};
use crate::transport::{SharedDir, Transport};

/// The launcher's source, sent with `python3 -u -c` as the agent's is.
pub const LAUNCHER: &str = include_str!("kernel_launcher.py");

/// The expression that answers a call, evaluated in the same `execute_request` once the code
/// ran: `repr(result)`, taken out of the kernel's namespace so the next call cannot see a stale
/// one, as JSON so the text comes back whatever IPython's display does to a string.
const ANSWER: &str = "__import__('json').dumps(repr(get_ipython().user_ns.pop('result')))";

/// Output kept per stream and call, as the agent keeps (`OUTPUT_CAP` in agent.py).
const OUTPUT_CAP: usize = 1 << 20;

/// After the reply, how long the kernel's last output (its `idle` status) may lag.
const IDLE_LAG: Duration = Duration::from_secs(1);

/// How often a waiting call checks that the kernel's launcher is still there.
const TICK: Duration = Duration::from_millis(100);

/// Why an `execute_request` brought no reply.
pub enum Failure {
    /// Past the time limit; `stopped`: the interrupt stopped the code and the kernel answered.
    Timeout { stopped: bool },
    /// The kernel or its launcher is gone, or the channels failed.
    Lost(CallError),
}

/// A running kernel and the harness's end of its channels.
pub struct Kernel {
    launcher: AgentProcess,
    /// The kernel's pid, as its sandbox sees it.
    pub pid: u32,
    pub python: String,
    /// Where the launcher writes its files, as the host sees it (`STEM.json`, `STEM-ipc-N`).
    host_stem: PathBuf,
    shell: ClientShellConnection,
    iopub: ClientIoPubConnection,
    control: ClientControlConnection,
    stdin: ClientStdinConnection,
}

impl Kernel {
    /// Starts a kernel through `transport` with its files in `dir`, and connects to it once it
    /// answers on every channel (by `deadline`). The channels run on `runtime`; the transport
    /// is used outside it (the `api` transport drives a runtime of its own).
    pub fn start(
        transport: &dyn Transport,
        dir: &SharedDir,
        signed: bool,
        options: &AgentOptions,
        deadline: Instant,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<Kernel, CallError> {
        let name = stem_name();
        let mut args = vec![
            "-u".to_string(),
            "-c".into(),
            LAUNCHER.into(),
            format!("{}/{name}", dir.sandbox),
        ];
        if !signed {
            args.push("--unsigned".into());
        }
        if !options.preload.is_empty() {
            args.push("--preload".into());
            args.push(options.preload.join(","));
        }
        let host_stem = dir.host.join(&name);
        let started = transport.start(transport.python(), &args);
        let mut launcher = AgentProcess::start(started, options.wait)?;
        let ready = launcher.handshake(deadline)?.clone();
        let file = host_stem.with_extension("json");
        let text = std::fs::read_to_string(&file).map_err(|e| {
            CallError::Spawn(format!(
                "cannot read the connection file {}: {e}",
                file.display()
            ))
        })?;
        let mut info: ConnectionInfo = serde_json::from_str(&text)
            .map_err(|e| CallError::Protocol(format!("connection file {}: {e}", file.display())))?;
        // The same sockets, as the host sees them.
        info.ip = format!("{}-ipc", host_stem.display());
        let channels = runtime
            .block_on(async { tokio::time::timeout_at(deadline.into(), connect(&info)).await });
        let (shell, iopub, control, stdin) = match channels {
            Ok(Ok(channels)) => channels,
            Ok(Err(e)) => return Err(CallError::Spawn(format!("kernel channels: {e}"))),
            Err(_) => return Err(CallError::Timeout),
        };
        Ok(Kernel {
            launcher,
            pid: ready.pid,
            python: ready.python,
            host_stem,
            shell,
            iopub,
            control,
            stdin,
        })
    }

    /// Whether the kernel's launcher is known to be gone (it leaves when the kernel does).
    pub fn gone(&mut self) -> bool {
        self.launcher.gone()
    }

    /// Runs one call as one `execute_request`: its output, its error, its answer.
    pub async fn execute(&mut self, call: &Call<'_>) -> Result<Reply, Failure> {
        let lost =
            |e: jupyter_zmq_client::RuntimeError| Failure::Lost(CallError::Protocol(e.to_string()));
        let request: JupyterMessage = ExecuteRequest {
            code: call.code.to_string(),
            silent: false,
            store_history: false,
            user_expressions: Some(HashMap::from([("r".to_string(), ANSWER.to_string())])),
            allow_stdin: call.stdin.is_some(),
            stop_on_error: false,
        }
        .into();
        let id = request.header.msg_id.clone();
        let mut input = call.stdin.unwrap_or("").lines();
        let limit = Instant::now() + call.timeout;
        self.shell.send(request).await.map_err(lost)?;
        let mut out = Streams::default();
        let mut reply: Option<(JupyterMessage, Instant)> = None;
        let mut idle = false;
        let mut interrupted: Option<Instant> = None;
        while !(idle && reply.is_some()) {
            let now = Instant::now();
            let until = match (interrupted, &reply) {
                (Some(at), _) => at + TIMEOUT_GRACE,
                (None, Some((_, at))) => *at + IDLE_LAG,
                (None, None) => limit,
            };
            let event = tokio::select! {
                m = self.shell.read() => Event::Shell(m),
                m = self.iopub.read() => Event::IoPub(m),
                m = self.stdin.read() => Event::Stdin(m),
                _ = tokio::time::sleep_until(until.min(now + TICK).into()) => Event::Tick,
            };
            match event {
                Event::Shell(m) => {
                    let m = m.map_err(lost)?;
                    if child_of(&m, &id)
                        && matches!(m.content, JupyterMessageContent::ExecuteReply(_))
                    {
                        reply = Some((m, Instant::now()));
                    }
                }
                Event::IoPub(m) => {
                    let m = m.map_err(lost)?;
                    if child_of(&m, &id) {
                        match &m.content {
                            JupyterMessageContent::StreamContent(s) => {
                                out.push(s.name.clone(), &s.text)
                            }
                            JupyterMessageContent::Status(s) => {
                                idle |= s.execution_state == ExecutionState::Idle
                            }
                            _ => {}
                        }
                    }
                }
                Event::Stdin(m) => {
                    let m = m.map_err(lost)?;
                    if let JupyterMessageContent::InputRequest(_) = m.content {
                        // Line by line, as `input()` reads the agent's stdin; "\x04" is
                        // ipykernel's end of input (EOFError), once the lines are used up.
                        let value = input.next().unwrap_or("\u{4}").to_string();
                        let answer = InputReply {
                            value,
                            ..Default::default()
                        }
                        .as_child_of(&m);
                        self.stdin.send(answer).await.map_err(lost)?;
                    }
                }
                Event::Tick => {
                    let now = Instant::now();
                    if self.launcher.gone() {
                        return Err(Failure::Lost(CallError::AgentDied(
                            "the kernel exited".into(),
                        )));
                    }
                    match (interrupted, &reply) {
                        (Some(at), None) if now >= at + TIMEOUT_GRACE => {
                            return Err(Failure::Timeout { stopped: false });
                        }
                        (None, None) if now >= limit => {
                            let interrupt: JupyterMessage = InterruptRequest {}.into();
                            self.control.send(interrupt).await.map_err(lost)?;
                            interrupted = Some(now);
                        }
                        // The reply came but its idle status was lost (a flooded IOPub drops).
                        (_, Some((_, at))) if now >= *at + IDLE_LAG => break,
                        _ => {}
                    }
                }
            }
        }
        if interrupted.is_some() {
            return Err(Failure::Timeout { stopped: true });
        }
        let (message, _) = reply.expect("the loop ends with a reply");
        Ok(out.reply(&message))
    }

    /// Ends the kernel: its launcher's input closes (it kills the kernel's process group and
    /// removes its files), then what is left in the sandbox is killed from inside and the
    /// files are removed from the host's side, for a launcher that was itself killed.
    pub fn end(self, transport: &dyn Transport, runtime: &tokio::runtime::Runtime) {
        let Kernel {
            launcher,
            pid,
            host_stem,
            shell,
            iopub,
            control,
            stdin,
            ..
        } = self;
        {
            // The sockets' tasks live on the runtime they were made on.
            let _inside = runtime.enter();
            drop((shell, iopub, control, stdin));
        }
        drop(launcher);
        transport.kill_in_sandbox(pid);
        let stem = host_stem.display().to_string();
        let mut files = vec![
            PathBuf::from(format!("{stem}.json")),
            PathBuf::from(format!("{stem}-ready")),
            PathBuf::from(format!("{stem}-ready.part")),
        ];
        files.extend((1..=5).map(|n| PathBuf::from(format!("{stem}-ipc-{n}"))));
        for file in files {
            let _ = std::fs::remove_file(file);
        }
        let _ = std::fs::remove_dir_all(format!("{stem}-home"));
    }
}

enum Event {
    Shell(jupyter_zmq_client::Result<JupyterMessage>),
    IoPub(jupyter_zmq_client::Result<JupyterMessage>),
    Stdin(jupyter_zmq_client::Result<JupyterMessage>),
    Tick,
}

/// A name no other kernel of this host uses: the harness's pid and a counter.
fn stem_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "kernel-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Connects the four channels the harness uses, then waits until the IOPub subscription is
/// live (ZeroMQ drops what a publisher sends before it): a `kernel_info_request` until its
/// status messages come through.
async fn connect(
    info: &ConnectionInfo,
) -> jupyter_zmq_client::Result<(
    ClientShellConnection,
    ClientIoPubConnection,
    ClientControlConnection,
    ClientStdinConnection,
)> {
    let session = format!("sandbox-bench-{:016x}", rand::random::<u64>());
    let identity = jupyter_zmq_client::peer_identity_for_session(&session)?;
    let mut iopub = jupyter_zmq_client::create_client_iopub_connection(info, "", &session).await?;
    let mut shell = jupyter_zmq_client::create_client_shell_connection_with_identity(
        info,
        &session,
        identity.clone(),
    )
    .await?;
    let stdin =
        jupyter_zmq_client::create_client_stdin_connection_with_identity(info, &session, identity)
            .await?;
    let control = jupyter_zmq_client::create_client_control_connection(info, &session).await?;
    loop {
        shell.send(KernelInfoRequest {}.into()).await?;
        if let Ok(message) = tokio::time::timeout(Duration::from_millis(200), iopub.read()).await {
            message?;
            break;
        }
    }
    Ok((shell, iopub, control, stdin))
}

fn child_of(message: &JupyterMessage, id: &str) -> bool {
    message
        .parent_header
        .as_ref()
        .is_some_and(|h| h.msg_id == id)
}

/// A call's stdout and stderr, each capped.
#[derive(Default)]
struct Streams {
    stdout: String,
    stderr: String,
    truncated: bool,
}

impl Streams {
    fn push(&mut self, name: Stdio, text: &str) {
        let to = match name {
            Stdio::Stdout => &mut self.stdout,
            Stdio::Stderr => &mut self.stderr,
        };
        let room = OUTPUT_CAP.saturating_sub(to.len());
        if text.len() <= room {
            to.push_str(text);
        } else {
            let mut cut = room;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            to.push_str(&text[..cut]);
            self.truncated = true;
        }
    }

    /// The agent's reply for an `execute_reply`: the error the code raised, or the answer.
    fn reply(self, message: &JupyterMessage) -> Reply {
        let JupyterMessageContent::ExecuteReply(content) = &message.content else {
            unreachable!("only an execute_reply is kept");
        };
        let error = match (&content.status, &content.error) {
            (ReplyStatus::Ok, _) => None,
            (_, Some(e)) => Some(CodeError {
                kind: e.ename.clone(),
                message: e.evalue.clone(),
                traceback: e.traceback.join("\n"),
            }),
            (status, None) => Some(CodeError {
                kind: format!("{status:?}"),
                message: "the kernel gave no error".into(),
                traceback: String::new(),
            }),
        };
        let result = match content.user_expressions.as_ref().and_then(|u| u.get("r")) {
            Some(jupyter_zmq_client::ExpressionResult::Ok { data, .. }) => {
                data.content.iter().find_map(|m| match m {
                    jupyter_zmq_client::MediaType::Plain(text) => answer_text(text),
                    _ => None,
                })
            }
            _ => None,
        };
        Reply {
            id: None,
            ok: error.is_none(),
            result,
            stdout: self.stdout,
            stderr: self.stderr,
            error,
            exec_ns: exec_ns(message),
            truncated: self.truncated,
            import_ns: 0,
        }
    }
}

/// The answer's text from what IPython displays of [`ANSWER`]: `repr()` of an ASCII JSON
/// string, whose only escapes are a backslash and the quote it is written in.
fn answer_text(plain: &str) -> Option<String> {
    let quote = plain.chars().next().filter(|q| *q == '\'' || *q == '"')?;
    let inner = plain.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut json = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        json.push(if c == '\\' { chars.next()? } else { c });
    }
    serde_json::from_str(&json).ok()
}

/// Time the kernel spent on the request: from when it started it (the reply's metadata) to
/// when it replied (the reply's date); 0 when it does not say.
fn exec_ns(message: &JupyterMessage) -> u64 {
    let started = message
        .metadata
        .get("started")
        .and_then(|s| s.as_str())
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    started.map_or(0, |s| {
        (message.header.date - s.with_timezone(&chrono::Utc))
            .num_nanoseconds()
            .map_or(0, |n| n.max(0) as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_read_back_from_its_display() {
        // What IPython shows of json.dumps(repr(x)), as the launcher test printed it.
        assert_eq!(answer_text(r#"'"2"'"#).as_deref(), Some("2"));
        assert_eq!(
            answer_text(r#"'"{\'a\': [1, 2]}"'"#).as_deref(),
            Some("{'a': [1, 2]}")
        );
        assert_eq!(
            answer_text(r#"'"\'line\\\\n \\u00e9\'"'"#).as_deref(),
            Some("'line\\n é'")
        );
        assert_eq!(answer_text("2"), None);
        assert_eq!(answer_text("'\"2'"), None);
    }

    #[test]
    fn output_is_capped_on_a_character_boundary() {
        let mut s = Streams::default();
        s.push(Stdio::Stdout, &"é".repeat(OUTPUT_CAP));
        s.push(Stdio::Stderr, "e");
        assert!(s.truncated && s.stdout.len() <= OUTPUT_CAP && s.stdout.len() > OUTPUT_CAP - 2);
        assert_eq!(s.stderr, "e");
    }
}
