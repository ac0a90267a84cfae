//! Timing the device steps one by one, for the `cuda` bench and for tuning.
//!
//! [`CudaCalibrator::profile`] runs the first chunk of a block through every step once (to load
//! the kernels and warm the caches), then times each step alone with CUDA events over
//! `repeats` runs and reports the mean. Set [`CudaOptions::chunk_bytes`](super::CudaOptions)
//! at least as large as the block to profile all of it.
//!
//! **Bytes of the elementwise kernel**: it reads the raw chunk (`pixels·bands` values of the
//! input kind: the gather skips dropped bands, but they share cache lines and DRAM bursts with
//! kept ones) and writes `pixels·kept` `f32` plus one flag byte per pixel; the small factor
//! and offset rows stay in cache and are not counted. **FLOPs of the GEMM**:
//! `2·rows·kept·grid`.

use cudarc::driver::CudaStream;
use cudarc::driver::sys::CUevent_flags;

use super::kernels::InputKind;
use super::slot::StepResult;
use super::stream::{bin_dims, calibrate_dims};
use super::{CudaCalibrator, check_block, failed};
use crate::calib::CalibrationPlan;
use crate::cube::LineBlock;
use crate::error::Result;

/// Mean time of each device step for one chunk, and the work it did.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelProfile {
    /// How the raw values travelled.
    pub input: InputKind,
    /// Pixels of the chunk.
    pub pixels: usize,
    /// Input bands.
    pub bands: usize,
    /// Kept bands (the GEMM's inner dimension).
    pub kept: usize,
    /// Output grid bands.
    pub grid: usize,
    /// GEMM rows (pixels, or bins when k > 1).
    pub rows: usize,
    /// Runs averaged.
    pub repeats: usize,
    /// Host → device copy, ms.
    pub copy_in_ms: f64,
    /// Radiometric + gather kernel, ms.
    pub calibrate_ms: f64,
    /// Binning kernel, ms (k > 1).
    pub bin_ms: Option<f64>,
    /// cuBLAS sgemm, ms.
    pub gemm_ms: f64,
    /// No-data mask kernel, ms.
    pub mask_ms: f64,
    /// Device → host copy, ms.
    pub copy_out_ms: f64,
}

impl KernelProfile {
    /// Bytes the elementwise kernel moves (see the [module docs](self)).
    pub fn calibrate_bytes(&self) -> f64 {
        let (p, b, k) = (self.pixels as f64, self.bands as f64, self.kept as f64);
        p * b * self.input.bytes() as f64 + p * k * 4.0 + p
    }

    /// Effective bandwidth of the elementwise kernel, bytes/s.
    pub fn calibrate_bandwidth(&self) -> f64 {
        self.calibrate_bytes() / (self.calibrate_ms / 1e3).max(1e-12)
    }

    /// FLOPs of one GEMM: `2·rows·kept·grid`.
    pub fn gemm_flops(&self) -> f64 {
        2.0 * self.rows as f64 * self.kept as f64 * self.grid as f64
    }

    /// Achieved GEMM rate, FLOP/s.
    pub fn gemm_rate(&self) -> f64 {
        self.gemm_flops() / (self.gemm_ms / 1e3).max(1e-12)
    }

    /// Host → device copy rate, bytes/s.
    pub fn copy_in_bandwidth(&self) -> f64 {
        let bytes = self.pixels as f64 * self.bands as f64 * self.input.bytes() as f64;
        bytes / (self.copy_in_ms / 1e3).max(1e-12)
    }

    /// Device → host copy rate, bytes/s.
    pub fn copy_out_bandwidth(&self) -> f64 {
        let bytes = self.rows as f64 * self.grid as f64 * 4.0;
        bytes / (self.copy_out_ms / 1e3).max(1e-12)
    }
}

/// Mean milliseconds of `op` over `repeats` back-to-back runs on `stream`.
fn timed(
    stream: &CudaStream,
    repeats: usize,
    mut op: impl FnMut() -> StepResult,
) -> StepResult<f64> {
    let ctx = stream.context();
    let event = || {
        ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| format!("creating a timing event: {e}"))
    };
    let (start, end) = (event()?, event()?);
    start
        .record(stream)
        .map_err(|e| format!("recording an event: {e}"))?;
    for _ in 0..repeats {
        op()?;
    }
    end.record(stream)
        .map_err(|e| format!("recording an event: {e}"))?;
    let ms = start
        .elapsed_ms(&end)
        .map_err(|e| format!("reading the timing events: {e}"))?;
    Ok(f64::from(ms) / repeats as f64)
}

impl CudaCalibrator {
    /// Time each device step on the first chunk of `block` (see the [module docs](self)).
    pub fn profile(
        &mut self,
        plan: &CalibrationPlan,
        block: &LineBlock,
        repeats: usize,
    ) -> Result<KernelProfile> {
        let g = self.prepare(plan)?;
        let raw = check_block(plan, block)?;
        let lines = g.chunk_lines.min(block.data.dim().0);
        let n = g.counts(lines).map_err(|e| failed(plan, e))?;
        let values = raw
            .get(..n.raw)
            .ok_or_else(|| failed(plan, "internal: chunk outside the block"))?;
        let repeats = repeats.max(1);
        let pack = self.options.pack_u16;
        let CudaCalibrator {
            slots,
            kernels,
            constants,
            ..
        } = self;
        let consts = constants
            .as_ref()
            .ok_or_else(|| failed(plan, "internal: constants not uploaded"))?;
        let s = slots
            .first_mut()
            .ok_or_else(|| failed(plan, "internal: no stream"))?;
        let stream = s.stream.clone();
        let cd = calibrate_dims(plan, &g, n.pixels);
        let bd = bin_dims(&g, lines, n.bins);
        let mut run = || -> StepResult<KernelProfile> {
            let kind = s.stage(values, pack)?;
            // Warm-up: every step once.
            s.copy_in(kind, n.raw)?;
            s.run_calibrate(kernels, consts, cd, kind)?;
            if g.k > 1 {
                s.run_bin(kernels, bd)?;
            }
            s.run_gemm(consts, &g, n.rows)?;
            s.run_mask(kernels, &g, n.rows)?;
            s.copy_out(n.out)?;
            let copy_in_ms = timed(&stream, repeats, || s.copy_in(kind, n.raw))?;
            let calibrate_ms = timed(&stream, repeats, || {
                s.run_calibrate(kernels, consts, cd, kind)
            })?;
            let bin_ms = if g.k > 1 {
                Some(timed(&stream, repeats, || s.run_bin(kernels, bd))?)
            } else {
                None
            };
            let gemm_ms = timed(&stream, repeats, || s.run_gemm(consts, &g, n.rows))?;
            let mask_ms = timed(&stream, repeats, || s.run_mask(kernels, &g, n.rows))?;
            let copy_out_ms = timed(&stream, repeats, || s.copy_out(n.out))?;
            stream
                .synchronize()
                .map_err(|e| format!("synchronising: {e}"))?;
            Ok(KernelProfile {
                input: kind,
                pixels: n.pixels,
                bands: g.bands,
                kept: g.kept,
                grid: g.grid,
                rows: n.rows,
                repeats,
                copy_in_ms,
                calibrate_ms,
                bin_ms,
                gemm_ms,
                mask_ms,
                copy_out_ms,
            })
        };
        run().map_err(|e| failed(plan, e))
    }
}
