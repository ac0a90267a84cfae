//! The Batch worker (issue 4, part 2): `hsi-ingest work --manifest URI`.
//!
//! For each cube of the manifest, in order:
//!
//! 1. stop here if SIGTERM arrived (Spot reclaim): everything before is committed; the process
//!    exits with [`EXIT_INTERRUPTED`](crate::shutdown::EXIT_INTERRUPTED) so Batch retries, and
//!    the retry skips the finished cubes;
//! 2. stream the raw object to a scratch file (bounded memory; HDF5 needs a seekable file);
//! 3. [`ingest_cube_with`]: skip if `bronze.cubes` holds the cube at this calibration version;
//!    else calibrate block by block into Bronze (Zarr) and Silver, commit Silver (key: cube id
//!    + calibration version, lineage `hsi.manifest.id`), then record the cube in `bronze.cubes`;
//! 4. only after the commit, tag the raw object `processing_status=complete` (other tags kept).
//!
//! A cube that fails with a non-retryable error (corrupt file, bad calibration frames) is
//! tagged `processing_status=failed`, gets a quarantine record
//! `s3://{raw bucket}/{quarantine_prefix}{key}.error.json`, and the manifest goes on.
//! Retryable errors (throttling, commit races, catalog timeouts) are retried `attempts` times,
//! then fail the job so that Batch retries it.
//!
//! After the loop, Gold is refreshed for the (farm, date) partitions the manifest touched.

mod bronze_s3;
pub mod config;
pub mod gold;
pub mod s3io;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use hsi_edge::calib::CpuCalibrator;
use hsi_lakehouse::LakeCatalog;
use hsi_lakehouse::breeding::BreedingRules;
use hsi_lakehouse::pipeline::ingest::ingest_cube_with;
use hsi_lakehouse::pipeline::{CubeStatus, IngestOptions, tables};
use hsi_lakehouse::table::PROP_MANIFEST_ID;

pub use bronze_s3::S3ZarrPublisher;
pub use config::WorkerConfig;

use crate::dispatch::manifest::{Manifest, ManifestCube};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// What happened to one cube.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CubeResult {
    /// Committed now.
    Ingested {
        /// Silver rows.
        rows: u64,
    },
    /// Already in `bronze.cubes`.
    Skipped,
    /// Quarantined.
    Failed {
        /// Why.
        reason: String,
    },
}

/// What a worker run did.
#[derive(Debug, Clone, Default)]
pub struct WorkReport {
    /// The manifest id.
    pub manifest_id: String,
    /// Per cube (`s3://bucket/key`), in manifest order, for the cubes reached.
    pub cubes: Vec<(String, CubeResult)>,
    /// Whether a shutdown signal stopped the run early.
    pub interrupted: bool,
    /// Plot-date rows written by the Gold refresh.
    pub gold_plot_rows: Option<usize>,
}

/// Read a manifest from `s3://bucket/key`, `file:///path` or a plain path.
pub async fn read_manifest(s3: &aws_sdk_s3::Client, uri: &str) -> Result<Manifest> {
    let text = if let Some((bucket, key)) = s3io::parse_s3_uri(uri) {
        s3io::get_text(s3, bucket, key).await?
    } else {
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        std::fs::read_to_string(path).map_err(Error::io(path))?
    };
    Manifest::from_json(uri, &text)
}

/// The worker.
#[derive(Debug)]
pub struct Worker<'a> {
    /// S3 client.
    pub s3: aws_sdk_s3::Client,
    /// The catalog.
    pub catalog: &'a dyn LakeCatalog,
    /// Settings.
    pub cfg: &'a WorkerConfig,
    /// Metrics.
    pub metrics: Metrics,
    /// The stop flag.
    pub stop: Shutdown,
}

