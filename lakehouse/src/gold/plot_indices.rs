//! `gold.plot_indices`: vegetation-index statistics per plot and acquisition date.
//!
//! ## Grain and columns
//!
//! One row per `(farm_id, field_id, plot_id, acquisition_date)`, where `acquisition_date` is
//! the UTC calendar day of the Silver `acquisition_time`. Pixels are assigned to plots by
//! [`super::assign`]; pixels outside every plot are counted ([`PlotIndicesBuilder::unassigned_pixels`])
//! and otherwise ignored.
//!
//! | column | meaning |
//! |---|---|
//! | `pixel_count` | pixels of the plot that day (including pixels whose indices are null) |
//! | `ndvi_mean`, `ndvi_stddev` | mean and **population** standard deviation (divisor n, numpy `ddof=0`) of non-null pixel NDVI |
//! | `ndvi_p10/p50/p90` | exact percentiles of pixel NDVI, numpy's default linear interpolation (see [`super::stats::percentile`]) |
//! | `ndwi_mean`, `ndre_mean`, `cire_mean`, `mcari_mean` | means of non-null pixel values |
//! | `row`, `crop`, `line_id`, `trial_id`, `is_check` | copied from the plot's boundary record |
//! | `calibration_version` | the Silver calibration version; when pixels of several versions contribute (two sensors the same day), the distinct versions sorted and joined with `,` |
//! | `source_cube_ids` | the distinct contributing cube ids, sorted |
//! | `silver_snapshot_id` | the Silver snapshot the computation read, as given by the caller |
//!
//! Every statistic is null when no pixel had a non-null value for it (NDWI on VNIR-only
//! sensors). Means are accumulated in `f64` from the `f32` pixel values.
//!
//! ## Memory
//!
//! Accumulators are streaming (count, Welford moments, sums) and constant-size per plot-date,
//! except the NDVI values kept (as `f32`) per plot-date for the exact percentiles: 4 bytes per
//! assigned pixel. Feed Silver batch by batch to [`PlotIndicesBuilder::push`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;

use super::assign::PlotIndex;
use super::columns::{
    bool_column, date_to_days, date32_column, f64_column, i32_column, i64_column, make_batch, opt,
    required, required_date, required_str, str_column, string_list_array, string_list_column,
    string_list_type, timestamp_column, utc_date_from_micros,
};
use super::indices::{BandSet, DEFAULT_BAND_TOLERANCE_NM, IndexBands, compute_indices_with};
use super::stats::{Mean, Moments, percentile};
use crate::error::{Error, Result};
use crate::refdata::Plot;

/// The Iceberg table these rows go to.
pub const TABLE: &str = "gold.plot_indices";
const SILVER: &str = "silver.reflectance";

/// One row of `gold.plot_indices`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotIndicesRow {
    /// Farm identifier.
    pub farm_id: String,
    /// Field identifier.
    pub field_id: String,
    /// Plot identifier.
    pub plot_id: String,
    /// UTC day of acquisition.
    pub acquisition_date: NaiveDate,
    /// The field row of the plot.
    pub row: i32,
    /// Pixels assigned to the plot that day.
    pub pixel_count: i64,
    /// Mean pixel NDVI.
    pub ndvi_mean: Option<f64>,
    /// Population standard deviation of pixel NDVI.
    pub ndvi_stddev: Option<f64>,
    /// 10th percentile of pixel NDVI.
    pub ndvi_p10: Option<f64>,
    /// Median pixel NDVI.
    pub ndvi_p50: Option<f64>,
    /// 90th percentile of pixel NDVI.
    pub ndvi_p90: Option<f64>,
    /// Mean pixel NDWI (null without SWIR).
    pub ndwi_mean: Option<f64>,
    /// Mean pixel NDRE.
    pub ndre_mean: Option<f64>,
    /// Mean pixel CIred-edge.
    pub cire_mean: Option<f64>,
    /// Mean pixel MCARI.
    pub mcari_mean: Option<f64>,
    /// Breeding line.
    pub line_id: String,
    /// Trial.
    pub trial_id: String,
    /// Whether the line is a check.
    pub is_check: bool,
    /// Crop.
    pub crop: String,
    /// Calibration version(s) of the contributing pixels.
    pub calibration_version: String,
    /// Contributing cube ids, sorted and unique.
    pub source_cube_ids: Vec<String>,
    /// The Silver snapshot read.
    pub silver_snapshot_id: i64,
}

