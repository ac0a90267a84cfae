//! Per-pixel vegetation indices over Silver band columns (DESIGN §8).
//!
//! ## Band lookup
//!
//! Each formula names reflectance at a wavelength, `R800` for 800 nm. The band used is the
//! Silver band column (`bNNNN`, see [`hsi_edge::flatten::schema::band_wavelength`]) whose
//! centre is nearest that wavelength, provided it lies within the *tolerance*
//! ([`DEFAULT_BAND_TOLERANCE_NM`] = 15 nm unless the caller chooses another). On the standard
//! 10 nm grid every VNIR wavelength below has an exact band; the tolerance only matters for
//! coarser or shifted grids. Ties go to the shorter wavelength. When a formula's band is not
//! within tolerance the index is null for every pixel of the batch: this is how NDWI comes out
//! null for VNIR-only sensors (no band near 1240 nm), and it equally covers a SWIR-only sensor
//! without red bands.
//!
//! ## Formulas
//!
//! | index | formula |
//! |---|---|
//! | NDVI | (R800 − R680) / (R800 + R680) |
//! | NDWI (Gao) | (R860 − R1240) / (R860 + R1240) |
//! | NDRE | (R750 − R705) / (R750 + R705) |
//! | CIred-edge | R760 / R700 − 1 |
//! | MCARI | [(R700 − R670) − 0.2 (R700 − R550)] · (R700 / R670) |
//!
//! ## Nulls
//!
//! A pixel's index is null when any input band is null, or when the result is not finite (a
//! zero denominator). Values are not clamped: noisy negative reflectance can push a normalised
//! difference outside [−1, 1], and hiding that would hide a calibration problem.
//!
//! The kernels run column-at-a-time over the Float32 value slices (loops the compiler
//! vectorises), then combine validity bitmaps; no per-pixel branching or allocation.

use std::sync::{Arc, LazyLock};

use arrow_array::{Array, ArrayRef, Float32Array, RecordBatch};
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hsi_edge::flatten::schema::band_wavelength;

use crate::error::{Error, Result};

/// The default nearest-band tolerance, in nanometres.
pub const DEFAULT_BAND_TOLERANCE_NM: f32 = 15.0;

const SILVER: &str = "silver.reflectance";

/// One Silver band column: its position in the batch and its centre wavelength.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandRef {
    /// Column index in the batch schema.
    pub column: usize,
    /// Band centre in nm, as encoded in the column name.
    pub nm: f32,
}

/// The band columns of a Silver schema, sorted by wavelength.
#[derive(Debug, Clone, Default)]
pub struct BandSet {
    bands: Vec<BandRef>,
}

impl BandSet {
    /// Collect the columns whose names are band names (`bNNNN`).
    pub fn from_schema(schema: &Schema) -> Self {
        let mut bands: Vec<BandRef> = schema
            .fields()
            .iter()
            .enumerate()
            .filter_map(|(column, f)| band_wavelength(f.name()).map(|nm| BandRef { column, nm }))
            .collect();
        bands.sort_by(|a, b| a.nm.total_cmp(&b.nm));
        BandSet { bands }
    }

    /// The band nearest `nm`, if within `tolerance_nm`; ties go to the shorter wavelength.
    pub fn nearest(&self, nm: f32, tolerance_nm: f32) -> Option<BandRef> {
        self.bands
            .iter()
            .copied()
            .filter(|b| (b.nm - nm).abs() <= tolerance_nm)
            // `min_by` keeps the first of equal elements, and bands are sorted ascending.
            .min_by(|a, b| (a.nm - nm).abs().total_cmp(&(b.nm - nm).abs()))
    }

    /// The number of band columns.
    pub fn len(&self) -> usize {
        self.bands.len()
    }

    /// Whether there are no band columns.
    pub fn is_empty(&self) -> bool {
        self.bands.is_empty()
    }
}

/// The five indices Gold computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VegetationIndex {
    /// Normalised difference vegetation index.
    Ndvi,
    /// Gao's normalised difference water index (needs SWIR).
    Ndwi,
    /// Normalised difference red-edge index.
    Ndre,
    /// Red-edge chlorophyll index.
    CiRedEdge,
    /// Modified chlorophyll absorption in reflectance index.
    Mcari,
}

impl VegetationIndex {
    /// All indices, in output column order.
    pub const ALL: [VegetationIndex; 5] = [
        VegetationIndex::Ndvi,
        VegetationIndex::Ndwi,
        VegetationIndex::Ndre,
        VegetationIndex::CiRedEdge,
        VegetationIndex::Mcari,
    ];

