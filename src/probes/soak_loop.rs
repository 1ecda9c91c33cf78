//! `sandbox-bench soak`: many calls on one executor, cycling through every workload case with
//! each answer checked, and the agent's resident memory before and after: a long-lived
//! interpreter that slowly breaks or grows shows it here.

use std::sync::atomic::{AtomicBool, Ordering};
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

/// When one backend's soak stops: after `calls` calls or after `time`, whichever comes first
/// (a limit not given never stops it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoakLimit {
    pub calls: Option<u64>,
    pub time: Option<Duration>,
}

impl SoakLimit {
    /// The soak without a limit given: a minute per backend, so that it ends in minutes on
    /// the slowest default backend (a per-call start, ~0.25 s a call) and still makes about
    /// a hundred thousand calls on a persistent agent (~2000 calls/s).
    pub const DEFAULT_TIME: Duration = Duration::from_secs(60);

    /// The limit of `--calls` and `--duration`: the default time when neither is given.
    pub fn new(calls: Option<u64>, time: Option<Duration>) -> SoakLimit {
        let time = time.or(calls.is_none().then_some(Self::DEFAULT_TIME));
        SoakLimit { calls, time }
    }

    /// Whether a soak that made `made` calls in `elapsed` is done.
    pub fn reached(&self, made: u64, elapsed: Duration) -> bool {
        self.calls.is_some_and(|n| made >= n) || self.time.is_some_and(|t| elapsed >= t)
    }
}

impl std::fmt::Display for SoakLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let time = self.time.map(|t| format!("{} s", t.as_secs_f64()));
        match (self.calls, time) {
            (Some(n), Some(t)) => write!(f, "{n} calls or {t}, whichever comes first"),
            (Some(n), None) => write!(f, "{n} calls"),
            (None, Some(t)) => write!(f, "calls for {t}"),
            (None, None) => write!(f, "calls without end"),
        }
    }
}

/// Everything `soak` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoakResults {
    #[serde(flatten)]
    pub header: crate::results::Header,
    /// The call limit per backend (null: only a time limit).
    pub calls: Option<u64>,
    /// The time limit per backend in seconds (null: only a call limit).
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// False when a signal stopped the soak before its limits.
    pub complete: bool,
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

/// Runs checked calls through one executor of `backend` until `limit`, or until `stop` is set.
pub fn run_backend(
    reached: &Reached,
    cases: &[Case],
    limit: SoakLimit,
    timeout: Duration,
    stop: &AtomicBool,
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
        calls: 0,
        errors: 0,
        errors_by_kind: Default::default(),
        first_error: None,
        restarts: 0,
        elapsed_s: 0.0,
        rss_before_kib,
        rss_after_kib: None,
    };
    let start = Instant::now();
    for case in cases.iter().cycle() {
        if limit.reached(outcome.calls, start.elapsed()) || stop.load(Ordering::SeqCst) {
            break;
        }
        outcome.calls += 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_soak_without_limits_runs_a_minute_and_the_first_limit_reached_stops_it() {
        let minute = SoakLimit::new(None, None);
        assert_eq!(minute.time, Some(SoakLimit::DEFAULT_TIME));
        assert!(!minute.reached(1_000_000, Duration::from_secs(59)));
        assert!(minute.reached(0, Duration::from_secs(60)));
        assert_eq!(minute.to_string(), "calls for 60 s");

        let calls = SoakLimit::new(Some(300), None);
        assert_eq!(calls.time, None, "--calls alone has no time limit");
        assert!(!calls.reached(299, Duration::from_secs(3600)));
        assert!(calls.reached(300, Duration::ZERO));
        assert_eq!(calls.to_string(), "300 calls");

        let both = SoakLimit::new(Some(300), Some(Duration::from_millis(1500)));
        assert!(both.reached(300, Duration::ZERO));
        assert!(both.reached(1, Duration::from_millis(1500)));
        assert!(!both.reached(299, Duration::from_millis(1499)));
        assert_eq!(
            both.to_string(),
            "300 calls or 1.5 s, whichever comes first"
        );
    }
}
