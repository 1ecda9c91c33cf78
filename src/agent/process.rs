//! A running agent seen from the harness: its pipes, a reader thread that turns its stdout into
//! lines (so every wait has a deadline), and a drained stderr whose tail explains a crash.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{CallError, Ready, Reply, Request};
use crate::transport::{Control, Started};

/// How much of the agent's stderr is kept to explain why it died.
const STDERR_TAIL: usize = 4096;

enum Line {
    Text(String),
    End,
}

/// One agent process, started through a transport, not yet or already past its handshake.
pub struct AgentProcess {
    control: Box<dyn Control>,
    stdin: Option<Box<dyn std::io::Write + Send>>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<Vec<u8>>>,
    ready: Option<Ready>,
    /// A line read while checking whether the agent is still there, not yet consumed.
    pending: Option<Line>,
    /// The last request a fork zygote said it handed over (`{"ack": id}`).
    acked: Option<u64>,
}

impl AgentProcess {
    /// Takes over a program a transport started (the `python3 … agent` program).
    pub fn start(started: std::io::Result<Started>) -> Result<Self, CallError> {
        let started = started.map_err(|e| CallError::Spawn(e.to_string()))?;
        let out_r = started.stdout;
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(out_r);
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(Line::Text(line)).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = tx.send(Line::End);
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let tail = Arc::clone(&stderr);
        if let Some(err_r) = started.stderr {
            thread::spawn(move || drain_tail(err_r, &tail));
        }
        Ok(AgentProcess {
            control: started.control,
            stdin: Some(started.stdin),
            lines,
            stderr,
            ready: None,
            pending: None,
            acked: None,
        })
    }

    /// Sends one request line.
    pub fn send(&mut self, request: &Request) -> Result<(), CallError> {
        let line = super::encode(request);
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| CallError::Protocol("the agent's input is already closed".into()))?;
        if stdin.write_all(&line).and_then(|_| stdin.flush()).is_err() {
            return Err(self.died());
        }
        Ok(())
    }

    /// Closes the agent's input: a one-shot agent needs nothing more, a loop agent exits.
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Waits for the handshake (once) and then for the reply to request `id`.
    pub fn receive(&mut self, id: u64, deadline: Instant) -> Result<Reply, CallError> {
        self.handshake(deadline)?;
        loop {
            let line = self.next_line(deadline)?;
            match super::parse_ack(&line) {
                Some(acked) => self.acked = Some(acked),
                None => {
                    if let Some(reply) =
                        super::parse_reply(&line, id).map_err(CallError::Protocol)?
                    {
                        return Ok(reply);
                    }
                }
            }
        }
    }

    /// Whether a fork zygote said it handed request `id` to a child.
    pub fn acked(&self, id: u64) -> bool {
        self.acked == Some(id)
    }

    /// Whether the agent is known to be gone already (its process exited or its output ended),
    /// without waiting: a request sent to it now would be lost.
    pub fn gone(&mut self) -> bool {
        if self.control.exited() {
            return true;
        }
        if self.pending.is_none() {
            self.pending = self.lines.try_recv().ok();
        }
        matches!(self.pending, Some(Line::End))
    }

    /// Waits for the agent's handshake if it has not come yet.
    pub fn handshake(&mut self, deadline: Instant) -> Result<&Ready, CallError> {
        if self.ready.is_none() {
            let line = self.next_line(deadline)?;
            let ready = super::parse_ready(&line).map_err(CallError::Protocol)?;
            self.ready = Some(ready);
        }
        Ok(self.ready.as_ref().expect("set just above"))
    }

    /// The handshake, once it has been received.
    pub fn ready(&self) -> Option<&Ready> {
        self.ready.as_ref()
    }

    /// Waits for the process to exit by `deadline`; kills it if it has not.
    pub fn finish(mut self, deadline: Instant) -> Result<(), CallError> {
        self.stdin = None;
        match self.control.wait_deadline(deadline) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => {
                self.kill();
                Err(CallError::Timeout)
            }
            Err(e) => Err(CallError::Spawn(e.to_string())),
        }
    }

    /// Kills the process the harness started (not what it left running in a container).
    pub fn kill(&self) {
        self.control.kill();
    }

    fn next_line(&mut self, deadline: Instant) -> Result<String, CallError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let next = match self.pending.take() {
            Some(line) => Ok(line),
            None => self.lines.recv_timeout(wait),
        };
        match next {
            Ok(Line::Text(line)) => Ok(line),
            Ok(Line::End) | Err(RecvTimeoutError::Disconnected) => Err(self.died()),
            Err(RecvTimeoutError::Timeout) => Err(CallError::Timeout),
        }
    }

    /// The error for an agent whose output ended: its exit status and last stderr line.
    fn died(&self) -> CallError {
        let status = match self
            .control
            .wait_deadline(Instant::now() + Duration::from_secs(2))
        {
            Ok(Some(status)) => status,
            _ => "still running with its output closed".to_string(),
        };
        // The drain thread may still be copying the last bytes of stderr.
        thread::sleep(Duration::from_millis(20));
        let tail = self.stderr.lock().map(|t| t.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&tail);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        if last.is_empty() {
            CallError::AgentDied(status)
        } else {
            CallError::AgentDied(format!("{status}; stderr: {}", last.trim()))
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        // Closing its input lets a loop agent exit on its own, in the sandbox too.
        self.stdin = None;
        if !matches!(
            self.control
                .wait_deadline(Instant::now() + Duration::from_secs(1)),
            Ok(Some(_))
        ) {
            self.kill();
        }
    }
}

fn drain_tail(mut from: Box<dyn Read + Send>, tail: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let Ok(mut t) = tail.lock() else { break };
        t.extend_from_slice(&buf[..n]);
        if t.len() > STDERR_TAIL {
            let cut = t.len() - STDERR_TAIL;
            t.drain(..cut);
        }
    }
}
