//! The runner: each backend's floor first (empty calls), then for each backend × workload a
//! fresh executor, one cold-start call, the warm-up calls, and the measured calls, in the
//! order the schedule gives; each call is timed from request to validated reply.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::ProgressBar;

use crate::agent::{AgentOptions, Reply};
use crate::backend::Backend;
use crate::schedule::{self, Order};
use crate::stats;
use crate::strategy::{Call, CallError, Executor};
use crate::transport::Transport;
use crate::workload::{Case, Workload};

/// At most this many error messages are kept per backend × workload.
const ERROR_SAMPLES: usize = 3;

/// What the runner needs, validated at the edge.
pub struct Plan {
    pub backends: Vec<(Backend, Arc<dyn Transport>)>,
    pub workloads: Vec<Workload>,
    pub calls_scale: f64,
    pub warmup: usize,
    pub timeout: Duration,
    pub order: Order,
    /// Empty calls per backend that measure its floor before anything else (0: none).
    pub calibration: usize,
    pub load: Load,
    pub agent: AgentOptions,
}

/// The shape of the load: closed-loop clients, or an open-loop rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// `concurrency` clients, each making its next call when the last one returns.
    Closed { concurrency: usize },
    /// `rate` calls per second for `duration` per backend × workload, from `concurrency` clients.
    Open {
        rate: f64,
        duration: Duration,
        concurrency: usize,
    },
}

impl Load {
    pub fn clients(self) -> usize {
        match self {
            Load::Closed { concurrency } | Load::Open { concurrency, .. } => concurrency,
        }
    }
}

impl Plan {
    /// Measured calls of one workload under this plan's load.
    pub fn measured_calls(&self, workload: &Workload) -> usize {
        match self.load {
            Load::Closed { .. } => workload.scaled_calls(self.calls_scale),
            Load::Open { rate, duration, .. } => open_loop_calls(rate, duration),
        }
    }

    /// Every call the plan makes, cold starts and warm-ups included, for the progress bar.
    pub fn total_calls(&self) -> u64 {
        let per_backend: usize = self
            .workloads
            .iter()
            .map(|w| 1 + self.warmup + self.measured_calls(w))
            .sum();
        let calibration = if self.calibration > 0 {
            1 + self.warmup + self.calibration
        } else {
            0
        };
        ((per_backend + calibration) * self.backends.len()) as u64
    }
}

/// The measured outcome of one backend × workload.
pub struct Measurement {
    pub backend: String,
    pub workload: String,
    /// Measured calls made (warm-up and cold start excluded).
    pub calls: usize,
    /// Measured calls that failed; they are not in the histogram.
    pub errors: usize,
    /// Failed cold-start and warm-up calls.
    pub warmup_errors: usize,
    pub errors_by_kind: BTreeMap<String, usize>,
    pub error_samples: Vec<String>,
    /// Latency of each successful measured call.
    pub latency: Histogram<u64>,
    /// The agent's own exec time of each successful measured call.
    pub exec: Histogram<u64>,
    /// Wall time of the measured calls.
    pub elapsed: Duration,
    /// The first call on a fresh executor, start-up included; `None` when it failed.
    pub cold_start: Option<Duration>,
    pub restarts: u32,
    /// The Python version the agents announced.
    pub python: Option<String>,
    /// Latency of each successful measured call in nanoseconds, in call order.
    pub samples: Vec<u64>,
}

impl Measurement {
    fn new(backend: &Backend, workload: &Workload) -> Self {
        Measurement {
            backend: backend.to_string(),
            workload: workload.name.clone(),
            ..Measurement::empty()
        }
    }

