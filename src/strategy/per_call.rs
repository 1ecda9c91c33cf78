//! `per-call`: a fresh interpreter per call. The request is written before the handshake
//! arrives, so start-up and the call overlap as they would in `python3 -c CODE`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{Call, CallError, Executor, TIMEOUT_GRACE};
use crate::agent::{self, AgentOptions, AgentProcess, Mode, Reply, Request, RequestIds, Wait};
use crate::transport::Transport;

/// Starts a one-shot agent for every call and waits for it to exit.
pub struct PerCall {
    transport: Arc<dyn Transport>,
    args: Vec<String>,
    wait: Wait,
    python: Mutex<Option<String>>,
    ids: RequestIds,
    /// Servers the transport found dead and restarted while starting this executor's agents.
    restarts: AtomicU32,
}

impl PerCall {
    pub fn new(transport: Arc<dyn Transport>, options: &AgentOptions) -> Self {
        PerCall {
            transport,
            args: agent::python_args(Mode::OneShot, options, false),
            wait: options.wait,
            python: Mutex::new(None),
            ids: RequestIds::new(),
            restarts: AtomicU32::new(0),
        }
    }
}

impl Executor for PerCall {
    fn call(&self, call: Call) -> Result<Reply, CallError> {
        let deadline = Instant::now() + call.timeout + TIMEOUT_GRACE;
        let id = self.ids.next();
        let before = self.transport.restarts();
        let started = self.transport.start(self.transport.python(), &self.args);
        let restarted = self.transport.restarts().saturating_sub(before);
        self.restarts.fetch_add(restarted, Ordering::Relaxed);
        let mut process = AgentProcess::start(started, self.wait)?;
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
            if let Ok(mut python) = self.python.lock() {
                python.get_or_insert_with(|| ready.python.clone());
            }
            if reply.is_err() {
                self.transport.kill_in_sandbox(ready.pid);
            }
        }
        if reply.is_err() {
            // What the transport started goes now, not after the grace its drop gives it: for
            // `container` that kill is the one that ends the call's container.
            process.kill();
        }
        let mut reply = reply?;
        reply.import_ns = process.ready().map_or(0, |r| r.import_ns);
        process.finish(deadline)?;
        Ok(reply)
    }

    fn python_version(&self) -> Option<String> {
        self.python.lock().ok()?.clone()
    }

    fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }
}
