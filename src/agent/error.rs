//! Why a call produced no reply, seen from the harness, and the kinds of error results count.
//! The agent process raises these, and the strategies above it pass them on, so they live
//! here, below both.

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
    pub fn kind(&self) -> ErrorKind {
        match self {
            CallError::Timeout => ErrorKind::Timeout,
            CallError::AgentDied(_) => ErrorKind::AgentDied,
            CallError::Protocol(_) => ErrorKind::Protocol,
            CallError::Spawn(_) => ErrorKind::Spawn,
            CallError::Rpc(_) => ErrorKind::JsonRpc,
        }
    }
}

/// Why a call did not count as a sample, as results count it (`errors_by_kind`). The names are
/// the ones results files have always used; a file naming another kind is refused when read,
/// with serde's message naming the kind and the ones known, rather than counted under a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No reply within the timeout, or the agent stopped the code at it.
    Timeout,
    /// The process running the code is gone: the agent, or a fork child.
    AgentDied,
    /// The agent answered something that is not the protocol.
    Protocol,
    /// The agent could not be started.
    Spawn,
    /// An MCP server answered with a JSON-RPC error.
    #[serde(rename = "jsonrpc")]
    JsonRpc,
    /// An MCP server's tool reported an error.
    ToolError,
    /// The code raised an exception.
    CodeError,
    /// The code ran but its `result` is not the expected one.
    WrongAnswer,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Timeout,
        ErrorKind::AgentDied,
        ErrorKind::Protocol,
        ErrorKind::Spawn,
        ErrorKind::JsonRpc,
        ErrorKind::ToolError,
        ErrorKind::CodeError,
        ErrorKind::WrongAnswer,
    ];

    /// The kind's name in results files and messages.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::AgentDied => "agent_died",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Spawn => "spawn",
            ErrorKind::JsonRpc => "jsonrpc",
            ErrorKind::ToolError => "tool_error",
            ErrorKind::CodeError => "code_error",
            ErrorKind::WrongAnswer => "wrong_answer",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// By name, so maps keyed by kind list them in the order results files always had.
impl Ord for ErrorKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for ErrorKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_their_names_in_json_and_their_order() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
        }
        let counts: std::collections::BTreeMap<ErrorKind, usize> =
            serde_json::from_str(r#"{"wrong_answer": 1, "agent_died": 2, "timeout": 3}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&counts).unwrap(),
            r#"{"agent_died":2,"timeout":3,"wrong_answer":1}"#
        );
        let e = serde_json::from_str::<ErrorKind>("\"ZeroDivisionError\"").unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown variant `ZeroDivisionError`"),
            "{e}"
        );
    }
}
