//! `sandbox-bench faults` and `sandbox-bench isolation`: run the probes of `faults.rs` and
//! `isolation.rs` through the chosen backends, print the table, write the JSON atomically.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::faults::{self, FaultResults};
use crate::isolation::{self, IsolationResults};
use crate::probes::{self, ProbeOptions};
use crate::report::probe_tables;
use crate::results::{self, Host};
use crate::strategy::TIMEOUT_GRACE;

/// `sandbox-bench faults`: exit 0 when the table is all green, 1 when not.
pub fn faults(opts: &ProbeOptions) -> Result<ExitCode> {
    crate::commands::check_output_writable(&opts.output)?;
    let backends = probes::prepare(opts)?;
    let started_at = probes::now();
    let mut outcomes = Vec::new();
    for (backend, transport) in &backends {
        outcomes.extend(faults::run_backend(
            *backend,
            transport,
            opts.timeout,
            |o| {
                if !opts.quiet {
                    eprintln!(
                        "{} × {}: {}",
                        o.backend,
                        o.probe,
                        probe_tables::fault_cell(o)
                    );
                }
            },
        ));
    }
    let results = FaultResults {
        schema_version: 1,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started_at,
        finished_at: probes::now(),
        host: Host::detect(),
        backends: backends.iter().map(|(b, _)| b.to_string()).collect(),
        timeout_s: opts.timeout.as_secs_f64(),
        grace_s: TIMEOUT_GRACE.as_secs_f64(),
        kill_allowance_s: faults::KILL_ALLOWANCE.as_secs_f64(),
        all_green: outcomes.iter().all(|o| o.green),
        outcomes,
    };
    save(&results, opts)?;
    println!(
        "Faults: each probe on a fresh executor, then a normal call on it \
         (timeout {} s; limit timeout + grace {} s + kill {} s)",
        results.timeout_s, results.grace_s, results.kill_allowance_s
    );
    println!("{}", probe_tables::fault_table(&results));
    if !results.all_green {
        let red = results.outcomes.iter().filter(|o| !o.green).count();
        eprintln!("error: {red} probe × backend outcomes are not green (see the table)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `sandbox-bench isolation`: a finding, not a failure, so it exits 0 unless calls failed.
pub fn isolation(opts: &ProbeOptions) -> Result<ExitCode> {
    crate::commands::check_output_writable(&opts.output)?;
    let backends = probes::prepare(opts)?;
    let started_at = probes::now();
    let token = format!("{}_{}", std::process::id(), chrono::Utc::now().timestamp());
    let mut outcomes = Vec::new();
    let mut speed = Vec::new();
    for (backend, transport) in &backends {
        if !opts.quiet {
            eprintln!(
                "{backend}: isolation probes and {} normal calls",
                isolation::SPEED_CALLS
            );
        }
        outcomes.extend(isolation::run_backend(
            *backend,
            transport,
            opts.timeout,
            &token,
        ));
        speed.push(isolation::measure_speed(*backend, transport, opts.timeout));
    }
    let results = IsolationResults {
        schema_version: 1,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started_at,
        finished_at: probes::now(),
        host: Host::detect(),
        backends: backends.iter().map(|(b, _)| b.to_string()).collect(),
        speed,
        outcomes,
    };
    save(&results, opts)?;
    println!("Isolation: does what call A leaves reach call B on the same executor?");
    println!("{}", probe_tables::isolation_table(&results));
    let failed = results
        .outcomes
        .iter()
        .any(|o| o.outcome.starts_with("error"))
        || results.speed.iter().any(|s| s.errors > 0);
    if failed {
        eprintln!("error: some calls failed (see the table)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn save(value: &impl serde::Serialize, opts: &ProbeOptions) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(value).context("cannot encode the results")?;
    json.push(b'\n');
    results::write_atomically(&opts.output, &json)
        .with_context(|| format!("cannot write results to '{}'", opts.output.display()))?;
    if !opts.quiet {
        eprintln!("results: {}", opts.output.display());
    }
    Ok(())
}

/// `sandbox-bench soak`: exit 0 when every call answered right, 1 when not.
pub fn soak(opts: &ProbeOptions, calls: u64, workloads_dir: &std::path::Path) -> Result<ExitCode> {
    if calls == 0 {
        return Err(crate::error::usage("--calls: give at least one call"));
    }
    crate::commands::check_output_writable(&opts.output)?;
    let cases: Vec<_> = crate::workload::load_dir(workloads_dir)?
        .into_iter()
        .flat_map(|w| w.cases)
        .collect();
    let backends = probes::prepare(opts)?;
    let started_at = probes::now();
    let mut outcomes = Vec::new();
    for (backend, transport) in &backends {
        if !opts.quiet {
            eprintln!("{backend}: {calls} calls over {} cases", cases.len());
        }
        outcomes.push(crate::soak::run_backend(
            *backend,
            transport,
            &cases,
            calls,
            opts.timeout,
        ));
    }
    let results = serde_json::json!({
        "schema_version": 1,
        "tool_version": env!("CARGO_PKG_VERSION"),
        "started_at": started_at,
        "finished_at": probes::now(),
        "host": Host::detect(),
        "outcomes": outcomes,
    });
    save(&results, opts)?;
    println!("{}", probe_tables::soak_table(&outcomes));
    if outcomes.iter().any(|o| o.errors > 0) {
        eprintln!("error: some soak calls failed (see the table)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
