//! Refreshing Gold for the Silver partitions a run touched.
//!
//! Only the (farm, date) partitions with new Silver rows are re-read from Silver (a filtered
//! scan that Iceberg prunes to those partitions), so the cost follows the new data, not the
//! table. Silver holds only current rows (see [`crate::identity`]), so Gold is computed from
//! the current version of every raw object.
//!
//! Each refresh **replaces** what it recomputes ([`crate::table::replace_rows`], keys in
//! [`selectors`]): the plot-date rows of the touched (farm, date) pairs, the row × week rows
//! of their weeks, and the decisions of their seasons, each in one `overwrite` snapshot per
//! table. After any sequence of refreshes a plain `SELECT *` returns one row per key; older
//! results stay readable by time travel. Every Gold row carries its lineage:
//! `source_cube_ids` (plot rows), the `silver_snapshot_id` it was computed from, and when
//! (`computed_at`, `decided_at`). A refresh is committed once per Silver snapshot and set of
//! touched partitions (idempotency key `hsi.gold.refresh`), so a replay adds nothing.

mod selectors;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Utc};
use futures::TryStreamExt;
use iceberg::expr::Reference;
use iceberg::spec::Datum;
use sha2::{Digest, Sha256};

use selectors::{FarmDays, Seasons, stamp};
pub use selectors::{SILVER_SNAPSHOT_COLUMN, lineage_fields, with_lineage_schema};

use super::tables;
use crate::breeding::{BreedingRules, DecisionRow, decide};
use crate::error::{Error, Result};
use crate::gold::columns::days_to_date;
use crate::gold::{
    PlotIndicesBuilder, PlotIndicesRow, compute_row_period, plot_indices, row_period,
};
use crate::refdata::{Plot, YieldRow};
use crate::table::commit::LakeCatalog;
use crate::table::{Expect, IdempotencyKey, ReplaceOutcome, replace_rows_if, silver_reflectance};

/// Snapshot property: the Silver snapshot a Gold commit was computed from.
pub const PROP_GOLD_SOURCE: &str = "hsi.gold.silver-snapshot";
/// Snapshot property / idempotency key of one refresh: 16 hex digits of the SHA-256 of the
/// Silver snapshot and the touched partitions.
pub const PROP_GOLD_REFRESH: &str = "hsi.gold.refresh";

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
    /// Current plot-date rows (one per plot and date), all partitions.
    pub current_plot_rows: Vec<PlotIndicesRow>,
    /// The decisions of the touched seasons.
    pub decisions: Vec<DecisionRow>,
}

/// The idempotency key of a refresh of `touched` from Silver snapshot `snapshot`.
pub fn refresh_key(
    snapshot: i64,
    touched: &BTreeSet<(String, NaiveDate)>,
) -> Result<IdempotencyKey> {
    let mut h = Sha256::new();
    h.update(snapshot.to_le_bytes());
    for (farm, date) in touched {
        h.update((farm.len() as u64).to_le_bytes());
        h.update(farm.as_bytes());
        h.update(date.to_string().as_bytes());
    }
    let digest = hex::encode(h.finalize());
    IdempotencyKey::new([(PROP_GOLD_REFRESH, &digest[..16])])
}

/// How many times a refresh starts again after a concurrent refresh landed first.
const MAX_REFRESH_ATTEMPTS: usize = 4;

/// Recompute Gold for `touched` and for every Silver partition still pending from earlier
/// commits ([`pending_partitions`]); see the module docs.
///
/// Concurrent refreshers (the stream's, a Batch worker's, `hsi run`) are ordered: each Gold
/// commit lands only if the table's newest `hsi.gold.silver-snapshot` is still the one seen
/// when this refresh started (read before Silver), so a result computed from older Silver
/// never replaces one computed from newer Silver; the loser starts again on the new state.
pub async fn refresh(
    catalog: &dyn LakeCatalog,
    touched: &BTreeSet<(String, NaiveDate)>,
    plots: &[Plot],
    yields: &[YieldRow],
    rules: &BreedingRules,
) -> Result<GoldSummary> {
    for attempt in 1..=MAX_REFRESH_ATTEMPTS {
        if let Some(summary) = refresh_once(catalog, touched, plots, yields, rules).await? {
            return Ok(summary);
        }
        tracing::info!(
            attempt,
            "a concurrent Gold refresh landed first; refreshing again"
        );
    }
    Err(Error::Conflict {
        table: "gold".into(),
        reason: format!("refresh gave up after {MAX_REFRESH_ATTEMPTS} concurrent refreshes"),
    })
}

