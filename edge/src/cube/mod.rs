//! The cube model shared by every reader, calibrator and writer.
//!
//! A cube is `lines × samples × bands`. Readers hand out **line blocks**: a contiguous run of
//! lines as an `f32` array in BIP order (`[lines, samples, bands]`, bands contiguous), whatever
//! the file's own interleave. That is the layout the calibration GEMM wants (pixels × bands) and
//! it keeps memory bounded: nothing ever holds the whole cube.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ndarray::{ArcArray, Array1, Array2, Array3, Ix3};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest cube accepted, in elements (refused before allocating). 16 Gi elements = 32 GiB of u16.
pub const MAX_ELEMENTS: u64 = 16 * 1024 * 1024 * 1024;
/// Largest single dimension accepted.
pub const MAX_DIM: u64 = 1 << 20;
/// Largest band count accepted (imaging spectrometers have < 1000).
pub const MAX_BANDS: u64 = 4096;

/// Identity and georeferencing of a cube (the HDF5 root attributes of DESIGN §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CubeHeader {
    /// Unique cube id.
    pub cube_id: String,
    /// Sensor id.
    pub sensor_id: String,
    /// Farm id (Silver partition key).
    pub farm_id: String,
    /// Field id.
    pub field_id: String,
    /// Region (the first element of the raw-cube object key).
    pub region: String,
    /// Acquisition time, UTC.
    pub acquisition_time: DateTime<Utc>,
    /// EPSG code of the map coordinates, if known.
    pub crs: Option<u32>,
    /// GDAL-order geotransform: `x = gt[0] + (sample+0.5)·gt[1] + (line+0.5)·gt[2]`,
    /// `y = gt[3] + (sample+0.5)·gt[4] + (line+0.5)·gt[5]` (pixel centres).
    pub geotransform: Option<[f64; 6]>,
    /// Id of the calibration set the sensor used, if any.
    pub calibration_id: Option<String>,
}

impl CubeHeader {
    /// Map coordinates of the centre of pixel (`line`, `sample`); pixel indices when there is no
    /// geotransform.
    pub fn map_xy(&self, line: f64, sample: f64) -> (f64, f64) {
        match self.geotransform {
            Some(gt) => (
                gt[0] + (sample + 0.5) * gt[1] + (line + 0.5) * gt[2],
                gt[3] + (sample + 0.5) * gt[4] + (line + 0.5) * gt[5],
            ),
            None => (sample + 0.5, line + 0.5),
        }
    }

    /// Whether an identity field is a placeholder (`unknown` or empty).
    pub fn is_unknown(value: &str) -> bool {
        value.trim().is_empty() || value.trim().eq_ignore_ascii_case("unknown")
    }

    /// The identity fields still unknown (`farm_id`, `field_id`, `region`, `sensor_id`,
    /// `acquisition_time` at the epoch): a cube with any is refused by the pipeline rather
    /// than written under `unknown`/1970.
    pub fn missing_identity(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (name, v) in [
            ("cube_id", &self.cube_id),
            ("farm_id", &self.farm_id),
            ("field_id", &self.field_id),
            ("region", &self.region),
            ("sensor_id", &self.sensor_id),
        ] {
            if Self::is_unknown(v) {
                out.push(name);
            }
        }
        if self.acquisition_time == DateTime::<Utc>::UNIX_EPOCH {
            out.push("acquisition_time");
        }
        out
    }

    /// A header for files that carry no identity (ENVI chips): ids derived from the file stem.
    pub fn from_file_stem(path: &Path) -> Self {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        CubeHeader {
            cube_id: stem,
            sensor_id: "unknown".into(),
            farm_id: "unknown".into(),
            field_id: "unknown".into(),
            region: "unknown".into(),
            acquisition_time: DateTime::<Utc>::UNIX_EPOCH,
            crs: None,
            geotransform: None,
            calibration_id: None,
        }
    }
}

/// Dimensions of a cube.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Lines (rows, along track).
    pub lines: usize,
    /// Samples per line (columns, across track).
    pub samples: usize,
    /// Spectral bands.
    pub bands: usize,
}

