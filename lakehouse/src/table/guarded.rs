//! Appends guarded by the caller's own precondition on the table state.
//!
//! [`append_batches_once`](super::append_batches_once) decides "already committed?" with an
//! idempotency key. Some writers need a different test — the Kafka stream consumer must drop
//! its batch when another consumer already committed past the batch's start offsets, and must
//! compute the snapshot's merged `hsi.kafka.offsets` from the exact state it commits on.
//! [`append_batches_guarded`] runs the caller's [`Guard`] on the loaded table metadata, writes
//! the data files, and commits through [`commit`](super::commit), fenced like idempotent
//! appends: the commit lands only on the state the guard saw. When `main` moved meanwhile, the
//! guard runs again on the new state (never a blind re-apply), and the same data files are
//! committed with the properties it returns — or deleted if it now refuses.

use std::collections::BTreeMap;

use super::commit::LakeCatalog;
use arrow_array::RecordBatch;
use iceberg::TableIdent;
use iceberg::spec::TableMetadata;

use super::append::{AppendOutcome, committed_outcome, delete_orphans, reload, write_data_files};
use super::commit::{self, Change};
use crate::error::{Error, Result};

/// How many times a guarded append re-runs its guard after losing a commit race.
const MAX_GUARDED_ATTEMPTS: usize = 8;

/// A guard's verdict on one table state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// Commit on this state, with these snapshot summary properties.
    Commit(BTreeMap<String, String>),
    /// Do not commit; the reason is returned to the caller.
    Refuse(String),
}

/// What a guarded append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardedOutcome {
    /// Committed (a new snapshot) or nothing to commit ([`AppendOutcome::Empty`]).
    Appended(AppendOutcome),
    /// The guard refused (on the first look or after a lost race); nothing was committed.
    Refused {
        /// The guard's reason.
        reason: String,
        /// `main` when the guard refused.
        current_snapshot_id: Option<i64>,
    },
}

/// Append `batches` to `ident` if and only if `guard` accepts the state the commit lands on
/// (see the module docs).
pub async fn append_batches_guarded(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    batches: &[RecordBatch],
    guard: &(dyn Fn(&TableMetadata) -> Result<Guard> + Send + Sync),
) -> Result<GuardedOutcome> {
    let name = ident.to_string();
    let mut table = catalog
        .load_table(ident)
        .await
        .map_err(Error::iceberg(format!("load {name}")))?;
    let refused = |reason: String, t: &iceberg::table::Table| GuardedOutcome::Refused {
        reason,
        current_snapshot_id: t.metadata().current_snapshot_id(),
    };
    let mut props = match guard(table.metadata())? {
        Guard::Commit(p) => p,
        Guard::Refuse(reason) => return Ok(refused(reason, &table)),
    };
    let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    if rows == 0 {
        return Ok(GuardedOutcome::Appended(AppendOutcome::Empty));
    }
    let data_files = write_data_files(&table, batches).await?;
    let files = data_files.len();
    for attempt in 1..=MAX_GUARDED_ATTEMPTS {
        let change = Change::append(data_files.clone(), props.clone());
        match commit::commit(catalog, &table, &change).await {
            Ok(c) => {
                return committed_outcome(&name, &c, rows, files).map(GuardedOutcome::Appended);
            }
            Err(e @ Error::Conflict { .. }) => {
                tracing::debug!(table = %name, attempt, error = %e, "guarded append lost a race, re-running the guard");
                table = reload(catalog, ident).await?;
                match guard(table.metadata())? {
                    Guard::Commit(p) => props = p,
                    Guard::Refuse(reason) => {
                        delete_orphans(&table, &data_files).await;
                        return Ok(refused(reason, &table));
                    }
                }
            }
            // Ambiguous: the files may be live; the caller retries and the guard decides.
            Err(e) => return Err(e),
        }
    }
    delete_orphans(&table, &data_files).await;
    Err(Error::Conflict {
        table: name,
        reason: format!("guarded append gave up after {MAX_GUARDED_ATTEMPTS} attempts"),
    })
}
