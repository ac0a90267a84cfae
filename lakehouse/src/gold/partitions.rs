//! Which Gold partitions a Silver delta touches, for incremental refresh.
//!
//! `gold.plot_indices` rows are keyed by farm and UTC acquisition day, so a Silver append only
//! changes the `(farm_id, date)` pairs present in the appended rows. A refresh recomputes
//! exactly those pairs (reading all of Silver for each pair, not just the delta, since a plot's
//! statistics depend on all its pixels that day) and replaces their Gold rows. The
//! `gold.row_period_indices` weeks to refresh follow from the dates via
//! [`super::row_period::iso_week_start`].

use std::collections::BTreeSet;

use arrow_array::RecordBatch;
use chrono::NaiveDate;

use super::columns::{required_str, str_column, timestamp_column, utc_date_from_micros};
use crate::error::{Error, Result};

const SILVER: &str = "silver.reflectance";

/// The distinct `(farm_id, UTC acquisition date)` pairs in `silver_batches`, sorted.
pub fn touched_partitions(silver_batches: &[RecordBatch]) -> Result<BTreeSet<(String, NaiveDate)>> {
    let mut touched = BTreeSet::new();
    for batch in silver_batches {
        let farm = str_column(batch, SILVER, "farm_id")?;
        let time = timestamp_column(batch, SILVER, "acquisition_time")?;
        let mut last: Option<(&str, NaiveDate)> = None;
        for i in 0..batch.num_rows() {
            let farm_id = required_str(&farm, SILVER, "farm_id", i)?;
            let date = time
                .micros(i)
                .and_then(utc_date_from_micros)
                .ok_or_else(|| {
                    Error::arrow_data(
                        SILVER,
                        format!("column `acquisition_time` is null or out of range at row {i}"),
                    )
                })?;
            // Batches are usually one cube: skip the set lookup for repeats.
            if last != Some((farm_id, date)) {
                touched.insert((farm_id.to_owned(), date));
                last = Some((farm_id, date));
            }
        }
    }
    Ok(touched)
}
