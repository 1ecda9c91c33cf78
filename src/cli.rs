//! The command line: clap parses here, and the flags are checked and turned once into typed
//! options, so nothing past this file sees clap or a raw string.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::backend::Backend;
use crate::commands::{self, RunOptions};
use crate::error::{UsageError, usage};
use crate::runner::Load;

mod offline;

const AFTER_RUN_HELP: &str = "\
Backends are named transport:strategy:
  transports  local      the host's python3, no sandbox (trusted code only)
              compose    `docker compose exec -T <service>` in the Compose sandbox
              docker     `docker exec -i <container>` on the Compose service's container
              api        the Docker Engine API (exec create/start/attach), no CLI process
              socket     a unix socket into the Compose container, past the daemon
              cmd        any command prefix given with --prefix (kubectl/podman exec -i …)
              container  `docker compose run --rm -T <service>`: a new container per start
  strategies  per-call    a fresh interpreter for every call (full isolation)
              persistent  one long-lived interpreter fed over pipes (fresh globals only)
              pool=N      N persistent interpreters, each call to an idle one
              fork        a warm zygote forks a fresh child per call (process isolation)
              reset[=K]   persistent, state restored after each call, restart every K (1000)
  aliases     compose-exec = compose:per-call   (the original baseline)
              persistent   = compose:persistent (the original optimization)

First each backend answers --calibration empty calls: its floor. Then each backend × workload
starts on a fresh executor: its first call, start-up included, is reported as the cold start;
then --warmup calls; then the measured calls, in --rounds interleaved rounds (a seeded shuffle
of every backend × workload in each round) when two or more backends run. Every reply is
checked against the workload's expected result; failed calls are counted, never timed.
Warnings after the tables say when a figure cannot be trusted.

Examples:
  sandbox-bench run
  sandbox-bench run --backends local:per-call,local:persistent --calls-scale 0.2
  sandbox-bench run --workloads simple_calc,json_parsing --output /tmp/r.json
  sandbox-bench run --backends compose:persistent,compose:pool=2 --concurrency 2
  sandbox-bench run --backends compose:per-call --rate 10 --duration 5
  sandbox-bench run --backends cmd:persistent --prefix \"kubectl exec -i my-pod --\"
  sandbox-bench run --backends compose:persistent \\
      --mcp \"sdk=.venv-mcp/bin/python mcp/python_execute_server.py --executor persistent\" \\
      --mcp http=http://127.0.0.1:8765/mcp";

