//! The block pipeline: reader → calibrator → flattener → sink.
//!
//! A cube is processed in line blocks of about [`TARGET_BLOCK_BYTES`] of `f32`, a multiple of
//! the binning factor so bins never straddle blocks. A reader thread reads the next block while
//! the calling thread calibrates and encodes the current one (a bounded channel of one block),
//! so memory stays bounded: at most three blocks plus the Parquet row group being encoded are
//! alive at any time, whatever the cube size.

mod rss;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::{Duration, Instant};

pub use rss::{cpu_seconds, peak_rss_bytes};

use crate::calib::{CalibrationConfig, CalibrationPlan, Calibrator};
use crate::cube::{CubeReader, LineBlock, StoredBlock};
use crate::error::Result;
use crate::flatten::{BatchSink, Flattener, ParquetFileSink, Pipeline, Profile};
use crate::read;

/// Target size of one block in memory (as `f32`). Measured (`docs/benchmarks.md`): 8 MiB
/// took 14–16 % less CPU than 32 MiB on the 256 MB cube, and 4 MiB ~10 % less than 8 MiB
/// (median of 11 interleaved runs; 2 MiB was no better). Buffers this size are reused by the
/// allocator from block to block, where 32 MiB ones were fresh `mmap`s whose pages faulted in
/// every time (2.5× the page faults), and the blocks in flight stay in the last-level cache;
/// Parquet pages are gathered across blocks, so the file does not get smaller pages.
pub const TARGET_BLOCK_BYTES: usize = 4 << 20;

/// Progress reporting hooks (a terminal progress bar, metrics, or nothing).
pub trait Progress {
    /// A cube with `total_lines` lines starts.
    fn begin(&mut self, _cube_id: &str, _total_lines: u64) {}
    /// `lines` more lines are done.
    fn advance(&mut self, _lines: u64) {}
    /// The cube is done.
    fn end(&mut self) {}
}

/// No progress reporting.
#[derive(Debug, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// What one processed cube produced.
#[derive(Debug, Clone)]
pub struct ProcessStats {
    /// Cube id.
    pub cube_id: String,
    /// `calibration_version` written to every row.
    pub calibration_version: String,
    /// Calibrator used (`cpu`, `cuda`).
    pub calibrator: &'static str,
    /// Profile name.
    pub profile: String,
    /// Rows (pixels after binning, no-data dropped).
    pub rows: u64,
    /// Output band columns.
    pub bands_out: usize,
    /// Bytes of raw pixel data read.
    pub raw_bytes: u64,
    /// Bytes of Parquet written.
    pub parquet_bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// CPU time of the whole process over the same span, every thread (`None` where the
    /// platform does not say).
    pub cpu: Option<Duration>,
    /// Where the time went (see [`StageTimes`]).
    pub stages: StageTimes,
    /// The Parquet file.
    pub output: PathBuf,
}

impl ProcessStats {
    /// Raw bytes per Parquet byte.
    pub fn size_ratio(&self) -> f64 {
        self.raw_bytes as f64 / (self.parquet_bytes.max(1)) as f64
    }

    /// Raw gigabytes (1e9) per second.
    pub fn throughput_gbps(&self) -> f64 {
        self.raw_bytes as f64 / 1e9 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Raw gigabytes (1e9) per CPU-second: the throughput per core, whatever the cores did.
    pub fn throughput_gb_per_cpu_s(&self) -> Option<f64> {
        self.cpu
            .map(|c| self.raw_bytes as f64 / 1e9 / c.as_secs_f64().max(1e-9))
    }
}

/// Lines per block for a cube: about [`TARGET_BLOCK_BYTES`], a multiple of `binning`.
pub fn lines_per_block(samples: usize, bands: usize, binning: usize) -> usize {
    let k = binning.max(1);
    let per_line = (samples * bands * 4).max(1);
    let lines = (TARGET_BLOCK_BYTES / per_line).max(1);
    (lines / k).max(1) * k
}

/// Send the cube's blocks of `step` lines into `tx`, in order, stopping after the first error or
/// when the receiver is gone. Run on a reader thread so reading overlaps calibration.
pub fn read_ahead(reader: &mut dyn CubeReader, step: usize, tx: SyncSender<Result<LineBlock>>) {
    send_blocks(reader, step, tx, |r, first, count| {
        r.read_block(first, count)
    });
}

/// [`read_ahead`] in the cube's stored element type ([`CubeReader::read_block_stored`]).
pub fn read_ahead_stored(
    reader: &mut dyn CubeReader,
    step: usize,
    tx: SyncSender<Result<StoredBlock>>,
) {
    send_blocks(reader, step, tx, |r, first, count| {
        r.read_block_stored(first, count)
    });
}

fn send_blocks<B>(
    reader: &mut dyn CubeReader,
    step: usize,
    tx: SyncSender<Result<B>>,
    read: impl Fn(&mut dyn CubeReader, usize, usize) -> Result<B>,
) {
    let total = reader.info().shape.lines;
    let mut first = 0;
    while first < total {
        let block = read(reader, first, step.min(total - first));
        let failed = block.is_err();
        if tx.send(block).is_err() || failed {
            break;
        }
        first += step;
    }
}

/// Stream every block of `reader` through `calibrator` and `flattener` into `sink`.
///
/// Returns the number of rows written. Stops at the first error, which names the cube.
pub fn run_blocks(
    reader: &mut dyn CubeReader,
    plan: &CalibrationPlan,
    calibrator: &mut dyn Calibrator,
    flattener: &Flattener,
    sink: &mut dyn BatchSink,
    progress: &mut dyn Progress,
) -> Result<u64> {
    run_blocks_timed(reader, plan, calibrator, flattener, sink, progress).map(|(rows, _)| rows)
}

/// Wall time of each stage of [`run_blocks`], summed over the blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// Waiting for the read-ahead thread (reading that did not overlap with the other stages).
    pub read_wait: Duration,
    /// Radiometric pass, binning and the resampling GEMM.
    pub calibrate: Duration,
    /// Pixel-major block → Arrow columns.
    pub flatten: Duration,
    /// Parquet encoding, compression and writing (the sink).
    pub encode: Duration,
}

