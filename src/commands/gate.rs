//! `sandbox-bench gate NEW --against BASE`: fail (exit 1) when a backend lost too much of its
//! speed-up over the run's baseline backend, compared with a reference run, or lost a backend
//! or calls.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::read_results;
use crate::analysis::losses;
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
        println!(
            "{} {}",
            if c.failed { "FAIL" } else { "ok  " },
            gate_line(c, opts.max_loss)
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What one gate check found, after its `ok`/`FAIL`.
fn gate_line(c: &gate::RatioCheck, max_loss: f64) -> String {
    use crate::report::format_ratio;
    let mut line = match c.ratios {
        _ if c.is_baseline() => format!("{} (the baseline):", c.backend),
        Some(r) => {
            let change = if r.loss >= 0.0 {
                format!("{:.1} % of it lost", r.loss * 100.0)
            } else {
                format!("{:.1} % gained", -r.loss * 100.0)
            };
            format!(
                "{}: p50 speed-up over {} {} → {} ({change}; at most {:.0} % may be lost)",
                c.backend,
                c.baseline,
                format_ratio(r.base),
                format_ratio(r.new),
                max_loss * 100.0
            )
        }
        None => format!(
            "{}: no speed-up over {} in both runs",
            c.backend, c.baseline
        ),
    };
    if !c.lost.is_empty() {
        line.push_str(&format!(" lost: {}", losses::describe(&c.lost)));
    }
    line
}
