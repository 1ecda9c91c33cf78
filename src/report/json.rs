//! JSON: the results file itself, re-encoded (pretty, one trailing newline).

use crate::results::BenchmarkResults;

/// The results as the JSON `run` writes.
pub fn render(results: &BenchmarkResults) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = serde_json::to_vec_pretty(results)?;
    bytes.push(b'\n');
    Ok(bytes)
}
