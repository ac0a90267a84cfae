//! HDF5 cubes in the project's raw-cube layout (DESIGN §4), read in line blocks.
//!
//! # Layout
//!
//! | path | type | notes |
//! |---|---|---|
//! | `/cube` | `[lines, samples, bands]`, u16 (u8, i16, f32 also accepted) | chunked by line blocks |
//! | `/wavelength_nm` | f32 `[bands]` | required; band centres in file order (need not be sorted) |
//! | `/fwhm_nm` | f32 `[bands]` | optional |
//! | `/dark` | f32 `[samples, bands]` | dark frame per detector column |
//! | `/white` | f32 `[samples, bands]` | white-reference panel per detector column |
//! | `/panel_reflectance` | f32 `[bands]` | or a root attribute `panel_reflectance` (scalar or `[bands]`) |
//! | `/gain`, `/offset` | f32 `[samples, bands]`, `[bands]` | radiance gains, used when there is no `/white` |
//!
//! Root attributes:
//!
//! | attribute | type | required |
//! |---|---|---|
//! | `cube_id`, `sensor_id`, `farm_id`, `field_id`, `region` | string | yes |
//! | `acquisition_time` | string, RFC 3339 (any offset, converted to UTC) | yes |
//! | `crs` | integer EPSG code, or a string `"EPSG:32614"` / `"32614"` | no |
//! | `geotransform` | 6 numbers, GDAL order | no |
//! | `calibration_id` | string | no |
//!
//! Strings may be fixed-length (ASCII or UTF-8, NUL- or space-padded) or variable-length
//! (ASCII or UTF-8, as h5py writes a Python `str`), scalar or one-element arrays; text that is
//! not UTF-8 is refused.
//!
//! Optional extras: a root string attribute `data_kind` (`raw_dn`, `radiance` or
//! `reflectance`) overrides the default [`DataKind`] (raw DN for integer cubes; for float
//! cubes raw DN when radiometric frames are present, reflectance otherwise), and a numeric
//! `/cube` attribute `_FillValue` becomes [`CubeInfo::ignore_value`].
//!
//! # Radiometry
//!
//! `/dark` + `/white` (+ panel reflectance, required then) give [`Radiometry::FlatField`];
//! `/dark` + `/gain` + `/offset` without `/white` give [`Radiometry::Gain`]; no frames at all give
//! `None` (the calibration set named by `calibration_id` must then supply them). A `/white` or
//! `/gain` without `/dark` is an [`Error::Missing`].
//!
//! [`Hdf5CubeWriter`] writes this layout (u16 cubes) block by block; the synthetic generator
//! and the tests build their cubes with it.
//!
//! # Invariants
//!
//! * Shapes are validated before anything is read: `/cube` through [`Shape::checked`] (absurd
//!   dimensions are refused before allocating), and every frame and band vector against the
//!   cube's `samples` and `bands` ([`Error::ShapeMismatch`] names the dataset).
//! * [`CubeReader::read_block`] reads only the hyperslab of the requested lines, never the
//!   whole cube, so memory is bounded by the block plus one staged run of chunks (below).
//! * **Chunk staging.** When `/cube` is chunked by lines and a run of whole chunks is at most
//!   [`STAGE_LIMIT_BYTES`] in the file's element type, `read_block` reads the chunk-aligned run
//!   of lines that covers the request once, keeps it, and serves the following blocks inside
//!   it from memory, converting to `f32` as it copies out; [`CubeReader::read_block_stored`]
//!   hands a u16 cube's blocks out as views of the shared run instead (no copy, no
//!   conversion; a run lives until its last block is dropped, so at most the runs of the
//!   blocks in flight are held). Each chunk is then read (and, when
//!   filtered, decompressed) exactly once whatever the pipeline's block size, with no
//!   HDF5 chunk cache: the cache is left at [`CHUNK_CACHE_BYTES`], smaller than a line-block
//!   chunk, so HDF5 reads (and decompresses) chunks straight into the staging buffer instead
//!   of copying them through its cache (measured in `docs/benchmarks.md`). Runs larger than
//!   the limit, and contiguous cubes, are read as hyperslabs of exactly the requested lines.
//! * **Unfiltered chunks are not staged** when they hold whole lines (all samples and bands)
//!   and are larger than the chunk cache: HDF5 then reads exactly the requested lines, one
//!   `pread` straight into the block (each byte is still read once), so a block's data is
//!   read just before the kernel needs it rather than with up to a chunk's worth of blocks
//!   ahead of it (24-line chunks of the synthetic cubes: 8 MB a run, evicted from cache by the
//!   time the run's last blocks were calibrated; session 9, CPU −1 to −4 %).
//! * HDF5's own error stack printing is silenced; every library error comes back as an
//!   [`Error::Hdf5`] that names the file and the dataset or attribute.

