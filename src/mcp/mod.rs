//! MCP: any MCP server's Python tool as a backend (`mcp:NAME`, declared with `--mcp
//! NAME=TARGET`), reached with the official Rust SDK over stdio (a child process) or streamable
//! HTTP. `serve` (in `commands`) is the other side: an MCP server whose tool runs on a backend
//! of this project.

mod client;

pub use client::McpExecutor;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The tool's text is `repr(result)`: compared with the expected value as is.
    Repr,
    /// The tool returns what the code printed: `print(repr(globals().get('result')))` is
    /// appended to the code (so code that sets no `result` prints None) and the last line
    /// printed is compared. A JSON object answer with a `stdout` field (the
    /// original server's `{"status": …, "stdout": …}`) is read from that field.
    Print,
}

impl Answer {
    /// Its name in results files.
    pub fn name(self) -> &'static str {
        match self {
            Answer::Repr => "repr",
            Answer::Print => "print",
        }
    }
}

/// One declared MCP server: the backend `mcp:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServer {
    pub name: String,
    pub target: Target,
    /// The tool to call.
    pub tool: String,
    /// The tool's argument that carries the code.
    pub code_arg: String,
    pub answer: Answer,
}

impl McpServer {
    /// Parses `NAME=COMMAND…` (stdio) or `NAME=http://127.0.0.1:PORT/mcp` (streamable HTTP).
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
