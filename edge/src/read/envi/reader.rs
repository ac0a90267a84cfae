//! [`EnviReader`]: block-wise reads of an ENVI binary into BIP [`LineBlock`]s.
//!
//! A block of lines `first..first+count` is, in the binary (after `header offset`, with
//! `S` samples, `B` bands, `L` lines and `n` bytes per sample):
//!
//! | interleave | file layout | bytes read for a block |
//! |---|---|---|
//! | BIP | `[L, S, B]` | one range at `first·S·B·n`, `count·S·B·n` long |
//! | BIL | `[L, B, S]` | one range at `first·B·S·n`, `count·B·S·n` long |
//! | BSQ | `[B, L, S]` | `B` ranges, band `b` at `(b·L + first)·S·n`, `count·S·n` long |
//!
//! The bytes are decoded to `f32` in file order and permuted to `[count, S, B]`. Memory per
//! block is the raw bytes plus two `f32` copies of the block; the whole file is never read.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ndarray::{Array3, ShapeError};

use crate::cube::{Bands, CubeHeader, CubeInfo, CubeReader, DataKind, Interleave, LineBlock};
use crate::error::{Error, Result};

use super::dtype::decode_into;
use super::header::EnviHeader;
use super::{binary_path_for, header_path_for, is_header_path};

/// An ENVI cube (`.hdr` + binary) opened for block-wise reading.
#[derive(Debug)]
pub struct EnviReader {
    header: EnviHeader,
    binary: PathBuf,
    info: CubeInfo,
    file: File,
    /// Raw bytes of the block being read, reused between blocks.
    bytes: Vec<u8>,
}

impl EnviReader {
    /// Open an ENVI cube from its `.hdr` or from its binary.
    ///
    /// Parses the header, finds the binary (see [`binary_path_for`]) or the header (see
    /// [`header_path_for`]), and checks that the binary's size is exactly
    /// `header offset + lines·samples·bands·bytes_per_sample` ([`Error::ShapeMismatch`] on key
    /// `file size` otherwise). The header must give `wavelength`: the pipeline works by band
    /// centre ([`Error::Missing`] otherwise).
    pub fn open(path: &Path) -> Result<EnviReader> {
        // The header first: a broken header is reported as such even when the binary is absent.
        let from_header = is_header_path(path);
        let header_path = if from_header {
            path.to_path_buf()
        } else {
            header_path_for(path).ok_or_else(|| {
                Error::missing(
                    path,
                    "header",
                    "no ENVI header beside the binary (tried NAME.hdr and NAME.EXT.hdr)",
                )
            })?
        };
        let header = EnviHeader::read(&header_path)?;
        let binary = if from_header {
            binary_path_for(path).ok_or_else(|| {
                Error::missing(
                    path,
                    "binary",
                    "no data file beside the header (tried the same name with .img, .raw, .bin, \
                     .dat and without extension)",
                )
            })?
        } else {
            path.to_path_buf()
        };

        let file = File::open(&binary).map_err(|e| Error::io(&binary, e))?;
        let found = file.metadata().map_err(|e| Error::io(&binary, e))?.len();
        let expected = header.expected_file_size()?;
        if found != expected {
            return Err(Error::ShapeMismatch {
                path: binary,
                key: "file size".into(),
                expected: format!(
                    "{expected} bytes (header offset {} + {} lines x {} samples x {} bands x {} \
                     bytes, from {})",
                    header.header_offset,
                    header.shape.lines,
                    header.shape.samples,
                    header.shape.bands,
                    header.data_type.size(),
                    header_path.display()
                ),
                found: format!("{found} bytes"),
            });
        }

        let info = cube_info(&header, &header_path, &binary)?;
        Ok(EnviReader {
            header,
            binary,
            info,
            file,
            bytes: Vec::new(),
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &EnviHeader {
        &self.header
    }

    /// The binary holding the pixels.
    pub fn binary_path(&self) -> &Path {
        &self.binary
    }

    /// Append `len` bytes read at `offset` to the block buffer.
    fn read_range(&mut self, offset: u64, len: u64) -> Result<()> {
        let len_usize = usize::try_from(len).map_err(|_| {
            Error::invalid(
                &self.binary,
                "lines",
                format!("a block of {len} bytes does not fit in memory"),
            )
        })?;
        let at = self.bytes.len();
        self.bytes.resize(at + len_usize, 0);
        let buf = &mut self.bytes[at..];
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(buf))
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    Error::ShapeMismatch {
                        path: self.binary.clone(),
                        key: "file size".into(),
                        expected: format!("{len} bytes at offset {offset}"),
                        found: "the end of the file (was it truncated after opening?)".into(),
                    }
                } else {
                    Error::io(&self.binary, e)
                }
            })
    }
}

