//! Commits planned on the exact table state they land on.
//!
//! Appends that must look at the table first — is a better version of this object already
//! there, which files hold the rows this commit replaces, which Kafka rows were committed
//! before — implement [`Planner`]. [`commit_planned`] loads the table, asks the planner what to
//! do on that state, writes the new data files, and commits through
//! [`commit`](super::commit) fenced on the same state. On a lost race (provably not
//! committed) it asks the planner again on the new state; the new files are reused when the
//! plan's new rows did not change, and deleted otherwise. An ambiguous commit is returned as
//! an error with nothing deleted.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use async_trait::async_trait;
use iceberg::TableIdent;
use iceberg::spec::{DataFile, Operation};
use iceberg::table::Table;

use super::append::{delete_orphans, reload, write_data_files};
use super::commit::{self, Change, LakeCatalog};
use crate::error::{Error, Result};

/// How many times a planned commit re-plans after losing a race.
const MAX_PLANNED_ATTEMPTS: usize = 8;

/// What to commit on one table state.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// New rows, in groups; each group is written to data files of its own (so that, e.g.,
    /// each raw object's rows sit in their own files and column bounds identify them).
    pub add: Vec<Vec<RecordBatch>>,
    /// The other rows of removed files, written again (not counted as added).
    pub rewritten: Vec<RecordBatch>,
    /// Data files the caller wrote already (added as they are; never deleted here).
    pub add_files: Vec<DataFile>,
    /// Rows in [`Plan::add_files`] (reporting only).
    pub add_files_rows: u64,
    /// Live data files to drop.
    pub remove: Vec<DataFile>,
    /// Rows dropped with [`Plan::remove`] (reporting only).
    pub rows_removed: u64,
    /// Snapshot summary properties.
    pub properties: BTreeMap<String, String>,
    /// Commit a snapshot even when it adds and removes nothing (its properties alone move
    /// something forward, e.g. Kafka offsets past duplicates).
    pub commit_if_empty: bool,
}

impl Plan {
    fn rows_added(&self) -> u64 {
        self.add
            .iter()
            .flatten()
            .map(|b| b.num_rows() as u64)
            .sum::<u64>()
            + self.add_files_rows
    }
}

/// A planner's verdict on one table state.
#[derive(Debug, Clone)]
pub enum Planned {
    /// Commit this on the state.
    Commit(Plan),
    /// Commit nothing; the snapshot that already holds the result, if known.
    Done {
        /// Why nothing is committed.
        reason: String,
        /// The snapshot holding the data already (an idempotency key found), if any.
        snapshot_id: Option<i64>,
    },
    /// Do not commit, and tell the caller (a fence tripped).
    Refuse(String),
}

/// Decides what to commit on a given table state.
#[async_trait]
pub trait Planner: Send + Sync {
    /// The plan for `table` (the state the commit will be fenced on).
    async fn plan(&self, table: &Table) -> Result<Planned>;
}

/// What a planned commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedOutcome {
    /// A snapshot was committed.
    Committed {
        /// The new snapshot.
        snapshot_id: i64,
        /// New rows.
        rows_added: u64,
        /// Rows dropped.
        rows_removed: u64,
        /// Files dropped.
        files_removed: usize,
        /// Files added.
        files_added: usize,
    },
    /// Nothing to commit (the planner said so, or the plan was empty).
    Done {
        /// Why.
        reason: String,
        /// The snapshot already holding the result, if known.
        snapshot_id: Option<i64>,
    },
    /// The planner refused.
    Refused {
        /// Why.
        reason: String,
    },
}

/// Load `ident`, plan, write, commit fenced; re-plan after a lost race (module docs).
pub async fn commit_planned(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    planner: &dyn Planner,
) -> Result<PlannedOutcome> {
    let name = ident.to_string();
    let mut table = reload(catalog, ident).await?;
    // Files written for an earlier attempt, and the rows they hold.
    let mut written: Option<(Vec<Vec<RecordBatch>>, Vec<DataFile>)> = None;
    let groups = |plan: &Plan| -> Vec<Vec<RecordBatch>> {
        let mut g = vec![plan.rewritten.clone()];
        g.extend(plan.add.iter().cloned());
        g
    };
    for attempt in 1..=MAX_PLANNED_ATTEMPTS {
        let plan = match planner.plan(&table).await? {
            Planned::Commit(p) => p,
            Planned::Done {
                reason,
                snapshot_id,
            } => {
                discard(&table, &mut written).await;
                return Ok(PlannedOutcome::Done {
                    reason,
                    snapshot_id,
                });
            }
            Planned::Refuse(reason) => {
                discard(&table, &mut written).await;
                return Ok(PlannedOutcome::Refused { reason });
            }
        };
        let rows_added = plan.rows_added();
        if plan.remove.is_empty()
            && rows_added == 0
            && plan.add_files.is_empty()
            && !plan.commit_if_empty
        {
            discard(&table, &mut written).await;
            return Ok(PlannedOutcome::Done {
                reason: "nothing to add or remove".into(),
                snapshot_id: None,
            });
        }
        let wanted = groups(&plan);
        let mut added = match &written {
            Some((rows, files)) if *rows == wanted => files.clone(),
            _ => {
                discard(&table, &mut written).await;
                let mut files = Vec::new();
                for group in wanted.iter().filter(|g| g.iter().any(|b| b.num_rows() > 0)) {
                    files.extend(write_data_files(&table, group).await?);
                }
                written = Some((wanted, files.clone()));
                files
            }
        };
        added.extend(plan.add_files.iter().cloned());
        let change = Change {
            operation: if plan.remove.is_empty() {
                Operation::Append
            } else {
                Operation::Overwrite
            },
            added: added.clone(),
            removed: plan.remove.clone(),
            properties: plan.properties.clone(),
        };
        match commit::commit(catalog, &table, &change).await {
            Ok(c) => {
                let snapshot_id = c.snapshot_id.unwrap_or_default();
                return Ok(PlannedOutcome::Committed {
                    snapshot_id,
                    rows_added,
                    rows_removed: plan.rows_removed,
                    files_removed: plan.remove.len(),
                    files_added: added.len(),
                });
            }
            Err(e @ Error::Conflict { .. }) => {
                tracing::debug!(table = %name, attempt, error = %e, "lost a commit race, re-planning");
                table = reload(catalog, ident).await?;
            }
            // Ambiguous: the files may be live now; keep them (module docs).
            Err(e) => return Err(e),
        }
    }
    discard(&table, &mut written).await;
    Err(Error::Conflict {
        table: name,
        reason: format!("gave up after {MAX_PLANNED_ATTEMPTS} attempts"),
    })
}

/// Delete files of an earlier attempt that provably never committed.
async fn discard(table: &Table, written: &mut Option<(Vec<Vec<RecordBatch>>, Vec<DataFile>)>) {
    if let Some((_, files)) = written.take() {
        delete_orphans(table, &files).await;
    }
}
