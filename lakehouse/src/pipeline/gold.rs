//! Refreshing Gold for the Silver partitions a run touched.
//!
//! Only the (farm, date) partitions with new Silver rows are re-read from Silver (a filtered
//! scan that Iceberg prunes to those partitions), so the cost follows the new data, not the
//! table. Every Gold row carries its lineage: `source_cube_ids` and the `silver_snapshot_id` it
//! was computed from. Gold is append-only (iceberg-rust 0.10 has no overwrite): when a partition
//! is recomputed, the newer rows carry a higher `silver_snapshot_id`, and readers take the row
//! with the highest one per plot and date ([`latest_plot_rows`] does this; the SQL in
//! `docs/trino/` shows the same with `row_number()`). Each refresh is committed once per Silver
//! snapshot (idempotency key `hsi.gold.silver-snapshot`), so a replay adds nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use futures::TryStreamExt;
use iceberg::Catalog;
use iceberg::expr::Reference;
use iceberg::spec::Datum;

use super::tables;
use crate::breeding::{BreedingRules, DecisionRow, decide};
use crate::error::{Error, Result};
use crate::gold::{
    PlotIndicesBuilder, PlotIndicesRow, compute_row_period, plot_indices, row_period,
};
use crate::refdata::{Plot, YieldRow};
use crate::table::{IdempotencyKey, append_batches_once, silver_reflectance};

/// Snapshot property / idempotency key of a Gold refresh.
pub const PROP_GOLD_SOURCE: &str = "hsi.gold.silver-snapshot";

/// What a refresh did.
#[derive(Debug, Clone, Default)]
pub struct GoldSummary {
    /// The Silver snapshot Gold was computed from.
    pub silver_snapshot_id: Option<i64>,
    /// (farm, date) partitions recomputed.
    pub partitions: usize,
    /// Plot-date rows written.
    pub plot_rows: usize,
    /// Row × week rows written.
    pub row_period_rows: usize,
    /// Current plot-date rows (latest per plot and date), all partitions.
    pub current_plot_rows: Vec<PlotIndicesRow>,
    /// The decisions of the touched seasons.
    pub decisions: Vec<DecisionRow>,
}

