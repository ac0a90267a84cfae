//! What one stream commit adds: each row of each object once, current versions only.
//!
//! Chunks can arrive more than once with new offsets: the edge re-sends after a restart (an
//! ack whose unlink was not yet durable, SIGTERM with chunks in flight, a delivery timeout, a
//! replaced producer), and a cube processed again may be cut into different chunks. The
//! consumer therefore decides per **row**, not per offset or chunk:
//!
//! - **Progress** (`hsi.stream.progress`, written with `hsi.kafka.offsets` in every stream
//!   commit): per object version (cube id, calibration version) in flight, the key
//!   `(line, sample)` of the last row committed. The edge sends an object's rows in key order
//!   and a re-send repeats a suffix or the whole, so the committed rows of a version are a
//!   prefix: an incoming row at or before the mark is a duplicate and is dropped, whatever
//!   chunking carried it. A version is marked `done` when its last chunk commits.
//! - **The table is the truth; the progress map is a cache.** A version the map does not hold
//!   (new, or evicted: the map keeps at most [`MAX_TRACKED`] entries) is looked up in Silver
//!   itself: its committed rows give the mark (files of the object are found by partition and
//!   column bounds, and read only when needed), and versions it supersedes are replaced in the
//!   same commit (rules: `hsi_lakehouse::identity`).
//! - **Batch wins.** An object with a batch version (found in Silver, or committed by the
//!   Batch worker since the last stream commit: `hsi.pipeline = batch` in the summaries) gets
//!   no edge rows.
//! - Each object's new rows go to data files of their own, so later replacements are decided
//!   from file metadata.
//!
//! The plan is computed on the exact table state the commit is fenced on (together with the
//! offsets fence), and again after a lost race.

use std::collections::{BTreeMap, BTreeSet};

use arrow_array::{Array, BooleanArray, Int32Array, RecordBatch};
use arrow_select::filter::filter_record_batch;
use async_trait::async_trait;
use hsi_edge::chunk::ChunkMeta;
use hsi_lakehouse::identity::{ObjectVersion, Pipeline};
use hsi_lakehouse::silver::current::{ObjectPartition, PROP_PIPELINE, Supersede};
use hsi_lakehouse::table::{
    PROP_CUBE_ID, PROP_KAFKA_OFFSETS, Plan, Planned, Planner, read_data_file, rows_to_replace,
};
use iceberg::spec::{DataFile, PrimitiveLiteral, TableMetadata};
use iceberg::table::Table;
use serde::{Deserialize, Serialize};

use super::offsets::{KafkaOffsets, check_fence, merged, table_offsets};

/// Snapshot summary property: the stream's per-version progress (JSON, [`StreamProgress`]).
pub const PROP_STREAM_PROGRESS: &str = "hsi.stream.progress";

/// How many object versions the progress map keeps (in-flight first, then the most recently
/// finished). Evicted ones are looked up in Silver when they come back.
pub const MAX_TRACKED: usize = 64;

/// The value of `hsi.stream.progress`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamProgress {
    /// Topic.
    pub topic: String,
    /// Consumer group.
    pub group: String,
    /// Object versions, most recently committed last.
    pub objects: Vec<ObjectProgress>,
}

/// One object version's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectProgress {
    /// `cube_id`.
    pub cube_id: String,
    /// Calibration version.
    pub calibration_version: String,
    /// `line` of the last committed row.
    pub line: i32,
    /// `sample` of the last committed row.
    pub sample: i32,
    /// Whether the version's last chunk was committed.
    pub done: bool,
}

/// One decoded chunk waiting for the next commit.
#[derive(Debug, Clone)]
pub struct PendingChunk {
    /// Its headers.
    pub meta: ChunkMeta,
    /// Its rows.
    pub batches: Vec<RecordBatch>,
}

/// The stream commit's planner.
pub struct StreamPlanner<'a> {
    /// Table name (errors).
    pub table: String,
    /// Topic.
    pub topic: String,
    /// Group.
    pub group: String,
    /// Start offset per partition of this batch (the fence).
    pub starts: BTreeMap<i32, Option<i64>>,
    /// Next offset per partition after this batch.
    pub ends: BTreeMap<i32, i64>,
    /// The chunks, in offset order.
    pub chunks: &'a [PendingChunk],
}

/// What the planner decided per object version (for logs and metrics).
#[derive(Debug, Default)]
struct Decisions {
    duplicate_rows: u64,
    superseded_rows: u64,
}

type VersionKey = (String, String);

