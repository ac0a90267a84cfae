//! The one commit primitive (`table::commit`) and what is built on it, checked through a
//! second implementation (pyiceberg):
//!
//! - a version of a raw object replaces the versions it supersedes in one snapshot, rewriting
//!   a file it shares with another object (copy-on-write), and a superseded version is never
//!   added; time travel still shows the old rows;
//! - an ambiguous commit (the catalog committed, the reply was lost) deletes nothing, and a
//!   retry adds nothing;
//! - a replace that loses a race to a concurrent writer re-plans on the new state: nothing
//!   lost, nothing doubled.

mod iceberg_common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use async_trait::async_trait;
use hsi_lakehouse::identity::{ObjectVersion, Pipeline};
use hsi_lakehouse::silver::current::{Incoming, ObjectPartition, VersionPlanner, commit_version};
use hsi_lakehouse::table::commit::MetadataStore;
use hsi_lakehouse::table::{
    self, AppendOutcome, IdempotencyKey, append_batches, append_batches_once, silver_reflectance,
};
use hsi_lakehouse::{Error, LakeCatalog};
use iceberg::table::Table;
use iceberg::{Catalog, Namespace, NamespaceIdent, TableCommit, TableCreation, TableIdent};
use iceberg_common::*;

/// `batch` with its `pipeline` column set to `pipeline` and its calibration to `version`.
fn as_version(batch: &RecordBatch, pipeline: &str, version: &str) -> RecordBatch {
    let n = batch.num_rows();
    let schema = batch.schema();
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| match f.name().as_str() {
            "pipeline" => Arc::new(StringArray::from(vec![pipeline; n])) as ArrayRef,
            "calibration_version" => Arc::new(StringArray::from(vec![version; n])) as ArrayRef,
            _ => c.clone(),
        })
        .collect();
    RecordBatch::try_new(schema, cols).expect("batch")
}

fn planner(
    cube: &TestCube,
    pipeline: Pipeline,
    version: &str,
    batch: RecordBatch,
) -> VersionPlanner {
    VersionPlanner {
        version: ObjectVersion {
            object_id: cube.cube_id.clone(),
            pipeline,
            calibration_version: version.to_owned(),
        },
        partition: ObjectPartition::new(&cube.farm_id, cube.acquisition_time.timestamp_micros()),
        key: IdempotencyKey::cube(&cube.cube_id, version).expect("key"),
        properties: BTreeMap::new(),
        incoming: Incoming::Batches(vec![batch]),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_replaces_what_it_supersedes_and_a_superseded_one_is_not_added() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.expect("init");
    let ident = silver_reflectance();
    let grid = vnir_grid();
    let c1 = cube(1, "C1", "farm-a", day1(), 3, 4);
    let c4 = cube(4, "C4", "farm-a", day1(), 2, 3);
    let n1 = (c1.lines * c1.samples) as usize;
    let n4 = (c4.lines * c4.samples) as usize;

    // What the stream consumer of an older version wrote: C1's edge rows and C4's rows in one
    // data file (same partition).
    let edge_c1 = as_version(&silver_batch(&c1, &grid), "edge", "cal-e1");
    let c4_rows = as_version(&silver_batch(&c4, &grid), "edge", "cal-e1");
    let mixed = arrow_select::concat::concat_batches(&edge_c1.schema(), [&edge_c1, &c4_rows])
        .expect("concat");
    let first = append_batches(lake.catalog(), &ident, &[mixed], BTreeMap::new())
        .await
        .expect("append")
        .snapshot_id()
        .expect("snapshot");

    // The batch version of C1 arrives (backhauled): it replaces C1's edge rows only.
    let batch_c1 = silver_batch(&c1, &grid);
    let out = commit_version(
        lake.catalog(),
        &ident,
        &planner(&c1, Pipeline::Batch, "cal-v1", batch_c1.clone()),
    )
    .await
    .expect("commit batch version");
    assert!(
        matches!(out, AppendOutcome::Committed { rows, .. } if rows == n1 as u64),
        "{out:?}"
    );

    // A late edge chunk of C1 (another calibration, even) is not added: batch is current.
    let late = as_version(&silver_batch(&c1, &grid), "edge", "cal-e2");
    let out = commit_version(
        lake.catalog(),
        &ident,
        &planner(&c1, Pipeline::Edge, "cal-e2", late),
    )
    .await
    .expect("late edge");
    assert_eq!(out, AppendOutcome::Empty);
    // The same batch version again: its key is in the history.
    let out = commit_version(
        lake.catalog(),
        &ident,
        &planner(&c1, Pipeline::Batch, "cal-v1", batch_c1),
    )
    .await
    .expect("replay");
    assert!(
        matches!(out, AppendOutcome::AlreadyCommitted { .. }),
        "{out:?}"
    );

    let Some(py) = python("a_version_replaces_what_it_supersedes") else {
        return;
    };
    let j = pyiceberg_read(
        &py,
        &lake,
        "silver.reflectance",
        &[
            "--columns",
            "cube_id,line,sample,pipeline,calibration_version",
            "--order-by",
            "cube_id,line,sample",
        ],
    );
    assert_eq!(j["rows"], (n1 + n4) as u64);
    let cubes = strs(&j["data"]["cube_id"]);
    let pipelines = strs(&j["data"]["pipeline"]);
    let versions = strs(&j["data"]["calibration_version"]);
    for i in 0..cubes.len() {
        match cubes[i].as_str() {
            "C1" => assert_eq!(
                (pipelines[i].as_str(), versions[i].as_str()),
                ("batch", "cal-v1")
            ),
            "C4" => assert_eq!(
                (pipelines[i].as_str(), versions[i].as_str()),
                ("edge", "cal-e1")
            ),
            other => panic!("unexpected cube {other}"),
        }
    }
    // Each pixel once.
    let lines = i64s(&j["data"]["line"]);
    let samples = i64s(&j["data"]["sample"]);
    let mut keys: Vec<_> = (0..cubes.len())
        .map(|i| (cubes[i].clone(), lines[i], samples[i]))
        .collect();
    keys.dedup();
    assert_eq!(keys.len(), n1 + n4);
    let ops: Vec<String> = j["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|s| s["operation"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        ops,
        ["append", "overwrite"],
        "the late edge chunk and the replay committed nothing"
    );
    // Time travel: the first snapshot still has C1's edge rows.
    let old = pyiceberg_read(
        &py,
        &lake,
        "silver.reflectance",
        &[
            "--snapshot-id",
            &first.to_string(),
            "--filter",
            "pipeline == 'edge'",
        ],
    );
    assert_eq!(old["rows"], (n1 + n4) as u64);
}

/// How [`Flaky`] misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Swap, then report a connection error (the reply was lost).
    ReplyLost,
    /// As `ReplyLost`, and reading the pointer back fails too.
    Blind,
    /// Before the first swap, another writer commits (the swap then loses its race).
    Race,
}

