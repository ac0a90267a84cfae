//! [`CalibrationPlan`]: everything about a cube's calibration that does not depend on its
//! pixels, computed once per cube before the first block.
//!
//! Building the plan runs, in order: bad-band selection ([`badbands`]), the
//! radiometric factors and their guards ([`radiometric`]), the candidate
//! grid and its support, the Gaussian matrix ([`resample`]), the optional
//! band subset and Savitzky–Golay smoothing ([`savgol`]), and the
//! `calibration_version` ([`version`]). Any problem is reported here, before a
//! single pixel is read.

use ndarray::{Array2, Axis};

use crate::cube::{CubeInfo, DataKind, Shape};
use crate::error::{Error, Result};

use super::blocks::{SpectralBlock, spectral_blocks};
use super::config::CalibrationConfig;
use super::radiometric::{self, Radiometric, RadiometricMode};
use super::taps::SpectralTaps;
use super::{badbands, resample, savgol, version};

/// A run of kept bands that are consecutive in the file: input bands `src..src+len` go to
/// columns `dst..dst+len` of the `[pixels, kept]` matrix. Runs make the gather a few
/// contiguous, vectorisable copies instead of one indexed load per band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatherRun {
    /// First input band.
    pub src: usize,
    /// First kept column.
    pub dst: usize,
    /// Number of bands.
    pub len: usize,
}

/// Everything precomputed for one cube.
#[derive(Debug, Clone)]
pub struct CalibrationPlan {
    /// `calibration_version`: `"{name}-{12 hex digits}"`.
    pub version: String,
    /// Output band centres, nm, ascending (after support checks and the band subset).
    pub grid_nm: Vec<f32>,
    /// Binning factor k (k×k pixels per output pixel).
    pub binning: usize,
    /// Output lines: `ceil(lines / k)`.
    pub out_lines: usize,
    /// Output samples: `ceil(samples / k)`.
    pub out_samples: usize,
    cube_id: String,
    shape: Shape,
    kept: Vec<usize>,
    runs: Vec<GatherRun>,
    radiometric: Radiometric,
    resampling: Array2<f32>,
    spectral: Array2<f32>,
    blocks: Vec<SpectralBlock>,
    taps: SpectralTaps,
    ignore_value: Option<f32>,
    output_fwhm_nm: f32,
    left_out_nm: Vec<f32>,
}

impl CalibrationPlan {
    /// Build the plan for a cube (see the [module docs](self)).
    ///
    /// Errors: [`Error::Config`] for invalid settings, [`Error::ShapeMismatch`] when the
    /// band metadata or frames disagree with the cube's shape, [`Error::Calibration`] when the
    /// cube cannot be calibrated (raw DN without frames, a guarded denominator, no band left,
    /// an empty grid).
    pub fn build(info: &CubeInfo, cfg: &CalibrationConfig) -> Result<Self> {
        let cube_id = info.header.cube_id.clone();
        cfg.validate(&format!("calibration config `{}`", cfg.name))?;
        let calib_err = |reason: String| Error::Calibration {
            cube_id: cube_id.clone(),
            reason,
        };

        let mut kept = badbands::kept_bands(info, &cfg.bad_bands)?;
        let radiometric = radiometric::build(info, cfg, &mut kept)?;
        if kept.is_empty() {
            return Err(calib_err(format!(
                "no band left after bad-band removal (of {} bands)",
                info.shape.bands
            )));
        }
        let kept_nm: Vec<f32> = kept
            .iter()
            .map(|&b| info.bands.wavelength_nm.get(b).copied().unwrap_or(f32::NAN))
            .collect();

        let fwhm = cfg.output_fwhm_nm();
        let candidates = resample::candidate_grid(info, cfg)?;
        let (grid, left_out): (Vec<f32>, Vec<f32>) = candidates.iter().partition(|&&c| {
            !badbands::in_dropped_region(&cfg.bad_bands, c)
                && resample::is_supported(&kept_nm, c, fwhm)
        });
        if grid.is_empty() {
            return Err(calib_err(format!(
                "no output grid band has a kept input band within ±{} nm",
                fwhm / 2.0
            )));
        }
        let gauss = resample::gaussian_matrix(&kept_nm, &grid, fwhm);
        let spectral_full = match cfg.savgol {
            Some(sg) => {
                let s = savgol::smoothing_matrix(&grid, cfg.grid.step_nm, sg.window, sg.order);
                gauss.dot(&s.t())
            }
            None => gauss.clone(),
        };
        let columns: Vec<usize> = match &cfg.band_subset_nm {
            Some(targets) => resample::nearest_subset(&grid, targets),
            None => (0..grid.len()).collect(),
        };
        let grid_nm: Vec<f32> = columns
            .iter()
            .filter_map(|&j| grid.get(j).copied())
            .collect();
        let to_f32 = |m: &Array2<f64>| m.select(Axis(1), &columns).mapv(|v| v as f32);

        let spectral = to_f32(&spectral_full);
        let k = cfg.binning;
        Ok(CalibrationPlan {
            version: version::calibration_version(info, cfg)?,
            grid_nm,
            binning: k,
            out_lines: info.shape.lines.div_ceil(k),
            out_samples: info.shape.samples.div_ceil(k),
            cube_id,
            shape: info.shape,
            runs: gather_runs(&kept),
            kept,
            radiometric,
            resampling: to_f32(&gauss),
            blocks: spectral_blocks(&spectral),
            taps: SpectralTaps::new(&spectral),
            spectral,
            ignore_value: info.ignore_value.map(|v| v as f32),
            output_fwhm_nm: fwhm,
            left_out_nm: left_out,
        })
    }