/// Recompute Gold for `touched` (see the module docs).
pub async fn refresh(
    catalog: &dyn Catalog,
    touched: &BTreeSet<(String, NaiveDate)>,
    plots: &[Plot],
    yields: &[YieldRow],
    rules: &BreedingRules,
) -> Result<GoldSummary> {
    let silver = catalog
        .load_table(&silver_reflectance())
        .await
        .map_err(Error::iceberg("load silver.reflectance"))?;
    let mut summary = GoldSummary {
        silver_snapshot_id: silver.metadata().current_snapshot_id(),
        partitions: touched.len(),
        ..GoldSummary::default()
    };
    if let (Some(snapshot), false) = (summary.silver_snapshot_id, touched.is_empty()) {
        let mut builder = PlotIndicesBuilder::new(plots, snapshot);
        for (farm, date) in touched {
            let start = date
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_micros())
                .unwrap_or_default();
            let end = start + 86_400_000_000;
            let filter = Reference::new("farm_id")
                .equal_to(Datum::string(farm))
                .and(
                    Reference::new("acquisition_time")
                        .greater_than_or_equal_to(Datum::timestamptz_micros(start)),
                )
                .and(Reference::new("acquisition_time").less_than(Datum::timestamptz_micros(end)));
            let mut stream = silver
                .scan()
                .snapshot_id(snapshot)
                .with_filter(filter)
                .build()
                .map_err(Error::iceberg("plan silver scan"))?
                .to_arrow()
                .await
                .map_err(Error::iceberg("scan silver"))?;
            while let Some(batch) = stream
                .try_next()
                .await
                .map_err(Error::iceberg("read silver"))?
            {
                builder.push(&batch)?;
            }
        }
        let rows = builder.finish();
        summary.plot_rows = rows.len();
        let key = IdempotencyKey::new([(PROP_GOLD_SOURCE, snapshot.to_string())])?;
        let batch = plot_indices::to_record_batch(&rows)?;
        append_batches_once(
            catalog,
            &tables::plot_indices(),
            &[batch],
            BTreeMap::new(),
            &key,
        )
        .await?;
    }

    // Row × week and decisions come from the current plot-date rows (Gold is small).
    let current = latest_plot_rows(read_plot_rows(catalog).await?);
    let touched_weeks: BTreeSet<(String, NaiveDate)> = touched
        .iter()
        .map(|(farm, d)| (farm.clone(), row_period::iso_week_start(*d)))
        .collect();
    let periods: Vec<_> = compute_row_period(&current)
        .into_iter()
        .filter(|r| touched_weeks.contains(&(r.farm_id.clone(), r.week_start)))
        .collect();
    summary.row_period_rows = periods.len();
    let seasons: BTreeSet<i32> = touched.iter().map(|(_, d)| d.year()).collect();
    let mut decisions = Vec::new();
    for season in &seasons {
        decisions.extend(decide(&current, yields, rules, *season));
    }
    if let Some(snapshot) = summary.silver_snapshot_id.filter(|_| !touched.is_empty()) {
        let key = IdempotencyKey::new([(PROP_GOLD_SOURCE, snapshot.to_string())])?;
        if !periods.is_empty() {
            let batch = row_period::to_record_batch(&periods)?;
            append_batches_once(
                catalog,
                &tables::row_period_indices(),
                &[batch],
                BTreeMap::new(),
                &key,
            )
            .await?;
        }
        if !decisions.is_empty() {
            let batch = crate::breeding::decide::to_record_batch(&decisions)?;
            append_batches_once(
                catalog,
                &tables::breeding_decisions(),
                &[batch],
                BTreeMap::new(),
                &key,
            )
            .await?;
        }
    } else if seasons.is_empty() {
        // Nothing new: report the decisions of every season Gold holds.
        let all: BTreeSet<i32> = current.iter().map(|r| r.acquisition_date.year()).collect();
        for season in all {
            decisions.extend(decide(&current, yields, rules, season));
        }
    }
    summary.decisions = decisions;
    summary.current_plot_rows = current;
    Ok(summary)
}

/// Every row of `gold.plot_indices` at its current snapshot.
pub async fn read_plot_rows(catalog: &dyn Catalog) -> Result<Vec<PlotIndicesRow>> {
    let table = catalog
        .load_table(&tables::plot_indices())
        .await
        .map_err(Error::iceberg("load gold.plot_indices"))?;
    if table.metadata().current_snapshot_id().is_none() {
        return Ok(Vec::new());
    }
    let batches: Vec<_> = table
        .scan()
        .build()
        .map_err(Error::iceberg("plan gold.plot_indices scan"))?
        .to_arrow()
        .await
        .map_err(Error::iceberg("scan gold.plot_indices"))?
        .try_collect()
        .await
        .map_err(Error::iceberg("read gold.plot_indices"))?;
    let mut rows = Vec::new();
    for b in &batches {
        rows.extend(plot_indices::from_record_batch(b)?);
    }
    Ok(rows)
}

/// Keep, per (farm, field, plot, date), the row computed from the newest Silver snapshot.
pub fn latest_plot_rows(rows: Vec<PlotIndicesRow>) -> Vec<PlotIndicesRow> {
    let mut best: BTreeMap<(String, String, String, NaiveDate), PlotIndicesRow> = BTreeMap::new();
    for r in rows {
        let k = (
            r.farm_id.clone(),
            r.field_id.clone(),
            r.plot_id.clone(),
            r.acquisition_date,
        );
        match best.get(&k) {
            Some(old) if old.silver_snapshot_id >= r.silver_snapshot_id => {}
            _ => {
                best.insert(k, r);
            }
        }
    }
    best.into_values().collect()
}
