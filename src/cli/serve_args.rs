//! Flags of `serve`: the backend the MCP tool runs on, and where the server listens.

use clap::Args;

use super::values;
use crate::error::usage;
use crate::mcp::serve::{Listen, ServeOptions};
use crate::sandbox::backend::TransportKind;

pub const AFTER_SERVE_HELP: &str = "\
Examples:
  sandbox-bench serve --backend compose:persistent                # MCP over stdio
  sandbox-bench serve --backend compose:fork --transport http --port 8765
  sandbox-bench run --backends compose:persistent \\
      --mcp \"serve=target/release/sandbox-bench serve --backend compose:persistent\"";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The backend the tool runs code on (transport:strategy, as in `run`)
    #[arg(long, value_name = "BACKEND", default_value = "compose:persistent")]
    backend: String,
    /// stdio, or streamable HTTP on 127.0.0.1 (at /mcp)
    #[arg(long, value_name = "T", default_value = "stdio", value_parser = ["stdio", "http"])]
    transport: String,
    /// HTTP port on 127.0.0.1
    #[arg(long, value_name = "PORT", default_value_t = 8765)]
    port: u16,
    /// Seconds a call may take before it fails as a timeout
    #[arg(
        long,
        value_name = "SECS",
        default_value = "30",
        allow_negative_numbers = true
    )]
    timeout: String,
    #[command(flatten)]
    place: super::sandbox_args::SandboxPlace,
}

impl ServeArgs {
    /// Checks the flags.
    pub fn options(self) -> anyhow::Result<ServeOptions> {
        let backend = values::backend("--backend", &self.backend)?;
        if backend.transport == TransportKind::Mcp {
            return Err(usage(
                "--backend: serve runs code on a sandbox backend, not an MCP server",
            ));
        }
        let timeout = values::positive("--timeout", &self.timeout, 86_400.0)?;
        Ok(ServeOptions {
            backend,
            listen: match self.transport.as_str() {
                "http" => Listen::Http(self.port),
                _ => Listen::Stdio,
            },
            timeout: std::time::Duration::from_secs_f64(timeout),
            // stdout may be the MCP channel: notices go to stderr, which is free.
            sandbox: self.place.options(Some(vec![backend]), false)?,
        })
    }
}
