//! The MCP client backend: one MCP session per executor, over stdio (the server started as a
//! child process) or streamable HTTP, with the official Rust SDK (`rmcp`). The cold start is the
//! server's start, `initialize` and `tools/list`; each call is one `tools/call`.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use rmcp::service::{RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::leftovers::{self, Leftover};
use super::{Answer, JsonFields, McpServer, Target};
use crate::agent::{CodeError, Reply};
use crate::strategy::{Call, CallError, Executor, TIMEOUT_GRACE};

/// Lines of the server's stderr kept for error samples.
const STDERR_LINES: usize = 12;
/// How long `initialize` and `tools/list` may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit once its input is closed, before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(3);
/// Failed starts in a row after which a server is down for the rest of the run.
const MAX_FAILED_STARTS: u32 = 3;
/// How long what a server started may take to end after the server has exited.
const LEFTOVER_GRACE: Duration = Duration::from_secs(1);
/// The longest cause of a failed start kept.
const CAUSE_CHARS: usize = 160;

/// What the run learns of one server: whether it is down (and why), and what its sessions left
/// running on the host.
#[derive(Debug, Default)]
pub struct ServerState {
    failed_starts: AtomicU32,
    down: Mutex<Option<String>>,
    /// Each with the mark of the session that left it.
    leftovers: Mutex<Vec<(String, Leftover)>>,
}

impl ServerState {
    /// Why the server is down, when it is: it is no longer started.
    pub fn down(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The processes its sessions left running on the host, each once.
    pub fn leftovers(&self) -> Vec<Leftover> {
        let all = self.leftovers.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().map(|(_, l)| l.clone()).collect()
    }

    fn started(&self) {
        self.failed_starts.store(0, Ordering::Relaxed);
    }

    /// Counts a failed start: the server is down after one timeout at `initialize`, after
    /// `MAX_FAILED_STARTS` failures in a row, or at once when it lacks the tool.
    fn failed(&self, name: &str, error: StartError) -> CallError {
        let (cause, now_down) = match error {
            StartError::Declaration(message) => (message, true),
            StartError::Failed { cause, timed_out } => {
                let n = self.failed_starts.fetch_add(1, Ordering::Relaxed) + 1;
                (cause, timed_out || n >= MAX_FAILED_STARTS)
            }
        };
        if now_down {
            let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
            if down.is_none() {
                *down = Some(cause.clone());
            }
        }
        CallError::Spawn(format!("MCP server '{name}' did not start: {cause}"))
    }

    fn left(&self, mark: &str, found: Vec<Leftover>) {
        let mut all = self.leftovers.lock().unwrap_or_else(|e| e.into_inner());
        for l in found {
            if !all.iter().any(|(_, known)| known.pid == l.pid) {
                all.push((mark.to_string(), l));
            }
        }
    }
}

/// Why a session did not start.
#[derive(Debug)]
enum StartError {
    /// The server runs but lacks the tool or its argument: the declaration's mistake.
    Declaration(String),
    /// It did not start or answer; `timed_out` when it never answered `initialize`.
    Failed { cause: String, timed_out: bool },
}

/// The runtime every MCP session runs on. It has no thread of its own: the caller's thread
/// drives it for the length of each call (`block_on`), so writing the request, reading the
/// answer and handing it back happen on one thread, with no wake-up of another in between.
/// Between calls the sessions rest; several callers take turns driving it.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime starts")
    })
}

/// The last lines a server wrote on stderr.
#[derive(Default)]
struct Tail(VecDeque<String>);

