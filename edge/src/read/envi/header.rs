//! The typed ENVI header ([`EnviHeader`]) built from the `key = value` entries.
//!
//! Required keys: `samples`, `lines`, `bands`, `data type`, `interleave` (absent →
//! [`Error::Missing`]). Optional keys and their defaults: `header offset` (0), `byte order`
//! (0 = little-endian, ENVI's default; PlantCV writes headers without it), `wavelength`, `fwhm`,
//! `bbl`, `data ignore value`, `map info`, `wavelength units`, `description`,
//! `reflectance scale factor`. Every other key is kept verbatim in [`EnviHeader::extra`] (the
//! identity keys `acquisition time`, `sensor type` and the `hsi …` keys are read from there by
//! [`super::identity`]).
//!
//! Invariants of a parsed header:
//! - the dimensions passed [`Shape::checked`], so nothing absurd is ever allocated;
//! - `wavelength`, `fwhm` and `bbl`, when present, have exactly `bands` entries, in file order
//!   (never sorted: classic AVIRIS centres are not monotonic where the spectrometers overlap);
//! - wavelengths and FWHMs are in nanometres (micrometres are converted).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cube::{Interleave, Shape};
use crate::error::{Error, Result};

use super::dtype::{ByteOrder, DataType};
use super::mapinfo::MapInfo;
use super::syntax;

/// Largest `.hdr` accepted; real headers are a few tens of KiB.
pub const MAX_HEADER_BYTES: u64 = 16 * 1024 * 1024;

/// A parsed ENVI `.hdr`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnviHeader {
    /// The header file (named in every error).
    pub path: PathBuf,
    /// `lines`, `samples` and `bands`, checked for absurd values.
    pub shape: Shape,
    /// Bytes to skip at the start of the binary (`header offset`).
    pub header_offset: u64,
    /// Sample type (`data type`).
    pub data_type: DataType,
    /// Storage order (`interleave`).
    pub interleave: Interleave,
    /// Byte order (`byte order`; little-endian when absent).
    pub byte_order: ByteOrder,
    /// `wavelength units` as written (`Nanometers`, `nm`, `Micrometers`...), if given.
    pub wavelength_units: Option<String>,
    /// Band centres in nm, file order.
    pub wavelength_nm: Option<Vec<f64>>,
    /// Band widths (FWHM) in nm, file order.
    pub fwhm_nm: Option<Vec<f64>>,
    /// Bad-band list, `true` = good (`bbl` value 1).
    pub bbl: Option<Vec<bool>>,
    /// Fill value (`data ignore value`).
    pub data_ignore_value: Option<f64>,
    /// Georeferencing (`map info`).
    pub map_info: Option<MapInfo>,
    /// Free text (`description`).
    pub description: Option<String>,
    /// `reflectance scale factor`: the stored values are reflectance × this (e.g. 10000 for
    /// the int16 products of most archives); the reader divides by it.
    pub reflectance_scale_factor: Option<f64>,
    /// Every other key (lower-case, single-spaced) with its raw value (braces stripped).
    pub extra: BTreeMap<String, String>,
}

