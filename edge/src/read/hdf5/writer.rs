//! [`Hdf5CubeWriter`]: writes a cube in the DESIGN §4 layout, block by block.
//!
//! The writer creates `/cube` as a chunked u16 dataset `[lines, samples, bands]` with chunks of
//! `[chunk_lines, samples, bands]` (optionally shuffle + deflate), writes the root attributes,
//! band vectors and radiometric frames up front, and then accepts hyperslabs of lines in any
//! order. It never holds more than the caller's block (plus one chunk in HDF5's cache), so a
//! 4 GB cube is written in bounded memory.
//!
//! The file is written as `<name>.partial` and renamed to its final name by
//! [`Hdf5CubeWriter::finish`], which also checks that every line was written: a crashed or
//! abandoned writer never leaves a cube that looks complete (the partial file is removed on
//! drop). Object modification times are not recorded, so the same input gives the same bytes.

use std::path::{Path, PathBuf};

use chrono::SecondsFormat;
use hdf5::types::{FixedUnicode, TypeDescriptor, VarLenUnicode};
use ndarray::{Array1, ArrayView3, arr0, s};

use super::CHUNK_CACHE_BYTES;
use super::attrs::MAX_STRING_BYTES;
use super::datasets::{h5_error, shape_str};
use crate::cube::{Bands, CubeHeader, Radiometry, Shape};
use crate::error::{Error, Result};

/// Largest chunk HDF5 accepts, in bytes (4 GiB − 1).
const MAX_CHUNK_BYTES: u64 = u32::MAX as u64;

/// How string attributes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringStyle {
    /// Variable-length UTF-8: what h5py writes for a Python `str`, and what h5py reads back as
    /// `str` (fixed-length strings come back as `bytes`).
    #[default]
    VariableUtf8,
    /// Fixed-length UTF-8, sized to the value (what many C tools write).
    FixedUtf8,
}

/// Storage options for [`Hdf5CubeWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// Lines per chunk of `/cube` (clamped to `1..=lines` and to HDF5's 4 GiB chunk limit).
    pub chunk_lines: usize,
    /// Deflate (gzip) level 0–9, or `None` for uncompressed chunks.
    pub deflate: Option<u8>,
    /// Byte-shuffle before deflate (ignored without deflate); helps u16 data compress.
    pub shuffle: bool,
    /// How string attributes are stored.
    pub strings: StringStyle,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            chunk_lines: 32,
            deflate: None,
            shuffle: true,
            strings: StringStyle::VariableUtf8,
        }
    }
}

/// The open file and cube dataset, dropped (closed) before the rename.
struct OpenCube {
    cube: hdf5::Dataset,
    file: hdf5::File,
}

/// Writes a u16 cube in the DESIGN §4 layout, one line block at a time.
pub struct Hdf5CubeWriter {
    path: PathBuf,
    partial: PathBuf,
    shape: Shape,
    chunk_lines: usize,
    written: Vec<bool>,
    open: Option<OpenCube>,
    /// Set once the file has been renamed to its final name.
    finished: bool,
}

impl std::fmt::Debug for Hdf5CubeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hdf5CubeWriter")
            .field("path", &self.path)
            .field("shape", &self.shape)
            .field("chunk_lines", &self.chunk_lines)
            .field("lines_written", &self.lines_written())
            .finish()
    }
}

