//! A running agent seen from the harness: its pipes, its stdout read into lines in the calling
//! thread (so every wait has a deadline and a reply wakes only the caller, see `reader`), and a
//! drained stderr whose tail explains a crash.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::reader::{LineReader, ReadError, StderrTail, Wait};
use super::{CallError, Ready, Reply, Request};
use crate::transport::{Control, Framing, Started};

/// How much of the agent's stderr is kept to explain why it died.
const STDERR_TAIL: usize = 4096;

/// One agent process, started through a transport, not yet or already past its handshake.
pub struct AgentProcess {
    control: Box<dyn Control>,
    stdin: Option<Box<dyn std::io::Write + Send>>,
    lines: LineReader,
    stderr: Arc<Mutex<Vec<u8>>>,
    ready: Option<Ready>,
    /// The last request a fork zygote said it handed over (`{"ack": id}`).
    acked: Option<u64>,
}

impl AgentProcess {
    /// Takes over a program a transport started (the `python3 … agent` program); its replies
    /// are waited for as `wait` says.
    pub fn start(started: std::io::Result<Started>, wait: Wait) -> Result<Self, CallError> {
        let started = started.map_err(|e| CallError::Spawn(e.to_string()))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = match started.framing {
            Framing::Plain => LineReader::new(started.stdout, wait),
            // Stderr shares the connection: the caller's reads keep it drained.
            Framing::Multiplexed(already) => {
                let tail = StderrTail {
                    tail: Arc::clone(&stderr),
                    keep: STDERR_TAIL,
                };
                LineReader::multiplexed(started.stdout, wait, tail, &already)
            }
        };
        // A stderr of its own keeps a thread: an agent flooding it must not block on a full pipe
        // while the harness waits on stdout. Its bytes are never on the way of a reply.
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
        self.control.exited() || self.lines.at_end()
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
        match self.lines.next_line(deadline) {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err(self.died()),
            Err(ReadError::Timeout) => Err(CallError::Timeout),
            Err(ReadError::TooLong) => Err(CallError::Protocol(format!(
                "the agent wrote a line of more than {} MiB",
                super::reader::MAX_LINE >> 20
            ))),
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