impl Tail {
    fn text(tail: &Mutex<Tail>) -> String {
        let tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.0
            .iter()
            .filter(|l| !l.trim().is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// The line that says why the server failed: the last that reads like an error, else the
    /// last with words in it.
    fn cause(tail: &Mutex<Tail>) -> Option<String> {
        let tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&str> = tail
            .0
            .iter()
            .map(|l| l.trim_matches(|c: char| c.is_whitespace() || is_frame(c)))
            .filter(|l| l.chars().any(char::is_alphanumeric))
            .collect();
        const SAYS: [&str; 10] = [
            "error",
            "exception",
            "fatal",
            "not found",
            "no such",
            "denied",
            "cannot",
            "can't",
            "failed",
            "refused",
        ];
        let says_why = |l: &str| {
            let lower = l.to_lowercase();
            SAYS.iter().any(|w| lower.contains(w))
        };
        let line = lines.iter().rev().find(|l| says_why(l)).or(lines.last())?;
        Some(cut(line, CAUSE_CHARS))
    }

    fn push(tail: &Mutex<Tail>, line: &str) {
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.0.len() == STDERR_LINES {
            tail.0.pop_front();
        }
        tail.0.push_back(strip_ansi(line));
    }
}

/// Box-drawing and block characters that frame the lines of fancy tracebacks.
fn is_frame(c: char) -> bool {
    ('\u{2500}'..='\u{259F}').contains(&c)
}

/// `text` without terminal escape sequences (colours, cursor moves, titles) or other control
/// characters.
pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            if !c.is_control() || c == '\t' {
                out.push(c);
            }
            continue;
        }
        match chars.next() {
            // CSI: parameters, then one final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' {
                        let _ = chars.next_if_eq(&'\\');
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// `text` cut to `n` characters, with an ellipsis when cut.
fn cut(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// One live session.
struct Session {
    client: RunningService<RoleClient, ()>,
    /// The stdio server's process, owned here so it is stopped with the session.
    child: Mutex<Option<Child>>,
    /// The mark in the stdio server's environment, which what it starts inherits.
    mark: Option<String>,
    stderr: Arc<Mutex<Tail>>,
    takes_input: bool,
    /// The server is this project's `serve` (it names itself `sandbox-bench`), whose answer
    /// carries the agent's `result`: the code goes as is, with no print appended, so the MCP
    /// layer is measured on the very code the executor rows run.
    serve: bool,
}

impl Session {
    fn stderr(&self) -> String {
        let text = Tail::text(&self.stderr);
        if text.is_empty() {
            String::new()
        } else {
            format!("; server stderr: {text}")
        }
    }

    /// Closes the session and stops a stdio server: its input closes, so it can exit on its
    /// own and stop what it started; if it has not within a grace period, SIGTERM asks it to,
    /// and after another it is killed.
    async fn close(self) {
        let _ = self.client.cancel().await;
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut child) = child else {
            return;
        };
        if tokio::time::timeout(EXIT_GRACE, child.wait()).await.is_ok() {
            return;
        }
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(EXIT_GRACE, child.wait()).await.is_ok() {
                return;
            }
        }
        let _ = child.kill().await;
    }
}

/// Closes `session`, then looks for what its server left running on the host.
fn finish(server: &McpServer, session: Session) {
    let mark = session.mark.clone();
    runtime().block_on(session.close());
    if let Some(mark) = mark {
        let found = leftovers::find(&mark, LEFTOVER_GRACE);
        server.state.left(&mark, found);
    }
}

/// Runs calls as `tools/call` requests of one MCP session; a dead or stuck session is closed and
/// a new one started on the next call (counted as a restart). A server that cannot be started
/// is down (`ServerState`): its calls then fail at once, with the cause.
pub struct McpExecutor {
    server: Arc<McpServer>,
    session: Mutex<Option<Arc<Session>>>,
    restarts: AtomicU32,
}

impl McpExecutor {
    pub fn new(server: Arc<McpServer>) -> Self {
        McpExecutor {
            server,
            session: Mutex::new(None),
            restarts: AtomicU32::new(0),
        }
    }

    /// The live session, started (initialize, tools/list) if there is none.
    fn session(&self) -> Result<Arc<Session>, CallError> {
        let mut slot = self.session.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(session) = slot.as_ref() {
            return Ok(Arc::clone(session));
        }
        let state = &self.server.state;
        if let Some(cause) = state.down() {
            return Err(CallError::Spawn(format!(
                "MCP server '{}' is down: {cause}",
                self.server.name
            )));
        }
        let session = match runtime().block_on(connect(&self.server)) {
            Ok(session) => Arc::new(session),
            Err(e) => return Err(state.failed(&self.server.name, e)),
        };
        state.started();
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Drops `session` if it is still the live one, and stops it.
    fn discard(&self, session: Arc<Session>) {
        let mut slot = self.session.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &session)) {
            *slot = None;
            self.restarts.fetch_add(1, Ordering::Relaxed);
        }
        drop(slot);
        if let Ok(session) = Arc::try_unwrap(session) {
            finish(&self.server, session);
        }
    }
}

