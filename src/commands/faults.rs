//! `sandbox-bench faults`: the hostile-code probes through the chosen backends; prints the
//! probe × backend table, writes the JSON atomically, exits 1 unless every cell is green. A
//! stop signal ends it between probes, as it ends `run` (see `stop.rs`).

use std::process::ExitCode;

use anyhow::Result;

use super::stop::{self, Stop};
use super::{check_output_writable, save_json};
use crate::probes::fault_probes::{self as faults, FaultResults};
use crate::probes::{self, ProbeOptions};
use crate::report::probe_tables;
use crate::results::now;
use crate::results::{Header, PROBE_SCHEMA_VERSION};
use crate::strategy::TIMEOUT_GRACE;

/// `sandbox-bench faults`: exit 0 when the table is all green, 1 when not.
pub fn faults(opts: &ProbeOptions) -> Result<ExitCode> {
    check_output_writable(&opts.output)?;
    let backends = probes::prepare(opts)?;
    let stop = Stop::install();
    let started_at = now();
    let mut outcomes = Vec::new();
    for reached in backends.iter().take_while(|_| !stop.requested()) {
        outcomes.extend(faults::run_backend(
            reached,
            opts.timeout,
            &stop.flag,
            |o| {
                if !opts.sandbox.quiet {
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
    for line in crate::sandbox::sweep_after(&backends) {
        eprintln!("warning: {line}");
    }
    let interrupted = stop.exit_code();
    let results = FaultResults {
        header: Header::finished_now(PROBE_SCHEMA_VERSION, started_at),
        backends: backends.iter().map(|r| r.backend.to_string()).collect(),
        timeout_s: opts.timeout.as_secs_f64(),
        grace_s: TIMEOUT_GRACE.as_secs_f64(),
        kill_allowance_s: faults::KILL_ALLOWANCE.as_secs_f64(),
        all_green: outcomes.iter().all(|o| o.green),
        complete: interrupted.is_none(),
        outcomes,
    };
    save_json(&results, &opts.output, opts.sandbox.quiet)?;
    println!(
        "Faults: each probe on a fresh executor, then a normal call on it \
         (timeout {} s; limit timeout + grace {} s + kill {} s)",
        results.timeout_s, results.grace_s, results.kill_allowance_s
    );
    println!("{}", probe_tables::fault_table(&results));
    if let Some(code) = interrupted {
        return Ok(stop::interrupted(code));
    }
    if !results.all_green {
        let red = results.outcomes.iter().filter(|o| !o.green).count();
        eprintln!("error: {red} probe × backend outcomes are not green (see the table)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
