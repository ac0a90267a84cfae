//! Radiometric calibration and empirical line (DESIGN §5 steps 1–2), folded into one affine
//! map per (detector column, kept band): `value = raw · factor + offset`.
//!
//! | input | frames | output | `factor` | `offset` |
//! |---|---|---|---|---|
//! | raw DN | dark + white + panel ρ | reflectance | `a·ρ / (white − dark)` | `c − dark·factor` |
//! | raw DN | dark + gain + offset | radiance | `a·gain` | `a·(offset − gain·dark) + c` |
//! | raw DN | none, `allow_uncalibrated_dn` | DN as `f32` | `a` | `c` |
//! | radiance / reflectance | (ignored) | unchanged kind | `a` | `c` |
//!
//! where `a(λ)`, `c(λ)` are the empirical-line coefficients at the band centre (1 and 0 when
//! no empirical line is configured). The first two rows expand `a·ρ·(DN − dark)/(white −
//! dark) + c` and `a·(gain·(DN − dark) + offset) + c`, so the per-pixel work is one fused
//! multiply-add per band. Factors are computed in `f64` and stored as `f32`.
//!
//! Invariants checked when the plan is built, for every **kept** band and every detector
//! column (dropped bands are never looked at):
//! - frames have the cube's shape (`[samples, bands]`, `[bands]`), else
//!   [`Error::ShapeMismatch`];
//! - frame values are finite, else [`Error::Calibration`] naming the band and sample, or the
//!   band is dropped when `bad_bands.drop_nonfinite` is set;
//! - `white − dark > min_denominator` (a NaN difference fails too), else
//!   [`Error::Calibration`] naming the cube, the band (index and nm) and the sample;
//! - the panel reflectance is positive, and the resulting factors are finite.

use ndarray::{Array1, Array2, ArrayView2};

use crate::cube::{CubeInfo, DataKind, Radiometry};
use crate::error::{Error, Result};

use super::config::CalibrationConfig;

/// Which radiometric path a plan takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadiometricMode {
    /// Dark subtraction and flat field against the white panel: raw DN → reflectance.
    FlatField,
    /// Dark subtraction and per-detector gains: raw DN → radiance.
    Gain,
    /// Values pass through (already calibrated, or uncalibrated DN explicitly allowed); only
    /// the empirical line applies.
    PassThrough,
}

/// The folded affine map of the radiometric step, for the kept bands only.
#[derive(Debug, Clone)]
pub struct Radiometric {
    mode: RadiometricMode,
    output: DataKind,
    /// `[rows, kept]`, rows = samples (per-detector frames) or 1 (same for every sample).
    factor: Array2<f32>,
    /// Same shape as `factor`.
    offset: Array2<f32>,
    /// [`finite_for_u16`](Self::finite_for_u16), computed once here.
    finite_for_u16: bool,
}

impl Radiometric {
    /// The path taken.
    pub fn mode(&self) -> RadiometricMode {
        self.mode
    }

    /// What the calibrated values are.
    pub fn output_kind(&self) -> DataKind {
        self.output
    }

    /// `factor[[row, k]]` for kept band `k`; `row` is the sample, or 0 when
    /// [`per_sample`](Self::per_sample) is false.
    pub fn factor(&self) -> ArrayView2<'_, f32> {
        self.factor.view()
    }

    /// `offset[[row, k]]`, laid out like [`factor`](Self::factor).
    pub fn offset(&self) -> ArrayView2<'_, f32> {
        self.offset.view()
    }

    /// Whether factors differ per detector column (one row per sample).
    pub fn per_sample(&self) -> bool {
        self.factor.nrows() > 1
    }

    /// Whether `raw · factor + offset` is finite for every u16 `raw` and every factor and
    /// offset: all finite, and `65535·max|factor| + max|offset|` far from overflowing (true of
    /// any physical calibration), so u16 blocks may skip the per-pixel non-finite scan.
    /// Computed when the map is built (a scan of every factor, too slow to repeat per block).
    pub fn finite_for_u16(&self) -> bool {
        self.finite_for_u16
    }

    /// Factor and offset rows for a sample.
    pub(crate) fn rows(&self, sample: usize) -> (&[f32], &[f32]) {
        let row = if self.per_sample() { sample } else { 0 };
        let f = self.factor.row(row).to_slice().unwrap_or(&[]);
        let o = self.offset.row(row).to_slice().unwrap_or(&[]);
        (f, o)
    }
}

