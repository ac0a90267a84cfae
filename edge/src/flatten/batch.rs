//! Turning a [`CalibratedBlock`] into an Arrow [`RecordBatch`] of the Silver schema.
//!
//! The block is pixel-major (`[lines, samples, bands]`); Arrow is column-major, so this is a
//! transpose. No-data pixels (NaN in every band) are dropped, so a chip of fill values yields
//! no rows.

use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{
    ArrayRef, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::SchemaRef;

use super::encoding::quantize_mantissa;
use super::schema::silver_schema;
use crate::calib::{CalibratedBlock, CalibrationPlan};
use crate::cube::CubeHeader;
use crate::error::{Error, Result};

/// Which pipeline wrote a row (the Silver `pipeline` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pipeline {
    /// The edge container.
    Edge,
    /// The cloud Batch worker.
    Batch,
}

impl Pipeline {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Pipeline::Edge => "edge",
            Pipeline::Batch => "batch",
        }
    }
}

/// Per-cube constants and the schema, built once per cube.
#[derive(Debug, Clone)]
pub struct Flattener {
    header: CubeHeader,
    acquisition_us: i64,
    pipeline: Pipeline,
    calibration_version: String,
    binning: usize,
    mantissa_bits: Option<u8>,
    schema: SchemaRef,
    bands: usize,
    /// The columns holding one value per cube (the identity strings and the time), built for
    /// the longest block so far and sliced for each block (zero-copy): the same buffers every
    /// block, which also lets the Silver writer check them once ([`super::constant`]).
    constants: Arc<Mutex<Vec<ArrayRef>>>,
}

/// A flattened block: the batch, and the calibrated block's buffer when the band columns are
/// slices of it.
#[derive(Debug)]
pub struct Flattened {
    /// The rows.
    pub batch: RecordBatch,
    storage: Option<Buffer>,
}

impl Flattened {
    /// Drop the batch and return the block's buffer for reuse
    /// ([`Calibrator::recycle`](crate::calib::Calibrator::recycle)): `None` when the columns
    /// were copies, or when anything still holds a column (a sink that kept the batch).
    pub fn into_buffer(self) -> Option<Vec<f32>> {
        drop(self.batch);
        self.storage?.into_vec::<f32>().ok()
    }
}

impl Flattener {
    /// Prepare flattening for one cube.
    pub fn new(
        header: &CubeHeader,
        plan: &CalibrationPlan,
        pipeline: Pipeline,
        mantissa_bits: Option<u8>,
    ) -> Self {
        Flattener {
            header: header.clone(),
            acquisition_us: header.acquisition_time.timestamp_micros(),
            pipeline,
            calibration_version: plan.version.clone(),
            binning: plan.binning.max(1),
            mantissa_bits,
            schema: silver_schema(&plan.grid_nm),
            bands: plan.grid_nm.len(),
            constants: Arc::default(),
        }
    }

    /// The Silver schema of this cube.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Flatten one calibrated block. Returns `None` when every pixel is no-data.
    pub fn flatten(&self, block: &CalibratedBlock) -> Result<Option<RecordBatch>> {
        let (lines, samples, bands) = block.data.dim();
        if bands != self.bands {
            return Err(Error::Encode {
                cube_id: self.header.cube_id.clone(),
                reason: format!("block has {bands} bands, the grid has {}", self.bands),
            });
        }
        // Band-major blocks (the CPU calibrator's) hold each band contiguously: columns are
        // copied, not transposed. Anything else is viewed in standard (pixel-major) layout.
        let band_major = block.data.view().permuted_axes([2, 0, 1]);
        if let Some(flat) = band_major.as_slice() {
            let pixels = lines * samples;
            let valid = valid_band_major(flat, pixels, bands);
            if valid.is_empty() {
                return Ok(None);
            }
            let all = valid.len() == pixels;
            let band_cols = flat
                .chunks_exact(pixels.max(1))
                .map(|col| {
                    if all {
                        col.to_vec()
                    } else {
                        valid.iter().map(|&p| col[p as usize]).collect()
                    }
                })
                .collect();
            let band_cols = self.band_arrays(band_cols);
            return self.batch(block.first_line, samples, &valid, band_cols);
        }
        let data = block.data.as_standard_layout();
        let flat = data.as_slice().ok_or_else(|| Error::Encode {
            cube_id: self.header.cube_id.clone(),
            reason: "block is not contiguous".into(),
        })?;

        // Valid pixels (not NaN in every band), in row-major order.
        let mut valid: Vec<u32> = Vec::with_capacity(lines * samples);
        for (p, px) in flat.chunks_exact(bands.max(1)).enumerate() {
            if px.iter().any(|v| !v.is_nan()) {
                valid.push(p as u32);
            }
        }
        if valid.is_empty() {
            return Ok(None);
        }
        // Transpose pixel-major → one column per band.
        let mut band_cols: Vec<Vec<f32>> = (0..bands)
            .map(|_| Vec::with_capacity(valid.len()))
            .collect();
        for &p in &valid {
            let px = &flat[p as usize * bands..(p as usize + 1) * bands];
            for (col, &v) in band_cols.iter_mut().zip(px) {
                col.push(v);
            }
        }
        let band_cols = self.band_arrays(band_cols);
        self.batch(block.first_line, samples, &valid, band_cols)
    }