impl CubeReader for EnviReader {
    fn info(&self) -> &CubeInfo {
        &self.info
    }

    fn read_block(&mut self, first: usize, count: usize) -> Result<LineBlock> {
        let shape = self.info.shape;
        if first >= shape.lines {
            return Err(Error::invalid(
                &self.binary,
                "lines",
                format!(
                    "cannot read from line {first}: the cube has {} lines",
                    shape.lines
                ),
            ));
        }
        let count = count.min(shape.lines - first);
        let (lines, samples, bands) =
            (shape.lines as u64, shape.samples as u64, shape.bands as u64);
        let size = self.header.data_type.size() as u64;
        let base = self.header.header_offset;
        let (first64, count64) = (first as u64, count as u64);

        self.bytes.clear();
        match self.header.interleave {
            Interleave::Bip | Interleave::Bil => {
                let line_bytes = samples * bands * size;
                self.read_range(base + first64 * line_bytes, count64 * line_bytes)?;
            }
            Interleave::Bsq => {
                let band_bytes = lines * samples * size;
                for b in 0..bands {
                    let offset = base + b * band_bytes + first64 * samples * size;
                    self.read_range(offset, count64 * samples * size)?;
                }
            }
        }

        let mut values = Vec::new();
        decode_into(
            self.header.data_type,
            self.header.byte_order,
            &self.bytes,
            &mut values,
        );
        // `reflectance scale factor`: stored integers are reflectance × factor.
        if let Some(f) = self.header.reflectance_scale_factor {
            let inv = (1.0 / f) as f32;
            values.iter_mut().for_each(|v| *v *= inv);
        }
        let (s, b) = (shape.samples, shape.bands);
        let data = match self.header.interleave {
            Interleave::Bip => Array3::from_shape_vec((count, s, b), values),
            Interleave::Bil => Array3::from_shape_vec((count, b, s), values)
                .map(|a| a.permuted_axes([0, 2, 1]).as_standard_layout().into_owned()),
            Interleave::Bsq => Array3::from_shape_vec((b, count, s), values)
                .map(|a| a.permuted_axes([1, 2, 0]).as_standard_layout().into_owned()),
        }
        .map_err(|e: ShapeError| {
            Error::invalid(
                &self.binary,
                "interleave",
                format!("decoded values do not fill a {count}x{s}x{b} block: {e}"),
            )
        })?;
        Ok(LineBlock {
            first_line: first,
            data,
        })
    }
}

/// Build the [`CubeInfo`] of an opened cube.
fn cube_info(header: &EnviHeader, header_path: &Path, binary: &Path) -> Result<CubeInfo> {
    let wavelength = header.wavelength_nm.as_ref().ok_or_else(|| {
        Error::missing(
            header_path,
            "wavelength",
            "band centres are needed to calibrate and resample the cube",
        )
    })?;
    let to_f32 = |v: &Vec<f64>| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();

    let mut cube = CubeHeader::from_file_stem(binary);
    super::identity::apply(&mut cube, header, header_path, binary)?;
    if let Some(map) = &header.map_info {
        cube.geotransform = Some(map.geotransform());
        cube.crs = map.epsg();
    }
    let dtype = header.data_type;
    Ok(CubeInfo {
        path: header_path.to_path_buf(),
        header: cube,
        shape: header.shape,
        bands: Bands {
            wavelength_nm: to_f32(wavelength),
            fwhm_nm: header.fwhm_nm.as_ref().map(to_f32),
            good: header.bbl.clone(),
        },
        kind: data_kind(header, &[binary, header_path]),
        // Compared with the decoded (and scaled) values: scale it the same way, in f32.
        ignore_value: header
            .data_ignore_value
            .map(|v| match header.reflectance_scale_factor {
                Some(f) => f64::from(v as f32 * (1.0 / f) as f32),
                None => v,
            }),
        radiometry: None,
        raw_bytes: header.data_bytes(),
        format: format!(
            "ENVI {} {} {}, header offset {}",
            header.interleave_name(),
            dtype,
            header.byte_order,
            header.header_offset
        ),
    })
}

