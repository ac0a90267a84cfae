//! An S3 warehouse (opendal storage, path-style, static keys) against a local moto server,
//! with the SQLite catalog. The server comes from `hsi_edge::testkit::Moto`: skipped, with a
//! `SKIPPED:` line, when `moto_server` is not on PATH (or `HSI_MOTO_SERVER` does not name one);
//! `HSI_REQUIRE_MOTO=1` turns the skip into a failure.

mod iceberg_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use hsi_edge::testkit::Moto;

use hsi_lakehouse::catalog::{LakehouseConfig, S3Config};
use hsi_lakehouse::silver::append_silver;
use hsi_lakehouse::snapshots::{AsOf, scan_at};
use hsi_lakehouse::table::{self, AppendOutcome, IdempotencyKey, silver_reflectance};
use iceberg_common::*;

/// A minimal unsigned HTTP/1.1 request (moto does not check signatures): status and body.
fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

#[tokio::test]
async fn silver_on_s3_warehouse_via_moto() {
    let Some(moto) = Moto::start("silver_on_s3_warehouse_via_moto") else {
        return;
    };
    assert_eq!(
        http(moto.port(), "PUT", "/hsi-lake").map(|r| r.0),
        Some(200),
        "create bucket"
    );

    let dir = tempfile::tempdir().unwrap();
    let cfg = LakehouseConfig {
        catalog_uri: format!("sqlite://{}/catalog.db?mode=rwc", dir.path().display()),
        warehouse: "s3://hsi-lake/warehouse".into(),
        s3: Some(S3Config {
            endpoint: Some(moto.endpoint()),
            region: "us-east-1".into(),
            path_style: true,
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
        }),
    };
    let catalog = hsi_lakehouse::open_catalog(&cfg).await.unwrap();
    table::init(catalog.as_ref()).await.unwrap();
    let ident = silver_reflectance();
    let t = catalog.load_table(&ident).await.unwrap();
    assert!(
        t.metadata()
            .location()
            .starts_with("s3://hsi-lake/warehouse/silver/reflectance")
    );

    let grid = vnir_grid();
    let cubes = three_cubes();
    let batches: Vec<_> = cubes.iter().map(|c| silver_batch(c, &grid)).collect();
    let key = IdempotencyKey::manifest("m-s3").unwrap();
    let out = append_silver(catalog.as_ref(), &ident, &batches, "cal-v1", &key)
        .await
        .unwrap();
    let AppendOutcome::Committed {
        snapshot_id,
        rows: 30,
        data_files: 3,
    } = out
    else {
        panic!("{out:?}")
    };
    let again = append_silver(catalog.as_ref(), &ident, &batches, "cal-v1", &key)
        .await
        .unwrap();
    assert_eq!(again, AppendOutcome::AlreadyCommitted { snapshot_id });

    let t = catalog.load_table(&ident).await.unwrap();
    let read = scan_at(&t, AsOf::Snapshot(snapshot_id)).await.unwrap();
    assert_eq!(total_rows(&read), 30);
    let mut checked = 0;
    for b in &read {
        let ids = b
            .column_by_name("cube_id")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        let lines = b
            .column_by_name("line")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::Int32Array>()
            .unwrap();
        let samples = b
            .column_by_name("sample")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::Int32Array>()
            .unwrap();
        let v = b
            .column_by_name("b0680")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::Float32Array>()
            .unwrap();
        for i in 0..b.num_rows() {
            let c = cubes.iter().find(|c| c.cube_id == ids.value(i)).unwrap();
            assert_eq!(
                v.value(i),
                reflectance(c.index, lines.value(i), samples.value(i), 680.0)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 30);
    // The data really is in the bucket: three Parquet files, listed through moto's S3 API.
    let (status, listing) = http(
        moto.port(),
        "GET",
        "/hsi-lake?list-type=2&prefix=warehouse/silver/reflectance/data/",
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(listing.matches(".parquet</Key>").count(), 3, "{listing}");
}
