//! sandbox-bench measures executor strategies for untrusted Python (per-call `docker compose
//! exec`, a persistent piped interpreter, …) side by side, with every answer checked.
//!
//! The map, edge to core: [`cli`] parses the command line into typed options; [`commands`] runs
//! one subcommand each; [`sandbox`] names backends and turns them into transports (bringing the
//! Compose sandbox up); [`transport`] starts a process with pipes; [`strategy`] decides how
//! interpreters are used; [`agent`] is the Python program that runs the code. [`bench`] measures
//! (runner, schedule, statistics, warnings); [`probes`] runs hostile and leaking code; [`results`]
//! writes and reads results files; [`netcount`] counts the engine traffic of each call;
//! [`analysis`] compares runs; [`report`] renders them as text, with
//! [`units`] formatting the figures.

pub mod agent;
pub mod analysis;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod error;
pub mod mcp;
pub mod netcount;
pub mod probes;
pub mod procfs;
pub mod report;
pub mod results;
pub mod sandbox;
pub mod strategy;
pub mod transport;
pub mod units;