/// What the numbers are, from the data type and the names the product carries.
///
/// File names are looked at first (they follow the producers' conventions: AVIRIS-NG
/// `..._rfl_...`/`..._corr_...` reflectance, AVIRIS `...rdn...` radiance), then the
/// `description`. Float data with a reflectance hint is reflectance; a radiance hint means
/// radiance; other integer data is raw DN (integer reflectance products are scaled and must
/// not pass as 0–1 reflectance); float data with no hint is taken as radiance (calibrated,
/// but not claimed to be reflectance).
pub(crate) fn data_kind(header: &EnviHeader, files: &[&Path]) -> DataKind {
    #[derive(PartialEq)]
    enum Hint {
        Reflectance,
        Radiance,
    }
    let hint_in = |text: &str| {
        let t = text.to_lowercase();
        if ["rfl", "refl"].iter().any(|h| t.contains(h)) {
            Some(Hint::Reflectance)
        } else if ["rdn", "radiance"].iter().any(|h| t.contains(h)) {
            Some(Hint::Radiance)
        } else if t.contains("corr") {
            Some(Hint::Reflectance)
        } else {
            None
        }
    };
    let hint = files
        .iter()
        .filter_map(|p| p.file_name())
        .find_map(|n| hint_in(&n.to_string_lossy()))
        .or_else(|| header.description.as_deref().and_then(hint_in));
    let float = header.data_type.is_float();
    if header.reflectance_scale_factor.is_some() {
        // The standard ENVI key says it outright: scaled reflectance (the reader divides).
        return DataKind::Reflectance;
    }
    match hint {
        Some(Hint::Reflectance) if float => DataKind::Reflectance,
        Some(Hint::Radiance) => DataKind::Radiance,
        _ if !float => DataKind::RawDn,
        _ => DataKind::Radiance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(dtype: u32, description: &str, name: &str) -> DataKind {
        let text = format!(
            "ENVI\nsamples=1\nlines=1\nbands=1\ndata type={dtype}\ninterleave=bip\n\
             description = {{{description}}}\n"
        );
        let h = EnviHeader::parse(Path::new("x.hdr"), &text).unwrap();
        data_kind(&h, &[Path::new(name)])
    }

    #[test]
    fn kind_follows_names_then_description() {
        assert_eq!(kind(4, "", "ang_corr_v1c_img"), DataKind::Reflectance);
        assert_eq!(
            kind(4, "", "ang20170323t202244_rfl_v2p9_img"),
            DataKind::Reflectance
        );
        assert_eq!(
            kind(4, "orthocorrected", "ang_rdn_v2p9_img"),
            DataKind::Radiance
        );
        assert_eq!(
            kind(2, "AVIRIS orthocorrected", "f080702t01p00r08rdn_c"),
            DataKind::Radiance
        );
        assert_eq!(
            kind(4, "surface reflectance", "cube.img"),
            DataKind::Reflectance
        );
        assert_eq!(
            kind(2, "surface reflectance x 10000", "cube.img"),
            DataKind::RawDn
        );
        assert_eq!(kind(12, "", "corn-kernel.raw"), DataKind::RawDn);
        assert_eq!(kind(5, "", "cube.img"), DataKind::Radiance);
    }
}