#[async_trait]
impl Planner for StreamPlanner<'_> {
    async fn plan(&self, table: &Table) -> hsi_lakehouse::Result<Planned> {
        let md = table.metadata();
        let (offsets, at) = table_offsets(md, &self.table, &self.topic, &self.group)
            .map_err(|e| invalid(e.to_string()))?;
        if let Err(reason) = check_fence(&offsets, &self.starts) {
            return Ok(Planned::Refuse(reason));
        }
        let mut progress = read_progress(md, at, &self.topic, &self.group)?;
        let batched = batch_versions_since(md, at);

        let mut marks: BTreeMap<VersionKey, Option<(i32, i32)>> = progress
            .objects
            .iter()
            .map(|o| {
                (
                    (o.cube_id.clone(), o.calibration_version.clone()),
                    Some((o.line, o.sample)),
                )
            })
            .collect();
        let mut superseded: BTreeSet<String> = batched;
        let mut remove: Vec<DataFile> = Vec::new();
        let mut kept: Vec<RecordBatch> = Vec::new();
        let mut rows_removed = 0u64;
        let mut groups: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
        let mut finished: BTreeSet<VersionKey> = BTreeSet::new();
        let mut decisions = Decisions::default();

        for chunk in self.chunks {
            let key = (
                chunk.meta.cube_id.clone(),
                chunk.meta.calibration_version.clone(),
            );
            let cube = key.0.clone();
            let rows: u64 = chunk.batches.iter().map(|b| b.num_rows() as u64).sum();
            if superseded.contains(&cube) {
                decisions.superseded_rows += rows;
                continue;
            }
            if !marks.contains_key(&key) {
                // Not tracked: the table decides (new version, evicted one, or superseded).
                let Some(partition) = partition_of(&chunk.batches)? else {
                    continue; // no rows
                };
                let version = ObjectVersion {
                    object_id: cube.clone(),
                    pipeline: Pipeline::Edge,
                    calibration_version: key.1.clone(),
                };
                let selector = Supersede::new(md, &version, &partition);
                match rows_to_replace(table, &selector).await {
                    Err(hsi_lakehouse::Error::Superseded { .. }) => {
                        superseded.insert(cube.clone());
                        decisions.superseded_rows += rows;
                        continue;
                    }
                    Err(e) => return Err(e),
                    Ok((r, k, n)) => {
                        remove.extend(r);
                        kept.extend(k);
                        rows_removed += n;
                    }
                }
                let mark = committed_mark(table, &version, &partition).await?;
                marks.retain(|(c, v), _| c != &cube || *v == key.1);
                marks.insert(key.clone(), mark);
            }
            let mark = marks.get(&key).copied().flatten();
            for batch in &chunk.batches {
                let (fresh, last) = after_mark(batch, mark)?;
                decisions.duplicate_rows += (batch.num_rows() - fresh.num_rows()) as u64;
                if let Some(last) = last {
                    marks.insert(key.clone(), Some(last));
                }
                if fresh.num_rows() > 0 {
                    groups.entry(cube.clone()).or_default().push(fresh);
                }
            }
            if chunk.meta.chunk_index + 1 == chunk.meta.chunk_count {
                finished.insert(key);
            }
        }
        if decisions.duplicate_rows > 0 || decisions.superseded_rows > 0 {
            tracing::info!(
                duplicate_rows = decisions.duplicate_rows,
                superseded_rows = decisions.superseded_rows,
                "dropped rows already in Silver or superseded by a batch version"
            );
        }

        // The new progress: versions of this commit last, in-flight before finished.
        let mut objects: Vec<ObjectProgress> = Vec::new();
        let touched: BTreeSet<VersionKey> = self
            .chunks
            .iter()
            .map(|c| (c.meta.cube_id.clone(), c.meta.calibration_version.clone()))
            .collect();
        let old_done: BTreeMap<VersionKey, bool> = progress
            .objects
            .drain(..)
            .map(|o| ((o.cube_id, o.calibration_version), o.done))
            .collect();
        let entry = |k: &VersionKey, mark: (i32, i32), done: bool| ObjectProgress {
            cube_id: k.0.clone(),
            calibration_version: k.1.clone(),
            line: mark.0,
            sample: mark.1,
            done,
        };
        for (k, done) in &old_done {
            if touched.contains(k) || superseded.contains(&k.0) {
                continue;
            }
            if let Some(Some(mark)) = marks.get(k) {
                objects.push(entry(k, *mark, *done));
            }
        }
        for k in &touched {
            if superseded.contains(&k.0) {
                continue;
            }
            if let Some(Some(mark)) = marks.get(k) {
                let done = finished.contains(k) || old_done.get(k).copied().unwrap_or(false);
                objects.push(entry(k, *mark, done));
            }
        }
        // Bound the map: drop the oldest finished entries first, then the oldest in flight.
        while objects.len() > MAX_TRACKED {
            let at = objects.iter().position(|o| o.done).unwrap_or(0);
            objects.remove(at);
        }
        let progress = StreamProgress {
            topic: self.topic.clone(),
            group: self.group.clone(),
            objects,
        };
        let offsets = KafkaOffsets {
            topic: self.topic.clone(),
            group: self.group.clone(),
            partitions: merged(&offsets, &self.ends),
        };
        let mut properties = BTreeMap::from([
            (PROP_KAFKA_OFFSETS.to_owned(), to_json(&offsets)),
            (PROP_STREAM_PROGRESS.to_owned(), to_json(&progress)),
            (PROP_PIPELINE.to_owned(), Pipeline::Edge.as_str().to_owned()),
        ]);
        if groups.len() == 1
            && let Some(cube) = groups.keys().next()
        {
            properties.insert(PROP_CUBE_ID.to_owned(), cube.clone());
        }
        Ok(Planned::Commit(Plan {
            add: groups.into_values().collect(),
            rewritten: kept,
            add_files: Vec::new(),
            add_files_rows: 0,
            remove,
            rows_removed,
            properties,
            commit_if_empty: true,
        }))
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn invalid(reason: String) -> hsi_lakehouse::Error {
    hsi_lakehouse::Error::InvalidInput { reason }
}

/// The progress map carried by the snapshot `at` (the newest stream commit of this group).
pub fn read_progress(
    md: &TableMetadata,
    at: Option<i64>,
    topic: &str,
    group: &str,
) -> hsi_lakehouse::Result<StreamProgress> {
    let Some(snapshot) = at.and_then(|id| md.snapshot_by_id(id)) else {
        return Ok(StreamProgress::default());
    };
    match snapshot
        .summary()
        .additional_properties
        .get(PROP_STREAM_PROGRESS)
    {
        Some(text) => {
            let p: StreamProgress = serde_json::from_str(text).map_err(|e| {
                invalid(format!(
                    "{PROP_STREAM_PROGRESS} of snapshot {}: {e}",
                    snapshot.snapshot_id()
                ))
            })?;
            Ok(if p.topic == topic && p.group == group {
                p
            } else {
                StreamProgress::default()
            })
        }
        None => Ok(StreamProgress::default()),
    }
}

/// Objects whose batch version was committed after snapshot `at` (all of `main` when `None`).
fn batch_versions_since(md: &TableMetadata, at: Option<i64>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut next = md.current_snapshot_id();
    let mut remaining = md.snapshots().len();
    while let (Some(id), true) = (next, remaining > 0) {
        if Some(id) == at {
            break;
        }
        remaining -= 1;
        let Some(s) = md.snapshot_by_id(id) else {
            break;
        };
        let props = &s.summary().additional_properties;
        if props.get(PROP_PIPELINE).map(String::as_str) == Some(Pipeline::Batch.as_str())
            && let Some(cube) = props.get(PROP_CUBE_ID)
        {
            out.insert(cube.clone());
        }
        next = s.parent_snapshot_id();
    }
    out
}

/// The Silver partition of a chunk's rows (its first row's farm and day).
fn partition_of(batches: &[RecordBatch]) -> hsi_lakehouse::Result<Option<ObjectPartition>> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let farm = b
        .column_by_name("farm_id")
        .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
        .filter(|c| c.is_valid(0))
        .map(|c| c.value(0).to_owned());
    let time = b
        .column_by_name("acquisition_time")
        .and_then(|c| {
            c.as_any()
                .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
        })
        .filter(|c| c.is_valid(0))
        .map(|c| c.value(0));
    match (farm, time) {
        (Some(f), Some(t)) => Ok(Some(ObjectPartition::new(&f, t))),
        _ => Err(invalid(
            "chunk rows without farm_id/acquisition_time (checked by decode)".into(),
        )),
    }
}

