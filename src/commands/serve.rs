//! `sandbox-bench serve`: an MCP server (rmcp) whose one tool, `python_execute(code, input)`,
//! runs the code on a backend of this project (`compose:persistent`, `compose:fork`,
//! `local:pool=4`…), over stdio or streamable HTTP on 127.0.0.1. It answers as the original
//! server did, `{"status": "success", "stdout": …, "stderr": …}`, plus `result`, the repr of the
//! code's `result` variable; code that raised, or a call that failed, is a tool error.
//! SIGINT, SIGTERM or SIGHUP end it as they end `run` (see `stop.rs`): it stops serving, stops
//! its agents, sweeps the sandbox, and exits 128 + the signal.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::net::unix::pipe;

use super::stop::Stop;
use crate::agent::{AgentOptions, Reply};
use crate::mcp::{SERVER_NAME, TOOL};
use crate::sandbox::backend::{Backend, SandboxBackend};
use crate::sandbox::{self, SandboxOptions};
use crate::strategy::{Call, CallError, Executor, Strategy, TIMEOUT_GRACE};

/// How `serve` listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    Stdio,
    /// Streamable HTTP at `http://127.0.0.1:PORT/mcp`.
    Http(u16),
}

/// What `serve` was asked for, checked.
pub struct ServeOptions {
    pub backend: SandboxBackend,
    pub listen: Listen,
    pub timeout: Duration,
    pub sandbox: SandboxOptions,
}

/// The MCP side: the tool, over one executor shared by every session.
#[derive(Clone)]
struct Handler {
    executor: Arc<dyn Executor>,
    timeout: Duration,
    backend: String,
    /// Run each call right on the runtime's one thread (stdio, one agent): see `serve`.
    inline: bool,
}

impl Handler {
    fn tool() -> Tool {
        let schema = json!({
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Python code to execute"},
                "input": {"type": ["string", "null"], "description": "its standard input"},
            },
            "required": ["code"],
        });
        let Value::Object(schema) = schema else {
            unreachable!("a JSON object literal")
        };
        Tool::new(
            TOOL,
            "Execute Python code in the sandbox and return what it printed",
            schema,
        )
    }

    async fn run(&self, params: CallToolRequestParams) -> Result<CallToolResult, ErrorData> {
        if params.name != TOOL {
            return Err(ErrorData::invalid_params(
                format!("no tool '{}' (this server has {TOOL})", params.name),
                None,
            ));
        }
        let args = params.arguments.unwrap_or_default();
        let Some(code) = args.get("code").and_then(Value::as_str).map(str::to_string) else {
            return Err(ErrorData::invalid_params("`code` must be a string", None));
        };
        let input = args
            .get("input")
            .and_then(Value::as_str)
            .map(str::to_string);
        let call = || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.executor.call(Call {
                    code: &code,
                    stdin: input.as_deref(),
                    timeout: self.timeout,
                })
            }))
        };
        // Inline, the call holds the runtime's only thread: nothing else had to run meanwhile.
        // Otherwise it blocks this worker, which first hands its other tasks to another one:
        // still no hand-over of the call itself to another thread and back.
        let outcome = if self.inline {
            call()
        } else {
            tokio::task::block_in_place(call)
        }
        .map_err(|_| ErrorData::internal_error("the call panicked", None))?;
        Ok(answer(outcome))
    }
}

/// The tool's answer for one call's outcome.
fn answer(outcome: Result<Reply, CallError>) -> CallToolResult {
    let text = |t: String| vec![ContentBlock::text(t)];
    match outcome {
        Ok(reply) => match reply.error {
            None => {
                let body = json!({
                    "status": "success",
                    "stdout": reply.stdout,
                    "stderr": reply.stderr,
                    "result": reply.result,
                    "exec_ns": reply.exec_ns,
                });
                CallToolResult::success(text(body.to_string()))
            }
            Some(e) => CallToolResult::error(text(format!(
                "{}: {}\n{}{}",
                e.kind, e.message, e.traceback, reply.stderr
            ))),
        },
        Err(e) => CallToolResult::error(text(format!("{} ({})", e, e.kind()))),
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(format!("python_execute runs code on {}", self.backend))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![Self::tool()]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.run(request).await.map(CallToolResponse::Complete)
    }
}