/// [`run_blocks`], also returning where the time went.
pub fn run_blocks_timed(
    reader: &mut dyn CubeReader,
    plan: &CalibrationPlan,
    calibrator: &mut dyn Calibrator,
    flattener: &Flattener,
    sink: &mut dyn BatchSink,
    progress: &mut dyn Progress,
) -> Result<(u64, StageTimes)> {
    let info = reader.info();
    let total = info.shape.lines;
    let step = lines_per_block(info.shape.samples, info.shape.bands, plan.binning);
    progress.begin(&info.header.cube_id, total as u64);
    let (tx, rx) = sync_channel::<Result<StoredBlock>>(1);
    let mut times = StageTimes::default();
    let rows = std::thread::scope(|scope| -> Result<u64> {
        scope.spawn(move || read_ahead_stored(reader, step, tx));
        let mut rows = 0u64;
        let mut t = Instant::now();
        for block in rx {
            times.read_wait += t.elapsed();
            let block = block?;
            let lines = block.dim().0 as u64;
            t = Instant::now();
            let calibrated = calibrator.calibrate_stored(plan, &block)?;
            times.calibrate += t.elapsed();
            t = Instant::now();
            let flat = flattener.flatten_reusable(calibrated)?;
            times.flatten += t.elapsed();
            if let Some(flat) = flat {
                rows += flat.batch.num_rows() as u64;
                t = Instant::now();
                sink.write(&flat.batch)?;
                times.encode += t.elapsed();
                if let Some(buffer) = flat.into_buffer() {
                    calibrator.recycle(buffer);
                }
            }
            progress.advance(lines);
            t = Instant::now();
        }
        Ok(rows)
    })?;
    progress.end();
    Ok((rows, times))
}

/// Process one cube file into `out_dir/{cube_id}.{profile}.parquet`.
pub fn process_file(
    input: &Path,
    out_dir: &Path,
    profile: &Profile,
    calibration: &CalibrationConfig,
    calibrator: &mut dyn Calibrator,
    progress: &mut dyn Progress,
) -> Result<ProcessStats> {
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let mut reader = read::open(input)?;
    let info = reader.info().clone();
    let plan = CalibrationPlan::build(&info, &profile.apply(calibration))?;
    let flattener = Flattener::new(
        &info.header,
        &plan,
        Pipeline::Edge,
        profile.encoding.mantissa_bits,
    );
    let output = out_dir.join(format!("{}.{}.parquet", info.header.cube_id, profile.name));
    let mut sink = ParquetFileSink::create(
        &output,
        flattener.schema().clone(),
        &plan.grid_nm,
        &profile.encoding,
        &info.header.cube_id,
    )?;
    let (rows, mut stages) = run_blocks_timed(
        reader.as_mut(),
        &plan,
        calibrator,
        &flattener,
        &mut sink,
        progress,
    )?;
    let t = Instant::now();
    let (output, parquet_bytes) = sink.finish()?;
    stages.encode += t.elapsed();
    Ok(ProcessStats {
        cube_id: info.header.cube_id.clone(),
        calibration_version: plan.version.clone(),
        calibrator: calibrator.name(),
        profile: profile.name.clone(),
        rows,
        bands_out: plan.grid_nm.len(),
        raw_bytes: info.raw_bytes,
        parquet_bytes,
        elapsed: started.elapsed(),
        cpu: cpu_before
            .zip(cpu_seconds())
            .map(|(a, b)| Duration::from_secs_f64((b - a).max(0.0))),
        stages,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_multiples_of_the_binning() {
        assert_eq!(
            lines_per_block(1000, 224, 1),
            TARGET_BLOCK_BYTES / (1000 * 224 * 4)
        );
        let l = lines_per_block(3000, 224, 4);
        assert_eq!(l % 4, 0);
        assert!(l >= 4);
        assert_eq!(lines_per_block(1 << 20, 4096, 3), 3);
    }
}
