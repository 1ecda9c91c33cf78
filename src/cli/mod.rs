//! The command line: clap parses here (one file per command's flags, one parser per kind of
//! value), and the flags are checked and turned once into typed options, so nothing past this
//! folder sees clap or a raw string. `main` maps each subcommand to its function in `commands`.

mod compare_args;
mod display_args;
mod gate_args;
mod mcp_args;
mod probe_args;
mod report_args;
mod run_args;
mod sandbox_args;
mod serve_args;
mod values;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::error::UsageError;
use probe_args::{ProbeArgs, SoakArgs};
use run_args::RunArgs;

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
    #[command(after_help = run_args::after_run_help())]
    Run(Box<RunArgs>),
    /// Run hostile code (loops, crashes, bombs, floods) through the backends: each must give a
    /// clear error, recover, and leave no process behind.
    Faults(ProbeArgs),
    /// Check whether what one call leaves (variables, imports, files…) reaches the next.
    Isolation(ProbeArgs),
    /// Make many checked calls on one executor and report errors and the agent's memory.
    Soak(SoakArgs),
    /// Serve an MCP server whose python_execute tool runs code on a backend of this project,
    /// over stdio or streamable HTTP on 127.0.0.1.
    #[command(after_help = serve_args::AFTER_SERVE_HELP)]
    Serve(serve_args::ServeArgs),
    /// List the transports, strategies, aliases and workloads that `run` accepts.
    List {
        /// Folder of workload files.
        #[arg(long, value_name = "DIR", default_value = "workloads")]
        workloads_dir: std::path::PathBuf,
    },
    /// Re-render a saved results file: console tables, Markdown, JSON or a self-contained HTML
    /// page with plots; optionally export its histograms as .hgrm files.
    Report(report_args::ReportArgs),
    /// Compare two results files row by row, with bootstrap intervals from their histograms;
    /// exit 1 when a row is slower beyond the threshold, or NEW lost calls or the row.
    Compare(compare_args::CompareArgs),
    /// Fail (exit 1) when a backend lost too much of its speed-up over the run's baseline
    /// backend, compared with a reference run (robust to a slower machine), or lost calls.
    Gate(gate_args::GateArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The command-line definition, to check command lines shown in the documentation.
pub fn definition() -> clap::Command {
    use clap::CommandFactory;
    Cli::command()
}

/// Parses the command line, runs the command, and maps errors to exit codes: 2 for input the
/// user can fix, 1 for a failed run.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => refused(e),
    };
    let outcome = match cli.command {
        Command::Run(args) => args.options().and_then(commands::run::run),
        Command::Faults(args) => args
            .into_options("faults_results.json")
            .and_then(|o| commands::faults::faults(&o)),
        Command::Isolation(args) => args
            .into_options("isolation_results.json")
            .and_then(|o| commands::isolation::isolation(&o)),
        Command::Soak(args) => {
            let limit = args.limit();
            args.probe
                .into_options("soak_results.json")
                .and_then(|o| commands::soak::soak(&o, limit, &args.workloads_dir))
        }
        Command::Serve(args) => args.options().and_then(commands::serve::serve),
        Command::List { workloads_dir } => commands::list::list(&workloads_dir),
        Command::Report(args) => args.options().and_then(commands::report::report),
        Command::Compare(args) => args.options().and_then(commands::compare::compare),
        Command::Gate(args) => args.options().and_then(commands::gate::gate),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "sandbox-bench", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", one_line(&format!("{error:#}")));
            if error.downcast_ref::<UsageError>().is_some()
                || error
                    .downcast_ref::<crate::bench::workload::WorkloadError>()
                    .is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Exits on a command line clap refused: as clap prints it, except a value that a flag's parser
/// refused, which gets one line naming the flag and exit code 2, as any other input the user
/// can fix.
fn refused(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::ValueValidation
        && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
        && let Some(why) = std::error::Error::source(&e)
    {
        // `--timeout <SECS>`: the flag without its placeholder.
        let flag = arg.split_whitespace().next().unwrap_or(arg);
        eprintln!("error: {}", one_line(&format!("{flag}: {why}")));
        std::process::exit(2);
    }
    e.exit()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