impl EnviHeader {
    /// Read and parse a `.hdr` file.
    pub fn read(path: &Path) -> Result<EnviHeader> {
        let len = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        if len > MAX_HEADER_BYTES {
            return Err(Error::invalid(
                path,
                syntax::SIGNATURE_KEY,
                format!("{len} bytes is too large for an ENVI header (limit {MAX_HEADER_BYTES})"),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &String::from_utf8_lossy(&bytes))
    }

    /// Parse header text; `path` is only used to name the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<EnviHeader> {
        let mut e = syntax::entries(path, text)?;
        let mut take = |key: &str| e.remove(key);

        let samples = integer(path, "samples", take("samples"))?;
        let lines = integer(path, "lines", take("lines"))?;
        let bands = integer(path, "bands", take("bands"))?;
        let data_type = required(path, "data type", take("data type"))?;
        let interleave = required(path, "interleave", take("interleave"))?;
        let shape = Shape::checked(path, lines, samples, bands)?;

        let data_type = match data_type.parse::<u32>().ok().and_then(DataType::from_code) {
            Some(t) => t,
            None => {
                return Err(Error::invalid(
                    path,
                    "data type",
                    format!(
                        "`{data_type}` is not supported (supported: 1 uint8, 2 int16, 3 int32, \
                         4 float32, 5 float64, 12 uint16)"
                    ),
                ));
            }
        };
        let interleave = match interleave.to_ascii_lowercase().as_str() {
            "bsq" => Interleave::Bsq,
            "bil" => Interleave::Bil,
            "bip" => Interleave::Bip,
            _ => {
                return Err(Error::invalid(
                    path,
                    "interleave",
                    format!("`{interleave}` is not one of bsq, bil, bip"),
                ));
            }
        };
        let header_offset = match take("header offset") {
            Some(v) => parse_u64(path, "header offset", &v)?,
            None => 0,
        };
        let byte_order = match take("byte order") {
            None => ByteOrder::Little,
            Some(v) => match v.parse::<u32>().ok().and_then(ByteOrder::from_code) {
                Some(o) => o,
                None => {
                    return Err(Error::invalid(
                        path,
                        "byte order",
                        format!("`{v}` is neither 0 (little-endian) nor 1 (big-endian)"),
                    ));
                }
            },
        };

        let wavelength_units = take("wavelength units");
        let wavelength = take("wavelength")
            .map(|v| finite_list(path, "wavelength", &v, shape.bands))
            .transpose()?;
        let fwhm = take("fwhm")
            .map(|v| finite_list(path, "fwhm", &v, shape.bands))
            .transpose()?;
        let scale = match &wavelength {
            Some(w) => nm_per_unit(path, wavelength_units.as_deref(), w)?,
            None => 1.0,
        };
        let to_nm = |v: Vec<f64>| v.into_iter().map(|x| x * scale).collect::<Vec<_>>();

        let bbl = take("bbl")
            .map(|v| bad_band_list(path, &v, shape.bands))
            .transpose()?;
        let data_ignore_value = take("data ignore value")
            .map(|v| parse_f64(path, "data ignore value", &v))
            .transpose()?;
        let map_info = take("map info")
            .map(|v| MapInfo::parse(path, &v))
            .transpose()?;
        let description = take("description");
        let reflectance_scale_factor = take("reflectance scale factor")
            .map(|v| parse_f64(path, "reflectance scale factor", &v))
            .transpose()?;
        if let Some(f) = reflectance_scale_factor
            && !(f.is_finite() && f > 0.0)
        {
            return Err(Error::invalid(
                path,
                "reflectance scale factor",
                format!("{f} is not a positive number"),
            ));
        }

        Ok(EnviHeader {
            path: path.to_path_buf(),
            shape,
            header_offset,
            data_type,
            interleave,
            byte_order,
            wavelength_units,
            wavelength_nm: wavelength.map(to_nm),
            fwhm_nm: fwhm.map(to_nm),
            bbl,
            data_ignore_value,
            map_info,
            description,
            reflectance_scale_factor,
            extra: e,
        })
    }

    /// Bytes of pixel data: `lines·samples·bands·bytes_per_sample` (cannot overflow: the shape
    /// is checked).
    pub fn data_bytes(&self) -> u64 {
        self.shape.elements() * self.data_type.size() as u64
    }

    /// The binary's expected size: `header offset` + [`data_bytes`](Self::data_bytes).
    pub fn expected_file_size(&self) -> Result<u64> {
        self.header_offset
            .checked_add(self.data_bytes())
            .ok_or_else(|| {
                Error::invalid(
                    &self.path,
                    "header offset",
                    format!("{} plus the pixel data overflows", self.header_offset),
                )
            })
    }

    /// `bsq`, `bil` or `bip`.
    pub fn interleave_name(&self) -> &'static str {
        match self.interleave {
            Interleave::Bsq => "bsq",
            Interleave::Bil => "bil",
            Interleave::Bip => "bip",
        }
    }
}

fn required(path: &Path, key: &str, value: Option<String>) -> Result<String> {
    value.ok_or_else(|| {
        Error::missing(
            path,
            key,
            "required by ENVI to locate the pixels in the binary",
        )
    })
}

fn integer(path: &Path, key: &str, value: Option<String>) -> Result<u64> {
    parse_u64(path, key, &required(path, key, value)?)
}

fn parse_u64(path: &Path, key: &str, text: &str) -> Result<u64> {
    text.trim().parse::<u64>().map_err(|_| {
        Error::invalid(
            path,
            key,
            format!("`{}` is not a non-negative integer", text.trim()),
        )
    })
}

fn parse_f64(path: &Path, key: &str, text: &str) -> Result<f64> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| Error::invalid(path, key, format!("`{}` is not a number", text.trim())))
}

