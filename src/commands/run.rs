//! `sandbox-bench run`: the steps of a benchmark run, in order: check the inputs, choose the
//! backends and bring the sandbox up, plan, measure (with the stop flag and the machine's load
//! watched), assemble the results file, save it, print the report, choose the exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use super::{check_output_writable, now};
use crate::agent::AgentOptions;
use crate::bench::machine_load::LoadMonitor;
use crate::bench::runner::{self, Load, Measurement, Plan, RunOutput};
use crate::bench::schedule::Order;
use crate::bench::warnings::{self, Warning};
use crate::bench::workload::{self, Workload};
use crate::error::usage;
use crate::report::table;
use crate::results::{self, BenchmarkResults, Entry, Host, LoadShape, Settings, Tool, Versions};
use crate::sandbox::backend::Backend;
use crate::sandbox::compose_stack::Stack;
use crate::sandbox::{self, Sandbox, SandboxOptions};

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
    pub load: Load,
    /// Modules every agent imports at start.
    pub preload: Vec<String>,
    /// Folder for `.hgrm` percentile distributions, one per backend × workload.
    pub export_hgrm: Option<PathBuf>,
}

/// What the measuring step gives back.
struct Measured {
    output: RunOutput,
    started_at: String,
    max_load: f64,
    interrupted: bool,
}

/// `sandbox-bench run`.
pub fn run(opts: RunOptions) -> Result<ExitCode> {
    let workloads = select_workloads(&opts)?;
    check_destinations(&opts)?;
    let (backends, docker) = sandbox::choose_backends(&opts.sandbox)?;
    let baseline = pick_baseline(&opts, &backends)?;
    let Sandbox {
        stack,
        mut versions,
        transports,
    } = sandbox::prepare(&backends, &opts.sandbox, docker)?;
    let plan = make_plan(&opts, transports, workloads);
    let stop = install_stop_flag();
    let measured = measure(&opts, &plan, &stop);
    record_pythons(&mut versions, &plan, &measured.output.measurements);
    let results = assemble(&opts, &plan, baseline, stack.as_ref(), versions, &measured);
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
    let baseline = opts.baseline.unwrap_or(backends[0]);
    if !backends.contains(&baseline) {
        return Err(usage(format!(
            "--baseline {baseline} is not one of --backends"
        )));
    }
    Ok(baseline)
}

/// What the runner gets: the transports, workloads, order, load shape and agent options.
fn make_plan(
    opts: &RunOptions,
    transports: Vec<(Backend, Arc<dyn crate::transport::Transport>)>,
    workloads: Vec<Workload>,
) -> Plan {
    let order = if opts.interleave.unwrap_or(transports.len() >= 2) {
        Order::Interleaved {
            seed: opts.seed.unwrap_or_else(fresh_seed),
            rounds: opts.rounds,
        }
    } else {
        Order::Sequential
    };
    Plan {
        backends: transports,
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
        },
    }
}

/// A flag Ctrl-C sets, so the run stops between calls and still saves what it measured; a
/// second Ctrl-C while the handler is installed still ends the process the usual way.
fn install_stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    stop
}

/// Runs the plan with a progress bar, sampling the machine's load meanwhile.
fn measure(opts: &RunOptions, plan: &Plan, stop: &AtomicBool) -> Measured {
    let started_at = now();
    let progress = progress_bar(opts, plan.total_calls());
    let load = LoadMonitor::start();
    let output = runner::run(plan, &progress, stop);
    let max_load = load.stop();
    progress.finish_and_clear();
    Measured {
        output,
        started_at,
        max_load,
        interrupted: stop.load(Ordering::SeqCst),
    }
}

/// The Python versions the agents reported, in the sandbox and on the host.
fn record_pythons(versions: &mut Versions, plan: &Plan, measurements: &[Measurement]) {
    for m in measurements {
        let slot = match plan
            .backends
            .iter()
            .find(|(b, _)| b.to_string() == m.backend)
        {
            Some((b, _)) if b.transport.needs_docker() => &mut versions.sandbox_python,
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
    let warnings = collect_warnings(
        measurements,
        measured.max_load,
        host.cpus,
        opts.load.clients(),
    );
    let order = plan.order;
    BenchmarkResults {
        schema_version: results::SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        started_at: measured.started_at.clone(),
        finished_at: now(),
        complete: !measured.interrupted,
        host,
        versions,
        settings: Settings {
            backends: plan.backends.iter().map(|(b, _)| b.to_string()).collect(),
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
            seed: match order {
                Order::Interleaved { seed, .. } => Some(seed),
                Order::Sequential => None,
            },
            rounds: match order {
                Order::Interleaved { rounds, .. } => Some(rounds),
                Order::Sequential => None,
            },
            calibration_calls: opts.calibration,
            prefix: opts.sandbox.prefix.as_ref().map(|words| {
                shlex::try_join(words.iter().map(String::as_str))
                    .unwrap_or_else(|_| words.join(" "))
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
        max_load: Some(measured.max_load),
    }
}

/// Saves the results (and the .hgrm files), then prints the report.
fn save_and_print(opts: &RunOptions, results: &BenchmarkResults) -> Result<()> {
    let copy = results::save(results, &opts.output)?;
    print_report(results);
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

/// 130 when interrupted, 1 when calls failed, else 0.
fn exit_code(results: &BenchmarkResults, interrupted: bool) -> ExitCode {
    let failed: usize = results.results.iter().map(Entry::all_errors).sum();
    if interrupted {
        eprintln!(
            "interrupted: the results written hold what was measured so far (complete: false)"
        );
        return ExitCode::from(130);
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} calls failed (see the Errors column); their latencies are not in the figures"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Prints the tables, the verdicts and any errors to stdout.
pub fn print_report(results: &BenchmarkResults) {
    println!("Latency per backend × workload (successful measured calls)");
    println!("{}", table::latency_table(results));
    if let Some(comparison) = table::comparison_table(results) {
        println!("\nAgainst the baseline, {}", results.settings.baseline);
        println!("{comparison}");
    }
    if let Some(waterfall) = crate::report::waterfall::waterfall_table(results) {
        println!("\nWhere the time goes (per-call layers, outermost first)");
        println!("{waterfall}");
    }
    for line in table::verdicts(results) {
        println!("{line}");
    }
    if let Some(floor) = table::floor_table(results) {
        println!(
            "\nFloor: {} empty calls per backend, measured first",
            results.settings.calibration_calls
        );
        println!("{floor}");
    }
    if !results.warnings.is_empty() {
        println!("\nWarnings:");
        for w in &results.warnings {
            match (&w.backend, &w.workload) {
                (Some(b), Some(wl)) => println!("  {b} · {wl}: {}", w.message),
                _ => println!("  {}", w.message),
            }
        }
    }
    let errors = table::error_notes(results);
    if !errors.is_empty() {
        println!("\nErrors:");
        for line in errors {
            println!("  {line}");
        }
    }
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
    max_load: f64,
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
    found.extend(warnings::machine_load(max_load, cpus, clients));
    found
}

/// A seed for the shuffle when none is given: the clock's nanoseconds.
fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
