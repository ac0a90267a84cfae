//! Root attributes of the DESIGN §4 layout, parsed into a typed [`CubeHeader`].
//!
//! | attribute | type | required |
//! |---|---|---|
//! | `cube_id`, `sensor_id`, `farm_id`, `field_id`, `region` | string | yes |
//! | `acquisition_time` | string, RFC 3339 (any offset; converted to UTC) | yes |
//! | `crs` | integer EPSG code, or a string `"EPSG:32614"` / `"32614"` | no |
//! | `geotransform` | 6 numbers, GDAL order | no |
//! | `calibration_id` | string | no |
//!
//! Strings may be fixed-length (ASCII or UTF-8, NUL- or space-padded, as C tools and numpy
//! `S` arrays write them) or variable-length (ASCII or UTF-8, as h5py writes `str` by default).
//! A string attribute is a scalar or a one-element array. Bytes that are not UTF-8 are refused
//! with [`Error::Invalid`] rather than passed on.

use std::path::Path;

use chrono::{DateTime, Utc};
use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};

use super::datasets::{h5_error, is_numeric, shape_str};
use crate::cube::CubeHeader;
use crate::error::{Error, Result};

/// Longest fixed-length string attribute accepted, in bytes.
pub const MAX_STRING_BYTES: usize = 1024;

/// The attributes of one HDF5 object (the root group or a dataset), read with context.
pub(crate) struct Attrs<'a> {
    path: &'a Path,
    /// Prefix for error keys: `""` for the root (`@cube_id`), `"/cube"` for a dataset.
    owner: String,
    location: &'a hdf5::Location,
    names: Vec<String>,
}

impl<'a> Attrs<'a> {
    /// List the attributes of `location`.
    pub(crate) fn new(path: &'a Path, owner: &str, location: &'a hdf5::Location) -> Result<Self> {
        let names = location
            .attr_names()
            .map_err(|e| h5_error(path, if owner.is_empty() { "/" } else { owner }, e))?;
        Ok(Attrs {
            path,
            owner: owner.to_owned(),
            location,
            names,
        })
    }

    /// The key used in error messages: `@name` or `/cube@name`.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}@{name}", self.owner)
    }

    fn open(&self, name: &str) -> Result<Option<hdf5::Attribute>> {
        if !self.names.iter().any(|n| n == name) {
            return Ok(None);
        }
        self.location
            .attr(name)
            .map(Some)
            .map_err(|e| h5_error(self.path, &self.key(name), e))
    }

    /// Element type and element count of an attribute.
    fn describe(&self, name: &str, attr: &hdf5::Attribute) -> Result<(TypeDescriptor, usize)> {
        let desc = attr
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| h5_error(self.path, &self.key(name), e))?;
        Ok((desc, attr.size()))
    }

    /// A required string attribute.
    pub(crate) fn string(&self, name: &str) -> Result<String> {
        self.opt_string(name)?.ok_or_else(|| {
            Error::missing(
                self.path,
                self.key(name),
                "required root attribute of the cube layout (DESIGN §4)",
            )
        })
    }

    /// An optional string attribute.
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>> {
        let Some(attr) = self.open(name)? else {
            return Ok(None);
        };
        let (desc, count) = self.describe(name, &attr)?;
        self.read_string(name, &attr, &desc, count).map(Some)
    }

    fn read_string(
        &self,
        name: &str,
        attr: &hdf5::Attribute,
        desc: &TypeDescriptor,
        count: usize,
    ) -> Result<String> {
        let key = self.key(name);
        if count != 1 {
            return Err(Error::invalid(
                self.path,
                &key,
                format!(
                    "expected one string, found shape {}",
                    shape_str(&attr.shape())
                ),
            ));
        }
        let h5 = |e: hdf5::Error| h5_error(self.path, &key, e);
        let bytes: Vec<u8> = match desc {
            TypeDescriptor::VarLenUnicode => {
                first_bytes(attr.read_raw::<VarLenUnicode>().map_err(h5)?, |s| {
                    s.as_bytes()
                })
            }
            TypeDescriptor::VarLenAscii => {
                first_bytes(attr.read_raw::<VarLenAscii>().map_err(h5)?, |s| {
                    s.as_bytes()
                })
            }
            TypeDescriptor::FixedAscii(n) | TypeDescriptor::FixedUnicode(n)
                if *n > MAX_STRING_BYTES =>
            {
                return Err(Error::invalid(
                    self.path,
                    &key,
                    format!("fixed-length string of {n} bytes is longer than {MAX_STRING_BYTES}"),
                ));
            }
            TypeDescriptor::FixedAscii(_) => first_bytes(
                attr.read_raw::<FixedAscii<MAX_STRING_BYTES>>()
                    .map_err(h5)?,
                |s| s.as_bytes(),
            ),
            TypeDescriptor::FixedUnicode(_) => first_bytes(
                attr.read_raw::<FixedUnicode<MAX_STRING_BYTES>>()
                    .map_err(h5)?,
                |s| s.as_bytes(),
            ),
            other => {
                return Err(Error::invalid(
                    self.path,
                    &key,
                    format!("expected a string attribute, found element type {other}"),
                ));
            }
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::invalid(self.path, &key, format!("string is not valid UTF-8: {e}"))
        })?;
        Ok(text.trim_end_matches(['\0', ' ']).to_owned())
    }

    /// An optional numeric attribute holding `1` or `expected_len` values, read as `f64`.
    ///
    /// Returns the values as stored (length 1 or `expected_len`); any other count is an
    /// [`Error::ShapeMismatch`], checked before reading.
    pub(crate) fn opt_numbers(&self, name: &str, expected_len: usize) -> Result<Option<Vec<f64>>> {
        let Some(attr) = self.open(name)? else {
            return Ok(None);
        };
        let key = self.key(name);
        let (desc, count) = self.describe(name, &attr)?;
        if !is_numeric(&desc) {
            return Err(Error::invalid(
                self.path,
                &key,
                format!("expected a number, found element type {desc}"),
            ));
        }
        if count != 1 && count != expected_len {
            return Err(Error::ShapeMismatch {
                path: self.path.to_path_buf(),
                key,
                expected: if expected_len == 1 {
                    "[1]".to_owned()
                } else {
                    format!("a scalar or [{expected_len}]")
                },
                found: shape_str(&attr.shape()),
            });
        }
        let values = attr
            .read_raw::<f64>()
            .map_err(|e| h5_error(self.path, &key, e))?;
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::invalid(
                self.path,
                &key,
                format!("element {i} is {v}: values must be finite"),
            ));
        }
        Ok(Some(values))
    }

    /// The optional `crs` attribute: an integer EPSG code or a string such as `EPSG:32614`.
    pub(crate) fn crs(&self) -> Result<Option<u32>> {
        let name = "crs";
        let Some(attr) = self.open(name)? else {
            return Ok(None);
        };
        let key = self.key(name);
        let (desc, count) = self.describe(name, &attr)?;
        let code: i64 = match desc {
            TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
                if count != 1 {
                    return Err(Error::invalid(
                        self.path,
                        &key,
                        format!(
                            "expected one EPSG code, found shape {}",
                            shape_str(&attr.shape())
                        ),
                    ));
                }
                let values = attr
                    .read_raw::<i64>()
                    .map_err(|e| h5_error(self.path, &key, e))?;
                values.first().copied().unwrap_or_default()
            }
            _ => {
                let text = self.read_string(name, &attr, &desc, count)?;
                parse_epsg(&text).ok_or_else(|| {
                    Error::invalid(
                        self.path,
                        &key,
                        format!(
                            "`{text}` is not an EPSG code (expected e.g. 32614 or \"EPSG:32614\")"
                        ),
                    )
                })?
            }
        };
        u32::try_from(code)
            .ok()
            .filter(|c| *c > 0)
            .map(Some)
            .ok_or_else(|| {
                Error::invalid(self.path, &key, format!("{code} is not a valid EPSG code"))
            })
    }
}