mod attrs;
mod datasets;
mod writer;

use std::path::Path;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use ndarray::{ArcArray, Array3, Ix3, s};

use crate::cube::{
    Bands, CubeInfo, CubeReader, DataKind, FlatFieldFrames, GainFrames, LineBlock, Radiometry,
    Shape, StoredBlock,
};
use crate::error::{Error, Result};
use attrs::{Attrs, read_header};
use datasets::{h5_error, optional_dataset, read_frame, read_vector, required_dataset, shape_str};

pub use attrs::MAX_STRING_BYTES;
pub use writer::{Hdf5CubeWriter, StringStyle, WriterOptions};

/// Bytes of HDF5 chunk cache per open dataset when reading: HDF5's default. Line-block chunks
/// are larger, so HDF5 reads them straight into [`Hdf5Reader`]'s staging buffer; the staging
/// (module docs) is what keeps a chunk from being read twice.
pub const CHUNK_CACHE_BYTES: usize = 1024 * 1024;

/// Largest run of whole chunks staged by [`Hdf5Reader`], in the file's element type.
pub const STAGE_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// Element type of `/cube`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CubeDtype {
    U8,
    U16,
    I16,
    F32,
}

impl CubeDtype {
    fn from_descriptor(desc: &TypeDescriptor) -> Option<Self> {
        match desc {
            TypeDescriptor::Unsigned(IntSize::U1) => Some(CubeDtype::U8),
            TypeDescriptor::Unsigned(IntSize::U2) => Some(CubeDtype::U16),
            TypeDescriptor::Integer(IntSize::U2) => Some(CubeDtype::I16),
            TypeDescriptor::Float(FloatSize::U4) => Some(CubeDtype::F32),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CubeDtype::U8 => "uint8",
            CubeDtype::U16 => "uint16",
            CubeDtype::I16 => "int16",
            CubeDtype::F32 => "float32",
        }
    }

    fn size(self) -> u64 {
        match self {
            CubeDtype::U8 => 1,
            CubeDtype::U16 | CubeDtype::I16 => 2,
            CubeDtype::F32 => 4,
        }
    }
}

/// A cube in the DESIGN §4 HDF5 layout, opened for block-wise reading.
#[derive(Debug)]
pub struct Hdf5Reader {
    info: CubeInfo,
    dtype: CubeDtype,
    chunk_lines: Option<usize>,
    /// Unfiltered chunks of whole lines larger than the chunk cache: requests are read as
    /// their exact line ranges, not staged (module docs, "Chunk staging").
    direct: bool,
    /// The chunk-aligned run of lines read last (module docs, "Chunk staging").
    staged: Option<Staged>,
    // Declared before `file` so the dataset handle is closed first.
    cube: hdf5::Dataset,
    _file: hdf5::File,
}