/// The Arrow schema of `gold.plot_indices`.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let utf8 = |n: &str| Field::new(n, DataType::Utf8, false);
        let stat = |n: &str| Field::new(n, DataType::Float64, true);
        Arc::new(Schema::new(vec![
            utf8("farm_id"),
            utf8("field_id"),
            utf8("plot_id"),
            Field::new("acquisition_date", DataType::Date32, false),
            Field::new("row", DataType::Int32, false),
            Field::new("pixel_count", DataType::Int64, false),
            stat("ndvi_mean"),
            stat("ndvi_stddev"),
            stat("ndvi_p10"),
            stat("ndvi_p50"),
            stat("ndvi_p90"),
            stat("ndwi_mean"),
            stat("ndre_mean"),
            stat("cire_mean"),
            stat("mcari_mean"),
            utf8("line_id"),
            utf8("trial_id"),
            Field::new("is_check", DataType::Boolean, false),
            utf8("crop"),
            utf8("calibration_version"),
            Field::new("source_cube_ids", string_list_type(), false),
            Field::new("silver_snapshot_id", DataType::Int64, false),
        ]))
    });
    SCHEMA.clone()
}

/// Accumulators for one plot and day.
#[derive(Debug, Default)]
struct Acc {
    pixels: u64,
    ndvi: Moments,
    ndvi_values: Vec<f32>,
    ndwi: Mean,
    ndre: Mean,
    cire: Mean,
    mcari: Mean,
    calibration_versions: BTreeSet<String>,
    cube_ids: BTreeSet<String>,
}

fn insert_str(set: &mut BTreeSet<String>, s: &str) {
    if !set.contains(s) {
        set.insert(s.to_owned());
    }
}

fn valid(a: &Float32Array, i: usize) -> Option<f32> {
    a.is_valid(i).then(|| a.value(i))
}

/// Streams Silver batches into per-plot, per-day accumulators.
#[derive(Debug)]
pub struct PlotIndicesBuilder<'a> {
    index: PlotIndex<'a>,
    silver_snapshot_id: i64,
    tolerance_nm: f32,
    groups: HashMap<(usize, NaiveDate), Acc>,
    pixels_seen: u64,
    pixels_unassigned: u64,
}

impl<'a> PlotIndicesBuilder<'a> {
    /// A builder over `plots`, stamping rows with `silver_snapshot_id`.
    pub fn new(plots: &'a [Plot], silver_snapshot_id: i64) -> Self {
        PlotIndicesBuilder {
            index: PlotIndex::new(plots),
            silver_snapshot_id,
            tolerance_nm: DEFAULT_BAND_TOLERANCE_NM,
            groups: HashMap::new(),
            pixels_seen: 0,
            pixels_unassigned: 0,
        }
    }

    /// Use another nearest-band tolerance (see [`super::indices`]).
    pub fn with_band_tolerance(mut self, tolerance_nm: f32) -> Self {
        self.tolerance_nm = tolerance_nm;
        self
    }

    /// Pixels pushed so far.
    pub fn pixels_seen(&self) -> u64 {
        self.pixels_seen
    }

    /// Pixels pushed so far that fell outside every plot.
    pub fn unassigned_pixels(&self) -> u64 {
        self.pixels_unassigned
    }