/// One attempt; `None` when a concurrent refresh made it stale.
async fn refresh_once(
    catalog: &dyn LakeCatalog,
    touched: &BTreeSet<(String, NaiveDate)>,
    plots: &[Plot],
    yields: &[YieldRow],
    rules: &BreedingRules,
) -> Result<Option<GoldSummary>> {
    // Gold's state first, then Silver (the ordering argument above).
    let mut expects = BTreeMap::new();
    for ident in [
        tables::plot_indices(),
        tables::row_period_indices(),
        tables::breeding_decisions(),
    ] {
        let t = catalog
            .load_table(&ident)
            .await
            .map_err(Error::iceberg(format!("load {ident}")))?;
        expects.insert(
            ident.to_string(),
            Expect {
                property: PROP_GOLD_SOURCE.to_owned(),
                value: Expect::newest(t.metadata(), PROP_GOLD_SOURCE),
            },
        );
    }
    let pending = pending_partitions(catalog).await?;
    let all: BTreeSet<(String, NaiveDate)> =
        touched.iter().cloned().chain(pending.touched).collect();
    let touched = &all;
    let silver = catalog
        .load_table(&silver_reflectance())
        .await
        .map_err(Error::iceberg("load silver.reflectance"))?;
    let mut summary = GoldSummary {
        silver_snapshot_id: silver.metadata().current_snapshot_id(),
        partitions: touched.len(),
        ..GoldSummary::default()
    };
    let now = Utc::now().timestamp_micros();
    let source = summary.silver_snapshot_id.filter(|_| !touched.is_empty());
    let key = match source {
        Some(s) => Some(refresh_key(s, touched)?),
        None => None,
    };
    let props = |s: i64| BTreeMap::from([(PROP_GOLD_SOURCE.to_owned(), s.to_string())]);
    if let Some(snapshot) = source {
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
        let batch = stamp(
            &plot_indices::to_record_batch(&rows)?,
            "computed_at",
            snapshot,
            now,
        )?;
        let selector = FarmDays {
            table: "gold.plot_indices",
            date_column: "acquisition_date",
            keys: touched,
            farm_partition: Some(0),
        };
        let out = replace_rows_if(
            catalog,
            &tables::plot_indices(),
            &selector,
            &[batch],
            props(snapshot),
            key.as_ref(),
            expects.get("gold.plot_indices"),
        )
        .await?;
        if matches!(out, ReplaceOutcome::Stale { .. }) {
            return Ok(None);
        }
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
    if let Some(snapshot) = source {
        let batch = stamp(
            &row_period::to_record_batch(&periods)?,
            "computed_at",
            snapshot,
            now,
        )?;
        let selector = FarmDays {
            table: "gold.row_period_indices",
            date_column: "week_start",
            keys: &touched_weeks,
            farm_partition: None,
        };
        let out = replace_rows_if(
            catalog,
            &tables::row_period_indices(),
            &selector,
            &[batch],
            props(snapshot),
            key.as_ref(),
            expects.get("gold.row_period_indices"),
        )
        .await?;
        if matches!(out, ReplaceOutcome::Stale { .. }) {
            return Ok(None);
        }
        let batch = stamp(
            &crate::breeding::decide::to_record_batch(&decisions)?,
            "decided_at",
            snapshot,
            now,
        )?;
        let out = replace_rows_if(
            catalog,
            &tables::breeding_decisions(),
            &Seasons { seasons: &seasons },
            &[batch],
            props(snapshot),
            key.as_ref(),
            expects.get("gold.breeding_decisions"),
        )
        .await?;
        if matches!(out, ReplaceOutcome::Stale { .. }) {
            return Ok(None);
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
    Ok(Some(summary))
}

/// Every row of `gold.plot_indices` at its current snapshot.
pub async fn read_plot_rows(catalog: &dyn LakeCatalog) -> Result<Vec<PlotIndicesRow>> {
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
/// Refreshes replace rows, so a table written by this version holds one row per key already;
/// this only matters for rows appended by versions before the replace.
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

/// Silver partitions changed since Gold was last computed, and the Silver snapshot Gold was
/// computed from (see [`pending_partitions`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingRefresh {
    /// (farm, date) partitions to recompute.
    pub touched: BTreeSet<(String, NaiveDate)>,
    /// The Silver snapshot of Gold's newest refresh (`None`: never refreshed, or it is no
    /// longer in Silver's history, in which case every partition is pending).
    pub gold_source: Option<i64>,
}

/// What a Gold refresh must recompute, derived durably from the tables themselves: the
/// `hsi.partitions` of every Silver commit after the Silver snapshot that
/// `gold.plot_indices`' newest refresh was computed from (`hsi.gold.silver-snapshot`). A crash
/// between a Silver commit and its Gold refresh, or a Batch retry that skips every cube,
/// leaves the work visible here; the next refresher does it. A Silver commit without the
/// property (written by another engine) or with `"*"` makes every partition pending.
pub async fn pending_partitions(catalog: &dyn LakeCatalog) -> Result<PendingRefresh> {
    let gold = catalog
        .load_table(&tables::plot_indices())
        .await
        .map_err(Error::iceberg("load gold.plot_indices"))?;
    let source = ancestry(gold.metadata()).find_map(|s| {
        s.summary()
            .additional_properties
            .get(PROP_GOLD_SOURCE)
            .and_then(|v| v.parse::<i64>().ok())
    });
    let silver = catalog
        .load_table(&silver_reflectance())
        .await
        .map_err(Error::iceberg("load silver.reflectance"))?;
    let mut touched = BTreeSet::new();
    let mut everything = true;
    for s in ancestry(silver.metadata()) {
        if Some(s.snapshot_id()) == source {
            everything = false;
            break;
        }
        match s
            .summary()
            .additional_properties
            .get(crate::table::commit::PROP_PARTITIONS)
            .and_then(|v| parse_partitions(v))
        {
            Some(p) => touched.extend(p),
            None => break, // unknown change: recompute everything
        }
    }
    if everything && silver.metadata().current_snapshot_id().is_some() {
        let files = crate::table::commit::live_files(&silver, |_| true).await?;
        touched = files
            .iter()
            .filter_map(|f| silver_partition(f.partition().fields()))
            .collect();
    }
    Ok(PendingRefresh {
        touched,
        gold_source: source,
    })
}

/// Refresh Gold for [`pending_partitions`] (nothing when nothing is pending).
pub async fn refresh_pending(
    catalog: &dyn LakeCatalog,
    plots: &[Plot],
    yields: &[YieldRow],
    rules: &BreedingRules,
) -> Result<Option<GoldSummary>> {
    let pending = pending_partitions(catalog).await?;
    if pending.touched.is_empty() {
        return Ok(None);
    }
    tracing::info!(
        partitions = pending.touched.len(),
        "refreshing Gold for pending Silver partitions"
    );
    refresh(catalog, &pending.touched, plots, yields, rules)
        .await
        .map(Some)
}

/// Snapshots from `main` back, newest first (bounded, cycle-safe).
fn ancestry(
    md: &iceberg::spec::TableMetadata,
) -> impl Iterator<Item = &iceberg::spec::SnapshotRef> {
    let mut next = md.current_snapshot_id();
    let mut remaining = md.snapshots().len();
    std::iter::from_fn(move || {
        if remaining == 0 {
            return None;
        }
        remaining -= 1;
        let s = md.snapshot_by_id(next?)?;
        next = s.parent_snapshot_id();
        Some(s)
    })
}

/// `hsi.partitions` of a Silver commit → (farm, date); `None` for `"*"` or a bad value.
fn parse_partitions(text: &str) -> Option<BTreeSet<(String, NaiveDate)>> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut out = BTreeSet::new();
    for t in v.as_array()? {
        let t = t.as_array()?;
        let farm = t.first()?.as_str()?.to_owned();
        let day = t.get(1)?.as_i64()?;
        out.insert((farm, days_to_date(i32::try_from(day).ok()?)?));
    }
    Some(out)
}

fn silver_partition(fields: &[Option<iceberg::spec::Literal>]) -> Option<(String, NaiveDate)> {
    use iceberg::spec::{Literal, PrimitiveLiteral};
    match (fields.first()?, fields.get(1)?) {
        (
            Some(Literal::Primitive(PrimitiveLiteral::String(farm))),
            Some(Literal::Primitive(PrimitiveLiteral::Int(day))),
        ) => Some((farm.clone(), days_to_date(*day)?)),
        _ => None,
    }
}
