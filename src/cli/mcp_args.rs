//! The flags that declare MCP servers as backends (`--mcp NAME=COMMAND|URL` → `mcp:NAME`),
//! flattened into every command that reaches a sandbox.

use clap::Args;

use crate::error::usage;
use crate::mcp::{self, Answer, McpServer};
use crate::sandbox::backend::{Backend, TransportKind};
use crate::strategy::Strategy;

/// MCP servers measured as backends.
#[derive(Args, Debug)]
pub struct McpArgs {
    /// Add backend mcp:NAME: an MCP server started as COMMAND (stdio) or reached at URL
    /// (streamable HTTP); repeatable. With no --backends, the MCP servers alone run
    #[arg(long, value_name = "NAME=COMMAND|URL")]
    mcp: Vec<String>,
    /// The MCP tool that runs the code
    #[arg(long, value_name = "TOOL", default_value = "python_execute")]
    mcp_tool: String,
    /// The tool's argument that carries the code
    #[arg(long, value_name = "ARG", default_value = "code")]
    mcp_code_arg: String,
    /// How the tool answers: print (what the code printed: a line printing repr(result), None
    /// when the code sets none, is appended and the last line checked) or repr (its text is
    /// repr(result))
    #[arg(long, value_name = "MODE", default_value = "print", value_parser = ["print", "repr"])]
    mcp_answer: String,
    /// The backend server NAME's tool runs on, to show its MCP layer (its latency minus that
    /// backend's, both in this run); repeatable. Read from the command for `sandbox-bench
    /// serve --backend B` and mcp/python_execute_server.py; give it for any other server
    #[arg(long, value_name = "NAME=BACKEND")]
    mcp_over: Vec<String>,
}

impl McpArgs {
    /// Declares the servers, so that other flags may name `mcp:NAME`, and returns their backends.
    pub fn declare(&self) -> anyhow::Result<Vec<Backend>> {
        let answer = Answer::parse(&self.mcp_answer).map_err(usage)?;
        let mut servers = self
            .mcp
            .iter()
            .map(|spec| McpServer::parse(spec, &self.mcp_tool, &self.mcp_code_arg, answer))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| usage(format!("--mcp: {e}")))?;
        for spec in &self.mcp_over {
            let (name, backend) = spec
                .split_once('=')
                .ok_or_else(|| usage(format!("--mcp-over: '{spec}': write NAME=BACKEND")))?;
            let backend = Backend::parse(backend)
                .ok()
                .filter(|b| b.transport != TransportKind::Mcp)
                .ok_or_else(|| {
                    usage(format!(
                        "--mcp-over: '{}' is not a sandbox backend (e.g. compose:persistent)",
                        backend.trim()
                    ))
                })?;
            let server = servers
                .iter_mut()
                .find(|s| s.name == name.trim())
                .ok_or_else(|| {
                    usage(format!(
                        "--mcp-over: no --mcp {}=… to go with it",
                        name.trim()
                    ))
                })?;
            server.over = Some(backend.to_string());
        }
        servers
            .into_iter()
            .map(|server| {
                let server = mcp::declare(server).map_err(|e| usage(format!("--mcp: {e}")))?;
                Ok(Backend {
                    transport: TransportKind::Mcp,
                    engine: crate::sandbox::backend::Engine::Docker,
                    strategy: Strategy::Mcp(server),
                })
            })
            .collect()
    }
}

/// Adds the declared MCP backends to a backend list (the MCP backends alone when none is given).
pub fn with_mcp(backends: Option<Vec<Backend>>, mcp: Vec<Backend>) -> Option<Vec<Backend>> {
    if mcp.is_empty() {
        return backends;
    }
    let mut list = backends.unwrap_or_default();
    for b in mcp {
        if !list.contains(&b) {
            list.push(b);
        }
    }
    Some(list)
}
