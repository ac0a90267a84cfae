//! The CPU calibration backend.
//!
//! Per block (`[lines, samples, bands]` BIP, viewed as `[pixels, bands]` without copying):
//! 1. **one fused pass** over the pixels: gather the kept bands (contiguous runs) and apply the
//!    folded radiometric map `raw·factor + offset` into a contiguous `[pixels, kept]` matrix,
//!    flagging no-data pixels on the way;
//! 2. with k > 1, bin that matrix (mean of valid pixels, see [`binning`](super::binning)):
//!    binning commutes with the linear resampling, so it is done first and the GEMM shrinks
//!    k² times;
//! 3. **the resampling product** `[pixels, kept] · [kept, grid]`, whose matrix already holds
//!    the Savitzky–Golay filter, with only its non-zero weights ([`taps`](super::taps)),
//!    written **band-major**: the returned block is `[lines, samples, grid]` with the grid
//!    axis outermost in memory, so each band's values are one contiguous run (an Arrow
//!    column). Two other products are kept as measured alternatives and references:
//!    [`CpuCalibrator::blocked`], one ndarray GEMM per non-zero block of the banded matrix
//!    ([`blocks`](super::blocks)), and [`CpuCalibrator::dense`], one GEMM over the whole
//!    matrix; both return pixel-major (standard layout) blocks;
//! 4. no-data pixels set to NaN in every band.
//!
//! **No-data**: a pixel is no-data when every kept band holds the cube's fill value
//! (`ignore_value`), or when any kept band calibrates to a non-finite value (NaN/inf input):
//! one NaN would otherwise spread through the GEMM into every output band. Bands dropped as
//! bad are not looked at (real fill pixels carry detector spikes there).
//!
//! Scratch buffers live in the calibrator and are reused from block to block: nothing is
//! allocated per pixel, and per block only the returned array.

use std::borrow::Cow;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array3, ArrayView2, ArrayViewMut2, s};

use crate::cube::{LineBlock, StoredBlock};
use crate::error::{Error, Result};

use super::binning::BinSums;
use super::plan::{CalibrationPlan, GatherRun};
use super::{CalibratedBlock, Calibrator};

/// The CPU backend; keeps reusable scratch buffers between blocks.
#[derive(Debug, Default)]
pub struct CpuCalibrator {
    /// `[pixels, kept]` calibrated values (k = 1).
    gathered: Vec<f32>,
    /// One pixel's kept values (k > 1).
    row: Vec<f32>,
    /// Per pixel (k = 1) or per bin (k > 1): has data.
    valid: Vec<bool>,
    bins: BinSums,
    /// Transposed input tile of the sparse product.
    tile: Vec<f32>,
    /// A block output buffer given back ([`Calibrator::recycle`]): the sparse product
    /// overwrites every value, so reusing it skips zero-filling a fresh one.
    spare: Option<Vec<f32>>,
    product: Product,
}

/// Which resampling product a [`CpuCalibrator`] runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Product {
    /// Non-zero weights only, band-major output ([`super::taps`]); the default.
    #[default]
    Sparse,
    /// One GEMM per non-zero block of the matrix ([`super::blocks`]), pixel-major output.
    Blocked,
    /// One GEMM over the whole matrix, pixel-major output: the reference.
    Dense,
}

const EXP_MASK: u32 = 0x7f80_0000;

/// Calibrate one pixel's kept bands into `out`; returns whether the pixel has data. `T` is
/// the block's element type (`f32`, or u16 DN converted here, in registers). `finite_in`:
/// the caller proved every value this map can produce finite
/// ([`Radiometric::finite_for_u16`](super::radiometric::Radiometric::finite_for_u16)), so the
/// scan for non-finite results is skipped.
#[inline]
fn calibrate_pixel<T: Copy + Into<f32>>(
    raw: &[T],
    runs: &[GatherRun],
    factor: &[f32],
    offset: &[f32],
    ignore: Option<f32>,
    out: &mut [f32],
    finite_in: bool,
) -> bool {
    let mut all_fill = ignore.is_some();
    for r in runs {
        let (Some(src), Some(dst), Some(f), Some(g)) = (
            raw.get(r.src..r.src + r.len),
            out.get_mut(r.dst..r.dst + r.len),
            factor.get(r.dst..r.dst + r.len),
            offset.get(r.dst..r.dst + r.len),
        ) else {
            return false;
        };
        for (((o, &x), &f), &g) in dst.iter_mut().zip(src).zip(f).zip(g) {
            *o = x.into() * f + g;
        }
        if all_fill && let Some(fill) = ignore {
            all_fill = src.iter().all(|&v| v.into() == fill);
        }
    }
    if finite_in {
        return !all_fill;
    }
    let non_finite = out
        .iter()
        .filter(|v| v.to_bits() & EXP_MASK == EXP_MASK)
        .count();
    !all_fill && non_finite == 0
}