impl Shape {
    /// Refuse absurd dimensions before anything is allocated.
    pub fn checked(path: &Path, lines: u64, samples: u64, bands: u64) -> Result<Shape> {
        let absurd = |reason: String| Error::AbsurdDimensions {
            path: path.to_path_buf(),
            lines,
            samples,
            bands,
            reason,
        };
        if lines == 0 || samples == 0 || bands == 0 {
            return Err(absurd("a dimension is zero".into()));
        }
        if lines > MAX_DIM || samples > MAX_DIM {
            return Err(absurd(format!("lines/samples above {MAX_DIM}")));
        }
        if bands > MAX_BANDS {
            return Err(absurd(format!("more than {MAX_BANDS} bands")));
        }
        let elements = lines
            .checked_mul(samples)
            .and_then(|n| n.checked_mul(bands))
            .ok_or_else(|| absurd("element count overflows".into()))?;
        if elements > MAX_ELEMENTS {
            return Err(absurd(format!(
                "{elements} elements is above {MAX_ELEMENTS}"
            )));
        }
        Ok(Shape {
            lines: lines as usize,
            samples: samples as usize,
            bands: bands as usize,
        })
    }

    /// Pixels in the cube.
    pub fn pixels(&self) -> usize {
        self.lines * self.samples
    }

    /// Elements in the cube.
    pub fn elements(&self) -> u64 {
        self.lines as u64 * self.samples as u64 * self.bands as u64
    }
}

/// Storage order of an ENVI binary (HDF5 cubes in our layout are always BIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interleave {
    /// Band sequential: `[bands, lines, samples]`.
    Bsq,
    /// Band interleaved by line: `[lines, bands, samples]`.
    Bil,
    /// Band interleaved by pixel: `[lines, samples, bands]`.
    Bip,
}

/// What the cube's numbers are, which decides the calibration path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// Raw digital numbers (needs dark/white or gains).
    RawDn,
    /// At-sensor radiance (already calibrated to physical units).
    Radiance,
    /// Surface reflectance (0..1, already calibrated).
    Reflectance,
}

/// Spectral description of the bands, in file order (which need not be sorted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bands {
    /// Band centres in nm.
    pub wavelength_nm: Vec<f32>,
    /// Full width at half maximum in nm, if known.
    pub fwhm_nm: Option<Vec<f32>>,
    /// Bad-band list (`true` = good), if the file carries one (ENVI `bbl`).
    pub good: Option<Vec<bool>>,
}

/// Radiometric calibration inputs carried by a raw cube (DESIGN §5, step 1).
#[derive(Debug, Clone, PartialEq)]
pub enum Radiometry {
    /// Dark frame + white reference: flat field to reflectance.
    FlatField(FlatFieldFrames),
    /// Dark frame + per-detector gains: `L = gain(s,b)·(DN − dark(s,b)) + offset(b)`.
    Gain(GainFrames),
}

/// Dark frame and gains for radiance calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct GainFrames {
    /// Dark frame, `[samples, bands]`.
    pub dark: Array2<f32>,
    /// Gain per detector column and band, `[samples, bands]`.
    pub gain: Array2<f32>,
    /// Offset per band.
    pub offset: Array1<f32>,
}

/// Dark frame, white reference and panel reflectance for the flat-field (DESIGN §5).
#[derive(Debug, Clone, PartialEq)]
pub struct FlatFieldFrames {
    /// Dark frame, `[samples, bands]`.
    pub dark: Array2<f32>,
    /// White-reference panel, `[samples, bands]`.
    pub white: Array2<f32>,
    /// The panel's certified reflectance per band.
    pub panel_reflectance: Array1<f32>,
}

/// Everything known about a cube except its pixels.
#[derive(Debug, Clone)]
pub struct CubeInfo {
    /// The file it came from.
    pub path: PathBuf,
    /// Identity and georeferencing.
    pub header: CubeHeader,
    /// Dimensions.
    pub shape: Shape,
    /// Band centres, widths and bad-band list.
    pub bands: Bands,
    /// What the values are.
    pub kind: DataKind,
    /// Fill value (ENVI `data ignore value`): pixels holding it in every band are no-data.
    pub ignore_value: Option<f64>,
    /// Radiometric frames (dark/white or gains), when the file carries them.
    pub radiometry: Option<Radiometry>,
    /// Byte size of the raw pixel data (for ratios and throughput).
    pub raw_bytes: u64,
    /// Format-specific description for `inspect` (interleave, data type, chunking...).
    pub format: String,
}

/// A run of consecutive lines, `[lines, samples, bands]` in `f32`.
#[derive(Debug, Clone)]
pub struct LineBlock {
    /// Index of the first line in the cube.
    pub first_line: usize,
    /// The values, BIP order.
    pub data: Array3<f32>,
}