    /// Column name (`ndvi`, `ndwi`, `ndre`, `cire`, `mcari`).
    pub fn name(self) -> &'static str {
        match self {
            VegetationIndex::Ndvi => "ndvi",
            VegetationIndex::Ndwi => "ndwi",
            VegetationIndex::Ndre => "ndre",
            VegetationIndex::CiRedEdge => "cire",
            VegetationIndex::Mcari => "mcari",
        }
    }

    /// The wavelengths (nm) the formula reads, in formula order.
    pub fn wavelengths(self) -> &'static [f32] {
        match self {
            VegetationIndex::Ndvi => &[800.0, 680.0],
            VegetationIndex::Ndwi => &[860.0, 1240.0],
            VegetationIndex::Ndre => &[750.0, 705.0],
            VegetationIndex::CiRedEdge => &[760.0, 700.0],
            VegetationIndex::Mcari => &[700.0, 670.0, 550.0],
        }
    }
}

/// For each index, the band columns its formula reads (`None` when a band is missing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexBands {
    resolved: [Option<Vec<BandRef>>; 5],
}

impl IndexBands {
    /// Resolve every index's bands in `schema` within `tolerance_nm`.
    pub fn resolve(schema: &Schema, tolerance_nm: f32) -> Self {
        let set = BandSet::from_schema(schema);
        let resolved = VegetationIndex::ALL.map(|index| {
            index
                .wavelengths()
                .iter()
                .map(|&nm| set.nearest(nm, tolerance_nm))
                .collect::<Option<Vec<_>>>()
        });
        IndexBands { resolved }
    }

    /// The bands for `index`, in formula order; `None` when one is out of tolerance.
    pub fn bands(&self, index: VegetationIndex) -> Option<&[BandRef]> {
        let slot = VegetationIndex::ALL.iter().position(|i| *i == index)?;
        self.resolved[slot].as_deref()
    }
}

/// Per-pixel indices for one Silver batch, each a Float32 column as long as the batch.
#[derive(Debug, Clone)]
pub struct PixelIndices {
    /// NDVI.
    pub ndvi: Float32Array,
    /// NDWI (Gao); all null without a band near 1240 nm.
    pub ndwi: Float32Array,
    /// NDRE.
    pub ndre: Float32Array,
    /// CIred-edge.
    pub cire: Float32Array,
    /// MCARI.
    pub mcari: Float32Array,
}

impl PixelIndices {
    /// The column for `index`.
    pub fn get(&self, index: VegetationIndex) -> &Float32Array {
        match index {
            VegetationIndex::Ndvi => &self.ndvi,
            VegetationIndex::Ndwi => &self.ndwi,
            VegetationIndex::Ndre => &self.ndre,
            VegetationIndex::CiRedEdge => &self.cire,
            VegetationIndex::Mcari => &self.mcari,
        }
    }

    /// The indices as a batch with schema [`indices_schema`].
    pub fn to_record_batch(&self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = VegetationIndex::ALL
            .iter()
            .map(|&i| Arc::new(self.get(i).clone()) as ArrayRef)
            .collect();
        RecordBatch::try_new(indices_schema(), columns)
            .map_err(|e| Error::arrow_data(SILVER, e.to_string()))
    }
}

/// Schema of [`PixelIndices::to_record_batch`]: nullable Float32 `ndvi, ndwi, ndre, cire, mcari`.
pub fn indices_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(
            VegetationIndex::ALL
                .iter()
                .map(|i| Field::new(i.name(), DataType::Float32, true))
                .collect::<Vec<_>>(),
        ))
    });
    SCHEMA.clone()
}

/// Compute all indices for a Silver batch with the default tolerance.
pub fn compute_indices(batch: &RecordBatch) -> Result<PixelIndices> {
    let bands = IndexBands::resolve(batch.schema_ref(), DEFAULT_BAND_TOLERANCE_NM);
    compute_indices_with(batch, &bands)
}

