//! The one commit primitive: replace these data files by those, fenced, on any catalog.
//!
//! Every change this crate makes to a table's data goes through [`commit`]: appends (nothing
//! removed), replacements of recomputed rows (Gold refreshes, superseded Silver versions),
//! compaction (later) — and [`commit_metadata`] carries rollback, which moves `main` without
//! a new snapshot. iceberg-rust 0.10 has no overwrite, delete or rewrite action and its
//! `TableCommit` builder is crate-private, so the snapshot is built here, one level lower,
//! the way every Iceberg writer builds it (manifests → manifest list → snapshot → metadata
//! file → pointer swap).
//!
//! # Contract
//!
//! [`commit`]`(catalog, base, change)`:
//!
//! - **Fenced.** `base` is a table as loaded from the catalog; its metadata location `L` is
//!   the fence. The commit lands only if the catalog's pointer is still `L` when it is
//!   swapped. Any other commit in between — ours, pyiceberg's, Trino's — makes it fail with a
//!   retryable [`Error::Conflict`]; the caller reloads, re-plans on the new state (re-checks
//!   its idempotency key, recomputes which files to replace) and calls again. Nothing is ever
//!   re-applied blindly on a state the caller did not see.
//! - **Atomic.** Readers see the table before or after, never between: the new snapshot
//!   references every file of `base`'s current snapshot except [`Change::removed`], plus
//!   [`Change::added`]. Removed files stay on disk (older snapshots still reference them;
//!   snapshot expiry and orphan removal delete them), so time travel keeps working.
//! - **Removed files must be live in `base`.** A removed path that `base`'s current snapshot
//!   does not reference is a stale plan: [`Error::Conflict`].
//! - **Outcomes.** `Ok` — committed, durable. `Err(Conflict)` — provably not committed: the
//!   manifests, manifest list and metadata file written for it are deleted here, and the
//!   caller may delete its new data files. [`Error::AmbiguousCommit`] — the pointer swap
//!   failed in a way that does not tell whether it landed (a lost reply, a dropped
//!   connection) and re-reading the pointer could not settle it either: **nothing is
//!   deleted**, because the snapshot may be live. The caller retries the whole operation;
//!   its idempotency key (or its replace plan, which is recomputed from the reloaded table)
//!   makes the retry add nothing if the first attempt did land. Unreferenced files left
//!   behind are removed by orphan cleanup, after a safety margin.
//! - **Ambiguity is resolved by re-reading,** never by guessing: after an unclear swap error
//!   the pointer is read again; if it is the new metadata file, or a later one whose
//!   `metadata-log` lists it, the commit landed and `Ok` is returned.
//!
//! # Catalogs
//!
//! The catalog-specific part is one compare-and-swap of the table's metadata pointer,
//! [`MetadataStore`]. The SQL catalog does it with `UPDATE … WHERE metadata_location = L`
//! ([`crate::catalog::MetadataPointers`]); Glue does it with `UpdateTable` and the table's
//! `VersionId`; a REST catalog with a commit request carrying `add-snapshot` +
//! `set-snapshot-ref` and an `assert-ref-snapshot-id` requirement. Everything else here is
//! catalog-neutral. [`LakeCatalog`] is a catalog that can also swap pointers; every function
//! of this crate that writes takes one.

mod snapshot;

pub use snapshot::{MAX_LISTED_PARTITIONS, PROP_PARTITIONS};

use std::collections::BTreeMap;
use std::str::FromStr;

use async_trait::async_trait;
use iceberg::spec::{DataFile, Operation, TableMetadata};
use iceberg::table::Table;
use iceberg::{Catalog, MetadataLocation, TableIdent};

use crate::error::{Error, Result};

/// Compare-and-swap of a table's metadata pointer: the one thing a catalog must provide for
/// [`commit`].
///
/// # Contract
///
/// - [`current_location`](Self::current_location) reads the pointer as the catalog has it
///   now (no cache).
/// - [`swap_location`](Self::swap_location) moves the pointer from `expected` to `new`
///   atomically, and only if it is still `expected`. `Ok` means the swap is durable.
///   [`Error::Conflict`] means it provably did not happen (the pointer was something else).
///   Any other error leaves the outcome unknown; the caller settles it by reading the
///   pointer again.
#[async_trait]
pub trait MetadataStore: Send + Sync + std::fmt::Debug {
    /// The table's current metadata location.
    async fn current_location(&self, ident: &TableIdent) -> Result<String>;

    /// Point `ident` at `new` if it still points at `expected` (see the trait docs).
    async fn swap_location(&self, ident: &TableIdent, expected: &str, new: &str) -> Result<()>;
}

/// A catalog whose tables this crate can commit to: iceberg-rust's [`Catalog`] for loading,
/// creating and schema changes, plus the [`MetadataStore`] pointer swap for [`commit`].
pub trait LakeCatalog: Catalog + MetadataStore {}

impl<T: Catalog + MetadataStore + ?Sized> LakeCatalog for T {}

/// What one commit changes.
#[derive(Debug, Clone)]
pub struct Change {
    /// The snapshot's operation: `append` (nothing removed), `overwrite` (rows replaced by
    /// recomputed ones), `replace` (same rows, new files: compaction), `delete`.
    pub operation: Operation,
    /// New data files (already written, not referenced by the table).
    pub added: Vec<DataFile>,
    /// Data files of `base`'s current snapshot that the new snapshot drops.
    pub removed: Vec<DataFile>,
    /// Snapshot summary properties (`hsi.*` keys: idempotency keys, offsets, lineage).
    pub properties: BTreeMap<String, String>,
}