/// A catalog that delegates to the real one and misbehaves around the pointer swap.
#[derive(Debug)]
struct Flaky {
    inner: Arc<dyn LakeCatalog>,
    mode: Mode,
    swaps: AtomicUsize,
    race_batch: Option<RecordBatch>,
}

fn lost_reply() -> Error {
    Error::Io {
        path: "catalog.db".into(),
        source: std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reply lost"),
    }
}

#[async_trait]
impl MetadataStore for Flaky {
    async fn current_location(&self, ident: &TableIdent) -> hsi_lakehouse::Result<String> {
        if self.mode == Mode::Blind && self.swaps.load(Ordering::SeqCst) > 0 {
            return Err(lost_reply());
        }
        self.inner.current_location(ident).await
    }

    async fn swap_location(
        &self,
        ident: &TableIdent,
        expected: &str,
        new: &str,
    ) -> hsi_lakehouse::Result<()> {
        let n = self.swaps.fetch_add(1, Ordering::SeqCst);
        match self.mode {
            Mode::ReplyLost | Mode::Blind => {
                self.inner.swap_location(ident, expected, new).await?;
                Err(lost_reply())
            }
            Mode::Race => {
                if n == 0
                    && let Some(b) = &self.race_batch
                {
                    append_batches(
                        self.inner.as_ref(),
                        ident,
                        std::slice::from_ref(b),
                        BTreeMap::new(),
                    )
                    .await?;
                }
                self.inner.swap_location(ident, expected, new).await
            }
        }
    }
}

#[async_trait]
impl Catalog for Flaky {
    async fn list_namespaces(
        &self,
        p: Option<&NamespaceIdent>,
    ) -> iceberg::Result<Vec<NamespaceIdent>> {
        self.inner.list_namespaces(p).await
    }
    async fn create_namespace(
        &self,
        n: &NamespaceIdent,
        p: HashMap<String, String>,
    ) -> iceberg::Result<Namespace> {
        self.inner.create_namespace(n, p).await
    }
    async fn get_namespace(&self, n: &NamespaceIdent) -> iceberg::Result<Namespace> {
        self.inner.get_namespace(n).await
    }
    async fn namespace_exists(&self, n: &NamespaceIdent) -> iceberg::Result<bool> {
        self.inner.namespace_exists(n).await
    }
    async fn update_namespace(
        &self,
        n: &NamespaceIdent,
        p: HashMap<String, String>,
    ) -> iceberg::Result<()> {
        self.inner.update_namespace(n, p).await
    }
    async fn drop_namespace(&self, n: &NamespaceIdent) -> iceberg::Result<()> {
        self.inner.drop_namespace(n).await
    }
    async fn list_tables(&self, n: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        self.inner.list_tables(n).await
    }
    async fn create_table(&self, n: &NamespaceIdent, c: TableCreation) -> iceberg::Result<Table> {
        self.inner.create_table(n, c).await
    }
    async fn load_table(&self, t: &TableIdent) -> iceberg::Result<Table> {
        self.inner.load_table(t).await
    }
    async fn drop_table(&self, t: &TableIdent) -> iceberg::Result<()> {
        self.inner.drop_table(t).await
    }
    async fn purge_table(&self, t: &TableIdent) -> iceberg::Result<()> {
        self.inner.purge_table(t).await
    }
    async fn table_exists(&self, t: &TableIdent) -> iceberg::Result<bool> {
        self.inner.table_exists(t).await
    }
    async fn rename_table(&self, s: &TableIdent, d: &TableIdent) -> iceberg::Result<()> {
        self.inner.rename_table(s, d).await
    }
    async fn register_table(&self, t: &TableIdent, m: String) -> iceberg::Result<Table> {
        self.inner.register_table(t, m).await
    }
    async fn update_table(&self, c: TableCommit) -> iceberg::Result<Table> {
        self.inner.update_table(c).await
    }
}

