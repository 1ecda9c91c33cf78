//! `local`: the host's own Python, no sandbox at all. For trusted code, and the floor the other
//! transports are measured against.

use std::process::{Command, Stdio};

use super::Transport;

/// The interpreter the host's `python3` resolves to, asked once (`sys.executable`); `python3`
/// itself when it does not answer with a path. A version manager's `python3` on PATH (pyenv,
/// asdf) is a shell script that finds and starts the real interpreter on every call: measured
/// per call it adds its own start-up to every sample, which is not what `local:per-call` means.
pub fn host_python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let path = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => String::new(),
    };
    if path.starts_with('/') && std::path::Path::new(&path).is_file() {
        path
    } else {
        "python3".into()
    }
}

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
