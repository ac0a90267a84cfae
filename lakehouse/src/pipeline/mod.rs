//! The local pipeline: raw cubes + plot boundaries + yield history → Bronze, Silver, Gold and
//! breeding decisions, in one process with no cloud and no services (the README's main job).
//!
//! Steps, each acknowledged only after the table commit it depends on:
//!
//! 1. [`tables::init_all`]: namespaces and every table of DESIGN §8 (idempotent).
//! 2. [`reference::load`]: `ref.field_boundaries` and `ref.yield_history`, appended once per
//!    file content (the idempotency key is the file's SHA-256), so a re-run adds nothing.
//! 3. [`ingest::ingest_cube`] per cube: skip it when `bronze.cubes` already holds it at this
//!    calibration version; else calibrate block by block into the Zarr store, then read the store
//!    back block by block and write Silver as rolling data files (bounded memory); commit
//!    Silver (key: cube id + calibration version), then record the cube in `bronze.cubes` —
//!    the marker that makes the next run skip it. A crash between the two commits is healed by
//!    the next run: Silver's key is found, nothing is appended twice, and the Bronze row is
//!    written.
//! 4. [`gold::refresh`]: recompute per-plot indices only for the (farm, date) partitions the new
//!    Silver rows touched, then the row × week aggregates and the breeding decisions of the
//!    touched seasons, with lineage (source cube ids, Silver snapshot id).
//!
//! A bad cube fails alone: it is reported with the file and the reason (and recorded in the
//! run summary) and the others go on.

pub mod gold;
pub mod ingest;
pub mod reference;
pub mod tables;

use std::path::{Path, PathBuf};

use crate::table::commit::LakeCatalog;
use hsi_edge::calib::{CalibrationConfig, Calibrator};
use hsi_edge::process::Progress;

use crate::breeding::BreedingRules;
use crate::error::Result;

pub use gold::GoldSummary;
pub use ingest::{CubeOutcome, CubeStatus, IngestOptions, ZarrPublisher};

/// Inputs of one local run.
#[derive(Debug, Clone)]
pub struct RunInputs {
    /// Raw cube files.
    pub cubes: Vec<PathBuf>,
    /// Plot boundaries GeoJSON.
    pub plots: PathBuf,
    /// Yield history CSV.
    pub yields: PathBuf,
}

/// What one run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Per cube outcome, in input order.
    pub cubes: Vec<CubeOutcome>,
    /// Cubes that failed, with the error.
    pub failed: Vec<(PathBuf, String)>,
    /// The Gold refresh, when anything was ingested.
    pub gold: Option<GoldSummary>,
}

/// Progress of a local run: the terminal bars of `hsi run`, or nothing ([`NoRunProgress`]).
///
/// Per cube, the [`Progress`] calls count its lines twice: once for Bronze (calibration into
/// the Zarr store) and once for Silver (flattening), so `begin` gets twice the line count.
pub trait RunProgress: Progress + Send {
    /// Cube `index` (0-based) of `total` starts.
    fn cube_started(&mut self, _index: usize, _total: usize, _path: &Path) {}
    /// A stage after the cubes starts (e.g. the Gold refresh).
    fn stage(&mut self, _what: &str) {}
}

/// No progress reporting.
#[derive(Debug, Default)]
pub struct NoRunProgress;
impl Progress for NoRunProgress {}
impl RunProgress for NoRunProgress {}

/// Run the whole local pipeline (see the module docs).
pub async fn run_local(
    catalog: &dyn LakeCatalog,
    zarr_root: &Path,
    inputs: &RunInputs,
    calibration: &CalibrationConfig,
    calibrator: &mut dyn Calibrator,
    rules: &BreedingRules,
) -> Result<RunSummary> {
    run_local_with_progress(
        catalog,
        zarr_root,
        inputs,
        calibration,
        calibrator,
        rules,
        &mut NoRunProgress,
    )
    .await
}

/// [`run_local`], reporting to `progress`.
pub async fn run_local_with_progress(
    catalog: &dyn LakeCatalog,
    zarr_root: &Path,
    inputs: &RunInputs,
    calibration: &CalibrationConfig,
    calibrator: &mut dyn Calibrator,
    rules: &BreedingRules,
    progress: &mut (dyn RunProgress + Send),
) -> Result<RunSummary> {
    progress.stage("tables and reference data");
    tables::init_all(catalog).await?;
    let refs = reference::load(catalog, &inputs.plots, &inputs.yields).await?;
    let mut summary = RunSummary::default();
    let mut touched = std::collections::BTreeSet::new();
    let opts = IngestOptions::default();
    for (i, path) in inputs.cubes.iter().enumerate() {
        progress.cube_started(i, inputs.cubes.len(), path);
        let result = ingest::ingest_cube_observed(
            catalog,
            zarr_root,
            path,
            calibration,
            calibrator,
            &opts,
            &mut *progress,
        )
        .await;
        progress.end();
        match result {
            Ok(outcome) => {
                touched.extend(outcome.touched.iter().cloned());
                summary.cubes.push(outcome);
            }
            Err(err) => {
                tracing::error!(cube = %path.display(), error = %err, "cube failed; continuing");
                summary.failed.push((path.clone(), err.to_string()));
            }
        }
    }
    progress.stage("Gold refresh (plot indices, row trends, breeding decisions)");
    summary.gold = Some(gold::refresh(catalog, &touched, &refs.plots, &refs.yields, rules).await?);
    Ok(summary)
}