    /// [`Self::flatten`], taking the block: a band-major block without no-data pixels becomes
    /// the band columns without a copy (each column is a slice of the block's buffer).
    pub fn flatten_owned(&self, block: CalibratedBlock) -> Result<Option<RecordBatch>> {
        Ok(self.flatten_reusable(block)?.map(|f| f.batch))
    }

    /// [`Self::flatten_owned`], keeping a handle on the block's buffer when the columns are
    /// slices of it, so that [`Flattened::into_buffer`] can give it back for the next block.
    pub fn flatten_reusable(&self, block: CalibratedBlock) -> Result<Option<Flattened>> {
        let copied = |batch: Option<RecordBatch>| {
            batch.map(|batch| Flattened {
                batch,
                storage: None,
            })
        };
        let (lines, samples, bands) = block.data.dim();
        let pixels = lines * samples;
        // Anything but a full band-major block takes the copying path.
        let valid = match block.data.view().permuted_axes([2, 0, 1]).as_slice() {
            Some(flat) if bands == self.bands && pixels > 0 => {
                valid_band_major(flat, pixels, bands)
            }
            _ => return self.flatten(&block).map(copied),
        };
        if valid.len() != pixels {
            return self.flatten(&block).map(copied);
        }
        let first_line = block.first_line;
        let (mut values, offset) = block.data.into_raw_vec_and_offset();
        if offset.unwrap_or(0) != 0 || values.len() != pixels * bands {
            return Err(Error::Encode {
                cube_id: self.header.cube_id.clone(),
                reason: "band-major block does not start at its buffer".into(),
            });
        }
        self.quantize(&mut values);
        let buffer = Buffer::from_vec(values);
        let band_cols = (0..bands)
            .map(|j| {
                let col = ScalarBuffer::<f32>::new(buffer.clone(), j * pixels, pixels);
                Arc::new(Float32Array::new(col, None)) as ArrayRef
            })
            .collect();
        Ok(self
            .batch(first_line, samples, &valid, band_cols)?
            .map(|batch| Flattened {
                batch,
                storage: Some(buffer),
            }))
    }

    /// Band columns from per-band vectors, quantised when the profile asks.
    fn band_arrays(&self, band_cols: Vec<Vec<f32>>) -> Vec<ArrayRef> {
        band_cols
            .into_iter()
            .map(|mut c| {
                self.quantize(&mut c);
                Arc::new(Float32Array::from(c)) as ArrayRef
            })
            .collect()
    }

    fn quantize(&self, values: &mut [f32]) {
        if let Some(bits) = self.mantissa_bits {
            for v in values {
                *v = quantize_mantissa(*v, bits);
            }
        }
    }

