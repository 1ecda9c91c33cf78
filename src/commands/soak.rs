//! `sandbox-bench soak`: many checked calls on one executor per backend, with the agent's
//! memory before and after; exits 1 when any call failed. A stop signal ends it between calls,
//! as it ends `run` (see `stop.rs`).

use std::process::ExitCode;

use anyhow::Result;

use super::stop::{self, Stop};
use super::{check_output_writable, save_json};
use crate::probes::soak_loop::{SoakLimit, SoakResults};
use crate::probes::{self, ProbeOptions};
use crate::report::probe_tables;
use crate::results::now;
use crate::results::{Header, PROBE_SCHEMA_VERSION};

/// `sandbox-bench soak`: exit 0 when every call answered right, 1 when not.
pub fn soak(
    opts: &ProbeOptions,
    limit: SoakLimit,
    workloads_dir: &std::path::Path,
) -> Result<ExitCode> {
    if limit.calls == Some(0) {
        return Err(crate::error::usage("--calls: give at least one call"));
    }
    check_output_writable(&opts.output)?;
    let cases: Vec<_> = crate::bench::workload::load_dir(workloads_dir)?
        .into_iter()
        .flat_map(|w| w.cases)
        .collect();
    let backends = probes::prepare(opts)?;
    let stop = Stop::install();
    let started_at = now();
    let mut outcomes = Vec::new();
    for reached in backends.iter().take_while(|_| !stop.requested()) {
        if !opts.sandbox.quiet {
            eprintln!("{}: {limit} over {} cases", reached.backend, cases.len());
        }
        outcomes.push(crate::probes::soak_loop::run_backend(
            reached,
            &cases,
            limit,
            opts.timeout,
            &stop.flag,
        ));
    }
    for line in crate::sandbox::sweep_after(&backends) {
        eprintln!("warning: {line}");
    }
    let interrupted = stop.exit_code();
    let results = SoakResults {
        header: Header::finished_now(PROBE_SCHEMA_VERSION, started_at),
        calls: limit.calls,
        duration_s: limit.time.map(|t| t.as_secs_f64()),
        timeout_s: opts.timeout.as_secs_f64(),
        complete: interrupted.is_none(),
        outcomes,
    };
    save_json(&results, &opts.output, opts.sandbox.quiet)?;
    println!("{}", probe_tables::soak_table(&results.outcomes));
    if let Some(code) = interrupted {
        return Ok(stop::interrupted(code));
    }
    if results.outcomes.iter().any(|o| o.errors > 0) {
        eprintln!("error: some soak calls failed (see the table)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
