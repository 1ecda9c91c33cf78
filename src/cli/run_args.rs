//! Flags of `run`, checked and turned once into `RunOptions`; the help text after the flags is
//! generated from the registry of transports, strategies and aliases, so it cannot drift.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::display_args::DisplayArgs;
use super::sandbox_args::SandboxArgs;
use super::values;
use crate::agent::{DEFAULT_SPIN_US, MAX_SPIN_US, WaitMode};
use crate::bench::runner::Load;
use crate::commands::run::RunOptions;
use crate::error::usage;
use crate::sandbox::backend::{ALIASES, TransportKind};
use crate::sandbox::profile;
use crate::strategy::STRATEGIES;

const RUN_METHOD: &str = "\
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
  sandbox-bench run --backends api:per-call,api@podman:per-call   (Podman: docs/podman.md)
  sandbox-bench run --backends compose:persistent \\
      --mcp \"sdk=.venv-mcp/bin/python mcp/python_execute_server.py --executor persistent\" \\
      --mcp http=http://127.0.0.1:8765/mcp
  sandbox-bench run --mcp \"a=python3 a_server.py\" --mcp \"b=python3 b_server.py\" \\
      --mcp-tool b=execute --mcp-answer b=json:stdout=output,status=exit_code";

/// The text after `run --help`'s flags: the backend registry, then how a run goes.
pub fn after_run_help() -> String {
    let mut text =
        String::from("Backends are named transport:strategy, or transport@profile:strategy:\n");
    for (i, t) in TransportKind::ALL.iter().enumerate() {
        let head = if i == 0 { "transports" } else { "" };
        text += &format!("  {head:<10}  {:<9}  {}\n", t.name(), t.about());
    }
    for (i, (name, about)) in profile::ABOUT.iter().enumerate() {
        let head = if i == 0 { "profiles" } else { "" };
        text += &format!("  {head:<10}  {name:<9}  {about}\n");
    }
    text += &format!("  {:<10}  {:<9}  {}\n", "", "keys", profile::KEYS);
    text += &format!(
        "  {:<10}  {:<9}  {}\n",
        "", "P1+P2", "transport@P1+P2:pool=N: the pool's slots dealt over both engines"
    );
    for (i, (name, about)) in STRATEGIES.iter().enumerate() {
        let head = if i == 0 { "strategies" } else { "" };
        text += &format!("  {head:<10}  {name:<10}  {about}\n");
    }
    for (i, (alias, full)) in ALIASES.iter().enumerate() {
        let head = if i == 0 { "aliases" } else { "" };
        text += &format!("  {head:<10}  {alias:<12} = {full}\n");
    }
    text.push('\n');
    text + RUN_METHOD
}

