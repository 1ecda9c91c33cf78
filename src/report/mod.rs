//! Renderers: results in, text out. They never measure and never write files.

pub mod bmf;
pub mod boxed;
pub mod comparison;
pub mod console;
pub mod github_benchmark;
pub mod grid;
pub mod hgrm;
pub mod html;
pub mod json;
pub mod markdown;
pub mod mcp_layer;
pub mod model;
pub mod points;
pub mod probe_tables;
pub mod round_trips;
pub mod svg;
pub mod table;
pub mod waterfall;

/// The formatters live below `bench` and `report`, which both write latencies.
pub use crate::units::{format_mean_sd, format_ratio, format_us};