fn first_bytes<T>(values: Vec<T>, bytes: impl Fn(&T) -> &[u8]) -> Vec<u8> {
    values
        .first()
        .map(|v| bytes(v).to_vec())
        .unwrap_or_default()
}

/// `"EPSG:32614"`, `"epsg:32614"`, `"urn:ogc:def:crs:EPSG::32614"` or `"32614"` → 32614.
pub(crate) fn parse_epsg(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = if t.bytes().all(|b| b.is_ascii_digit()) {
        t
    } else if t.to_ascii_uppercase().contains("EPSG:") {
        t.rsplit(':').next()?
    } else {
        return None;
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Parse the root attributes into a [`CubeHeader`].
pub(crate) fn read_header(path: &Path, file: &hdf5::File) -> Result<CubeHeader> {
    let attrs = Attrs::new(path, "", file)?;
    let cube_id = attrs.string("cube_id")?;
    let sensor_id = attrs.string("sensor_id")?;
    let farm_id = attrs.string("farm_id")?;
    let field_id = attrs.string("field_id")?;
    let region = attrs.string("region")?;
    let time_text = attrs.string("acquisition_time")?;
    let acquisition_time = DateTime::parse_from_rfc3339(&time_text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Error::invalid(
                path,
                attrs.key("acquisition_time"),
                format!("`{time_text}` is not an RFC 3339 time (e.g. 2024-06-15T17:00:00Z): {e}"),
            )
        })?;
    let geotransform = match attrs.opt_numbers("geotransform", 6)? {
        None => None,
        Some(v) => Some(
            <[f64; 6]>::try_from(v.as_slice()).map_err(|_| Error::ShapeMismatch {
                path: path.to_path_buf(),
                key: attrs.key("geotransform"),
                expected: "[6]".to_owned(),
                found: format!("[{}]", v.len()),
            })?,
        ),
    };
    Ok(CubeHeader {
        cube_id,
        sensor_id,
        farm_id,
        field_id,
        region,
        acquisition_time,
        crs: attrs.crs()?,
        geotransform,
        calibration_id: attrs.opt_string("calibration_id")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsg_codes_parse_in_every_common_spelling() {
        assert_eq!(parse_epsg("EPSG:32614"), Some(32614));
        assert_eq!(parse_epsg("epsg:4326"), Some(4326));
        assert_eq!(parse_epsg("urn:ogc:def:crs:EPSG::32614"), Some(32614));
        assert_eq!(parse_epsg(" 32614 "), Some(32614));
        assert_eq!(parse_epsg("UTM 14N"), None);
        assert_eq!(parse_epsg("EPSG:"), None);
        assert_eq!(parse_epsg("EPSG:12a"), None);
    }
}