impl CpuCalibrator {
    /// A calibrator with empty scratch buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A calibrator that multiplies the whole dense spectral matrix (zeros included): the
    /// reference the other products are tested and benchmarked against.
    pub fn dense() -> Self {
        Self::with_product(Product::Dense)
    }

    /// A calibrator running the blocked GEMM (see [`Product::Blocked`]).
    pub fn blocked() -> Self {
        Self::with_product(Product::Blocked)
    }

    /// A calibrator running `product`.
    pub fn with_product(product: Product) -> Self {
        CpuCalibrator {
            product,
            ..Self::default()
        }
    }

    /// Steps 1–2 alone: the `[pixels, kept]` calibrated matrix of a block (kept bands in
    /// [`CalibrationPlan::kept_bands`] order) and each pixel's data flag. Exposed for other
    /// backends' tests and the benchmarks.
    pub fn radiometric_pass(
        &mut self,
        plan: &CalibrationPlan,
        block: &LineBlock,
    ) -> Result<(ArrayView2<'_, f32>, &[bool])> {
        let raw = check_block(plan, block)?;
        let raw: &[f32] = &raw;
        let (samples, bands) = (plan.shape().samples, plan.shape().bands);
        let kept = plan.kept_bands().len();
        let pixels = raw.len() / bands;
        self.gathered.resize(pixels * kept, 0.0);
        self.valid.clear();
        let rad = plan.radiometric();
        let (runs, ignore) = (plan.gather_runs(), plan.ignore_value());
        for (p, (src, dst)) in raw
            .chunks_exact(bands)
            .zip(self.gathered.chunks_exact_mut(kept))
            .enumerate()
        {
            let (f, g) = rad.rows(p % samples);
            self.valid
                .push(calibrate_pixel(src, runs, f, g, ignore, dst, false));
        }
        let view = ArrayView2::from_shape((pixels, kept), &self.gathered)
            .map_err(|e| shape_error(plan, e))?;
        Ok((view, &self.valid))
    }

    /// Steps 1–2 fused into the sparse resampling, tile by tile ([`SpectralTaps::apply_with`]):
    /// the default path without binning, over a checked block's values (`[lines, samples,
    /// bands]` in standard layout, `f32` or u16). Returns the band-major block.
    fn fused_sparse<T: Copy + Into<f32>>(
        &mut self,
        plan: &CalibrationPlan,
        raw: &[T],
        finite_in: bool,
        lines: usize,
        mut out: Vec<f32>,
        tile: &mut Vec<f32>,
    ) -> Result<Array3<f32>> {
        let (samples, bands) = (plan.shape().samples, plan.shape().bands);
        let kept = plan.kept_bands().len();
        let grid = plan.grid_nm.len();
        let taps = plan.spectral_taps();
        let rows = lines * samples;
        if raw.len() != rows * bands
            || taps.cols() != grid
            || taps.work_per_pixel().1 != kept * grid
        {
            return Err(shape_error(plan, "resampling operands disagree"));
        }
        out.resize(rows * grid, 0.0);
        let rad = plan.radiometric();
        let (runs, ignore) = (plan.gather_runs(), plan.ignore_value());
        self.valid.clear();
        self.valid.resize(rows, false);
        let valid = &mut self.valid;
        taps.apply_with(rows, &mut out, tile, |p0, dst| {
            for (i, row) in dst.chunks_exact_mut(kept.max(1)).enumerate() {
                let p = p0 + i;
                let (f, g) = rad.rows(p % samples);
                let src = raw.get(p * bands..(p + 1) * bands).unwrap_or_default();
                valid[p] = calibrate_pixel(src, runs, f, g, ignore, row, finite_in);
            }
        });
        mark_invalid(&mut out, rows, &self.valid);
        Ok(Array3::from_shape_vec((grid, lines, samples), out)
            .map_err(|e| shape_error(plan, e))?
            .permuted_axes([1, 2, 0]))
    }

