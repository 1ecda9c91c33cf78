//! Reading a saved results file back, for `report`, `compare` and `gate`: the schema version is
//! checked first, so a file from another version of the tool fails with a message, not a
//! confusing field error.

use std::path::Path;

use crate::results::{BenchmarkResults, SCHEMA_VERSION};

/// Why a results file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read '{path}': {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "'{path}' is not a sandbox-bench results file (not JSON with a schema_version): {reason}"
    )]
    NotResults { path: String, reason: String },
    #[error(
        "'{path}' has schema_version {found}, older than this sandbox-bench reads ({SCHEMA_VERSION}): \
         re-run `sandbox-bench run` to make a new one"
    )]
    Older { path: String, found: u64 },
    #[error(
        "'{path}' has schema_version {found}, newer than this sandbox-bench reads ({SCHEMA_VERSION}): \
         use a newer sandbox-bench"
    )]
    Newer { path: String, found: u64 },
    #[error("'{path}' does not match schema_version {SCHEMA_VERSION}: {reason}")]
    Invalid { path: String, reason: String },
}

/// Reads and checks a results file written by `sandbox-bench run`.
pub fn load(path: &Path) -> Result<BenchmarkResults, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

/// Parses the text of a results file; `path` only names it in errors.
pub fn parse(text: &str, path: &str) -> Result<BenchmarkResults, LoadError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| LoadError::NotResults {
            path: path.into(),
            reason: e.to_string(),
        })?;
    let Some(found) = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    else {
        return Err(LoadError::NotResults {
            path: path.into(),
            reason: "no schema_version field".into(),
        });
    };
    let path = path.to_string();
    match found.cmp(&u64::from(SCHEMA_VERSION)) {
        std::cmp::Ordering::Less => Err(LoadError::Older { path, found }),
        std::cmp::Ordering::Greater => Err(LoadError::Newer { path, found }),
        std::cmp::Ordering::Equal => {
            serde_json::from_value(value).map_err(|e| LoadError::Invalid {
                path,
                reason: e.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_other_than_this_one_are_named() {
        let older = parse(r#"{"schema_version": 0}"#, "a.json").unwrap_err();
        assert!(
            matches!(older, LoadError::Older { found: 0, .. }),
            "{older}"
        );
        assert!(older.to_string().contains("re-run"));
        let newer = parse(r#"{"schema_version": 7}"#, "a.json").unwrap_err();
        assert!(newer.to_string().contains("newer sandbox-bench"), "{newer}");
        let none = parse(r#"{"results": []}"#, "a.json").unwrap_err();
        assert!(matches!(none, LoadError::NotResults { .. }), "{none}");
        let junk = parse("not json", "a.json").unwrap_err();
        assert!(matches!(junk, LoadError::NotResults { .. }), "{junk}");
        let partial = parse(r#"{"schema_version": 1}"#, "a.json").unwrap_err();
        assert!(matches!(partial, LoadError::Invalid { .. }), "{partial}");
    }
}