    /// The cube this plan is for.
    pub fn cube_id(&self) -> &str {
        &self.cube_id
    }

    /// The input cube's shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Indices (file order) of the input bands that enter the resampling.
    pub fn kept_bands(&self) -> &[usize] {
        &self.kept
    }

    /// The kept bands as contiguous runs (see [`GatherRun`]).
    pub fn gather_runs(&self) -> &[GatherRun] {
        &self.runs
    }

    /// The folded radiometric map (factor/offset per sample and kept band).
    pub fn radiometric(&self) -> &Radiometric {
        &self.radiometric
    }

    /// The radiometric path taken.
    pub fn mode(&self) -> RadiometricMode {
        self.radiometric.mode()
    }

    /// What the output values are (reflectance, radiance, or passed-through input).
    pub fn output_kind(&self) -> DataKind {
        self.radiometric.output_kind()
    }

    /// The Gaussian resampling matrix `[kept, grid]` (columns sum to 1).
    pub fn resampling_matrix(&self) -> &Array2<f32> {
        &self.resampling
    }

    /// The matrix the GEMM applies, `[kept, grid]`: the resampling matrix with the
    /// Savitzky–Golay filter folded in (equal to it when smoothing is off).
    pub fn spectral_matrix(&self) -> &Array2<f32> {
        &self.spectral
    }

    /// The non-zero blocks of [`Self::spectral_matrix`] (see [`super::blocks`]).
    pub fn spectral_blocks(&self) -> &[SpectralBlock] {
        &self.blocks
    }

    /// The non-zero weights of each column of [`Self::spectral_matrix`] (see
    /// [`super::taps`]).
    pub fn spectral_taps(&self) -> &SpectralTaps {
        &self.taps
    }

    /// The fill value as `f32`, compared with the block's values.
    pub fn ignore_value(&self) -> Option<f32> {
        self.ignore_value
    }

    /// FWHM of the output bands' Gaussian responses, nm.
    pub fn output_fwhm_nm(&self) -> f32 {
        self.output_fwhm_nm
    }

    /// Candidate grid centres that were left out (bad-band region or no input support).
    pub fn left_out_grid_nm(&self) -> &[f32] {
        &self.left_out_nm
    }

    /// Output lines produced by a block of `lines` lines.
    pub fn out_lines_for(&self, lines: usize) -> usize {
        lines.div_ceil(self.binning)
    }
}

fn gather_runs(kept: &[usize]) -> Vec<GatherRun> {
    let mut runs: Vec<GatherRun> = Vec::new();
    for (dst, &src) in kept.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if r.src + r.len == src => r.len += 1,
            _ => runs.push(GatherRun { src, dst, len: 1 }),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_group_consecutive_bands() {
        let runs = gather_runs(&[0, 1, 2, 5, 6, 9]);
        assert_eq!(
            runs,
            vec![
                GatherRun {
                    src: 0,
                    dst: 0,
                    len: 3
                },
                GatherRun {
                    src: 5,
                    dst: 3,
                    len: 2
                },
                GatherRun {
                    src: 9,
                    dst: 5,
                    len: 1
                },
            ]
        );
    }
}
