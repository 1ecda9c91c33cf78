//! The plan of a run: which backends and workloads, how many calls, in what order and under
//! what load. The runner executes it and each backend × workload pair reads it, so it sits
//! below both.

use std::time::Duration;

use crate::agent::AgentOptions;
use crate::bench::schedule::{self, Order, Slice};
use crate::bench::workload::Workload;
use crate::sandbox::Reached;

/// What the runner needs, validated at the edge.
pub struct Plan {
    pub backends: Vec<Reached>,
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
    /// How long each backend × workload is measured for at least, spread evenly over its
    /// slices: a pair whose slice ends sooner goes on making calls (closed loop only).
    pub min_time: Duration,
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
    pub(super) fn slices(&self) -> Vec<(Slice, bool)> {
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
/// Calls an open-loop run makes: `rate × duration`, at least one.
pub fn open_loop_calls(rate: f64, duration: Duration) -> usize {
    ((rate * duration.as_secs_f64()).round() as usize).max(1)
}