/// A comma-separated list of numbers (one trailing comma tolerated) with exactly `bands` items.
fn list(path: &Path, key: &str, text: &str, bands: usize) -> Result<Vec<f64>> {
    let mut items: Vec<&str> = text.split(',').map(str::trim).collect();
    if items.last().is_some_and(|s| s.is_empty()) {
        items.pop();
    }
    if items.len() != bands {
        return Err(Error::ShapeMismatch {
            path: path.to_path_buf(),
            key: key.to_owned(),
            expected: format!("{bands} values (one per band)"),
            found: format!("{} values", items.len()),
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<f64>().map_err(|_| {
                Error::invalid(path, key, format!("item {} `{s}` is not a number", i + 1))
            })
        })
        .collect()
}

fn finite_list(path: &Path, key: &str, text: &str, bands: usize) -> Result<Vec<f64>> {
    let values = list(path, key, text, bands)?;
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::invalid(
            path,
            key,
            format!("item {} is not finite ({})", i + 1, values[i]),
        )),
        None => Ok(values),
    }
}

fn bad_band_list(path: &Path, text: &str, bands: usize) -> Result<Vec<bool>> {
    list(path, "bbl", text, bands)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            1.0 => Ok(true),
            0.0 => Ok(false),
            _ => Err(Error::invalid(
                path,
                "bbl",
                format!(
                    "item {} is {v}; a bad-band list holds 0 (bad) or 1 (good)",
                    i + 1
                ),
            )),
        })
        .collect()
}

/// Nanometres per unit of the `wavelength` values.
///
/// `Unknown` or absent units (ENVI's default) are taken as nanometres unless every centre is
/// below 100, which no imaging spectrometer measures in nm: then they are micrometres.
fn nm_per_unit(path: &Path, units: Option<&str>, wavelength: &[f64]) -> Result<f64> {
    let norm = units.map(|u| u.trim().to_lowercase());
    match norm.as_deref() {
        Some("nanometers" | "nanometer" | "nanometres" | "nanometre" | "nm") => Ok(1.0),
        Some(
            "micrometers" | "micrometer" | "micrometres" | "micrometre" | "microns" | "micron"
            | "um" | "µm" | "μm",
        ) => Ok(1000.0),
        None | Some("" | "unknown") => Ok(if wavelength.iter().all(|&w| w < 100.0) {
            1000.0
        } else {
            1.0
        }),
        Some(other) => Err(Error::invalid(
            path,
            "wavelength units",
            format!(
                "`{other}` cannot be converted to nanometres (expected nanometers or micrometers)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        "ENVI\nsamples = 3\nlines = 2\nbands = 2\ndata type = 12\ninterleave = bil\n";

    #[test]
    fn defaults_for_optional_keys() {
        let h = EnviHeader::parse(Path::new("m.hdr"), MINIMAL).unwrap();
        assert_eq!(
            h.shape,
            Shape {
                lines: 2,
                samples: 3,
                bands: 2
            }
        );
        assert_eq!(h.header_offset, 0);
        assert_eq!(h.byte_order, ByteOrder::Little);
        assert_eq!(h.data_type, DataType::U16);
        assert_eq!(h.interleave, Interleave::Bil);
        assert_eq!(h.data_bytes(), 24);
        assert!(h.wavelength_nm.is_none() && h.map_info.is_none() && h.extra.is_empty());
    }

    #[test]
    fn micrometres_become_nanometres_and_unknown_keys_are_kept() {
        let text = format!(
            "{MINIMAL}Wavelength Units = Micrometers\nwavelength = {{0.4005, 2.5}}\n\
             fwhm = {{0.01, 0.0125,}}\nsensor type = Unknown\nbbl = {{1, 0}}\n\
             data ignore value = -9999\n"
        );
        let h = EnviHeader::parse(Path::new("m.hdr"), &text).unwrap();
        assert_eq!(h.wavelength_nm, Some(vec![400.5, 2500.0]));
        assert_eq!(h.fwhm_nm, Some(vec![10.0, 12.5]));
        assert_eq!(h.bbl, Some(vec![true, false]));
        assert_eq!(h.data_ignore_value, Some(-9999.0));
        assert_eq!(
            h.extra.get("sensor type").map(String::as_str),
            Some("Unknown")
        );

        let unitless = format!("{MINIMAL}wavelength = {{0.45, 0.55}}\n");
        let h = EnviHeader::parse(Path::new("m.hdr"), &unitless).unwrap();
        assert_eq!(h.wavelength_nm, Some(vec![450.0, 550.0]));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (extra, key) in [
            ("byte order = 2", "byte order"),
            ("interleave = bsx", "interleave"),
            ("header offset = -1", "header offset"),
            ("bbl = {1, 0.5}", "bbl"),
            ("wavelength = {400, inf}", "wavelength"),
            (
                "wavelength units = Index\nwavelength = {1, 2}",
                "wavelength units",
            ),
            ("data ignore value = none", "data ignore value"),
        ] {
            let err =
                EnviHeader::parse(Path::new("m.hdr"), &format!("{MINIMAL}{extra}\n")).unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { key: k, .. } if k == key),
                "{extra}: {err}"
            );
        }
    }
}