impl Hdf5CubeWriter {
    /// Create `path` (via `path.partial`) with the header attributes, band vectors and
    /// radiometric frames, and an empty chunked `/cube` of `shape`.
    ///
    /// `bands.wavelength_nm` (and `fwhm_nm` when given) must have `shape.bands` values and the
    /// frames must be `[samples, bands]`, or this returns [`Error::ShapeMismatch`].
    pub fn create(
        path: &Path,
        header: &CubeHeader,
        shape: Shape,
        bands: &Bands,
        radiometry: Option<&Radiometry>,
        options: &WriterOptions,
    ) -> Result<Self> {
        let shape = Shape::checked(
            path,
            shape.lines as u64,
            shape.samples as u64,
            shape.bands as u64,
        )?;
        check_inputs(path, shape, bands, radiometry, options)?;
        let line_bytes = shape.samples as u64 * shape.bands as u64 * 2;
        if line_bytes > MAX_CHUNK_BYTES {
            return Err(Error::invalid(
                path,
                "/cube",
                format!(
                    "one line is {line_bytes} bytes, above HDF5's chunk limit of {MAX_CHUNK_BYTES}"
                ),
            ));
        }
        let max_lines = usize::try_from(MAX_CHUNK_BYTES / line_bytes).unwrap_or(usize::MAX);
        let chunk_lines = options
            .chunk_lines
            .clamp(1, shape.lines)
            .min(max_lines.max(1));

        let partial = partial_path(path);
        let file = hdf5::File::create(&partial)
            .map_err(|e| h5_error(&partial, "/", format!("cannot create: {e}")))?;
        let mut writer = Hdf5CubeWriter {
            path: path.to_path_buf(),
            partial,
            shape,
            chunk_lines,
            written: vec![false; shape.lines],
            open: None,
            finished: false,
        };
        write_header(&writer.partial, &file, header, options.strings)?;
        write_vector(
            &writer.partial,
            &file,
            "wavelength_nm",
            &bands.wavelength_nm,
        )?;
        if let Some(fwhm) = &bands.fwhm_nm {
            write_vector(&writer.partial, &file, "fwhm_nm", fwhm)?;
        }
        match radiometry {
            Some(Radiometry::FlatField(f)) => {
                write_frame(&writer.partial, &file, "dark", f.dark.view())?;
                write_frame(&writer.partial, &file, "white", f.white.view())?;
                write_vector(
                    &writer.partial,
                    &file,
                    "panel_reflectance",
                    &f.panel_reflectance.to_vec(),
                )?;
            }
            Some(Radiometry::Gain(g)) => {
                write_frame(&writer.partial, &file, "dark", g.dark.view())?;
                write_frame(&writer.partial, &file, "gain", g.gain.view())?;
                write_vector(&writer.partial, &file, "offset", &g.offset.to_vec())?;
            }
            None => {}
        }
        let chunk_bytes = usize::try_from(chunk_lines as u64 * line_bytes).unwrap_or(usize::MAX);
        let mut builder = file.new_dataset::<u16>();
        builder = builder.obj_track_times(false);
        builder = builder.chunk_cache(521, chunk_bytes.max(CHUNK_CACHE_BYTES), 1.0);
        let mut builder = builder
            .shape([shape.lines, shape.samples, shape.bands])
            .chunk([chunk_lines, shape.samples, shape.bands]);
        if let Some(level) = options.deflate {
            if options.shuffle {
                builder = builder.shuffle();
            }
            builder = builder.deflate(level);
        }
        let cube = builder
            .create("cube")
            .map_err(|e| h5_error(&writer.partial, "/cube", e))?;
        writer.open = Some(OpenCube { cube, file });
        Ok(writer)
    }

    /// Lines per chunk actually used.
    pub fn chunk_lines(&self) -> usize {
        self.chunk_lines
    }

    /// The cube's dimensions.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// How many distinct lines have been written so far.
    pub fn lines_written(&self) -> usize {
        self.written.iter().filter(|w| **w).count()
    }

    /// Write `block` (`[n, samples, bands]`) as lines `first_line..first_line + n`.
    pub fn write_block<'a>(
        &mut self,
        first_line: usize,
        block: impl Into<ArrayView3<'a, u16>>,
    ) -> Result<()> {
        let block = block.into();
        let (n, samples, bands) = block.dim();
        if (samples, bands) != (self.shape.samples, self.shape.bands) {
            return Err(Error::ShapeMismatch {
                path: self.partial.clone(),
                key: "/cube".into(),
                expected: format!("a block [n, {}, {}]", self.shape.samples, self.shape.bands),
                found: shape_str(block.shape()),
            });
        }
        let end = first_line
            .checked_add(n)
            .filter(|end| *end <= self.shape.lines);
        let Some(end) = end else {
            return Err(Error::invalid(
                &self.partial,
                "/cube",
                format!(
                    "block of {n} lines at line {first_line} runs past the cube's {} lines",
                    self.shape.lines
                ),
            ));
        };
        if n == 0 {
            return Ok(());
        }
        let open = self.open.as_ref().ok_or_else(|| {
            Error::invalid(&self.partial, "/cube", "the writer was already finished")
        })?;
        let standard = block.as_standard_layout();
        open.cube
            .write_slice(&standard, s![first_line..end, .., ..])
            .map_err(|e| {
                h5_error(
                    &self.partial,
                    "/cube",
                    format!("writing lines {first_line}..{end}: {e}"),
                )
            })?;
        if let Some(flags) = self.written.get_mut(first_line..end) {
            flags.fill(true);
        }
        Ok(())
    }

    /// Check that every line was written, close the file and move it to its final name.
    pub fn finish(mut self) -> Result<PathBuf> {
        if let Some(first_gap) = self.written.iter().position(|w| !*w) {
            let gap_end = self.written[first_gap..]
                .iter()
                .position(|w| *w)
                .map_or(self.shape.lines, |p| first_gap + p);
            return Err(Error::invalid(
                &self.partial,
                "/cube",
                format!(
                    "lines {first_gap}..{gap_end} were never written ({} of {} lines written)",
                    self.lines_written(),
                    self.shape.lines
                ),
            ));
        }
        if let Some(OpenCube { cube, file }) = self.open.take() {
            drop(cube);
            file.flush().map_err(|e| h5_error(&self.partial, "/", e))?;
            file.close().map_err(|e| h5_error(&self.partial, "/", e))?;
        }
        std::fs::rename(&self.partial, &self.path).map_err(|e| Error::io(&self.path, e))?;
        self.finished = true;
        Ok(self.path.clone())
    }
}

