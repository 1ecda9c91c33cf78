//! Flags of how the console report is drawn, shared by `run` and `report`.

use clap::Args;

use crate::report::console::{self, View};

/// `--wide` and `--verbose`, flattened into `run` and `report`.
#[derive(Args, Debug, Clone, Copy)]
pub struct DisplayArgs {
    /// Every column of the latency table (min, p90, p99.9, max, cold start, floor, exec time,
    /// switch warm-up), however wide
    #[arg(long)]
    pub wide: bool,
    /// Each warning on its own line with its details, not one line per kind
    #[arg(short, long)]
    pub verbose: bool,
}

impl DisplayArgs {
    /// The view for the terminal this process writes to.
    pub fn view(self) -> View {
        View {
            wide: self.wide,
            verbose: self.verbose,
            width: console::terminal_width(),
        }
    }
}
