//! Snapshots: listing, time travel by id and by time, rollback with compare-and-swap — and
//! pyiceberg loading the rolled-back table from the same SQLite catalog.

mod iceberg_common;

use hsi_lakehouse::MetadataPointers;
use hsi_lakehouse::silver::append_silver;
use hsi_lakehouse::snapshots::{
    AsOf, commit_rollback, list_snapshots, prepare_rollback, resolve, rollback, scan_at,
};
use hsi_lakehouse::table::{self, AppendOutcome, IdempotencyKey, silver_reflectance};
use iceberg_common::*;

async fn append_cube(lake: &Lake, c: &TestCube, manifest: &str) -> i64 {
    let key = IdempotencyKey::manifest(manifest).unwrap();
    let out = append_silver(
        lake.catalog(),
        &silver_reflectance(),
        &[silver_batch(c, &vnir_grid())],
        "cal-v1",
        &key,
    )
    .await
    .unwrap();
    match out {
        AppendOutcome::Committed { snapshot_id, .. } => snapshot_id,
        other => panic!("{other:?}"),
    }
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

#[tokio::test]
async fn list_time_travel_and_rollback() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.unwrap();
    let ident = silver_reflectance();
    let cubes = three_cubes();

    let s1 = append_cube(&lake, &cubes[0], "m1").await; // 12 rows
    sleep_ms(5).await;
    let between = chrono::Utc::now().timestamp_millis();
    sleep_ms(5).await;
    let s2 = append_cube(&lake, &cubes[1], "m2").await; // +10
    let s3 = append_cube(&lake, &cubes[2], "m3").await; // +8

    let t = lake.catalog().load_table(&ident).await.unwrap();
    let snaps = list_snapshots(&t);
    let ids: Vec<i64> = snaps.iter().map(|s| s.id).collect();
    assert_eq!(ids, [s1, s2, s3]);
    assert_eq!(snaps[0].parent, None);
    assert_eq!(snaps[1].parent, Some(s1));
    assert_eq!(snaps[2].parent, Some(s2));
    assert!(snaps.iter().all(|s| s.operation == "append"));
    assert_eq!(snaps[1].summary["hsi.manifest.id"], "m2");
    assert_eq!(snaps[1].summary["added-records"], "10");
    assert_eq!(snaps[2].summary["total-records"], "30");
    assert!(snaps[2].is_current && !snaps[0].is_current);

    // Time travel.
    assert_eq!(
        total_rows(&scan_at(&t, AsOf::Snapshot(s1)).await.unwrap()),
        12
    );
    assert_eq!(
        total_rows(&scan_at(&t, AsOf::Snapshot(s2)).await.unwrap()),
        22
    );
    assert_eq!(resolve(&t, AsOf::Timestamp(between)).unwrap(), s1);
    assert_eq!(
        total_rows(&scan_at(&t, AsOf::Timestamp(between)).await.unwrap()),
        12
    );
    let first_ts = snaps[0].timestamp_ms;
    assert!(matches!(
        resolve(&t, AsOf::Timestamp(first_ts - 1)),
        Err(hsi_lakehouse::Error::NoSnapshotAt { .. })
    ));
    assert!(matches!(
        scan_at(&t, AsOf::Snapshot(42)).await,
        Err(hsi_lakehouse::Error::SnapshotNotFound {
            snapshot_id: 42,
            ..
        })
    ));

    // Rollback to s1.
    let pointers = MetadataPointers::connect(&lake.cfg).await.unwrap();
    let before_location = pointers.current(&ident).await.unwrap();
    assert_eq!(Some(before_location.as_str()), t.metadata_location());
    let unknown = rollback(lake.catalog(), &ident, 4242).await.unwrap_err();
    assert!(matches!(
        unknown,
        hsi_lakehouse::Error::SnapshotNotFound {
            snapshot_id: 4242,
            ..
        }
    ));
    assert!(!unknown.retryable());

    sleep_ms(5).await;
    let plan = rollback(lake.catalog(), &ident, s1).await.unwrap();
    assert_eq!((plan.from_snapshot_id, plan.to_snapshot_id), (Some(s3), s1));
    assert_eq!(pointers.current(&ident).await.unwrap(), plan.new_location);
    let t = lake.catalog().load_table(&ident).await.unwrap();
    assert_eq!(t.metadata().current_snapshot_id(), Some(s1));
    assert_eq!(
        t.metadata().snapshots().count(),
        3,
        "rollback deletes no snapshot"
    );
    let history: Vec<i64> = t
        .metadata()
        .history()
        .iter()
        .map(|h| h.snapshot_id)
        .collect();
    assert_eq!(history, [s1, s2, s3, s1]);
    assert_eq!(
        t.metadata()
            .metadata_log()
            .last()
            .map(|m| m.metadata_file.as_str()),
        Some(before_location.as_str())
    );
    let scan = t.scan().select_all().build().unwrap();
    assert_eq!(
        total_rows(
            &futures::TryStreamExt::try_collect::<Vec<_>>(scan.to_arrow().await.unwrap())
                .await
                .unwrap()
        ),
        12
    );
    // Rolling back to where we are is a no-op.
    let noop = rollback(lake.catalog(), &ident, s1).await.unwrap();
    assert!(noop.is_noop());

    // Keys of rolled-back snapshots are no longer "committed": replaying m2 appends again,
    // on top of s1.
    let s4 = append_cube(&lake, &cubes[1], "m2").await;
    let t = lake.catalog().load_table(&ident).await.unwrap();
    assert_eq!(
        t.metadata()
            .snapshot_by_id(s4)
            .unwrap()
            .parent_snapshot_id(),
        Some(s1)
    );

    let Some(py) = python("list_time_travel_and_rollback") else {
        return;
    };
    // Roll back once more (to s1) and let pyiceberg load the table from the same catalog.
    rollback(lake.catalog(), &ident, s1).await.unwrap();
    let j = pyiceberg_read(&py, &lake, "silver.reflectance", &[]);
    assert_eq!(j["current_snapshot_id"], s1);
    assert_eq!(j["rows"], 12);
    assert_eq!(j["snapshots"].as_array().unwrap().len(), 4);
    let hist: Vec<i64> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["snapshot_id"].as_i64().unwrap())
        .collect();
    assert_eq!(hist, [s1, s2, s3, s1, s4, s1]);
    // pyiceberg time travel to s3 still sees all three cubes.
    let j3 = pyiceberg_read(
        &py,
        &lake,
        "silver.reflectance",
        &["--snapshot-id", &s3.to_string()],
    );
    assert_eq!(j3["rows"], 30);
}