impl Drop for McpExecutor {
    fn drop(&mut self) {
        let session = self
            .session
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(session) = session.and_then(|s| Arc::try_unwrap(s).ok()) {
            finish(&self.server, session);
        }
    }
}

impl Executor for McpExecutor {
    fn call(&self, call: Call) -> Result<Reply, CallError> {
        let session = self.session()?;
        let code = if self.server.answer.appends_print() && !session.serve {
            // `globals().get`: code that sets no `result` answers None, as the agent does.
            format!("{}\nprint(repr(globals().get('result')))", call.code)
        } else {
            call.code.to_string()
        };
        let mut arguments = JsonObject::new();
        arguments.insert(self.server.code_arg.clone(), Value::String(code));
        if let Some(stdin) = call.stdin {
            if !session.takes_input {
                return Err(CallError::Protocol(format!(
                    "the case gives stdin but tool '{}' has no `input` argument",
                    self.server.tool
                )));
            }
            arguments.insert("input".into(), Value::String(stdin.to_string()));
        }
        let params = CallToolRequestParams::new(self.server.tool.clone()).with_arguments(arguments);
        let limit = call.timeout + TIMEOUT_GRACE;
        let outcome = runtime().block_on(async {
            tokio::time::timeout(limit, session.client.call_tool(params)).await
        });
        match outcome {
            Ok(Ok(result)) => reply(&result, &self.server.answer, session.serve),
            // The server answered with a JSON-RPC error: the session is still good.
            Ok(Err(ServiceError::McpError(e))) => {
                Err(CallError::Rpc(format!("{}: {}", e.code.0, e.message)))
            }
            Ok(Err(e)) => {
                let stderr = session.stderr();
                let status = runtime().block_on(exit_status(&session));
                self.discard(session);
                Err(CallError::AgentDied(format!(
                    "the MCP server is gone ({e}{status}){stderr}"
                )))
            }
            Err(_) => {
                // A server that let a call run past its limit is stopped, not trusted again.
                self.discard(session);
                Err(CallError::Timeout)
            }
        }
    }

    fn python_version(&self) -> Option<String> {
        None
    }

    fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    fn start_all(&self, _timeout: Duration) -> Result<(), CallError> {
        self.session().map(|_| ())
    }
}

/// Starts a session of each server once, before anything is measured: a server that runs but
/// lacks its tool or code argument is the declaration's mistake, returned as one line; one that
/// does not start counts a failed start (`notice` says why) and the run goes on without it
/// once it is down.
pub fn check_servers(servers: &[Arc<McpServer>], notice: &dyn Fn(&str)) -> Result<(), String> {
    for server in servers {
        match runtime().block_on(connect(server)) {
            Ok(session) => {
                server.state.started();
                finish(server, session);
            }
            Err(StartError::Declaration(message)) => return Err(message),
            Err(e) => {
                let error = server.state.failed(&server.name, e);
                let down = if server.state.down().is_some() {
                    " (down for this run)"
                } else {
                    ""
                };
                notice(&format!("{}{down}", strip_kind(&error)));
            }
        }
    }
    Ok(())
}

/// A start error's message without the generic prefix of its kind.
fn strip_kind(error: &CallError) -> String {
    match error {
        CallError::Spawn(m) => m.clone(),
        other => other.to_string(),
    }
}

