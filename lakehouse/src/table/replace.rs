//! Replacing recomputed rows: copy-on-write over the data files that hold them.
//!
//! A Gold refresh recomputes whole keys (a farm and day of plot statistics, a season of
//! decisions); a newer version of a raw object supersedes the older version's Silver rows.
//! Either way the table must end up holding each key once. [`replace_rows`]:
//!
//! 1. loads the table (the fence) and checks the idempotency key, if any;
//! 2. lists the live data files the caller's [`RowSelector::may_hold`] accepts (partition and
//!    column bounds: only files that can hold replaced rows are read);
//! 3. reads each of them and asks [`RowSelector::replaced`] which rows go. A file with none is
//!    left alone; a file with some is removed, and its other rows are written again;
//! 4. writes the kept rows and the new batches as new data files, and commits one
//!    `overwrite` snapshot through [`commit`](super::commit): the removed files out, the new
//!    ones in, fenced on the state of step 1;
//! 5. on a lost race (provably not committed) deletes its new files and starts again from
//!    step 1 on the new state — the rows to replace are recomputed, never assumed. An
//!    ambiguous commit is returned as an error with nothing deleted; the caller's retry
//!    finds its key, or replaces again, which yields the same table.
//!
//! Readers never see a partial state: the old rows and the new rows change in one snapshot.
//! The replaced rows stay readable by time travel until snapshot expiry.

use std::collections::BTreeMap;

use arrow_array::{BooleanArray, RecordBatch};
use arrow_select::filter::filter_record_batch;
use iceberg::TableIdent;
use iceberg::spec::DataFile;
use iceberg::table::Table;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use async_trait::async_trait;

use super::commit::{self, LakeCatalog};
use super::key::IdempotencyKey;
use super::planned::{Plan, Planned, PlannedOutcome, Planner, commit_planned};
use crate::error::{Error, Result};

/// Which rows a replace drops.
pub trait RowSelector: Send + Sync {
    /// Whether `file` may hold rows to replace (from its partition and column bounds). A
    /// `true` costs a read of the file; a wrong `false` leaves rows that should go.
    fn may_hold(&self, file: &DataFile) -> bool;

    /// For a batch read from a candidate file: `true` for each row to drop.
    fn replaced(&self, batch: &RecordBatch) -> Result<BooleanArray>;

    /// Whether every row of `file` is replaced, known from its metadata alone (then it is
    /// dropped without being read).
    fn replaces_whole(&self, _file: &DataFile) -> bool {
        false
    }
}

/// What [`replace_rows`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceOutcome {
    /// A new snapshot was committed.
    Committed {
        /// The new snapshot.
        snapshot_id: i64,
        /// Rows dropped.
        rows_removed: u64,
        /// New rows written (not counting rewritten ones).
        rows_added: u64,
        /// Data files taken out of the table.
        files_removed: usize,
        /// Data files put in (new rows and rewritten kept rows).
        files_added: usize,
    },
    /// The idempotency key was already in the table; nothing was written.
    AlreadyCommitted {
        /// The snapshot that carries the key.
        snapshot_id: i64,
    },
    /// Nothing to drop and nothing to add; nothing was committed.
    Unchanged,
    /// The [`Expect`] precondition no longer holds; nothing was committed.
    Stale {
        /// Why.
        reason: String,
    },
}

/// A precondition on the table a replace lands on: the newest value of a snapshot summary
/// property in `main`'s history must still be `value` (`None`: no snapshot carries it).
/// Recomputed results use it so that a refresh computed from older inputs never lands after
/// one computed from newer inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The property.
    pub property: String,
    /// Its expected newest value.
    pub value: Option<String>,
}

impl Expect {
    /// The newest value of `property` in `main`'s history.
    pub fn newest(metadata: &iceberg::spec::TableMetadata, property: &str) -> Option<String> {
        super::key::ancestry(metadata)
            .find_map(|s| s.summary().additional_properties.get(property).cloned())
    }
}

/// Replace the rows `selector` picks by `batches`, in one snapshot (see the module docs).
pub async fn replace_rows(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    selector: &dyn RowSelector,
    batches: &[RecordBatch],
    properties: BTreeMap<String, String>,
    key: Option<&IdempotencyKey>,
) -> Result<ReplaceOutcome> {
    replace_rows_if(catalog, ident, selector, batches, properties, key, None).await
}

