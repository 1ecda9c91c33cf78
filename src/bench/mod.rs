//! Measuring: the workloads, the runner that times each backend × workload (cold start, warm-up,
//! measured calls, closed or open loop), the schedule that interleaves them, the statistics of
//! the samples, the warnings that say when a figure cannot be trusted, and the machine's load.

pub mod fork_floor;
pub mod machine_load;
pub mod measurement;
mod pair;
pub mod plan;
pub mod runner;
pub mod schedule;
pub mod stats;
pub mod wakeup_floor;
pub mod warnings;
pub mod workload;