/// Compute all indices for a Silver batch with bands resolved beforehand (against this
/// batch's schema).
pub fn compute_indices_with(batch: &RecordBatch, bands: &IndexBands) -> Result<PixelIndices> {
    let rows = batch.num_rows();
    let band = |b: &BandRef| -> Result<&Float32Array> {
        let array = batch.columns().get(b.column).ok_or_else(|| {
            Error::arrow_data(SILVER, format!("band column {} is out of range", b.column))
        })?;
        array
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| {
                let name = batch.schema_ref().field(b.column).name().clone();
                Error::arrow_data(
                    SILVER,
                    format!(
                        "band column `{name}` has type {}, expected Float32",
                        array.data_type()
                    ),
                )
            })
    };
    let null = || -> Result<Float32Array> { Ok(Float32Array::new_null(rows)) };
    let pair = |index: VegetationIndex, f: fn(f32, f32) -> f32| -> Result<Float32Array> {
        match bands.bands(index) {
            Some([a, b]) => Ok(kernel2(band(a)?, band(b)?, f)),
            _ => null(),
        }
    };
    let ndvi = pair(VegetationIndex::Ndvi, normalized_difference)?;
    let ndwi = pair(VegetationIndex::Ndwi, normalized_difference)?;
    let ndre = pair(VegetationIndex::Ndre, normalized_difference)?;
    let cire = pair(VegetationIndex::CiRedEdge, |r760, r700| r760 / r700 - 1.0)?;
    let mcari = match bands.bands(VegetationIndex::Mcari) {
        Some([r700, r670, r550]) => kernel3(band(r700)?, band(r670)?, band(r550)?, mcari),
        _ => null()?,
    };
    Ok(PixelIndices {
        ndvi,
        ndwi,
        ndre,
        cire,
        mcari,
    })
}

fn normalized_difference(a: f32, b: f32) -> f32 {
    (a - b) / (a + b)
}

fn mcari(r700: f32, r670: f32, r550: f32) -> f32 {
    ((r700 - r670) - 0.2 * (r700 - r550)) * (r700 / r670)
}

fn kernel2(a: &Float32Array, b: &Float32Array, f: fn(f32, f32) -> f32) -> Float32Array {
    let values: Vec<f32> = a
        .values()
        .iter()
        .zip(b.values().iter())
        .map(|(&a, &b)| f(a, b))
        .collect();
    finish(values, NullBuffer::union(a.nulls(), b.nulls()))
}

fn kernel3(
    a: &Float32Array,
    b: &Float32Array,
    c: &Float32Array,
    f: fn(f32, f32, f32) -> f32,
) -> Float32Array {
    let values: Vec<f32> = a
        .values()
        .iter()
        .zip(b.values().iter())
        .zip(c.values().iter())
        .map(|((&a, &b), &c)| f(a, b, c))
        .collect();
    let ab = NullBuffer::union(a.nulls(), b.nulls());
    finish(values, NullBuffer::union(ab.as_ref(), c.nulls()))
}

/// Wrap computed values, nulling the non-finite ones on top of the inputs' nulls.
fn finish(values: Vec<f32>, nulls: Option<NullBuffer>) -> Float32Array {
    let nulls = if values.iter().all(|v| v.is_finite()) {
        nulls
    } else {
        let finite = NullBuffer::new(BooleanBuffer::collect_bool(values.len(), |i| {
            values[i].is_finite()
        }));
        NullBuffer::union(nulls.as_ref(), Some(&finite))
    };
    Float32Array::new(ScalarBuffer::from(values), nulls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(names: &[&str]) -> Schema {
        Schema::new(
            names
                .iter()
                .map(|n| Field::new(*n, DataType::Float32, true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn nearest_band_respects_tolerance_and_ties() {
        let set = BandSet::from_schema(&schema(&["cube_id", "b0675", "b0685", "b1250", "b0800"]));
        assert_eq!(set.len(), 4);
        // 680 is 5 nm from both 675 and 685: the shorter wavelength wins.
        assert_eq!(set.nearest(680.0, 15.0).map(|b| b.nm), Some(675.0));
        assert_eq!(set.nearest(1240.0, 15.0).map(|b| b.column), Some(3));
        assert_eq!(set.nearest(1240.0, 5.0), None);
        assert_eq!(set.nearest(550.0, 15.0), None);
    }

    #[test]
    fn kernels_null_out_non_finite_results() {
        let a = Float32Array::from(vec![Some(0.5), Some(0.0), None, Some(0.3)]);
        let b = Float32Array::from(vec![Some(0.1), Some(0.0), Some(0.2), Some(-0.3)]);
        let r = kernel2(&a, &b, normalized_difference);
        assert!((r.value(0) - 0.6666667).abs() < 1e-7);
        assert!(r.is_null(1), "0/0 is null");
        assert!(r.is_null(2), "null input is null");
        assert!(r.is_null(3), "x/0 is null");
    }
}
