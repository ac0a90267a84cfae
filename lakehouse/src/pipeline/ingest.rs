//! One cube into Bronze (Zarr + `bronze.cubes`) and Silver, exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use crate::table::commit::LakeCatalog;
use arrow_array::RecordBatch;
use chrono::{NaiveDate, Utc};
use hsi_edge::calib::{CalibratedBlock, CalibrationConfig, CalibrationPlan, Calibrator};
use hsi_edge::cube::blocks;
use hsi_edge::flatten::{Flattener, Pipeline};
use hsi_edge::process::{NoProgress, Progress, lines_per_block};
use hsi_edge::read;
use sha2::{Digest, Sha256};

use crate::bronze::{self, BronzeCube};
use crate::error::{Error, Result};
use crate::gold::touched_partitions;
use crate::identity::ObjectVersion;
use crate::silver::current::{Incoming, ObjectPartition, VersionPlanner, commit_version};
use crate::silver::evolve_bands;
use crate::table::{
    AppendOutcome, DataFileStream, IdempotencyKey, PROP_CALIBRATION_VERSION, silver_reflectance,
};

/// What happened to one cube.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CubeStatus {
    /// Already in `bronze.cubes` at this calibration version; nothing done.
    Skipped,
    /// Written (or its Silver commit found from an earlier, interrupted run).
    Ingested {
        /// Silver rows.
        rows: u64,
        /// The Silver snapshot holding them.
        silver_snapshot_id: Option<i64>,
    },
}

/// The outcome of [`ingest_cube`].
#[derive(Debug, Clone)]
pub struct CubeOutcome {
    /// Cube id.
    pub cube_id: String,
    /// Farm id.
    pub farm_id: String,
    /// Calibration version.
    pub calibration_version: String,
    /// Skipped or ingested.
    pub status: CubeStatus,
    /// The (farm, date) Silver partitions this cube wrote.
    pub touched: BTreeSet<(String, NaiveDate)>,
}

/// Moves a finished local Bronze Zarr store to where it lives (the Batch worker: S3), before
/// anything is committed, and returns the URI recorded in `bronze.cubes.zarr_uri`.
#[async_trait::async_trait]
pub trait ZarrPublisher: Send + Sync + std::fmt::Debug {
    /// Publish the store at `local` (written for `cube_id`); on success the local copy may be gone.
    async fn publish(&self, cube_id: &str, local: &Path) -> Result<String>;
}

/// Options of [`ingest_cube_with`] (callers other than the local pipeline: the Batch worker).
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Where the Bronze store goes after it is written locally; `None` = it stays where
    /// `zarr_root` put it (`file://` URI).
    pub zarr_publisher: Option<std::sync::Arc<dyn ZarrPublisher>>,
    /// The raw cube's URI for `bronze.cubes.raw_uri` (e.g. `s3://bucket/key` when `path` is a
    /// downloaded copy); `None` = `file://` + the canonical path.
    pub raw_uri: Option<String>,
    /// Extra snapshot summary properties on the Silver and Bronze commits (lineage such as
    /// `hsi.manifest.id`); the idempotency key stays cube id + calibration version.
    pub snapshot_properties: BTreeMap<String, String>,
}

/// Ingest one raw cube (see the module docs of [`super`]).
pub async fn ingest_cube(
    catalog: &dyn LakeCatalog,
    zarr_root: &Path,
    path: &Path,
    calibration: &CalibrationConfig,
    calibrator: &mut dyn Calibrator,
) -> Result<CubeOutcome> {
    let opts = IngestOptions::default();
    ingest_cube_with(catalog, zarr_root, path, calibration, calibrator, &opts).await
}

/// [`ingest_cube`] with [`IngestOptions`].
pub async fn ingest_cube_with(
    catalog: &dyn LakeCatalog,
    zarr_root: &Path,
    path: &Path,
    calibration: &CalibrationConfig,
    calibrator: &mut dyn Calibrator,
    opts: &IngestOptions,
) -> Result<CubeOutcome> {
    let mut none = NoProgress;
    ingest_cube_observed(
        catalog,
        zarr_root,
        path,
        calibration,
        calibrator,
        opts,
        &mut none,
    )
    .await
}