    /// Steps 1–2 with k×k binning fused in: fills `self.bins` and `self.valid` per bin.
    fn binned_pass(&mut self, plan: &CalibrationPlan, block: &LineBlock) -> Result<usize> {
        let raw = check_block(plan, block)?;
        let raw: &[f32] = &raw;
        let (samples, bands) = (plan.shape().samples, plan.shape().bands);
        let (k, kept) = (plan.binning, plan.kept_bands().len());
        let out_samples = plan.out_samples;
        let bins = plan.out_lines_for(block.data.dim().0) * out_samples;
        self.bins.reset(bins, kept);
        self.row.resize(kept, 0.0);
        let rad = plan.radiometric();
        let (runs, ignore) = (plan.gather_runs(), plan.ignore_value());
        for (p, src) in raw.chunks_exact(bands).enumerate() {
            let (line, sample) = (p / samples, p % samples);
            let (f, g) = rad.rows(sample);
            if calibrate_pixel(src, runs, f, g, ignore, &mut self.row, false) {
                self.bins
                    .add((line / k) * out_samples + sample / k, &self.row);
            }
        }
        Ok(bins)
    }
}

impl Calibrator for CpuCalibrator {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn recycle(&mut self, buffer: Vec<f32>) {
        self.spare = Some(buffer);
    }

    /// u16 blocks go straight into the fused sparse kernel, converted in registers (the
    /// default path); other products and binning take the `f32` conversion.
    fn calibrate_stored(
        &mut self,
        plan: &CalibrationPlan,
        block: &StoredBlock,
    ) -> Result<CalibratedBlock> {
        let StoredBlock::U16 { first_line, data } = block else {
            return self.calibrate(plan, &block.to_f32());
        };
        if self.product != Product::Sparse || plan.binning != 1 {
            return self.calibrate(plan, &block.to_f32());
        }
        check_shape(plan, *first_line, data.dim())?;
        let raw = contiguous(data);
        let mut tile = std::mem::take(&mut self.tile);
        let out = self.spare.take().unwrap_or_default();
        let finite = plan.radiometric().finite_for_u16();
        let result = self.fused_sparse(plan, &raw, finite, data.dim().0, out, &mut tile);
        self.tile = tile;
        Ok(CalibratedBlock {
            first_line: *first_line,
            data: result?,
        })
    }