/// How the calls of the backend × workload pairs are ordered.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum OrderArg {
    Interleaved,
    Sequential,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    sandbox: SandboxArgs,
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
        allow_negative_numbers = true,
        value_parser = calls_scale
    )]
    calls_scale: f64,
    /// Warm-up calls after the cold start, excluded from statistics
    #[arg(long, value_name = "N", default_value_t = 2)]
    warmup: usize,
    /// Seconds a call may take before it counts as a timeout error
    #[arg(
        long,
        value_name = "SECS",
        default_value = "30",
        allow_negative_numbers = true,
        value_parser = timeout
    )]
    timeout: Duration,
    /// Results file (a timestamped copy also goes to results/ beside it)
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "benchmark_results.json"
    )]
    output: PathBuf,
    /// Backend the others are compared against [default: the first of --backends]
    #[arg(long, value_name = "BACKEND")]
    baseline: Option<String>,
    /// Order of the calls: interleaved (seeded-shuffled rounds) or sequential (one block per
    /// backend × workload) [default: interleaved with two or more backends]
    #[arg(long, value_name = "ORDER", value_enum)]
    order: Option<OrderArg>,
    /// Seed of the interleaved order; the results file records the one used
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Rounds of the interleaved order: each runs a slice of every backend × workload
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = rounds)]
    rounds: usize,
    /// Milliseconds of empty calls made and kept apart each time a backend × workload resumes after
    /// another backend ran (at least one call): the switch warm-up, reported on its own (0: none)
    #[arg(long, value_name = "MS", default_value_t = 20)]
    switch_warmup: u64,
    /// Seconds each backend × workload is measured for at least, spread over its slices: a
    /// backend faster than that makes more calls than the workload asks for, so its figures
    /// describe it running steadily, not a burst of a few dozen calls (0: the workload's calls)
    #[arg(
        long,
        value_name = "SECS",
        default_value = "1",
        env = "SANDBOX_BENCH_MIN_TIME",
        allow_negative_numbers = true,
        value_parser = min_time
    )]
    min_time: Duration,
    /// Empty calls per backend measured first, as its floor (0 to skip)
    #[arg(long, value_name = "N", default_value_t = 20)]
    calibration: usize,
    /// Closed-loop clients calling at once (with --rate: clients serving the open loop)
    #[arg(
        short,
        long,
        value_name = "C",
        default_value = "1",
        allow_negative_numbers = true,
        value_parser = concurrency
    )]
    concurrency: usize,
    /// Open loop: start R calls per second whatever the backend's speed, for --duration per
    /// backend × workload; latency counts from each call's intended start
    #[arg(long, value_name = "R", allow_negative_numbers = true, value_parser = rate)]
    rate: Option<f64>,
    /// Seconds of each backend × workload's open loop (with --rate)
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        allow_negative_numbers = true,
        value_parser = duration
    )]
    duration: Duration,
    /// Comma-separated modules every agent imports once at start (e.g. json,decimal)
    #[arg(long, value_name = "MODULES")]
    preload: Option<String>,
    /// How each side waits: spin (the harness polls for the reply without blocking for
    /// --spin-us first, and a loop agent reached without relays polls for its next request:
    /// no CPU goes idle between close calls, as on a loaded gateway, so figures do not depend
    /// on how fast an idle virtual CPU wakes) or block (blocking reads: on an idle machine each
    /// sleeping side pays the wake-up)
    #[arg(long, value_name = "MODE", value_enum, default_value_t = WaitArg::Spin)]
    wait: WaitArg,
    /// Microseconds `--wait spin` polls before it blocks
    #[arg(long, value_name = "US", default_value_t = DEFAULT_SPIN_US, value_parser = spin_us)]
    spin_us: u64,
    /// Also write each histogram's percentile distribution (.hgrm, values in ms) into DIR
    #[arg(long, value_name = "DIR")]
    export_hgrm: Option<PathBuf>,
    /// Kill the processes found in the sandbox before measuring (left there by something
    /// else; they are counted either way). Only for a sandbox no other run is using.
    #[arg(long)]
    clean_sandbox: bool,
    /// Count each engine backend's network round trips, connections and bytes per call,
    /// through a relay of its own to the engine (needs --concurrency 1)
    #[arg(long)]
    count_round_trips: bool,
    /// With --count-round-trips: hold each round trip for MS milliseconds in the relay, a real
    /// added delay to check the latency model against (report --model-from)
    #[arg(long, value_name = "MS", requires = "count_round_trips", value_parser = added_rtt)]
    added_rtt: Option<Duration>,
    #[command(flatten)]
    display: DisplayArgs,
}

