//! One file per subcommand: given typed options from `cli`, each picks its backends or files,
//! runs, saves, prints, and chooses the exit code (0 ok, 1 a failed check, 2 bad input, 130
//! interrupted). What several commands share (reading and writing results files) is here.

pub mod compare;
pub mod faults;
pub mod gate;
pub mod isolation;
pub mod list;
pub mod report;
pub mod run;
pub mod serve;
pub mod soak;
pub mod stop;

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::error::usage;
use crate::results::{self, BenchmarkResults, reading, write_atomically};

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

/// A results file of `run`, schema-checked; a file that cannot be read is the user's to fix.
fn read_results(path: &Path) -> Result<BenchmarkResults> {
    reading::load(path).map_err(|e| usage(e.to_string()))
}

/// Writes `value` as pretty JSON to `output`, atomically.
fn save_json(value: &impl serde::Serialize, output: &Path, quiet: bool) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(value).context("cannot encode the results")?;
    json.push(b'\n');
    results::write_atomically(output, &json)
        .with_context(|| format!("cannot write results to '{}'", output.display()))?;
    if !quiet {
        eprintln!("results: {}", output.display());
    }
    Ok(())
}

/// Colours only on a terminal, never with `NO_COLOR` set.
pub fn colour_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `bytes` to `output` atomically, or to stdout without one.
fn emit(bytes: &[u8], output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => write_atomically(path, bytes)
            .map_err(|e| usage(format!("cannot write '{}': {e}", path.display()))),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .context("cannot write to stdout")
        }
    }
}
