//! The flags that declare MCP servers as backends (`--mcp NAME=COMMAND|URL` → `mcp:NAME`),
//! flattened into every command that reaches a sandbox.

use std::path::Path;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::error::usage;
use crate::mcp::{Answer, McpServer, Target};
use crate::sandbox::backend::{Backend, Catalog, McpBackend};

/// How an MCP tool answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AnswerArg {
    /// What the code printed: a line printing repr(result) (None when the code sets none) is
    /// appended and the last line checked
    Print,
    /// The tool's text is repr(result)
    Repr,
}

/// MCP servers measured as backends.
#[derive(Args, Debug)]
pub struct McpArgs {
    /// Add backend mcp:NAME: an MCP server started as COMMAND (stdio) or reached at URL
    /// (streamable HTTP); repeatable. With no --backends, the MCP servers alone run
    #[arg(long, value_name = "NAME=COMMAND|URL")]
    mcp: Vec<String>,
    /// The MCP tool that runs the code
    #[arg(long, value_name = "TOOL", default_value = "python_execute")]
    mcp_tool: String,
    /// The tool's argument that carries the code
    #[arg(long, value_name = "ARG", default_value = "code")]
    mcp_code_arg: String,
    /// How the tool answers, and so how its answer is checked
    #[arg(long, value_name = "MODE", value_enum, default_value_t = AnswerArg::Print)]
    mcp_answer: AnswerArg,
    /// The backend server NAME's tool runs on, to show its MCP layer (its latency minus that
    /// backend's, both in this run); repeatable. Read from the command for `sandbox-bench
    /// serve --backend B` and mcp/python_execute_server.py; give it for any other server
    #[arg(long, value_name = "NAME=BACKEND")]
    mcp_over: Vec<String>,
}

impl McpArgs {
    /// Declares the servers in `catalog`, each with the sandbox backend it runs over (resolved
    /// against the catalog's profiles), so that other flags may name `mcp:NAME`; returns their
    /// backends.
    pub fn declare(&self, catalog: &mut Catalog) -> anyhow::Result<Vec<Backend>> {
        let answer = match self.mcp_answer {
            AnswerArg::Print => Answer::Print,
            AnswerArg::Repr => Answer::Repr,
        };
        let mut servers = Vec::new();
        for spec in &self.mcp {
            let server = McpServer::parse(spec, &self.mcp_tool, &self.mcp_code_arg, answer)
                .map_err(|e| usage(format!("--mcp: {e}")))?;
            if servers
                .iter()
                .any(|(s, _): &(McpServer, _)| s.name == server.name)
            {
                if servers.iter().any(|(s, _)| *s == server) {
                    continue;
                }
                return Err(usage(format!(
                    "--mcp: MCP server '{}' is declared twice",
                    server.name
                )));
            }
            // Only a name this project knows is kept.
            let over = match &server.target {
                Target::Stdio(argv) => {
                    executor_of(argv).and_then(|b| catalog.parse_sandbox(&b).ok())
                }
                Target::Http(_) => None,
            };
            servers.push((server, over));
        }
        for spec in &self.mcp_over {
            let (name, backend) = spec
                .split_once('=')
                .ok_or_else(|| usage(format!("--mcp-over: '{spec}': write NAME=BACKEND")))?;
            let backend = catalog.parse_sandbox(backend).map_err(|_| {
                usage(format!(
                    "--mcp-over: '{}' is not a sandbox backend (e.g. compose:persistent)",
                    backend.trim()
                ))
            })?;
            let (_, over) = servers
                .iter_mut()
                .find(|(s, _)| s.name == name.trim())
                .ok_or_else(|| {
                    usage(format!(
                        "--mcp-over: no --mcp {}=… to go with it",
                        name.trim()
                    ))
                })?;
            *over = Some(backend);
        }
        catalog.mcp = servers
            .into_iter()
            .map(|(server, over)| McpBackend {
                server: Arc::new(server),
                over,
            })
            .collect();
        Ok(catalog.mcp_backends())
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
    let named = |a: &String, file: &str| Path::new(a).file_name().is_some_and(|f| f == file);
    if let Some(i) = argv.iter().position(|a| named(a, "sandbox-bench")) {
        if argv.get(i + 1).map(String::as_str) != Some("serve") {
            return None;
        }
        Some(value("--backend").unwrap_or_else(|| "compose:persistent".into()))
    } else if argv.iter().any(|a| named(a, "python_execute_server.py")) {
        Some(format!(
            "compose:{}",
            value("--executor").unwrap_or_else(|| "persistent".into())
        ))
    } else {
        None
    }
}

/// Adds the declared MCP backends to a backend list (the MCP backends alone when none is given).
pub fn with_mcp(backends: Option<Vec<Backend>>, mcp: Vec<Backend>) -> Option<Vec<Backend>> {
    if mcp.is_empty() {
        return backends;
    }
    let mut list = backends.unwrap_or_default();
    for b in mcp {
        if !list.contains(&b) {
            list.push(b);
        }
    }
    Some(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        mcp: McpArgs,
    }

    fn declared(args: &[&str]) -> anyhow::Result<Catalog> {
        let cli = Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))?;
        let mut catalog = Catalog::new(Path::new("c.yml"), "sandbox", Vec::new()).unwrap();
        cli.mcp.declare(&mut catalog)?;
        Ok(catalog)
    }

    fn over(spec: &str) -> Option<String> {
        let c = declared(&["--mcp", spec]).unwrap();
        c.mcp[0].over.as_ref().map(ToString::to_string)
    }

    #[test]
    fn this_projects_servers_say_what_they_run_on() {
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
    fn a_name_means_one_server_and_over_is_checked() {
        let c = declared(&["--mcp", "a=python3 a.py", "--mcp", "a=python3 a.py"]).unwrap();
        assert_eq!(c.mcp.len(), 1);
        assert_eq!(c.parse("mcp:a").unwrap().to_string(), "mcp:a");
        let e = declared(&["--mcp", "a=python3 a.py", "--mcp", "a=python3 b.py"]).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        let c = declared(&["--mcp", "a=python3 a.py", "--mcp-over", "a=compose:fork"]).unwrap();
        assert_eq!(c.mcp[0].over.as_ref().unwrap().to_string(), "compose:fork");
        for (bad, says) in [
            ("a=mcp:a", "not a sandbox backend"),
            ("b=compose:fork", "no --mcp b="),
            ("nothing", "NAME=BACKEND"),
        ] {
            let e = declared(&["--mcp", "a=python3 a.py", "--mcp-over", bad]).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
        assert!(declared(&["--mcp-answer", "json"]).is_err());
    }
}