/// `sandbox-bench serve`: prepares the backend, then serves until the client leaves (stdio) or
/// a stop signal arrives; then stops the agents and sweeps what they left.
pub fn serve(opts: ServeOptions) -> Result<ExitCode> {
    let backend = Backend::Sandbox(opts.backend.clone());
    let (_, docker) = sandbox::choose_backends(&SandboxOptions {
        backends: Some(vec![backend.clone()]),
        ..opts.sandbox.clone()
    })?;
    let prepared = sandbox::prepare(&[backend], &opts.sandbox, docker)?;
    let reached = prepared.reached;
    let executor: Arc<dyn Executor> = Arc::from(
        reached
            .first()
            .context("internal: no transport prepared")?
            .executor(&AgentOptions::default()),
    );
    // From here on the agents are this server's: a signal must not end it before they stop.
    let stop = Stop::install();
    // The sandbox starts before the first client call, not during it.
    executor
        .start_all(opts.timeout)
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", opts.backend))?;
    // Over stdio there is one client, and an executor with one agent answers one call at a
    // time whatever the client sends: the whole server then runs on one thread, the call in
    // line, and a call's request, its run and its answer never wait for another thread to wake.
    // A pool (or per-call, whose calls may overlap) and HTTP keep two workers.
    let inline = opts.listen == Listen::Stdio
        && matches!(
            opts.backend.strategy,
            Strategy::Persistent | Strategy::Fork | Strategy::Reset(_)
        );
    let handler = Handler {
        executor: Arc::clone(&executor),
        timeout: opts.timeout,
        backend: opts.backend.to_string(),
        inline,
    };
    let runtime = if inline {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("serve")
            .enable_all()
            .build()?
    };
    let served = match opts.listen {
        Listen::Stdio => runtime.block_on(serve_stdio(handler, &stop)),
        Listen::Http(port) => runtime.block_on(serve_http(handler, port, &opts.sandbox, &stop)),
    };
    // The sessions go with the runtime; a read of a terminal's stdin that never returns must not
    // hold the exit, so the runtime is not waited for. A call under way still holds the
    // executor: it may finish, within its timeout.
    runtime.shutdown_timeout(Duration::from_millis(100));
    let deadline = Instant::now() + opts.timeout + TIMEOUT_GRACE;
    while Arc::strong_count(&executor) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The last handle on the executor: its agents are stopped here, then what they left swept.
    drop(executor);
    sandbox::sweep_after(&reached);
    served?;
    match stop.exit_code() {
        Some(code) => {
            opts.sandbox
                .notice("serve: stopped by a signal; its agents stopped, the sandbox swept");
            Ok(ExitCode::from(code))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Serves one client over stdin and stdout until it leaves or a stop signal arrives.
async fn serve_stdio(handler: Handler, stop: &Stop) -> Result<()> {
    let service = match pipes() {
        Some(pipes) => handler.serve(pipes).await?,
        None => handler.serve(rmcp::transport::stdio()).await?,
    };
    tokio::select! {
        ended = service.waiting() => {
            ended?;
        }
        () = stop.arrived() => {}
    }
    Ok(())
}

async fn serve_http(
    handler: Handler,
    port: u16,
    sandbox: &SandboxOptions,
    stop: &Stop,
) -> Result<()> {
    let service = TowerToHyperService::new(StreamableHttpService::new(
        move || Ok(handler.clone()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    ));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| crate::error::usage(format!("--port {port}: cannot listen ({e})")))?;
    sandbox.notice(&format!(
        "serving MCP at http://{}/mcp",
        listener.local_addr()?
    ));
    loop {
        let (stream, _) = tokio::select! {
            () = stop.arrived() => break,
            accepted = listener.accept() => accepted?,
        };
        let service = service.clone();
        tokio::spawn(async move {
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    Ok(())
}

/// stdin and stdout as pipes read and written through the runtime's own event loop, when both
/// are pipes (as when a client starts the server): tokio's `stdin()`/`stdout()` pass every read
/// and write to a thread of the blocking pool, a hand-over each way of every call.
fn pipes() -> Option<(pipe::Receiver, pipe::Sender)> {
    let fd = |n: i32| {
        // SAFETY: fds 0 and 1 stay open for the life of the process, and from here on only the
        // pipes returned use them (notices go to stderr).
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(n) };
        fd.try_clone_to_owned().ok()
    };
    let input = pipe::Receiver::from_owned_fd(fd(0)?).ok()?;
    let output = pipe::Sender::from_owned_fd(fd(1)?).ok()?;
    Some((input, output))
}
