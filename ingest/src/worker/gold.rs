//! Gold refresh after a manifest: reference data comes from the `ref.*` tables (loaded by
//! `hsi run` or an operator), so the worker needs no local files.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use futures::TryStreamExt;
use hsi_lakehouse::LakeCatalog;
use hsi_lakehouse::breeding::BreedingRules;
use hsi_lakehouse::pipeline::{GoldSummary, gold, tables};
use hsi_lakehouse::refdata::{Plot, YieldRow, boundaries, yields};
use iceberg::TableIdent;

use crate::error::Result;

async fn scan_all(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
) -> Result<Vec<arrow_array::RecordBatch>> {
    let ice = |context: &str| {
        let context = format!("{context} {ident}");
        move |e: iceberg::Error| hsi_lakehouse::Error::Iceberg {
            context,
            source: Box::new(e),
        }
    };
    let table = catalog.load_table(ident).await.map_err(ice("load"))?;
    if table.metadata().current_snapshot_id().is_none() {
        return Ok(Vec::new());
    }
    let batches = table
        .scan()
        .build()
        .map_err(ice("plan scan of"))?
        .to_arrow()
        .await
        .map_err(ice("scan"))?
        .try_collect()
        .await
        .map_err(ice("read"))?;
    Ok(batches)
}

/// The current plots and yields from `ref.field_boundaries` and `ref.yield_history`.
pub async fn read_references(catalog: &dyn LakeCatalog) -> Result<(Vec<Plot>, Vec<YieldRow>)> {
    let mut plots = Vec::new();
    for b in scan_all(catalog, &tables::field_boundaries()).await? {
        plots.extend(boundaries::from_record_batch(&b)?);
    }
    let mut ys = Vec::new();
    for b in scan_all(catalog, &tables::yield_history()).await? {
        ys.extend(yields::from_record_batch(&b)?);
    }
    Ok((plots, ys))
}

/// Refresh Gold for `touched`; `None` when no plot boundaries are loaded (nothing to do).
pub async fn refresh(
    catalog: &dyn LakeCatalog,
    touched: &BTreeSet<(String, NaiveDate)>,
    rules: &BreedingRules,
) -> Result<Option<GoldSummary>> {
    let (plots, ys) = read_references(catalog).await?;
    if plots.is_empty() {
        tracing::warn!("ref.field_boundaries is empty; Gold not refreshed");
        return Ok(None);
    }
    Ok(Some(
        gold::refresh(catalog, touched, &plots, &ys, rules).await?,
    ))
}

/// Refresh Gold for every Silver partition pending since Gold's last refresh
/// (`hsi_lakehouse::pipeline::gold::pending_partitions`); `None` when nothing is pending or no
/// plot boundaries are loaded.
pub async fn refresh_pending(
    catalog: &dyn LakeCatalog,
    rules: &BreedingRules,
) -> Result<Option<GoldSummary>> {
    // No Gold tables yet (a fresh warehouse before `hsi init`/`hsi run`): nothing to refresh.
    for ident in [
        tables::plot_indices(),
        hsi_lakehouse::table::silver_reflectance(),
    ] {
        let exists =
            catalog
                .table_exists(&ident)
                .await
                .map_err(|e| hsi_lakehouse::Error::Iceberg {
                    context: format!("check {ident}"),
                    source: Box::new(e),
                })?;
        if !exists {
            return Ok(None);
        }
    }
    let pending = gold::pending_partitions(catalog).await?;
    if pending.touched.is_empty() {
        return Ok(None);
    }
    refresh(catalog, &BTreeSet::new(), rules).await
}