impl Drop for Hdf5CubeWriter {
    fn drop(&mut self) {
        // Close the file first, then, when not finished (abandoned, or an error in `create`),
        // remove it: never leave a half-written cube behind.
        drop(self.open.take());
        if !self.finished {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// `dir/name.h5` → `dir/name.h5.partial`.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

fn check_inputs(
    path: &Path,
    shape: Shape,
    bands: &Bands,
    radiometry: Option<&Radiometry>,
    options: &WriterOptions,
) -> Result<()> {
    let mismatch = |key: &str, expected: &[usize], found: &[usize]| Error::ShapeMismatch {
        path: path.to_path_buf(),
        key: key.to_owned(),
        expected: shape_str(expected),
        found: shape_str(found),
    };
    let b = shape.bands;
    let frame = [shape.samples, b];
    if bands.wavelength_nm.len() != b {
        return Err(mismatch(
            "/wavelength_nm",
            &[b],
            &[bands.wavelength_nm.len()],
        ));
    }
    if let Some(fwhm) = &bands.fwhm_nm
        && fwhm.len() != b
    {
        return Err(mismatch("/fwhm_nm", &[b], &[fwhm.len()]));
    }
    let frames: Vec<(&str, &[usize])> = match radiometry {
        Some(Radiometry::FlatField(f)) => vec![
            ("/dark", f.dark.shape()),
            ("/white", f.white.shape()),
            ("/panel_reflectance", f.panel_reflectance.shape()),
        ],
        Some(Radiometry::Gain(g)) => vec![
            ("/dark", g.dark.shape()),
            ("/gain", g.gain.shape()),
            ("/offset", g.offset.shape()),
        ],
        None => vec![],
    };
    for (key, found) in frames {
        let expected: &[usize] = if found.len() == 1 { &[b] } else { &frame };
        if found != expected {
            return Err(mismatch(key, expected, found));
        }
    }
    if let Some(level) = options.deflate
        && level > 9
    {
        return Err(Error::invalid(
            path,
            "deflate",
            format!("level {level} is not in 0..=9"),
        ));
    }
    Ok(())
}

fn write_string(
    path: &Path,
    file: &hdf5::File,
    name: &str,
    value: &str,
    style: StringStyle,
) -> Result<()> {
    let key = format!("@{name}");
    let h5 = |e: hdf5::Error| h5_error(path, &key, e);
    match style {
        StringStyle::VariableUtf8 => {
            let v: VarLenUnicode = value
                .parse()
                .map_err(|e| Error::invalid(path, &key, format!("cannot store `{value}`: {e}")))?;
            file.new_attr_builder()
                .with_data(&arr0(v))
                .create(name)
                .map_err(h5)?;
        }
        StringStyle::FixedUtf8 => {
            let v: FixedUnicode<MAX_STRING_BYTES> = value.parse().map_err(|e| {
                Error::invalid(
                    path,
                    &key,
                    format!("longer than {MAX_STRING_BYTES} bytes: {e}"),
                )
            })?;
            let stored = TypeDescriptor::FixedUnicode(value.len().max(1));
            file.new_attr_builder()
                .with_data_as(&arr0(v), &stored)
                .create(name)
                .map_err(h5)?;
        }
    }
    Ok(())
}

fn write_header(path: &Path, file: &hdf5::File, h: &CubeHeader, style: StringStyle) -> Result<()> {
    let time = h
        .acquisition_time
        .to_rfc3339_opts(SecondsFormat::AutoSi, true);
    for (name, value) in [
        ("cube_id", h.cube_id.as_str()),
        ("sensor_id", &h.sensor_id),
        ("farm_id", &h.farm_id),
        ("field_id", &h.field_id),
        ("region", &h.region),
        ("acquisition_time", &time),
    ] {
        write_string(path, file, name, value, style)?;
    }
    if let Some(id) = &h.calibration_id {
        write_string(path, file, "calibration_id", id, style)?;
    }
    if let Some(crs) = h.crs {
        file.new_attr::<u32>()
            .create("crs")
            .and_then(|a| a.write_scalar(&crs))
            .map_err(|e| h5_error(path, "@crs", e))?;
    }
    if let Some(gt) = h.geotransform {
        file.new_attr_builder()
            .with_data(&Array1::from(gt.to_vec()))
            .create("geotransform")
            .map_err(|e| h5_error(path, "@geotransform", e))?;
    }
    Ok(())
}

fn write_vector(path: &Path, file: &hdf5::File, name: &str, values: &[f32]) -> Result<()> {
    file.new_dataset_builder()
        .obj_track_times(false)
        .with_data(values)
        .create(name)
        .map(|_| ())
        .map_err(|e| h5_error(path, &format!("/{name}"), e))
}

fn write_frame(
    path: &Path,
    file: &hdf5::File,
    name: &str,
    frame: ndarray::ArrayView2<'_, f32>,
) -> Result<()> {
    let frame = frame.as_standard_layout();
    file.new_dataset_builder()
        .obj_track_times(false)
        .with_data(&frame)
        .create(name)
        .map(|_| ())
        .map_err(|e| h5_error(path, &format!("/{name}"), e))
}
