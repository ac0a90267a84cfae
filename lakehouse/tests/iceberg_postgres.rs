//! The SQL catalog on PostgreSQL (`$n` placeholders, also in the rollback's direct
//! compare-and-swap). Runs only when `HSI_TEST_POSTGRES_URL` names a database
//! (e.g. `postgres://hsi:hsi@127.0.0.1:5432/hsi`); prints `SKIPPED:` otherwise. Each run uses
//! fresh, uniquely named namespaces, since the catalog database outlives the test.

mod iceberg_common;

use hsi_lakehouse::MetadataPointers;
use hsi_lakehouse::catalog::LakehouseConfig;
use hsi_lakehouse::silver::append_silver;
use hsi_lakehouse::snapshots::rollback;
use hsi_lakehouse::table::{self, AppendOutcome, IdempotencyKey, TableDef};
use iceberg_common::*;

#[tokio::test]
async fn sql_catalog_on_postgres() {
    let Ok(url) = std::env::var("HSI_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: sql_catalog_on_postgres: set HSI_TEST_POSTGRES_URL to run it");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = LakehouseConfig {
        catalog_uri: url,
        warehouse: dir.path().join("warehouse").display().to_string(),
        s3: None,
    };
    let catalog = hsi_lakehouse::open_catalog(&cfg).await.unwrap();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let def = TableDef {
        ident: table::ident(&format!("silver_{run}"), "reflectance"),
        ..table::silver_table_def(&vnir_grid())
    };
    let ident = def.ident.clone();
    table::init_table(catalog.as_ref(), &def).await.unwrap();
    // Idempotent.
    table::init_table(catalog.as_ref(), &def).await.unwrap();

    let cubes = three_cubes();
    let mut snapshots = Vec::new();
    for (i, c) in cubes.iter().enumerate() {
        let key = IdempotencyKey::manifest(&format!("m{i}")).unwrap();
        let batch = [silver_batch(c, &vnir_grid())];
        let out = append_silver(catalog.as_ref(), &ident, &batch, "cal-v1", &key)
            .await
            .unwrap();
        let AppendOutcome::Committed { snapshot_id, .. } = out else {
            panic!("{out:?}")
        };
        snapshots.push(snapshot_id);
        let again = append_silver(catalog.as_ref(), &ident, &batch, "cal-v1", &key)
            .await
            .unwrap();
        assert_eq!(again, AppendOutcome::AlreadyCommitted { snapshot_id });
    }

    let pointers = MetadataPointers::connect(&cfg).await.unwrap();
    let t = catalog.load_table(&ident).await.unwrap();
    assert_eq!(
        pointers.current(&ident).await.unwrap(),
        t.metadata_location().unwrap()
    );
    rollback(catalog.as_ref(), &ident, snapshots[0])
        .await
        .unwrap();
    let t = catalog.load_table(&ident).await.unwrap();
    assert_eq!(t.metadata().current_snapshot_id(), Some(snapshots[0]));
    let rows = hsi_lakehouse::snapshots::scan_at(
        &t,
        hsi_lakehouse::snapshots::AsOf::Snapshot(snapshots[0]),
    )
    .await
    .unwrap();
    assert_eq!(total_rows(&rows), 12);
    // A stale swap conflicts.
    let err = pointers
        .compare_and_swap(
            &ident,
            "file:///not/the/current.metadata.json",
            "file:///x.metadata.json",
        )
        .await
        .unwrap_err();
    assert!(err.retryable(), "{err}");
}