    fn empty() -> Self {
        Measurement {
            backend: String::new(),
            workload: String::new(),
            calls: 0,
            errors: 0,
            warmup_errors: 0,
            errors_by_kind: BTreeMap::new(),
            error_samples: Vec::new(),
            latency: stats::new_histogram(),
            exec: stats::new_histogram(),
            elapsed: Duration::ZERO,
            cold_start: None,
            restarts: 0,
            python: None,
            samples: Vec::new(),
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

    fn note_error(&mut self, failure: &Failure, what: String) {
        *self
            .errors_by_kind
            .entry(failure.kind().to_string())
            .or_insert(0) += 1;
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
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Call(e) => e.kind(),
            Failure::Code { kind, .. } if kind == "Timeout" => "timeout",
            // A fork child that died: the process running the code is gone, as with a crash.
            Failure::Code { kind, .. } if kind == "ChildDied" => "agent_died",
            Failure::Code { .. } => "code_error",
            Failure::Wrong { .. } => "wrong_answer",
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
        Some(got) if *got == case.expected => Ok(()),
        got => Err(Failure::Wrong {
            expected: crate::agent::excerpt(&case.expected),
            got: got
                .as_deref()
                .map_or("no `result` variable".to_string(), crate::agent::excerpt),
        }),
    }
}

/// What a run measured: each backend's floor, then each backend × workload.
pub struct RunOutput {
    pub calibration: Vec<Measurement>,
    pub measurements: Vec<Measurement>,
}

/// The empty call that measures a backend's floor.
pub fn calibration_workload(calls: u32) -> Workload {
    Workload {
        name: "calibration".into(),
        description: "an empty call: the backend's floor".into(),
        calls,
        cases: vec![Case {
            code: "result = None".into(),
            expected: "None".into(),
            stdin: None,
        }],
        source: "(built in)".into(),
    }
}

/// Runs the plan; stops early (keeping what it measured) once `stop` is set.
pub fn run(plan: &Plan, progress: &ProgressBar, stop: &AtomicBool) -> RunOutput {
    let mut calibration = Vec::new();
    if plan.calibration > 0 {
        let empty = calibration_workload(plan.calibration as u32);
        for (backend, transport) in &plan.backends {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let mut pair = Pair::new(plan, backend, transport, &empty);
            pair.run_slice(plan, 0, plan.calibration, progress, stop);
            calibration.push(pair.finish());
        }
    }
    let mut pairs: Vec<Pair> = plan
        .backends
        .iter()
        .flat_map(|(backend, transport)| {
            plan.workloads
                .iter()
                .map(move |w| Pair::new(plan, backend, transport, w))
        })
        .collect();
    let calls: Vec<usize> = pairs
        .iter()
        .map(|p| plan.measured_calls(p.workload))
        .collect();
    let mut left = calls.clone();
    let mut measurements: Vec<Option<Measurement>> = (0..pairs.len()).map(|_| None).collect();
    // An open loop runs each pair for its whole duration: a rate cannot be cut into slices.
    let order = match plan.load {
        Load::Open { .. } => Order::Sequential,
        Load::Closed { .. } => plan.order,
    };
    for slice in schedule::schedule(&calls, order) {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match plan.load {
            Load::Open { rate, duration, .. } => {
                pairs[slice.pair].run_open(plan, rate, duration, progress, stop)
            }
            Load::Closed { .. } => {
                pairs[slice.pair].run_slice(plan, slice.start, slice.len, progress, stop)
            }
        }
        left[slice.pair] -= slice.len;
        if left[slice.pair] == 0 {
            // Done: stop its agent now rather than keep every agent alive to the end.
            measurements[slice.pair] = Some(pairs[slice.pair].finish());
        }
    }
    let measurements = measurements
        .into_iter()
        .zip(pairs.iter_mut())
        .filter_map(|(done, pair)| done.or_else(|| pair.started().then(|| pair.finish())))
        .collect();
    RunOutput {
        calibration,
        measurements,
    }
}

/// One backend × workload: its executor, kept across slices, and what it measured so far.
struct Pair<'a> {
    workload: &'a Workload,
    label: String,
    executor: Option<Box<dyn Executor>>,
    m: Measurement,
    warmed: bool,
}

impl<'a> Pair<'a> {
    fn new(
        plan: &Plan,
        backend: &Backend,
        transport: &Arc<dyn Transport>,
        workload: &'a Workload,
    ) -> Self {
        Pair {
            workload,
            label: format!("{backend} · {}", workload.name),
            executor: Some(
                backend
                    .strategy
                    .executor(Arc::clone(transport), &plan.agent),
            ),
            m: Measurement::new(backend, workload),
            warmed: false,
        }
    }

    fn started(&self) -> bool {
        self.warmed
    }

    /// The measurement, with the executor's counters; stops the executor.
    fn finish(&mut self) -> Measurement {
        if let Some(executor) = self.executor.take() {
            self.m.restarts = executor.restarts();
            self.m.python = executor.python_version();
        }
        let backend = self.m.backend.clone();
        let workload = self.m.workload.clone();
        std::mem::replace(
            &mut self.m,
            Measurement {
                backend,
                workload,
                ..Measurement::empty()
            },
        )
    }

    /// The cold start and the warm-up calls, once, before the pair's first measured call.
    fn warm_up(&mut self, plan: &Plan, progress: &ProgressBar) {
        let Some(executor) = self.executor.as_deref() else {
            return;
        };
        if self.warmed {
            return;
        }
        self.warmed = true;
        let mut failed: Vec<(Failure, String)> = Vec::new();
        match timed_call(
            executor,
            self.workload.case(0),
            plan.timeout,
            None,
            progress,
        ) {
            Ok((latency, _)) => self.m.cold_start = Some(latency),
            Err(failure) => failed.push((failure, "cold start".into())),
        }
        // A pool's other agents start now, not during measured calls.
        if let Err(e) = executor.start_all(plan.timeout) {
            failed.push((Failure::Call(e), "starting the other agents".into()));
        }
        // The warm-up calls come from as many clients as the measured ones, so every agent
        // of a pool gets its share.
        let next = AtomicUsize::new(1);
        failed.extend(clients(plan.load.clients(), || {
            let mut out = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n > plan.warmup {
                    break;
                }
                let case = self.workload.case(n);
                if let Err(f) = timed_call(executor, case, plan.timeout, None, progress) {
                    out.push((f, format!("warm-up call {n}")));
                }
            }
            out
        }));
        for (failure, what) in failed {
            self.m.warmup_errors += 1;
            self.m.note_error(&failure, what);
        }
    }