    /// The record batch of `valid` pixels (indices into the block, row-major) whose band
    /// columns are `band_cols`.
    fn batch(
        &self,
        first_line: usize,
        samples: usize,
        valid: &[u32],
        band_cols: Vec<ArrayRef>,
    ) -> Result<Option<RecordBatch>> {
        let bands = band_cols.len();
        let n = valid.len();
        let k = self.binning as f64;
        let mut line_col = Vec::with_capacity(n);
        let mut sample_col = Vec::with_capacity(n);
        let mut xs = Vec::with_capacity(n);
        let mut ys = Vec::with_capacity(n);
        for &p in valid {
            let l = first_line + p as usize / samples;
            let s = p as usize % samples;
            line_col.push(l as i32);
            sample_col.push(s as i32);
            // Centre of the k×k bin in input pixel coordinates (map_xy adds the half pixel).
            let (x, y) = self
                .header
                .map_xy(l as f64 * k + k / 2.0 - 0.5, s as f64 * k + k / 2.0 - 0.5);
            xs.push(x);
            ys.push(y);
        }

        let constants = self.constants(n)?;
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(11 + bands);
        cols.extend(constants[..5].iter().cloned());
        cols.push(Arc::new(Int32Array::from(line_col)));
        cols.push(Arc::new(Int32Array::from(sample_col)));
        cols.push(Arc::new(Float64Array::from(xs)));
        cols.push(Arc::new(Float64Array::from(ys)));
        cols.extend(constants[5..].iter().cloned());
        cols.extend(band_cols);
        RecordBatch::try_new(self.schema.clone(), cols)
            .map(Some)
            .map_err(|e| Error::Encode {
                cube_id: self.header.cube_id.clone(),
                reason: e.to_string(),
            })
    }

    /// The constant columns in schema order (`cube_id`, `farm_id`, `field_id`, `sensor_id`,
    /// `acquisition_time`, then `pipeline`, `calibration_version`) for `n` rows: slices of
    /// the cached ones, rebuilt when a block is longer than any before.
    fn constants(&self, n: usize) -> Result<Vec<ArrayRef>> {
        let mut cache = self
            .constants
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.first().is_none_or(|c| c.len() < n) {
            *cache = self.build_constants(n)?;
        }
        Ok(cache.iter().map(|c| c.slice(0, n)).collect())
    }

    fn build_constants(&self, n: usize) -> Result<Vec<ArrayRef>> {
        // `n` copies of a string: the bytes repeated and offsets in steps of its length.
        let repeat = |s: &str| -> Result<ArrayRef> {
            let too_long = || Error::Encode {
                cube_id: self.header.cube_id.clone(),
                reason: format!(
                    "{n} copies of a {}-byte identity string overflow a string column",
                    s.len()
                ),
            };
            i32::try_from(n.checked_mul(s.len()).ok_or_else(too_long)?).map_err(|_| too_long())?;
            let offsets: Vec<i32> = (0..=n).map(|i| (i * s.len()) as i32).collect();
            let array = StringArray::try_new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_vec(s.repeat(n).into_bytes()),
                None,
            )
            .map_err(|e| Error::Encode {
                cube_id: self.header.cube_id.clone(),
                reason: e.to_string(),
            })?;
            Ok(Arc::new(array))
        };
        Ok(vec![
            repeat(&self.header.cube_id)?,
            repeat(&self.header.farm_id)?,
            repeat(&self.header.field_id)?,
            repeat(&self.header.sensor_id)?,
            Arc::new(
                TimestampMicrosecondArray::from(vec![self.acquisition_us; n]).with_timezone("UTC"),
            ),
            repeat(self.pipeline.as_str())?,
            repeat(&self.calibration_version)?,
        ])
    }
}

/// Pixels of a band-major block (`flat[band · pixels + p]`) that are not NaN in every band.
/// A pixel with data in the first band is valid; only the others are looked at further.
fn valid_band_major(flat: &[f32], pixels: usize, bands: usize) -> Vec<u32> {
    let Some(first) = flat.get(..pixels) else {
        return Vec::new();
    };
    (0..pixels)
        .filter(|&p| {
            !first[p].is_nan()
                || (1..bands).any(|b| flat.get(b * pixels + p).is_some_and(|v| !v.is_nan()))
        })
        .map(|p| p as u32)
        .collect()
}
