//! A slot: one long-lived agent (loop or fork zygote) that is started on first use, thrown away
//! after a fault, and optionally recycled every K calls. Persistent, pool, fork and reset are
//! all slots; they differ in how many, in which mode, and with which options.

use std::sync::Arc;
use std::time::Instant;

use super::CallError;
use crate::agent::{self, AgentOptions, AgentProcess, Mode, Reply, Request};
use crate::transport::Transport;

/// One agent that serves call after call.
pub struct Slot {
    transport: Arc<dyn Transport>,
    mode: Mode,
    options: AgentOptions,
    /// Start a new agent after this many calls (the reset strategy), if set.
    recycle_after: Option<u32>,
    agent: Option<AgentProcess>,
    calls_on_agent: u32,
    pub python: Option<String>,
    /// Agents thrown away after a fault.
    pub discarded: u32,
}

impl Slot {
    pub fn new(
        transport: Arc<dyn Transport>,
        mode: Mode,
        options: AgentOptions,
        recycle_after: Option<u32>,
    ) -> Self {
        Slot {
            transport,
            mode,
            options,
            recycle_after,
            agent: None,
            calls_on_agent: 0,
            python: None,
            discarded: 0,
        }
    }

    /// Runs one request on this slot's agent, starting it first if needed. An agent found dead
    /// before the request reached it (an earlier call killed it) is replaced, counted as a
    /// restart, and the request goes to the new one: the call does not pay for that damage.
    pub fn call(&mut self, request: &Request, deadline: Instant) -> Result<Reply, CallError> {
        if self.recycle_after.is_some_and(|k| self.calls_on_agent >= k) {
            // A planned restart, not a fault: closing its input lets the agent exit.
            self.agent = None;
        }
        if self.agent.as_mut().is_some_and(AgentProcess::gone) {
            self.discard();
        }
        let mut outcome = self.attempt(request, deadline);
        if let Err((_, false)) = outcome {
            self.discard();
            outcome = self.attempt(request, deadline);
        }
        self.calls_on_agent += 1;
        if outcome.is_err() {
            self.discard();
        }
        outcome.map_err(|(e, _)| e)
    }

    /// One try; an error says whether the request reached the agent (if not, it may be resent).
    fn attempt(
        &mut self,
        request: &Request,
        deadline: Instant,
    ) -> Result<Reply, (CallError, bool)> {
        let fork = self.mode == Mode::Fork;
        let agent = self.agent(deadline).map_err(|e| (e, true))?;
        agent.send(request).map_err(|e| (e, false))?;
        agent.receive(request.id, deadline).map_err(|e| {
            // A zygote acknowledges each request it hands to a child: a zygote that died
            // without doing so never ran this call.
            let delivered =
                !(fork && matches!(e, CallError::AgentDied(_)) && !agent.acked(request.id));
            (e, delivered)
        })
    }

    /// The running agent's pid, as its sandbox sees it.
    pub fn pid(&self) -> Option<u32> {
        self.agent.as_ref()?.ready().map(|r| r.pid)
    }

    /// Starts the agent if it is not running.
    pub fn start(&mut self, deadline: Instant) -> Result<(), CallError> {
        self.agent(deadline).map(|_| ())
    }

    fn agent(&mut self, deadline: Instant) -> Result<&mut AgentProcess, CallError> {
        if self.agent.is_none() {
            let args = agent::python_args(self.mode, &self.options, !self.transport.relayed());
            let before = self.transport.restarts();
            let started = self.transport.start(self.transport.python(), &args);
            // A server the transport found dead and restarted on the way is this slot's cost.
            self.discarded += self.transport.restarts().saturating_sub(before);
            let mut process = AgentProcess::start(started, self.options.wait)?;
            let ready = process.handshake(deadline)?;
            self.python.get_or_insert_with(|| ready.python.clone());
            self.agent = Some(process);
            self.calls_on_agent = 0;
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
