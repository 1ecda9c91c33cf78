//! `sandbox-bench gate NEW --against BASE`: fail (exit 1) when a backend lost too much of its
//! speed-up over the run's baseline backend, compared with a reference run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::read_results;
use crate::analysis::speedup_gate as gate;
use crate::error::usage;

/// Options of `sandbox-bench gate`, already checked.
#[derive(Debug, Clone)]
pub struct GateOptions {
    pub new: PathBuf,
    pub against: PathBuf,
    pub max_loss: f64,
}

/// `sandbox-bench gate NEW --against BASE`: exit 1 when a backend lost too much of its
/// speed-up over the run's baseline backend.
pub fn gate(opts: GateOptions) -> Result<ExitCode> {
    let (base, new) = (read_results(&opts.against)?, read_results(&opts.new)?);
    let checks = gate::check(&base, &new, opts.max_loss).map_err(usage)?;
    let mut failed = false;
    for c in &checks {
        failed |= c.failed;
        let change = if c.loss >= 0.0 {
            format!("{:.1} % of it lost", c.loss * 100.0)
        } else {
            format!("{:.1} % gained", -c.loss * 100.0)
        };
        println!(
            "{} {}: p50 speed-up over {} {} in the baseline, {} now ({change}; at most {:.0} % may be lost)",
            if c.failed { "FAIL" } else { "ok  " },
            c.backend,
            c.baseline,
            crate::report::format_ratio(c.base_ratio),
            crate::report::format_ratio(c.new_ratio),
            opts.max_loss * 100.0
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
