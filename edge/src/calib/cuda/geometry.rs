//! Chunk geometry and the plan's constants on the device.
//!
//! A block is cut into **chunks** of [`Geometry::chunk_lines`] lines (a multiple of the binning
//! factor k, about `CudaOptions::chunk_bytes` of `f32` input), and every slot buffer is sized
//! for one chunk ([`Counts`]), so device memory is bounded by the chunk size whatever the block
//! or cube size. The plan's constants (kept band indices, radiometric factors and offsets, the
//! spectral matrix) are uploaded once per plan and shared, read-only, by every stream.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream};

use super::slot::{StepResult, step};
use crate::calib::CalibrationPlan;
use crate::error::{Error, Result};

/// Sizes derived from a plan and the chunk size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub samples: usize,
    pub bands: usize,
    pub kept: usize,
    pub grid: usize,
    pub k: usize,
    pub out_samples: usize,
    pub chunk_lines: usize,
}

/// Element counts of a chunk of `lines` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    pub pixels: usize,
    pub raw: usize,
    pub gathered: usize,
    pub bins: usize,
    pub binned: usize,
    pub rows: usize,
    pub out: usize,
}

impl Geometry {
    /// Geometry of `plan` with chunks of about `chunk_bytes` of `f32` input.
    pub(crate) fn new(plan: &CalibrationPlan, chunk_bytes: usize) -> Result<Self> {
        let shape = plan.shape();
        let k = plan.binning.max(1);
        let line_bytes = shape.samples.saturating_mul(shape.bands).saturating_mul(4);
        let lines = (chunk_bytes / line_bytes.max(1)).max(1);
        let chunk_lines = ((lines / k) * k)
            .max(k)
            .min(shape.lines.div_ceil(k).saturating_mul(k).max(k));
        let g = Geometry {
            samples: shape.samples,
            bands: shape.bands,
            kept: plan.kept_bands().len(),
            grid: plan.grid_nm.len(),
            k,
            out_samples: plan.out_samples,
            chunk_lines,
        };
        // Every count must fit the kernels' and cuBLAS's integer arguments.
        let c = g.counts(chunk_lines).map_err(|e| internal(plan, &e))?;
        let fits = |v: usize| i32::try_from(v).is_ok();
        if ![
            g.samples,
            g.bands,
            g.kept,
            g.grid,
            g.k,
            g.out_samples,
            c.rows,
        ]
        .into_iter()
        .all(fits)
        {
            return Err(internal(
                plan,
                "chunk dimensions exceed the 32-bit CUDA arguments",
            ));
        }
        Ok(g)
    }

    /// Element counts for a chunk of `lines` lines (≤ `chunk_lines`).
    pub(crate) fn counts(&self, lines: usize) -> StepResult<Counts> {
        let overflow = || format!("a chunk of {lines} lines overflows the address space");
        let mul = |a: usize, b: usize| a.checked_mul(b).ok_or_else(overflow);
        let pixels = mul(lines, self.samples)?;
        let bins = if self.k > 1 {
            mul(lines.div_ceil(self.k), self.out_samples)?
        } else {
            0
        };
        let rows = if self.k > 1 { bins } else { pixels };
        Ok(Counts {
            pixels,
            raw: mul(pixels, self.bands)?,
            gathered: mul(pixels, self.kept)?,
            bins,
            binned: mul(bins, self.kept)?,
            rows,
            out: mul(rows, self.grid)?,
        })
    }
}

/// The plan's constants as the kernels want them, on the host (to detect a new plan).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HostConstants {
    src: Vec<i32>,
    factor: Vec<f32>,
    offset: Vec<f32>,
    per_sample: bool,
    spectral: Vec<f32>,
}

impl HostConstants {
    pub(crate) fn of(plan: &CalibrationPlan) -> Result<Self> {
        let src = plan
            .kept_bands()
            .iter()
            .map(|&b| i32::try_from(b).map_err(|_| internal(plan, "band index above i32")))
            .collect::<Result<_>>()?;
        let rad = plan.radiometric();
        Ok(HostConstants {
            src,
            factor: rad.factor().iter().copied().collect(),
            offset: rad.offset().iter().copied().collect(),
            per_sample: rad.per_sample(),
            spectral: plan.spectral_matrix().iter().copied().collect(),
        })
    }

    /// Whether these are `plan`'s constants (compared in place, without allocating).
    pub(crate) fn matches(&self, plan: &CalibrationPlan) -> bool {
        let rad = plan.radiometric();
        self.per_sample == rad.per_sample()
            && self
                .src
                .iter()
                .map(|&b| b as usize)
                .eq(plan.kept_bands().iter().copied())
            && self.factor.iter().eq(rad.factor().iter())
            && self.offset.iter().eq(rad.offset().iter())
            && self.spectral.iter().eq(plan.spectral_matrix().iter())
    }
}

/// The plan's constants on the device (read-only, shared by every slot).
#[derive(Debug)]
pub(crate) struct Constants {
    pub host: HostConstants,
    pub src: CudaSlice<i32>,
    pub factor: CudaSlice<f32>,
    pub offset: CudaSlice<f32>,
    /// `[kept, grid]` row-major: the GEMM's column-major `[grid, kept]` with `ld = grid`.
    pub spectral: CudaSlice<f32>,
}

impl Constants {
    /// Upload `host` on `stream` and wait for it.
    pub(crate) fn upload(stream: &Arc<CudaStream>, host: HostConstants) -> StepResult<Self> {
        let up = step("uploading the calibration constants");
        let c = Constants {
            src: stream.clone_htod(&host.src).map_err(&up)?,
            factor: stream.clone_htod(&host.factor).map_err(&up)?,
            offset: stream.clone_htod(&host.offset).map_err(&up)?,
            spectral: stream.clone_htod(&host.spectral).map_err(&up)?,
            host,
        };
        stream.synchronize().map_err(&up)?;
        Ok(c)
    }
}

fn internal(plan: &CalibrationPlan, reason: &str) -> Error {
    Error::Calibration {
        cube_id: plan.cube_id().to_owned(),
        reason: format!("CUDA: {reason}"),
    }
}
