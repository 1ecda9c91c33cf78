//! `sandbox-bench isolation`: does what one call leaves reach the next on the same executor?
//! A finding, not a failure: exits 0 unless calls failed. A stop signal ends it between probes,
//! as it ends `run` (see `stop.rs`).

use std::process::ExitCode;

use anyhow::Result;

use super::stop::{self, Stop};
use super::{check_output_writable, save_json};
use crate::probes::isolation_probes::{self as isolation, IsolationResults, Verdict};
use crate::probes::{self, ProbeOptions};
use crate::report::probe_tables;
use crate::results::now;
use crate::results::{Header, PROBE_SCHEMA_VERSION};

/// `sandbox-bench isolation`: a finding, not a failure, so it exits 0 unless calls failed.
pub fn isolation(opts: &ProbeOptions) -> Result<ExitCode> {
    check_output_writable(&opts.output)?;
    let backends = probes::prepare(opts)?;
    let stop = Stop::install();
    let started_at = now();
    let token = format!("{}_{}", std::process::id(), chrono::Utc::now().timestamp());
    let mut outcomes = Vec::new();
    let mut speed = Vec::new();
    for reached in backends.iter().take_while(|_| !stop.requested()) {
        if !opts.sandbox.quiet {
            eprintln!(
                "{}: isolation probes and {} normal calls",
                reached.backend,
                isolation::SPEED_CALLS
            );
        }
        outcomes.extend(isolation::run_backend(
            reached,
            opts.timeout,
            &token,
            &stop.flag,
        ));
        if !stop.requested() {
            speed.push(isolation::measure_speed(reached, opts.timeout, &stop.flag));
        }
    }
    for line in crate::sandbox::sweep_after(&backends) {
        eprintln!("warning: {line}");
    }
    let interrupted = stop.exit_code();
    let results = IsolationResults {
        header: Header::finished_now(PROBE_SCHEMA_VERSION, started_at),
        backends: backends.iter().map(|r| r.backend.to_string()).collect(),
        speed,
        complete: interrupted.is_none(),
        outcomes,
    };
    save_json(&results, &opts.output, opts.sandbox.quiet)?;
    println!("Isolation: does what call A leaves reach call B on the same executor?");
    println!("{}", probe_tables::isolation_table(&results));
    if let Some(code) = interrupted {
        return Ok(stop::interrupted(code));
    }
    let failed = results
        .outcomes
        .iter()
        .any(|o| matches!(o.outcome, Verdict::Error(_)))
        || results.speed.iter().any(|s| s.errors > 0);
    if failed {
        eprintln!("error: some calls failed (see the table)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
