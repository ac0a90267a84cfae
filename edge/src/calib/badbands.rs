//! Bad-band removal (DESIGN §5 step 3): which input bands enter the resampling.
//!
//! A band is **kept** when all of these hold:
//! - its centre is not inside any configured closed range `[lo, hi]` (water absorption by
//!   default: 1340–1460 nm and 1790–1960 nm);
//! - its centre is not above `drop_above_nm` (2450 nm by default);
//! - the file's bad-band list (ENVI `bbl`) does not mark it bad, when `honour_bbl` is set;
//! - its centre is a finite number. A NaN centre cannot be placed on the grid: it is an
//!   [`Error::Calibration`] naming the band, or the band is dropped when `drop_nonfinite` is set.
//!
//! Kept indices are returned in **file order**: the bands need not be sorted by wavelength
//! (AVIRIS's spectrometers overlap), and nothing downstream requires them to be.

use crate::cube::CubeInfo;
use crate::error::{Error, Result};

use super::config::BadBands;

/// Check that the per-band metadata matches the cube's band count.
pub(crate) fn check_band_metadata(info: &CubeInfo) -> Result<()> {
    let bands = info.shape.bands;
    let mismatch = |key: &str, found: usize| Error::ShapeMismatch {
        path: info.path.clone(),
        key: key.to_owned(),
        expected: format!("{bands} bands"),
        found: format!("{found} values"),
    };
    let b = &info.bands;
    if b.wavelength_nm.len() != bands {
        return Err(mismatch("wavelength_nm", b.wavelength_nm.len()));
    }
    if let Some(f) = &b.fwhm_nm
        && f.len() != bands
    {
        return Err(mismatch("fwhm_nm", f.len()));
    }
    if let Some(g) = &b.good
        && g.len() != bands
    {
        return Err(mismatch("bbl", g.len()));
    }
    Ok(())
}

/// Indices (file order) of the bands that survive the rules in the [module docs](self).
pub fn kept_bands(info: &CubeInfo, cfg: &BadBands) -> Result<Vec<usize>> {
    check_band_metadata(info)?;
    let good = info.bands.good.as_deref().filter(|_| cfg.honour_bbl);
    let mut kept = Vec::with_capacity(info.bands.wavelength_nm.len());
    for (i, &nm) in info.bands.wavelength_nm.iter().enumerate() {
        if good.and_then(|g| g.get(i)) == Some(&false) {
            continue;
        }
        if !nm.is_finite() {
            if cfg.drop_nonfinite {
                continue;
            }
            return Err(Error::Calibration {
                cube_id: info.header.cube_id.clone(),
                reason: format!(
                    "band {i} has a non-finite centre wavelength ({nm}); mark it bad (bbl) or \
                     set bad_bands.drop_nonfinite"
                ),
            });
        }
        if cfg.drop_above_nm.is_some_and(|max| nm > max) {
            continue;
        }
        if cfg.ranges_nm.iter().any(|&[lo, hi]| nm >= lo && nm <= hi) {
            continue;
        }
        kept.push(i);
    }
    Ok(kept)
}

/// Whether a wavelength lies in a dropped region of the configuration (a range or above
/// `drop_above_nm`). Used to leave such centres out of the output grid too.
pub(crate) fn in_dropped_region(cfg: &BadBands, nm: f32) -> bool {
    cfg.drop_above_nm.is_some_and(|max| nm > max)
        || cfg.ranges_nm.iter().any(|&[lo, hi]| nm >= lo && nm <= hi)
}
