//! The one error kind the CLI treats specially: input the user can fix, reported in one line
//! with exit code 2. Everything else is a failure of the run itself (exit code 1).

/// Bad input or setup the user can fix: a flag, a file, a missing engine.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand for returning a [`UsageError`] through `anyhow`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}
