//! Silver holds current rows only: adding a version of a raw object removes the versions it
//! supersedes, in the same snapshot (the rule: [`crate::identity`]).
//!
//! [`VersionPlanner`] plans the commit of one object's rows on a table state:
//!
//! 1. its idempotency key (object + calibration version, plus any caller key) already in
//!    `main`'s history → nothing to do;
//! 2. the candidate files: live files in the object's partition whose `cube_id` bounds
//!    include the object. A file whose bounds say it holds only this object at one version
//!    is judged from its metadata: the incoming version itself (earlier rows of the same
//!    stream) is kept, a superseded version is dropped whole, a superseding one stops the
//!    commit. Other candidates (several objects or versions in one file) are read, and their
//!    rows of superseded versions dropped, the rest written again;
//! 3. the incoming rows, in data files of their own, and the removals commit as one snapshot
//!    (`append` when nothing is removed, `overwrite` otherwise).
//!
//! The planner runs again on the new state after a lost race, so a concurrent writer's
//! version is always seen before this one lands.

use std::collections::BTreeMap;

use arrow_array::{BooleanArray, RecordBatch};
use async_trait::async_trait;
use iceberg::spec::{DataFile, Literal, PrimitiveLiteral, TableMetadata};
use iceberg::table::Table;

use crate::error::{Error, Result};
use crate::gold::columns::str_column;
use crate::identity::{ObjectVersion, Precedence, parse_pipeline, precedence};
use iceberg::TableIdent;

use crate::table::commit::LakeCatalog;
use crate::table::{
    AppendOutcome, IdempotencyKey, Plan, Planned, PlannedOutcome, Planner, RowSelector,
    commit_planned, delete_orphans, rows_to_replace,
};

/// Snapshot summary property: the pipeline of a Silver commit's rows.
pub const PROP_PIPELINE: &str = "hsi.pipeline";

/// Where an object's rows live: the Silver partition (farm, UTC day since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPartition {
    /// `farm_id`.
    pub farm_id: String,
    /// `day(acquisition_time)`: days since 1970-01-01.
    pub day: i32,
}

impl ObjectPartition {
    /// From the acquisition time in µs since the epoch (UTC).
    pub fn new(farm_id: &str, acquisition_micros: i64) -> Self {
        ObjectPartition {
            farm_id: farm_id.to_owned(),
            day: acquisition_micros.div_euclid(86_400_000_000) as i32,
        }
    }
}

/// The new rows of a version: batches to write, or data files the caller wrote already.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// Rows to write (in files of their own).
    Batches(Vec<RecordBatch>),
    /// Files already written (a streamed cube), with their row count.
    Files(Vec<DataFile>, u64),
}

/// Plans the commit of one version of one object (module docs).
#[derive(Debug, Clone)]
pub struct VersionPlanner {
    /// The version being added.
    pub version: ObjectVersion,
    /// Its partition.
    pub partition: ObjectPartition,
    /// Its idempotency key.
    pub key: IdempotencyKey,
    /// Snapshot summary properties (the key's and [`PROP_PIPELINE`] are added).
    pub properties: BTreeMap<String, String>,
    /// The rows.
    pub incoming: Incoming,
}

#[async_trait]
impl Planner for VersionPlanner {
    async fn plan(&self, table: &Table) -> Result<Planned> {
        if let Some(snapshot_id) = self.key.find_in(table.metadata()) {
            return Ok(Planned::Done {
                reason: format!("{} already committed", self.version),
                snapshot_id: Some(snapshot_id),
            });
        }
        let selector = Supersede::new(table.metadata(), &self.version, &self.partition);
        let (remove, kept, rows_removed) = match rows_to_replace(table, &selector).await {
            Err(Error::Superseded { by, .. }) => {
                return Ok(Planned::Refuse(format!(
                    "{} is superseded by {by}, already current",
                    self.version
                )));
            }
            other => other?,
        };
        let mut properties = self.properties.clone();
        for (k, v) in self.key.pairs() {
            properties.insert(k.clone(), v.clone());
        }
        properties.insert(
            PROP_PIPELINE.to_owned(),
            self.version.pipeline.as_str().to_owned(),
        );
        let (add, add_files, add_files_rows) = match &self.incoming {
            Incoming::Batches(b) => (vec![b.clone()], Vec::new(), 0),
            Incoming::Files(f, n) => (Vec::new(), f.clone(), *n),
        };
        Ok(Planned::Commit(Plan {
            add,
            rewritten: kept,
            add_files,
            add_files_rows,
            remove,
            rows_removed,
            commit_if_empty: false,
            properties,
        }))
    }
}