/// Build the affine map for `kept` bands; bands with non-finite frames are removed from
/// `kept` when `drop_nonfinite` is set.
pub(crate) fn build(
    info: &CubeInfo,
    cfg: &CalibrationConfig,
    kept: &mut Vec<usize>,
) -> Result<Radiometric> {
    let cube_id = &info.header.cube_id;
    let calib_err = |reason: String| Error::Calibration {
        cube_id: cube_id.clone(),
        reason,
    };
    let wl = &info.bands.wavelength_nm;
    let nm = |b: usize| wl.get(b).copied().unwrap_or(f32::NAN);
    match (info.kind, &info.radiometry) {
        (DataKind::RawDn, Some(Radiometry::FlatField(ff))) => {
            check_frame(info, "dark", ff.dark.dim())?;
            check_frame(info, "white", ff.white.dim())?;
            check_vector(info, "panel_reflectance", &ff.panel_reflectance)?;
            let frames = [&ff.dark, &ff.white];
            drop_nonfinite_bands(info, cfg, kept, &frames, &[&ff.panel_reflectance])?;
            let samples = info.shape.samples;
            let mut factor = Array2::zeros((samples, kept.len()));
            let mut offset = Array2::zeros((samples, kept.len()));
            for (k, &b) in kept.iter().enumerate() {
                let panel = ff.panel_reflectance[b];
                if panel <= 0.0 {
                    return Err(calib_err(format!(
                        "band {b} ({} nm): panel reflectance {panel} must be positive",
                        nm(b)
                    )));
                }
                let (a, c) = empirical(cfg, nm(b));
                for s in 0..samples {
                    let (dark, white) = (ff.dark[[s, b]], ff.white[[s, b]]);
                    let denom = f64::from(white) - f64::from(dark);
                    if denom.is_nan() || denom <= f64::from(cfg.min_denominator) {
                        return Err(calib_err(format!(
                            "flat-field denominator white − dark = {white} − {dark} = {denom} \
                             is not above min_denominator = {} at band {b} ({} nm), sample {s}",
                            cfg.min_denominator,
                            nm(b)
                        )));
                    }
                    let f = a * f64::from(panel) / denom;
                    factor[[s, k]] = f as f32;
                    offset[[s, k]] = (c - f64::from(dark) * f) as f32;
                }
            }
            finish(
                info,
                RadiometricMode::FlatField,
                DataKind::Reflectance,
                factor,
                offset,
                kept,
            )
        }
        (DataKind::RawDn, Some(Radiometry::Gain(g))) => {
            check_frame(info, "dark", g.dark.dim())?;
            check_frame(info, "gain", g.gain.dim())?;
            check_vector(info, "offset", &g.offset)?;
            drop_nonfinite_bands(info, cfg, kept, &[&g.dark, &g.gain], &[&g.offset])?;
            let samples = info.shape.samples;
            let mut factor = Array2::zeros((samples, kept.len()));
            let mut offset = Array2::zeros((samples, kept.len()));
            for (k, &b) in kept.iter().enumerate() {
                let (a, c) = empirical(cfg, nm(b));
                let off = f64::from(g.offset[b]);
                for s in 0..samples {
                    let (dark, gain) = (f64::from(g.dark[[s, b]]), f64::from(g.gain[[s, b]]));
                    factor[[s, k]] = (a * gain) as f32;
                    offset[[s, k]] = (a * (off - gain * dark) + c) as f32;
                }
            }
            finish(
                info,
                RadiometricMode::Gain,
                DataKind::Radiance,
                factor,
                offset,
                kept,
            )
        }
        (DataKind::RawDn, None) if !cfg.allow_uncalibrated_dn => Err(calib_err(
            "raw DN without dark/white or gain frames: cannot calibrate (set \
             allow_uncalibrated_dn = true to pass DN through)"
                .into(),
        )),
        (kind, _) => {
            let mut factor = Array2::zeros((1, kept.len()));
            let mut offset = Array2::zeros((1, kept.len()));
            for (k, &b) in kept.iter().enumerate() {
                let (a, c) = empirical(cfg, nm(b));
                factor[[0, k]] = a as f32;
                offset[[0, k]] = c as f32;
            }
            finish(
                info,
                RadiometricMode::PassThrough,
                kind,
                factor,
                offset,
                kept,
            )
        }
    }
}

fn empirical(cfg: &CalibrationConfig, nm: f32) -> (f64, f64) {
    cfg.empirical_line.as_ref().map_or((1.0, 0.0), |el| {
        let (a, c) = el.coefficients_at(nm);
        (f64::from(a), f64::from(c))
    })
}

