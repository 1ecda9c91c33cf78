//! `sandbox-bench run`: the steps of a benchmark run, in order: check the inputs, choose the
//! backends and bring the sandbox up, plan, measure (with the stop flag and the machine's load
//! watched), assemble the results file, save it, print the report, choose the exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use super::check_output_writable;
use super::stop::Stop;
use crate::agent::{AgentOptions, Wait, WaitMode};
use crate::bench::machine_load::{LoadMonitor, MachineSample};
use crate::bench::memory_wall;
use crate::bench::runner::{self, Load, Measurement, Plan, RunOutput};
use crate::bench::schedule::Order;
use crate::bench::wakeup_floor::{self, WakeupFloor};
use crate::bench::warnings::{self, Warning, WarningKind};
use crate::bench::workload::{self, Workload};
use crate::error::usage;
use crate::report::console::{self, View};
use crate::results::{
    self, BenchmarkResults, Entry, Header, Host, LoadShape, McpServerRecord, Settings, Versions,
    now,
};
use crate::sandbox::backend::Backend;
use crate::sandbox::compose_stack::Stack;
use crate::sandbox::record::SandboxInfo;
use crate::sandbox::{self, Reached, Sandbox, SandboxOptions};

/// Options of `sandbox-bench run`, already checked.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Backends and how to reach the sandbox.
    pub sandbox: SandboxOptions,
    pub baseline: Option<Backend>,
    pub workloads: Option<Vec<String>>,
    pub workloads_dir: PathBuf,
    pub calls_scale: f64,
    pub warmup: usize,
    pub timeout: Duration,
    pub output: PathBuf,
    /// `None`: interleaved when two or more backends run, else sequential.
    pub interleave: Option<bool>,
    /// The shuffle's seed; `None` picks one (and records it).
    pub seed: Option<u64>,
    pub rounds: usize,
    /// Empty calls per backend that measure its floor (0: none).
    pub calibration: usize,
    /// How long calls are kept apart each time a pair resumes after another backend ran.
    pub switch_warmup: Duration,
    /// How long each backend × workload is measured for at least (closed loop).
    pub min_time: Duration,
    pub load: Load,
    /// Modules every agent imports at start.
    pub preload: Vec<String>,
    /// How the harness waits for replies, and how long `spin` polls before blocking.
    pub wait: WaitMode,
    pub spin: Duration,
    /// Folder for `.hgrm` percentile distributions, one per backend × workload.
    pub export_hgrm: Option<PathBuf>,
    /// Kill the processes found in the sandbox before the run (left by something else).
    pub clean_sandbox: bool,
    /// How the console report is drawn.
    pub view: View,
}

/// What the measuring step gives back.
struct Measured {
    output: RunOutput,
    started_at: String,
    machine: MachineSample,
    /// The host's wake-up floor, measured before anything else.
    wakeup: Result<WakeupFloor, String>,
    /// The exit code of the signal that stopped the run, if one did.
    interrupted: Option<u8>,
}

/// `sandbox-bench run`.
pub fn run(opts: RunOptions) -> Result<ExitCode> {
    let workloads = select_workloads(&opts)?;
    check_destinations(&opts)?;
    let (backends, docker) = sandbox::choose_backends(&opts.sandbox)?;
    let baseline = pick_baseline(&opts, &backends)?;
    let Sandbox {
        stack,
        mut info,
        profiles,
        mut versions,
        reached,
    } = sandbox::prepare(&backends, &opts.sandbox, docker)?;
    sweep_strays(&opts, &reached, info.as_mut());
    let plan = make_plan(&opts, reached, workloads);
    memory_wall::check(&plan, |text| opts.sandbox.notice(text))?;
    let stop = Stop::install();
    let measured = measure(&opts, &plan, &stop);
    record_pythons(&mut versions, &plan, &measured.output.measurements);
    let mut results = assemble(&opts, &plan, baseline, stack.as_ref(), versions, &measured);
    results.sandbox = info;
    results.profiles = profiles;
    save_and_print(&opts, &results)?;
    Ok(exit_code(&results, measured.interrupted))
}

/// The workloads named (or all of them), read from their folder.
fn select_workloads(opts: &RunOptions) -> Result<Vec<Workload>> {
    let all = workload::load_dir(&opts.workloads_dir)?;
    Ok(workload::select(all, opts.workloads.as_deref())?)
}