impl RunArgs {
    /// Checks the flags.
    pub fn options(self) -> anyhow::Result<RunOptions> {
        // First: it declares the MCP servers that --baseline may name.
        let mut sandbox = self.sandbox.options()?;
        if self.count_round_trips {
            // Several clients at once would share a relay's counts: no call's would be its own.
            if self.concurrency > 1 {
                return Err(usage(format!(
                    "--count-round-trips needs --concurrency 1 (not {}): each call's traffic must be its own",
                    self.concurrency
                )));
            }
            sandbox.counting = Some(crate::netcount::Counting {
                added_rtt: self.added_rtt.unwrap_or_default(),
            });
        }
        let baseline = self
            .baseline
            .as_deref()
            .map(|b| values::backend(&sandbox.catalog, "--baseline", b))
            .transpose()?;
        let workloads = self.workloads.as_deref().map(values::list);
        if workloads.as_ref().is_some_and(Vec::is_empty) {
            return Err(usage("--workloads: no workload named"));
        }
        let load = match self.rate {
            Some(rate) => Load::Open {
                rate,
                duration: self.duration,
                concurrency: self.concurrency,
            },
            None => Load::Closed {
                concurrency: self.concurrency,
            },
        };
        let preload = values::modules("--preload", self.preload.as_deref().unwrap_or(""))?;
        Ok(RunOptions {
            sandbox,
            baseline,
            workloads,
            workloads_dir: self.workloads_dir,
            calls_scale: self.calls_scale,
            warmup: self.warmup,
            timeout: self.timeout,
            output: self.output,
            interleave: self.order.map(|o| matches!(o, OrderArg::Interleaved)),
            seed: self.seed,
            rounds: self.rounds,
            calibration: self.calibration,
            switch_warmup: Duration::from_millis(self.switch_warmup),
            min_time: self.min_time,
            load,
            preload,
            wait: self.wait.into(),
            spin: Duration::from_micros(self.spin_us),
            export_hgrm: self.export_hgrm,
            clean_sandbox: self.clean_sandbox,
            view: self.display.view(),
        })
    }
}

// The parsers of run's numeric flags: clap names the flag in the error and exits with 2.

fn calls_scale(text: &str) -> Result<f64, String> {
    values::above_zero(text, 1e6)
}

fn timeout(text: &str) -> Result<Duration, String> {
    values::above_zero(text, 86_400.0).map(Duration::from_secs_f64)
}

/// How the harness waits for replies (`agent::WaitMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WaitArg {
    /// A blocking poll
    Block,
    /// Poll without blocking for --spin-us, then block
    Spin,
}

impl From<WaitArg> for WaitMode {
    fn from(arg: WaitArg) -> WaitMode {
        match arg {
            WaitArg::Block => WaitMode::Block,
            WaitArg::Spin => WaitMode::Spin,
        }
    }
}

fn spin_us(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_SPIN_US).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{text}': give from 1 to {MAX_SPIN_US} microseconds"
        )),
    }
}

fn concurrency(text: &str) -> Result<usize, String> {
    let n = values::above_zero(text, 256.0)?;
    if n.fract() != 0.0 {
        return Err(format!("'{text}' is not a whole number"));
    }
    Ok(n as usize)
}

fn added_rtt(text: &str) -> Result<Duration, String> {
    values::above_zero(text, 10_000.0).map(|ms| Duration::from_secs_f64(ms / 1000.0))
}

fn rate(text: &str) -> Result<f64, String> {
    values::above_zero(text, 100_000.0)
}

fn duration(text: &str) -> Result<Duration, String> {
    values::above_zero(text, 86_400.0).map(Duration::from_secs_f64)
}

fn rounds(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{text}' is not a whole number of at least 1")),
    }
}

fn min_time(text: &str) -> Result<Duration, String> {
    match text.trim() {
        "0" | "0.0" => Ok(Duration::ZERO),
        t => values::above_zero(t, 3600.0).map(Duration::from_secs_f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_transport_strategy_and_alias() {
        let help = after_run_help();
        for t in TransportKind::ALL {
            assert!(help.contains(t.about()), "{}", t.name());
        }
        for (name, about) in profile::ABOUT {
            assert!(help.contains(about), "{name}");
        }
        for (name, about) in STRATEGIES {
            assert!(help.contains(name) && help.contains(about), "{name}");
        }
        for (alias, full) in ALIASES {
            assert!(help.contains(&format!("{alias:<12} = {full}")), "{alias}");
        }
        assert!(help.lines().all(|l| l.chars().count() <= 100));
    }
}