impl Worker<'_> {
    /// Process a manifest (see the module docs). Returns `Err(Error::Interrupted)` only
    /// after committing and reporting what was done, when a signal stopped the run.
    pub async fn run(&self, manifest_uri: &str) -> Result<WorkReport> {
        let manifest = read_manifest(&self.s3, manifest_uri).await?;
        tables::init_all(self.catalog).await?;
        let mut report = WorkReport {
            manifest_id: manifest.id.clone(),
            ..WorkReport::default()
        };
        let scratch = match &self.cfg.scratch_dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir(),
        };
        std::fs::create_dir_all(&scratch).map_err(Error::io(&scratch))?;
        std::fs::create_dir_all(&self.cfg.zarr_root).map_err(Error::io(&self.cfg.zarr_root))?;
        let mut touched: BTreeSet<(String, NaiveDate)> = BTreeSet::new();
        for cube in &manifest.cubes {
            if self.stop.requested() {
                tracing::warn!(manifest_id = %manifest.id, "shutdown requested; stopping at a cube boundary");
                report.interrupted = true;
                break;
            }
            let uri = format!("s3://{}/{}", cube.bucket, cube.key);
            let result = self
                .cube_with_retries(&manifest.id, cube, &scratch, &mut touched)
                .await?;
            tracing::info!(cube = %uri, result = ?result, "cube done");
            report.cubes.push((uri, result));
        }
        // Always: a retry that skipped every cube (all committed by an earlier attempt that
        // died before its refresh) still finds that work pending in Silver's history.
        if self.cfg.refresh_gold {
            let rules = match &self.cfg.breeding_rules {
                Some(p) => BreedingRules::from_file(p)?,
                None => BreedingRules::embedded()?,
            };
            report.gold_plot_rows = gold::refresh(self.catalog, &touched, &rules)
                .await?
                .map(|g| g.plot_rows);
        }
        Ok(report)
    }

    async fn cube_with_retries(
        &self,
        manifest_id: &str,
        cube: &ManifestCube,
        scratch: &Path,
        touched: &mut BTreeSet<(String, NaiveDate)>,
    ) -> Result<CubeResult> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.cube(manifest_id, cube, scratch, touched).await {
                Ok(r) => return Ok(r),
                Err(e) if e.retryable() && attempt < self.cfg.attempts => {
                    self.metrics.errors.inc();
                    tracing::warn!(key = %cube.key, attempt, error = %e, "retryable failure; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(250 << attempt)).await;
                }
                Err(e) if e.retryable() => return Err(e),
                Err(e) => {
                    self.metrics.errors.inc();
                    self.metrics.cubes_failed.inc();
                    let reason = e.to_string();
                    tracing::error!(key = %cube.key, error = %reason, "cube failed; quarantined");
                    self.quarantine(manifest_id, cube, &reason).await?;
                    return Ok(CubeResult::Failed { reason });
                }
            }
        }
    }

    async fn cube(
        &self,
        manifest_id: &str,
        cube: &ManifestCube,
        scratch: &Path,
        touched: &mut BTreeSet<(String, NaiveDate)>,
    ) -> Result<CubeResult> {
        let file = scratch_file(scratch, &cube.key);
        let guard = RemoveOnDrop(file.clone());
        let (etag, bytes) = s3io::download(&self.s3, &cube.bucket, &cube.key, &file).await?;
        if !cube.etag.is_empty() && etag != cube.etag {
            // The object was overwritten since the event: process what is there now (a later
            // event carries the new etag and finds it done).
            tracing::warn!(key = %cube.key, manifest_etag = %cube.etag, etag = %etag, "object changed since the event");
        }
        let opts = IngestOptions {
            zarr_publisher: self.cfg.bronze_uri.as_deref().and_then(|uri| {
                S3ZarrPublisher::new(self.s3.clone(), uri).map(|p| {
                    std::sync::Arc::new(p)
                        as std::sync::Arc<dyn hsi_lakehouse::pipeline::ZarrPublisher>
                })
            }),
            raw_uri: Some(format!("s3://{}/{}", cube.bucket, cube.key)),
            snapshot_properties: BTreeMap::from([(
                PROP_MANIFEST_ID.to_owned(),
                manifest_id.to_owned(),
            )]),
        };
        let started = Instant::now();
        let mut calibrator = CpuCalibrator::new();
        let outcome = ingest_cube_with(
            self.catalog,
            &self.cfg.zarr_root,
            &file,
            &self.cfg.calibration,
            &mut calibrator,
            &opts,
        )
        .await
        .map_err(|e| match e {
            // Cube-content errors become Cube errors (not retryable) with the S3 key.
            hsi_lakehouse::Error::Edge(ref inner) if !inner.retryable() => Error::Cube {
                bucket: cube.bucket.clone(),
                key: cube.key.clone(),
                reason: e.to_string(),
            },
            other => Error::Lakehouse(other),
        })?;
        drop(guard);
        let result = match outcome.status {
            CubeStatus::Skipped => {
                self.metrics.cubes_skipped.inc();
                CubeResult::Skipped
            }
            CubeStatus::Ingested { rows, .. } => {
                self.metrics.cubes_done.inc();
                self.metrics.rows.inc_by(rows);
                self.metrics
                    .commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                touched.extend(outcome.touched);
                tracing::info!(key = %cube.key, bytes, rows, "cube committed");
                CubeResult::Ingested { rows }
            }
        };
        // Only after the commit: the lifecycle rule moves tagged objects to Glacier.
        s3io::merge_tag(
            &self.s3,
            &cube.bucket,
            &cube.key,
            s3io::STATUS_TAG,
            s3io::STATUS_COMPLETE,
        )
        .await?;
        Ok(result)
    }

    async fn quarantine(&self, manifest_id: &str, cube: &ManifestCube, reason: &str) -> Result<()> {
        let record = serde_json::json!({
            "bucket": cube.bucket,
            "key": cube.key,
            "etag": cube.etag,
            "manifest_id": manifest_id,
            "error": reason,
            "failed_at": Utc::now().to_rfc3339(),
        });
        let qkey = format!("{}{}.error.json", self.cfg.quarantine_prefix, cube.key);
        s3io::put_json(&self.s3, &cube.bucket, &qkey, record.to_string()).await?;
        // Tagging may fail for a missing object; the quarantine record is what counts.
        if let Err(e) = s3io::merge_tag(
            &self.s3,
            &cube.bucket,
            &cube.key,
            s3io::STATUS_TAG,
            s3io::STATUS_FAILED,
        )
        .await
        {
            tracing::warn!(key = %cube.key, error = %e, "could not tag the failed cube");
        }
        Ok(())
    }
}

fn scratch_file(dir: &Path, key: &str) -> PathBuf {
    let name = key.rsplit('/').next().unwrap_or("cube");
    dir.join(format!("{}-{name}", uuid::Uuid::new_v4()))
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
