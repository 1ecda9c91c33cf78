//! The runner: each backend's floor first (empty calls), then for each backend × workload a
//! fresh executor, one cold-start call, the warm-up calls, and the measured calls, in the
//! order the schedule gives; each call is timed from request to validated reply.

pub mod fork_floor;
mod measurement;
mod pair;

pub use fork_floor::ForkFloor;
pub use measurement::{Failure, Measurement, check};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::ProgressBar;

use crate::agent::AgentOptions;
use crate::backend::Backend;
use crate::schedule::{self, Order, Slice};
use crate::strategy::Strategy;
use crate::transport::Transport;
use crate::workload::{Case, Workload};
use pair::Pair;

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
    /// How long calls are made and kept apart each time a backend × workload resumes after
    /// another backend's calls (at least one call): the cost of the switch, reported, not
    /// mixed into the figures. Zero: no switch warm-up.
    pub switch_warmup: Duration,
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
        // A switch warm-up's calls depend on the backend's speed: the bar counts one each.
        let switches = if self.switch_warmup.is_zero() {
            0
        } else {
            let floors = if self.calibration > 0 {
                self.backends.len().saturating_sub(1)
            } else {
                0
            };
            floors + self.slices().iter().filter(|(_, s)| *s).count()
        };
        ((per_backend + calibration) * self.backends.len() + switches) as u64
    }

    /// The slices of measured calls in order, each with whether it comes right after another
    /// backend's calls.
    fn slices(&self) -> Vec<(Slice, bool)> {
        let calls: Vec<usize> = self
            .backends
            .iter()
            .flat_map(|_| self.workloads.iter().map(|w| self.measured_calls(w)))
            .collect();
        // An open loop runs each pair for its whole duration: a rate cannot be cut into slices.
        let order = match self.load {
            Load::Open { .. } => Order::Sequential,
            Load::Closed { .. } => self.order,
        };
        let per_backend = self.workloads.len().max(1);
        // The floors are measured first, the last backend's at the end.
        let mut last = (self.calibration > 0).then(|| self.backends.len() - 1);
        schedule::schedule(&calls, order)
            .into_iter()
            .map(|slice| {
                let backend = slice.pair / per_backend;
                let switched = last.is_some_and(|b| b != backend);
                last = Some(backend);
                (slice, switched)
            })
            .collect()
    }
}
/// What a run measured: each backend's floor, then each backend × workload.
pub struct RunOutput {
    pub calibration: Vec<Measurement>,
    pub measurements: Vec<Measurement>,
    /// Each fork backend's platform floor, or why it could not be measured.
    pub fork_floors: Vec<(String, Result<ForkFloor, String>)>,
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
        for (i, (backend, transport)) in plan.backends.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let mut pair = Pair::new(plan, backend, transport, &empty);
            if i > 0 && !plan.switch_warmup.is_zero() {
                pair.switch_warm_up(plan, 0, progress);
            }
            pair.run_slice(plan, 0, plan.calibration, progress, stop);
            calibration.push(pair.finish());
        }
    }
    let mut fork_floors = Vec::new();
    for (backend, transport) in &plan.backends {
        if backend.strategy == Strategy::Fork && !stop.load(Ordering::Relaxed) {
            let floor = fork_floor::measure(Arc::clone(transport), &plan.agent, plan.timeout);
            fork_floors.push((backend.to_string(), floor));
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
    let mut left: Vec<usize> = pairs
        .iter()
        .map(|p| plan.measured_calls(p.workload))
        .collect();
    let mut measurements: Vec<Option<Measurement>> = (0..pairs.len()).map(|_| None).collect();
    for (slice, switched) in plan.slices() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match plan.load {
            Load::Open { rate, duration, .. } => {
                pairs[slice.pair].run_open(plan, rate, duration, progress, stop)
            }
            Load::Closed { .. } => {
                if switched && !plan.switch_warmup.is_zero() {
                    pairs[slice.pair].switch_warm_up(plan, slice.start, progress);
                }
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
        fork_floors,
    }
}
/// Calls an open-loop run makes: `rate × duration`, at least one.
pub fn open_loop_calls(rate: f64, duration: Duration) -> usize {
    ((rate * duration.as_secs_f64()).round() as usize).max(1)
}
