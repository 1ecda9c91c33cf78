//! What each subcommand does, given typed options: pick backends, make sure the sandbox is up,
//! run, save, print.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::{ALIASES, Backend, TransportKind};
use crate::compose::{self, Stack};
use crate::error::usage;
use crate::report::table;
use crate::results::{self, BenchmarkResults, Entry, Host, Settings, Tool, Versions};
use crate::runner::{self, Plan};
use crate::strategy::Strategy;
use crate::transport::{Compose, Local, Transport};
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
    pub quiet: bool,
}

/// `sandbox-bench run`.
pub fn run(opts: RunOptions) -> Result<ExitCode> {
    let all = workload::load_dir(&opts.workloads_dir)?;
    let workloads = workload::select(all, opts.workloads.as_deref())?;
    check_output_writable(&opts.output)?;

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

    let needs_docker = backends.iter().any(|b| b.transport.needs_docker());
    let mut versions = Versions::default();
    let stack = if needs_docker {
        let Some(engine) = docker else {
            let named: Vec<String> = backends
                .iter()
                .filter(|b| b.transport.needs_docker())
                .map(ToString::to_string)
                .collect();
            return Err(usage(format!(
                "{} need a Docker engine and none answers: start one (`bash scripts/setup-docker.sh` \
                 as root) or choose local backends",
                named.join(", ")
            )));
        };
        versions.docker = Some(engine);
        versions.compose = compose::compose_version();
        if versions.compose.is_none() {
            return Err(usage(
                "`docker compose` is missing: install Compose v2 (`bash scripts/setup-docker.sh`)",
            ));
        }
        let stack = Stack::new(&opts.compose_file, &opts.service)?;
        notice(
            &opts,
            &format!(
                "sandbox: service '{}' of {}",
                stack.service,
                stack.file.display()
            ),
        );
        stack.ensure_up()?;
        Some(stack)
    } else {
        None
    };

    let plan = Plan {
        backends: backends
            .iter()
            .map(|b| (*b, transport(b.transport, &opts, stack.as_ref())))
            .collect(),
        workloads,
        calls_scale: opts.calls_scale,
        warmup: opts.warmup,
        timeout: opts.timeout,
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
    let measurements = runner::run(&plan, &progress, &stop);
    progress.finish_and_clear();
    let interrupted = stop.load(Ordering::SeqCst);

    for m in &measurements {
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
        host: Host::detect(),
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
            order: "sequential".into(),
        },
        histogram_encoding: results::HISTOGRAM_ENCODING.into(),
        results: measurements.iter().map(Entry::from_measurement).collect(),
    };
    let copy = results::save(&results, &opts.output)?;
    print_report(&results);
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
    for line in table::verdicts(results) {
        println!("{line}");
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
    for s in Strategy::ALL {
        println!("  {:<12} {}", s.name(), s.about());
    }
    println!("Aliases:");
    for (alias, full) in ALIASES {
        println!("  {alias:<12} {full}");
    }
    println!("Workloads in {}:", workloads_dir.display());
    for w in workload::load_dir(workloads_dir)? {
        let calls = w.scaled_calls(1.0);
        println!("  {:<16} {calls:>3} calls  {}", w.name, w.description);
    }
    Ok(ExitCode::SUCCESS)
}

fn transport(kind: TransportKind, opts: &RunOptions, stack: Option<&Stack>) -> Arc<dyn Transport> {
    match (kind, stack) {
        (TransportKind::Compose, Some(stack)) => Arc::new(Compose {
            file: stack.file.clone(),
            service: stack.service.clone(),
            python: opts.python.clone(),
        }),
        _ => Arc::new(Local {
            python: opts.python.clone(),
        }),
    }
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

fn notice(opts: &RunOptions, text: &str) {
    if !opts.quiet {
        eprintln!("{text}");
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