#[tokio::test]
async fn rollback_fails_with_conflict_when_table_moves_between_read_and_swap() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.unwrap();
    let ident = silver_reflectance();
    let cubes = three_cubes();
    let s1 = append_cube(&lake, &cubes[0], "m1").await;
    let _s2 = append_cube(&lake, &cubes[1], "m2").await;

    // Read + write new metadata...
    let plan = prepare_rollback(lake.catalog(), &ident, s1).await.unwrap();
    assert!(!plan.is_noop());
    let new_file = plan
        .new_location
        .strip_prefix("file://")
        .unwrap()
        .to_owned();
    assert!(std::path::Path::new(&new_file).exists());
    // ...a concurrent writer commits in between...
    let s3 = append_cube(&lake, &cubes[2], "m3").await;
    // ...so the swap must fail, retryably, leaving the concurrent commit in place.
    let err = commit_rollback(lake.catalog(), &plan).await.unwrap_err();
    assert!(
        matches!(err, hsi_lakehouse::Error::Conflict { .. }),
        "{err}"
    );
    assert!(err.retryable());
    assert!(
        !std::path::Path::new(&new_file).exists(),
        "unused metadata file removed"
    );
    let t = lake.catalog().load_table(&ident).await.unwrap();
    assert_eq!(t.metadata().current_snapshot_id(), Some(s3));
    assert_eq!(
        total_rows(&scan_at(&t, AsOf::Snapshot(s3)).await.unwrap()),
        30
    );

    // Retrying from a fresh read succeeds.
    rollback(lake.catalog(), &ident, s1).await.unwrap();
    let t = lake.catalog().load_table(&ident).await.unwrap();
    assert_eq!(t.metadata().current_snapshot_id(), Some(s1));

    if let Some(py) = python("rollback_fails_with_conflict_when_table_moves_between_read_and_swap")
    {
        let j = pyiceberg_read(&py, &lake, "silver.reflectance", &[]);
        assert_eq!(j["current_snapshot_id"], s1);
        assert_eq!(j["rows"], 12);
    }
}