/// The end of the run: stops what each server left running on the host, unless it was asked
/// to keep it.
pub fn end_of_run(servers: &[Arc<McpServer>]) {
    for server in servers.iter().filter(|s| s.keep_leftovers) {
        // The host sweep after a run kills what is left below the harness: not these.
        for l in server.state.leftovers() {
            crate::transport::spare(l.pid);
        }
    }
    for server in servers.iter().filter(|s| !s.keep_leftovers) {
        let all = server
            .state
            .leftovers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut marks: Vec<&String> = all.iter().map(|(m, _)| m).collect();
        marks.sort();
        marks.dedup();
        for mark in marks {
            let of_mark: Vec<Leftover> = all
                .iter()
                .filter(|(m, _)| m == mark)
                .map(|(_, l)| l.clone())
                .collect();
            leftovers::kill(mark, &of_mark);
        }
    }
}

/// The stdio server's exit status, when it has exited (waiting a moment for it to finish).
async fn exit_status(session: &Session) -> String {
    let mut child = session
        .child
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let status = match child.as_mut() {
        Some(c) => tokio::time::timeout(Duration::from_millis(500), c.wait())
            .await
            .ok()
            .and_then(Result::ok),
        None => None,
    };
    *session.child.lock().unwrap_or_else(|e| e.into_inner()) = child;
    status.map_or(String::new(), |s| format!("; {s}"))
}

/// A unique mark for each session's processes.
fn new_mark(server: &McpServer) -> String {
    static SESSIONS: AtomicU64 = AtomicU64::new(0);
    let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
    format!("{}:{}:{n}", std::process::id(), server.name)
}

/// Why a stdio server that failed to start did: its exit status, and the line of its stderr
/// that says why.
async fn start_failure(
    mut child: Child,
    reader: JoinHandle<()>,
    stderr: &Mutex<Tail>,
    why: String,
) -> String {
    let status = match tokio::time::timeout(Duration::from_millis(500), child.wait()).await {
        Ok(Ok(status)) => Some(status),
        _ => {
            let _ = child.kill().await;
            None
        }
    };
    // Its stderr up to the end, so the last line is in.
    let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
    let said = Tail::cause(stderr);
    match (status, said) {
        (Some(status), Some(said)) => format!("it exited at start ({status}): {said}"),
        (Some(status), None) => format!("it exited at start ({status}), saying nothing"),
        (None, Some(said)) => format!("{why}: {said}"),
        (None, None) => why,
    }
}