impl Hdf5Reader {
    /// Open `path`, validate the layout and read the metadata and radiometric frames (not the
    /// pixels).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be accessed; [`Error::Hdf5`] when it is not HDF5,
    /// truncated or corrupt; [`Error::Missing`] for an absent dataset or attribute;
    /// [`Error::Invalid`] for a wrong rank, element type or value (e.g. a time that is not RFC
    /// 3339); [`Error::ShapeMismatch`] when frames or band vectors disagree with `/cube`;
    /// [`Error::AbsurdDimensions`] before any allocation.
    pub fn open(path: &Path) -> Result<Hdf5Reader> {
        hdf5::silence_errors(true);
        std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let file = hdf5::File::with_options()
            .with_fapl(|p| {
                // Readers never lock: a raw cube is immutable once landed, and an inherited
                // lock (a child process forked while a writer had the file open) must not
                // make a read fail with EAGAIN.
                p.chunk_cache(521, CHUNK_CACHE_BYTES, 0.75)
                    .file_locking(false)
            })
            .open(path)
            .map_err(|e| h5_error(path, "/", format!("cannot open as HDF5: {e}")))?;

        let cube = required_dataset(path, &file, "cube", "the raw cube [lines, samples, bands]")?;
        let dims = cube.shape();
        let [lines, samples, bands] = <[usize; 3]>::try_from(dims.as_slice()).map_err(|_| {
            Error::invalid(
                path,
                "/cube",
                format!(
                    "expected rank 3 [lines, samples, bands], found shape {}",
                    shape_str(&dims)
                ),
            )
        })?;
        let shape = Shape::checked(path, lines as u64, samples as u64, bands as u64)?;
        let desc = cube
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| h5_error(path, "/cube", e))?;
        let dtype = CubeDtype::from_descriptor(&desc).ok_or_else(|| {
            Error::invalid(
                path,
                "/cube",
                format!(
                    "unsupported element type {desc}: expected uint16 (or uint8, int16, float32)"
                ),
            )
        })?;

        let bands_info = read_bands(path, &file, shape.bands)?;
        let header = read_header(path, &file)?;
        let radiometry = read_radiometry(path, &file, shape)?;

        let root = Attrs::new(path, "", &file)?;
        let kind = match root.opt_string("data_kind")? {
            Some(text) => parse_kind(&text).ok_or_else(|| {
                Error::invalid(
                    path,
                    root.key("data_kind"),
                    format!("`{text}` is not one of raw_dn, radiance, reflectance"),
                )
            })?,
            None if dtype != CubeDtype::F32 || radiometry.is_some() => DataKind::RawDn,
            None => DataKind::Reflectance,
        };
        let cube_attrs = Attrs::new(path, "/cube", &cube)?;
        let ignore_value = cube_attrs
            .opt_numbers("_FillValue", 1)?
            .and_then(|v| v.first().copied());

        let chunk = cube.chunk();
        let chunk_lines = chunk.as_ref().and_then(|c| c.first().copied());
        let filters = cube.filters();
        let format = describe_format(dtype, shape, chunk.as_deref(), &filters);
        let direct = filters.is_empty()
            && chunk.as_deref().is_some_and(|c| {
                c.len() == 3
                    && c[1] == shape.samples
                    && c[2] == shape.bands
                    && (c.iter().product::<usize>() as u64).saturating_mul(dtype.size())
                        > CHUNK_CACHE_BYTES as u64
            });
        let info = CubeInfo {
            path: path.to_path_buf(),
            header,
            shape,
            bands: bands_info,
            kind,
            ignore_value,
            radiometry,
            raw_bytes: shape.elements() * dtype.size(),
            format,
        };
        tracing::debug!(path = %path.display(), format = %info.format, "opened HDF5 cube");
        Ok(Hdf5Reader {
            info,
            dtype,
            chunk_lines,
            direct,
            staged: None,
            cube,
            _file: file,
        })
    }

    /// The chunk-aligned run of lines to stage for a request of lines `first..end`, or `None`
    /// to read exactly the request (contiguous storage, or chunks too large to stage).
    fn staging_run(&self, first: usize, end: usize) -> Option<(usize, usize)> {
        if self.direct {
            return None;
        }
        let cl = self.chunk_lines.filter(|&c| c > 0)?;
        let from = first - first % cl;
        let to = end
            .div_ceil(cl)
            .saturating_mul(cl)
            .min(self.info.shape.lines);
        let line_bytes = self.info.shape.samples as u64 * self.info.shape.bands as u64;
        let bytes = (to - from) as u64 * line_bytes * self.dtype.size();
        (bytes <= STAGE_LIMIT_BYTES as u64).then_some((from, to))
    }

    /// Whether blocks are served from staged runs of whole chunks (module docs, "Chunk
    /// staging"): chunked cubes, except unfiltered chunks of whole lines larger than the
    /// chunk cache, which are read as exact line ranges (as is any request whose run would
    /// exceed [`STAGE_LIMIT_BYTES`]).
    pub fn stages_chunks(&self) -> bool {
        self.chunk_lines.is_some_and(|c| c > 0) && !self.direct
    }

    /// Lines per chunk of `/cube` (`None` for contiguous storage): the block size that reads
    /// each chunk exactly once.
    pub fn chunk_lines(&self) -> Option<usize> {
        self.chunk_lines
    }
}