fn flaky(lake: &Lake, mode: Mode, race_batch: Option<RecordBatch>) -> Flaky {
    Flaky {
        inner: lake.catalog.clone(),
        mode,
        swaps: AtomicUsize::new(0),
        race_batch,
    }
}

/// Every data file the current snapshot references exists on disk.
async fn referenced_files_exist(lake: &Lake) -> usize {
    let t = lake
        .catalog()
        .load_table(&silver_reflectance())
        .await
        .expect("load");
    let files = table::commit::live_files(&t, |_| true)
        .await
        .expect("files");
    for f in &files {
        let path = f
            .file_path()
            .strip_prefix("file://")
            .unwrap_or(f.file_path());
        assert!(
            std::path::Path::new(path).exists(),
            "deleted but referenced: {path}"
        );
    }
    files.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_commit_deletes_nothing_and_a_retry_adds_nothing() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.expect("init");
    let ident = silver_reflectance();
    let grid = vnir_grid();
    let cubes = three_cubes();
    let n = |c: &TestCube| (c.lines * c.samples) as u64;

    // The catalog commits, the reply is lost, the pointer read settles it: committed.
    let k1 = IdempotencyKey::manifest("m1").expect("key");
    let cat = flaky(&lake, Mode::ReplyLost, None);
    let out = append_batches_once(
        &cat,
        &ident,
        &[silver_batch(&cubes[0], &grid)],
        BTreeMap::new(),
        &k1,
    )
    .await
    .expect("a lost reply that landed is a success");
    assert!(matches!(out, AppendOutcome::Committed { .. }), "{out:?}");
    assert_eq!(referenced_files_exist(&lake).await, 1);
    let again = append_batches_once(
        lake.catalog(),
        &ident,
        &[silver_batch(&cubes[0], &grid)],
        BTreeMap::new(),
        &k1,
    )
    .await
    .expect("retry");
    assert!(
        matches!(again, AppendOutcome::AlreadyCommitted { .. }),
        "{again:?}"
    );

    // The catalog commits and nothing can be read back: ambiguous. Nothing is deleted (the
    // snapshot is live), and the retry finds its key.
    let k2 = IdempotencyKey::manifest("m2").expect("key");
    let cat = flaky(&lake, Mode::Blind, None);
    let err = append_batches_once(
        &cat,
        &ident,
        &[silver_batch(&cubes[1], &grid)],
        BTreeMap::new(),
        &k2,
    )
    .await
    .expect_err("ambiguous");
    assert!(matches!(err, Error::AmbiguousCommit { .. }), "{err}");
    assert!(err.retryable());
    assert_eq!(
        referenced_files_exist(&lake).await,
        2,
        "the landed snapshot's files are all there"
    );
    let again = append_batches_once(
        lake.catalog(),
        &ident,
        &[silver_batch(&cubes[1], &grid)],
        BTreeMap::new(),
        &k2,
    )
    .await
    .expect("retry");
    assert!(
        matches!(again, AppendOutcome::AlreadyCommitted { .. }),
        "{again:?}"
    );

    // A replace that loses its race to a concurrent append re-plans on the new state.
    let c3 = &cubes[2];
    let cat = flaky(&lake, Mode::Race, Some(silver_batch(c3, &grid)));
    let v2 = as_version(&silver_batch(&cubes[0], &grid), "batch", "cal-v2");
    let out = commit_version(
        &cat,
        &ident,
        &planner(&cubes[0], Pipeline::Batch, "cal-v2", v2),
    )
    .await
    .expect("replace after a lost race");
    assert!(matches!(out, AppendOutcome::Committed { .. }), "{out:?}");
    assert!(
        cat.swaps.load(Ordering::SeqCst) >= 2,
        "the first swap lost its race"
    );
    referenced_files_exist(&lake).await;

    let Some(py) = python("an_ambiguous_commit_deletes_nothing") else {
        return;
    };
    let j = pyiceberg_read(
        &py,
        &lake,
        "silver.reflectance",
        &[
            "--columns",
            "cube_id,calibration_version",
            "--order-by",
            "cube_id",
        ],
    );
    // C1 once (now cal-v2), C2 once, C3 once (the concurrent writer's rows kept).
    assert_eq!(j["rows"], n(&cubes[0]) + n(&cubes[1]) + n(c3));
    let cubes_seen = strs(&j["data"]["cube_id"]);
    let versions = strs(&j["data"]["calibration_version"]);
    for (c, v) in cubes_seen.iter().zip(&versions) {
        if c == "C1" {
            assert_eq!(v, "cal-v2");
        }
    }
}
