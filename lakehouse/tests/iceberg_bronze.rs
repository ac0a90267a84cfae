//! Bronze: a Zarr v3 cube written block by block and read back; the `bronze.cubes` ledger
//! with idempotent recording and `is_processed`, also read through pyiceberg.

mod iceberg_common;

use std::sync::Arc;

use hsi_lakehouse::bronze::{BronzeCube, is_processed, record_cube, write_zarr};
use hsi_lakehouse::table::{self, AppendOutcome, bronze_cubes};
use iceberg_common::*;
use ndarray::{Array3, s};

fn cube_values(lines: usize, samples: usize, bands: usize) -> Array3<f32> {
    Array3::from_shape_fn((lines, samples, bands), |(l, s, b)| {
        if (l, s) == (2, 3) {
            f32::NAN
        } else {
            l as f32 * 0.1 + s as f32 * 0.01 + b as f32 * 0.001
        }
    })
}

#[test]
fn zarr_round_trip_block_by_block() {
    let dir = tempfile::tempdir().unwrap();
    let (lines, samples, bands) = (7, 5, 4);
    let full = cube_values(lines, samples, bands);
    let grid = [450.0, 550.0, 650.0, 850.0];
    let blocks = (0..lines).step_by(3).map(|first| {
        let end = (first + 3).min(lines);
        Ok((first, full.slice(s![first..end, .., ..]).to_owned()))
    });
    let info = write_zarr(
        dir.path(),
        "C1",
        "cal-v1",
        [lines, samples, bands],
        &grid,
        blocks,
    )
    .unwrap();
    assert_eq!(info.shape, [7, 5, 4]);
    assert_eq!(info.chunk_shape, [3, 5, 4]);
    assert_eq!(info.chunks, 3);
    assert_eq!(info.path, dir.path().join("C1.zarr"));
    assert!(info.uri.starts_with("file:///") && info.uri.ends_with("/C1.zarr"));
    assert!(info.bytes_on_disk > 0);

    // The metadata, read as plain JSON.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(info.path.join("zarr.json")).unwrap()).unwrap();
    assert_eq!(meta["zarr_format"], 3);
    assert_eq!(meta["node_type"], "array");
    assert_eq!(meta["shape"], serde_json::json!([7, 5, 4]));
    assert_eq!(meta["data_type"], "float32");
    assert_eq!(
        meta["chunk_grid"]["configuration"]["chunk_shape"],
        serde_json::json!([3, 5, 4])
    );
    assert_eq!(
        meta["dimension_names"],
        serde_json::json!(["line", "sample", "band"])
    );
    let codecs: Vec<&str> = meta["codecs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(codecs, ["bytes", "zstd"]);
    assert_eq!(meta["attributes"]["cube_id"], "C1");
    assert_eq!(meta["attributes"]["calibration_version"], "cal-v1");
    assert_eq!(
        meta["attributes"]["wavelength_nm"],
        serde_json::json!([450.0, 550.0, 650.0, 850.0])
    );

    // The values, read back through zarrs.
    let store = Arc::new(zarrs::filesystem::FilesystemStore::new(&info.path).unwrap());
    let array = zarrs::array::Array::open(store, "/").unwrap();
    let back: ndarray::ArrayD<f32> = array.retrieve_array_subset(&array.subset_all()).unwrap();
    assert_eq!(back.shape(), &[7, 5, 4]);
    for ((l, s, b), v) in full.indexed_iter() {
        let got = back[[l, s, b]];
        if v.is_nan() {
            assert!(got.is_nan());
        } else {
            assert_eq!(got, *v, "({l},{s},{b})");
        }
    }

    // A rewrite (retry after a crash) replaces the store cleanly.
    let ones = Array3::<f32>::ones((lines, samples, bands));
    write_zarr(
        dir.path(),
        "C1",
        "cal-v1",
        [lines, samples, bands],
        &grid,
        [Ok((0, ones))],
    )
    .unwrap();
    let store = Arc::new(zarrs::filesystem::FilesystemStore::new(&info.path).unwrap());
    let array = zarrs::array::Array::open(store, "/").unwrap();
    let back: ndarray::ArrayD<f32> = array.retrieve_array_subset(&array.subset_all()).unwrap();
    assert!(back.iter().all(|&v| v == 1.0));
}

#[test]
fn zarr_rejects_gaps_overlaps_and_bad_ids() {
    let dir = tempfile::tempdir().unwrap();
    let grid = [450.0, 550.0];
    let b = |first: usize, n: usize| Ok((first, Array3::<f32>::zeros((n, 3, 2))));
    let gap = write_zarr(dir.path(), "G", "v", [6, 3, 2], &grid, [b(0, 2), b(3, 3)]);
    assert!(
        matches!(gap, Err(hsi_lakehouse::Error::InvalidInput { .. })),
        "{gap:?}"
    );
    let short = write_zarr(dir.path(), "S", "v", [6, 3, 2], &grid, [b(0, 2), b(2, 2)]);
    assert!(
        matches!(short, Err(hsi_lakehouse::Error::InvalidInput { .. })),
        "{short:?}"
    );
    let wrong_bands = write_zarr(dir.path(), "W", "v", [2, 3, 3], &[1.0, 2.0, 3.0], [b(0, 2)]);
    assert!(wrong_bands.is_err());
    let bad_id = write_zarr(dir.path(), "../x", "v", [2, 3, 2], &grid, [b(0, 2)]);
    assert!(matches!(
        bad_id,
        Err(hsi_lakehouse::Error::InvalidInput { .. })
    ));
    let err = write_zarr(
        dir.path(),
        "E",
        "v",
        [2, 3, 2],
        &grid,
        [Err(hsi_lakehouse::Error::InvalidInput {
            reason: "reader failed".into(),
        })],
    );
    assert!(
        matches!(err, Err(hsi_lakehouse::Error::InvalidInput { ref reason }) if reason == "reader failed")
    );
}

fn bronze_row(cube_id: &str, farm: &str, version: &str) -> BronzeCube {
    BronzeCube {
        cube_id: cube_id.into(),
        farm_id: farm.into(),
        field_id: format!("{farm}-f1"),
        sensor_id: "vnir-1".into(),
        region: "us-midwest".into(),
        acquisition_time: day1(),
        raw_uri: format!("s3://raw/raw_cubes/us-midwest/{farm}/2025/07/14/{cube_id}.h5"),
        raw_sha256: "ab".repeat(32),
        zarr_uri: format!("file:///bronze/{cube_id}.zarr"),
        lines: 7,
        samples: 5,
        bands: 4,
        wavelengths_nm: vec![450.0, 550.0, 650.0, 850.0],
        calibration_version: version.into(),
        processed_at: day2(),
    }
}

#[tokio::test]
async fn bronze_ledger_is_idempotent_and_answers_is_processed() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.unwrap();
    let cat = lake.catalog();

    // An empty ledger answers "no".
    assert!(!is_processed(cat, "C1", "cal-v1").await.unwrap());

    let c1 = bronze_row("C1", "farm-a", "cal-v1");
    let first = record_cube(cat, &c1).await.unwrap();
    let AppendOutcome::Committed {
        snapshot_id,
        rows: 1,
        data_files: 1,
    } = first
    else {
        panic!("{first:?}")
    };
    assert_eq!(
        record_cube(cat, &c1).await.unwrap(),
        AppendOutcome::AlreadyCommitted { snapshot_id }
    );
    record_cube(cat, &bronze_row("C2", "farm-b", "cal-v1"))
        .await
        .unwrap();
    record_cube(cat, &bronze_row("C1", "farm-a", "cal-v2"))
        .await
        .unwrap();

    assert!(is_processed(cat, "C1", "cal-v1").await.unwrap());
    assert!(is_processed(cat, "C1", "cal-v2").await.unwrap());
    assert!(is_processed(cat, "C2", "cal-v1").await.unwrap());
    assert!(!is_processed(cat, "C2", "cal-v2").await.unwrap());
    assert!(!is_processed(cat, "C3", "cal-v1").await.unwrap());

    let t = cat.load_table(&bronze_cubes()).await.unwrap();
    assert_eq!(t.metadata().snapshots().count(), 3);
    let summary = &t
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties;
    assert_eq!(summary["hsi.cube.id"], "C1");
    assert_eq!(summary["hsi.calibration.version"], "cal-v2");

    let Some(py) = python("bronze_ledger_is_idempotent_and_answers_is_processed") else {
        return;
    };
    let j = pyiceberg_read(
        &py,
        &lake,
        "bronze.cubes",
        &[
            "--columns",
            "cube_id,calibration_version,farm_id,lines,samples,bands,wavelengths_nm,acquisition_time,processed_at,raw_sha256",
            "--order-by",
            "cube_id,calibration_version",
        ],
    );
    assert_eq!(j["rows"], 3);
    let d = &j["data"];
    assert_eq!(strs(&d["cube_id"]), ["C1", "C1", "C2"]);
    assert_eq!(
        strs(&d["calibration_version"]),
        ["cal-v1", "cal-v2", "cal-v1"]
    );
    assert_eq!(strs(&d["farm_id"]), ["farm-a", "farm-a", "farm-b"]);
    assert_eq!(i64s(&d["lines"]), [7, 7, 7]);
    assert_eq!(
        d["wavelengths_nm"][0],
        serde_json::json!([450.0, 550.0, 650.0, 850.0])
    );
    assert_eq!(i64s(&d["acquisition_time"])[0], day1().timestamp_micros());
    assert_eq!(i64s(&d["processed_at"])[0], day2().timestamp_micros());
    assert_eq!(strs(&d["raw_sha256"])[0], "ab".repeat(32));
    let spec: Vec<String> = j["spec"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["transform"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(spec, ["identity", "day"]);
}