impl CubeReader for Hdf5Reader {
    fn info(&self) -> &CubeInfo {
        &self.info
    }

    fn read_block(&mut self, first: usize, count: usize) -> Result<LineBlock> {
        Ok(match self.read(first, count, false)? {
            StoredBlock::F32(b) => b,
            stored => stored.to_f32().into_owned(),
        })
    }

    fn read_block_stored(&mut self, first: usize, count: usize) -> Result<StoredBlock> {
        self.read(first, count, true)
    }
}

impl Hdf5Reader {
    /// Lines `first..first + count` (clamped), u16 left as u16 when `stored`, anything else
    /// converted to `f32`.
    fn read(&mut self, first: usize, count: usize, stored: bool) -> Result<StoredBlock> {
        let Shape {
            lines,
            samples,
            bands,
        } = self.info.shape;
        let path = &self.info.path;
        if first > lines {
            return Err(Error::invalid(
                path,
                "/cube",
                format!("block starts at line {first}, beyond the cube's {lines} lines"),
            ));
        }
        let end = first + count.min(lines - first);
        if end == first {
            return Ok(StoredBlock::F32(LineBlock {
                first_line: first,
                data: Array3::zeros((0, samples, bands)),
            }));
        }
        let data = match self.staging_run(first, end) {
            Some((from, to)) => {
                // The previous run is dropped before the next one is read.
                let kept = self.staged.take().filter(|st| st.covers(first, end));
                let staged = match kept {
                    Some(st) => st,
                    None => Staged {
                        first: from,
                        data: read_lines(&self.cube, self.dtype, from, to).map_err(|e| {
                            h5_error(path, "/cube", format!("reading lines {from}..{to}: {e}"))
                        })?,
                    },
                };
                if !staged.covers(first, end) {
                    return Err(Error::ShapeMismatch {
                        path: path.clone(),
                        key: "/cube".into(),
                        expected: shape_str(&[to - from, samples, bands]),
                        found: shape_str(&[staged.data.len(), samples, bands]),
                    });
                }
                let data = staged.lines(first, end, stored);
                self.staged = Some(staged);
                data
            }
            None => read_lines(&self.cube, self.dtype, first, end)
                .map_err(|e| h5_error(path, "/cube", format!("reading lines {first}..{end}: {e}")))?
                .into_stored(first, stored),
        };
        if data.dim() != (end - first, samples, bands) {
            let (l, s, b) = data.dim();
            return Err(Error::ShapeMismatch {
                path: path.clone(),
                key: "/cube".into(),
                expected: shape_str(&[end - first, samples, bands]),
                found: shape_str(&[l, s, b]),
            });
        }
        Ok(data)
    }
}

/// Lines of `/cube` in the file's element type.
enum Lines {
    U8(Array3<u8>),
    /// Shared, so blocks of a staged run borrow it instead of copying it out.
    U16(ArcArray<u16, Ix3>),
    I16(Array3<i16>),
    F32(Array3<f32>),
}

impl Lines {
    fn len(&self) -> usize {
        match self {
            Lines::U8(a) => a.dim().0,
            Lines::U16(a) => a.dim().0,
            Lines::I16(a) => a.dim().0,
            Lines::F32(a) => a.dim().0,
        }
    }

