//! The USGS spectral library CSV and the band arithmetic built on it.
//!
//! # Format
//!
//! ```text
//! library,name,383.15,392.84,...,2508.20
//! s06av95a,Lawn_Grass GDS91 (Green) s06av95a=a,0.0213,0.0225,...
//! ```
//!
//! The header row holds the band centres in nm, **in file order**: they are not monotonic
//! (AVIRIS's spectrometers overlap, e.g. `687.00` is followed by `664.30`), and the library
//! keeps that order because it is also the synthetic sensor's band order. Fields are plain
//! (no quoting). Deleted channels hold `-1.23e34`; [`SpectralLibrary::load`] replaces every
//! value below [`DELETED_BELOW`] (and any non-finite value) by linear interpolation **over
//! wavelength** between the nearest valid channels below and above it, or by the nearest valid
//! value at the ends of the range.

use std::path::Path;

use crate::error::{Error, Result};

/// Values below this are deleted channels (the USGS libraries use `-1.23e34`).
pub const DELETED_BELOW: f32 = -1.0e30;

/// Spectra sharing one band list, deleted channels filled.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralLibrary {
    /// Band centres in nm, in file order (not sorted).
    pub wavelength_nm: Vec<f32>,
    /// `(name, reflectance per band)`, in file order.
    pub spectra: Vec<(String, Vec<f32>)>,
}

impl SpectralLibrary {
    /// Read and validate the CSV at `path`, filling deleted channels.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Parse CSV text; `path` is only used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let mut rows = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = rows
            .next()
            .ok_or_else(|| Error::invalid(path, "header", "the file is empty"))?;
        let fields: Vec<&str> = header.split(',').map(str::trim).collect();
        if fields.len() < 3 || fields[..2] != ["library", "name"] {
            return Err(Error::invalid(
                path,
                "header",
                "expected `library,name,` followed by band centres in nm",
            ));
        }
        let wavelength_nm = fields[2..]
            .iter()
            .enumerate()
            .map(|(i, f)| match f.parse::<f32>() {
                Ok(w) if w.is_finite() && w > 0.0 => Ok(w),
                _ => Err(Error::invalid(
                    path,
                    format!("header column {}", i + 3),
                    format!("`{f}` is not a band centre in nm"),
                )),
            })
            .collect::<Result<Vec<f32>>>()?;
        let mut spectra = vec![];
        for (line_no, row) in rows {
            let line = line_no + 1;
            if row.contains('"') {
                return Err(Error::invalid(
                    path,
                    format!("line {line}"),
                    "quoted fields are not supported",
                ));
            }
            let fields: Vec<&str> = row.split(',').map(str::trim).collect();
            if fields.len() != wavelength_nm.len() + 2 {
                return Err(Error::invalid(
                    path,
                    format!("line {line}"),
                    format!(
                        "{} fields, the header has {}",
                        fields.len(),
                        wavelength_nm.len() + 2
                    ),
                ));
            }
            let name = fields.get(1).copied().unwrap_or_default().to_owned();
            let values = fields[2..]
                .iter()
                .map(|f| {
                    f.parse::<f32>()
                        .map(|v| {
                            if v.is_finite() && v >= DELETED_BELOW {
                                v
                            } else {
                                f32::NAN
                            }
                        })
                        .map_err(|_| {
                            Error::invalid(
                                path,
                                format!("line {line}"),
                                format!("`{f}` is not a number"),
                            )
                        })
                })
                .collect::<Result<Vec<f32>>>()?;
            let values = fill_deleted(&wavelength_nm, &values).ok_or_else(|| {
                Error::invalid(
                    path,
                    format!("line {line}"),
                    format!("spectrum `{name}` has no valid channel"),
                )
            })?;
            spectra.push((name, values));
        }
        if spectra.is_empty() {
            return Err(Error::invalid(
                path,
                "rows",
                "the library holds no spectrum",
            ));
        }
        Ok(SpectralLibrary {
            wavelength_nm,
            spectra,
        })
    }

    /// The first spectrum whose name contains `name_contains`.
    pub fn get(&self, name_contains: &str) -> Result<&[f32]> {
        self.spectra
            .iter()
            .find(|(name, _)| name.contains(name_contains))
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| {
                Error::missing(
                    "spectral library",
                    name_contains,
                    "no spectrum with this name in the library",
                )
            })
    }

    /// Index of the band whose centre is nearest to `nm` (the first one on ties).
    pub fn nearest_band(&self, nm: f32) -> Option<usize> {
        nearest_band(&self.wavelength_nm, nm)
    }

    /// FWHM per band from the band spacing: the mean gap to the neighbours in file order that
    /// belong to the same spectrometer (a gap of 5–20 nm); 10 nm when there is none.
    pub fn fwhm_from_spacing(&self) -> Vec<f32> {
        let wl = &self.wavelength_nm;
        (0..wl.len())
            .map(|i| {
                let gaps: Vec<f32> = [i.checked_sub(1).map(|j| (j, i)), Some((i, i + 1))]
                    .into_iter()
                    .flatten()
                    .filter_map(|(a, b)| Some(wl.get(b)? - wl.get(a)?))
                    .filter(|g| (5.0..=20.0).contains(g))
                    .collect();
                if gaps.is_empty() {
                    10.0
                } else {
                    gaps.iter().sum::<f32>() / gaps.len() as f32
                }
            })
            .collect()
    }
}

