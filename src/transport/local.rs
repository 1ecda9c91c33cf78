//! `local`: the host's own Python, no sandbox at all. For trusted code, and the floor the other
//! transports are measured against.

use super::Transport;

/// Runs programs directly on the host.
pub struct Local {
    pub python: String,
}

impl Transport for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        duct::cmd(program, args)
    }

    fn python(&self) -> &str {
        &self.python
    }
}