    /// Add one Silver batch. Either the whole batch is added or, on error, none of it.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        if BandSet::from_schema(batch.schema_ref()).is_empty() {
            return Err(Error::arrow_data(
                SILVER,
                "the batch has no band columns (bNNNN)",
            ));
        }
        let bands = IndexBands::resolve(batch.schema_ref(), self.tolerance_nm);
        let indices = compute_indices_with(batch, &bands)?;
        let located = self.index.assign_batch(batch)?;
        let time = timestamp_column(batch, SILVER, "acquisition_time")?;
        let cube = str_column(batch, SILVER, "cube_id")?;
        let calib = str_column(batch, SILVER, "calibration_version")?;

        // Validate every assigned row before touching the accumulators.
        let mut keyed = Vec::with_capacity(batch.num_rows());
        for (i, plot) in located.iter().enumerate() {
            let Some(plot) = *plot else { continue };
            let micros = time.micros(i).ok_or_else(|| {
                Error::arrow_data(
                    SILVER,
                    format!("column `acquisition_time` is null at row {i}"),
                )
            })?;
            let date = utc_date_from_micros(micros).ok_or_else(|| {
                Error::arrow_data(
                    SILVER,
                    format!("acquisition_time {micros} µs is out of range at row {i}"),
                )
            })?;
            let cube_id = required_str(&cube, SILVER, "cube_id", i)?;
            let version = required_str(&calib, SILVER, "calibration_version", i)?;
            keyed.push((i, plot, date, cube_id, version));
        }

        self.pixels_seen += batch.num_rows() as u64;
        self.pixels_unassigned += (batch.num_rows() - keyed.len()) as u64;
        for (i, plot, date, cube_id, version) in keyed {
            let acc = self.groups.entry((plot, date)).or_default();
            acc.pixels += 1;
            if let Some(v) = valid(&indices.ndvi, i) {
                acc.ndvi.push(f64::from(v));
                acc.ndvi_values.push(v);
            }
            for (mean, column) in [
                (&mut acc.ndwi, &indices.ndwi),
                (&mut acc.ndre, &indices.ndre),
                (&mut acc.cire, &indices.cire),
                (&mut acc.mcari, &indices.mcari),
            ] {
                if let Some(v) = valid(column, i) {
                    mean.push(f64::from(v));
                }
            }
            insert_str(&mut acc.cube_ids, cube_id);
            insert_str(&mut acc.calibration_versions, version);
        }
        Ok(())
    }

    /// The rows, sorted by `(farm_id, field_id, plot_id, acquisition_date)`.
    pub fn finish(self) -> Vec<PlotIndicesRow> {
        let plots = self.index.plots();
        let snapshot = self.silver_snapshot_id;
        let mut rows: Vec<PlotIndicesRow> = self
            .groups
            .into_iter()
            .map(|((plot, date), mut acc)| {
                let p = &plots[plot];
                acc.ndvi_values.sort_unstable_by(f32::total_cmp);
                let q = |p: f64| percentile(&acc.ndvi_values, p);
                PlotIndicesRow {
                    farm_id: p.farm_id.clone(),
                    field_id: p.field_id.clone(),
                    plot_id: p.plot_id.clone(),
                    acquisition_date: date,
                    row: p.row,
                    pixel_count: i64::try_from(acc.pixels).unwrap_or(i64::MAX),
                    ndvi_mean: acc.ndvi.mean(),
                    ndvi_stddev: acc.ndvi.population_stddev(),
                    ndvi_p10: q(0.1),
                    ndvi_p50: q(0.5),
                    ndvi_p90: q(0.9),
                    ndwi_mean: acc.ndwi.mean(),
                    ndre_mean: acc.ndre.mean(),
                    cire_mean: acc.cire.mean(),
                    mcari_mean: acc.mcari.mean(),
                    line_id: p.line_id.clone(),
                    trial_id: p.trial_id.clone(),
                    is_check: p.is_check,
                    crop: p.crop.clone(),
                    calibration_version: acc
                        .calibration_versions
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(","),
                    source_cube_ids: acc.cube_ids.into_iter().collect(),
                    silver_snapshot_id: snapshot,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            (&a.farm_id, &a.field_id, &a.plot_id, a.acquisition_date).cmp(&(
                &b.farm_id,
                &b.field_id,
                &b.plot_id,
                b.acquisition_date,
            ))
        });
        rows
    }
}

/// Compute `gold.plot_indices` rows from Silver batches in one call.
///
/// `silver_snapshot_id` is the snapshot the batches were scanned from; it is recorded on
/// every row so a Gold row can be traced to its input.
pub fn compute_plot_indices(
    silver_batches: &[RecordBatch],
    plots: &[Plot],
    silver_snapshot_id: i64,
) -> Result<Vec<PlotIndicesRow>> {
    let mut builder = PlotIndicesBuilder::new(plots, silver_snapshot_id);
    for batch in silver_batches {
        builder.push(batch)?;
    }
    Ok(builder.finish())
}