/// A run of consecutive lines in the element type the cube stores, for calibrators that
/// convert to `f32` as they compute ([`CubeReader::read_block_stored`]): u16 DN, the common
/// sensor format, stays half the size of its `f32` conversion until it is calibrated.
#[derive(Debug, Clone)]
pub enum StoredBlock {
    /// Values as `f32` (stored so, or converted by the reader).
    F32(LineBlock),
    /// Unsigned 16-bit values, `[lines, samples, bands]`, BIP order; shared with the
    /// reader's staging buffer rather than copied out of it.
    U16 {
        /// Index of the first line in the cube.
        first_line: usize,
        /// The values.
        data: ArcArray<u16, Ix3>,
    },
}

impl StoredBlock {
    /// Index of the first line in the cube.
    pub fn first_line(&self) -> usize {
        match self {
            StoredBlock::F32(b) => b.first_line,
            StoredBlock::U16 { first_line, .. } => *first_line,
        }
    }

    /// `(lines, samples, bands)`.
    pub fn dim(&self) -> (usize, usize, usize) {
        match self {
            StoredBlock::F32(b) => b.data.dim(),
            StoredBlock::U16 { data, .. } => data.dim(),
        }
    }

    /// The block as `f32` (converted when stored otherwise).
    pub fn to_f32(&self) -> std::borrow::Cow<'_, LineBlock> {
        match self {
            StoredBlock::F32(b) => std::borrow::Cow::Borrowed(b),
            StoredBlock::U16 { first_line, data } => std::borrow::Cow::Owned(LineBlock {
                first_line: *first_line,
                data: data.mapv(f32::from),
            }),
        }
    }
}

/// A cube opened for block-wise reading.
pub trait CubeReader: Send {
    /// Metadata, available without reading pixels.
    fn info(&self) -> &CubeInfo;

    /// Read lines `first..first+count` (clamped to the cube) as one block.
    fn read_block(&mut self, first: usize, count: usize) -> Result<LineBlock>;

    /// [`read_block`](Self::read_block), leaving values in the stored element type where the
    /// reader can (u16 cubes); the same lines, values and errors.
    fn read_block_stored(&mut self, first: usize, count: usize) -> Result<StoredBlock> {
        self.read_block(first, count).map(StoredBlock::F32)
    }

    /// Iterate over the cube in blocks of `lines_per_block` lines.
    fn blocks(&mut self, lines_per_block: usize) -> Blocks<'_, Self>
    where
        Self: Sized,
    {
        Blocks {
            reader: self,
            next: 0,
            step: lines_per_block.max(1),
        }
    }
}

/// Iterator returned by [`CubeReader::blocks`].
pub struct Blocks<'a, R: CubeReader + ?Sized> {
    reader: &'a mut R,
    next: usize,
    step: usize,
}

impl<R: CubeReader + ?Sized> Iterator for Blocks<'_, R> {
    type Item = Result<LineBlock>;

    fn next(&mut self) -> Option<Self::Item> {
        let lines = self.reader.info().shape.lines;
        if self.next >= lines {
            return None;
        }
        let count = self.step.min(lines - self.next);
        let out = self.reader.read_block(self.next, count);
        self.next += count;
        Some(out)
    }
}

/// Iterate any boxed reader in blocks.
pub fn blocks<'a>(
    reader: &'a mut (dyn CubeReader + 'a),
    lines_per_block: usize,
) -> Blocks<'a, dyn CubeReader + 'a> {
    Blocks {
        reader,
        next: 0,
        step: lines_per_block.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_dimensions_are_refused() {
        let p = Path::new("x.h5");
        assert!(Shape::checked(p, 10, 10, 224).is_ok());
        assert!(matches!(
            Shape::checked(p, 0, 10, 224),
            Err(Error::AbsurdDimensions { .. })
        ));
        assert!(matches!(
            Shape::checked(p, 1 << 30, 10, 224),
            Err(Error::AbsurdDimensions { .. })
        ));
        assert!(matches!(
            Shape::checked(p, 1 << 20, 1 << 20, 4000),
            Err(Error::AbsurdDimensions { .. })
        ));
    }

    #[test]
    fn map_xy_uses_pixel_centres() {
        let mut h = CubeHeader::from_file_stem(Path::new("/a/b/c.h5"));
        assert_eq!(h.cube_id, "c");
        h.geotransform = Some([500_000.0, 0.5, 0.0, 4_000_000.0, 0.0, -0.5]);
        assert_eq!(h.map_xy(0.0, 0.0), (500_000.25, 3_999_999.75));
        assert_eq!(h.map_xy(2.0, 4.0), (500_002.25, 3_999_998.75));
    }
}
