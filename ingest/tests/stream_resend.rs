//! Re-sent chunks and versions through the stream commit planner, on a real warehouse, read
//! back by pyiceberg (no Kafka needed: the planner is what decides; `stream_kafka.rs` runs the
//! same through the consumer process and a broker).
//!
//! - One cube sent three times, cut into different chunks each time, in several commits, and
//!   once more by a consumer that has no progress for it (another group: the table decides):
//!   each row lands once.
//! - The batch version of the cube replaces its edge rows; a late edge chunk adds nothing.
//! - A newer edge version (the cube reprocessed on the equipment) replaces the older one.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{
    Array, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use hsi_edge::chunk::{ChunkMeta, schema_id};
use hsi_edge::flatten::schema::silver_schema;
use hsi_ingest::stream::planner::{PendingChunk, StreamPlanner};
use hsi_lakehouse::identity::{ObjectVersion, Pipeline};
use hsi_lakehouse::silver::current::{Incoming, ObjectPartition, VersionPlanner, commit_version};
use hsi_lakehouse::table::{
    self, IdempotencyKey, PlannedOutcome, commit_planned, silver_reflectance,
};
use hsi_lakehouse::{LakehouseConfig, open_catalog};

const GRID: [f32; 3] = [670.0, 800.0, 860.0];
const TIME_US: i64 = 1_718_000_000_000_000;

/// Rows `first..first + n` of `cube` (64 samples per line), as `pipeline`/`version`.
fn rows(cube: &str, pipeline: &str, version: &str, first: usize, n: usize) -> RecordBatch {
    let s = |v: &str| Arc::new(StringArray::from(vec![v; n])) as Arc<dyn Array>;
    let idx = first..first + n;
    let mut cols: Vec<Arc<dyn Array>> = vec![
        s(cube),
        s("farm-1"),
        s("field-1"),
        s("sensor-1"),
        Arc::new(TimestampMicrosecondArray::from(vec![TIME_US; n]).with_timezone("UTC")),
        Arc::new(Int32Array::from_iter_values(
            idx.clone().map(|i| (i / 64) as i32),
        )),
        Arc::new(Int32Array::from_iter_values(
            idx.clone().map(|i| (i % 64) as i32),
        )),
        Arc::new(Float64Array::from_iter_values(
            idx.clone().map(|i| i as f64),
        )),
        Arc::new(Float64Array::from_iter_values(
            idx.clone().map(|i| -(i as f64)),
        )),
        s(pipeline),
        s(version),
    ];
    for b in 0..GRID.len() {
        cols.push(Arc::new(Float32Array::from_iter_values(
            idx.clone().map(|i| ((i + b) % 97) as f32 / 97.0),
        )));
    }
    RecordBatch::try_new(silver_schema(&GRID), cols).expect("batch")
}

/// A cube of `total` rows cut into chunks of `size` rows.
fn chunked(cube: &str, version: &str, total: usize, size: usize) -> Vec<PendingChunk> {
    let count = total.div_ceil(size);
    (0..count)
        .map(|i| {
            let first = i * size;
            let n = size.min(total - first);
            PendingChunk {
                meta: ChunkMeta {
                    cube_id: cube.into(),
                    chunk_index: i as u32,
                    chunk_count: count as u32,
                    schema: schema_id(&silver_schema(&GRID)),
                    calibration_version: version.into(),
                },
                batches: vec![rows(cube, "edge", version, first, n)],
            }
        })
        .collect()
}

struct Stream {
    group: String,
    next: i64,
}

impl Stream {
    /// Commit `chunks` as the next records of partition 0 of this group.
    async fn commit(&mut self, catalog: &dyn hsi_lakehouse::LakeCatalog, chunks: &[PendingChunk]) {
        let start = (self.next > 0).then_some(self.next);
        let end = self.next + chunks.len() as i64;
        let planner = StreamPlanner {
            table: "silver.reflectance".into(),
            topic: "hsi.silver.v1".into(),
            group: self.group.clone(),
            starts: BTreeMap::from([(0, start)]),
            ends: BTreeMap::from([(0, end)]),
            chunks,
        };
        let out = commit_planned(catalog, &silver_reflectance(), &planner)
            .await
            .expect("commit");
        assert!(matches!(out, PlannedOutcome::Committed { .. }), "{out:?}");
        self.next = end;
    }
}

const ORACLE: &str = r#"
import json, sys
from collections import Counter
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
cat = SqlCatalog("hsi", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}")
a = cat.load_table("silver.reflectance").scan(
    selected_fields=("cube_id", "line", "sample", "pipeline", "calibration_version", "b0800")).to_arrow().to_pydict()
