//! Flags of `serve`: the backend the MCP tool runs on, and where the server listens.

use clap::{Args, ValueEnum};

use super::values;
use crate::commands::serve::{Listen, ServeOptions};
use crate::error::usage;
use crate::sandbox::backend::Backend;

pub const AFTER_SERVE_HELP: &str = "\
Examples:
  sandbox-bench serve --backend compose:persistent                # MCP over stdio
  sandbox-bench serve --backend compose:fork --transport http --port 8765
  sandbox-bench run --backends compose:persistent \\
      --mcp \"serve=target/release/sandbox-bench serve --backend compose:persistent\"";

/// How `serve` listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServeTransport {
    /// Standard input and output: the client starts the server
    Stdio,
    /// Streamable HTTP on 127.0.0.1 (at /mcp)
    Http,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The backend the tool runs code on (transport[@profile]:strategy, as in `run`)
    #[arg(long, value_name = "BACKEND", default_value = "compose:persistent")]
    backend: String,
    /// How MCP clients reach the server
    #[arg(long, value_name = "T", value_enum, default_value_t = ServeTransport::Stdio)]
    transport: ServeTransport,
    /// HTTP port on 127.0.0.1
    #[arg(long, value_name = "PORT", default_value_t = 8765)]
    port: u16,
    /// Seconds a call may take before it fails as a timeout
    #[arg(
        long,
        value_name = "SECS",
        default_value = "30",
        allow_negative_numbers = true,
        value_parser = timeout
    )]
    timeout: std::time::Duration,
    #[command(flatten)]
    place: super::sandbox_args::SandboxPlace,
}

impl ServeArgs {
    /// Checks the flags.
    pub fn options(self) -> anyhow::Result<ServeOptions> {
        let catalog = self.place.catalog()?;
        let backend = catalog
            .parse_sandbox(&self.backend)
            .map_err(|e| usage(format!("--backend: {e}")))?;
        Ok(ServeOptions {
            listen: match self.transport {
                ServeTransport::Http => Listen::Http(self.port),
                ServeTransport::Stdio => Listen::Stdio,
            },
            timeout: self.timeout,
            // stdout may be the MCP channel: notices go to stderr, which is free.
            sandbox: self.place.options(
                catalog,
                Some(vec![Backend::Sandbox(backend.clone())]),
                false,
            )?,
            backend,
        })
    }
}

/// A call's time limit: above 0 and at most a day.
fn timeout(text: &str) -> Result<std::time::Duration, String> {
    values::above_zero(text, 86_400.0).map(std::time::Duration::from_secs_f64)
}
