//! Probes of what a backend does with hostile or leaking code: the fault probes (loops, crashes,
//! bombs, floods), the isolation probes (does call A reach call B), the soak (many calls on one
//! executor), and the scan for processes left behind. Here: what they share, the typed options,
//! backends turned into transports, and a checked normal call.

pub mod fault_probes;
pub mod isolation_probes;
pub mod leftover_scan;
pub mod soak_loop;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::sandbox::{self, Reached, SandboxOptions};
use crate::strategy::{Call, Executor};

/// Options of `faults`, `isolation` and `soak`, already checked.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    pub sandbox: SandboxOptions,
    pub timeout: Duration,
    pub output: PathBuf,
}

/// The backends to probe, each with its transport; the sandbox is up when one needs it.
pub fn prepare(opts: &ProbeOptions) -> Result<Vec<Reached>> {
    let (backends, docker) = sandbox::choose_backends(&opts.sandbox)?;
    Ok(sandbox::prepare(&backends, &opts.sandbox, docker)?.reached)
}

/// The call that shows a backend works: a fixed sum whose answer is checked.
pub const NORMAL_CODE: &str = "result = sum(range(10))";
const NORMAL_RESULT: &str = "45";

/// Runs the normal call; its duration when the answer is right, else what went wrong.
pub fn normal_call(executor: &dyn Executor, timeout: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let reply = executor
        .call(Call {
            code: NORMAL_CODE,
            stdin: None,
            timeout,
        })
        .map_err(|e| e.kind().to_string())?;
    let took = start.elapsed();
    if !reply.stdout.is_empty() {
        return Err(format!(
            "output it did not write: {:?}",
            reply.stdout.chars().take(40).collect::<String>()
        ));
    }
    match reply.result.as_deref() {
        Some(NORMAL_RESULT) if reply.ok => Ok(took),
        other => Err(format!("wrong answer {other:?}")),
    }
}
