//! Strategies: how interpreters are used over a transport. A strategy turns "run this code" into
//! agent processes and requests; it never knows which transport it runs over.

mod per_call;
mod persistent;

pub use per_call::PerCall;
pub use persistent::Persistent;

use std::sync::Arc;
use std::time::Duration;

use crate::agent::Reply;
use crate::transport::Transport;

/// Extra time the harness waits past a call's timeout, for the agent to report it itself.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(2);

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
}

impl CallError {
    /// The error's kind, as counted in results.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout => "timeout",
            CallError::AgentDied(_) => "agent_died",
            CallError::Protocol(_) => "protocol",
            CallError::Spawn(_) => "spawn",
        }
    }
}

/// One call's input.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub code: &'a str,
    pub stdin: Option<&'a str>,
    pub timeout: Duration,
}

/// Runs calls with one strategy over one transport.
pub trait Executor: Send {
    /// Runs one call and returns the agent's reply.
    fn call(&mut self, call: Call) -> Result<Reply, CallError>;

    /// The sandbox's Python version, once an agent has announced it.
    fn python_version(&self) -> Option<String>;

    /// How many agents were thrown away after a fault (each is replaced on the next call).
    fn restarts(&self) -> u32;
}

/// The strategies a backend can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    PerCall,
    Persistent,
}

impl Strategy {
    pub const ALL: [Strategy; 2] = [Strategy::PerCall, Strategy::Persistent];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::PerCall => "per-call",
            Strategy::Persistent => "persistent",
        }
    }

    /// One line on what the strategy does, for `--help` and listings.
    pub fn about(self) -> &'static str {
        match self {
            Strategy::PerCall => "a fresh interpreter for every call (full isolation)",
            Strategy::Persistent => {
                "one long-lived interpreter fed over pipes (fresh globals only)"
            }
        }
    }

    /// A new executor of this strategy over `transport`; nothing starts until the first call.
    pub fn executor(self, transport: Arc<dyn Transport>) -> Box<dyn Executor> {
        match self {
            Strategy::PerCall => Box::new(PerCall::new(transport)),
            Strategy::Persistent => Box::new(Persistent::new(transport)),
        }
    }
}

fn timeout_ms(call: &Call) -> Option<u64> {
    Some(call.timeout.as_millis().min(u64::MAX as u128) as u64)
}
