//! The flags that declare MCP servers as backends (`--mcp NAME=COMMAND|URL` → `mcp:NAME`),
//! flattened into every command that reaches a sandbox.

use std::path::Path;
use std::sync::Arc;

use clap::Args;

use crate::error::usage;
use crate::mcp::{ANSWER_SYNTAX, Answer, McpServer, Target};
use crate::sandbox::backend::{Backend, Catalog, McpBackend};

/// MCP servers measured as backends. Each setting is given for every server (`--mcp-tool
/// execute`) or for one (`--mcp-tool B=execute`), the second winning.
#[derive(Args, Debug)]
pub struct McpArgs {
    /// Add backend mcp:NAME: an MCP server started as COMMAND (stdio) or reached at URL
    /// (streamable HTTP); repeatable. With no --backends, the MCP servers alone run
    #[arg(long, value_name = "NAME=COMMAND|URL")]
    mcp: Vec<String>,
    /// The MCP tool that runs the code [default: python_execute]; NAME=TOOL for server NAME
    /// alone; repeatable
    #[arg(long, value_name = "[NAME=]TOOL")]
    mcp_tool: Vec<String>,
    /// The tool's argument that carries the code [default: code]; NAME=ARG for server NAME
    /// alone; repeatable
    #[arg(long, value_name = "[NAME=]ARG")]
    mcp_code_arg: Vec<String>,
    /// How the tool answers [default: print]: print (what the code printed; a line printing
    /// repr(result) is appended and the last line checked), repr (the text is repr(result)),
    /// json[:stdout=F,status=F,error=F] (an object: printed text in field stdout, an exit
    /// status other than 0 in exit_code or an error in error is a tool error); NAME=MODE for
    /// server NAME alone; repeatable
    #[arg(long, value_name = "[NAME=]MODE")]
    mcp_answer: Vec<String>,
    /// The backend server NAME's tool runs on, to show its MCP layer (its latency minus that
    /// backend's, both in this run); repeatable. Read from the command for `sandbox-bench
    /// serve --backend B` and mcp/python_execute_server.py; give it for any other server
    #[arg(long, value_name = "NAME=BACKEND")]
    mcp_over: Vec<String>,
    /// Leave running the processes MCP servers left on the host (found when each session
    /// ends and reported); by default they are killed when the run ends
    #[arg(long)]
    mcp_keep_leftovers: bool,
}

/// One setting given for every server and for some by name.
struct PerServer<T> {
    flag: &'static str,
    all: T,
    named: Vec<(String, T)>,
}

impl<T: Clone> PerServer<T> {
    /// Reads `[NAME=]VALUE` values; `run_wide` tells a value for every server apart from
    /// `NAME=VALUE` when the value itself may hold '='.
    fn read(
        flag: &'static str,
        default: T,
        values: &[String],
        run_wide: impl Fn(&str) -> bool,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> anyhow::Result<Self> {
        let mut setting = PerServer {
            flag,
            all: default,
            named: Vec::new(),
        };
        let mut given_all = false;
        for text in values {
            let text = text.trim();
            match text.split_once('=').filter(|_| !run_wide(text)) {
                Some((name, value)) => {
                    let name = name.trim().to_string();
                    if setting.named.iter().any(|(n, _)| *n == name) {
                        return Err(usage(format!("{flag}: server '{name}' is named twice")));
                    }
                    let value = parse(value.trim()).map_err(|e| usage(format!("{flag}: {e}")))?;
                    setting.named.push((name, value));
                }
                None => {
                    if given_all {
                        return Err(usage(format!(
                            "{flag}: given twice for every server: write NAME=VALUE for one"
                        )));
                    }
                    given_all = true;
                    setting.all = parse(text).map_err(|e| usage(format!("{flag}: {e}")))?;
                }
            }
        }
        Ok(setting)
    }

    fn of(&self, server: &str) -> T {
        self.named
            .iter()
            .find(|(n, _)| n == server)
            .map_or_else(|| self.all.clone(), |(_, v)| v.clone())
    }

    /// Refuses a name that no `--mcp` declares.
    fn check(&self, servers: &[&str]) -> anyhow::Result<()> {
        match self
            .named
            .iter()
            .find(|(n, _)| !servers.contains(&n.as_str()))
        {
            Some((name, _)) => Err(usage(format!(
                "{}: no --mcp {name}=… to go with it",
                self.flag
            ))),
            None => Ok(()),
        }
    }
}

/// A tool's or argument's name.
fn name_of(what: &str) -> impl Fn(&str) -> Result<String, String> + '_ {
    move |text: &str| {
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Err(format!("'{text}': give the {what}'s name"))
        } else {
            Ok(text.to_string())
        }
    }
}

