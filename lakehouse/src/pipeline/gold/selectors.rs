//! Which Gold rows a refresh replaces, and the lineage columns it stamps on new rows.
//!
//! Each Gold table is keyed so that a refresh recomputes whole keys:
//!
//! | table | key | a refresh of `touched` (farm, day) pairs replaces |
//! |---|---|---|
//! | `gold.plot_indices` | farm, field, plot, day | the rows of those (farm, day) pairs |
//! | `gold.row_period_indices` | crop, farm, field, row, ISO week | the rows of those (farm, week) pairs |
//! | `gold.breeding_decisions` | trial, season, line | every row of those seasons |
//!
//! so after any sequence of refreshes a plain scan returns one row per key.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use iceberg::spec::{DataFile, Literal, PrimitiveLiteral};

use crate::error::{Error, Result};
use crate::gold::columns::{date32_column, days_to_date, i32_column, str_column};
use crate::table::RowSelector;

/// The (farm, day) pairs of a refresh, for `gold.plot_indices`.
pub(super) struct FarmDays<'a> {
    pub(super) table: &'static str,
    /// The date column: `acquisition_date` (plot rows) or `week_start` (row × week).
    pub(super) date_column: &'static str,
    pub(super) keys: &'a BTreeSet<(String, NaiveDate)>,
    /// Index of the `identity(farm_id)` partition field, if the table has one.
    pub(super) farm_partition: Option<usize>,
}

impl RowSelector for FarmDays<'_> {
    fn may_hold(&self, file: &DataFile) -> bool {
        match self.farm_partition.and_then(|i| partition_str(file, i)) {
            Some(farm) => self.keys.iter().any(|(f, _)| f == farm),
            None => true,
        }
    }

    fn replaced(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let farm = str_column(batch, self.table, "farm_id")?;
        let date = date32_column(batch, self.table, self.date_column)?;
        Ok((0..batch.num_rows())
            .map(|i| {
                let hit = match (farm.get(i), date.is_valid(i).then(|| date.value(i))) {
                    (Some(f), Some(d)) => {
                        days_to_date(d).is_some_and(|d| self.keys.contains(&(f.to_owned(), d)))
                    }
                    _ => false,
                };
                Some(hit)
            })
            .collect())
    }
}

/// The seasons of a refresh, for `gold.breeding_decisions` (partitioned by `identity(season)`).
pub(super) struct Seasons<'a> {
    pub(super) seasons: &'a BTreeSet<i32>,
}

impl RowSelector for Seasons<'_> {
    fn may_hold(&self, file: &DataFile) -> bool {
        match file.partition().fields().first() {
            Some(Some(Literal::Primitive(PrimitiveLiteral::Int(s)))) => self.seasons.contains(s),
            _ => true,
        }
    }

    fn replaced(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let season = i32_column(batch, "gold.breeding_decisions", "season")?;
        Ok(season
            .iter()
            .map(|s| Some(s.is_some_and(|s| self.seasons.contains(&s))))
            .collect())
    }
}

fn partition_str(file: &DataFile, index: usize) -> Option<&str> {
    match file.partition().fields().get(index)? {
        Some(Literal::Primitive(PrimitiveLiteral::String(s))) => Some(s.as_str()),
        _ => None,
    }
}

/// `silver_snapshot_id`: the Silver snapshot a Gold row was computed from.
pub const SILVER_SNAPSHOT_COLUMN: &str = "silver_snapshot_id";

/// The lineage columns a table's rows carry in addition to its computed columns:
/// `silver_snapshot_id` (unless the computed columns already have it) and the time column
/// (`computed_at` or `decided_at`, UTC).
pub fn lineage_fields(base: &Schema, time_column: &str) -> Vec<Field> {
    let mut out = Vec::new();
    if base.field_with_name(SILVER_SNAPSHOT_COLUMN).is_err() {
        out.push(Field::new(SILVER_SNAPSHOT_COLUMN, DataType::Int64, true));
    }
    out.push(Field::new(
        time_column,
        DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
        true,
    ));
    out
}

/// `base` plus its [`lineage_fields`].
pub fn with_lineage_schema(base: &SchemaRef, time_column: &str) -> SchemaRef {
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(lineage_fields(base, time_column));
    Arc::new(Schema::new(fields))
}

/// `batch` with the lineage columns appended: every row gets `silver_snapshot_id` and
/// `at_micros`.
pub(super) fn stamp(
    batch: &RecordBatch,
    time_column: &str,
    silver_snapshot_id: i64,
    at_micros: i64,
) -> Result<RecordBatch> {
    let schema = with_lineage_schema(&batch.schema(), time_column);
    let n = batch.num_rows();
    let mut columns = batch.columns().to_vec();
    if batch
        .schema()
        .field_with_name(SILVER_SNAPSHOT_COLUMN)
        .is_err()
    {
        columns.push(Arc::new(Int64Array::from(vec![silver_snapshot_id; n])));
    }
    columns.push(Arc::new(
        TimestampMicrosecondArray::from(vec![at_micros; n]).with_timezone("+00:00"),
    ));
    RecordBatch::try_new(schema, columns).map_err(Error::arrow(format!("stamp {time_column}")))
}
