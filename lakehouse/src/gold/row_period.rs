//! `gold.row_period_indices`: per crop, field row and ISO week, from plot-level rows.
//!
//! ## Grain
//!
//! One row per `(crop, farm_id, field_id, row, week_start)`, where `week_start` is the Monday
//! of the ISO 8601 week containing the plot row's `acquisition_date` (`iso_year`/`iso_week`
//! name the same week; near New Year the ISO year can differ from the calendar year).
//!
//! ## Weighting
//!
//! Each index mean is **pixel-weighted**: `Σ pixel_count · mean / Σ pixel_count` over the
//! plot-date rows of the group whose mean for that index is non-null. This equals the mean over
//! all the group's pixels whenever every pixel of a plot-date has a value for the index (the
//! normal case; a plot-date's mean is over its non-null pixels, and `pixel_count` counts all of
//! its pixels, so a plot-date with some null pixels is slightly over-weighted). It is computed
//! from `gold.plot_indices` alone, so the table can be refreshed without rereading Silver.
//!
//! `plot_count` is the number of distinct plots in the group (a plot flown twice in a week counts
//! once); `pixel_count` is the sum over the group's plot-date rows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use arrow_array::{
    ArrayRef, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{Datelike, NaiveDate, TimeDelta};

use super::columns::{date_to_days, make_batch};
use super::plot_indices::PlotIndicesRow;
use super::stats::WeightedMean;
use crate::error::Result;

/// The Iceberg table these rows go to.
pub const TABLE: &str = "gold.row_period_indices";

/// One row of `gold.row_period_indices`.
#[derive(Debug, Clone, PartialEq)]
pub struct RowPeriodRow {
    /// Crop.
    pub crop: String,
    /// Farm identifier.
    pub farm_id: String,
    /// Field identifier.
    pub field_id: String,
    /// Field row.
    pub row: i32,
    /// Monday of the ISO week.
    pub week_start: NaiveDate,
    /// ISO week-numbering year.
    pub iso_year: i32,
    /// ISO week number (1–53).
    pub iso_week: i32,
    /// Distinct plots contributing.
    pub plot_count: i64,
    /// Pixels contributing (sum of plot-date pixel counts).
    pub pixel_count: i64,
    /// Pixel-weighted mean NDVI.
    pub ndvi_mean: Option<f64>,
    /// Pixel-weighted mean NDWI.
    pub ndwi_mean: Option<f64>,
    /// Pixel-weighted mean NDRE.
    pub ndre_mean: Option<f64>,
    /// Pixel-weighted mean CIred-edge.
    pub cire_mean: Option<f64>,
    /// Pixel-weighted mean MCARI.
    pub mcari_mean: Option<f64>,
}

/// The Arrow schema of `gold.row_period_indices`.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let mean = |n: &str| Field::new(n, DataType::Float64, true);
        Arc::new(Schema::new(vec![
            Field::new("crop", DataType::Utf8, false),
            Field::new("farm_id", DataType::Utf8, false),
            Field::new("field_id", DataType::Utf8, false),
            Field::new("row", DataType::Int32, false),
            Field::new("week_start", DataType::Date32, false),
            Field::new("iso_year", DataType::Int32, false),
            Field::new("iso_week", DataType::Int32, false),
            Field::new("plot_count", DataType::Int64, false),
            Field::new("pixel_count", DataType::Int64, false),
            mean("ndvi_mean"),
            mean("ndwi_mean"),
            mean("ndre_mean"),
            mean("cire_mean"),
            mean("mcari_mean"),
        ]))
    });
    SCHEMA.clone()
}

/// The Monday starting the ISO week of `date`.
pub fn iso_week_start(date: NaiveDate) -> NaiveDate {
    let back = TimeDelta::days(i64::from(date.weekday().num_days_from_monday()));
    date.checked_sub_signed(back).unwrap_or(date)
}

#[derive(Default)]
struct Acc<'a> {
    plots: BTreeSet<&'a str>,
    pixels: i64,
    means: [WeightedMean; 5],
}

/// Aggregate plot-level rows to crop × field × row × ISO week, sorted by the grain's key.
pub fn compute_row_period(plot_rows: &[PlotIndicesRow]) -> Vec<RowPeriodRow> {
    type Key<'a> = (&'a str, &'a str, &'a str, i32, NaiveDate);
    let mut groups: BTreeMap<Key<'_>, Acc<'_>> = BTreeMap::new();
    for r in plot_rows {
        let key = (
            r.crop.as_str(),
            r.farm_id.as_str(),
            r.field_id.as_str(),
            r.row,
            iso_week_start(r.acquisition_date),
        );
        let acc = groups.entry(key).or_default();
        acc.plots.insert(&r.plot_id);
        acc.pixels = acc.pixels.saturating_add(r.pixel_count);
        let weight = r.pixel_count as f64;
        let values = [
            r.ndvi_mean,
            r.ndwi_mean,
            r.ndre_mean,
            r.cire_mean,
            r.mcari_mean,
        ];
        for (mean, value) in acc.means.iter_mut().zip(values) {
            if let Some(v) = value {
                mean.push(v, weight);
            }
        }
    }
    groups
        .into_iter()
        .map(|((crop, farm, field, row, week_start), acc)| {
            let iso = week_start.iso_week();
            let [ndvi, ndwi, ndre, cire, mcari] = acc.means.map(|m| m.mean());
            RowPeriodRow {
                crop: crop.to_owned(),
                farm_id: farm.to_owned(),
                field_id: field.to_owned(),
                row,
                week_start,
                iso_year: iso.year(),
                iso_week: i32::try_from(iso.week()).unwrap_or(i32::MAX),
                plot_count: i64::try_from(acc.plots.len()).unwrap_or(i64::MAX),
                pixel_count: acc.pixels,
                ndvi_mean: ndvi,
                ndwi_mean: ndwi,
                ndre_mean: ndre,
                cire_mean: cire,
                mcari_mean: mcari,
            }
        })
        .collect()
}

/// Build a `gold.row_period_indices` batch (schema [`arrow_schema()`]).
pub fn to_record_batch(rows: &[RowPeriodRow]) -> Result<RecordBatch> {
    let strings = |f: fn(&RowPeriodRow) -> &str| -> ArrayRef {
        Arc::new(rows.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    let ints = |f: fn(&RowPeriodRow) -> i32| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Int32Array>())
    };
    let longs = |f: fn(&RowPeriodRow) -> i64| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Int64Array>())
    };
    let mean = |f: fn(&RowPeriodRow) -> Option<f64>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Float64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        strings(|r| &r.crop),
        strings(|r| &r.farm_id),
        strings(|r| &r.field_id),
        ints(|r| r.row),
        Arc::new(
            rows.iter()
                .map(|r| Some(date_to_days(r.week_start)))
                .collect::<Date32Array>(),
        ),
        ints(|r| r.iso_year),
        ints(|r| r.iso_week),
        longs(|r| r.plot_count),
        longs(|r| r.pixel_count),
        mean(|r| r.ndvi_mean),
        mean(|r| r.ndwi_mean),
        mean(|r| r.ndre_mean),
        mean(|r| r.cire_mean),
        mean(|r| r.mcari_mean),
    ];
    make_batch(TABLE, arrow_schema(), columns)
}
