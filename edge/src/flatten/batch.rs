//! Turning a [`CalibratedBlock`] into an Arrow [`RecordBatch`] of the Silver schema.
//!
//! The block is pixel-major (`[lines, samples, bands]`); Arrow is column-major, so this is a
//! transpose. No-data pixels (NaN in every band) are dropped, so a chip of fill values yields
//! no rows.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::SchemaRef;

use super::encoding::quantize_mantissa;
use super::schema::silver_schema;
use crate::calib::{CalibratedBlock, CalibrationPlan};
use crate::cube::CubeHeader;
use crate::error::{Error, Result};

/// Which pipeline wrote a row (the Silver `pipeline` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        let n = valid.len();
        let k = self.binning as f64;
        let mut line_col = Vec::with_capacity(n);
        let mut sample_col = Vec::with_capacity(n);
        let mut xs = Vec::with_capacity(n);
        let mut ys = Vec::with_capacity(n);
        for &p in &valid {
            let l = block.first_line + p as usize / samples;
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

        let mut cols: Vec<ArrayRef> = Vec::with_capacity(11 + bands);
        let repeat = |s: &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(s, n)))
        };
        cols.push(repeat(&self.header.cube_id));
        cols.push(repeat(&self.header.farm_id));
        cols.push(repeat(&self.header.field_id));
        cols.push(repeat(&self.header.sensor_id));
        cols.push(Arc::new(
            TimestampMicrosecondArray::from(vec![self.acquisition_us; n]).with_timezone("UTC"),
        ));
        cols.push(Arc::new(Int32Array::from(line_col)));
        cols.push(Arc::new(Int32Array::from(sample_col)));
        cols.push(Arc::new(Float64Array::from(xs)));
        cols.push(Arc::new(Float64Array::from(ys)));
        cols.push(repeat(self.pipeline.as_str()));
        cols.push(repeat(&self.calibration_version));

        // Transpose pixel-major → one column per band, in tiles of pixels for cache locality.
        let mut band_cols: Vec<Vec<f32>> = (0..bands).map(|_| Vec::with_capacity(n)).collect();
        for &p in &valid {
            let px = &flat[p as usize * bands..(p as usize + 1) * bands];
            for (col, &v) in band_cols.iter_mut().zip(px) {
                col.push(v);
            }
        }
        if let Some(bits) = self.mantissa_bits {
            for col in &mut band_cols {
                for v in col.iter_mut() {
                    *v = quantize_mantissa(*v, bits);
                }
            }
        }
        cols.extend(
            band_cols
                .into_iter()
                .map(|c| Arc::new(Float32Array::from(c)) as ArrayRef),
        );
        RecordBatch::try_new(self.schema.clone(), cols)
            .map(Some)
            .map_err(|e| Error::Encode {
                cube_id: self.header.cube_id.clone(),
                reason: e.to_string(),
            })
    }
}