fn lines_samples(batch: &RecordBatch) -> hsi_lakehouse::Result<(&Int32Array, &Int32Array)> {
    let col = |n: &str| {
        batch
            .column_by_name(n)
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
            .ok_or_else(|| invalid(format!("silver rows without an Int32 `{n}` column")))
    };
    Ok((col("line")?, col("sample")?))
}

/// The rows of `batch` after `mark`, and the key of the last of them.
fn after_mark(
    batch: &RecordBatch,
    mark: Option<(i32, i32)>,
) -> hsi_lakehouse::Result<(RecordBatch, Option<(i32, i32)>)> {
    let (lines, samples) = lines_samples(batch)?;
    let mut last = None;
    let keep: BooleanArray = (0..batch.num_rows())
        .map(|i| {
            let k = (lines.value(i), samples.value(i));
            let fresh = mark.is_none_or(|m| k > m);
            if fresh && last.is_none_or(|l| k > l) {
                last = Some(k);
            }
            Some(fresh)
        })
        .collect();
    if keep.true_count() == batch.num_rows() {
        return Ok((batch.clone(), last));
    }
    let fresh = filter_record_batch(batch, &keep)
        .map_err(|e| invalid(format!("filter duplicate rows: {e}")))?;
    Ok((fresh, last))
}

