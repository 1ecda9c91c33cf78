//! Flags of `gate`, checked and turned into `GateOptions`.

use std::path::PathBuf;

use clap::Args;

use super::values::percent;
use crate::commands::gate::GateOptions;

#[derive(Args, Debug)]
pub struct GateArgs {
    /// The results file to judge
    pub new: PathBuf,
    /// The results file whose speed-ups are the reference (e.g. results/baseline.json)
    #[arg(long, value_name = "BASE")]
    pub against: PathBuf,
    /// Share (in %) of a backend's p50 speed-up over the run's baseline backend it may lose
    #[arg(long, value_name = "PCT", default_value = "50")]
    pub max_loss: String,
}

impl GateArgs {
    pub fn options(self) -> anyhow::Result<GateOptions> {
        Ok(GateOptions {
            new: self.new,
            against: self.against,
            max_loss: percent("--max-loss", &self.max_loss, 100.0)?,
        })
    }
}
