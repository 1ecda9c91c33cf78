//! A fake transport for unit tests of the runner and the strategies: each start spawns a thread
//! that speaks the agent's protocol over in-memory pipes, answering `result = X` with `X`, and
//! following a script that can delay an answer, give a wrong one, die or hang. It tests logic
//! only; every path through a real sandbox is tested against the real engine.

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{Control, Started, Transport};

/// What the fake agent does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// Answers right away: `result = X` gives `X`.
    Answer,
    /// Waits, then answers.
    Delay(Duration),
    /// Answers with this `result` instead.
    Wrong(String),
    /// Exits without answering (exit code 1).
    Die,
    /// Never answers, until killed.
    Hang,
}

/// One request as the script sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Which agent, counting starts from 1.
    pub agent: usize,
    /// Which request on that agent, from 1.
    pub call: usize,
    /// Which request over all agents, from 1.
    pub overall: usize,
    pub code: String,
}

type Script = dyn Fn(&Seen) -> Act + Send + Sync;

/// Starts fake agents that follow `script`.
pub struct Fake {
    script: Arc<Script>,
    starts: AtomicUsize,
    requests: Arc<AtomicUsize>,
    /// Kill switches of the agents, by pid.
    agents: Mutex<Vec<(u32, Arc<AtomicBool>)>>,
    killed_in_sandbox: AtomicU32,
}

impl Fake {
    /// A fake whose agents follow `script`.
    pub fn new(script: impl Fn(&Seen) -> Act + Send + Sync + 'static) -> Self {
        Fake {
            script: Arc::new(script),
            starts: AtomicUsize::new(0),
            requests: Arc::new(AtomicUsize::new(0)),
            agents: Mutex::new(Vec::new()),
            killed_in_sandbox: AtomicU32::new(0),
        }
    }

    /// A fake whose agents always answer right.
    pub fn answering() -> Self {
        Fake::new(|_| Act::Answer)
    }

    /// Agents started so far.
    pub fn starts(&self) -> usize {
        self.starts.load(Ordering::SeqCst)
    }

    /// Requests received so far, over all agents.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Agents killed through `kill_in_sandbox`.
    pub fn killed_in_sandbox(&self) -> u32 {
        self.killed_in_sandbox.load(Ordering::SeqCst)
    }
}

impl Transport for Fake {
    fn command(&self, _program: &str, _args: &[String]) -> duct::Expression {
        // Only `start` and `kill_in_sandbox` are used on a fake; a command would run on the host.
        duct::cmd("false", Vec::<String>::new())
    }

    fn start(&self, _program: &str, args: &[String]) -> std::io::Result<Started> {
        let agent = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        let pid = 1000 + agent as u32;
        let oneshot = args.iter().any(|a| a == "oneshot");
        let (in_r, in_w) = os_pipe::pipe()?;
        let (out_r, out_w) = os_pipe::pipe()?;
        let killed = Arc::new(AtomicBool::new(false));
        if let Ok(mut agents) = self.agents.lock() {
            agents.push((pid, Arc::clone(&killed)));
        }
        let (done_tx, done_rx) = mpsc::channel();
        let script = Arc::clone(&self.script);
        let requests = Arc::clone(&self.requests);
        let flag = Arc::clone(&killed);
        thread::spawn(move || {
            let me = FakeAgent {
                agent,
                pid,
                oneshot,
                script,
                requests,
                killed: flag,
            };
            let code = me.serve(in_r, out_w);
            let _ = done_tx.send(code);
        });
        Ok(Started {
            stdin: Box::new(in_w),
            stdout: out_r.into(),
            framing: super::Framing::Plain,
            stderr: None,
            control: Box::new(FakeControl {
                done: Mutex::new(done_rx),
                ended: Mutex::new(None),
                killed,
            }),
        })
    }

    fn python(&self) -> &str {
        "python3"
    }

    fn kill_in_sandbox(&self, pid: u32) {
        if let Ok(agents) = self.agents.lock()
            && let Some((_, killed)) = agents.iter().find(|(p, _)| *p == pid)
        {
            killed.store(true, Ordering::SeqCst);
            self.killed_in_sandbox.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// One fake agent, run on its own thread.
struct FakeAgent {
    agent: usize,
    pid: u32,
    /// Answers one request, then exits (the per-call mode).
    oneshot: bool,
    script: Arc<Script>,
    requests: Arc<AtomicUsize>,
    killed: Arc<AtomicBool>,
}

impl FakeAgent {
    /// The fake agent's life: handshake, then one reply per request line as the script says.
    /// Returns its exit code.
    fn serve(self, input: os_pipe::PipeReader, mut out: os_pipe::PipeWriter) -> i32 {
        let FakeAgent {
            agent,
            pid,
            oneshot,
            script,
            requests,
            killed,
        } = self;
        let hello =
            format!(r#"{{"ready": true, "protocol": 1, "python": "3.fake", "pid": {pid}}}"#);
        if writeln!(out, "{hello}").is_err() {
            return 1;
        }
        let mut lines = BufReader::new(input).lines();
        let mut call = 0;
        while let Some(Ok(line)) = lines.next() {
            if killed.load(Ordering::SeqCst) {
                return 137;
            }
            call += 1;
            let overall = requests.fetch_add(1, Ordering::SeqCst) + 1;
            let request: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let id = request["id"].as_u64().unwrap_or(0);
            let code = request["code"].as_str().unwrap_or("").to_string();
            let answer = code.strip_prefix("result = ").map(str::to_string);
            let seen = Seen {
                agent,
                call,
                overall,
                code,
            };
            let result = match script(&seen) {
                Act::Answer => answer,
                Act::Delay(wait) => {
                    thread::sleep(wait);
                    answer
                }
                Act::Wrong(value) => Some(value),
                Act::Die => return 1,
                Act::Hang => {
                    while !killed.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_millis(5));
                    }
                    return 137;
                }
            };
            let reply = serde_json::json!({
                "id": id, "ok": true, "result": result, "stdout": "", "stderr": "",
                "error": null, "exec_ns": 1000, "truncated": false,
            });
            if writeln!(out, "{reply}").is_err() {
                return 1;
            }
            if oneshot {
                break;
            }
        }
        0
    }
}

/// Waits for and stops a fake agent's thread.
struct FakeControl {
    done: Mutex<Receiver<i32>>,
    ended: Mutex<Option<String>>,
    killed: Arc<AtomicBool>,
}

impl Control for FakeControl {
    fn wait_deadline(&self, deadline: Instant) -> std::io::Result<Option<String>> {
        let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        if ended.is_none() {
            let wait = deadline.saturating_duration_since(Instant::now());
            let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            match done.recv_timeout(wait) {
                Ok(code) => *ended = Some(format!("exit code {code}")),
                Err(RecvTimeoutError::Disconnected) => *ended = Some("exit code 1".into()),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        Ok(ended.clone())
    }

    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}
