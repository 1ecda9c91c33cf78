//! The agent: the one Python program that runs inside the sandbox (`agent.py`, embedded here),
//! its line-framed JSON protocol, and a running agent process seen from the harness.

mod error;
mod process;
mod reader;

pub use error::{CallError, ErrorKind};
pub use process::AgentProcess;
pub use reader::{DEFAULT_SPIN_US, MAX_LINE, MAX_SPIN_US, Wait, WaitMode, wait_readable};

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// The agent's source, passed to `python3 -u -c` so nothing has to be mounted in the sandbox.
/// Its tests live beside it in `agent_selftest.py`, which is never sent.
pub const SOURCE: &str = include_str!("agent.py");

/// The line of `agent.py` that ends the one-shot agent: what comes before it serves `oneshot`.
const ONESHOT_END: &str = "\n# ---- the one-shot agent ends here";

/// The source an agent of `mode` is started with: a one-shot agent gets only the first part of
/// the file, so a per-call start compiles little more than a bare interpreter's.
pub fn source(mode: Mode) -> &'static str {
    match mode {
        Mode::OneShot => SOURCE
            .split_once(ONESHOT_END)
            .map_or(SOURCE, |(core, _)| core),
        Mode::Loop | Mode::Fork => SOURCE,
    }
}

/// Request ids: a sequence number in the high 32 bits, so replies still come in order (a late
/// reply to an earlier request is skipped, see `parse_reply`), and 32 random bits below it.
/// Code that learns its own call's id (it is in the agent's memory) cannot tell the next
/// call's, so a process it leaves behind cannot slip a made-up reply to that call onto the
/// channel: one with the wrong low bits is skipped or refused, never taken as the answer.
#[derive(Debug)]
pub struct RequestIds(AtomicU64);

impl RequestIds {
    pub fn new() -> Self {
        RequestIds(AtomicU64::new(1))
    }

    pub fn next(&self) -> u64 {
        (self.0.fetch_add(1, Ordering::Relaxed) << 32) | u64::from(rand::random::<u32>())
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

/// The protocol version the agent announces in its handshake; a mismatch is refused.
pub const PROTOCOL: u32 = 1;

/// How the agent serves: one request then exit, requests until its input ends, or each request
/// in a child forked from a warm zygote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    OneShot,
    Loop,
    Fork,
}

impl Mode {
    pub fn arg(self) -> &'static str {
        match self {
            Mode::OneShot => "oneshot",
            Mode::Loop => "loop",
            Mode::Fork => "fork",
        }
    }
}

/// What the agent does besides serving: modules imported once at start, state reset per call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentOptions {
    pub preload: Vec<String>,
    pub reset: bool,
    /// How the harness waits for the agent's replies (not an option of the agent itself).
    pub wait: Wait,
}

/// The arguments that start the agent under a `python3` command. `direct`: the agent's streams
/// reach the harness without relay processes between them (see [`python_args`]'s spin).
pub fn python_args(mode: Mode, options: &AgentOptions, direct: bool) -> Vec<String> {
    let mut args = vec![
        "-u".into(),
        "-c".into(),
        source(mode).into(),
        mode.arg().into(),
    ];
    if !options.preload.is_empty() {
        args.push("--preload".into());
        args.push(options.preload.join(","));
    }
    if options.reset {
        args.push("--reset".into());
    }
    // A loop agent spins for its next request as the harness spins for its reply: under
    // `--wait spin` neither side of a persistent call sleeps between close calls. Not behind
    // relays (a CLI client, the engine): a spinning agent would hold a CPU they need to pass
    // the request on.
    if let (Mode::Loop, Wait::Spin(spin), true) = (mode, options.wait, direct) {
        args.push("--spin-us".into());
        args.push(spin.as_micros().max(1).to_string());
    }
    args
}

/// The first line an agent writes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Ready {
    pub ready: bool,
    pub protocol: u32,
    pub python: String,
    /// The agent's process id inside the sandbox, to kill it there if it stops answering.
    pub pid: u32,
    /// Time it spent importing `--preload`'s modules before this handshake (0: none).
    #[serde(default)]
    pub import_ns: u64,
}

/// One call: code to run, its standard input, and a time limit the agent enforces itself.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Request<'a> {
    pub id: u64,
    pub code: &'a str,
    pub stdin: Option<&'a str>,
    pub timeout_ms: Option<u64>,
}

/// The agent's answer to one request.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Reply {
    pub id: Option<u64>,
    pub ok: bool,
    /// `repr()` of the code's `result` variable, when it set one.
    pub result: Option<String>,
    pub stdout: String,
    pub stderr: String,
    pub error: Option<CodeError>,
    /// Time the agent spent compiling and running the code.
    pub exec_ns: u64,
    pub truncated: bool,
    /// Time the call paid for importing `--preload`'s modules before the code ran: a per-call
    /// interpreter imports them on every call (its handshake says how long); 0 where they were
    /// imported once, before any call.
    #[serde(default)]
    pub import_ns: u64,
}