/// Index of the band whose centre is nearest to `nm` (the first one on ties).
pub fn nearest_band(wavelength_nm: &[f32], nm: f32) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, w) in wavelength_nm.iter().enumerate() {
        let d = (w - nm).abs();
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
}

/// Normalised difference `(R(a) − R(b)) / (R(a) + R(b))` at the bands nearest `a_nm` and
/// `b_nm` (NDVI: 800, 680; NDWI: 860, 1240). `None` when a wavelength is outside the band
/// range by more than 25 nm or the sum is zero.
pub fn normalized_difference(
    wavelength_nm: &[f32],
    spectrum: &[f64],
    a_nm: f32,
    b_nm: f32,
) -> Option<f64> {
    let at = |nm: f32| {
        let i = nearest_band(wavelength_nm, nm)?;
        let w = wavelength_nm.get(i)?;
        if (w - nm).abs() > 25.0 {
            return None;
        }
        spectrum.get(i).copied()
    };
    let (ra, rb) = (at(a_nm)?, at(b_nm)?);
    let sum = ra + rb;
    (sum != 0.0).then(|| (ra - rb) / sum)
}

/// Replace NaN (deleted) values by linear interpolation over wavelength; `None` if no value is
/// valid.
fn fill_deleted(wavelength_nm: &[f32], values: &[f32]) -> Option<Vec<f32>> {
    let mut valid: Vec<(f32, f32)> = wavelength_nm
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_nan())
        .map(|(w, v)| (*w, *v))
        .collect();
    if valid.is_empty() {
        return None;
    }
    valid.sort_by(|a, b| a.0.total_cmp(&b.0));
    let filled = wavelength_nm
        .iter()
        .zip(values)
        .map(|(w, v)| {
            if !v.is_nan() {
                return *v;
            }
            // First valid channel at or above `w`.
            let hi = valid.partition_point(|(vw, _)| vw < w);
            match (hi.checked_sub(1).and_then(|i| valid.get(i)), valid.get(hi)) {
                (Some(&(w0, v0)), Some(&(w1, v1))) if w1 > w0 => {
                    v0 + (v1 - v0) * (w - w0) / (w1 - w0)
                }
                (_, Some(&(_, v1))) => v1,
                (Some(&(_, v0)), None) => v0,
                (None, None) => f32::NAN,
            }
        })
        .collect();
    Some(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "library,name,400,410,420,405\n\
                       lib,Green A,0.1,-1.23e34,0.3,0.2\n\
                       lib,Edge B,-1.23e34,0.5,0.7,-1.23e34\n";

    #[test]
    fn deleted_channels_are_interpolated_over_wavelength() {
        let lib = SpectralLibrary::parse(Path::new("t.csv"), CSV).unwrap();
        assert_eq!(lib.wavelength_nm, vec![400.0, 410.0, 420.0, 405.0]);
        // 410 nm lies between 405 nm (0.2) and 420 nm (0.3): 0.2 + 0.1·5/15.
        let a = lib.get("Green").unwrap();
        assert!((a[1] - (0.2 + 0.1 / 3.0)).abs() < 1e-6, "{a:?}");
        // 400 and 405 nm are below every valid channel: nearest value (410 nm → 0.5).
        assert_eq!(lib.get("Edge").unwrap(), &[0.5, 0.5, 0.7, 0.5]);
        assert!(lib.get("Asphalt").is_err());
    }

    #[test]
    fn malformed_libraries_are_refused() {
        let p = Path::new("t.csv");
        assert!(SpectralLibrary::parse(p, "").is_err());
        assert!(SpectralLibrary::parse(p, "a,b,400\nx,y,0.1\n").is_err());
        assert!(SpectralLibrary::parse(p, "library,name,400,x\n").is_err());
        assert!(SpectralLibrary::parse(p, "library,name,400,410\nl,n,0.1\n").is_err());
        assert!(SpectralLibrary::parse(p, "library,name,400\nl,n,-1.23e34\n").is_err());
        assert!(SpectralLibrary::parse(p, "library,name,400\n").is_err());
    }

    #[test]
    fn nearest_band_and_normalised_difference() {
        let wl = [677.17, 687.0, 664.3, 683.44, 798.46];
        assert_eq!(nearest_band(&wl, 680.0), Some(0));
        assert_eq!(nearest_band(&wl, 666.0), Some(2));
        let r = [0.05, 0.0, 0.0, 0.0, 0.45];
        let ndvi = normalized_difference(&wl, &r, 800.0, 680.0).unwrap();
        assert!((ndvi - 0.8).abs() < 1e-12);
        assert_eq!(normalized_difference(&wl, &r, 1240.0, 680.0), None);
    }

    #[test]
    fn fwhm_follows_the_spacing_within_each_spectrometer() {
        let lib = SpectralLibrary {
            wavelength_nm: vec![
                667.33, 677.17, 687.0, 664.3, 673.87, 1879.55, 1879.9, 1889.95,
            ],
            spectra: vec![],
        };
        let f = lib.fwhm_from_spacing();
        assert!((f[2] - 9.83).abs() < 1e-3, "{f:?}"); // 687.00: only the gap before the jump
        assert!((f[3] - 9.57).abs() < 1e-3, "{f:?}"); // 664.30: only the gap after it
        assert!((f[5] - 10.0).abs() < 1e-6, "{f:?}"); // 1879.55: 0.35 nm is another spectrometer
        assert!((f[6] - 10.05).abs() < 1e-3, "{f:?}");
    }
}