    /// Runs measured calls `start .. start + len` from `plan.concurrency` closed-loop clients,
    /// after the cold start and warm-ups if this is the pair's first slice.
    fn run_slice(
        &mut self,
        plan: &Plan,
        start: usize,
        len: usize,
        progress: &ProgressBar,
        stop: &AtomicBool,
    ) {
        progress.set_message(self.label.clone());
        self.warm_up(plan, progress);
        let Some(executor) = self.executor.as_deref() else {
            return;
        };
        let next = AtomicUsize::new(start);
        let end = start + len;
        let started = Instant::now();
        let outcomes = clients(plan.load.clients(), || {
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= end {
                    break;
                }
                out.push((
                    n,
                    timed_call(
                        executor,
                        self.workload.case(n),
                        plan.timeout,
                        None,
                        progress,
                    ),
                ));
            }
            out
        });
        self.m.elapsed += started.elapsed();
        self.record(outcomes);
    }

    /// Open loop: `rate` calls per second for `duration`, whatever the backend's speed; each
    /// call's latency runs from its intended start, so time spent queued counts (as wrk2 does).
    fn run_open(
        &mut self,
        plan: &Plan,
        rate: f64,
        duration: Duration,
        progress: &ProgressBar,
        stop: &AtomicBool,
    ) {
        progress.set_message(self.label.clone());
        self.warm_up(plan, progress);
        let Some(executor) = self.executor.as_deref() else {
            return;
        };
        let total = open_loop_calls(rate, duration);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let next = AtomicUsize::new(0);
        let started = Instant::now();
        let outcomes = clients(plan.load.clients(), || {
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let intended = started + interval.mul_f64(n as f64);
                if let Some(wait) = intended.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let case = self.workload.case(n);
                out.push((
                    n,
                    timed_call(executor, case, plan.timeout, Some(intended), progress),
                ));
            }
            out
        });
        self.m.elapsed += started.elapsed();
        self.record(outcomes);
    }

    /// Adds the outcomes of measured calls, in call order.
    fn record(&mut self, mut outcomes: Vec<(usize, CallOutcome)>) {
        outcomes.sort_by_key(|(n, _)| *n);
        let m = &mut self.m;
        for (n, outcome) in outcomes {
            m.calls += 1;
            match outcome {
                Ok((latency, exec_ns)) => {
                    stats::record(&mut m.latency, latency);
                    stats::record(&mut m.exec, Duration::from_nanos(exec_ns));
                    m.samples
                        .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
                }
                Err(failure) => {
                    m.errors += 1;
                    m.note_error(&failure, format!("call {}", n + 1));
                }
            }
        }
    }
}

/// A call's latency and the agent's exec time, or why it does not count.
type CallOutcome = Result<(Duration, u64), Failure>;

/// Makes one call and checks it; latency runs from `from` (the intended start) when given.
fn timed_call(
    executor: &dyn Executor,
    case: &Case,
    timeout: Duration,
    from: Option<Instant>,
    progress: &ProgressBar,
) -> CallOutcome {
    let started = Instant::now();
    let reply = executor.call(Call {
        code: &case.code,
        stdin: case.stdin.as_deref(),
        timeout,
    });
    let latency = from.unwrap_or(started).elapsed();
    progress.inc(1);
    match reply {
        Ok(reply) => check(&reply, case).map(|()| (latency, reply.exec_ns)),
        Err(e) => Err(Failure::Call(e)),
    }
}

/// Runs `client` on `n` threads and gathers what they return.
fn clients<T: Send>(n: usize, client: impl Fn() -> Vec<T> + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n.max(1)).map(|_| scope.spawn(&client)).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Calls an open-loop run makes: `rate × duration`, at least one.
pub fn open_loop_calls(rate: f64, duration: Duration) -> usize {
    ((rate * duration.as_secs_f64()).round() as usize).max(1)
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
            truncated: false,
        }
    }

    fn case(expected: &str) -> Case {
        Case {
            code: "result = 1 + 1".into(),
            expected: expected.into(),
            stdin: None,
        }
    }

    #[test]
    fn a_reply_counts_only_with_the_expected_result() {
        assert_eq!(check(&reply(Some("2"), None), &case("2")), Ok(()));
        let wrong = check(&reply(Some("3"), None), &case("2")).unwrap_err();
        assert_eq!(wrong.kind(), "wrong_answer");
        assert_eq!(wrong.to_string(), "wrong answer: expected '2', got '3'");
        let missing = check(&reply(None, None), &case("2")).unwrap_err();
        assert!(missing.to_string().contains("no `result` variable"));
        let raised = check(&reply(None, Some("NameError")), &case("2")).unwrap_err();
        assert_eq!(raised.kind(), "code_error");
        let timed_out = check(&reply(None, Some("Timeout")), &case("2")).unwrap_err();
        assert_eq!(timed_out.kind(), "timeout");
    }
}
