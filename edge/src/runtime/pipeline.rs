//! Processing one landing cube into the outbox: read → calibrate → flatten → Parquet chunks
//! (the same library code as `hsi-edge process`), staged and committed atomically.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use arrow_array::RecordBatch;

use super::error::{Error, Result};
use super::landing::LandingCube;
use super::outbox::{Outbox, Staging};
use crate::calib::{CalibrationConfig, CalibrationPlan, Calibrator};
use crate::chunk::{ChunkEncoder, schema_id};
use crate::cube::CubeHeader;
use crate::flatten::{BatchSink, Flattener, Pipeline, Profile};
use crate::process::{Progress, run_blocks};
use crate::read;

/// What processing a cube produced.
#[derive(Debug, Clone)]
pub struct CubeOutcome {
    /// The cube's header (ids, region, acquisition time).
    pub header: CubeHeader,
    /// Rows written.
    pub rows: u64,
    /// Chunks committed.
    pub chunks: u32,
    /// Calibration version of the rows.
    pub calibration_version: String,
    /// Outbox sequence number of the commit.
    pub seq: u64,
    /// Raw pixel bytes read.
    pub raw_bytes: u64,
}

/// The settings of [`process_cube`].
pub struct CubeJob<'a> {
    /// Output profile.
    pub profile: &'a Profile,
    /// Calibration settings.
    pub calibration: &'a CalibrationConfig,
    /// Upper bound of one chunk.
    pub max_message_bytes: usize,
    /// Set on SIGTERM: a cube waiting for outbox space is abandoned (and redone on restart).
    pub shutdown: &'a AtomicBool,
    /// Rows per chunk the last cube's encoder learned, by schema id: the next cube of the same
    /// schema starts there.
    pub rows_hint: &'a Mutex<Option<(String, usize)>>,
    /// The device's identity defaults (`[identity]`).
    pub identity: &'a crate::runtime::config::IdentityConfig,
}

/// Process `cube` and commit its chunks to `outbox`.
pub fn process_cube(
    cube: &LandingCube,
    job: &CubeJob<'_>,
    calibrator: &mut dyn Calibrator,
    outbox: &Outbox,
    progress: &mut dyn Progress,
) -> Result<CubeOutcome> {
    let mut reader = read::open(&cube.open_path)?;
    let mut info = reader.info().clone();
    job.identity.fill(&mut info.header);
    let missing = info.header.missing_identity();
    if !missing.is_empty() {
        return Err(crate::Error::invalid(
            &cube.open_path,
            "identity",
            format!(
                "{} unknown: put them in the file (HDF5 attributes; ENVI `acquisition time`, \
                 `hsi farm id` … header keys or a NAME.hsi.json sidecar) or in the daemon's \
                 [identity] config",
                missing.join(", ")
            ),
        ));
    }
    let plan = CalibrationPlan::build(&info, &job.profile.apply(job.calibration))?;
    let flattener = Flattener::new(
        &info.header,
        &plan,
        Pipeline::Edge,
        job.profile.encoding.mantissa_bits,
    );
    let schema = flattener.schema().clone();
    let cube_id = info.header.cube_id.clone();
    let props = job.profile.encoding.writer_properties(&plan.grid_nm);
    let sid = schema_id(&schema);
    let mut encoder = ChunkEncoder::new(&cube_id, schema.clone(), props, job.max_message_bytes);
    let hint = job
        .rows_hint
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some((_, rows)) = hint.filter(|(s, _)| *s == sid) {
        encoder = encoder.with_rows_per_chunk(rows);
    }
    let mut sink = OutboxSink {
        encoder: Some(encoder),
        staging: outbox.begin(&cube_id, &cube.source)?,
        shutdown: job.shutdown,
        failure: None,
    };
    let rows = run_blocks(
        reader.as_mut(),
        &plan,
        calibrator,
        &flattener,
        &mut sink,
        progress,
    );
    let rows = match (rows, sink.failure.take()) {
        (Ok(rows), None) => rows,
        (_, Some(outbox_error)) => return Err(outbox_error),
        (Err(e), None) => return Err(e),
    };
    let encoder = sink.encoder.take().ok_or(Error::Shutdown)?;
    *job.rows_hint.lock().unwrap_or_else(|p| p.into_inner()) =
        Some((sid.clone(), encoder.rows_per_chunk()));
    for payload in encoder.finish()? {
        sink.staging.add(&payload, job.shutdown)?;
    }
    let chunks = sink.staging.chunks() as u32;
    let seq = sink.staging.commit(&sid, &plan.version, rows)?;
    Ok(CubeOutcome {
        header: info.header,
        rows,
        chunks,
        calibration_version: plan.version.clone(),
        seq,
        raw_bytes: info.raw_bytes,
    })
}

/// Feeds flattened batches through the chunk encoder into the staging directory.
struct OutboxSink<'a> {
    encoder: Option<ChunkEncoder>,
    staging: Staging<'a>,
    shutdown: &'a AtomicBool,
    /// The outbox error behind a failed `write` (the trait returns the crate's error type).
    failure: Option<Error>,
}

impl BatchSink for OutboxSink<'_> {
    fn write(&mut self, batch: &RecordBatch) -> crate::Result<()> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Ok(());
        };
        for payload in encoder.push(batch)? {
            if let Err(e) = self.staging.add(&payload, self.shutdown) {
                let io = std::io::Error::other(e.to_string());
                self.failure = Some(e);
                return Err(crate::Error::io("outbox", io));
            }
        }
        Ok(())
    }
}