/// Before measuring: a run should not end on a file or folder that cannot be written.
fn check_destinations(opts: &RunOptions) -> Result<()> {
    check_output_writable(&opts.output)?;
    if let Some(dir) = &opts.export_hgrm {
        std::fs::create_dir_all(dir).map_err(|e| {
            usage(format!(
                "--export-hgrm: cannot create '{}': {e}",
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// The backend the others are compared against: named, or the first.
fn pick_baseline(opts: &RunOptions, backends: &[Backend]) -> Result<Backend> {
    let baseline = opts.baseline.clone().unwrap_or_else(|| backends[0].clone());
    if !backends.contains(&baseline) {
        return Err(usage(format!(
            "--baseline {baseline} is not one of --backends"
        )));
    }
    Ok(baseline)
}

/// What the runner gets: the transports, workloads, order, load shape and agent options.
fn make_plan(opts: &RunOptions, reached: Vec<Reached>, workloads: Vec<Workload>) -> Plan {
    let order = if opts.interleave.unwrap_or(reached.len() >= 2) {
        Order::Interleaved {
            seed: opts.seed.unwrap_or_else(fresh_seed),
            rounds: opts.rounds,
        }
    } else {
        Order::Sequential
    };
    Plan {
        backends: reached,
        workloads,
        calls_scale: opts.calls_scale,
        warmup: opts.warmup,
        timeout: opts.timeout,
        order,
        calibration: opts.calibration,
        load: opts.load,
        agent: AgentOptions {
            preload: opts.preload.clone(),
            reset: false,
            wait: Wait::new(opts.wait, opts.spin),
        },
        switch_warmup: opts.switch_warmup,
        min_time: opts.min_time,
    }
}

/// Counts the processes something else left in the sandbox (recorded in the results), and
/// with --clean-sandbox kills them, before anything is measured.
fn sweep_strays(opts: &RunOptions, reached: &[Reached], info: Option<&mut SandboxInfo>) {
    let strays = sandbox::sweep_before(reached, opts.clean_sandbox);
    if let Some(n) = strays.filter(|n| *n > 0) {
        opts.sandbox.notice(&if opts.clean_sandbox {
            format!("sandbox: removed {n} processes left in it by something else")
        } else {
            format!(
                "sandbox: {n} processes left in it by something else (--clean-sandbox removes them)"
            )
        });
    }
    if let Some(info) = info {
        info.strays_at_start = strays;
        info.strays_removed = opts.clean_sandbox;
    }
}

/// Runs the plan with a progress bar, sampling the machine's load meanwhile; then, every
/// executor being stopped, sweeps what their agents left behind.
fn measure(opts: &RunOptions, plan: &Plan, stop: &Stop) -> Measured {
    let started_at = now();
    // First, while nothing of the run's own keeps the cores busy.
    let wakeup = wakeup_floor::measure();
    let progress = progress_bar(opts, plan.total_calls());
    let load = LoadMonitor::start();
    let output = runner::run(plan, &progress, &stop.flag);
    let machine = load.stop();
    progress.finish_and_clear();
    // What MCP servers left on the host is in the results and the console report.
    let _ = sandbox::sweep_after(&plan.backends);
    Measured {
        output,
        started_at,
        machine,
        wakeup,
        interrupted: stop.exit_code(),
    }
}

/// The Python versions the agents reported, in the sandbox and on the host.
fn record_pythons(versions: &mut Versions, plan: &Plan, measurements: &[Measurement]) {
    for m in measurements {
        let slot = match plan
            .backends
            .iter()
            .find(|r| r.backend.to_string() == m.backend)
        {
            Some(r) if r.backend.sandboxed() => &mut versions.sandbox_python,
            _ => &mut versions.local_python,
        };
        if slot.is_none() {
            slot.clone_from(&m.python);
        }
    }
}

/// The results file's content: settings, host, versions, measurements and warnings.
fn assemble(
    opts: &RunOptions,
    plan: &Plan,
    baseline: Backend,
    stack: Option<&Stack>,
    versions: Versions,
    measured: &Measured,
) -> BenchmarkResults {
    let measurements = &measured.output.measurements;
    let host = Host::detect();
    let mut warnings = collect_warnings(
        measurements,
        &measured.machine,
        host.cpus,
        opts.load.clients(),
    );
    for (backend, floor) in &measured.output.fork_floors {
        if let Err(e) = floor {
            warnings.push(Warning {
                kind: WarningKind::ForkFloor,
                backend: Some(backend.clone()),
                workload: None,
                message: format!("the sandbox's fork floor could not be measured: {e}"),
            });
        }
    }
    match &measured.wakeup {
        Ok(floor) => {
            let rows: Vec<(String, String, f64)> = measurements
                .iter()
                .filter_map(|m| {
                    let p50 = crate::bench::stats::summarize(&m.latency)?.p50;
                    Some((m.backend.clone(), m.workload.clone(), p50))
                })
                .collect();
            warnings.extend(wakeup_floor::warnings(floor, opts.wait, &rows));
        }
        Err(e) => warnings.push(Warning {
            kind: WarningKind::WakeupFloor,
            backend: None,
            workload: None,
            message: format!("the machine's wake-up floor could not be measured: {e}"),
        }),
    }
    for (backend, floor) in &measured.output.sandbox_wakeup_floors {
        if let Err(e) = floor {
            warnings.push(Warning {
                kind: WarningKind::WakeupFloor,
                backend: Some(backend.clone()),
                workload: None,
                message: format!("the wake-up floor inside the sandbox could not be measured: {e}"),
            });
        }
    }
    let order = plan.order;
    BenchmarkResults {
        header: Header {
            host,
            ..Header::finished_now(results::SCHEMA_VERSION, measured.started_at.clone())
        },
        complete: measured.interrupted.is_none(),
        versions,
        settings: Settings {
            backends: plan
                .backends
                .iter()
                .map(|r| r.backend.to_string())
                .collect(),
            baseline: baseline.to_string(),
            workloads: plan.workloads.iter().map(|w| w.name.clone()).collect(),
            calls_scale: opts.calls_scale,
            warmup: opts.warmup,
            timeout_s: opts.timeout.as_secs_f64(),
            compose_file: stack.map(|s| s.file.display().to_string()),
            service: stack.map(|s| s.service.clone()),
            order: match opts.load {
                Load::Open { .. } => "sequential".into(),
                Load::Closed { .. } => order.name().into(),
            },
            load: LoadShape::from(opts.load),
            preload: opts.preload.clone(),
            wait: opts.wait,
            spin_us: (opts.wait == WaitMode::Spin).then_some(opts.spin.as_secs_f64() * 1e6),
            seed: match order {
                Order::Interleaved { seed, .. } => Some(seed),
                Order::Sequential => None,
            },
            rounds: match order {
                Order::Interleaved { rounds, .. } => Some(rounds),
                Order::Sequential => None,
            },
            calibration_calls: opts.calibration,
            min_time_s: match opts.load {
                Load::Closed { .. } => opts.min_time.as_secs_f64(),
                Load::Open { .. } => 0.0,
            },
            switch_warmup_ms: matches!(order, Order::Interleaved { .. })
                .then_some(opts.switch_warmup.as_secs_f64() * 1000.0),
            prefix: opts.sandbox.prefix.as_ref().map(|words| {
                shlex::try_join(words.iter().map(String::as_str))
                    .unwrap_or_else(|_| words.join(" "))
            }),
            mcp: plan
                .backends
                .iter()
                .filter_map(|r| match &r.backend {
                    Backend::Mcp(m) => Some(McpServerRecord::of(m)),
                    Backend::Sandbox(_) => None,
                })
                .collect(),
            round_trips: opts.sandbox.counting.map(|c| results::RoundTripSettings {
                added_rtt_ms: c.added_rtt.as_secs_f64() * 1000.0,
            }),
        },
        histogram_encoding: results::HISTOGRAM_ENCODING.into(),
        calibration: measured
            .output
            .calibration
            .iter()
            .map(Entry::from_measurement)
            .collect(),
        results: measurements.iter().map(Entry::from_measurement).collect(),
        warnings,
        max_load: Some(measured.machine.load_max),
        fork_floors: measured
            .output
            .fork_floors
            .iter()
            .filter_map(|(b, f)| Some((b.clone(), *f.as_ref().ok()?)))
            .collect(),
        wakeup_floor: measured.wakeup.as_ref().ok().copied(),
        sandbox_wakeup_floors: measured
            .output
            .sandbox_wakeup_floors
            .iter()
            .filter_map(|(b, f)| Some((b.clone(), *f.as_ref().ok()?)))
            .collect(),
        machine: Some(measured.machine.clone()),
        sandbox: None,
        profiles: Vec::new(),
    }
}

/// Saves the results (and the .hgrm files), then prints the report.
fn save_and_print(opts: &RunOptions, results: &BenchmarkResults) -> Result<()> {
    let copy = results::save(results, &opts.output)?;
    print!("{}", console::render(results, opts.view));
    if let Some(dir) = &opts.export_hgrm {
        let n = super::report::export_hgrm(results, dir)?;
        opts.sandbox.notice(&format!(
            "wrote {n} .hgrm files (values in ms) to {}",
            dir.display()
        ));
    }
    opts.sandbox.notice(&format!(
        "results: {} (copy: {})",
        opts.output.display(),
        copy.display()
    ));
    Ok(())
}

/// 128 + the signal when one stopped the run (130, 143, 129), 1 when calls failed, else 0.
fn exit_code(results: &BenchmarkResults, interrupted: Option<u8>) -> ExitCode {
    let failed: usize = results.results.iter().map(Entry::all_errors).sum();
    if let Some(code) = interrupted {
        return super::stop::interrupted(code);
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} calls failed (see the Errors column); their latencies are not in the figures"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn progress_bar(opts: &RunOptions, total: u64) -> ProgressBar {
    if opts.sandbox.quiet || !std::io::stderr().is_terminal() || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} calls  {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Every reason to doubt a figure of this run.
fn collect_warnings(
    measurements: &[Measurement],
    machine: &MachineSample,
    cpus: usize,
    clients: usize,
) -> Vec<Warning> {
    let mut found: Vec<Warning> = measurements
        .iter()
        .flat_map(|m| warnings::check_samples(&m.backend, &m.workload, &m.samples))
        .collect();
    let rows: Vec<(String, String, usize)> = measurements
        .iter()
        .map(|m| (m.backend.clone(), m.workload.clone(), m.samples.len()))
        .collect();
    found.extend(warnings::few_samples(&rows));
    found.extend(warnings::machine_load(machine.load_max, cpus, clients));
    found.extend(warnings::cpu_steal(machine));
    found
}

/// A seed for the shuffle when none is given: the clock's nanoseconds.
fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
