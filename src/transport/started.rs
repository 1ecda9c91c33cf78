//! A program started in the sandbox, whatever reaches it: a pipe into it, a pipe out of it, its
//! stderr when the transport has one, and a small control handle. Processes the harness spawns
//! and connections to a server inside the container both fit, so the agent code needs neither.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Waits for and stops what a transport started.
pub trait Control: Send {
    /// Waits until the program ends or `deadline` passes: how it ended, `None` if still running.
    fn wait_deadline(&self, deadline: Instant) -> std::io::Result<Option<String>>;

    /// Stops it from the harness's side (what it left running in a container may live on).
    fn kill(&self);

    /// Whether it is known to have ended, without waiting.
    fn exited(&self) -> bool {
        false
    }
}

/// The streams and control of a started program.
pub struct Started {
    pub stdin: Box<dyn Write + Send>,
    /// A pipe or socket the caller polls and reads itself, in its own thread, so a reply wakes
    /// no thread but the one waiting for it.
    pub stdout: OwnedFd,
    /// What `stdout` carries.
    pub framing: Framing,
    pub stderr: Option<Box<dyn Read + Send>>,
    pub control: Box<dyn Control>,
}

/// What a started program's `stdout` descriptor carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// The program's stdout, as it wrote it.
    Plain,
    /// The Docker Engine API's attach stream: stdout and stderr in frames, to be cut apart by
    /// the reader; the bytes already read past the HTTP response come first.
    Multiplexed(Vec<u8>),
}

/// Starts `command` as a child process with all three streams piped.
pub fn spawn(command: duct::Expression) -> std::io::Result<Started> {
    let (in_r, in_w) = os_pipe::pipe()?;
    let (out_r, out_w) = os_pipe::pipe()?;
    let (err_r, err_w) = os_pipe::pipe()?;
    let handle = command
        .stdin_file(in_r)
        .stdout_file(out_w)
        .stderr_file(err_w)
        .unchecked()
        .start()?;
    if let Ok(mut live) = LIVE.lock() {
        live.extend(handle.pids());
    }
    Ok(Started {
        stdin: Box::new(in_w),
        stdout: out_r.into(),
        framing: Framing::Plain,
        stderr: Some(Box::new(err_r)),
        control: Box::new(Child(handle)),
    })
}

/// Agents the harness started and has not let go of, by pid: a host sweep spares them.
static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Whether `pid` is an agent process the harness still holds.
pub fn is_live(pid: u32) -> bool {
    LIVE.lock().is_ok_and(|live| live.contains(&pid))
}

/// Marks `pid` as a process the harness keeps running on purpose (what an MCP server left, with
/// `--mcp-keep-leftovers`): a host sweep spares it as it spares a live agent.
pub fn spare(pid: u32) {
    if let Ok(mut live) = LIVE.lock() {
        live.insert(pid);
    }
}

/// Makes the harness the reaper of its orphaned descendants (prctl PR_SET_CHILD_SUBREAPER), so
/// that what a dead local agent's calls left running comes back to it and can be killed.
pub fn become_subreaper() -> bool {
    // SAFETY: prctl with integer arguments only changes a flag of this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}

/// A child process of the harness.
struct Child(duct::Handle);

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            for pid in self.0.pids() {
                live.remove(&pid);
            }
        }
    }
}

impl Control for Child {
    fn wait_deadline(&self, deadline: Instant) -> std::io::Result<Option<String>> {
        Ok(self
            .0
            .wait_deadline(deadline)?
            .map(|out| match out.status.code() {
                Some(code) => format!("exit code {code}"),
                None => format!("{}", out.status),
            }))
    }

    fn kill(&self) {
        let _ = self.0.kill();
        let _ = self.0.wait_timeout(Duration::from_secs(5));
    }

    fn exited(&self) -> bool {
        matches!(self.0.try_wait(), Ok(Some(_)))
    }
}

/// A unix connection's sending side, as a started program's stdin (`socket`, `api`): dropping
/// it shuts the connection for writing, the end of input the agent waits for.
pub struct WriteHalf(pub std::os::unix::net::UnixStream);

impl std::io::Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Drop for WriteHalf {
    fn drop(&mut self) {
        let _ = self.0.shutdown(std::net::Shutdown::Write);
    }
}
