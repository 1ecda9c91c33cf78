//! Flags of `gate`, checked and turned into `GateOptions`.

use std::path::PathBuf;

use clap::Args;

use super::values;
use crate::commands::gate::GateOptions;

/// The share of a speed-up a backend may lose, from 0 to 100 %, as a fraction.
fn max_loss(text: &str) -> Result<f64, String> {
    values::percentage(text, 100.0)
}

#[derive(Args, Debug)]
pub struct GateArgs {
    /// The results file to judge
    pub new: PathBuf,
    /// The results file whose speed-ups are the reference (e.g. results/baseline.json)
    #[arg(long, value_name = "BASE")]
    pub against: PathBuf,
    /// Share (in %) of a backend's p50 speed-up over the run's baseline backend it may lose
    #[arg(long, value_name = "PCT", default_value = "50", value_parser = max_loss)]
    pub max_loss: f64,
}

impl GateArgs {
    pub fn options(self) -> anyhow::Result<GateOptions> {
        Ok(GateOptions {
            new: self.new,
            against: self.against,
            max_loss: self.max_loss,
        })
    }
}