    fn calibrate(&mut self, plan: &CalibrationPlan, block: &LineBlock) -> Result<CalibratedBlock> {
        let lines = block.data.dim().0;
        let out_lines = plan.out_lines_for(lines);
        let grid = plan.grid_nm.len();
        let rows = out_lines * plan.out_samples;
        let mut out = vec![0.0f32; rows * grid];
        let product = self.product;
        let mut tile = std::mem::take(&mut self.tile);
        if product == Product::Sparse && plan.binning == 1 {
            let data = check_block(plan, block)
                .and_then(|raw| self.fused_sparse(plan, &raw, false, lines, out, &mut tile));
            self.tile = tile;
            return Ok(CalibratedBlock {
                first_line: block.first_line,
                data: data?,
            });
        }
        let (input, valid): (ArrayView2<'_, f32>, &[bool]) = if plan.binning == 1 {
            self.radiometric_pass(plan, block)?
        } else {
            let bins = self.binned_pass(plan, block)?;
            let means = self.bins.finish(&mut self.valid);
            let view = ArrayView2::from_shape((bins, plan.kept_bands().len()), means)
                .map_err(|e| shape_error(plan, e))?;
            (view, &self.valid)
        };
        let m = plan.spectral_matrix();
        if input.dim() != (rows, m.nrows()) || m.ncols() != grid {
            return Err(shape_error(plan, "resampling operands disagree"));
        }
        let data = if product == Product::Sparse {
            let x = input
                .as_slice()
                .ok_or_else(|| shape_error(plan, "input is not contiguous"))?;
            plan.spectral_taps().apply(x, rows, &mut out, &mut tile);
            mark_invalid(&mut out, rows, valid);
            Array3::from_shape_vec((grid, out_lines, plan.out_samples), out)
                .map_err(|e| shape_error(plan, e))?
                .permuted_axes([1, 2, 0])
        } else {
            {
                let mut c = ArrayViewMut2::from_shape((rows, grid), &mut out)
                    .map_err(|e| shape_error(plan, e))?;
                if product == Product::Dense {
                    general_mat_mul(1.0, &input, m, 0.0, &mut c);
                } else {
                    // `out` starts at 0, so columns without a block (all-zero weights) stay 0.
                    for b in plan.spectral_blocks() {
                        let (rows, cols) = (b.rows.clone(), b.cols.clone());
                        general_mat_mul(
                            1.0,
                            &input.slice(s![.., rows.clone()]),
                            &m.slice(s![rows, cols.clone()]),
                            0.0,
                            &mut c.slice_mut(s![.., cols]),
                        );
                    }
                }
            }
            for (row, _) in out
                .chunks_exact_mut(grid.max(1))
                .zip(valid)
                .filter(|(_, ok)| !**ok)
            {
                row.fill(f32::NAN);
            }
            Array3::from_shape_vec((out_lines, plan.out_samples, grid), out)
                .map_err(|e| shape_error(plan, e))?
        };
        self.tile = tile;
        Ok(CalibratedBlock {
            first_line: block.first_line / plan.binning,
            data,
        })
    }
}

/// Set no-data pixels (`valid[p]` false) to NaN in every band of a band-major block of `rows`
/// pixels.
fn mark_invalid(out: &mut [f32], rows: usize, valid: &[bool]) {
    for (p, _) in valid.iter().enumerate().filter(|(_, ok)| !**ok) {
        for band in out.chunks_exact_mut(rows.max(1)) {
            band[p] = f32::NAN;
        }
    }
}

/// Check a block against the plan; returns its values in standard (C) layout, borrowed when
/// they already are. Shared by every backend so they accept and reject the same blocks with
/// the same messages.
pub(crate) fn check_block<'a>(
    plan: &CalibrationPlan,
    block: &'a LineBlock,
) -> Result<Cow<'a, [f32]>> {
    check_shape(plan, block.first_line, block.data.dim())?;
    Ok(contiguous(&block.data))
}

/// A block's values in standard (C) order: borrowed when they already are, else copied.
fn contiguous<T: Copy, S: ndarray::Data<Elem = T>>(
    a: &ndarray::ArrayBase<S, ndarray::Ix3>,
) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().copied().collect()),
    }
}

/// The shape and alignment checks of [`check_block`], for a block of `dim` from line `first`.
fn check_shape(plan: &CalibrationPlan, first: usize, dim: (usize, usize, usize)) -> Result<()> {
    let (lines, samples, bands) = dim;
    let shape = plan.shape();
    let k = plan.binning.max(1);
    let err = |reason: String| Error::Calibration {
        cube_id: plan.cube_id().to_owned(),
        reason,
    };
    if samples != shape.samples || bands != shape.bands || lines == 0 {
        return Err(err(format!(
            "block of {lines}×{samples}×{bands} (lines×samples×bands) does not fit the cube's \
             {}×{}×{}",
            shape.lines, shape.samples, shape.bands
        )));
    }
    let end = first + lines;
    if end > shape.lines {
        return Err(err(format!(
            "block lines {first}..{end} run past the cube's {} lines",
            shape.lines
        )));
    }
    if !first.is_multiple_of(k) || (!lines.is_multiple_of(k) && end != shape.lines) {
        return Err(err(format!(
            "block lines {first}..{end} are not aligned to the {k}×{k} binning (only the last \
             block may have a line count that is not a multiple of {k})"
        )));
    }
    Ok(())
}

fn shape_error(plan: &CalibrationPlan, e: impl std::fmt::Display) -> Error {
    Error::Calibration {
        cube_id: plan.cube_id().to_owned(),
        reason: format!("internal shape error: {e}"),
    }
}