/// An exception raised by the user's code, or an error the agent (or an MCP client) reports
/// in its place: see [`Reported`], which tells them apart.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CodeError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub traceback: String,
}

/// The error types in a reply that no code raised: `agent.py` writes `Timeout` and `ChildDied`,
/// the MCP client `ToolError`. The wire keeps these names; the harness reads them here only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// The agent stopped the code at its time limit.
    Timeout,
    /// The fork child running the code died.
    ChildDied,
    /// An MCP server's tool answered with an error.
    ToolError,
}

impl Reported {
    const ALL: [Reported; 3] = [Reported::Timeout, Reported::ChildDied, Reported::ToolError];

    /// The type's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Reported::Timeout => "Timeout",
            Reported::ChildDied => "ChildDied",
            Reported::ToolError => "ToolError",
        }
    }

    /// The report a reply's error type names, if it names one.
    pub fn of(kind: &str) -> Option<Reported> {
        Reported::ALL.into_iter().find(|r| r.name() == kind)
    }

    /// What a reply's error of type `error_type` counts as in results: a report is a fault of
    /// the call, any other type an exception the code raised.
    pub fn count(error_type: &str) -> ErrorKind {
        Reported::of(error_type).map_or(ErrorKind::CodeError, Reported::counted_as)
    }

    /// The kind results count it as. A fork child that died is gone as a crashed agent is.
    pub fn counted_as(self) -> ErrorKind {
        match self {
            Reported::Timeout => ErrorKind::Timeout,
            Reported::ChildDied => ErrorKind::AgentDied,
            Reported::ToolError => ErrorKind::ToolError,
        }
    }
}

/// A request as one protocol line, newline included.
pub fn encode(request: &Request) -> Vec<u8> {
    let mut line = serde_json::to_vec(request).expect("a request always serializes");
    line.push(b'\n');
    line
}

/// Parses the handshake line, refusing another protocol version.
pub fn parse_ready(line: &str) -> Result<Ready, String> {
    let ready: Ready = serde_json::from_str(line)
        .map_err(|e| format!("expected the agent's handshake, got {}: {e}", excerpt(line)))?;
    if !ready.ready || ready.protocol != PROTOCOL {
        return Err(format!(
            "agent speaks protocol {}, this harness speaks {PROTOCOL}",
            ready.protocol
        ));
    }
    Ok(ready)
}

/// The request id of a fork zygote's `{"ack": id}` line (the request reached a child), if the
/// line is one.
pub fn parse_ack(line: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Ack {
        ack: u64,
    }
    if !line.starts_with("{\"ack\"") {
        return None;
    }
    serde_json::from_str::<Ack>(line).ok().map(|a| a.ack)
}

/// Parses a reply line and checks that it answers request `id`. A reply to an earlier request
/// is `None`, for the caller to skip: a late duplicate, from a fork child that answered just as
/// its zygote gave up on it at the time limit and answered `Timeout` in its place.
pub fn parse_reply(line: &str, id: u64) -> Result<Option<Reply>, String> {
    let reply: Reply = serde_json::from_str(line)
        .map_err(|e| format!("malformed reply {}: {e}", excerpt(line)))?;
    match reply.id {
        Some(answered) if answered == id => Ok(Some(reply)),
        Some(answered) if answered < id => Ok(None),
        answered => {
            let detail = reply
                .error
                .as_ref()
                .map(|e| e.message.as_str())
                .unwrap_or("");
            Err(format!(
                "reply for request {answered:?} while waiting for {id} {detail}"
            ))
        }
    }
}

/// The start of a line, for error messages.
pub fn excerpt(line: &str) -> String {
    let line = line.trim_end();
    match line.char_indices().nth(120) {
        Some((i, _)) => format!("'{}…'", &line[..i]),
        None => format!("'{line}'"),
    }
}