impl Change {
    /// Add `files`, remove nothing.
    pub fn append(added: Vec<DataFile>, properties: BTreeMap<String, String>) -> Self {
        Change {
            operation: Operation::Append,
            added,
            removed: Vec::new(),
            properties,
        }
    }

    /// Replace `removed` by `added` (an `overwrite` snapshot).
    pub fn overwrite(
        removed: Vec<DataFile>,
        added: Vec<DataFile>,
        properties: BTreeMap<String, String>,
    ) -> Self {
        Change {
            operation: Operation::Overwrite,
            added,
            removed,
            properties,
        }
    }
}

/// A landed commit.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The new snapshot (for [`commit_metadata`]: `main` after the commit).
    pub snapshot_id: Option<i64>,
    /// The table's new metadata location.
    pub metadata_location: String,
}

/// Commit `change` on top of `base` (see the module docs for the contract).
pub async fn commit(catalog: &dyn LakeCatalog, base: &Table, change: &Change) -> Result<Committed> {
    let name = base.identifier().to_string();
    let built = snapshot::build(base, change).await?;
    let metadata = base
        .metadata()
        .clone()
        .into_builder(Some(base_location(base)?.to_owned()))
        .set_branch_snapshot(built.snapshot.clone(), iceberg::spec::MAIN_BRANCH)
        .and_then(|b| b.build())
        .map_err(Error::iceberg(format!("build metadata of {name}")))?
        .metadata;
    match commit_metadata(catalog, base, &metadata).await {
        Ok(location) => {
            tracing::info!(
                table = %name,
                snapshot_id = built.snapshot.snapshot_id(),
                operation = change.operation.as_str(),
                added = change.added.len(),
                removed = change.removed.len(),
                "committed"
            );
            Ok(Committed {
                snapshot_id: Some(built.snapshot.snapshot_id()),
                metadata_location: location,
            })
        }
        Err(e) => {
            if matches!(e, Error::Conflict { .. }) {
                snapshot::delete_files(base, &built.written).await;
            }
            Err(e)
        }
    }
}

/// Write `metadata` (derived from `base`'s) as the table's next metadata file and swap the
/// pointer to it, fenced on `base`'s location; returns the new location. On a conflict the
/// new file is deleted; on an ambiguous outcome it is kept (see the module docs).
pub async fn commit_metadata(
    catalog: &dyn LakeCatalog,
    base: &Table,
    metadata: &TableMetadata,
) -> Result<String> {
    let new = write_metadata(base, metadata).await?;
    swap_metadata(catalog, base, &new).await?;
    Ok(new)
}

/// First half of [`commit_metadata`]: write the next metadata file (never overwriting one);
/// returns its location.
pub async fn write_metadata(base: &Table, metadata: &TableMetadata) -> Result<String> {
    let name = base.identifier().to_string();
    let location = MetadataLocation::from_str(base_location(base)?)
        .map_err(Error::iceberg(format!("parse metadata location of {name}")))?
        .with_next_version()
        .with_new_metadata(metadata);
    metadata
        .write_to(base.file_io(), &location)
        .await
        .map_err(Error::iceberg(format!("write metadata of {name}")))?;
    Ok(location.to_string())
}

/// Second half of [`commit_metadata`]: swap the pointer from `base`'s location to `new`.
pub async fn swap_metadata(catalog: &dyn LakeCatalog, base: &Table, new: &str) -> Result<()> {
    let ident = base.identifier();
    let name = ident.to_string();
    let expected = base_location(base)?;
    match catalog.swap_location(ident, expected, new).await {
        Ok(()) => Ok(()),
        Err(e @ Error::Conflict { .. }) => {
            if let Err(del) = base.file_io().delete(new).await {
                tracing::warn!(file = %new, error = %del, "could not delete unused metadata file");
            }
            Err(e)
        }
        Err(e) => match landed(catalog, ident, new).await {
            Ok(true) => {
                tracing::warn!(table = %name, error = %e, "pointer swap reported an error but landed");
                Ok(())
            }
            Ok(false) => Err(Error::AmbiguousCommit {
                table: name,
                metadata_location: new.to_owned(),
                reason: e.to_string(),
            }),
            Err(read) => Err(Error::AmbiguousCommit {
                table: name,
                metadata_location: new.to_owned(),
                reason: format!("{e}; re-reading the pointer failed too: {read}"),
            }),
        },
    }
}

/// Whether `new` is, or was, the table's metadata file.
async fn landed(catalog: &dyn LakeCatalog, ident: &TableIdent, new: &str) -> Result<bool> {
    let current = catalog.current_location(ident).await?;
    if current == new {
        return Ok(true);
    }
    let table = catalog
        .load_table(ident)
        .await
        .map_err(Error::iceberg(format!("reload {ident}")))?;
    Ok(table
        .metadata()
        .metadata_log()
        .iter()
        .any(|m| m.metadata_file == new))
}

fn base_location(base: &Table) -> Result<&str> {
    base.metadata_location().ok_or_else(|| Error::InvalidInput {
        reason: format!("{} has no metadata location", base.identifier()),
    })
}

/// The live data files of `table`'s current snapshot for which `keep` is true (with the
/// partition spec they were written with).
pub async fn live_files(table: &Table, keep: impl Fn(&DataFile) -> bool) -> Result<Vec<DataFile>> {
    snapshot::live_files(table, keep).await
}
