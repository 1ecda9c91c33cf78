//! sandbox-bench measures executor strategies for untrusted Python (per-call `docker compose
//! exec`, a persistent piped interpreter, …) side by side, with every answer checked.

pub mod agent;
pub mod backend;
pub mod bootstrap;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod compose;
pub mod error;
pub mod faults;
pub mod gate;
pub mod isolation;
pub mod load;
pub mod machine_load;
pub mod mcp;
pub mod probe_cli;
pub mod probe_commands;
pub mod probes;
pub mod report;
pub mod results;
pub mod runner;
pub mod sandbox;
pub mod schedule;
pub mod soak;
pub mod stats;
pub mod strategy;
pub mod transport;
pub mod warnings;
pub mod workload;