/// Starts a session: the server (stdio) or a connection (HTTP), `initialize`, then `tools/list`,
/// which must hold the tool with the code argument.
async fn connect(server: &McpServer) -> Result<Session, StartError> {
    let stderr = Arc::new(Mutex::new(Tail::default()));
    let failed = |cause: String, timed_out: bool| StartError::Failed { cause, timed_out };
    let timeout_words = format!(
        "no answer to initialize within {}s",
        CONNECT_TIMEOUT.as_secs()
    );
    let (client, child, mark) = match &server.target {
        Target::Stdio(argv) => {
            // What the server orphans comes back to the harness, to be found and reaped.
            crate::transport::become_subreaper();
            let mark = new_mark(server);
            let mut command = Command::new(&argv[0]);
            command
                .args(&argv[1..])
                .env(leftovers::MARK, &mark)
                // What the server starts on the host is this run's (the leftover scan's mark).
                .env(crate::transport::RUN_MARK, crate::transport::run_mark())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            let mut child = command
                .spawn()
                .map_err(|e| failed(format!("cannot run '{}': {e}", argv[0]), false))?;
            let (Some(stdout), Some(stdin), Some(err)) =
                (child.stdout.take(), child.stdin.take(), child.stderr.take())
            else {
                return Err(failed("the server's pipes are missing".into(), false));
            };
            let tail = Arc::clone(&stderr);
            let reader = tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    Tail::push(&tail, &line);
                }
            });
            let started = tokio::time::timeout(CONNECT_TIMEOUT, ().serve((stdout, stdin))).await;
            match started {
                Ok(Ok(client)) => (client, Some(child), Some(mark)),
                Ok(Err(e)) => {
                    let cause = start_failure(child, reader, &stderr, e.to_string()).await;
                    return Err(failed(cause, false));
                }
                Err(_) => {
                    let _ = child.kill().await;
                    let said = Tail::cause(&stderr)
                        .map_or(String::new(), |said| format!(" (stderr: {said})"));
                    return Err(failed(format!("{timeout_words}{said}"), true));
                }
            }
        }
        Target::Http(url) => {
            let transport = StreamableHttpClientTransport::from_uri(url.as_str());
            match tokio::time::timeout(CONNECT_TIMEOUT, ().serve(transport)).await {
                Ok(Ok(client)) => (client, None, None),
                Ok(Err(e)) => {
                    let e = cut(&strip_ansi(&e.to_string()), CAUSE_CHARS);
                    return Err(failed(format!("cannot reach {url}: {e}"), false));
                }
                Err(_) => return Err(failed(format!("{url}: {timeout_words}"), true)),
            }
        }
    };
    let serve = client.peer_info().is_some_and(|info| {
        info.server_info
            .as_ref()
            .is_some_and(|server| server.name == super::SERVER_NAME)
    });
    let session = Session {
        client,
        child: Mutex::new(child),
        mark,
        stderr,
        takes_input: false,
        serve,
    };
    let tools = match tokio::time::timeout(CONNECT_TIMEOUT, session.client.list_all_tools()).await {
        Ok(Ok(tools)) => tools,
        listed => {
            let timed_out = listed.is_err();
            let why = match listed {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer".into(),
            };
            let said = Tail::cause(&session.stderr)
                .map_or(String::new(), |said| format!(" (stderr: {said})"));
            session.close().await;
            return Err(failed(format!("tools/list failed: {why}{said}"), timed_out));
        }
    };
    let Some(tool) = tools.iter().find(|t| t.name == server.tool) else {
        let names: Vec<String> = tools.iter().map(|t| quoted(&t.name)).collect();
        session.close().await;
        return Err(StartError::Declaration(format!(
            "MCP server '{}' has no tool {} (it has: {}): name its tool with --mcp-tool {}=TOOL",
            server.name,
            quoted(&server.tool),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
            server.name
        )));
    };
    let properties = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object);
    if let Some(p) = properties
        && !p.contains_key(&server.code_arg)
    {
        let mut names: Vec<String> = p.keys().map(|k| quoted(k)).collect();
        names.sort();
        session.close().await;
        return Err(StartError::Declaration(format!(
            "tool {} of MCP server '{}' takes no argument {} (it takes: {}): name it with \
             --mcp-code-arg {}=ARG",
            quoted(&server.tool),
            server.name,
            quoted(&server.code_arg),
            names.join(", "),
            server.name
        )));
    }
    let takes_input = properties.is_some_and(|p| p.contains_key("input"));
    Ok(Session {
        takes_input,
        ..session
    })
}

/// A name from a server, quoted with what could hide or fake text escaped.
fn quoted(name: &str) -> String {
    crate::agent::quoted(&cut(name, 60))
}

/// The tool's answer as a reply the runner checks. `isError` is a tool error. `serve` (known by
/// its name at `initialize`, sent the code as is) is read by its `result`, `stdout` and
/// `exec_ns` fields. Any other server's answer is its text content: `repr` takes it as the
/// result, `print` takes its last line (from the `stdout` field when the text is a JSON object
/// with one), `json` reads the object's fields. A `structuredContent` of the SDK's shape
/// `{"result": text}` is that same text again, never an answer of its own.
pub(crate) fn reply(
    result: &CallToolResult,
    answer: &Answer,
    served: bool,
) -> Result<Reply, CallError> {
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    let mut text = text.join("\n");
    let structured = result.structured_content.as_ref().filter(|v| v.is_object());
    let wrapped = structured.and_then(sdk_wrapped);
    if text.is_empty()
        && let Some(same) = wrapped
    {
        text = same.to_string();
    }
    // An object that is more than the SDK's wrapping of the text.
    let structured = structured.filter(|_| wrapped.is_none());
    let object = || {
        structured
            .cloned()
            .or_else(|| serde_json::from_str::<Value>(&text).ok())
            .filter(Value::is_object)
    };
    let mut reply = Reply {
        id: None,
        ok: true,
        result: None,
        stdout: String::new(),
        stderr: String::new(),
        error: None,
        exec_ns: 0,
        import_ns: 0,
        truncated: false,
    };
    if result.is_error == Some(true) {
        return Ok(tool_error(reply, text.trim()));
    }
    if served {
        // `serve`'s own object, in its structured content or as its text.
        let object = result
            .structured_content
            .clone()
            .or_else(|| serde_json::from_str::<Value>(&text).ok())
            .filter(Value::is_object)
            .unwrap_or_default();
        reply.exec_ns = object.get("exec_ns").and_then(Value::as_u64).unwrap_or(0);
        reply.stdout = string_field(&object, "stdout").unwrap_or_default();
        reply.result = string_field(&object, "result");
        return Ok(reply);
    }
    match answer {
        Answer::Repr => reply.result = Some(text),
        Answer::Print => {
            let printed = object()
                .and_then(|o| string_field(&o, "stdout"))
                .unwrap_or(text);
            if let Some(raised) = raised(&printed) {
                return Ok(tool_error(reply, &raised));
            }
            last_line(&mut reply, &printed);
        }
        Answer::Json(fields) => {
            let Some(object) = object() else {
                return Err(CallError::Protocol(format!(
                    "the answer is not a JSON object: {}",
                    crate::agent::quoted(&cut(&text, 120))
                )));
            };
            let printed = string_field(&object, &fields.stdout).unwrap_or_default();
            if let Some(why) = json_failure(&object, fields, &printed) {
                return Ok(tool_error(reply, &why));
            }
            last_line(&mut reply, &printed);
        }
    }
    Ok(reply)
}

