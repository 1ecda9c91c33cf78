//! `persistent`: one long-lived agent fed framed requests over its pipes, the original
//! optimization. A call that times out or kills the agent costs a restart on the next call.

use std::sync::Arc;
use std::time::Instant;

use super::{Call, CallError, Executor, TIMEOUT_GRACE};
use crate::agent::{self, AgentProcess, Mode, Reply, Request};
use crate::transport::Transport;

/// Keeps one loop agent alive across calls, starting it on the first call.
pub struct Persistent {
    transport: Arc<dyn Transport>,
    agent: Option<AgentProcess>,
    python: Option<String>,
    next_id: u64,
    discarded: u32,
}

impl Persistent {
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Persistent {
            transport,
            agent: None,
            python: None,
            next_id: 1,
            discarded: 0,
        }
    }

    fn agent(&mut self, deadline: Instant) -> Result<&mut AgentProcess, CallError> {
        if self.agent.is_none() {
            let started = self
                .transport
                .start(self.transport.python(), &agent::python_args(Mode::Loop));
            let mut process = AgentProcess::start(started)?;
            let ready = process.handshake(deadline)?;
            self.python.get_or_insert_with(|| ready.python.clone());
            self.agent = Some(process);
        }
        Ok(self.agent.as_mut().expect("started just above"))
    }

    /// Throws the agent away after a fault, killing it inside the sandbox too.
    fn discard(&mut self) {
        if let Some(process) = self.agent.take() {
            self.discarded += 1;
            if let Some(ready) = process.ready() {
                self.transport.kill_in_sandbox(ready.pid);
            }
            process.kill();
        }
    }
}

impl Executor for Persistent {
    fn call(&mut self, call: Call) -> Result<Reply, CallError> {
        let deadline = Instant::now() + call.timeout + TIMEOUT_GRACE;
        let id = self.next_id;
        self.next_id += 1;
        let request = Request {
            id,
            code: call.code,
            stdin: call.stdin,
            timeout_ms: super::timeout_ms(&call),
        };
        let outcome = self.agent(deadline).and_then(|agent| {
            agent.send(&request)?;
            agent.receive(id, deadline)
        });
        if outcome.is_err() {
            self.discard();
        }
        outcome
    }

    fn python_version(&self) -> Option<String> {
        self.python.clone()
    }

    fn restarts(&self) -> u32 {
        self.discarded
    }
}
