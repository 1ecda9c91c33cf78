//! `compose`: `docker compose -f FILE exec -T SERVICE …`, one Compose CLI process per command,
//! as the original executor did.

use std::path::PathBuf;

use super::Transport;

/// Runs programs in a running Compose service.
pub struct Compose {
    pub file: PathBuf,
    pub service: String,
    pub python: String,
}

impl Transport for Compose {
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        let mut argv: Vec<std::ffi::OsString> = vec![
            "compose".into(),
            "-f".into(),
            self.file.clone().into(),
            "exec".into(),
            "-T".into(),
            self.service.clone().into(),
            program.into(),
        ];
        argv.extend(args.iter().map(Into::into));
        duct::cmd("docker", argv)
    }

    fn python(&self) -> &str {
        &self.python
    }
}