/// The exception a printed answer ends with: a Python traceback whose last line names an
/// exception means the code raised (the appended print never ran), though the server said
/// `isError: false`.
fn raised(printed: &str) -> Option<String> {
    const KINDS: [&str; 5] = ["Error", "Exception", "Exit", "Interrupt", "Warning"];
    let body = printed.trim_end();
    let start = body.rfind("Traceback (most recent call last):")?;
    let last = body[start..].lines().last()?.trim();
    let name = last.split(':').next()?.trim();
    let exception = name.chars().next()?.is_alphabetic()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && KINDS.iter().any(|k| name.ends_with(k));
    exception.then(|| cut(last, 200))
}

/// The text of the Python SDK's structured output for a tool that returns a string:
/// `{"result": "<the text>"}`.
fn sdk_wrapped(value: &Value) -> Option<&str> {
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object.get("result")?.as_str()
}

/// Why a JSON answer is a failure: an exit status other than 0 (or `false`, or a status word
/// other than success/ok), or an error.
fn json_failure(object: &Value, fields: &JsonFields, printed: &str) -> Option<String> {
    let status = object.get(&fields.status).filter(|v| match v {
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Bool(b) => !b,
        Value::String(s) => !["success", "ok", "0", ""].contains(&s.trim().to_lowercase().as_str()),
        _ => false,
    });
    let error = object.get(&fields.error).filter(|v| match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    });
    if status.is_none() && error.is_none() {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(s) = status {
        parts.push(format!("{} {s}", fields.status));
    }
    let said = match error {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => printed.to_string(),
    };
    let said = said.trim();
    if !said.is_empty() {
        // The end of a traceback is the line that says what was raised.
        let line = said
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or(said);
        parts.push(cut(line.trim(), 200));
    }
    Some(parts.join(": "))
}

/// A failed reply: the tool said the call failed.
fn tool_error(mut reply: Reply, message: &str) -> Reply {
    reply.ok = false;
    reply.error = Some(CodeError {
        kind: "ToolError".into(),
        message: message.to_string(),
        traceback: String::new(),
    });
    reply
}

/// Reads what the code printed: the last line is the `print(repr(result))` this client
/// appended, the result; what comes before it is the code's own output.
fn last_line(reply: &mut Reply, printed: &str) {
    let body = printed.trim_end();
    let (own, last) = match body.rfind('\n') {
        Some(i) => (&body[..=i], &body[i + 1..]),
        None => ("", body),
    };
    reply.result = (!last.trim().is_empty()).then(|| last.to_string());
    reply.stdout = own.to_string();
}

