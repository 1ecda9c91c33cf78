//! One backend × workload being measured: its executor, kept across the slices of the
//! schedule, its cold start and warm-up, and the clients that make its calls.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use super::measurement::{Failure, Measurement, check};
use super::plan::{Plan, open_loop_calls};
use crate::bench::stats;
use crate::bench::workload::{Case, Workload};
use crate::sandbox::Reached;
use crate::strategy::{Call, Executor};

/// A bound on one switch warm-up's calls, whatever the backend's speed.
const MAX_SWITCH_CALLS: usize = 2000;
/// A bound on the calls one slice makes to fill its minimum time.
const MAX_SLICE_CALLS: usize = 1_000_000;

/// One backend × workload: its executor, kept across slices, and what it measured so far.
pub(super) struct Pair<'a> {
    pub(super) workload: &'a Workload,
    label: String,
    executor: Option<Box<dyn Executor>>,
    m: Measurement,
    warmed: bool,
    /// Measured calls made so far: the next one's number.
    made: usize,
    /// Whether its memory can be read (a sandbox backend: an MCP server's tool is not asked).
    memory: bool,
    /// The answers `fresh` cases gave so far: a repeat is a stale answer.
    answers: Mutex<HashSet<String>>,
    /// What counts its engine traffic, when round trips are counted.
    tap: Option<crate::netcount::Tap>,
}

impl<'a> Pair<'a> {
    pub(super) fn new(plan: &Plan, reached: &Reached, workload: &'a Workload) -> Self {
        Pair {
            workload,
            label: format!("{} · {}", reached.backend, workload.name),
            executor: Some(reached.executor(&plan.agent)),
            m: Measurement::new(&reached.backend, workload),
            warmed: false,
            made: 0,
            memory: reached.backend.strategy().is_some(),
            answers: Mutex::new(HashSet::new()),
            tap: reached.tap.clone(),
        }
    }

    /// Reads its memory once warm (one call, out of every figure); only after a measured call.
    pub(super) fn measure_memory(&mut self, plan: &Plan) {
        let Some(executor) = self.executor.as_deref() else {
            return;
        };
        if self.memory && self.m.calls > 0 {
            self.m.memory = Some(super::memory::measure(
                executor,
                self.workload.case(0),
                plan.timeout,
            ));
        }
    }

    pub(super) fn started(&self) -> bool {
        self.warmed
    }

