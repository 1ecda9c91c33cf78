//! `per-call`: a fresh interpreter per call. The request is written before the handshake
//! arrives, so start-up and the call overlap as they would in `python3 -c CODE`.

use std::sync::Arc;
use std::time::Instant;

use super::{Call, CallError, Executor, TIMEOUT_GRACE};
use crate::agent::{self, AgentProcess, Mode, Reply, Request};
use crate::transport::Transport;

/// Starts a one-shot agent for every call and waits for it to exit.
pub struct PerCall {
    transport: Arc<dyn Transport>,
    python: Option<String>,
    next_id: u64,
}

impl PerCall {
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        PerCall {
            transport,
            python: None,
            next_id: 1,
        }
    }
}

impl Executor for PerCall {
    fn call(&mut self, call: Call) -> Result<Reply, CallError> {
        let deadline = Instant::now() + call.timeout + TIMEOUT_GRACE;
        let id = self.next_id;
        self.next_id += 1;
        let started = self
            .transport
            .start(self.transport.python(), &agent::python_args(Mode::OneShot));
        let mut process = AgentProcess::start(started)?;
        let request = Request {
            id,
            code: call.code,
            stdin: call.stdin,
            timeout_ms: super::timeout_ms(&call),
        };
        process.send(&request)?;
        process.close_input();
        let reply = process.receive(id, deadline);
        if let Some(ready) = process.ready() {
            self.python.get_or_insert_with(|| ready.python.clone());
            if reply.is_err() {
                self.transport.kill_in_sandbox(ready.pid);
            }
        }
        let reply = reply?;
        process.finish(deadline)?;
        Ok(reply)
    }

    fn python_version(&self) -> Option<String> {
        self.python.clone()
    }

    fn restarts(&self) -> u32 {
        0
    }
}