/// A string field of a JSON object.
fn string_field(value: &Value, field: &str) -> Option<String> {
    value.get(field)?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ContentBlock;

    fn result(text: &str, is_error: bool) -> CallToolResult {
        let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
        r.is_error = Some(is_error);
        r
    }

    fn read(r: &CallToolResult, answer: &Answer, served: bool) -> Reply {
        reply(r, answer, served).unwrap()
    }

    #[test]
    fn answers_are_read_by_mode() {
        let r = read(&result("2", false), &Answer::Repr, false);
        assert_eq!(r.result.as_deref(), Some("2"));
        let json = r#"{"status": "success", "stdout": "hello\n'ab'\n", "stderr": ""}"#;
        let r = read(&result(json, false), &Answer::Print, false);
        assert_eq!(r.result.as_deref(), Some("'ab'"));
        // What the code printed itself, without the line appended to print the result.
        assert_eq!(r.stdout, "hello\n");
        let r = read(&result("45\n", false), &Answer::Print, false);
        assert_eq!((r.result.as_deref(), r.stdout.as_str()), (Some("45"), ""));
        let r = read(&result("x\n42\n\n", false), &Answer::Print, false);
        assert_eq!(r.result.as_deref(), Some("42"));
        let r = read(&result("", false), &Answer::Print, false);
        assert_eq!(r.result, None);
        let r = read(&result("Error: boom", true), &Answer::Print, false);
        assert!(!r.ok);
        let e = r.error.unwrap();
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            ("ToolError", "Error: boom")
        );
    }

    #[test]
    fn only_serve_is_taken_at_its_result_field() {
        // serve, sent the code as is: its fields are the answer, stdout untouched.
        let served =
            r#"{"status": "success", "stdout": "'done'\n", "result": "'done'", "exec_ns": 1234}"#;
        let r = read(&result(served, false), &Answer::Print, true);
        assert_eq!(
            (r.result.as_deref(), r.stdout.as_str(), r.exec_ns),
            (Some("'done'"), "'done'\n", 1234)
        );
        let served = r#"{"status": "success", "stdout": "", "result": null}"#;
        assert_eq!(
            read(&result(served, false), &Answer::Print, true).result,
            None
        );
        // Another server's `result` field is not its answer: the last line printed is.
        let other = r#"{"stdout": "a\n'done'\n", "result": "Execution done"}"#;
        let r = read(&result(other, false), &Answer::Print, false);
        assert_eq!(
            (r.result.as_deref(), r.stdout.as_str()),
            (Some("'done'"), "a\n")
        );
    }

    #[test]
    fn the_sdks_structured_result_is_the_text_again() {
        // FastMCP / MCPServer with structured output on: text content plus {"result": text}.
        let text = "Execution in session 7\n--- Output ---\n2";
        let mut r = result(text, false);
        r.structured_content = Some(serde_json::json!({ "result": text }));
        for answer in [Answer::Print, Answer::Repr] {
            let got = read(&r, &answer, false);
            let want = if answer == Answer::Print { "2" } else { text };
            assert_eq!(got.result.as_deref(), Some(want), "{answer:?}");
        }
        // Structured output alone still carries the text.
        let mut only = CallToolResult::success(vec![]);
        only.structured_content = Some(serde_json::json!({ "result": "x\n42\n" }));
        assert_eq!(
            read(&only, &Answer::Print, false).result.as_deref(),
            Some("42")
        );
        // A dict tool's object (the reproduction) is read from its stdout field.
        let mut dict = result(r#"{"status": "success", "stdout": "5\n"}"#, false);
        dict.structured_content = Some(serde_json::json!({"status": "success", "stdout": "5\n"}));
        assert_eq!(
            read(&dict, &Answer::Print, false).result.as_deref(),
            Some("5")
        );
    }

    #[test]
    fn a_json_answer_carries_its_failure() {
        let json = Answer::parse("json:stdout=out,status=exit_code,error=err").unwrap();
        let ok = r#"{"out": "hi\n2\n", "exit_code": 0, "err": ""}"#;
        let r = read(&result(ok, false), &json, false);
        assert_eq!(
            (r.ok, r.result.as_deref(), r.stdout.as_str()),
            (true, Some("2"), "hi\n")
        );
        let denied = r#"{"out": "sh: permission denied", "exit_code": 126, "err": null}"#;
        let r = read(&result(denied, false), &json, false);
        let e = r.error.unwrap();
        assert_eq!(e.kind, "ToolError");
        assert_eq!(e.message, "exit_code 126: sh: permission denied");
        let raised = r#"{"out": "", "exit_code": 0, "err": "Traceback (most recent call last):\n  File x\nZeroDivisionError: division by zero\n"}"#;
        let e = read(&result(raised, false), &json, false).error.unwrap();
        assert_eq!(e.message, "ZeroDivisionError: division by zero");
        let word = Answer::parse("json:status=status").unwrap();
        let failed = r#"{"stdout": "", "status": "error", "error": "boom"}"#;
        let e = read(&result(failed, false), &word, false).error.unwrap();
        assert_eq!(e.message, "status \"error\": boom");
        let fine = r#"{"stdout": "None\n", "status": "success"}"#;
        assert!(read(&result(fine, false), &word, false).ok);
        let e = reply(&result("plain text", false), &json, false).unwrap_err();
        assert!(e.to_string().contains("not a JSON object"), "{e}");
    }

    #[test]
    fn a_traceback_in_a_printed_answer_is_a_tool_error() {
        let text = "Execution in session 3\n--- Output ---\nhi\nTraceback (most recent call \
                    last):\n  File \"<code>\", line 1, in <module>\nZeroDivisionError: \
                    division by zero\n";
        let r = read(&result(text, false), &Answer::Print, false);
        let e = r.error.unwrap();
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            ("ToolError", "ZeroDivisionError: division by zero")
        );
        // A traceback the code printed and got past: the result printed after it counts.
        for result_line in ["None", "42", "'ValueError: x'"] {
            let text = format!(
                "Traceback (most recent call last):\n  File x\nValueError: x\n{result_line}\n"
            );
            let r = read(&result(&text, false), &Answer::Print, false);
            assert_eq!(r.result.as_deref(), Some(result_line), "{text}");
        }
    }

    #[test]
    fn stderr_gives_one_clean_line_that_says_why() {
        let tail = Mutex::new(Tail::default());
        for line in [
            "\u{1b}[31mStarting server\u{1b}[0m",
            "Traceback (most recent call last):",
            "  File \"server.py\", line 3, in <module>",
            "\u{1b}[1;31mModuleNotFoundError\u{1b}[0m: No module named 'kernel'",
            "\u{1b}]0;title\u{7}╰──────────────╯",
            "",
        ] {
            Tail::push(&tail, line);
        }
        assert_eq!(
            Tail::cause(&tail).as_deref(),
            Some("ModuleNotFoundError: No module named 'kernel'")
        );
        assert!(!Tail::text(&tail).contains('\u{1b}'));
        let quiet = Mutex::new(Tail::default());
        Tail::push(&quiet, "listening on stdio");
        assert_eq!(Tail::cause(&quiet).as_deref(), Some("listening on stdio"));
        assert_eq!(Tail::cause(&Mutex::new(Tail::default())), None);
    }

    #[test]
    fn a_server_is_down_after_a_timeout_or_a_few_failed_starts() {
        let state = ServerState::default();
        let fail = || StartError::Failed {
            cause: "it exited at start (exit status: 1): boom".into(),
            timed_out: false,
        };
        for _ in 1..MAX_FAILED_STARTS {
            state.failed("s", fail());
            assert_eq!(state.down(), None);
        }
        state.started();
        state.failed("s", fail());
        assert_eq!(state.down(), None, "a start in between resets the count");
        for _ in 1..MAX_FAILED_STARTS {
            state.failed("s", fail());
        }
        assert_eq!(
            state.down().as_deref(),
            Some("it exited at start (exit status: 1): boom")
        );
        let hung = ServerState::default();
        let e = hung.failed(
            "h",
            StartError::Failed {
                cause: "no answer to initialize within 60s".into(),
                timed_out: true,
            },
        );
        assert!(
            e.to_string().contains("MCP server 'h' did not start"),
            "{e}"
        );
        assert!(hung.down().is_some());
    }
}