/// [`ingest_cube_with`], reporting lines to `progress`: `begin` with twice the cube's output
/// lines (Bronze, then Silver), `advance` per block. A skipped cube never begins.
pub async fn ingest_cube_observed(
    catalog: &dyn LakeCatalog,
    zarr_root: &Path,
    path: &Path,
    calibration: &CalibrationConfig,
    calibrator: &mut dyn Calibrator,
    opts: &IngestOptions,
    progress: &mut (dyn Progress + Send),
) -> Result<CubeOutcome> {
    let mut reader = read::open(path)?;
    let info = reader.info().clone();
    let plan = CalibrationPlan::build(&info, calibration)?;
    let h = &info.header;
    let missing = h.missing_identity();
    if !missing.is_empty() {
        return Err(Error::InvalidInput {
            reason: format!(
                "{}: {} unknown (no farm/field/region/sensor/time in the file): refused rather \
                 than written as `unknown`/1970",
                path.display(),
                missing.join(", ")
            ),
        });
    }
    let mut outcome = CubeOutcome {
        cube_id: h.cube_id.clone(),
        farm_id: h.farm_id.clone(),
        calibration_version: plan.version.clone(),
        status: CubeStatus::Skipped,
        touched: BTreeSet::new(),
    };
    // Identity is id + content (crate::identity): an id seen before with other content is a
    // different capture that collides, refused here, never skipped as "already processed".
    let raw_sha256 = sha256_file(path)?;
    for recorded in bronze::recorded_digests(catalog, &h.cube_id).await? {
        crate::identity::check_same_content(&h.cube_id, &recorded, &raw_sha256).map_err(|e| {
            Error::InvalidInput {
                reason: format!("{}: {e}", path.display()),
            }
        })?;
    }
    if bronze::is_processed(catalog, &h.cube_id, &plan.version).await? {
        tracing::info!(cube_id = %h.cube_id, version = %plan.version, "already in bronze.cubes; skipped");
        return Ok(outcome);
    }

    // Pass 1: calibrate each block once, into the Bronze Zarr store (block by block).
    progress.begin(&h.cube_id, 2 * plan.out_lines as u64);
    let flattener = Flattener::new(h, &plan, Pipeline::Batch, None);
    let step = lines_per_block(info.shape.samples, info.shape.bands, plan.binning);
    let mut first_error: Option<Error> = None;
    let zarr = {
        let mut iter = blocks(reader.as_mut(), step);
        let first_error = &mut first_error;
        let plan = &plan;
        let progress = &mut *progress;
        let stream = std::iter::from_fn(move || {
            let block = match iter.next()? {
                Ok(b) => b,
                Err(e) => return Some(Err(Error::from(e))),
            };
            match calibrator.calibrate(plan, &block) {
                Ok(cal) => {
                    progress.advance(cal.data.shape()[0] as u64);
                    Some(Ok((cal.first_line, cal.data)))
                }
                Err(e) => {
                    let msg = e.to_string();
                    *first_error = Some(Error::from(e));
                    Some(Err(Error::InvalidInput { reason: msg }))
                }
            }
        });
        bronze::write_zarr(
            zarr_root,
            &h.cube_id,
            &plan.version,
            [plan.out_lines, plan.out_samples, plan.grid_nm.len()],
            &plan.grid_nm,
            stream,
        )
    };
    if let Some(e) = first_error {
        return Err(e);
    }
    let zarr = zarr?;

    // Pass 2: Silver, flattened from the Bronze store block by block and written as rolling
    // data files, so memory stays bounded whatever the cube's size; one commit at the end.
    let ident = silver_reflectance();
    let key = IdempotencyKey::cube(&h.cube_id, &plan.version)?;
    let added = evolve_bands(
        catalog,
        &ident,
        &[RecordBatch::new_empty(flattener.schema().clone())],
    )
    .await?;
    if !added.is_empty() {
        tracing::info!(table = %ident, columns = ?added, "added band columns");
    }
    let table = catalog
        .load_table(&ident)
        .await
        .map_err(Error::iceberg(format!("load {ident}")))?;
    let committed = key.find_in(table.metadata());
    let mut files = match committed {
        Some(_) => None,
        None => Some(DataFileStream::open(&table)?),
    };
    let mut rows = 0u64;
    for block in bronze::read_zarr_blocks(&zarr)? {
        let (first_line, data) = block?;
        progress.advance(data.shape()[0] as u64);
        if let Some(batch) = flattener.flatten(&CalibratedBlock { first_line, data })? {
            rows += batch.num_rows() as u64;
            outcome
                .touched
                .extend(touched_partitions(std::slice::from_ref(&batch))?);
            if let Some(files) = &mut files {
                files.write(&batch).await?;
            }
        }
    }
    // The store must be where bronze.cubes will say before anything is committed.
    let zarr_uri = match &opts.zarr_publisher {
        Some(publisher) => publisher.publish(&h.cube_id, &zarr.path).await?,
        None => zarr.uri.clone(),
    };
    let appended = match (committed, files) {
        (Some(snapshot_id), _) => {
            tracing::info!(cube_id = %h.cube_id, snapshot_id, "Silver already committed by an earlier run");
            AppendOutcome::AlreadyCommitted { snapshot_id }
        }
        (None, Some(files)) => {
            let (_, data_files, written) = files.close().await?;
            if written == 0 {
                AppendOutcome::Empty
            } else {
                let mut properties = opts.snapshot_properties.clone();
                properties.insert(PROP_CALIBRATION_VERSION.to_owned(), plan.version.clone());
                let planner = VersionPlanner {
                    version: ObjectVersion {
                        object_id: h.cube_id.clone(),
                        pipeline: Pipeline::Batch,
                        calibration_version: plan.version.clone(),
                    },
                    partition: ObjectPartition::new(
                        &h.farm_id,
                        h.acquisition_time.timestamp_micros(),
                    ),
                    key: key.clone(),
                    properties,
                    incoming: Incoming::Files(data_files.clone(), written),
                };
                commit_version(catalog, &ident, &planner).await?
            }
        }
        (None, None) => AppendOutcome::Empty,
    };
    let snapshot = appended.snapshot_id();

    bronze::record_cube_with(
        catalog,
        &crate::table::bronze_cubes(),
        &BronzeCube {
            cube_id: h.cube_id.clone(),
            farm_id: h.farm_id.clone(),
            field_id: h.field_id.clone(),
            sensor_id: h.sensor_id.clone(),
            region: h.region.clone(),
            acquisition_time: h.acquisition_time,
            raw_uri: opts.raw_uri.clone().unwrap_or_else(|| file_uri(path)),
            raw_sha256: raw_sha256.clone(),
            zarr_uri: zarr_uri.clone(),
            lines: u32::try_from(plan.out_lines).unwrap_or(u32::MAX),
            samples: u32::try_from(plan.out_samples).unwrap_or(u32::MAX),
            bands: u32::try_from(plan.grid_nm.len()).unwrap_or(u32::MAX),
            wavelengths_nm: plan.grid_nm.clone(),
            calibration_version: plan.version.clone(),
            processed_at: Utc::now(),
        },
        opts.snapshot_properties.clone(),
    )
    .await?;
    tracing::info!(cube_id = %h.cube_id, rows, zarr = %zarr_uri, "cube ingested");
    outcome.status = CubeStatus::Ingested {
        rows,
        silver_snapshot_id: snapshot,
    };
    Ok(outcome)
}

fn file_uri(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file://{}", abs.display())
}

/// SHA-256 of a file, streamed in 1 MiB reads.
pub fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
