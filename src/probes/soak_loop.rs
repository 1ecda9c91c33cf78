//! `sandbox-bench soak`: many calls on one executor, cycling through every workload case with
//! each answer checked, and the agent's resident memory before and after: a long-lived
//! interpreter that slowly breaks or grows shows it here.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::agent::{AgentOptions, ErrorKind};
use crate::bench::runner;
use crate::bench::workload::Case;
use crate::sandbox::Reached;
use crate::strategy::Call;

/// Asks the agent for its own resident set size, in KiB.
const RSS_CODE: &str =
    "result = int([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])";

/// Everything `soak` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoakResults {
    #[serde(flatten)]
    pub header: crate::results::Header,
    /// Calls per backend.
    pub calls: u64,
    pub timeout_s: f64,
    pub outcomes: Vec<SoakOutcome>,
}

/// One backend's soak.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoakOutcome {
    pub backend: String,
    pub calls: u64,
    pub errors: u64,
    pub errors_by_kind: std::collections::BTreeMap<ErrorKind, u64>,
    pub first_error: Option<String>,
    /// Agents thrown away after a fault during the soak.
    pub restarts: u32,
    pub elapsed_s: f64,
    /// The agent's resident memory after the first call and after the last (KiB).
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
}

/// Runs `calls` checked calls through one executor of `backend`.
pub fn run_backend(
    reached: &Reached,
    cases: &[Case],
    calls: u64,
    timeout: Duration,
) -> SoakOutcome {
    let backend = &reached.backend;
    let executor = reached.executor(&AgentOptions::default());
    let rss = |executor: &dyn crate::strategy::Executor| {
        executor
            .call(Call {
                code: RSS_CODE,
                stdin: None,
                timeout,
            })
            .ok()
            .and_then(|r| r.result)
            .and_then(|r| r.parse::<u64>().ok())
    };
    let rss_before_kib = rss(executor.as_ref());
    let mut outcome = SoakOutcome {
        backend: backend.to_string(),
        calls,
        errors: 0,
        errors_by_kind: Default::default(),
        first_error: None,
        restarts: 0,
        elapsed_s: 0.0,
        rss_before_kib,
        rss_after_kib: None,
    };
    let start = Instant::now();
    for (_, case) in (0..calls).zip(cases.iter().cycle()) {
        let reply = executor.call(Call {
            code: &case.code,
            stdin: case.stdin.as_deref(),
            timeout,
        });
        let checked = reply
            .map_err(runner::Failure::from)
            .and_then(|r| runner::check(&r, case));
        if let Err(failure) = checked {
            outcome.errors += 1;
            *outcome.errors_by_kind.entry(failure.kind()).or_insert(0) += 1;
            outcome
                .first_error
                .get_or_insert_with(|| failure.to_string());
        }
    }
    outcome.elapsed_s = start.elapsed().as_secs_f64();
    outcome.restarts = executor.restarts();
    outcome.rss_after_kib = rss(executor.as_ref());
    outcome
}