out = {}
keys = Counter(zip(a["cube_id"], a["line"], a["sample"]))
for c in set(a["cube_id"]):
    out[c] = {
        "rows": sum(1 for x in a["cube_id"] if x == c),
        "distinct": sum(1 for k in keys if k[0] == c),
        "versions": sorted({f"{p}/{v}" for x, p, v in zip(a["cube_id"], a["pipeline"], a["calibration_version"]) if x == c}),
        "b0800_sum": sum(b for x, b in zip(a["cube_id"], a["b0800"]) if x == c),
    }
print(json.dumps(out))
"#;

fn expected_b0800_sum(first: usize, n: usize) -> f64 {
    (first..first + n)
        .map(|i| (((i + 1) % 97) as f32 / 97.0) as f64)
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn resent_and_superseded_chunks_land_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let warehouse = dir.path().join("warehouse");
    let catalog = open_catalog(&LakehouseConfig::local(&warehouse))
        .await
        .expect("catalog");
    let cat = catalog.as_ref();
    table::init(cat).await.expect("init");
    hsi_lakehouse::silver::evolve_bands(
        cat,
        &silver_reflectance(),
        &[rows("x", "edge", "v", 0, 1)],
    )
    .await
    .expect("bands");
    const N: usize = 1000;

    // First send, cut at 300 rows: chunks 0-1 in one commit, chunk 2 in the next; chunk 3
    // is lost with a crash (never committed).
    let mut g1 = Stream {
        group: "silver-ingest".into(),
        next: 0,
    };
    let a = chunked("resend-1", "cal-v1", N, 300);
    g1.commit(cat, &a[..2]).await;
    g1.commit(cat, &a[2..3]).await;
    // The edge restarts and re-sends the whole cube, now cut at 250 rows (new offsets).
    let b = chunked("resend-1", "cal-v1", N, 250);
    g1.commit(cat, &b[..3]).await;
    g1.commit(cat, &b[3..]).await;
    // And once more, partly (a suffix, cut at 120 rows), after the cube was complete.
    let c = chunked("resend-1", "cal-v1", N, 120);
    g1.commit(cat, &c[5..]).await;
    // A consumer with no progress for the cube (another group): Silver itself tells it
    // which rows are there.
    let mut g2 = Stream {
        group: "other-group".into(),
        next: 0,
    };
    g2.commit(cat, &chunked("resend-1", "cal-v1", N, 400)).await;

    // A newer edge version of another cube replaces the older one.
    g1.commit(cat, &chunked("ev-1", "cal-v1", 500, 200)).await;
    g1.commit(cat, &chunked("ev-1", "cal-v2", 300, 200)).await;

    let Some(py) = common::python("resent_and_superseded_chunks_land_once") else {
        return;
    };
    let v = common::pyiceberg(&py, &warehouse, ORACLE, &[]);
    assert_eq!(v["resend-1"]["rows"], N as u64, "{v}");
    assert_eq!(v["resend-1"]["distinct"], N as u64, "{v}");
    let sum = v["resend-1"]["b0800_sum"].as_f64().expect("sum");
    assert!((sum - expected_b0800_sum(0, N)).abs() < 1e-3, "{sum}");
    assert_eq!(v["ev-1"]["rows"], 300, "{v}");
    assert_eq!(v["ev-1"]["versions"], serde_json::json!(["edge/cal-v2"]));

    // The backhauled cube's batch version replaces its edge rows...
    let batch = rows("resend-1", "batch", "cal-b", 0, N);
    let planner = VersionPlanner {
        version: ObjectVersion {
            object_id: "resend-1".into(),
            pipeline: Pipeline::Batch,
            calibration_version: "cal-b".into(),
        },
        partition: ObjectPartition::new("farm-1", TIME_US),
        key: IdempotencyKey::cube("resend-1", "cal-b").expect("key"),
        properties: BTreeMap::new(),
        incoming: Incoming::Batches(vec![batch]),
    };
    commit_version(cat, &silver_reflectance(), &planner)
        .await
        .expect("batch version");
    // ...and a late edge chunk (the stream was behind) adds nothing.
    g1.commit(cat, &chunked("resend-1", "cal-v1", N, 300)[1..2])
        .await;
    let v = common::pyiceberg(&py, &warehouse, ORACLE, &[]);
    assert_eq!(v["resend-1"]["rows"], N as u64, "{v}");
    assert_eq!(v["resend-1"]["distinct"], N as u64, "{v}");
    assert_eq!(
        v["resend-1"]["versions"],
        serde_json::json!(["batch/cal-b"])
    );
}
