//! Snapshots: listing, time travel and rollback.
//!
//! - [`list_snapshots`] lists every retained snapshot with its summary (where the pipeline's
//!   `hsi.*` properties live), oldest first.
//! - [`scan_at`] reads the table as of a snapshot id or a point in time. A timestamp resolves
//!   through the table's snapshot log (the history of `main`): the latest entry at or before
//!   it, which after a rollback is what `main` pointed at then — not merely the newest snapshot
//!   created before it.
//! - [`rollback`] moves `main` back to an earlier snapshot (see [`rollback`]'s module for the
//!   commit protocol); it creates no snapshot and deletes nothing, so it can itself be undone
//!   by rolling forward to the later snapshot id.

mod rollback;

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use futures::TryStreamExt;
use iceberg::table::Table;

pub use rollback::{RollbackPlan, commit_rollback, prepare_rollback, rollback};

use crate::error::{Error, Result};

/// One snapshot, flattened for display and tests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotInfo {
    /// Snapshot id.
    pub id: i64,
    /// Parent snapshot id.
    pub parent: Option<i64>,
    /// Sequence number.
    pub sequence_number: i64,
    /// Commit time, Unix epoch milliseconds.
    pub timestamp_ms: i64,
    /// `append`, `overwrite`, `replace` or `delete`.
    pub operation: String,
    /// Summary properties (Iceberg's `added-records`, … and the pipeline's `hsi.*`).
    pub summary: BTreeMap<String, String>,
    /// Schema id the snapshot was written with.
    pub schema_id: Option<i32>,
    /// Whether `main` points at it.
    pub is_current: bool,
}

/// Which state of a table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// A snapshot id.
    Snapshot(i64),
    /// The state of `main` at this time (Unix epoch milliseconds).
    Timestamp(i64),
}

/// All retained snapshots, oldest first.
pub fn list_snapshots(table: &Table) -> Vec<SnapshotInfo> {
    let metadata = table.metadata();
    let current = metadata.current_snapshot_id();
    let mut out: Vec<SnapshotInfo> = metadata
        .snapshots()
        .map(|s| SnapshotInfo {
            id: s.snapshot_id(),
            parent: s.parent_snapshot_id(),
            sequence_number: s.sequence_number(),
            timestamp_ms: s.timestamp_ms(),
            operation: s.summary().operation.as_str().to_owned(),
            summary: s
                .summary()
                .additional_properties
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            schema_id: s.schema_id(),
            is_current: Some(s.snapshot_id()) == current,
        })
        .collect();
    out.sort_by_key(|s| (s.sequence_number, s.timestamp_ms, s.id));
    out
}

/// The snapshot id `as_of` refers to.
pub fn resolve(table: &Table, as_of: AsOf) -> Result<i64> {
    let metadata = table.metadata();
    let name = table.identifier().to_string();
    let id = match as_of {
        AsOf::Snapshot(id) => id,
        AsOf::Timestamp(ms) => metadata
            .history()
            .iter()
            .filter(|entry| entry.timestamp_ms <= ms)
            .max_by_key(|entry| entry.timestamp_ms)
            .map(|entry| entry.snapshot_id)
            .ok_or(Error::NoSnapshotAt {
                table: name.clone(),
                timestamp_ms: ms,
            })?,
    };
    if metadata.snapshot_by_id(id).is_none() {
        return Err(Error::SnapshotNotFound {
            table: name,
            snapshot_id: id,
        });
    }
    Ok(id)
}

/// Read the whole table as of `as_of`.
pub async fn scan_at(table: &Table, as_of: AsOf) -> Result<Vec<RecordBatch>> {
    let name = table.identifier().to_string();
    let snapshot_id = resolve(table, as_of)?;
    let scan = table
        .scan()
        .snapshot_id(snapshot_id)
        .select_all()
        .build()
        .map_err(Error::iceberg(format!(
            "plan scan of {name} at snapshot {snapshot_id}"
        )))?;
    scan.to_arrow()
        .await
        .map_err(Error::iceberg(format!(
            "scan {name} at snapshot {snapshot_id}"
        )))?
        .try_collect()
        .await
        .map_err(Error::iceberg(format!(
            "read {name} at snapshot {snapshot_id}"
        )))
}