    /// As a block from line `first`: u16 kept as read when `stored`, else `f32`.
    fn into_stored(self, first: usize, stored: bool) -> StoredBlock {
        let data = match self {
            Lines::U16(data) if stored => {
                return StoredBlock::U16 {
                    first_line: first,
                    data,
                };
            }
            Lines::U8(a) => a.mapv(f32::from),
            Lines::U16(a) => a.mapv(f32::from),
            Lines::I16(a) => a.mapv(f32::from),
            Lines::F32(a) => a,
        };
        StoredBlock::F32(LineBlock {
            first_line: first,
            data,
        })
    }
}

/// Read lines `first..end` of `cube` as stored.
fn read_lines(
    cube: &hdf5::Dataset,
    dtype: CubeDtype,
    first: usize,
    end: usize,
) -> hdf5::Result<Lines> {
    let sel = s![first..end, .., ..];
    Ok(match dtype {
        CubeDtype::U16 => Lines::U16(cube.read_slice::<u16, _, Ix3>(sel)?.into_shared()),
        CubeDtype::U8 => Lines::U8(cube.read_slice::<u8, _, Ix3>(sel)?),
        CubeDtype::I16 => Lines::I16(cube.read_slice::<i16, _, Ix3>(sel)?),
        CubeDtype::F32 => Lines::F32(cube.read_slice::<f32, _, Ix3>(sel)?),
    })
}

/// A chunk-aligned run of lines kept by [`Hdf5Reader`] (module docs, "Chunk staging").
struct Staged {
    first: usize,
    data: Lines,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("first", &self.first)
            .field("lines", &self.data.len())
            .finish()
    }
}

impl Staged {
    fn covers(&self, first: usize, end: usize) -> bool {
        first >= self.first && end <= self.first + self.data.len()
    }

    /// Lines `first..end` (within the run): u16 copied as stored when `stored`, else
    /// converted to `f32`.
    fn lines(&self, first: usize, end: usize, stored: bool) -> StoredBlock {
        let rows = s![first - self.first..end - self.first, .., ..];
        let data = match &self.data {
            Lines::U16(a) if stored => {
                return StoredBlock::U16 {
                    first_line: first,
                    data: a.clone().slice_move(rows),
                };
            }
            Lines::U8(a) => a.slice(rows).mapv(f32::from),
            Lines::U16(a) => a.slice(rows).mapv(f32::from),
            Lines::I16(a) => a.slice(rows).mapv(f32::from),
            Lines::F32(a) => a.slice(rows).to_owned(),
        };
        StoredBlock::F32(LineBlock {
            first_line: first,
            data,
        })
    }
}

/// `/wavelength_nm` (required) and `/fwhm_nm` (optional), checked against the band count.
fn read_bands(path: &Path, file: &hdf5::File, bands: usize) -> Result<Bands> {
    let wl = required_dataset(
        path,
        file,
        "wavelength_nm",
        "band centres in nm, one per band",
    )?;
    let wavelength_nm = read_vector(path, &wl, bands)?.to_vec();
    if let Some((i, w)) = wavelength_nm.iter().enumerate().find(|(_, w)| **w <= 0.0) {
        return Err(Error::invalid(
            path,
            "/wavelength_nm",
            format!("element {i} is {w}: band centres must be positive"),
        ));
    }
    let fwhm_nm = match optional_dataset(path, file, "fwhm_nm")? {
        Some(ds) => Some(read_vector(path, &ds, bands)?.to_vec()),
        None => None,
    };
    Ok(Bands {
        wavelength_nm,
        fwhm_nm,
        good: None,
    })
}