/// Build a `gold.plot_indices` batch (schema [`arrow_schema()`]).
pub fn to_record_batch(rows: &[PlotIndicesRow]) -> Result<RecordBatch> {
    let strings = |f: fn(&PlotIndicesRow) -> &str| -> ArrayRef {
        Arc::new(rows.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    let stat = |f: fn(&PlotIndicesRow) -> Option<f64>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Float64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        strings(|r| &r.farm_id),
        strings(|r| &r.field_id),
        strings(|r| &r.plot_id),
        Arc::new(
            rows.iter()
                .map(|r| Some(date_to_days(r.acquisition_date)))
                .collect::<Date32Array>(),
        ),
        Arc::new(rows.iter().map(|r| r.row).collect::<Int32Array>()),
        Arc::new(rows.iter().map(|r| r.pixel_count).collect::<Int64Array>()),
        stat(|r| r.ndvi_mean),
        stat(|r| r.ndvi_stddev),
        stat(|r| r.ndvi_p10),
        stat(|r| r.ndvi_p50),
        stat(|r| r.ndvi_p90),
        stat(|r| r.ndwi_mean),
        stat(|r| r.ndre_mean),
        stat(|r| r.cire_mean),
        stat(|r| r.mcari_mean),
        strings(|r| &r.line_id),
        strings(|r| &r.trial_id),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.is_check))
                .collect::<BooleanArray>(),
        ),
        strings(|r| &r.crop),
        strings(|r| &r.calibration_version),
        Arc::new(string_list_array(
            rows.iter().map(|r| r.source_cube_ids.as_slice()),
        )),
        Arc::new(
            rows.iter()
                .map(|r| r.silver_snapshot_id)
                .collect::<Int64Array>(),
        ),
    ];
    make_batch(TABLE, arrow_schema(), columns)
}

/// Read rows back from a `gold.plot_indices` batch (e.g. scanned from the table, to refresh
/// `gold.row_period_indices` or the breeding decisions).
pub fn from_record_batch(batch: &RecordBatch) -> Result<Vec<PlotIndicesRow>> {
    let s = |n| str_column(batch, TABLE, n);
    let (farm, field, plot, line, trial, crop, calib) = (
        s("farm_id")?,
        s("field_id")?,
        s("plot_id")?,
        s("line_id")?,
        s("trial_id")?,
        s("crop")?,
        s("calibration_version")?,
    );
    let f = |n| f64_column(batch, TABLE, n);
    let stats = [
        f("ndvi_mean")?,
        f("ndvi_stddev")?,
        f("ndvi_p10")?,
        f("ndvi_p50")?,
        f("ndvi_p90")?,
        f("ndwi_mean")?,
        f("ndre_mean")?,
        f("cire_mean")?,
        f("mcari_mean")?,
    ];
    let date = date32_column(batch, TABLE, "acquisition_date")?;
    let row = i32_column(batch, TABLE, "row")?;
    let pixels = i64_column(batch, TABLE, "pixel_count")?;
    let check = bool_column(batch, TABLE, "is_check")?;
    let snapshot = i64_column(batch, TABLE, "silver_snapshot_id")?;
    let cube_ids = string_list_column(batch, TABLE, "source_cube_ids")?;
    (0..batch.num_rows())
        .map(|i| {
            let text = |c: &super::columns::StrColumn<'_>, n| {
                required_str(c, TABLE, n, i).map(str::to_owned)
            };
            if !check.is_valid(i) {
                return Err(Error::arrow_data(
                    TABLE,
                    format!("column `is_check` is null at row {i}"),
                ));
            }
            Ok(PlotIndicesRow {
                farm_id: text(&farm, "farm_id")?,
                field_id: text(&field, "field_id")?,
                plot_id: text(&plot, "plot_id")?,
                acquisition_date: required_date(date, TABLE, "acquisition_date", i)?,
                row: required(row, TABLE, "row", i)?,
                pixel_count: required(pixels, TABLE, "pixel_count", i)?,
                ndvi_mean: opt(stats[0], i),
                ndvi_stddev: opt(stats[1], i),
                ndvi_p10: opt(stats[2], i),
                ndvi_p50: opt(stats[3], i),
                ndvi_p90: opt(stats[4], i),
                ndwi_mean: opt(stats[5], i),
                ndre_mean: opt(stats[6], i),
                cire_mean: opt(stats[7], i),
                mcari_mean: opt(stats[8], i),
                line_id: text(&line, "line_id")?,
                trial_id: text(&trial, "trial_id")?,
                is_check: check.value(i),
                crop: text(&crop, "crop")?,
                calibration_version: text(&calib, "calibration_version")?,
                source_cube_ids: cube_ids.at(i)?,
                silver_snapshot_id: required(snapshot, TABLE, "silver_snapshot_id", i)?,
            })
        })
        .collect()
}
