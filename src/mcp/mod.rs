//! MCP: any MCP server's Python tool as a backend (`mcp:NAME`, declared with `--mcp
//! NAME=TARGET`), reached with the official Rust SDK over stdio (a child process) or streamable
//! HTTP. `serve` (in `commands`) is the other side: an MCP server whose tool runs on a backend
//! of this project.

mod client;
mod leftovers;

use std::sync::Arc;

pub use client::{McpExecutor, ServerState, check_servers, end_of_run};
pub use leftovers::Leftover;

/// The tool `serve` offers.
pub const TOOL: &str = "python_execute";

/// The name `serve` gives itself at `initialize`, by which the client knows it.
pub const SERVER_NAME: &str = "sandbox-bench";

/// Where the server is: a command started as a child process (stdio), or a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdio(Vec<String>),
    Http(String),
}

/// How the tool answers, and so how the answer is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The tool's text is `repr(result)`: compared with the expected value as is.
    Repr,
    /// The tool returns what the code printed: `print(repr(globals().get('result')))` is
    /// appended to the code (so code that sets no `result` prints None) and the last line
    /// printed is compared. A JSON object answer with a `stdout` field (the
    /// original server's `{"status": …, "stdout": …}`) is read from that field.
    Print,
    /// The tool answers a JSON object: the print appended as in `Print`, the printed text read
    /// from one field, and an exit status other than 0 or an error in the others a tool error.
    Json(JsonFields),
}

/// The fields of a JSON answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonFields {
    /// What the code printed.
    pub stdout: String,
    /// An exit status: a number other than 0, `false`, or a string other than `success`,
    /// `ok` or `0` is a tool error.
    pub status: String,
    /// An error: any value but null, `false` or an empty string is a tool error.
    pub error: String,
}

impl Default for JsonFields {
    fn default() -> Self {
        JsonFields {
            stdout: "stdout".into(),
            status: "exit_code".into(),
            error: "error".into(),
        }
    }
}

/// How answer modes are written, for `--help` and errors.
pub const ANSWER_SYNTAX: &str = "print, repr, json or json:stdout=F,status=F,error=F";

impl Answer {
    /// Parses `print`, `repr`, `json` or `json:stdout=F,status=F,error=F` (any of the three,
    /// the others keeping their defaults `stdout`, `exit_code` and `error`).
    pub fn parse(text: &str) -> Result<Answer, String> {
        let text = text.trim();
        let (mode, fields) = match text.split_once(':') {
            Some((m, f)) => (m, Some(f)),
            None => (text, None),
        };
        match (mode, fields) {
            ("print", None) => Ok(Answer::Print),
            ("repr", None) => Ok(Answer::Repr),
            ("json", None) => Ok(Answer::Json(JsonFields::default())),
            ("json", Some(fields)) => {
                let mut json = JsonFields::default();
                for pair in fields.split(',') {
                    let (key, field) = pair.split_once('=').ok_or_else(|| {
                        format!("'{text}': write json:stdout=FIELD,status=FIELD,error=FIELD")
                    })?;
                    let field = field.trim();
                    if field.is_empty() {
                        return Err(format!("'{text}': '{}' needs a field name", key.trim()));
                    }
                    let slot = match key.trim() {
                        "stdout" => &mut json.stdout,
                        "status" => &mut json.status,
                        "error" => &mut json.error,
                        other => {
                            return Err(format!(
                                "'{text}': unknown field role '{other}' (stdout, status, error)"
                            ));
                        }
                    };
                    *slot = field.to_string();
                }
                Ok(Answer::Json(json))
            }
            _ => Err(format!("'{text}': an answer mode is {ANSWER_SYNTAX}")),
        }
    }

    /// Its name in results files: `print`, `repr`, or the JSON mode with its fields.
    pub fn name(&self) -> String {
        match self {
            Answer::Repr => "repr".into(),
            Answer::Print => "print".into(),
            Answer::Json(f) => {
                format!(
                    "json:stdout={},status={},error={}",
                    f.stdout, f.status, f.error
                )
            }
        }
    }

    /// Whether the code gets the print of its `result` appended.
    pub fn appends_print(&self) -> bool {
        !matches!(self, Answer::Repr)
    }
}