/// The key of the last row of `version` in Silver (`None`: it has no rows).
async fn committed_mark(
    table: &Table,
    version: &ObjectVersion,
    partition: &ObjectPartition,
) -> hsi_lakehouse::Result<Option<(i32, i32)>> {
    let md = table.metadata();
    let schema = md.current_schema();
    let Some(line_id) = schema.field_by_name("line").map(|f| f.id) else {
        return Ok(None);
    };
    let holds = Supersede::new(md, version, partition);
    let mut files =
        hsi_lakehouse::table::commit::live_files(table, |f| holds.may_hold_object(f)).await?;
    let upper = |f: &DataFile| match f.upper_bounds().get(&line_id).map(|d| d.literal()) {
        Some(PrimitiveLiteral::Int(l)) => *l,
        _ => i32::MAX,
    };
    // Highest lines first; stop once no remaining file can beat what was found.
    files.sort_by_key(|f| std::cmp::Reverse(upper(f)));
    let mut best: Option<(i32, i32)> = None;
    for f in &files {
        if best.is_some_and(|b| upper(f) < b.0) {
            break;
        }
        for batch in read_data_file(table, f).await? {
            let (lines, samples) = lines_samples(&batch)?;
            let mask = version_rows(&batch, version)?;
            for i in 0..batch.num_rows() {
                if mask.value(i) {
                    let k = (lines.value(i), samples.value(i));
                    if best.is_none_or(|b| k > b) {
                        best = Some(k);
                    }
                }
            }
        }
    }
    Ok(best)
}

fn version_rows(batch: &RecordBatch, v: &ObjectVersion) -> hsi_lakehouse::Result<BooleanArray> {
    let s = |n: &str| {
        batch
            .column_by_name(n)
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
            .ok_or_else(|| invalid(format!("silver rows without a string `{n}` column")))
    };
    let (c, p, cal) = (s("cube_id")?, s("pipeline")?, s("calibration_version")?);
    Ok((0..batch.num_rows())
        .map(|i| {
            Some(
                c.is_valid(i)
                    && c.value(i) == v.object_id
                    && p.value(i) == v.pipeline.as_str()
                    && cal.value(i) == v.calibration_version,
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn keys(pairs: &[(i32, i32)]) -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("line", DataType::Int32, false),
                Field::new("sample", DataType::Int32, false),
            ])),
            vec![
                Arc::new(Int32Array::from(
                    pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
                )),
                Arc::new(Int32Array::from(
                    pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn rows_at_or_before_the_mark_are_duplicates_whatever_the_chunking() {
        // First send: rows (0,0)..(1,1) committed; the mark is (1,1).
        let (fresh, last) = after_mark(&keys(&[(0, 0), (0, 1), (1, 0), (1, 1)]), None).unwrap();
        assert_eq!((fresh.num_rows(), last), (4, Some((1, 1))));
        // A re-send cut differently overlaps the mark: only the rows after it are new.
        let (fresh, last) = after_mark(&keys(&[(1, 0), (1, 1), (2, 0)]), Some((1, 1))).unwrap();
        assert_eq!((fresh.num_rows(), last), (1, Some((2, 0))));
        // Wholly before the mark: nothing.
        let (fresh, last) = after_mark(&keys(&[(0, 0), (0, 1)]), Some((2, 0))).unwrap();
        assert_eq!((fresh.num_rows(), last), (0, None));
    }

    #[test]
    fn progress_json_round_trips() {
        let p = StreamProgress {
            topic: "t".into(),
            group: "g".into(),
            objects: vec![ObjectProgress {
                cube_id: "c/1".into(),
                calibration_version: "v".into(),
                line: 3,
                sample: 9,
                done: false,
            }],
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<StreamProgress>(&text).unwrap(), p);
    }
}
