//! Rollback: point `main` at an earlier snapshot, committed with compare-and-swap.
//!
//! iceberg-rust 0.10 has no rollback action, and `Catalog::update_table` only accepts a
//! `TableCommit`, whose builder is crate-private (the public `Transaction` actions never emit a
//! `SetSnapshotRef` to an existing snapshot). So the rollback is built one level lower, the way
//! every Iceberg catalog commit works:
//!
//! 1. **prepare** ([`prepare_rollback`]): load the table and remember its metadata location
//!    `M`. Check that the target snapshot exists. Build the next metadata from `M`'s with
//!    `TableMetadataBuilder::set_ref("main", target)` — which sets `current-snapshot-id`, the
//!    `main` ref, appends a `snapshot-log` entry and bumps `last-updated-ms` — plus a
//!    `metadata-log` entry for `M`. Write it as a new file `M'`
//!    (`…/metadata/{version+1}-{uuid}.metadata.json`, never overwriting anything).
//! 2. **commit** ([`commit_rollback`]): swap the catalog's pointer from `M` to `M'` through
//!    the one commit primitive ([`crate::table::commit::swap_metadata`], on any
//!    [`LakeCatalog`]). If anything committed in between, the pointer is no longer `M`, and
//!    the rollback fails with a retryable [`Error::Conflict`]; `M'` is deleted and the table
//!    is untouched. An ambiguous swap is settled by re-reading the pointer.
//!
//! Retention settings of the existing `main` ref are kept. Rolling back to the current snapshot
//! is a no-op. Readers that already hold `M` keep reading it (snapshot isolation).

use iceberg::TableIdent;
use iceberg::spec::{MAIN_BRANCH, SnapshotReference, SnapshotRetention, TableMetadata};
use iceberg::table::Table;

use crate::error::{Error, Result};
use crate::table::commit::{self, LakeCatalog};

/// A prepared rollback: the new metadata file is written, the pointer not yet swapped.
#[derive(Debug, Clone)]
pub struct RollbackPlan {
    base: Table,
    /// The metadata location the table had when the plan was made.
    pub expected_location: String,
    /// The new metadata location (equal to `expected_location` for a no-op).
    pub new_location: String,
    /// `main` before the rollback.
    pub from_snapshot_id: Option<i64>,
    /// `main` after the rollback.
    pub to_snapshot_id: i64,
}

impl RollbackPlan {
    /// Whether the table is already at the target snapshot.
    pub fn is_noop(&self) -> bool {
        self.new_location == self.expected_location
    }

    /// The table.
    pub fn ident(&self) -> &TableIdent {
        self.base.identifier()
    }
}

/// Roll `ident`'s `main` back to `to_snapshot_id` (prepare + commit).
pub async fn rollback(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    to_snapshot_id: i64,
) -> Result<RollbackPlan> {
    let plan = prepare_rollback(catalog, ident, to_snapshot_id).await?;
    commit_rollback(catalog, &plan).await?;
    Ok(plan)
}

/// Step 1: validate the target and write the new metadata file.
pub async fn prepare_rollback(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    to_snapshot_id: i64,
) -> Result<RollbackPlan> {
    let name = ident.to_string();
    let table = catalog
        .load_table(ident)
        .await
        .map_err(Error::iceberg(format!("load {name}")))?;
    let metadata = table.metadata();
    let expected = table
        .metadata_location()
        .ok_or_else(|| Error::InvalidInput {
            reason: format!("{name} has no metadata location"),
        })?
        .to_owned();
    if metadata.snapshot_by_id(to_snapshot_id).is_none() {
        return Err(Error::SnapshotNotFound {
            table: name,
            snapshot_id: to_snapshot_id,
        });
    }
    let from = metadata.current_snapshot_id();
    let plan = |new_location: String| RollbackPlan {
        base: table.clone(),
        expected_location: expected.clone(),
        new_location,
        from_snapshot_id: from,
        to_snapshot_id,
    };
    if from == Some(to_snapshot_id) {
        return Ok(plan(expected.clone()));
    }

    let retention = main_retention(metadata, &name)?;
    let ctx = |what: &str| format!("{what} for rollback of {name} to snapshot {to_snapshot_id}");
    let new_metadata = metadata
        .clone()
        .into_builder(Some(expected.clone()))
        .set_ref(
            MAIN_BRANCH,
            SnapshotReference::new(to_snapshot_id, retention),
        )
        .map_err(Error::iceberg(ctx("move main")))?
        .build()
        .map_err(Error::iceberg(ctx("build metadata")))?
        .metadata;
    let location = commit::write_metadata(&table, &new_metadata).await?;
    Ok(plan(location))
}

/// The retention settings of the current `main` ref (default branch retention if none).
///
/// iceberg-rust 0.10 exposes no accessor for refs, so they are read from the metadata's JSON
/// form (`refs.main`), which is the spec's serialisation of the same struct.
fn main_retention(metadata: &TableMetadata, name: &str) -> Result<SnapshotRetention> {
    let json = serde_json::to_value(metadata).map_err(|source| Error::Json {
        context: format!("serialise metadata of {name}"),
        source,
    })?;
    match json.get("refs").and_then(|r| r.get(MAIN_BRANCH)) {
        Some(main) => serde_json::from_value::<SnapshotReference>(main.clone())
            .map(|r| r.retention)
            .map_err(|source| Error::Json {
                context: format!("main ref of {name}"),
                source,
            }),
        None => Ok(SnapshotRetention::branch(None, None, None)),
    }
}

/// Step 2: swap the catalog pointer; on conflict the new metadata file is removed.
pub async fn commit_rollback(catalog: &dyn LakeCatalog, plan: &RollbackPlan) -> Result<()> {
    if plan.is_noop() {
        return Ok(());
    }
    commit::swap_metadata(catalog, &plan.base, &plan.new_location).await?;
    tracing::info!(
        table = %plan.ident(),
        from = ?plan.from_snapshot_id,
        to = plan.to_snapshot_id,
        metadata = %plan.new_location,
        "rolled back"
    );
    Ok(())
}