/// Measures executor strategies for untrusted Python side by side, with every answer checked.
#[derive(Parser, Debug)]
#[command(name = "sandbox-bench", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the workloads through the backends and report latency, throughput and cold start.
    #[command(after_help = AFTER_RUN_HELP)]
    Run(Box<RunArgs>),
    /// Run hostile code (loops, crashes, bombs, floods) through the backends: each must give a
    /// clear error, recover, and leave no process behind.
    Faults(crate::probe_cli::ProbeArgs),
    /// Check whether what one call leaves (variables, imports, files…) reaches the next.
    Isolation(crate::probe_cli::ProbeArgs),
    /// Make many checked calls on one executor and report errors and the agent's memory.
    Soak(crate::probe_cli::SoakArgs),
    /// List the transports, strategies, aliases and workloads that `run` accepts.
    List {
        /// Folder of workload files.
        #[arg(long, value_name = "DIR", default_value = "workloads")]
        workloads_dir: PathBuf,
    },
    /// Re-render a saved results file: console tables, Markdown, JSON or a self-contained HTML
    /// page with plots; optionally export its histograms as .hgrm files.
    Report(offline::ReportArgs),
    /// Compare two results files row by row, with bootstrap intervals from their histograms;
    /// exit 1 when a row is slower beyond the threshold.
    Compare(offline::CompareArgs),
    /// Fail (exit 1) when a backend lost too much of its speed-up over the run's baseline
    /// backend, compared with a reference run: robust to a slower machine.
    Gate(offline::GateArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Comma-separated backends [default: compose-exec,persistent when a Docker engine
    /// answers, else local:per-call,local:persistent]
    #[arg(short, long, value_name = "LIST")]
    backends: Option<String>,
    /// Comma-separated workload names [default: every file in --workloads-dir]
    #[arg(short, long, value_name = "LIST")]
    workloads: Option<String>,
    /// Folder of workload files (*.toml)
    #[arg(long, value_name = "DIR", default_value = "workloads")]
    workloads_dir: PathBuf,
    /// Multiply every workload's calls by F (at least one call per case)
    #[arg(
        long,
        value_name = "F",
        default_value = "1.0",
        allow_negative_numbers = true
    )]
    calls_scale: String,
    /// Warm-up calls after the cold start, excluded from statistics
    #[arg(long, value_name = "N", default_value_t = 2)]
    warmup: usize,
    /// Seconds a call may take before it counts as a timeout error
    #[arg(
        long,
        value_name = "SECS",
        default_value = "30",
        allow_negative_numbers = true
    )]
    timeout: String,
    /// Results file (a timestamped copy also goes to results/ beside it)
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "benchmark_results.json"
    )]
    output: PathBuf,
    /// Compose file of the sandbox service
    #[arg(long, value_name = "FILE", default_value = "docker-compose.yml")]
    compose_file: PathBuf,
    /// Compose service the code runs in
    #[arg(long, value_name = "NAME", default_value = "sandbox")]
    service: String,
    /// Python interpreter to start (on the host for local, in the sandbox for compose)
    #[arg(long, value_name = "CMD", default_value = "python3")]
    python: String,
    /// Command prefix of the `cmd` transport, split as a shell would ("podman exec -i box")
    #[arg(long, value_name = "COMMAND")]
    prefix: Option<String>,
    /// Backend the others are compared against [default: the first of --backends]
    #[arg(long, value_name = "BACKEND")]
    baseline: Option<String>,
    /// Order of the calls: interleaved (seeded-shuffled rounds) or sequential (one block per
    /// backend × workload) [default: interleaved with two or more backends]
    #[arg(long, value_name = "ORDER", value_parser = ["interleaved", "sequential"])]
    order: Option<String>,
    /// Seed of the interleaved order; the results file records the one used
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Rounds of the interleaved order: each runs a slice of every backend × workload
    #[arg(long, value_name = "N", default_value_t = 10)]
    rounds: usize,
    /// Empty calls per backend measured first, as its floor (0 to skip)
    #[arg(long, value_name = "N", default_value_t = 20)]
    calibration: usize,
    /// Closed-loop clients calling at once (with --rate: clients serving the open loop)
    #[arg(
        short,
        long,
        value_name = "C",
        default_value = "1",
        allow_negative_numbers = true
    )]
    concurrency: String,
    /// Open loop: start R calls per second whatever the backend's speed, for --duration per
    /// backend × workload; latency counts from each call's intended start
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    rate: Option<String>,
    /// Seconds of each backend × workload's open loop (with --rate)
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        allow_negative_numbers = true
    )]
    duration: String,
    /// Comma-separated modules every agent imports once at start (e.g. json,decimal)
    #[arg(long, value_name = "MODULES")]
    preload: Option<String>,
    #[command(flatten)]
    mcp: McpArgs,
    /// No progress bar and no notices; tables still go to stdout
    #[arg(short, long)]
    quiet: bool,
    /// Also write each histogram's percentile distribution (.hgrm, values in ms) into DIR
    #[arg(long, value_name = "DIR")]
    export_hgrm: Option<PathBuf>,
}

/// MCP servers measured as backends.
#[derive(Args, Debug, Clone)]
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
    /// How the tool answers: print (what the code printed; `print(repr(result))` is appended
    /// and the last line checked) or repr (the text is repr(result))
    #[arg(long, value_name = "MODE", default_value = "print", value_parser = ["print", "repr"])]
    mcp_answer: String,
}

