//! `[worker]`: the Batch worker's settings.

use std::path::PathBuf;

use hsi_edge::calib::CalibrationConfig;
use serde::{Deserialize, Serialize};

/// The worker (see [`super`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Where the calibrated Bronze Zarr stores are written (a local or mounted directory).
    #[serde(default = "default_zarr_root")]
    pub zarr_root: PathBuf,
    /// Where raw cubes are downloaded to (one at a time); absent = the system temp dir.
    #[serde(default)]
    pub scratch_dir: Option<PathBuf>,
    /// Where Bronze stores live: `s3://bucket/prefix/` uploads each cube's store there (before
    /// the commit) as `{prefix}{cube_id}.zarr/…` and removes the local copy; unset = they stay
    /// under `zarr_root` (a local or mounted file system).
    #[serde(default)]
    pub bronze_uri: Option<String>,
    /// Prefix of the quarantine records (`{prefix}{raw key}.error.json`, in the raw bucket).
    #[serde(default = "default_quarantine_prefix")]
    pub quarantine_prefix: String,
    /// Attempts for retryable failures of one cube (throttling, commit races) before the
    /// whole job fails (and Batch retries it).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Refresh Gold for the partitions the manifest touched (needs `ref.*` loaded).
    #[serde(default = "default_true")]
    pub refresh_gold: bool,
    /// Breeding rules for the Gold refresh; absent = the embedded rules.
    #[serde(default)]
    pub breeding_rules: Option<PathBuf>,
    /// Calibration settings.
    #[serde(default)]
    pub calibration: CalibrationConfig,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            zarr_root: default_zarr_root(),
            scratch_dir: None,
            bronze_uri: None,
            quarantine_prefix: default_quarantine_prefix(),
            attempts: default_attempts(),
            refresh_gold: true,
            breeding_rules: None,
            calibration: CalibrationConfig::default(),
        }
    }
}

fn default_zarr_root() -> PathBuf {
    PathBuf::from("/var/lib/hsi/zarr")
}
fn default_quarantine_prefix() -> String {
    "quarantine/".into()
}
fn default_attempts() -> u32 {
    3
}
fn default_true() -> bool {
    true
}