/// [`replace_rows`] that lands only while `expect` holds; otherwise
/// [`ReplaceOutcome::Stale`].
pub async fn replace_rows_if(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    selector: &dyn RowSelector,
    batches: &[RecordBatch],
    mut properties: BTreeMap<String, String>,
    key: Option<&IdempotencyKey>,
    expect: Option<&Expect>,
) -> Result<ReplaceOutcome> {
    if let Some(key) = key {
        for (k, v) in key.pairs() {
            properties.insert(k.clone(), v.clone());
        }
    }
    let planner = ReplacePlanner {
        selector,
        batches,
        properties,
        key,
        expect,
    };
    Ok(match commit_planned(catalog, ident, &planner).await? {
        PlannedOutcome::Committed {
            snapshot_id,
            rows_added,
            rows_removed,
            files_removed,
            files_added,
        } => {
            tracing::info!(table = %ident, snapshot_id, rows_removed, rows_added, files_removed, files_added, "replaced rows");
            ReplaceOutcome::Committed {
                snapshot_id,
                rows_removed,
                rows_added,
                files_removed,
                files_added,
            }
        }
        PlannedOutcome::Done {
            snapshot_id: Some(snapshot_id),
            ..
        } => ReplaceOutcome::AlreadyCommitted { snapshot_id },
        PlannedOutcome::Refused { reason } => ReplaceOutcome::Stale { reason },
        PlannedOutcome::Done { .. } => ReplaceOutcome::Unchanged,
    })
}

struct ReplacePlanner<'a> {
    selector: &'a dyn RowSelector,
    batches: &'a [RecordBatch],
    properties: BTreeMap<String, String>,
    key: Option<&'a IdempotencyKey>,
    expect: Option<&'a Expect>,
}

#[async_trait]
impl Planner for ReplacePlanner<'_> {
    async fn plan(&self, table: &Table) -> Result<Planned> {
        if let Some(snapshot_id) = self.key.and_then(|k| k.find_in(table.metadata())) {
            return Ok(Planned::Done {
                reason: format!("already committed in snapshot {snapshot_id}"),
                snapshot_id: Some(snapshot_id),
            });
        }
        if let Some(e) = self.expect {
            let now = Expect::newest(table.metadata(), &e.property);
            if now != e.value {
                return Ok(Planned::Refuse(format!(
                    "{} is now {now:?}, the replace was computed for {:?}",
                    e.property, e.value
                )));
            }
        }
        let (remove, kept, rows_removed) = rows_to_replace(table, self.selector).await?;
        Ok(Planned::Commit(Plan {
            add: vec![self.batches.to_vec()],
            rewritten: kept,
            remove,
            add_files: Vec::new(),
            add_files_rows: 0,
            rows_removed,
            commit_if_empty: false,
            properties: self.properties.clone(),
        }))
    }
}

/// The live files holding rows `selector` replaces, the other rows of those files (to be
/// written again), and how many rows go.
pub async fn rows_to_replace(
    table: &Table,
    selector: &dyn RowSelector,
) -> Result<(Vec<DataFile>, Vec<RecordBatch>, u64)> {
    let candidates = commit::live_files(table, |f| selector.may_hold(f)).await?;
    let mut removed = Vec::new();
    let mut all_kept = Vec::new();
    let mut rows_removed = 0u64;
    for file in candidates {
        if selector.replaces_whole(&file) {
            rows_removed += file.record_count();
            removed.push(file);
            continue;
        }
        let batches = read_data_file(table, &file).await?;
        let mut kept = Vec::with_capacity(batches.len());
        let mut dropped = 0u64;
        for batch in &batches {
            let replaced = selector.replaced(batch)?;
            if replaced.len() != batch.num_rows() {
                return Err(Error::InvalidInput {
                    reason: format!(
                        "row selector gave {} flags for {} rows of {}",
                        replaced.len(),
                        batch.num_rows(),
                        file.file_path()
                    ),
                });
            }
            let n = replaced.iter().filter(|r| *r == Some(true)).count() as u64;
            dropped += n;
            if n == 0 {
                kept.push(batch.clone());
            } else if n < batch.num_rows() as u64 {
                let keep: BooleanArray = replaced.iter().map(|r| Some(r != Some(true))).collect();
                kept.push(
                    filter_record_batch(batch, &keep)
                        .map_err(Error::arrow(format!("filter {}", file.file_path())))?,
                );
            }
        }
        if dropped > 0 {
            rows_removed += dropped;
            all_kept.extend(kept.into_iter().filter(|b| b.num_rows() > 0));
            removed.push(file);
        }
    }
    Ok((removed, all_kept, rows_removed))
}

/// Every row of one data file, as written (columns by name; the writer conforms them).
pub async fn read_data_file(table: &Table, file: &DataFile) -> Result<Vec<RecordBatch>> {
    let path = file.file_path();
    let bytes = table
        .file_io()
        .new_input(path)
        .map_err(Error::iceberg(format!("open {path}")))?
        .read()
        .await
        .map_err(Error::iceberg(format!("read {path}")))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.build())
        .map_err(|e| Error::InvalidInput {
            reason: format!("data file {path}: {e}"),
        })?;
    reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::arrow(format!("decode {path}")))
}
