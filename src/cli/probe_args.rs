//! Flags of `faults`, `isolation` and `soak`, checked and turned into `ProbeOptions` here so
//! that the probes never see clap.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::sandbox_args::SandboxArgs;
use super::values;
use crate::probes::ProbeOptions;
use crate::probes::soak_loop::SoakLimit;

/// Flags shared by `faults` and `isolation`; only the default output file differs.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Seconds a call may take before the agent stops it
    #[arg(
        long,
        value_name = "SECS",
        default_value = "2",
        allow_negative_numbers = true,
        value_parser = timeout
    )]
    timeout: Duration,
    /// Results file (JSON) [default: faults_results.json, isolation_results.json or
    /// soak_results.json]
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl ProbeArgs {
    /// Checks the flags; `default_output` is the command's results file.
    pub fn into_options(self, default_output: &str) -> anyhow::Result<ProbeOptions> {
        Ok(ProbeOptions {
            sandbox: self.sandbox.options()?,
            timeout: self.timeout,
            output: self.output.unwrap_or_else(|| default_output.into()),
        })
    }
}

/// A probe's time limit: above 0 and at most an hour.
fn timeout(text: &str) -> Result<Duration, String> {
    values::above_zero(text, 3600.0).map(Duration::from_secs_f64)
}

/// Flags of `soak`: the probe flags plus how long and which workload cases.
#[derive(Args, Debug)]
pub struct SoakArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Calls per backend, on one executor [default: as many as --duration allows]
    #[arg(long, value_name = "N")]
    pub calls: Option<u64>,
    /// Seconds per backend; with --calls, whichever limit comes first [default: 60 without
    /// --calls, none with it]
    #[arg(
        long,
        value_name = "SECS",
        allow_negative_numbers = true,
        value_parser = soak_time
    )]
    pub duration: Option<Duration>,
    /// Folder of workload files whose cases the calls cycle through
    #[arg(long, value_name = "DIR", default_value = "workloads")]
    pub workloads_dir: PathBuf,
}

impl SoakArgs {
    /// When each backend's soak stops.
    pub fn limit(&self) -> SoakLimit {
        SoakLimit::new(self.calls, self.duration)
    }
}

/// A soak's time per backend: above 0 and at most a day.
fn soak_time(text: &str) -> Result<Duration, String> {
    values::above_zero(text, 86_400.0).map(Duration::from_secs_f64)
}
