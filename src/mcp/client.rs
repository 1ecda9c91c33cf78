//! The MCP client backend: one MCP session per executor, over stdio (the server started as a
//! child process) or streamable HTTP, with the official Rust SDK (`rmcp`). The cold start is the
//! server's start, `initialize` and `tools/list`; each call is one `tools/call`.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
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

use super::{Answer, McpServer, Target};
use crate::agent::{CodeError, Reply};
use crate::strategy::{Call, CallError, Executor, TIMEOUT_GRACE};

/// Lines of the server's stderr kept for error samples.
const STDERR_LINES: usize = 12;
/// How long `initialize` and `tools/list` may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit once its input is closed, before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(3);

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
        tail.0.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}

/// One live session.
struct Session {
    client: RunningService<RoleClient, ()>,
    /// The stdio server's process, owned here so it is stopped with the session.
    child: Mutex<Option<Child>>,
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

/// Runs calls as `tools/call` requests of one MCP session; a dead or stuck session is closed and
/// a new one started on the next call (counted as a restart).
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
        let session = Arc::new(runtime().block_on(connect(&self.server))?);
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Drops `session` if it is still the live one, and stops it in the background.
    fn discard(&self, session: Arc<Session>) {
        let mut slot = self.session.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &session)) {
            *slot = None;
            self.restarts.fetch_add(1, Ordering::Relaxed);
        }
        drop(slot);
        if let Ok(session) = Arc::try_unwrap(session) {
            runtime().block_on(session.close());
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
            runtime().block_on(session.close());
        }
    }
}

impl Executor for McpExecutor {
    fn call(&self, call: Call) -> Result<Reply, CallError> {
        let session = self.session()?;
        let code = match self.server.answer {
            Answer::Print if !session.serve => {
                // `globals().get`: code that sets no `result` answers None, as the agent does.
                format!("{}\nprint(repr(globals().get('result')))", call.code)
            }
            _ => call.code.to_string(),
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
            Ok(Ok(result)) => Ok(reply(&result, self.server.answer, session.serve)),
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

/// Starts a session: the server (stdio) or a connection (HTTP), `initialize`, then `tools/list`,
/// which must hold the tool with the code argument.
async fn connect(server: &McpServer) -> Result<Session, CallError> {
    let stderr = Arc::new(Mutex::new(Tail::default()));
    let (client, child) = match &server.target {
        Target::Stdio(argv) => {
            let mut command = Command::new(&argv[0]);
            command
                .args(&argv[1..])
                // What the server starts on the host is this run's (the leftover scan's mark).
                .env(crate::transport::RUN_MARK, crate::transport::run_mark())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            let mut child = command
                .spawn()
                .map_err(|e| CallError::Spawn(format!("cannot start '{}': {e}", argv[0])))?;
            let (Some(stdout), Some(stdin), Some(err)) =
                (child.stdout.take(), child.stdin.take(), child.stderr.take())
            else {
                return Err(CallError::Spawn("the server's pipes are missing".into()));
            };
            let tail = Arc::clone(&stderr);
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                    if tail.0.len() == STDERR_LINES {
                        tail.0.pop_front();
                    }
                    tail.0.push_back(line);
                }
            });
            let started = tokio::time::timeout(CONNECT_TIMEOUT, ().serve((stdout, stdin))).await;
            match started {
                Ok(Ok(client)) => (client, Some(child)),
                failed => {
                    let _ = child.kill().await;
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "no answer to initialize".into(),
                    };
                    return Err(CallError::Spawn(format!(
                        "MCP server '{}' did not start: {why}; stderr: {}",
                        server.name,
                        Tail::text(&stderr)
                    )));
                }
            }
        }
        Target::Http(url) => {
            let transport = StreamableHttpClientTransport::from_uri(url.as_str());
            match tokio::time::timeout(CONNECT_TIMEOUT, ().serve(transport)).await {
                Ok(Ok(client)) => (client, None),
                Ok(Err(e)) => {
                    return Err(CallError::Spawn(format!(
                        "cannot reach MCP server '{}' at {url}: {e}",
                        server.name
                    )));
                }
                Err(_) => {
                    return Err(CallError::Spawn(format!(
                        "MCP server '{}' at {url}: no answer to initialize",
                        server.name
                    )));
                }
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
        stderr,
        takes_input: false,
        serve,
    };
    let tools = match tokio::time::timeout(CONNECT_TIMEOUT, session.client.list_all_tools()).await {
        Ok(Ok(tools)) => tools,
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer".into(),
            };
            let stderr = session.stderr();
            session.close().await;
            return Err(CallError::Spawn(format!(
                "tools/list failed: {why}{stderr}"
            )));
        }
    };
    let Some(tool) = tools.iter().find(|t| t.name == server.tool) else {
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        session.close().await;
        return Err(CallError::Spawn(format!(
            "MCP server '{}' has no tool '{}' (it has: {})",
            server.name,
            server.tool,
            names.join(", ")
        )));
    };
    let properties = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object);
    if properties.is_some_and(|p| !p.contains_key(&server.code_arg)) {
        session.close().await;
        return Err(CallError::Spawn(format!(
            "tool '{}' takes no argument '{}'",
            server.tool, server.code_arg
        )));
    }
    let takes_input = properties.is_some_and(|p| p.contains_key("input"));
    Ok(Session {
        takes_input,
        ..session
    })
}