/// Commit `planner`'s version to `ident` ([`commit_planned`]) and report it as an append:
/// `Committed`, `AlreadyCommitted` (its key was found), or `Empty` when the version is
/// superseded (logged; its rows are not current). Files the caller wrote
/// ([`Incoming::Files`]) are deleted when they provably did not commit.
pub async fn commit_version(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    planner: &VersionPlanner,
) -> Result<AppendOutcome> {
    let outcome = commit_planned(catalog, ident, planner).await;
    let cleanup = || async {
        if let Incoming::Files(files, _) = &planner.incoming
            && let Ok(table) = catalog.load_table(ident).await
        {
            delete_orphans(&table, files).await;
        }
    };
    match outcome {
        Ok(PlannedOutcome::Committed {
            snapshot_id,
            rows_added,
            files_added,
            rows_removed,
            files_removed,
        }) => {
            tracing::info!(
                table = %ident,
                version = %planner.version,
                snapshot_id,
                rows_added,
                rows_removed,
                files_removed,
                "committed a version"
            );
            Ok(AppendOutcome::Committed {
                snapshot_id,
                rows: rows_added,
                data_files: files_added,
            })
        }
        Ok(PlannedOutcome::Done {
            snapshot_id,
            reason,
        }) => {
            cleanup().await;
            tracing::info!(table = %ident, version = %planner.version, %reason, "nothing to commit");
            Ok(match snapshot_id {
                Some(snapshot_id) => AppendOutcome::AlreadyCommitted { snapshot_id },
                None => AppendOutcome::Empty,
            })
        }
        Ok(PlannedOutcome::Refused { reason }) => {
            cleanup().await;
            tracing::warn!(table = %ident, %reason, "version not added");
            Ok(AppendOutcome::Empty)
        }
        Err(e @ Error::Conflict { .. }) => {
            cleanup().await;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Picks the rows of versions of one object that an incoming version supersedes; fails with
/// [`Error::Superseded`] on a row of a version that supersedes the incoming one.
pub struct Supersede<'a> {
    version: &'a ObjectVersion,
    partition: &'a ObjectPartition,
    ids: Option<(i32, i32, i32)>,
}

impl<'a> Supersede<'a> {
    /// For `version`, in `partition`, on a table with `metadata`'s schema.
    pub fn new(
        metadata: &TableMetadata,
        version: &'a ObjectVersion,
        partition: &'a ObjectPartition,
    ) -> Self {
        let schema = metadata.current_schema();
        let id = |n: &str| schema.field_by_name(n).map(|f| f.id);
        let ids = match (id("cube_id"), id("pipeline"), id("calibration_version")) {
            (Some(a), Some(b), Some(c)) => Some((a, b, c)),
            _ => None,
        };
        Supersede {
            version,
            partition,
            ids,
        }
    }

    /// The single (object, pipeline, calibration) a file holds, from its bounds.
    fn pure(&self, file: &DataFile) -> Option<(String, String, String)> {
        let (c, p, v) = self.ids?;
        Some((
            exact_str(file, c)?.to_owned(),
            exact_str(file, p)?.to_owned(),
            exact_str(file, v)?.to_owned(),
        ))
    }

    fn judge(&self, pipeline: &str, calibration: &str) -> Result<Precedence> {
        let existing = parse_pipeline(pipeline).ok_or_else(|| Error::InvalidInput {
            reason: format!(
                "silver row of {} has an unknown pipeline {pipeline:?}",
                self.version.object_id
            ),
        })?;
        let p = precedence(
            (self.version.pipeline, &self.version.calibration_version),
            (existing, calibration),
        );
        if p == Precedence::Superseded {
            return Err(Error::Superseded {
                version: self.version.to_string(),
                by: ObjectVersion {
                    object_id: self.version.object_id.clone(),
                    pipeline: existing,
                    calibration_version: calibration.to_owned(),
                }
                .to_string(),
            });
        }
        Ok(p)
    }
}

impl Supersede<'_> {
    /// Whether `file` may hold rows of the object, any version (its partition and `cube_id`
    /// bounds).
    pub fn may_hold_object(&self, file: &DataFile) -> bool {
        let fields = file.partition().fields();
        let farm_ok = match fields.first() {
            Some(Some(Literal::Primitive(PrimitiveLiteral::String(f)))) => {
                *f == self.partition.farm_id
            }
            _ => true,
        };
        let day_ok = match fields.get(1) {
            Some(Some(Literal::Primitive(PrimitiveLiteral::Int(d)))) => *d == self.partition.day,
            _ => true,
        };
        if !(farm_ok && day_ok) {
            return false;
        }
        let Some((cube_field, _, _)) = self.ids else {
            return true;
        };
        let id = self.version.object_id.as_str();
        let above = match str_bound(file.lower_bounds(), cube_field) {
            Some(lo) => lo <= id,
            None => true,
        };
        let below = match str_bound(file.upper_bounds(), cube_field) {
            // Bounds may be truncated: an upper bound that is a prefix of the id still admits it.
            Some(hi) => hi >= id || id.starts_with(hi),
            None => true,
        };
        above && below
    }
}

impl RowSelector for Supersede<'_> {
    fn may_hold(&self, file: &DataFile) -> bool {
        // A file of this very version only: nothing to replace there.
        self.may_hold_object(file)
            && !matches!(self.pure(file), Some((c, p, v)) if c == self.version.object_id
            && p == self.version.pipeline.as_str()
            && v == self.version.calibration_version)
    }

    fn replaces_whole(&self, file: &DataFile) -> bool {
        match self.pure(file) {
            Some((c, p, v)) if c == self.version.object_id => {
                // `judge` errors (superseding version) are reported when the file is read.
                matches!(self.judge(&p, &v), Ok(Precedence::Supersedes))
            }
            _ => false,
        }
    }

    fn replaced(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        const T: &str = "silver.reflectance";
        let cube = str_column(batch, T, "cube_id")?;
        let pipeline = str_column(batch, T, "pipeline")?;
        let calibration = str_column(batch, T, "calibration_version")?;
        let mut out = Vec::with_capacity(batch.num_rows());
        let mut last: Option<(&str, &str, bool)> = None;
        for i in 0..batch.num_rows() {
            if cube.get(i) != Some(self.version.object_id.as_str()) {
                out.push(Some(false));
                continue;
            }
            let (p, v) = (
                pipeline.get(i).unwrap_or_default(),
                calibration.get(i).unwrap_or_default(),
            );
            let drop = match last {
                Some((lp, lv, d)) if lp == p && lv == v => d,
                _ => {
                    let d = self.judge(p, v)? == Precedence::Supersedes;
                    last = Some((p, v, d));
                    d
                }
            };
            out.push(Some(drop));
        }
        Ok(out.into_iter().collect())
    }
}

fn str_bound(
    bounds: &std::collections::HashMap<i32, iceberg::spec::Datum>,
    id: i32,
) -> Option<&str> {
    match bounds.get(&id)?.literal() {
        PrimitiveLiteral::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// The column's value when lower and upper bound are equal (every row holds it).
fn exact_str(file: &DataFile, id: i32) -> Option<&str> {
    let lo = str_bound(file.lower_bounds(), id)?;
    let hi = str_bound(file.upper_bounds(), id)?;
    (lo == hi && file.null_value_counts().get(&id).copied().unwrap_or(0) == 0).then_some(lo)
}
