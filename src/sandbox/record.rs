//! What a run records of the sandboxes it measured: the versions of what was used, and each
//! sandbox profile in full (engine, runtime, image id, Python, limits), read from the engines,
//! not from the flags, so the results say what was measured.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Versions of what was measured; `None` where that part was not used or did not answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Versions {
    pub docker: Option<String>,
    /// Podman's version, when a backend ran on Podman.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub podman: Option<String>,
    pub compose: Option<String>,
    pub sandbox_python: Option<String>,
    pub local_python: Option<String>,
    /// The host interpreter the local transport started (`--python`, or the one `python3`
    /// resolves to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_interpreter: Option<String>,
}

/// The sandbox container as the engine runs it: which image, runtime and limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub container: String,
    /// The image's id (`sha256:…`) and the name it was started from.
    pub image_id: String,
    pub image: String,
    /// The OCI runtime the engine started it with; absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    pub memory_bytes: Option<i64>,
    pub pids_limit: Option<i64>,
    pub cpus: Option<f64>,
    pub read_only_root: bool,
    pub network_mode: String,
    pub user: String,
    /// Processes found in it at the start of the run, its own init and command aside (left by
    /// something else; removed with --clean-sandbox).
    #[serde(default)]
    pub strays_at_start: Option<usize>,
    #[serde(default)]
    pub strays_removed: bool,
}

/// One sandbox profile a run used, as found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// Its name in backend names (`docker`, `podman`, or the user's).
    pub name: String,
    /// `docker` or `podman`, and the version the engine reported.
    pub engine: String,
    pub engine_version: Option<String>,
    /// The endpoint its commands went to; absent: Docker's own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The runtime the profile asked for; absent: the engine's default (see `sandbox.runtime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    pub compose_file: String,
    pub service: String,
    /// Its Compose project; absent: the file's default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The Python version in its container.
    pub python: Option<String>,
    /// Versions of the well-known libraries its image has (numpy, pandas, matplotlib).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub libraries: BTreeMap<String, String>,
    /// Its container as the engine ran it.
    pub sandbox: SandboxInfo,
}