impl McpArgs {
    /// Declares the servers in `catalog`, each with its settings and the sandbox backend it
    /// runs over (resolved against the catalog's profiles), so that other flags may name
    /// `mcp:NAME`; returns their backends.
    pub fn declare(&self, catalog: &mut Catalog) -> anyhow::Result<Vec<Backend>> {
        let tools = PerServer::read(
            "--mcp-tool",
            crate::mcp::TOOL.to_string(),
            &self.mcp_tool,
            |_| false,
            name_of("tool"),
        )?;
        let code_args = PerServer::read(
            "--mcp-code-arg",
            "code".to_string(),
            &self.mcp_code_arg,
            |_| false,
            name_of("code argument"),
        )?;
        // `json:stdout=out` is a mode for every server, not a server named `json:stdout`.
        let answers = PerServer::read(
            "--mcp-answer",
            Answer::Print,
            &self.mcp_answer,
            |t| t.starts_with("json:"),
            |t| {
                Answer::parse(t)
                    .map_err(|e| format!("{e}; write [NAME=]MODE, MODE one of {ANSWER_SYNTAX}"))
            },
        )?;
        let mut servers = Vec::new();
        for spec in &self.mcp {
            let mut server = McpServer::parse(spec, crate::mcp::TOOL, "code", Answer::Print)
                .map_err(|e| usage(format!("--mcp: {e}")))?;
            server.tool = tools.of(&server.name);
            server.code_arg = code_args.of(&server.name);
            server.answer = answers.of(&server.name);
            server.keep_leftovers = self.mcp_keep_leftovers;
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
        let names: Vec<&str> = servers.iter().map(|(s, _)| s.name.as_str()).collect();
        tools.check(&names)?;
        code_args.check(&names)?;
        answers.check(&names)?;
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
        assert!(declared(&["--mcp-answer", "yaml"]).is_err());
    }

    #[test]
    fn settings_are_per_server_with_run_wide_defaults() {
        let c = declared(&[
            "--mcp",
            "a=python3 a.py",
            "--mcp",
            "b=python3 b.py",
            "--mcp",
            "c=python3 c.py",
            "--mcp-tool",
            "run_code",
            "--mcp-tool",
            "b=execute",
            "--mcp-code-arg",
            "c=source",
            "--mcp-answer",
            "json:stdout=out",
            "--mcp-answer",
            "a=repr",
            "--mcp-keep-leftovers",
        ])
        .unwrap();
        let got: Vec<(&str, &str, &str, String, bool)> = c
            .mcp
            .iter()
            .map(|m| {
                let s = &m.server;
                (
                    s.name.as_str(),
                    s.tool.as_str(),
                    s.code_arg.as_str(),
                    s.answer.name(),
                    s.keep_leftovers,
                )
            })
            .collect();
        let json = "json:stdout=out,status=exit_code,error=error".to_string();
        assert_eq!(
            got,
            [
                ("a", "run_code", "code", "repr".to_string(), true),
                ("b", "execute", "code", json.clone(), true),
                ("c", "run_code", "source", json, true),
            ]
        );
        // The defaults, when nothing is given.
        let d = declared(&["--mcp", "a=python3 a.py"]).unwrap();
        let s = &d.mcp[0].server;
        assert_eq!(
            (
                s.tool.as_str(),
                s.code_arg.as_str(),
                s.answer.name(),
                s.keep_leftovers
            ),
            ("python_execute", "code", "print".to_string(), false)
        );
        for (bad, says) in [
            (["--mcp-tool", "z=execute"], "no --mcp z="),
            (["--mcp-answer", "a=yaml"], "an answer mode is"),
            (["--mcp-answer", "json:stdout"], "json:stdout=FIELD"),
            (["--mcp-code-arg", "a="], "give the code argument's name"),
            (["--mcp-tool", "two words"], "give the tool's name"),
        ] {
            let args = ["--mcp", "a=python3 a.py", bad[0], bad[1]];
            let e = declared(&args).unwrap_err();
            assert!(e.to_string().contains(says), "{bad:?}: {e}");
        }
        let twice = ["--mcp", "a=x", "--mcp-tool", "t", "--mcp-tool", "u"];
        assert!(declared(&twice).unwrap_err().to_string().contains("twice"));
        let twice = ["--mcp", "a=x", "--mcp-tool", "a=t", "--mcp-tool", "a=u"];
        assert!(declared(&twice).unwrap_err().to_string().contains("twice"));
    }
}
