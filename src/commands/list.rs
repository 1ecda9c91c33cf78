//! `sandbox-bench list`: the transports, sandbox profiles, strategies, aliases and workloads `run` accepts, read
//! from the same registry the parser uses.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::bench::workload;
use crate::sandbox::backend::{ALIASES, TransportKind};
use crate::sandbox::profile;
use crate::strategy::STRATEGIES;

/// `sandbox-bench list`.
pub fn list(workloads_dir: &Path) -> Result<ExitCode> {
    println!("Transports:");
    for t in TransportKind::ALL {
        println!("  {:<12} {}", t.name(), t.about());
    }
    println!("Sandbox profiles (transport@profile:strategy):");
    for (name, about) in profile::ABOUT {
        println!("  {name:<12} {about}");
    }
    println!("  {:<12} {}", "keys", profile::KEYS);
    println!(
        "  {:<12} transport@P1+P2:pool=N: the pool's slots dealt over both engines",
        "P1+P2"
    );
    println!("Strategies:");
    for (name, about) in STRATEGIES {
        println!("  {name:<12} {about}");
    }
    println!("Aliases:");
    for (alias, full) in ALIASES {
        println!("  {alias:<12} {full}");
    }
    println!("MCP servers:");
    println!(
        "  {:<12} an MCP server's tool, declared with --mcp NAME=COMMAND|URL",
        "mcp:NAME"
    );
    println!(
        "  {:<12} e.g. --mcp sdk=\"python3 server.py\" --mcp h=http://127.0.0.1:8765/mcp",
        ""
    );
    println!(
        "  {:<12} settings for every server or one: --mcp-tool [NAME=]TOOL,",
        ""
    );
    println!(
        "  {:<12} --mcp-code-arg [NAME=]ARG, --mcp-answer [NAME=]print|repr|json,",
        ""
    );
    println!("  {:<12} --mcp-over NAME=BACKEND", "");
    println!("Workloads in {}:", workloads_dir.display());
    for w in workload::load_dir(workloads_dir)? {
        let calls = w.scaled_calls(1.0);
        println!("  {:<16} {calls:>3} calls  {}", w.name, w.description);
    }
    Ok(ExitCode::SUCCESS)
}
