//! Why a call produced no reply, seen from the harness. The agent process raises these, and
//! the strategies above it pass them on, so they live here, below both.

/// Why a call produced no reply. Errors raised by the code itself arrive in the `Reply`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("no reply within the timeout")]
    Timeout,
    #[error("the agent died: {0}")]
    AgentDied(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("cannot start the agent: {0}")]
    Spawn(String),
    /// A JSON-RPC error from an MCP server.
    #[error("JSON-RPC error {0}")]
    Rpc(String),
}

impl CallError {
    /// The error's kind, as counted in results.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout => "timeout",
            CallError::AgentDied(_) => "agent_died",
            CallError::Protocol(_) => "protocol",
            CallError::Spawn(_) => "spawn",
            CallError::Rpc(_) => "jsonrpc",
        }
    }
}
