//! Spectral resampling to the standard grid (DESIGN §5 step 4).
//!
//! ## Definition
//! Each output band `j` has a Gaussian spectral response centred at `μ_j` with
//! `FWHM_out = grid.fwhm_nm` (default: the grid step), `σ = FWHM_out / (2·√(2·ln 2))`. Its
//! value is the response-weighted mean of the kept input bands, the response being evaluated
//! at the input band centres `λ_i`:
//!
//! ```text
//! w_ij = exp(−½·((λ_i − μ_j)/σ)²)   if |λ_i − μ_j| ≤ 3σ, else 0
//! M[i, j] = w_ij / Σ_i w_ij         (each column sums to 1)
//! ```
//!
//! so `out = x · M` for a pixel spectrum `x` over the kept bands: one GEMM for a block.
//! Normalising the columns makes the resampling exact for constants, and for any spectrum
//! that is linear in λ when the input bands around `μ_j` are dense and symmetric.
//!
//! Input FWHMs are **not** deconvolved: an input value already integrates its own response,
//! so the effective response of an output band is the output Gaussian convolved with the
//! input responses (`σ_eff² ≈ σ_out² + σ_in²`). For 10 nm AVIRIS bands on a 10 nm grid this
//! widens the response by √2, which keeps broad-band indices (NDVI, NDWI) within a few
//! thousandths of the nearest-band values (see `tests/calibration_spectra.rs`). The input
//! FWHMs enter the `calibration_version` hash.
//!
//! The matrix is built from wavelengths, row by row in **file order**: input bands may come in
//! any order (AVIRIS's overlapping spectrometers), and no pixel data is ever sorted.
//!
//! ## Which grid bands exist
//! Candidate centres come from [`Grid`](super::config::Grid). A candidate is **left out** of
//! the plan's grid (it is not an all-NaN column) when its centre lies in a configured
//! bad-band region, or when no kept input band lies within `±FWHM_out/2` of it (a gap left by
//! the bad-band list, or the ends of the sensor's range). So every output value is dominated
//! by input bands near its centre.

use ndarray::Array2;

use crate::cube::CubeInfo;
use crate::error::{Error, Result};

use super::config::{CalibrationConfig, MAX_GRID_BANDS};

/// `σ = FWHM · FWHM_TO_SIGMA` for a Gaussian.
pub const FWHM_TO_SIGMA: f64 = 0.424_660_900_144_009_5; // 1 / (2·√(2·ln 2))
/// Input bands farther than this many σ from an output centre get weight 0.
pub const SUPPORT_SIGMAS: f64 = 3.0;

/// Candidate grid centres (before support checks), ascending.
pub(crate) fn candidate_grid(info: &CubeInfo, cfg: &CalibrationConfig) -> Result<Vec<f32>> {
    let step = f64::from(cfg.grid.step_nm);
    let finite = info.bands.wavelength_nm.iter().filter(|v| v.is_finite());
    let (min, max) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
        (lo.min(f64::from(v)), hi.max(f64::from(v)))
    });
    let config_err = |reason: String| Error::Config {
        origin: format!("calibration config `{}`", cfg.name),
        reason,
    };
    if !min.is_finite() {
        return Err(Error::Calibration {
            cube_id: info.header.cube_id.clone(),
            reason: "no band has a finite centre wavelength".into(),
        });
    }
    const EPS: f64 = 1e-6;
    let start = match cfg.grid.start_nm {
        Some(s) => f64::from(s),
        None => ((min + step) / step - EPS).ceil() * step,
    };
    let end = match cfg.grid.end_nm {
        Some(e) => f64::from(e),
        None => ((max - step) / step + EPS).floor() * step,
    };
    if start > end {
        return Err(Error::Calibration {
            cube_id: info.header.cube_id.clone(),
            reason: format!(
                "the output grid is empty: start {start} nm is above end {end} nm (sensor range \
                 {min}–{max} nm, step {step} nm)"
            ),
        });
    }
    let count = ((end - start) / step + EPS).floor() + 1.0;
    if count > MAX_GRID_BANDS as f64 {
        return Err(config_err(format!(
            "grid {start}..={end} nm step {step} nm has {count} bands, above {MAX_GRID_BANDS}"
        )));
    }
    Ok((0..count as usize)
        .map(|i| (start + i as f64 * step) as f32)
        .collect())
}

/// Whether some kept input band lies within `±fwhm/2` of `centre`.
pub(crate) fn is_supported(kept_nm: &[f32], centre: f32, fwhm_nm: f32) -> bool {
    let half = f64::from(fwhm_nm) / 2.0;
    kept_nm
        .iter()
        .any(|&l| (f64::from(l) - f64::from(centre)).abs() <= half)
}

/// The normalised Gaussian resampling matrix `[kept_nm.len(), centres.len()]` defined in the
/// [module docs](self). A column with no input band within `±3σ` is all zero.
pub fn gaussian_matrix(kept_nm: &[f32], centres: &[f32], fwhm_nm: f32) -> Array2<f64> {
    let sigma = f64::from(fwhm_nm) * FWHM_TO_SIGMA;
    let mut m = Array2::<f64>::zeros((kept_nm.len(), centres.len()));
    for (j, &mu) in centres.iter().enumerate() {
        let mut column = m.column_mut(j);
        let mut sum = 0.0;
        for (w, &l) in column.iter_mut().zip(kept_nm) {
            let z = (f64::from(l) - f64::from(mu)) / sigma;
            if z.abs() <= SUPPORT_SIGMAS {
                *w = (-0.5 * z * z).exp();
                sum += *w;
            }
        }
        if sum > 0.0 {
            column.mapv_inplace(|w| w / sum);
        }
    }
    m
}

/// Indices into `grid_nm` of the bands nearest each target (ties go to the shorter
/// wavelength), deduplicated and in grid order.
pub fn nearest_subset(grid_nm: &[f32], targets: &[f32]) -> Vec<usize> {
    let mut picked: Vec<usize> = targets
        .iter()
        .filter_map(|&t| {
            grid_nm
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| (*a - t).abs().total_cmp(&(*b - t).abs()))
                .map(|(i, _)| i)
        })
        .collect();
    picked.sort_unstable();
    picked.dedup();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_sum_to_one_and_cut_at_three_sigma() {
        let kept: Vec<f32> = (0..50).map(|i| 500.0 + i as f32).collect();
        let m = gaussian_matrix(&kept, &[520.0], 10.0);
        assert!((m.column(0).sum() - 1.0).abs() < 1e-12);
        // 3σ = 12.74 nm: 508 (12 nm away) is in, 507 (13 nm away) is out.
        assert!(m[[8, 0]] > 0.0);
        assert_eq!(m[[7, 0]], 0.0);
        // Weight ratio of a band one FWHM/2 away to the centre band is exactly 1/2.
        let kept = [515.0, 520.0];
        let m = gaussian_matrix(&kept, &[520.0], 10.0);
        assert!((m[[0, 0]] / m[[1, 0]] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn nearest_subset_dedups_and_sorts() {
        let grid = [400.0, 410.0, 420.0, 430.0];
        assert_eq!(
            nearest_subset(&grid, &[428.0, 401.0, 404.0, 415.0]),
            vec![0, 1, 3]
        );
    }
}