/// One declared MCP server: the backend `mcp:NAME`.
#[derive(Debug, Clone)]
pub struct McpServer {
    pub name: String,
    pub target: Target,
    /// The tool to call.
    pub tool: String,
    /// The tool's argument that carries the code.
    pub code_arg: String,
    pub answer: Answer,
    /// Leave the processes it left on the host running when the run ends.
    pub keep_leftovers: bool,
    /// What the run learnt of it: whether it is down, what it left behind.
    pub state: Arc<ServerState>,
}

impl PartialEq for McpServer {
    /// The same declaration (what the run learns of it aside).
    fn eq(&self, other: &Self) -> bool {
        (
            &self.name,
            &self.target,
            &self.tool,
            &self.code_arg,
            &self.answer,
        ) == (
            &other.name,
            &other.target,
            &other.tool,
            &other.code_arg,
            &other.answer,
        )
    }
}

impl Eq for McpServer {}

impl McpServer {
    /// Parses `NAME=COMMAND…` (stdio) or `NAME=http://127.0.0.1:PORT/mcp` (streamable HTTP).
    /// The tool, its code argument and the answer mode are the run-wide defaults; the caller
    /// sets a server's own.
    pub fn parse(text: &str, tool: &str, code_arg: &str, answer: Answer) -> Result<Self, String> {
        let Some((name, target)) = text.split_once('=') else {
            return Err(format!(
                "'{text}': write NAME=COMMAND (stdio) or NAME=http://HOST:PORT/PATH (HTTP)"
            ));
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(format!(
                "'{name}': an MCP server's name takes letters, digits, '-', '_' and '.'"
            ));
        }
        let target = target.trim();
        let target = if target.starts_with("http://") || target.starts_with("https://") {
            Target::Http(target.to_string())
        } else {
            let argv = shlex::split(target)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("'{target}': give the command that starts the server"))?;
            Target::Stdio(argv)
        };
        if tool.trim().is_empty() || code_arg.trim().is_empty() {
            return Err("the tool and its code argument need names".into());
        }
        Ok(McpServer {
            name: name.to_string(),
            target,
            tool: tool.to_string(),
            code_arg: code_arg.to_string(),
            answer,
            keep_leftovers: false,
            state: Arc::new(ServerState::default()),
        })
    }

    /// The server as its one-line description in a results file: the command or the URL.
    pub fn target_text(&self) -> String {
        match &self.target {
            Target::Stdio(argv) => {
                shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
            }
            Target::Http(url) => url.clone(),
        }
    }

    pub fn transport_name(&self) -> &'static str {
        match self.target {
            Target::Stdio(_) => "stdio",
            Target::Http(_) => "http",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_modes_parse_and_name_themselves() {
        for (text, name) in [
            ("print", "print"),
            ("repr", "repr"),
            ("json", "json:stdout=stdout,status=exit_code,error=error"),
            (
                "json:stdout=output, error=stderr",
                "json:stdout=output,status=exit_code,error=stderr",
            ),
        ] {
            let answer = Answer::parse(text).unwrap();
            assert_eq!(answer.name(), name);
            assert_eq!(Answer::parse(name).unwrap(), answer);
        }
        for bad in [
            "",
            "text",
            "print:x",
            "json:",
            "json:out=stdout",
            "json:stdout=",
        ] {
            assert!(Answer::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_commands_and_urls_and_refuses_the_rest() {
        let s = McpServer::parse(
            "sdk=python3 server.py --executor 'per-call'",
            "t",
            "code",
            Answer::Print,
        )
        .unwrap();
        assert_eq!(
            s.target,
            Target::Stdio(vec![
                "python3".into(),
                "server.py".into(),
                "--executor".into(),
                "per-call".into()
            ])
        );
        assert_eq!(s.transport_name(), "stdio");
        let h = McpServer::parse("h=http://127.0.0.1:8765/mcp", "t", "code", Answer::Repr).unwrap();
        assert_eq!(h.target, Target::Http("http://127.0.0.1:8765/mcp".into()));
        for bad in ["noequals", "=python3", "a b=python3", "x=", "x='unclosed"] {
            assert!(
                McpServer::parse(bad, "t", "code", Answer::Repr).is_err(),
                "{bad}"
            );
        }
    }
}
