//! What each subcommand does, given typed options: pick backends, make sure the sandbox is up,
//! run, save, print.

pub mod offline;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::agent::AgentOptions;
use crate::backend::{ALIASES, Backend, TransportKind};
use crate::compose;
use crate::error::usage;
use crate::machine_load::LoadMonitor;
use crate::report::table;
use crate::results::{self, BenchmarkResults, Entry, Host, LoadShape, Settings, Tool};
use crate::runner::Measurement;
use crate::runner::{self, Load, Plan};
use crate::sandbox::{self, Reach, Sandbox};
use crate::schedule::Order;
use crate::strategy::STRATEGIES;
use crate::warnings::{self, Warning};
use crate::workload;

/// Options of `sandbox-bench run`, already checked.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `None`: the default pair, chosen by whether a Docker engine answers.
    pub backends: Option<Vec<Backend>>,
    pub baseline: Option<Backend>,
    pub workloads: Option<Vec<String>>,
    pub workloads_dir: PathBuf,
    pub calls_scale: f64,
    pub warmup: usize,
    pub timeout: Duration,
    pub output: PathBuf,
    pub compose_file: PathBuf,
    pub service: String,
    pub python: String,
    /// The `cmd` transport's prefix, already split into words.
    pub prefix: Option<Vec<String>>,
    pub quiet: bool,
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

/// `sandbox-bench run`.
pub fn run(opts: RunOptions) -> Result<ExitCode> {
    let all = workload::load_dir(&opts.workloads_dir)?;
    let workloads = workload::select(all, opts.workloads.as_deref())?;
    check_output_writable(&opts.output)?;
    if let Some(dir) = &opts.export_hgrm {
        // Before measuring: a run should not end on a folder that cannot be made.
        std::fs::create_dir_all(dir).map_err(|e| {
            usage(format!(
                "--export-hgrm: cannot create '{}': {e}",
                dir.display()
            ))
        })?;
    }

    let docker = compose::engine_version();
    let backends = match &opts.backends {
        Some(list) => list.clone(),
        None if docker.is_some() => {
            Backend::parse_list("compose-exec,persistent").map_err(usage)?
        }
        None => {
            notice(
                &opts,
                "no Docker engine answers: measuring local:per-call,local:persistent only \
                 (start one with `bash scripts/setup-docker.sh`, or name --backends)",
            );
            Backend::parse_list("local:per-call,local:persistent").map_err(usage)?
        }
    };
    let baseline = opts.baseline.unwrap_or(backends[0]);
    if !backends.contains(&baseline) {
        return Err(usage(format!(
            "--baseline {baseline} is not one of --backends"
        )));
    }

    let reach = Reach {
        compose_file: &opts.compose_file,
        service: &opts.service,
        python: &opts.python,
        prefix: opts.prefix.as_deref(),
    };
    let Sandbox {
        stack,
        mut versions,
        transports,
    } = sandbox::prepare(&backends, &reach, docker, |text| notice(&opts, text))?;
    let order = if opts.interleave.unwrap_or(backends.len() >= 2) {
        Order::Interleaved {
            seed: opts.seed.unwrap_or_else(fresh_seed),
            rounds: opts.rounds,
        }
    } else {
        Order::Sequential
    };
    let plan = Plan {
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
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // A second Ctrl-C while the handler is installed still ends the process the usual way.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });

    let started_at = now();
    let progress = progress_bar(&opts, plan.total_calls());
    let load = LoadMonitor::start();
    let output = runner::run(&plan, &progress, &stop);
    let max_load = load.stop();
    progress.finish_and_clear();
    let interrupted = stop.load(Ordering::SeqCst);
    let measurements = &output.measurements;
    let host = Host::detect();
    let warnings = collect_warnings(measurements, max_load, host.cpus, opts.load.clients());

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
    let results = BenchmarkResults {
        schema_version: results::SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        started_at,
        finished_at: now(),
        complete: !interrupted,
        host,
        versions,
        settings: Settings {
            backends: backends.iter().map(ToString::to_string).collect(),
            baseline: baseline.to_string(),
            workloads: plan.workloads.iter().map(|w| w.name.clone()).collect(),
            calls_scale: opts.calls_scale,
            warmup: opts.warmup,
            timeout_s: opts.timeout.as_secs_f64(),
            compose_file: stack.as_ref().map(|s| s.file.display().to_string()),
            service: stack.as_ref().map(|s| s.service.clone()),
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
            prefix: opts.prefix.as_ref().map(|words| {
                shlex::try_join(words.iter().map(String::as_str))
                    .unwrap_or_else(|_| words.join(" "))
            }),
        },
        histogram_encoding: results::HISTOGRAM_ENCODING.into(),
        calibration: output
            .calibration
            .iter()
            .map(Entry::from_measurement)
            .collect(),
        results: measurements.iter().map(Entry::from_measurement).collect(),
        warnings,
        max_load: Some(max_load),
    };
    let copy = results::save(&results, &opts.output)?;
    print_report(&results);
    if let Some(dir) = &opts.export_hgrm {
        let n = offline::export_hgrm(&results, dir)?;
        notice(
            &opts,
            &format!("wrote {n} .hgrm files (values in ms) to {}", dir.display()),
        );
    }
    notice(
        &opts,
        &format!(
            "results: {} (copy: {})",
            opts.output.display(),
            copy.display()
        ),
    );

    let failed: usize = results.results.iter().map(Entry::all_errors).sum();
    if interrupted {
        eprintln!(
            "interrupted: the results written hold what was measured so far (complete: false)"
        );
        return Ok(ExitCode::from(130));
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} calls failed (see the Errors column); their latencies are not in the figures"
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
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

/// `sandbox-bench list`.
pub fn list(workloads_dir: &Path) -> Result<ExitCode> {
    println!("Transports:");
    for t in TransportKind::ALL {
        println!("  {:<12} {}", t.name(), t.about());
    }
    println!("Strategies:");
    for (name, about) in STRATEGIES {
        println!("  {name:<12} {about}");
    }
    println!("Aliases:");
    for (alias, full) in ALIASES {
        println!("  {alias:<12} {full}");
    }
    println!("MCP servers:");
    println!("  {:<12} {}", "mcp:NAME", TransportKind::Mcp.about());
    println!(
        "  {:<12} e.g. --mcp sdk=\"python3 server.py\" --mcp h=http://127.0.0.1:8765/mcp",
        ""
    );
    println!(
        "  {:<12} (--mcp-tool, --mcp-code-arg, --mcp-answer print|repr)",
        ""
    );
    println!("Workloads in {}:", workloads_dir.display());
    for w in workload::load_dir(workloads_dir)? {
        let calls = w.scaled_calls(1.0);
        println!("  {:<16} {calls:>3} calls  {}", w.name, w.description);
    }
    Ok(ExitCode::SUCCESS)
}

/// Fails early, before any measuring, when the results could not be written.
pub fn check_output_writable(output: &Path) -> Result<()> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if output.is_dir() {
        return Err(usage(format!(
            "--output '{}' is a folder: give a file name",
            output.display()
        )));
    }
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|e| {
        usage(format!(
            "--output '{}': cannot write in '{}' ({e})",
            output.display(),
            dir.display()
        ))
    })
}

fn progress_bar(opts: &RunOptions, total: u64) -> ProgressBar {
    if opts.quiet || !std::io::stderr().is_terminal() || !std::io::stdout().is_terminal() {
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

fn notice(opts: &RunOptions, text: &str) {
    if !opts.quiet {
        eprintln!("{text}");
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