impl McpArgs {
    /// Declares the servers and returns their backends.
    pub fn backends(&self) -> anyhow::Result<Vec<Backend>> {
        let answer = crate::mcp::Answer::parse(&self.mcp_answer).map_err(usage)?;
        self.mcp
            .iter()
            .map(|spec| {
                let server =
                    crate::mcp::McpServer::parse(spec, &self.mcp_tool, &self.mcp_code_arg, answer)
                        .and_then(crate::mcp::declare)
                        .map_err(|e| usage(format!("--mcp: {e}")))?;
                Ok(Backend {
                    transport: crate::backend::TransportKind::Mcp,
                    strategy: crate::strategy::Strategy::Mcp(server),
                })
            })
            .collect()
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

/// Parses the command line, runs the command, and maps errors to exit codes: 2 for input the
/// user can fix, 1 for a failed run.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run_options(*args).and_then(commands::run),
        Command::List { workloads_dir } => commands::list(&workloads_dir),
        Command::Report(args) => args.options().and_then(commands::offline::report),
        Command::Compare(args) => args.options().and_then(commands::offline::compare),
        Command::Gate(args) => args.options().and_then(commands::offline::gate),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "sandbox-bench", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Faults(args) => args
            .into_options("faults_results.json")
            .and_then(|o| crate::probe_commands::faults(&o)),
        Command::Isolation(args) => args
            .into_options("isolation_results.json")
            .and_then(|o| crate::probe_commands::isolation(&o)),
        Command::Soak(args) => args
            .probe
            .into_options("soak_results.json")
            .and_then(|o| crate::probe_commands::soak(&o, args.calls, &args.workloads_dir)),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", one_line(&format!("{error:#}")));
            if error.downcast_ref::<UsageError>().is_some()
                || error
                    .downcast_ref::<crate::workload::WorkloadError>()
                    .is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run_options(args: RunArgs) -> anyhow::Result<RunOptions> {
    // Declared first, so that --backends and --baseline may name mcp:NAME.
    let mcp = args.mcp.backends()?;
    let backends = match &args.backends {
        Some(list) => {
            Some(Backend::parse_list(list).map_err(|e| usage(format!("--backends: {e}")))?)
        }
        None => None,
    };
    let backends = with_mcp(backends, mcp);
    let baseline = match &args.baseline {
        Some(b) => Some(Backend::parse(b).map_err(|e| usage(format!("--baseline: {e}")))?),
        None => None,
    };
    let workloads = args.workloads.as_deref().map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect::<Vec<_>>()
    });
    if workloads.as_ref().is_some_and(Vec::is_empty) {
        return Err(usage("--workloads: no workload named"));
    }
    let calls_scale = positive("--calls-scale", &args.calls_scale, 1e6)?;
    let timeout = positive("--timeout", &args.timeout, 86_400.0)?;
    let concurrency = positive("--concurrency", &args.concurrency, 256.0)?;
    if concurrency.fract() != 0.0 {
        return Err(usage(format!(
            "--concurrency: '{}' is not a whole number",
            args.concurrency
        )));
    }
    let concurrency = concurrency as usize;
    let load = match &args.rate {
        Some(rate) => Load::Open {
            rate: positive("--rate", rate, 100_000.0)?,
            duration: Duration::from_secs_f64(positive("--duration", &args.duration, 86_400.0)?),
            concurrency,
        },
        None => Load::Closed { concurrency },
    };
    let preload: Vec<String> = args
        .preload
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(String::from)
        .collect();
    if let Some(bad) = preload.iter().find(|m| {
        !m.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    }) {
        return Err(usage(format!("--preload: '{bad}' is not a module name")));
    }
    if args.rounds == 0 {
        return Err(usage("--rounds: give at least 1"));
    }
    if args.service.trim().is_empty() {
        return Err(usage("--service: give the Compose service name"));
    }
    Ok(RunOptions {
        backends,
        baseline,
        workloads,
        workloads_dir: args.workloads_dir,
        calls_scale,
        warmup: args.warmup,
        timeout: Duration::from_secs_f64(timeout),
        output: args.output,
        compose_file: args.compose_file,
        service: args.service,
        python: args.python,
        prefix: args
            .prefix
            .as_deref()
            .map(crate::transport::parse_prefix)
            .transpose()
            .map_err(usage)?,
        quiet: args.quiet,
        interleave: args.order.as_deref().map(|o| o == "interleaved"),
        seed: args.seed,
        rounds: args.rounds,
        calibration: args.calibration,
        load,
        preload,
        export_hgrm: args.export_hgrm,
    })
}

/// A number above zero and at most `max`, or a usage error naming the flag.
fn positive(flag: &str, text: &str, max: f64) -> anyhow::Result<f64> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= max => Ok(x),
        _ => Err(usage(format!(
            "{flag}: '{text}' is not a number above 0 and at most {max}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_be_positive_and_bounded() {
        assert_eq!(positive("--timeout", "2.5", 10.0).unwrap(), 2.5);
        for bad in ["0", "-1", "abc", "inf", "NaN", "11"] {
            let e = positive("--timeout", bad, 10.0).unwrap_err().to_string();
            assert!(e.starts_with("--timeout: '") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
