//! Schema evolution: a SWIR sensor adds band columns to a VNIR Silver table; old rows read
//! them as null, new rows lacking VNIR bands read those as null; pyiceberg agrees.

mod iceberg_common;

use arrow_array::{Array, Float32Array, RecordBatch, StringArray};
use futures::TryStreamExt;
use hsi_lakehouse::silver::append_silver;
use hsi_lakehouse::table::{self, AppendOutcome, IdempotencyKey, silver_reflectance};
use iceberg_common::*;

/// SWIR grid of the second sensor: 900–1000 nm overlaps VNIR, 1250/1640/2200/2400 are new.
fn swir_grid() -> Vec<f32> {
    vec![900.0, 1000.0, 1250.0, 1640.0, 2200.0, 2400.0]
}

#[tokio::test]
async fn swir_bands_are_added_without_rewriting_old_data() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.unwrap();
    let ident = silver_reflectance();
    let vnir = vnir_grid();
    let cubes = three_cubes();

    let old = [silver_batch(&cubes[0], &vnir)];
    let k1 = IdempotencyKey::manifest("m-vnir").unwrap();
    let out = append_silver(lake.catalog(), &ident, &old, "cal-v1", &k1)
        .await
        .unwrap();
    let AppendOutcome::Committed {
        snapshot_id: vnir_snapshot,
        ..
    } = out
    else {
        panic!("{out:?}")
    };
    let files_before: Vec<String> = data_files(&lake).await;

    let mut swir_cube = cubes[1].clone();
    swir_cube.cube_id = "S1".into();
    swir_cube.sensor_id = "swir-1".into();
    let new = [silver_batch(&swir_cube, &swir_grid())];
    let k2 = IdempotencyKey::manifest("m-swir").unwrap();
    let out = append_silver(lake.catalog(), &ident, &new, "cal-v1", &k2)
        .await
        .unwrap();
    assert!(
        matches!(out, AppendOutcome::Committed { rows: 10, .. }),
        "{out:?}"
    );

    // The schema grew by exactly the four new bands, as optional floats, at the end.
    let t = lake.catalog().load_table(&ident).await.unwrap();
    let schema = t.metadata().current_schema();
    let names: Vec<String> = schema
        .as_struct()
        .fields()
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(names.len(), 11 + 61 + 4);
    assert_eq!(
        &names[names.len() - 4..],
        ["b1250", "b1640", "b2200", "b2400"]
    );
    for n in ["b1250", "b2400"] {
        let f = schema.field_by_name(n).unwrap();
        assert!(!f.required);
        assert_eq!(f.field_type.to_string(), "float");
    }
    assert_eq!(t.metadata().schemas_iter().count(), 2, "one schema change");
    // The old data files are untouched (still referenced, same paths, no rewrite).
    let files_after = data_files(&lake).await;
    assert_eq!(files_after.len(), files_before.len() + 1);
    for f in &files_before {
        assert!(files_after.contains(f), "old file {f} was rewritten");
    }
    // A replay of the SWIR manifest does not add the columns or rows again.
    let again = append_silver(lake.catalog(), &ident, &new, "cal-v1", &k2)
        .await
        .unwrap();
    assert!(matches!(again, AppendOutcome::AlreadyCommitted { .. }));

    // Rust reads old + new rows with nulls where a sensor had no band.
    let batches: Vec<RecordBatch> = t
        .scan()
        .select_all()
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut seen = 0;
    for b in &batches {
        let ids = b
            .column_by_name("cube_id")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let b1250 = b
            .column_by_name("b1250")
            .unwrap()
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap();
        let b0400 = b
            .column_by_name("b0400")
            .unwrap()
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap();
        let b0900 = b
            .column_by_name("b0900")
            .unwrap()
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap();
        for i in 0..b.num_rows() {
            seen += 1;
            match ids.value(i) {
                "C1" => {
                    assert!(b1250.is_null(i), "old VNIR row reads new band as null");
                    assert!(b0400.is_valid(i));
                }
                "S1" => {
                    assert!(b0400.is_null(i), "SWIR row lacks b0400: padded with null");
                    assert!(b1250.is_valid(i));
                    assert!(b0900.is_valid(i));
                }
                other => panic!("unexpected cube {other}"),
            }
        }
    }
    assert_eq!(seen, 12 + 10);

    // Time travel to the VNIR-only snapshot still works after the schema change.
    let at_vnir = hsi_lakehouse::snapshots::scan_at(
        &t,
        hsi_lakehouse::snapshots::AsOf::Snapshot(vnir_snapshot),
    )
    .await
    .unwrap();
    assert_eq!(total_rows(&at_vnir), 12);

    let Some(py) = python("swir_bands_are_added_without_rewriting_old_data") else {
        return;
    };
    let j = pyiceberg_read(
        &py,
        &lake,
        "silver.reflectance",
        &[
            "--columns",
            "cube_id,line,sample,b0400,b0900,b1250,b2400",
            "--order-by",
            "cube_id,line,sample",
        ],
    );
    assert_eq!(j["rows"], 22);
    let schema_names: Vec<String> = j["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(schema_names.contains(&"b2400".to_owned()));
    let ids = strs(&j["data"]["cube_id"]);
    let lines = i64s(&j["data"]["line"]);
    let samples = i64s(&j["data"]["sample"]);
    let b0400 = f32s(&j["data"]["b0400"]);
    let b0900 = f32s(&j["data"]["b0900"]);
    let b1250 = f32s(&j["data"]["b1250"]);
    let b2400 = f32s(&j["data"]["b2400"]);
    for i in 0..ids.len() {
        let (l, s) = (lines[i] as i32, samples[i] as i32);
        if ids[i] == "C1" {
            assert_eq!(b0400[i], Some(reflectance(1, l, s, 400.0)));
            assert_eq!(b0900[i], Some(reflectance(1, l, s, 900.0)));
            assert_eq!(b1250[i], None);
            assert_eq!(b2400[i], None);
        } else {
            assert_eq!(ids[i], "S1");
            assert_eq!(b0400[i], None);
            assert_eq!(b0900[i], Some(reflectance(2, l, s, 900.0)));
            assert_eq!(b1250[i], Some(reflectance(2, l, s, 1250.0)));
            assert_eq!(b2400[i], Some(reflectance(2, l, s, 2400.0)));
        }
    }
}

async fn data_files(lake: &Lake) -> Vec<String> {
    let t = lake
        .catalog()
        .load_table(&silver_reflectance())
        .await
        .unwrap();
    let tasks: Vec<_> = t
        .scan()
        .select_all()
        .build()
        .unwrap()
        .plan_files()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut v: Vec<String> = tasks.into_iter().map(|t| t.data_file_path).collect();
    v.sort();
    v
}
