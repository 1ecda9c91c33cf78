//! MCP: any MCP server's Python tool as a backend (`mcp:NAME`, declared with `--mcp
//! NAME=TARGET`), reached with the official Rust SDK over stdio (a child process) or streamable
//! HTTP; and `serve`, an MCP server whose tool runs on a backend of this project.

mod client;
pub mod serve;

pub use client::McpExecutor;

use std::sync::{Mutex, OnceLock};

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
    pub fn parse(text: &str) -> Result<Answer, String> {
        match text {
            "repr" => Ok(Answer::Repr),
            "print" => Ok(Answer::Print),
            _ => Err(format!("'{text}': write repr or print")),
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
    /// The backend whose executor the server's tool runs on (`--mcp-over NAME=BACKEND`, or
    /// read from the command of this project's two servers): the MCP layer is this server's
    /// latency minus that backend's, measured in the same run.
    pub over: Option<String>,
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
        let over = match &target {
            Target::Stdio(argv) => executor_of(argv),
            Target::Http(_) => None,
        };
        Ok(McpServer {
            name: name.to_string(),
            target,
            tool: tool.to_string(),
            code_arg: code_arg.to_string(),
            answer,
            over,
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

/// The backend a server started by `argv` runs its tool on, when the command is one of this
/// project's servers: `sandbox-bench serve --backend B` runs on B (compose:persistent by
/// default); the reproduction `python_execute_server.py --executor E` runs `docker compose exec`
/// per call or one persistent interpreter through it, so compose:E.
fn executor_of(argv: &[String]) -> Option<String> {
    let value = |flag: &str| {
        let eq = format!("{flag}=");
        argv.iter().enumerate().find_map(|(i, a)| {
            if a == flag {
                argv.get(i + 1).cloned()
            } else {
                a.strip_prefix(&eq).map(str::to_string)
            }
        })
    };
    let named = |a: &String, file: &str| {
        std::path::Path::new(a)
            .file_name()
            .is_some_and(|f| f == file)
    };
    let backend = if let Some(i) = argv.iter().position(|a| named(a, "sandbox-bench")) {
        if argv.get(i + 1).map(String::as_str) != Some("serve") {
            return None;
        }
        value("--backend").unwrap_or_else(|| "compose:persistent".into())
    } else if argv.iter().any(|a| named(a, "python_execute_server.py")) {
        format!(
            "compose:{}",
            value("--executor").unwrap_or_else(|| "persistent".into())
        )
    } else {
        return None;
    };
    // Only a name this project knows is kept, written the way its results write it.
    crate::sandbox::backend::Backend::parse(&backend)
        .ok()
        .filter(|b| b.transport != crate::sandbox::backend::TransportKind::Mcp)
        .map(|b| b.to_string())
}

/// The servers declared in this process; backends refer to them by name.
fn registry() -> &'static Mutex<Vec<&'static McpServer>> {
    static SERVERS: OnceLock<Mutex<Vec<&'static McpServer>>> = OnceLock::new();
    SERVERS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Declares a server so that `mcp:NAME` names it; refuses a name declared twice with another
/// target. Declarations live as long as the process (a handful per run).
pub fn declare(server: McpServer) -> Result<&'static McpServer, String> {
    let mut servers = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = servers.iter().find(|s| s.name == server.name) {
        if **known == server {
            return Ok(known);
        }
        return Err(format!("MCP server '{}' is declared twice", server.name));
    }
    let server: &'static McpServer = Box::leak(Box::new(server));
    servers.push(server);
    Ok(server)
}

/// The declared server called `name`.
pub fn lookup(name: &str) -> Result<&'static McpServer, String> {
    let servers = registry().lock().unwrap_or_else(|e| e.into_inner());
    servers
        .iter()
        .find(|s| s.name == name)
        .copied()
        .ok_or_else(|| {
            format!("no MCP server '{name}' declared: add --mcp {name}=COMMAND or --mcp {name}=URL")
        })
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
        assert!(Answer::parse("json").is_err());
    }

    #[test]
    fn this_projects_servers_say_what_they_run_on() {
        let over = |spec: &str| {
            McpServer::parse(spec, "t", "code", Answer::Print)
                .unwrap()
                .over
        };
        assert_eq!(
            over("a=target/release/sandbox-bench serve --backend compose:fork").as_deref(),
            Some("compose:fork")
        );
        assert_eq!(
            over("a=sandbox-bench serve --backend=persistent --timeout 5").as_deref(),
            Some("compose:persistent")
        );
        assert_eq!(
            over("a=sandbox-bench serve").as_deref(),
            Some("compose:persistent")
        );
        assert_eq!(
            over(".a=.venv-mcp/bin/python mcp/python_execute_server.py --executor per-call")
                .as_deref(),
            Some("compose:per-call")
        );
        assert_eq!(
            over("a=python3 mcp/python_execute_server.py").as_deref(),
            Some("compose:persistent")
        );
        // Someone else's server, another subcommand, an unknown backend: nothing is guessed.
        assert_eq!(over("a=python3 my_server.py --backend compose:fork"), None);
        assert_eq!(over("a=sandbox-bench run --backend compose:fork"), None);
        assert_eq!(over("a=sandbox-bench serve --backend warp:drive"), None);
        assert_eq!(over("a=http://127.0.0.1:1/mcp"), None);
    }

    #[test]
    fn a_name_means_one_server() {
        let a = McpServer::parse("reg-a=python3 a.py", "t", "code", Answer::Print).unwrap();
        let again = a.clone();
        let other = McpServer::parse("reg-a=python3 b.py", "t", "code", Answer::Print).unwrap();
        declare(a).unwrap();
        declare(again).unwrap();
        assert!(declare(other).unwrap_err().contains("twice"));
        assert_eq!(lookup("reg-a").unwrap().name, "reg-a");
        assert!(
            lookup("reg-missing")
                .unwrap_err()
                .contains("--mcp reg-missing=")
        );
    }
}
