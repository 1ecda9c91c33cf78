//! What one backend × workload measured, and when a call counts as a sample.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::agent::{ErrorKind, Reply, Reported};
use crate::bench::stats;
use crate::bench::workload::{Case, Workload};
use crate::sandbox::backend::Backend;
use crate::strategy::CallError;

/// At most this many error messages are kept per backend × workload.
const ERROR_SAMPLES: usize = 3;

/// The measured outcome of one backend × workload.
pub struct Measurement {
    pub backend: String,
    pub workload: String,
    /// Measured calls made (warm-up and cold start excluded).
    pub calls: usize,
    /// Measured calls the plan asked for; `calls` is more when the minimum time called for
    /// more, less when the run was stopped.
    pub planned: usize,
    /// Measured calls that failed; they are not in the histogram.
    pub errors: usize,
    /// Failed cold-start and warm-up calls.
    pub warmup_errors: usize,
    pub errors_by_kind: BTreeMap<ErrorKind, usize>,
    pub error_samples: Vec<String>,
    /// Latency of each successful measured call.
    pub latency: Histogram<u64>,
    /// The agent's own exec time of each successful measured call.
    pub exec: Histogram<u64>,
    /// The `--preload` imports each successful measured call paid for (per-call only).
    pub import: Histogram<u64>,
    /// Wall time of the measured calls.
    pub elapsed: Duration,
    /// The first call on a fresh executor, start-up included; `None` when it failed.
    pub cold_start: Option<Duration>,
    pub restarts: u32,
    /// The Python version the agents announced.
    pub python: Option<String>,
    /// Latency of each successful measured call in nanoseconds, in call order.
    pub samples: Vec<u64>,
    /// The switch warm-up: calls made right after another backend ran, kept out of `latency`.
    pub switch: Histogram<u64>,
    /// Switch warm-up calls made (failed ones count as errors too).
    pub switch_calls: usize,
    /// Memory once warm (one more call after the measured ones), or why it was not read.
    pub memory: Option<Result<super::memory::Memory, String>>,
    /// A result cache's hits and misses over every call the executor got; `None` without one.
    pub cache: Option<(u64, u64)>,
    /// The engine traffic of the measured calls, when round trips are counted.
    pub network: Option<(crate::netcount::Path, crate::netcount::Counts)>,
}

impl Measurement {
    pub(super) fn new(backend: &Backend, workload: &Workload) -> Self {
        Measurement {
            backend: backend.to_string(),
            workload: workload.name.clone(),
            ..Measurement::empty()
        }
    }

    pub(super) fn empty() -> Self {
        Measurement {
            backend: String::new(),
            workload: String::new(),
            calls: 0,
            planned: 0,
            errors: 0,
            warmup_errors: 0,
            errors_by_kind: BTreeMap::new(),
            error_samples: Vec::new(),
            latency: stats::new_histogram(),
            exec: stats::new_histogram(),
            import: stats::new_histogram(),
            elapsed: Duration::ZERO,
            cold_start: None,
            restarts: 0,
            python: None,
            samples: Vec::new(),
            switch: stats::new_histogram(),
            switch_calls: 0,
            memory: None,
            cache: None,
            network: None,
        }
    }

    /// Successful measured calls per second of measured wall time.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.latency.len() as f64 / secs
        } else {
            0.0
        }
    }

    pub(super) fn note_error(&mut self, failure: &Failure, what: String) {
        *self.errors_by_kind.entry(failure.kind()).or_insert(0) += 1;
        if self.error_samples.len() < ERROR_SAMPLES {
            self.error_samples.push(format!("{what}: {failure}"));
        }
    }
}

/// Why one call does not count as a sample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Call(#[from] CallError),
    #[error("the code raised {kind}: {message}")]
    Code { kind: String, message: String },
    #[error("wrong answer: expected {expected}, got {got}")]
    Wrong { expected: String, got: String },
}

impl Failure {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Failure::Call(e) => e.kind(),
            Failure::Code { kind, .. } => Reported::count(kind),
            Failure::Wrong { .. } => ErrorKind::WrongAnswer,
        }
    }
}

/// Checks a reply against the case's expected `repr(result)`.
pub fn check(reply: &Reply, case: &Case) -> Result<(), Failure> {
    if let Some(error) = &reply.error {
        return Err(Failure::Code {
            kind: error.kind.clone(),
            message: error.message.clone(),
        });
    }
    match &reply.result {
        Some(_) if case.fresh => Ok(()),
        Some(got) if *got == case.expected => Ok(()),
        got => Err(Failure::Wrong {
            expected: crate::agent::quoted(&case.expected),
            got: got
                .as_deref()
                .map_or("no `result` variable".to_string(), crate::agent::quoted),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::CodeError;

    fn reply(result: Option<&str>, error: Option<&str>) -> Reply {
        Reply {
            id: Some(1),
            ok: error.is_none(),
            result: result.map(str::to_string),
            stdout: String::new(),
            stderr: String::new(),
            error: error.map(|kind| CodeError {
                kind: kind.into(),
                message: "boom".into(),
                traceback: String::new(),
            }),
            exec_ns: 5,
            import_ns: 0,
            truncated: false,
        }
    }

    fn case(expected: &str) -> Case {
        Case {
            code: "result = 1 + 1".into(),
            expected: expected.into(),
            stdin: None,
            fresh: false,
        }
    }

    #[test]
    fn a_reply_counts_only_with_the_expected_result() {
        assert_eq!(check(&reply(Some("2"), None), &case("2")), Ok(()));
        let wrong = check(&reply(Some("3"), None), &case("2")).unwrap_err();
        assert_eq!(wrong.kind(), ErrorKind::WrongAnswer);
        assert_eq!(wrong.to_string(), "wrong answer: expected '2', got '3'");
        // A difference that does not show is escaped so that it does.
        let newline = check(&reply(Some("2\n"), None), &case("2")).unwrap_err();
        assert_eq!(
            newline.to_string(),
            "wrong answer: expected '2', got '2\\n'"
        );
        let missing = check(&reply(None, None), &case("2")).unwrap_err();
        assert!(missing.to_string().contains("no `result` variable"));
        let raised = check(&reply(None, Some("NameError")), &case("2")).unwrap_err();
        assert_eq!(raised.kind(), ErrorKind::CodeError);
        let timed_out = check(&reply(None, Some("Timeout")), &case("2")).unwrap_err();
        assert_eq!(timed_out.kind(), ErrorKind::Timeout);
    }
}