    /// The measurement, with the executor's counters; stops the executor.
    pub(super) fn finish(&mut self) -> Measurement {
        if let Some(executor) = self.executor.take() {
            self.m.restarts = executor.restarts();
            self.m.python = executor.python_version();
            self.m.cache = executor.cache_counts();
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
            &self.answers,
        ) {
            Ok(t) => self.m.cold_start = Some(t.latency),
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
                if let Err(f) =
                    timed_call(executor, case, plan.timeout, None, progress, &self.answers)
                {
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

    /// The switch warm-up: empty calls right after another backend's, for `plan.switch_warmup`
    /// (at least one call), timed into their own histogram, never into the measured figures.
    /// Empty, so a workload of hangs and crashes does not fault during it.
    pub(super) fn switch_warm_up(&mut self, plan: &Plan, progress: &ProgressBar) {
        // A pair's first slice: its cold start and warm-up come first.
        self.warm_up(plan, progress);
        let Some(executor) = self.executor.as_deref() else {
            return;
        };
        let began = Instant::now();
        // The bar counts one call per switch: how many fit in the time is not known ahead.
        let hidden = ProgressBar::hidden();
        let mut i = 0;
        while i == 0 || (began.elapsed() < plan.switch_warmup && i < MAX_SWITCH_CALLS) {
            let case = &Case {
                code: "result = None".into(),
                expected: "None".into(),
                stdin: None,
                fresh: false,
            };
            let bar = if i == 0 { progress } else { &hidden };
            self.m.switch_calls += 1;
            match timed_call(executor, case, plan.timeout, None, bar, &self.answers) {
                Ok(t) => stats::record(&mut self.m.switch, t.latency),
                Err(failure) => {
                    self.m.warmup_errors += 1;
                    self.m
                        .note_error(&failure, format!("switch warm-up call {}", i + 1));
                    // An executor that fails an empty call (a server that is down) fails the
                    // next as fast: thousands of them would only bury the measured errors.
                    break;
                }
            }
            i += 1;
        }
    }

    /// Runs `len` measured calls from closed-loop clients, and more while the slice has run
    /// for less than `min_time`, after the cold start and warm-ups if this is the pair's first
    /// slice.
    pub(super) fn run_slice(
        &mut self,
        plan: &Plan,
        len: usize,
        min_time: Duration,
        progress: &ProgressBar,
        stop: &AtomicBool,
    ) {
        let start = self.made;
        self.m.planned += len;
        self.drive(plan, start..start + len, None, min_time, progress, stop);
    }

    /// Open loop: `rate` calls per second for `duration`, whatever the backend's speed; each
    /// call's latency runs from its intended start, so time spent queued counts (as wrk2 does).
    pub(super) fn run_open(
        &mut self,
        plan: &Plan,
        rate: f64,
        duration: Duration,
        progress: &ProgressBar,
        stop: &AtomicBool,
    ) {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let start = self.made;
        let calls = start..start + open_loop_calls(rate, duration);
        self.m.planned += calls.len();
        self.drive(plan, calls, Some(interval), Duration::ZERO, progress, stop);
    }

    /// Makes calls `calls` from `plan.load.clients()` clients: each as soon as a client is
    /// free, or, with an `interval`, not before its intended start (call n at n × interval);
    /// then, if that took less than `min_time`, more calls until it has.
    fn drive(
        &mut self,
        plan: &Plan,
        calls: Range<usize>,
        interval: Option<Duration>,
        min_time: Duration,
        progress: &ProgressBar,
        stop: &AtomicBool,
    ) {
        progress.set_message(self.label.clone());
        self.warm_up(plan, progress);
        let Some(executor) = self.executor.as_deref() else {
            return;
        };
        let next = AtomicUsize::new(calls.start);
        // Read after the warm-ups, so only measured calls' traffic is theirs (one client).
        let before = self.tap.as_ref().map(crate::netcount::Tap::counts);
        let started = Instant::now();
        let outcomes = clients(plan.load.clients(), || {
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= calls.end {
                    if started.elapsed() >= min_time || n - calls.start >= MAX_SLICE_CALLS {
                        break;
                    }
                    // A call beyond the plan's count: the bar grows with it.
                    progress.inc_length(1);
                }
                let intended = interval.map(|i| started + i.mul_f64((n - calls.start) as f64));
                if let Some(wait) = intended.and_then(|t| t.checked_duration_since(Instant::now()))
                {
                    std::thread::sleep(wait);
                }
                let case = self.workload.case(n);
                out.push((
                    n,
                    timed_call(
                        executor,
                        case,
                        plan.timeout,
                        intended,
                        progress,
                        &self.answers,
                    ),
                ));
            }
            out
        });
        self.m.elapsed += started.elapsed();
        if let (Some(tap), Some(before)) = (&self.tap, before) {
            let added = tap.counts().since(before);
            let total = self.m.network.map_or(added, |(_, sum)| sum.plus(added));
            self.m.network = Some((tap.path(), total));
        }
        // Numbers run on past the plan's when the minimum time called for more calls.
        self.made = calls.end.max(calls.start + outcomes.len());
        self.record(outcomes);
    }

    /// Adds the outcomes of measured calls, in call order.
    fn record(&mut self, mut outcomes: Vec<(usize, CallOutcome)>) {
        outcomes.sort_by_key(|(n, _)| *n);
        let m = &mut self.m;
        for (n, outcome) in outcomes {
            m.calls += 1;
            match outcome {
                Ok(Timed {
                    latency,
                    exec_ns,
                    import_ns,
                }) => {
                    stats::record(&mut m.latency, latency);
                    // 0: the executor reports no exec time (an MCP server other than `serve`);
                    // the exec figures then stay empty rather than read 0.
                    if exec_ns > 0 {
                        stats::record(&mut m.exec, Duration::from_nanos(exec_ns));
                    }
                    if import_ns > 0 {
                        stats::record(&mut m.import, Duration::from_nanos(import_ns));
                    }
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

/// What a call that counts took: its latency, and what the agent reports of it.
struct Timed {
    latency: Duration,
    /// The agent's exec time (0: not reported).
    exec_ns: u64,
    /// The `--preload` imports the call paid for (0: none).
    import_ns: u64,
}

/// A call's latency and the agent's figures, or why it does not count.
type CallOutcome = Result<Timed, Failure>;

/// Makes one call and checks it; latency runs from `from` (the intended start) when given.
fn timed_call(
    executor: &dyn Executor,
    case: &Case,
    timeout: Duration,
    from: Option<Instant>,
    progress: &ProgressBar,
    answers: &Mutex<HashSet<String>>,
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
        Ok(reply) => {
            check(&reply, case)?;
            if case.fresh {
                let got = reply.result.as_deref().unwrap_or_default();
                let new = answers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(format!("{}\0{got}", case.code));
                if !new {
                    return Err(Failure::Wrong {
                        expected: "an answer not given before (a fresh case)".into(),
                        got: crate::agent::excerpt(got),
                    });
                }
            }
            Ok(Timed {
                latency,
                exec_ns: reply.exec_ns,
                import_ns: reply.import_ns,
            })
        }
        Err(e) => Err(Failure::Call(e)),
    }
}

/// Runs `client` on `n` threads and gathers what they return.
/// One client runs on the calling thread: a thread started per slice would begin each slice
/// cold (a new task waits its turn on a busy CPU), a cost no steady caller pays.
fn clients<T: Send>(n: usize, client: impl Fn() -> Vec<T> + Sync) -> Vec<T> {
    if n <= 1 {
        return client();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n.max(1)).map(|_| scope.spawn(&client)).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}
