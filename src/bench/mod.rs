//! Measuring: the workloads, the runner that times each backend × workload (cold start, warm-up,
//! measured calls, closed or open loop), the schedule that interleaves them, the statistics of
//! the samples, the warnings that say when a figure cannot be trusted, and the machine's load.

pub mod fork_floor;
pub mod machine_load;
pub mod measurement;
pub mod memory;
pub mod memory_wall;
mod pair;
pub mod plan;
pub mod runner;
pub mod schedule;
pub mod stats;
pub mod wakeup_floor;
pub mod warnings;
pub mod workload;

use std::sync::Arc;
use std::time::Duration;

use crate::agent::AgentOptions;
use crate::strategy::{Call, Strategy};
use crate::transport::Transport;

/// Runs `code` twice in one persistent agent where `transport` reaches (the first run warms it
/// up) and returns the second run's `result`: how the platform floors are timed inside a
/// sandbox, by Python code there.
fn second_run_result(
    transport: Arc<dyn Transport>,
    agent: &AgentOptions,
    timeout: Duration,
    code: &str,
) -> Result<Option<String>, String> {
    let executor = Strategy::Persistent.executor(transport, agent);
    let call = Call {
        code,
        stdin: None,
        timeout,
    };
    executor.call(call).map_err(|e| e.to_string())?;
    let reply = executor.call(call).map_err(|e| e.to_string())?;
    if let Some(e) = reply.error {
        return Err(format!("{}: {}", e.kind, e.message));
    }
    Ok(reply.result)
}