fn finish(
    info: &CubeInfo,
    mode: RadiometricMode,
    output: DataKind,
    factor: Array2<f32>,
    offset: Array2<f32>,
    kept: &[usize],
) -> Result<Radiometric> {
    let bad = factor
        .indexed_iter()
        .zip(offset.iter())
        .find(|((_, f), o)| !f.is_finite() || !o.is_finite());
    if let Some((((row, k), f), o)) = bad {
        let band = kept.get(k).copied().unwrap_or(k);
        return Err(Error::Calibration {
            cube_id: info.header.cube_id.clone(),
            reason: format!(
                "calibration factor {f} / offset {o} is not finite at band {band} ({} nm), \
                 sample {row}",
                info.bands
                    .wavelength_nm
                    .get(band)
                    .copied()
                    .unwrap_or(f32::NAN)
            ),
        });
    }
    let finite_for_u16 = finite_for_u16(factor.view(), offset.view());
    Ok(Radiometric {
        mode,
        output,
        factor,
        offset,
        finite_for_u16,
    })
}

/// See [`Radiometric::finite_for_u16`].
fn finite_for_u16(factor: ArrayView2<'_, f32>, offset: ArrayView2<'_, f32>) -> bool {
    let max_abs = |a: ArrayView2<'_, f32>| {
        a.iter()
            .try_fold(0.0f32, |m, v| v.is_finite().then(|| m.max(v.abs())))
    };
    match (max_abs(factor), max_abs(offset)) {
        (Some(f), Some(g)) => f64::from(f) * 65_535.0 + f64::from(g) < f64::from(f32::MAX) / 4.0,
        _ => false,
    }
}

fn check_frame(info: &CubeInfo, key: &str, dim: (usize, usize)) -> Result<()> {
    let expected = (info.shape.samples, info.shape.bands);
    if dim != expected {
        return Err(Error::ShapeMismatch {
            path: info.path.clone(),
            key: format!("/{key}"),
            expected: format!("[{}, {}] (samples, bands)", expected.0, expected.1),
            found: format!("[{}, {}]", dim.0, dim.1),
        });
    }
    Ok(())
}

fn check_vector(info: &CubeInfo, key: &str, v: &Array1<f32>) -> Result<()> {
    if v.len() != info.shape.bands {
        return Err(Error::ShapeMismatch {
            path: info.path.clone(),
            key: format!("/{key}"),
            expected: format!("[{}] (bands)", info.shape.bands),
            found: format!("[{}]", v.len()),
        });
    }
    Ok(())
}

/// Remove (or reject) kept bands whose frames hold a non-finite value.
fn drop_nonfinite_bands(
    info: &CubeInfo,
    cfg: &CalibrationConfig,
    kept: &mut Vec<usize>,
    frames: &[&Array2<f32>],
    vectors: &[&Array1<f32>],
) -> Result<()> {
    let mut first_error = None;
    kept.retain(|&b| {
        let per_sample = frames.iter().find_map(|f| {
            f.column(b)
                .iter()
                .position(|v| !v.is_finite())
                .map(|s| (Some(s), f[[s, b]]))
        });
        let per_band = || {
            vectors
                .iter()
                .find_map(|v| v.get(b).filter(|x| !x.is_finite()).map(|&x| (None, x)))
        };
        match per_sample.or_else(per_band) {
            None => true,
            Some(_) if cfg.bad_bands.drop_nonfinite => false,
            Some((sample, value)) => {
                first_error.get_or_insert((b, sample, value));
                true
            }
        }
    });
    match first_error {
        None => Ok(()),
        Some((b, sample, value)) => Err(Error::Calibration {
            cube_id: info.header.cube_id.clone(),
            reason: format!(
                "non-finite calibration frame value {value} at band {b} ({} nm){}; mark the \
                 band bad or set bad_bands.drop_nonfinite",
                info.bands.wavelength_nm.get(b).copied().unwrap_or(f32::NAN),
                sample.map(|s| format!(", sample {s}")).unwrap_or_default()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn u16_inputs_stay_finite_only_for_bounded_finite_factors() {
        let ok =
            |f: f32, g: f32| finite_for_u16(array![[1.0e-3, f]].view(), array![[0.0, g]].view());
        // A flat field: reflectance per DN ~1e-4, offsets ~-0.05.
        assert!(ok(2.5e-4, -0.05));
        // 65535 · 1e33 + 0 = 6.6e37 < f32::MAX / 4 ≈ 8.5e37.
        assert!(ok(1.0e33, 0.0));
        // 65535 · 1e34 = 6.6e38 overflows f32.
        assert!(!ok(1.0e34, 0.0));
        assert!(!ok(f32::NAN, 0.0));
        assert!(!ok(1.0, f32::INFINITY));
    }
}