/// A value in quotes with what would not show escaped (newlines, tabs, other control
/// characters, backslashes), cut at 120 characters: `'2\n'` and `'2'` read apart.
pub fn quoted(value: &str) -> String {
    let mut out = String::from("'");
    for (i, c) in value.chars().enumerate() {
        if i == 120 {
            out.push_str("…'");
            return out;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_one_json_line() {
        let r = Request {
            id: 7,
            code: "print('a\nb')",
            stdin: None,
            timeout_ms: Some(1500),
        };
        let line = encode(&r);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"id\":7,\"code\":\"print('a\\nb')\",\"stdin\":null,\"timeout_ms\":1500}\n"
        );
    }

    #[test]
    fn handshake_is_checked() {
        let ok = parse_ready(
            r#"{"ready": true, "protocol": 1, "python": "3.11.2", "pid": 9, "mode": "loop"}"#,
        )
        .unwrap();
        assert_eq!((ok.python.as_str(), ok.pid), ("3.11.2", 9));
        let e =
            parse_ready(r#"{"ready": true, "protocol": 2, "python": "3", "pid": 1}"#).unwrap_err();
        assert!(e.contains("protocol 2"), "{e}");
        let e = parse_ready("Traceback (most recent call last):").unwrap_err();
        assert!(e.contains("handshake") && e.contains("Traceback"), "{e}");
    }

    #[test]
    fn reply_must_answer_the_request() {
        let line = r#"{"id": 3, "ok": false, "result": null, "stdout": "", "stderr": "", "error": {"type": "ZeroDivisionError", "message": "division by zero", "traceback": "..."}, "exec_ns": 10, "truncated": false}"#;
        let reply = parse_reply(line, 3)
            .unwrap()
            .expect("the reply to request 3");
        assert_eq!(reply.error.unwrap().kind, "ZeroDivisionError");
        assert!(parse_reply(line, 2).unwrap_err().contains("waiting for 2"));
        assert!(
            parse_reply(line, 4).unwrap().is_none(),
            "a late reply to request 3 is skipped"
        );
        assert!(
            parse_reply("{\"id\": 3}", 3)
                .unwrap_err()
                .contains("malformed")
        );
    }

    #[test]
    fn request_ids_rise_and_hide_the_next_one() {
        let ids = RequestIds::new();
        let taken: Vec<u64> = (0..64).map(|_| ids.next()).collect();
        assert!(taken.windows(2).all(|w| w[0] < w[1]), "{taken:?}");
        assert!(taken.iter().zip(1..).all(|(id, seq)| id >> 32 == seq));
        let low: std::collections::HashSet<u64> = taken.iter().map(|id| id & 0xffff_ffff).collect();
        assert!(low.len() > 60, "the low bits are random: {low:?}");
    }

    #[test]
    fn a_zygote_acknowledgement_is_told_from_a_reply() {
        assert_eq!(parse_ack("{\"ack\": 12}\n"), Some(12));
        assert_eq!(parse_ack("{\"ack\": null}"), None);
        let reply = r#"{"id": 3, "ok": true, "result": "1", "stdout": "{\"ack\": 3}", "stderr": "", "error": null, "exec_ns": 1, "truncated": false}"#;
        assert_eq!(parse_ack(reply), None);
    }

    #[test]
    fn reported_errors_are_told_from_raised_ones() {
        assert_eq!(Reported::count("Timeout"), ErrorKind::Timeout);
        assert_eq!(Reported::count("ChildDied"), ErrorKind::AgentDied);
        assert_eq!(Reported::count("ToolError"), ErrorKind::ToolError);
        assert_eq!(Reported::count("ZeroDivisionError"), ErrorKind::CodeError);
        assert_eq!(Reported::count("timeout"), ErrorKind::CodeError);
        // agent.py writes the names the harness reads.
        for name in ["Timeout", "ChildDied"] {
            assert!(SOURCE.contains(&format!("\"{name}\"")), "{name}");
        }
    }

    #[test]
    fn quoted_shows_what_would_not_show() {
        assert_eq!(quoted("2\n"), "'2\\n'");
        assert_ne!(quoted("2\n"), quoted("2"));
        assert_eq!(quoted("a\tb\u{1b}[0m\\"), "'a\\tb\\x1b[0m\\\\'");
        assert_eq!(quoted(&"é".repeat(300)).chars().count(), 123);
    }

    #[test]
    fn excerpt_cuts_long_lines_on_char_boundaries() {
        let long = "é".repeat(300);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), 123);
        assert!(e.ends_with("…'"));
    }

    #[test]
    fn oneshot_source_is_the_first_part_of_the_agent() {
        let oneshot = source(Mode::OneShot);
        assert!(oneshot.len() < SOURCE.len() && SOURCE.starts_with(oneshot));
        assert!(oneshot.contains("def run_call") && !oneshot.contains("def serve_fork"));
        assert_eq!(source(Mode::Loop), SOURCE);
        assert_eq!(source(Mode::Fork), SOURCE);
    }

    #[test]
    fn agent_selftest_passes_under_host_python() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/agent/agent_selftest.py");
        let out = std::process::Command::new("python3")
            .arg(path)
            .output()
            .expect("python3 is needed to test the agent");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(" passed, 0 failed"), "{text}");
    }
}
