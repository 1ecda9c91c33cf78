//! Flags of `faults` and `isolation`, checked and turned into `ProbeOptions` here so that the
//! probes never see clap.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::backend::Backend;
use crate::error::usage;
use crate::probes::ProbeOptions;

/// Flags shared by `faults` and `isolation`; only the default output file differs.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Comma-separated backends [default: compose-exec,persistent when a Docker engine
    /// answers, else local:per-call,local:persistent]
    #[arg(short, long, value_name = "LIST")]
    backends: Option<String>,
    /// Seconds a call may take before the agent stops it
    #[arg(
        long,
        value_name = "SECS",
        default_value = "2",
        allow_negative_numbers = true
    )]
    timeout: String,
    /// Results file (JSON) [default: faults_results.json or isolation_results.json]
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Compose file of the sandbox service
    #[arg(long, value_name = "FILE", default_value = "docker-compose.yml")]
    compose_file: PathBuf,
    /// Compose service the code runs in
    #[arg(long, value_name = "NAME", default_value = "sandbox")]
    service: String,
    /// Python interpreter to start (on the host for local, in the sandbox for compose)
    #[arg(long, value_name = "CMD", default_value = "python3")]
    python: String,
    /// No progress lines; the table still goes to stdout
    #[arg(short, long)]
    quiet: bool,
}

impl ProbeArgs {
    /// Checks the flags; `default_output` is the command's results file.
    pub fn into_options(self, default_output: &str) -> anyhow::Result<ProbeOptions> {
        let backends = match &self.backends {
            Some(list) => {
                Some(Backend::parse_list(list).map_err(|e| usage(format!("--backends: {e}")))?)
            }
            None => None,
        };
        let timeout = match self.timeout.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 && x <= 3600.0 => x,
            _ => {
                return Err(usage(format!(
                    "--timeout: '{}' is not a number of seconds above 0 and at most 3600",
                    self.timeout
                )));
            }
        };
        if self.service.trim().is_empty() {
            return Err(usage("--service: give the Compose service name"));
        }
        Ok(ProbeOptions {
            backends,
            timeout: Duration::from_secs_f64(timeout),
            output: self.output.unwrap_or_else(|| default_output.into()),
            compose_file: self.compose_file,
            service: self.service,
            python: self.python,
            quiet: self.quiet,
        })
    }
}

/// Flags of `soak`: the probe flags plus how many calls and which workload cases.
#[derive(Args, Debug)]
pub struct SoakArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Calls per backend, on one executor
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub calls: u64,
    /// Folder of workload files whose cases the calls cycle through
    #[arg(long, value_name = "DIR", default_value = "workloads")]
    pub workloads_dir: PathBuf,
}
