//! The runner: each backend's floor first (empty calls), then for each backend × workload a
//! fresh executor, one cold-start call, the warm-up calls, and the measured calls, in the
//! order the schedule gives; each call is timed from request to validated reply.

pub use super::fork_floor::ForkFloor;
pub use super::measurement::{Failure, Measurement, check};
pub use super::plan::{Load, Plan, open_loop_calls};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::ProgressBar;

use super::fork_floor;
use super::pair::Pair;
use super::wakeup_floor::{self, WakeupFloor};
use crate::bench::workload::{Case, Workload};
use crate::strategy::Strategy;

/// What a run measured: each backend's floor, then each backend × workload.
pub struct RunOutput {
    pub calibration: Vec<Measurement>,
    pub measurements: Vec<Measurement>,
    /// Each fork backend's platform floor, or why it could not be measured.
    pub fork_floors: Vec<(String, Result<ForkFloor, String>)>,
    /// Each sandboxed persistent backend's wake-up floor inside its sandbox, or why not.
    pub sandbox_wakeup_floors: Vec<(String, Result<WakeupFloor, String>)>,
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
            fresh: false,
        }],
        source: "(built in)".into(),
    }
}

/// Runs the plan; stops early (keeping what it measured) once `stop` is set.
pub fn run(plan: &Plan, progress: &ProgressBar, stop: &AtomicBool) -> RunOutput {
    let mut calibration = Vec::new();
    if plan.calibration > 0 {
        let empty = calibration_workload(plan.calibration as u32);
        for (i, reached) in plan.backends.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let mut pair = Pair::new(plan, reached, &empty);
            if i > 0 && !plan.switch_warmup.is_zero() {
                pair.switch_warm_up(plan, progress);
            }
            pair.run_slice(plan, plan.calibration, Duration::ZERO, progress, stop);
            calibration.push(pair.finish());
        }
    }
    let mut fork_floors = Vec::new();
    for reached in &plan.backends {
        if reached.backend.strategy() == Some(Strategy::Fork) && !stop.load(Ordering::Relaxed) {
            let floor =
                fork_floor::measure(Arc::clone(&reached.transport), &plan.agent, plan.timeout);
            fork_floors.push((reached.backend.to_string(), floor));
        }
    }
    let mut sandbox_wakeup_floors = Vec::new();
    for reached in &plan.backends {
        if reached.backend.strategy() == Some(Strategy::Persistent)
            && reached.backend.sandboxed()
            && !stop.load(Ordering::Relaxed)
        {
            let floor = wakeup_floor::measure_in_sandbox(
                Arc::clone(&reached.transport),
                &plan.agent,
                plan.timeout,
            );
            sandbox_wakeup_floors.push((reached.backend.to_string(), floor));
        }
    }
    let mut pairs: Vec<Pair> = plan
        .backends
        .iter()
        .flat_map(|reached| {
            plan.workloads
                .iter()
                .map(move |w| Pair::new(plan, reached, w))
        })
        .collect();
    let mut left: Vec<usize> = pairs
        .iter()
        .map(|p| plan.measured_calls(p.workload))
        .collect();
    let mut measurements: Vec<Option<Measurement>> = (0..pairs.len()).map(|_| None).collect();
    let schedule = plan.slices();
    // Each pair's minimum time is shared evenly by the slices the schedule gives it.
    let mut slices_of = vec![0u32; pairs.len()];
    for (slice, _) in &schedule {
        slices_of[slice.pair] += 1;
    }
    for (slice, switched) in schedule {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match plan.load {
            Load::Open { rate, duration, .. } => {
                pairs[slice.pair].run_open(plan, rate, duration, progress, stop)
            }
            Load::Closed { .. } => {
                if switched && !plan.switch_warmup.is_zero() {
                    pairs[slice.pair].switch_warm_up(plan, progress);
                }
                let min = plan.min_time / slices_of[slice.pair];
                pairs[slice.pair].run_slice(plan, slice.len, min, progress, stop)
            }
        }
        left[slice.pair] -= slice.len;
        if left[slice.pair] == 0 {
            if !stop.load(Ordering::Relaxed) {
                pairs[slice.pair].measure_memory(plan);
            }
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
        sandbox_wakeup_floors,
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentOptions, ErrorKind};
    use crate::bench::schedule::Order;
    use crate::sandbox::Reached;
    use crate::sandbox::backend::{Backend, TransportKind};
    use crate::strategy::Strategy;
    use crate::transport::Transport;
    use crate::transport::fake::{Act, Fake};

    /// A workload of `cases` cases `result = 0`, `result = 1`, …, each run `calls` times.
    fn workload(name: &str, cases: usize, calls: u32) -> Workload {
        Workload {
            name: name.into(),
            description: String::new(),
            calls,
            cases: (0..cases)
                .map(|i| Case {
                    code: format!("result = {i}"),
                    expected: i.to_string(),
                    stdin: None,
                    fresh: false,
                })
                .collect(),
            source: "(test)".into(),
        }
    }

    fn plan(fake: &Arc<Fake>, strategy: Strategy, workloads: Vec<Workload>) -> Plan {
        let backend = Backend::on_docker(TransportKind::Local, strategy);
        Plan {
            backends: vec![Reached {
                backend,
                transport: Arc::clone(fake) as Arc<dyn Transport>,
                shared_dir: None,
                tap: None,
            }],
            workloads,
            calls_scale: 1.0,
            warmup: 2,
            timeout: Duration::from_secs(5),
            order: Order::Sequential,
            calibration: 0,
            load: Load::Closed { concurrency: 1 },
            agent: AgentOptions::default(),
            switch_warmup: Duration::ZERO,
            min_time: Duration::ZERO,
        }
    }

    fn run_plan(plan: &Plan) -> RunOutput {
        run(plan, &ProgressBar::hidden(), &AtomicBool::new(false))
    }

    #[test]
    fn each_pair_gets_a_cold_start_warmups_and_its_measured_calls() {
        let fake = Arc::new(Fake::answering());
        let plan = plan(
            &fake,
            Strategy::Persistent,
            vec![workload("a", 2, 3), workload("b", 1, 4)],
        );
        let out = run_plan(&plan);
        let rows: Vec<(&str, usize, usize, bool)> = out
            .measurements
            .iter()
            .map(|m| {
                let cold = m.cold_start.is_some();
                (m.workload.as_str(), m.calls, m.samples.len(), cold)
            })
            .collect();
        assert_eq!(rows, vec![("a", 6, 6, true), ("b", 4, 4, true)]);
        // A fresh executor (one agent) per pair; 1 cold start + 2 warm-ups + calls + 1 memory
        // call each.
        assert_eq!(fake.starts(), 2);
        assert_eq!(fake.requests(), (1 + 2 + 6 + 1) + (1 + 2 + 4 + 1));
        assert_eq!(out.measurements[0].python.as_deref(), Some("3.fake"));
    }

    #[test]
    fn calibration_comes_first_with_empty_calls() {
        let fake = Arc::new(Fake::answering());
        let mut plan = plan(&fake, Strategy::PerCall, vec![workload("a", 1, 2)]);
        plan.calibration = 5;
        let out = run_plan(&plan);
        assert_eq!(out.calibration.len(), 1);
        assert_eq!(out.calibration[0].workload, "calibration");
        assert_eq!(out.calibration[0].samples.len(), 5);
        // per-call: one agent per call, calibration and workload alike (the workload's pair
        // also makes its memory call; the floor's does not).
        assert_eq!(fake.starts(), (1 + 2 + 5) + (1 + 2 + 2 + 1));
    }

    #[test]
    fn interleaved_slices_keep_one_executor_per_pair_and_every_call() {
        let fake = Arc::new(Fake::answering());
        let mut plan = plan(
            &fake,
            Strategy::Persistent,
            vec![workload("a", 1, 7), workload("b", 1, 5)],
        );
        plan.order = Order::Interleaved { seed: 3, rounds: 4 };
        let out = run_plan(&plan);
        let calls: Vec<usize> = out.measurements.iter().map(|m| m.samples.len()).collect();
        assert_eq!(calls, vec![7, 5]);
        assert_eq!(fake.starts(), 2, "an executor is kept across its slices");
    }

    #[test]
    fn a_switch_from_another_backend_gets_a_warm_up_kept_out_of_the_figures() {
        let fake = Arc::new(Fake::answering());
        let mut plan = plan(&fake, Strategy::Persistent, vec![workload("a", 1, 6)]);
        plan.backends.push(Reached {
            backend: Backend::on_docker(TransportKind::Local, Strategy::Pool(1)),
            transport: Arc::clone(&fake) as Arc<dyn Transport>,
            shared_dir: None,
            tap: None,
        });
        plan.order = Order::Interleaved { seed: 1, rounds: 3 };
        plan.calibration = 2;
        // The fake answers at once: a warm-up that long still ends, after at least one call.
        plan.switch_warmup = Duration::from_millis(5);
        let slices = plan.slices();
        let switches = slices.iter().filter(|(_, s)| *s).count();
        // After the floors (the last backend's last), a slice of the other backend switches.
        let mut last = 1;
        for (slice, switched) in &slices {
            assert_eq!(*switched, slice.pair != last, "{slices:?}");
            last = slice.pair;
        }
        let out = run_plan(&plan);
        let made: usize = out.measurements.iter().map(|m| m.switch_calls).sum();
        assert!(
            made >= switches,
            "{made} switch calls for {switches} switches"
        );
        let timed: u64 = out.measurements.iter().map(|m| m.switch.len()).sum();
        assert_eq!(timed as usize, made);
        // The measured figures hold the measured calls only.
        let samples: Vec<usize> = out.measurements.iter().map(|m| m.samples.len()).collect();
        assert_eq!(samples, vec![6, 6]);
        assert!(
            out.calibration[1].switch_calls >= 1,
            "the second floor waits too"
        );
        assert_eq!(out.calibration[0].switch_calls, 0);

        plan.switch_warmup = Duration::ZERO;
        let out = run_plan(&plan);
        assert!(out.measurements.iter().all(|m| m.switch_calls == 0));
    }

    #[test]
    fn a_fast_pair_is_measured_for_the_minimum_time_in_every_slice() {
        let fake = Arc::new(Fake::answering());
        let mut plan = plan(
            &fake,
            Strategy::Persistent,
            vec![workload("a", 2, 3), workload("b", 1, 1)],
        );
        plan.order = Order::Interleaved { seed: 5, rounds: 3 };
        plan.min_time = Duration::from_millis(60);
        let began = std::time::Instant::now();
        let out = run_plan(&plan);
        // Six planned calls for a, in three slices of at least 20 ms; one for b, in its one
        // slice (a pair of one call is not cut), which gets the whole 60 ms.
        assert!(began.elapsed() >= Duration::from_millis(120));
        for m in &out.measurements {
            let planned = if m.workload == "a" { 6 } else { 1 };
            assert!(m.calls > planned, "{}: {} calls", m.workload, m.calls);
            assert_eq!(m.samples.len(), m.calls);
            assert!(m.elapsed >= Duration::from_millis(60), "{:?}", m.elapsed);
        }
        // Every call numbered once: the fake saw each measured call, cold start, warm-ups and
        // memory call.
        let measured: usize = out.measurements.iter().map(|m| m.calls).sum();
        assert_eq!(fake.requests(), measured + 2 * (1 + 2 + 1));

        // 0: exactly the planned calls.
        plan.min_time = Duration::ZERO;
        let calls: Vec<usize> = run_plan(&plan)
            .measurements
            .iter()
            .map(|m| m.calls)
            .collect();
        assert_eq!(calls, [6, 1]);
    }

    #[test]
    fn wrong_answers_and_deaths_are_counted_not_timed() {
        let fake = Arc::new(Fake::new(|seen| match seen.overall {
            5 => Act::Wrong("'nope'".into()),
            7 => Act::Die,
            _ => Act::Answer,
        }));
        let plan = plan(&fake, Strategy::Persistent, vec![workload("a", 1, 6)]);
        let out = run_plan(&plan);
        let m = &out.measurements[0];
        // Requests 1-3 are the cold start and warm-ups; 4-9 the measured calls.
        assert_eq!((m.calls, m.errors, m.samples.len()), (6, 2, 4));
        assert_eq!(m.errors_by_kind.get(&ErrorKind::WrongAnswer), Some(&1));
        assert_eq!(m.errors_by_kind.get(&ErrorKind::AgentDied), Some(&1));
        assert_eq!((m.restarts, fake.starts()), (1, 2));
    }

    #[test]
    fn an_open_loop_makes_rate_times_duration_calls_from_its_clients() {
        let fake = Arc::new(Fake::answering());
        let mut plan = plan(&fake, Strategy::Pool(2), vec![workload("a", 1, 1000)]);
        plan.order = Order::Interleaved { seed: 1, rounds: 5 };
        plan.load = Load::Open {
            rate: 400.0,
            duration: Duration::from_millis(50),
            concurrency: 2,
        };
        assert_eq!(plan.measured_calls(&plan.workloads[0]), 20);
        let out = run_plan(&plan);
        assert_eq!(out.measurements[0].samples.len(), 20);
        assert_eq!(
            fake.starts(),
            2,
            "both agents of the pool started before measuring"
        );
    }

    #[test]
    fn the_stop_flag_ends_the_run_and_keeps_what_was_measured() {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let fake = Arc::new(Fake::new(move |seen| {
            if seen.overall == 6 {
                flag.store(true, Ordering::SeqCst);
            }
            Act::Answer
        }));
        let plan = plan(
            &fake,
            Strategy::Persistent,
            vec![workload("a", 1, 50), workload("b", 1, 50)],
        );
        let out = run(&plan, &ProgressBar::hidden(), &stop);
        assert_eq!(out.measurements.len(), 1, "the unstarted pair is left out");
        let m = &out.measurements[0];
        assert_eq!(m.workload, "a");
        assert!(m.calls < 50 && m.calls >= 3, "{} calls", m.calls);
        assert_eq!(m.samples.len(), m.calls);
    }
}