/// The radiometric frames, see the module docs for which combination gives what.
fn read_radiometry(path: &Path, file: &hdf5::File, shape: Shape) -> Result<Option<Radiometry>> {
    let Shape { samples, bands, .. } = shape;
    let dark = optional_dataset(path, file, "dark")?;
    let white = optional_dataset(path, file, "white")?;
    let gain = optional_dataset(path, file, "gain")?;
    let Some(dark) = dark else {
        if white.is_some() || gain.is_some() {
            return Err(Error::missing(
                path,
                "/dark",
                "a white reference or gains need the dark frame [samples, bands]",
            ));
        }
        return Ok(None);
    };
    let dark = read_frame(path, &dark, samples, bands)?;
    if let Some(white) = white {
        let white = read_frame(path, &white, samples, bands)?;
        let panel_reflectance = read_panel(path, file, bands)?;
        return Ok(Some(Radiometry::FlatField(FlatFieldFrames {
            dark,
            white,
            panel_reflectance,
        })));
    }
    if let Some(gain) = gain {
        let gain = read_frame(path, &gain, samples, bands)?;
        let offset = required_dataset(
            path,
            file,
            "offset",
            "radiance offsets [bands] go with /gain",
        )?;
        let offset = read_vector(path, &offset, bands)?;
        return Ok(Some(Radiometry::Gain(GainFrames { dark, gain, offset })));
    }
    Err(Error::missing(
        path,
        "/white",
        "the dark frame needs a white reference (or /gain and /offset) to calibrate",
    ))
}

/// The panel's reflectance: the `/panel_reflectance` dataset, else the root attribute.
fn read_panel(path: &Path, file: &hdf5::File, bands: usize) -> Result<ndarray::Array1<f32>> {
    if let Some(ds) = optional_dataset(path, file, "panel_reflectance")? {
        return read_vector(path, &ds, bands);
    }
    let root = Attrs::new(path, "", file)?;
    match root.opt_numbers("panel_reflectance", bands)?.as_deref() {
        Some([scalar]) => Ok(ndarray::Array1::from_elem(bands, *scalar as f32)),
        Some(per_band) => Ok(per_band.iter().map(|x| *x as f32).collect()),
        None => Err(Error::missing(
            path,
            "/panel_reflectance",
            "the flat field needs the white panel's reflectance: a [bands] dataset or a scalar root attribute",
        )),
    }
}

fn parse_kind(text: &str) -> Option<DataKind> {
    match text.trim().to_ascii_lowercase().as_str() {
        "raw_dn" | "dn" => Some(DataKind::RawDn),
        "radiance" => Some(DataKind::Radiance),
        "reflectance" => Some(DataKind::Reflectance),
        _ => None,
    }
}

fn describe_format(
    dtype: CubeDtype,
    shape: Shape,
    chunk: Option<&[usize]>,
    filters: &[hdf5::filters::Filter],
) -> String {
    use hdf5::filters::Filter;
    let storage = match chunk {
        Some(c) => format!("chunks {}", shape_str(c)),
        None => "contiguous".to_owned(),
    };
    let filters: Vec<String> = filters
        .iter()
        .map(|f| match f {
            Filter::Deflate(level) => format!("deflate({level})"),
            Filter::Shuffle => "shuffle".to_owned(),
            Filter::Fletcher32 => "fletcher32".to_owned(),
            other => format!("{other:?}").to_ascii_lowercase(),
        })
        .collect();
    let filters = if filters.is_empty() {
        "none".to_owned()
    } else {
        filters.join("+")
    };
    format!(
        "HDF5 /cube {} {} [lines, samples, bands], {storage}, filters: {filters}",
        dtype.name(),
        shape_str(&[shape.lines, shape.samples, shape.bands]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_type_chunks_and_filters() {
        let shape = Shape {
            lines: 10,
            samples: 4,
            bands: 3,
        };
        let f = describe_format(
            CubeDtype::U16,
            shape,
            Some(&[5, 4, 3]),
            &[
                hdf5::filters::Filter::Shuffle,
                hdf5::filters::Filter::Deflate(4),
            ],
        );
        assert_eq!(
            f,
            "HDF5 /cube uint16 [10, 4, 3] [lines, samples, bands], chunks [5, 4, 3], filters: shuffle+deflate(4)"
        );
        assert_eq!(
            describe_format(CubeDtype::F32, shape, None, &[]),
            "HDF5 /cube float32 [10, 4, 3] [lines, samples, bands], contiguous, filters: none"
        );
    }

    #[test]
    fn data_kinds_parse() {
        assert_eq!(parse_kind("Reflectance"), Some(DataKind::Reflectance));
        assert_eq!(parse_kind("raw_dn"), Some(DataKind::RawDn));
        assert_eq!(parse_kind("counts"), None);
    }
}