/// The tool's answer as a reply the runner checks: `isError` is a tool error; otherwise the
/// result is the text (`repr`) or the last line the code printed (`print`), or for `serve`
/// (`served`, sent the code as is in print mode) its answer's `result` and `stdout` fields.
pub(crate) fn reply(result: &CallToolResult, answer: Answer, served: bool) -> Reply {
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    let text = text.join("\n");
    let mut reply = Reply {
        id: None,
        ok: true,
        result: None,
        stdout: String::new(),
        stderr: String::new(),
        error: None,
        exec_ns: 0,
        truncated: false,
    };
    if result.is_error == Some(true) {
        reply.ok = false;
        reply.error = Some(CodeError {
            kind: "ToolError".into(),
            message: text.trim().to_string(),
            traceback: String::new(),
        });
        return reply;
    }
    // A JSON object answer (the original's shape; `serve` adds the agent's `exec_ns`).
    let object = result
        .structured_content
        .clone()
        .or_else(|| serde_json::from_str::<Value>(&text).ok())
        .filter(Value::is_object);
    reply.exec_ns = object
        .as_ref()
        .and_then(|o| o.get("exec_ns")?.as_u64())
        .unwrap_or(0);
    if let (Answer::Print, true, Some(object)) = (answer, served, object.as_ref()) {
        reply.stdout = stdout_field(object).unwrap_or_default();
        reply.result = object
            .get("result")
            .and_then(Value::as_str)
            .map(str::to_string);
        return reply;
    }
    match answer {
        Answer::Repr => reply.result = Some(text),
        Answer::Print => {
            let printed = object.as_ref().and_then(stdout_field).unwrap_or(text);
            // A server that says the result (`serve`: its `result` field) is taken at its word:
            // the last line printed may be output written after the appended print (raw
            // writes to fd 1), or the print may have printed nothing (`sys.stdout = None`).
            let said = object.as_ref().and_then(|o| o.get("result")?.as_str());
            if let Some(said) = said {
                let line = format!("{said}\n");
                reply.stdout = match printed.rfind(&line) {
                    Some(i) if i == 0 || printed[..i].ends_with('\n') => {
                        format!("{}{}", &printed[..i], &printed[i + line.len()..])
                    }
                    _ => printed.clone(),
                };
                reply.result = Some(said.to_string());
                return reply;
            }
            // The last line printed is the `print(repr(result))` this client appended: the
            // result, and not the code's own output, which is what comes before it.
            let body = printed.trim_end();
            let (own, last) = match body.rfind('\n') {
                Some(i) => (&body[..=i], &body[i + 1..]),
                None => ("", body),
            };
            reply.result = (!last.trim().is_empty()).then(|| last.to_string());
            reply.stdout = own.to_string();
        }
    }
    reply
}

/// The `stdout` field of a JSON object answer.
fn stdout_field(value: &Value) -> Option<String> {
    value.get("stdout")?.as_str().map(str::to_string)
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

    #[test]
    fn answers_are_read_by_mode() {
        let r = reply(&result("2", false), Answer::Repr, false);
        assert_eq!(r.result.as_deref(), Some("2"));
        let json = r#"{"status": "success", "stdout": "hello\n'ab'\n", "stderr": ""}"#;
        let r = reply(&result(json, false), Answer::Print, false);
        assert_eq!(r.result.as_deref(), Some("'ab'"));
        // What the code printed itself, without the line appended to print the result.
        assert_eq!(r.stdout, "hello\n");
        let r = reply(&result("45\n", false), Answer::Print, false);
        assert_eq!((r.result.as_deref(), r.stdout.as_str()), (Some("45"), ""));
        // serve says its result: raw writes after the appended print stay the code's output.
        let served =
            r#"{"status": "success", "stdout": "a\n'done'\nto fd 1\n", "result": "'done'"}"#;
        let r = reply(&result(served, false), Answer::Print, false);
        assert_eq!(
            (r.result.as_deref(), r.stdout.as_str()),
            (Some("'done'"), "a\nto fd 1\n")
        );
        assert_eq!(r.exec_ns, 0);
        let served = r#"{"status": "success", "stdout": "2\n", "exec_ns": 1234}"#;
        assert_eq!(
            reply(&result(served, false), Answer::Print, false).exec_ns,
            1234
        );
        let r = reply(&result("x\n42\n\n", false), Answer::Print, false);
        assert_eq!(r.result.as_deref(), Some("42"));
        let r = reply(&result("", false), Answer::Print, false);
        assert_eq!(r.result, None);
        // serve, sent the code as is: its fields are the answer, stdout untouched.
        let served = r#"{"status": "success", "stdout": "'done'\n", "result": "'done'"}"#;
        let r = reply(&result(served, false), Answer::Print, true);
        assert_eq!(
            (r.result.as_deref(), r.stdout.as_str()),
            (Some("'done'"), "'done'\n")
        );
        let served = r#"{"status": "success", "stdout": "", "result": null}"#;
        assert_eq!(
            reply(&result(served, false), Answer::Print, true).result,
            None
        );
        let r = reply(&result("Error: boom", true), Answer::Print, false);
        assert!(!r.ok);
        let e = r.error.unwrap();
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            ("ToolError", "Error: boom")
        );
    }
}
